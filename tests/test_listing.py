"""Listings never hide ids: whole ids and dates at any width, one line per row, nothing cut in a pipe."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

import compare.cli as cli
from compare.demo import demo_corpus_text
from compare.report.listing import listing_table

runner = CliRunner()
LONG_TITLE = "Parliament passes the long-debated budget after an all-night session and a last-minute deal on pensions"
OUTLETS = [f"Outlet number {n} of a long list" for n in range(12)]


def story_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "story_id": ["s-0a1b2c3d4e", "s-ffeeddccbb"],
            "first_published": [datetime(2020, 3, 14, 9, 5, tzinfo=UTC), None],
            "last_published": [datetime(2020, 3, 15, 22, 40, tzinfo=UTC), None],
            "outlets": [12, 2],
            "title": [LONG_TITLE, "Short"],
            "outlet_names": [OUTLETS, OUTLETS[:2]],
        },
        schema={"story_id": pl.String, "first_published": pl.Datetime("us", "UTC"), "last_published": pl.Datetime("us", "UTC"),
                "outlets": pl.Int32, "title": pl.String, "outlet_names": pl.List(pl.String)},
    )


def rendered(frame: pl.DataFrame, width: int | None) -> list[str]:
    table, print_width = listing_table(frame, "title", width)
    console = Console(width=print_width, record=True, color_system=None, file=io.StringIO())
    console.print(table, crop=False)
    return console.export_text().splitlines()


def body_rows(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("│")]


@pytest.mark.parametrize("width", [80, 120, 200])
def test_ids_and_dates_stay_whole_and_rows_stay_one_line(width: int) -> None:
    lines = rendered(story_frame(), width)
    rows = body_rows(lines)
    assert len(rows) == 2  # one line per row: nothing wrapped
    assert "s-0a1b2c3d4e" in rows[0] and "s-ffeeddccbb" in rows[1]
    assert "2020-03-14" in rows[0] and "2020-03-15" in rows[0]
    assert all(len(line) <= width for line in lines)
    if width < 120:
        assert LONG_TITLE not in rows[0] and "…" in rows[0]  # the title gives way, not the id


def test_wide_terminal_keeps_the_time_narrow_one_keeps_the_date() -> None:
    assert "2020-03-14 09:05" in body_rows(rendered(story_frame(), 200))[0]
    narrow = body_rows(rendered(story_frame(), 80))[0]
    assert "2020-03-14" in narrow and "09:05" not in narrow


def test_too_narrow_a_terminal_gets_longer_lines_not_cut_ids() -> None:
    rows = body_rows(rendered(story_frame(), 60))
    assert len(rows) == 2 and "s-0a1b2c3d4e" in rows[0]


def test_unlimited_width_cuts_nothing() -> None:
    rows = body_rows(rendered(story_frame(), None))
    assert LONG_TITLE in rows[0] and "; ".join(OUTLETS) in rows[0] and "2020-03-14 09:05" in rows[0]


# --------------------------------------------------------------------------- through the CLI


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("listing")
    corpus = root / "demo.jsonl"
    corpus.write_text(demo_corpus_text(), encoding="utf-8")
    result = runner.invoke(cli.app, ["ingest", str(corpus), "--home", str(root / "home")])
    assert result.exit_code == 0, result.output
    return root / "home"


def ids(home: Path, command: str, key: str) -> set[str]:
    result = runner.invoke(cli.app, [command, "--home", str(home), "--model", "hashing", "--format", "json"])
    assert result.exit_code == 0, result.output
    return {row[key] for row in json.loads(result.stdout)}


@pytest.mark.parametrize(("command", "key"), [("stories", "story_id"), ("dedup", "cluster_id")])
def test_an_80_column_terminal_shows_every_id_whole(home: Path, command: str, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "out", Console(width=80, force_terminal=True, color_system=None, soft_wrap=True))
    result = runner.invoke(cli.app, [command, "--home", str(home), "--model", "hashing"])
    assert result.exit_code == 0, result.output
    rows = body_rows(result.stdout.splitlines())
    expected = ids(home, command, key)
    assert expected and {row.split("│")[1].strip() for row in rows} == expected
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    if command == "stories":
        assert all(re.search(r"│ \d{4}-\d{2}-\d{2} ", row) for row in rows)


def test_stories_in_a_pipe_are_one_parseable_line_each(home: Path) -> None:
    piped = subprocess.run(
        [sys.executable, "-m", "compare", "stories", "--home", str(home), "--model", "hashing"],
        capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    stories = json.loads(runner.invoke(cli.app, ["stories", "--home", str(home), "--model", "hashing", "--format", "json"]).stdout)
    rows = body_rows(piped.stdout.splitlines())
    assert len(rows) == len(stories)
    for row, story in zip(rows, stories, strict=True):
        cells = [cell.strip() for cell in row.split("│")[1:-1]]
        assert cells[0] == story["story_id"] and cells[4] == story["title"]
        assert cells[5] == "; ".join(story["outlets"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", cells[1])
