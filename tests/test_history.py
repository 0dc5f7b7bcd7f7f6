"""compare.report.history: versions of a re-crawled URL, and what changed between them (a stealth edit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compare.cli import app
from compare.report.history import UnknownArticleError, article_history, version_changes
from compare.ingest import ingest
from compare.core.store import Store

runner = CliRunner()
URL = "https://example.org/news/depot"
FIRST = (
    "The blasts killed two militia fighters and wounded 29 people.\n\n"
    "The depot lies 80 kilometres north of Baghdad, near the town of Balad.\n\n"
    "Officials said an investigation had been opened into the cause."
)
SECOND = (
    "The blasts killed two militia fighters and wounded 29 people.\n\n"
    "The depot lies 100 kilometres north of Baghdad, near the town of Balad.\n\n"
    "Officials said an investigation had been opened into the cause."
)


def crawl(home: Path, name: str, title: str, text: str) -> None:
    path = home.parent / f"{name}.jsonl"
    record = {"outlet": "Example News", "url": URL, "title": title, "text": text, "published": "2026-08-20T07:40:00Z"}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    ingest(Store(home), [path])


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    crawl(home, "monday", "Blasts hit militia depot", FIRST)
    crawl(home, "tuesday", "Blasts hit militia depot north of Baghdad", SECOND)
    return home


def test_history_lists_versions_oldest_first_and_the_corpus_keeps_the_latest(home: Path) -> None:
    versions = article_history(Store(home), URL)
    assert [v.version for v in versions] == [1, 2]
    assert versions[-1].text == SECOND
    assert Store(home).articles()["text"].to_list() == [SECOND]
    assert versions[0].ingested_at <= versions[1].ingested_at


def test_changes_show_the_edited_sentence_and_the_new_title(home: Path) -> None:
    [change] = version_changes(article_history(Store(home), URL))
    assert change.removed == ("The depot lies 80 kilometres north of Baghdad, near the town of Balad.",)
    assert change.added == ("The depot lies 100 kilometres north of Baghdad, near the town of Balad.",)
    assert change.title_changed and change.title_after == "Blasts hit militia depot north of Baghdad"
    assert change.published_before == change.published_after


def test_unknown_url_is_a_clear_error(home: Path) -> None:
    with pytest.raises(UnknownArticleError, match="no stored article"):
        article_history(Store(home), "https://example.org/missing")
    result = runner.invoke(app, ["history", "https://example.org/missing", "--home", str(home)])
    assert result.exit_code == 2 and "no stored article has the URL" in result.output


def test_history_command_table_and_json(home: Path) -> None:
    result = runner.invoke(app, ["history", URL, "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "- The depot lies 80 kilometres" in result.output and "+ The depot lies 100 kilometres" in result.output
    result = runner.invoke(app, ["history", URL, "--home", str(home), "--format", "json"])
    document = json.loads(result.stdout)
    assert [v["version"] for v in document["versions"]] == [1, 2]
    assert document["changes"][0]["added"] == ["The depot lies 100 kilometres north of Baghdad, near the town of Balad."]
