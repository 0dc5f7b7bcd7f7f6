"""WARC files from elsewhere (Common Crawl's CC-NEWS): `compare ingest` reads them, `compare fetch
--from-warc` backfills the configured sources from them (compare.fetch.warc, compare.fetch.run.backfill)."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from typer.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from compare.cli import app
from compare.fetch.run import backfill, fetch_dir
from compare.fetch.sources import FetchConfig, Source
from compare.fetch.state import FetchState
from compare.fetch.testing import article_html, synthetic_paragraphs
from compare.core.store import Store

PUBLISHED = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)


def cc_news_warc(path: Path, *, truncate: bool = False) -> Path:
    """A WARC shaped like CC-NEWS: request/response pairs of several sites, decoded payloads, the
    crawler's encoding headers renamed X-Crawler-*, no fields of ours."""
    pages = [
        ("http://www.testdaily.example/news/council-vote", 200, "text/html; charset=utf-8",
         article_html("Council votes on the budget", synthetic_paragraphs(1, 400), published=PUBLISHED).encode()),
        ("https://other.example/world/storm", 200, "text/html",
         article_html("Storm reaches the coast", synthetic_paragraphs(2, 400), published=PUBLISHED).encode()),
        ("http://www.testdaily.example/news/gone", 404, "text/html", b"<html><body>Not found</body></html>"),
        ("http://www.testdaily.example/img/photo.jpg", 200, "image/jpeg", b"\xff\xd8\xff" + b"\0" * 200),
        ("http://www.testdaily.example/news/subscribe", 200, "text/html",
         article_html("Subscribe", ["Subscribe to read this article."], published=PUBLISHED).encode()),
    ]
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    writer.write_record(writer.create_warcinfo_record(path.name, {"software": "StormCrawler (test double)"}))
    for url, status, content_type, body in pages:
        headers = StatusAndHeaders(f"{status} OK", [("Content-Type", content_type), ("X-Crawler-Content-Encoding", "gzip"),
                                                     ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        request = StatusAndHeaders("GET / HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True)
        writer.write_record(writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=request))
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers,
                                                      warc_headers_dict={"WARC-Date": "2026-10-01T09:30:00Z"}))
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) - 700] if truncate else data)
    return path


def test_compare_ingest_reads_a_cc_news_warc(tmp_path: Path) -> None:
    warc = cc_news_warc(tmp_path / "CC-NEWS-20261001093000-00001.warc.gz")
    outcome = CliRunner().invoke(app, ["ingest", str(warc), "--home", str(tmp_path / "home")])
    assert outcome.exit_code == 0, outcome.output
    assert "accepted 2, duplicate 0, rejected 1" in outcome.output
    articles = Store(tmp_path / "home").articles().sort("url")
    assert articles["url"].to_list() == ["http://www.testdaily.example/news/council-vote", "https://other.example/world/storm"]
    assert set(articles["outlet"]) == {"Test Daily"}  # og:site_name: a foreign WARC names no source
    assert articles["title"].to_list() == ["Council votes on the budget", "Storm reaches the coast"]
    assert "too short" in outcome.output and "/news/subscribe" in outcome.output


def test_a_damaged_warc_keeps_the_records_before_the_damage_and_is_one_reject(tmp_path: Path) -> None:
    warc = cc_news_warc(tmp_path / "broken.warc.gz", truncate=True)
    outcome = CliRunner().invoke(app, ["ingest", str(warc), "--home", str(tmp_path / "home")])
    assert outcome.exit_code == 0, outcome.output
    assert Store(tmp_path / "home").articles().height == 2
    assert "damaged WARC file" in outcome.output


def test_backfill_takes_only_the_configured_sites_and_marks_them_fetched(tmp_path: Path) -> None:
    warc = cc_news_warc(tmp_path / "CC-NEWS.warc.gz")
    home = tmp_path / "home"
    source = Source(name="Test Daily Online", home="https://testdaily.example/", language="en")
    result = backfill(home, (source,), [warc], FetchConfig())
    assert result.accepted == 1 and result.sources[0].fetched == 2  # the article and the paywall stub
    articles = Store(home).articles()
    assert articles["outlet"].to_list() == ["Test Daily Online"] and articles["url"].to_list() == ["http://www.testdaily.example/news/council-vote"]
    assert result.warc is not None and result.warc.name.startswith("backfill-")
    state = FetchState(fetch_dir(home) / "state.sqlite")
    try:
        known = state.get("http://www.testdaily.example/news/council-vote")
        assert known is not None and known.fetched  # a live run will not ask for it again
    finally:
        state.close()
    again = backfill(home, (source,), [warc], FetchConfig())
    assert again.accepted == 0 and again.sources[0].fetched == 0


def test_backfill_since_drops_older_records_and_the_cli_runs_it(tmp_path: Path) -> None:
    warc = cc_news_warc(tmp_path / "CC-NEWS.warc.gz")
    home = tmp_path / "home"
    home.mkdir()
    (home / "compare.toml").write_text('[[sources]]\nname = "Test Daily"\nhome = "https://www.testdaily.example/"\n', encoding="utf-8")
    later = CliRunner().invoke(app, ["fetch", "--from-warc", str(warc), "--since", "2026-10-02", "--home", str(home)])
    assert later.exit_code == 0, later.output
    assert "accepted 0" in later.output
    outcome = CliRunner().invoke(app, ["fetch", "--from-warc", str(warc), "--home", str(home)])
    assert outcome.exit_code == 0, outcome.output
    assert "accepted 1, duplicate 0, rejected 1" in outcome.output
    assert Store(home).articles().filter(pl.col("outlet") == "Test Daily").height == 1
