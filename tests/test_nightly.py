"""scripts/nightly.sh end to end: drop folder -> ingest -> build -> verify -> prune, JSON-line logs, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compare.demo import demo_corpus_text
from compare.index import build_lock
from compare.core.store import Store

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "nightly.sh"
COMPARE = Path(sys.executable).parent / "compare"

pytestmark = [
    pytest.mark.slow,  # the whole nightly script: several processes, each loading the model
    pytest.mark.skipif(not COMPARE.exists(), reason=f"needs the installed compare command next to {sys.executable}"),
]


def nightly(home: Path, drop: Path, *args: str) -> tuple[int, list[dict]]:
    environment = {**os.environ, "COMPARE": str(COMPARE), "COMPARE_MODEL": "hashing"}
    environment.pop("COMPARE_HOME", None)
    finished = subprocess.run(
        ["bash", str(SCRIPT), "--home", str(home), "--drop", str(drop), *args],
        capture_output=True, text=True, timeout=300, env=environment, stdin=subprocess.DEVNULL,
    )
    lines = [json.loads(line) for line in finished.stdout.splitlines() if line.strip()]
    return finished.returncode, lines


def test_nightly_ingests_builds_verifies_prunes_and_logs_json_lines(tmp_path: Path) -> None:
    home, drop = tmp_path / "home", tmp_path / "drop"
    drop.mkdir()
    (drop / "demo.jsonl").write_text(demo_corpus_text(), encoding="utf-8")
    (drop / ".still-uploading.jsonl").write_text('{"outlet": "x"', encoding="utf-8")
    code, lines = nightly(home, drop, "--keep", "3")
    assert code == 0, lines
    assert [line["stage"] for line in lines] == ["ingest", "build", "verify", "prune", "nightly"]
    assert all(line["status"] == "ok" and isinstance(line["seconds"], float) for line in lines)
    assert lines[0]["accepted"] == 9 and lines[0]["files"] == 1
    assert lines[1]["result"]["articles"] == 9 and lines[1]["result"]["mode"] == "full"
    assert not (drop / "demo.jsonl").exists() and list((drop / "processed").glob("*/demo.jsonl"))
    assert (drop / ".still-uploading.jsonl").exists()  # hidden files are still being written

    with build_lock(Store(home)):  # a build is running: the nightly run gives way with 75
        code, lines = nightly(home, drop)
    assert code == 75 and lines[-1]["status"] == "skipped"

    Store(home).articles_path.write_bytes(b"PAR1 this is not a parquet file PAR1")
    (drop / "more.jsonl").write_text(json.dumps({"outlet": "Ynet News", "text": "A new article arrives tonight with words."}) + "\n")
    code, lines = nightly(home, drop)
    assert code == 10, lines  # the store cannot be read: nothing is built
    assert lines[-2]["stage"] == "ingest" and lines[-2]["status"] == "failed" and lines[-2]["error"]


# ---------------------------------------------------------------- exit codes for bad usage and bad homes (issue 17)


@pytest.mark.parametrize(
    "args",
    [["--keep", "0"], ["--keep", "abc"], ["--keep", "-3"], ["--keep"], ["--map", "bogus=x"], ["--map", "text"], ["--map", "text="], ["--nonsense"]],
    ids=lambda args: " ".join(args),
)
def test_bad_usage_exits_64_before_doing_anything(tmp_path: Path, args: list[str]) -> None:
    home, drop = tmp_path / "home", tmp_path / "drop"
    code, _ = nightly(home, drop, *args)
    assert code == 64
    assert not home.exists()


def test_map_fields_are_the_ones_compare_ingest_takes() -> None:
    from compare.core.schema import MAPPABLE_FIELDS

    line = next(line for line in SCRIPT.read_text().splitlines() if line.startswith("mappable="))
    assert sorted(line.split('"')[1].split()) == sorted(MAPPABLE_FIELDS)


def test_drop_that_is_a_file_is_bad_usage(tmp_path: Path) -> None:
    drop = tmp_path / "drop.jsonl"
    drop.write_text("{}\n")
    code, lines = nightly(tmp_path / "home", drop)
    assert code == 64 and lines[-1]["status"] == "failed" and "not a folder" in lines[-1]["error"]


def test_drop_that_cannot_be_read_exits_66(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.symlink_to(tmp_path / "gone")  # a dangling link: neither readable nor creatable
    code, lines = nightly(tmp_path / "home", drop)
    assert code == 66 and "cannot read the drop folder" in lines[-1]["error"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder whatever its mode")
def test_drop_without_read_permission_exits_66(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    drop.chmod(0o000)
    try:
        code, _ = nightly(tmp_path / "home", drop)
    finally:
        drop.chmod(0o755)
    assert code == 66


def test_home_that_cannot_take_the_lock_file_exits_73_not_75(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".nightly.lock").mkdir(parents=True)  # as a read-only home does for root too
    code, lines = nightly(home, tmp_path / "drop")
    assert code == 73 and "cannot write the data home" in lines[-1]["error"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes a folder whatever its mode")
def test_read_only_home_exits_73(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o555)
    try:
        code, _ = nightly(home, tmp_path / "drop")
    finally:
        home.chmod(0o755)
    assert code == 73


def test_a_file_with_one_bad_value_beside_good_files_does_not_fail_the_night(tmp_path: Path) -> None:
    home, drop = tmp_path / "home", tmp_path / "drop"
    drop.mkdir()
    (drop / "a-good.jsonl").write_text(demo_corpus_text(), encoding="utf-8")
    big = '{"outlet": "Ynet News", "text": "A new article with enough words.", "published": %s, "views": %s}\n' % ("9" * 400, "1" * 5000)
    (drop / "b-big-numbers.jsonl").write_text(big, encoding="utf-8")
    (drop / "c-quote.csv").write_text('outlet,text\nYnet News,"Never closed.\nYnet News,A row after the bad quote here.\n', encoding="utf-8")
    code, lines = nightly(home, drop)
    assert code == 0, lines
    assert lines[0]["accepted"] == 10 and lines[0]["rejected"] == 2
