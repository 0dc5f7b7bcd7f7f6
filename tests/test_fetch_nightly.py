"""scripts/nightly.sh with [[sources]]: fetch -> ingest -> build -> verify -> prune, a failed source
named in the fetch line while the night goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compare.fetch.testing import NewsSite

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "nightly.sh"
COMPARE = Path(sys.executable).parent / "compare"

pytestmark = [
    pytest.mark.slow,  # the whole nightly script: several processes, one building the index
    pytest.mark.skipif(not COMPARE.exists(), reason=f"needs the installed compare command next to {sys.executable}"),
]


def nightly(home: Path, *args: str) -> tuple[int, list[dict]]:
    environment = {**os.environ, "COMPARE": str(COMPARE), "COMPARE_MODEL": "hashing"}
    environment.pop("COMPARE_HOME", None)
    environment.pop("COMPARE_CONFIG", None)
    finished = subprocess.run(
        ["bash", str(SCRIPT), "--home", str(home), "--drop", str(home / "drop"), *args],
        capture_output=True, text=True, timeout=300, env=environment, stdin=subprocess.DEVNULL,
    )
    return finished.returncode, [json.loads(line) for line in finished.stdout.splitlines() if line.strip()]


def test_nightly_fetches_the_sources_first_and_names_the_one_that_failed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with NewsSite(articles=3) as site:
        (home / "compare.toml").write_text(
            '[fetch]\ncontact = "mailto:tests@example.org"\ndelay_seconds = 0.0\n'
            f'[[sources]]\nname = "Test Daily"\nhome = "{site.url("/")}"\n'
            f'[[sources]]\nname = "Gone Daily"\nhome = "{site.url("/")}"\nfeeds = ["{site.url("/no-such-feed.xml")}"]\n',
            encoding="utf-8",
        )
        code, lines = nightly(home)
        skipped_code, skipped = nightly(home, "--no-fetch")
    assert code == 0, lines
    assert [line["stage"] for line in lines] == ["fetch", "ingest", "build", "verify", "prune", "nightly"]
    fetch = lines[0]
    assert fetch["status"] == "partial" and fetch["exit_code"] == 1
    assert fetch["result"]["accepted"] == 3
    (failed,) = fetch["result"]["failed_sources"]
    assert failed["name"] == "Gone Daily" and "HTTP 404" in failed["error"]
    assert lines[2]["status"] == "ok" and lines[2]["result"]["articles"] == 3
    assert skipped_code == 0 and skipped[0]["stage"] == "ingest"
