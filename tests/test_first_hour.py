"""A new user's first hour: no dead ends. Every command that reads a home names it when it is empty or
missing, with the command that fills it; path mistakes are one line and exit 2, never a traceback;
ingest summarises rejects by cause and hints at the likely cause when a whole file fails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compare.cli import app
from compare.demo import demo_corpus_text
from compare.ingest import file_hint, read_paths, summarise_rejects
from compare.core.store import Reject

runner = CliRunner()

READING_COMMANDS = [
    ["stories"],
    ["dedup"],
    ["dedup", "--partial"],
    ["report", "s-0123456789"],
    ["history", "https://example.org/a"],
    ["index", "status"],
    ["index", "verify"],
    ["index", "diff"],
    ["index", "prune"],
]


def _invoke(*args: str):  # noqa: ANN202
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("first-hour-home")
    corpus = home.parent / "demo-first-hour.jsonl"
    corpus.write_text(demo_corpus_text(), encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(corpus), "--home", str(home)]).exit_code == 0
    return home


# --------------------------------------------------------------------------- empty or missing home


@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda command: " ".join(command))
def test_reading_an_empty_home_names_it_and_the_command_that_fills_it(tmp_path: Path, command: list[str]) -> None:
    result = _invoke(*command, "--home", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == f"no articles in {tmp_path}: add some with `compare ingest FILE --home {tmp_path}`\n"
    assert result.stdout == ""
    assert not (tmp_path / "index").exists()  # nothing built on nothing


def test_index_commands_serve_a_home_whose_every_record_was_rejected(tmp_path: Path) -> None:
    # what nightly.sh does when a night's files are all rejected: build, then verify and prune, all exit 0
    assert _invoke("index", "build", "--home", str(tmp_path)).exit_code == 0
    for command in (["index", "verify"], ["index", "prune"], ["index", "status"]):
        assert _invoke(*command, "--home", str(tmp_path)).exit_code == 0, command
    assert _invoke("stories", "--home", str(tmp_path)).exit_code == 1  # still no articles to list


@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda command: " ".join(command))
def test_reading_a_missing_home_says_there_is_no_such_folder(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "typo"
    result = _invoke(*command, "--home", str(missing))
    assert result.exit_code == 1
    assert result.stderr == f"no articles in {missing} (no such folder): add some with `compare ingest FILE --home {missing}`\n"
    assert not missing.exists()


def test_an_unknown_story_names_the_home_it_searched(home: Path) -> None:
    result = _invoke("report", "s-doesnotexist", "--home", str(home))
    assert result.exit_code == 2
    last = result.stderr.splitlines()[-1]  # after the notice of the first build
    assert last.startswith("error: 's-doesnotexist' is neither a story id nor an article id")
    assert last.endswith(f"searched the home {home} (`compare stories --home {home}` lists its ids)")


def test_an_unknown_url_names_the_home_it_searched(home: Path) -> None:
    result = _invoke("history", "https://example.org/nowhere", "--home", str(home))
    assert result.exit_code == 2
    assert result.stderr == f"error: no stored article has the URL https://example.org/nowhere in the home {home}\n"


# --------------------------------------------------------------------------- path mistakes


@pytest.mark.parametrize("command", [["ingest", "INPUT"], ["index", "build"], *READING_COMMANDS], ids=lambda command: " ".join(command))
def test_home_that_is_a_file_is_one_line(tmp_path: Path, command: list[str]) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a home\n", encoding="utf-8")
    articles = tmp_path / "a.jsonl"
    articles.write_text(json.dumps({"outlet": "X", "text": "Some article text about a flood."}) + "\n", encoding="utf-8")
    command = [str(articles) if part == "INPUT" else part for part in command]
    result = _invoke(*command, "--home", str(a_file))
    assert result.exit_code == 2
    assert result.stderr == f"error: data home {a_file} is a file, not a folder: give --home a folder (it is created if missing)\n"


@pytest.mark.parametrize("command", [["ingest", "INPUT"], ["stories"], ["report", "s-0123456789"]], ids=lambda command: " ".join(command))
def test_home_under_a_file_is_one_line(tmp_path: Path, command: list[str]) -> None:
    # what a folder without permission looks like to root, who may read any folder: it cannot be made
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a home\n", encoding="utf-8")
    articles = tmp_path / "a.jsonl"
    articles.write_text(json.dumps({"outlet": "X", "text": "Some article text about a flood."}) + "\n", encoding="utf-8")
    command = [str(articles) if part == "INPUT" else part for part in command]
    home = a_file / "home"
    result = _invoke(*command, "--home", str(home))
    assert result.exit_code == 2
    assert result.stderr == f"error: data home {home} lies under {a_file}, which is a file, not a folder: give --home a folder (it is created if missing)\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="runs as root, who may read and write any folder: the check cannot fail")
def test_home_without_permission_is_one_line(home: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "corpus").mkdir()
    locked.chmod(0)
    try:
        result = _invoke("stories", "--home", str(locked))
        assert result.exit_code == 2
        assert result.stderr == f"error: data home {locked}: permission denied (cannot read it)\n"
        result = _invoke("ingest", str(tmp_path), "--home", str(locked / "new"))
        assert result.exit_code == 2
        assert result.stderr == f"error: data home {locked / 'new'} does not exist and cannot be created: permission denied in {locked}\n"
    finally:
        locked.chmod(0o700)


def test_output_in_a_missing_folder_is_one_line(home: Path, tmp_path: Path) -> None:
    stories = json.loads(_invoke("stories", "--home", str(home), "--format", "json").stdout)
    output = tmp_path / "no-such-folder" / "story.html"
    result = _invoke("report", stories[0]["story_id"], "--home", str(home), "--format", "html", "-o", str(output))
    assert result.exit_code == 2
    assert result.stderr.endswith(f"error: cannot write {output}: the folder {output.parent} does not exist\n")
    assert not output.parent.exists()


def test_output_under_a_file_is_one_line(home: Path, tmp_path: Path) -> None:
    stories = json.loads(_invoke("stories", "--home", str(home), "--format", "json").stdout)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x", encoding="utf-8")
    output = a_file / "story.md"
    result = _invoke("report", stories[0]["story_id"], "--home", str(home), "--format", "markdown", "-o", str(output))
    assert result.exit_code == 2
    assert result.stderr.endswith(f"error: cannot write {output}: the folder {a_file} is not a folder\n")


# --------------------------------------------------------------------------- ingest: empty inputs, rejects by cause, hints


def test_ingest_of_an_empty_folder_is_a_warning_and_exit_1(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    home = tmp_path / "home"
    result = _invoke("ingest", str(folder), "--home", str(home))
    assert result.exit_code == 1
    assert result.stderr == f"warning: no records in {folder} (no files in it): nothing ingested into {home}\n"
    assert result.stdout == "accepted 0, duplicate 0, rejected 0\n"


def test_ingest_of_an_empty_file_is_a_warning_and_exit_1(tmp_path: Path) -> None:
    empty = tmp_path / "articles.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    home = tmp_path / "home"
    result = _invoke("ingest", str(empty), "--home", str(home))
    assert result.exit_code == 1
    assert result.stderr == f"warning: no records in {empty} (empty): nothing ingested into {home}\n"


def test_a_wrong_map_is_one_line_per_cause_not_one_per_record(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    body = "The river rose two metres overnight and the old bridge was closed to traffic. " * 4
    records = [{"source": "Daily Post", "content_original": body + str(n), "date": "2024-03-01"} for n in range(3000)]
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    result = _invoke("ingest", str(path), "--map", "text=content", "--home", str(tmp_path / "home"))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:5] == [f"rejected {path}:{n}: field 'text': missing or empty (mapped from column 'content')" for n in range(1, 6)]
    assert lines[5:7] == [
        "3,000 rejects by cause:",
        "  3,000 records: field 'text' missing (mapped from column 'content') - check the column name with --map text=COLUMN",
    ]
    assert lines[7:] == [
        f"hint: {path}: no 'text' in any record; its columns are 'source', 'content_original', 'date': map them, e.g. --map text=content_original",
    ]
    assert result.stdout.startswith("accepted 0, duplicate 0, rejected 3000")


def test_an_unmapped_field_suggests_the_files_own_columns(tmp_path: Path) -> None:
    path = tmp_path / "articles.csv"
    path.write_text("publisher,story,when\n" + "".join(f"Daily Post,Short text {n},2024-03-01\n" for n in range(8)), encoding="utf-8")
    result = _invoke("ingest", str(path), "--home", str(tmp_path / "home"))
    assert result.exit_code == 1
    assert "  8 records: field 'outlet' missing - map it with --map outlet=COLUMN" in result.stderr.splitlines()
    assert result.stderr.splitlines()[-1] == (
        f"hint: {path}: no 'outlet' or 'text' in any record; its columns are 'publisher', 'story', 'when': "
        "map them, e.g. --map outlet=publisher --map text=COLUMN"
    )


def test_csv_in_a_jsonl_file_says_rename_it(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    path.write_text("outlet,title,text\n" + "".join(f"Daily Post,Flood {n},The river rose.\n" for n in range(20)), encoding="utf-8")
    result = _invoke("ingest", str(path), "--home", str(tmp_path / "home"))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert "  21 records: invalid JSON: Expecting value" in lines
    assert lines[-1] == f"hint: {path}: looks like CSV (first line 'outlet,title,text'): rename it .csv"


@pytest.mark.parametrize(("separator", "name", "fix"), [
    (";", "';'", "only ',' (.csv) and tab (.tsv) separators are read: save it with one of those"),
    ("\t", "tab", "rename it .tsv"),
])
def test_a_csv_with_another_separator_says_which(tmp_path: Path, separator: str, name: str, fix: str) -> None:
    path = tmp_path / "articles.csv"
    rows = [separator.join(["outlet", "title", "text"])] + [separator.join(["Daily Post", f"Flood {n}", "The river, swollen, rose."]) for n in range(7)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = _invoke("ingest", str(path), "--home", str(tmp_path / "home"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"hint: {path}: the header has one column containing {name}: is it {name}-separated? {fix}"


def test_a_few_rejects_among_good_records_are_listed_without_summary_or_hint(tmp_path: Path) -> None:
    good = [json.dumps({"outlet": "Daily Post", "text": f"A good article number {n} about the flood."}) for n in range(3)]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([*good, "not json", json.dumps({"outlet": "Daily Post"})]) + "\n", encoding="utf-8")
    result = _invoke("ingest", str(path), "--home", str(tmp_path / "home"))
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"rejected {path}:4: invalid JSON: Expecting value (column 1)",
        f"rejected {path}:5: field 'text': missing or empty (looked for 'text', 'content', 'body'; map another column with text=COLUMN)",
    ]


# --------------------------------------------------------------------------- the library under the CLI


def test_summarise_rejects_groups_by_cause_without_per_line_details() -> None:
    rejects = [
        Reject("a.jsonl", 1, None, "invalid JSON: Expecting value (column 1)"),
        Reject("a.jsonl", 2, None, "invalid JSON: Expecting value (column 7)"),
        Reject("a.jsonl", 3, "published", "unparseable date 'yesterday'"),
        Reject("a.jsonl", 4, "published", "unparseable date 'soon'"),
        Reject("a.jsonl", 5, "published", "unparseable date 'later'"),
        Reject("b.csv", 2, None, "row has 4 fields but the header has 3"),
        Reject("b.csv", 3, None, "row has 5 fields but the header has 3"),
        Reject("c.doc", None, None, "unsupported file type; supported: .jsonl"),
    ]
    assert [group.one_line() for group in summarise_rejects(rejects)] == [
        "3 records: field 'published': unparseable date",
        "2 records: invalid JSON: Expecting value",
        "2 records: row has more fields than the header's 3",
        "1 file: unsupported file type; supported: .jsonl",
    ]
    assert summarise_rejects([]) == []


def test_read_paths_counts_files_and_hints_only_for_wholly_failed_files(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"outlet": "X", "text": "Text of a good article."}) + "\nnot json\n", encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("outlet\ttext\nX\tSome text\n", encoding="utf-8")
    batch = read_paths([good, bad])
    assert (batch.files_read, batch.records_read, batch.articles.height) == (2, 4, 1)
    assert batch.hints == (f"{bad}: looks like TSV (first line 'outlet\\ttext'): rename it .tsv",)
    assert file_hint(good, None, {}) is None
