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
from compare.store import Store

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
