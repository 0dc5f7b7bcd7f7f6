"""`compare fetch` end to end against a local news site: two runs, the server's request log, the
WARC and the ingested corpus (compare.fetch.run and the CLI)."""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compare.cli import app
from compare.fetch.run import FetchResult, fetch_sources
from compare.fetch.sources import FetchConfig, Source
from compare.fetch.testing import NewsSite
from compare.fetch.warc import iter_responses
from compare.core.store import Store

CONFIG = FetchConfig(
    contact="mailto:tests@example.org", delay_seconds=0.0, total_timeout=1.0, read_timeout=5.0, max_body_bytes=2 << 20,
    backoff_seconds=0.05, retries=2,
)
GOOD_PATHS = {"/news/changing", "/news/latin", "/news/busy"}  # besides /news/story-N: pages that become articles


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NewsSite, Path, FetchResult, FetchResult, int]]:
    """Run 1, the changing page changes, run 2; yields the site, the home, both results and where
    run 2's requests start in the site's log."""
    home = tmp_path_factory.mktemp("home")
    with NewsSite(articles=4, hostile=True, amp=True) as site:
        source = Source(name="Test Daily", home=site.url("/"), language="en")
        first = fetch_sources(home, (source,), CONFIG)
        site.change()
        boundary = len(site.requests)
        second = fetch_sources(home, (source,), CONFIG)
        yield site, home, first, second, boundary


def test_first_run_ingests_every_good_article_once_and_rejects_the_rest_with_reasons(two_runs) -> None:
    site, home, first, _, _ = two_runs
    (result,) = first.sources
    assert result.ok and result.listed == 15  # the utm_ duplicate of story-0 is one URL
    corpus = run_rows(home, first)
    paths = sorted(url.split(str(site.port))[1] for url in corpus["url"])
    assert paths == sorted({f"/news/story-{i}" for i in range(4)} | GOOD_PATHS)
    assert set(corpus["outlet"]) == {"Test Daily"} and set(corpus["language"]) == {"en"}
    reasons = {reject.file.split(str(site.port))[-1]: reject.reason for reject in first.rejects}
    assert reasons["/hostile/loop"] == "fetch failed: redirect loop after 2 hops"
    assert reasons["/hostile/huge"] == "fetch failed: body is over the 2 MiB limit"
    assert reasons["/hostile/bomb"] == "fetch failed: decompresses to more than the 2 MiB limit"
    assert reasons["/hostile/slow"] == "fetch failed: response took longer than 1 s"
    assert reasons["/private/secret"] == "fetch failed: disallowed by robots.txt"
    assert reasons["/hostile/image"] == "fetch failed: content type 'image/jpeg' is not article content"
    paywall = [reject for reject in first.rejects if "/news/paywall" in reject.reason]
    assert len(paywall) == 1 and paywall[0].field == "text" and "too short" in paywall[0].reason and "paywall" in paywall[0].reason
    assert first.rejects_path is not None and first.rejects_path.exists()


def run_rows(home: Path, result: FetchResult):  # noqa: ANN201
    """The articles a run ingested, current or since superseded by a later version."""
    import polars as pl

    from compare.core.schema import ARTICLE_SCHEMA

    store = Store(home)
    rows = pl.concat([store.articles(), store.versions().select(list(ARTICLE_SCHEMA))])
    return rows.filter(pl.col("source_file") == str(result.warc))


def test_no_disallowed_path_is_ever_requested(two_runs) -> None:
    site, *_ = two_runs
    assert site.seen("/private/") == []


def test_one_article_is_fetched_once_whatever_url_it_is_listed_under(two_runs) -> None:
    site, _, _, _, boundary = two_runs
    first_run = Counter(request.path for request in site.requests[:boundary])
    # listed as /news/story-0?utm_source=rss&utm_medium=feed (tracking parameters), as /amp/story-0
    # (canonical /news/story-0, fetched first) and as /news/story-0 in the sitemap: one request
    assert first_run["/amp/story-0"] == 1
    assert not [path for path in first_run if path.startswith("/news/story-0")]
    assert all(first_run[f"/news/story-{i}"] == 1 for i in range(1, 4))
    assert first_run["/feed.xml"] == 1 and first_run["/robots.txt"] == 1


def test_second_run_asks_conditionally_and_fetches_no_unchanged_body_again(two_runs) -> None:
    site, home, first, second, boundary = two_runs
    later = [request for request in site.requests[boundary:] if request.path.startswith(("/news/", "/amp/"))]
    assert later, "the second run revisits what the feed still lists"
    assert all("if-none-match" in request.headers for request in later)
    answered = Counter(request.status for request in later)
    assert answered[200] == 1 and answered[304] == len(later) - 1  # only the changed page has a body
    (result,) = second.sources
    assert result.fetched == 1 and result.not_modified == len(later) - 1
    assert second.accepted == 1 and second.versions == 1  # the changed page: a new version of its URL
    store = Store(home)
    assert store.versions().height == 1 and "/news/changing" in store.versions()["url"][0]
    urls = store.articles()["url"].to_list()
    assert len(urls) == len(set(urls)) == 4 + len(GOOD_PATHS)  # nothing lost, nothing twice


def test_the_second_run_retries_what_failed_for_now_but_not_what_failed_for_good(two_runs) -> None:
    site, _, _, _, boundary = two_runs
    later = {request.path for request in site.requests[boundary:]}
    assert "/hostile/slow" in later  # a timeout may pass: tried again next run
    assert not later & {"/hostile/loop", "/hostile/huge", "/hostile/bomb", "/hostile/image"}


def test_the_wrong_charset_page_is_read_as_what_it_is(two_runs) -> None:
    _, home, *_ = two_runs
    import polars as pl

    latin = Store(home).articles().filter(pl.col("url").str.ends_with("/news/latin"))
    assert latin.height == 1 and "Le café à Tel Aviv–Yafo est très animé" in latin["text"][0]
    assert latin["title"][0] == "Café naïve façade"


def test_the_warc_keeps_every_response_with_its_request(two_runs) -> None:
    site, _, first, _, boundary = two_runs
    assert first.warc is not None and first.warc.name.endswith(".warc.gz")
    responses = list(iter_responses(first.warc))
    statuses = Counter(response.status for response in responses)
    answered = Counter(request.status for request in site.requests[:boundary])
    # every response the server gave is archived (the slow one, cut at the timeout, too)
    assert sum(statuses.values()) == sum(answered.values())
    assert statuses[429] == 1 and statuses[302] == 2
    kinds = Counter(response.fields.get("Compare-Kind") for response in responses)
    assert kinds["robots"] == 1 and kinds["home"] == 1 and kinds["feed"] == 1 and kinds["sitemap"] == 1
    bomb = next(response for response in responses if response.url.endswith("/hostile/bomb"))
    assert bomb.fields["WARC-Truncated"] == "length" and len(bomb.body) <= CONFIG.max_body_bytes
    assert "Compare-Error" in bomb.fields
    story = next(response for response in responses if response.url.endswith("/news/story-1"))
    assert story.fields["Compare-Outlet"] == "Test Daily" and story.status == 200 and b"<article>" in story.body
    assert ("Content-Length", str(len(story.body))) in story.headers
    from warcio.archiveiterator import ArchiveIterator

    with open(first.warc, "rb") as handle:
        types = Counter(record.rec_type for record in ArchiveIterator(handle))
    assert types["warcinfo"] == 1 and types["request"] == types["response"] == len(responses)


def test_compare_ingest_reads_the_warc_again_into_the_same_articles(two_runs, tmp_path: Path) -> None:
    _, home, first, _, _ = two_runs
    fresh = tmp_path / "fresh"
    outcome = CliRunner().invoke(app, ["ingest", str(first.warc), "--home", str(fresh)])
    assert outcome.exit_code == 0, outcome.output
    assert "accepted 7, duplicate 0, rejected 1" in outcome.output  # the paywall stub
    again = Store(fresh).articles().sort("url")
    before = run_rows(home, first).sort("url")
    assert again["id"].to_list() == before["id"].to_list()


def test_delay_per_host_is_respected_and_sources_run_side_by_side(tmp_path: Path) -> None:
    with NewsSite(articles=3) as site:
        # two outlets on two host names of one server: each host paced on its own
        one = Source(name="One", home=site.url("/", "127.0.0.1"), delay_seconds=0.25)
        two = Source(name="Two", home=site.url("/", "localhost"), delay_seconds=0.25)
        result = fetch_sources(tmp_path / "home", (one, two), CONFIG)
        by_host: dict[str, list[float]] = {}
        for request in site.requests:
            by_host.setdefault(request.host, []).append(request.at)
    assert all(source.ok and source.fetched == 3 for source in result.sources)
    for times in by_host.values():
        assert len(times) >= 6
        assert all(later - earlier >= 0.24 for earlier, later in zip(times, times[1:]))
    first_two = sorted(min(times) for times in by_host.values())
    assert first_two[1] - first_two[0] < 0.2  # the hosts did not wait for each other


def test_a_failed_source_does_not_stop_the_others_and_says_why(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    with NewsSite(articles=2) as site:
        good = Source(name="Good", home=site.url("/"))
        dead = Source(name="Dead", home=f"http://localhost:{dead_port}/", feeds=(f"http://localhost:{dead_port}/feed.xml",))
        result = fetch_sources(tmp_path / "home", (dead, good), replace(CONFIG, retries=0))
    dead_result, good_result = result.sources
    assert good_result.ok and good_result.fetched == 2 and result.accepted == 2
    assert not dead_result.ok and "feed http://localhost" in (dead_result.error or "") and "disallowed by robots.txt" in (dead_result.error or "")
    assert [source.name for source in result.failed_sources] == ["Dead"]


def test_since_skips_what_the_feeds_date_earlier(tmp_path: Path) -> None:
    with NewsSite(articles=5) as site:
        source = Source(name="Test Daily", home=site.url("/"))
        # story-N is listed N minutes before site.published; 2.5 minutes before keeps stories 0-2
        result = fetch_sources(tmp_path / "home", (source,), CONFIG, since=site.published - timedelta(minutes=2, seconds=30))
    assert result.sources[0].listed == 3 and result.accepted == 3


def test_entries_older_than_max_age_days_are_not_fetched(tmp_path: Path) -> None:
    with NewsSite(articles=3) as site:
        source = Source(name="Test Daily", home=site.url("/"))
        site.published -= timedelta(days=10)
        old = fetch_sources(tmp_path / "home", (source,), CONFIG)
        explicit = fetch_sources(tmp_path / "home", (source,), CONFIG, since=site.published - timedelta(days=1))
    assert old.sources[0].listed == 0 and old.accepted == 0
    assert explicit.accepted == 3  # --since overrides max_age_days


def test_the_per_source_cap_leaves_the_rest_pending_for_the_next_run(tmp_path: Path) -> None:
    with NewsSite(articles=5) as site:
        source = Source(name="Test Daily", home=site.url("/"))
        capped = replace(CONFIG, max_articles_per_source=3)
        first = fetch_sources(tmp_path / "home", (source,), capped)
        second = fetch_sources(tmp_path / "home", (source,), replace(capped, revisit_hours=0))
    assert (first.accepted, first.sources[0].pending) == (3, 2)
    assert second.accepted == 2 and Store(tmp_path / "home").articles().height == 5


def test_wire_sources_credit_their_own_articles(tmp_path: Path) -> None:
    with NewsSite(articles=2) as site:
        result = fetch_sources(tmp_path / "home", (Source(name="AP", home=site.url("/"), wire=True),), CONFIG)
    assert result.accepted == 2
    assert set(Store(tmp_path / "home").articles()["wire_credit"]) == {"AP"}


def test_without_a_contact_nothing_is_fetched(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"set \[fetch\] contact"):
        fetch_sources(tmp_path, (Source(name="A", home="http://127.0.0.1:9/"),), replace(CONFIG, contact=""))


# --------------------------------------------------------------------------- CLI


def write_config(home: Path, site: NewsSite, *extra: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "compare.toml").write_text(
        '[fetch]\ncontact = "mailto:tests@example.org"\ndelay_seconds = 0.0\ntotal_timeout = 1.0\n'
        f'[[sources]]\nname = "Test Daily"\nhome = "{site.url("/")}"\nlanguage = "en"\n' + "".join(extra),
        encoding="utf-8",
    )


def test_cli_fetch_json_and_sources_list_and_check(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = CliRunner()
    with NewsSite(articles=2) as site:
        write_config(home, site)
        listed = runner.invoke(app, ["sources", "list", "--home", str(home), "--format", "json"])
        checked = runner.invoke(app, ["sources", "check", "--home", str(home), "--format", "json"])
        fetched = runner.invoke(app, ["fetch", "--json", "--home", str(home)])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert row["name"] == "Test Daily" and row["feeds"] == ["discover"] and row["delay_seconds"] == 0.0
    assert checked.exit_code == 0, checked.output
    (found,) = json.loads(checked.stdout)
    assert found["feeds"] == [site.url("/feed.xml")] and found["sitemaps"] == [site.url("/news-sitemap.xml")]
    assert found["listed"] == 2 and found["discovered"] and found["error"] is None
    assert fetched.exit_code == 0, fetched.output
    record = json.loads(fetched.stdout)
    assert record["accepted"] == 2 and record["sources"][0]["fetched"] == 2 and record["failed_sources"] == []
    assert set(record["seconds"]) == {"fetch", "extract", "ingest"} and Path(record["warc"]).exists()


def test_cli_fetch_exits_1_naming_the_failed_source(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with NewsSite(articles=1) as site:
        write_config(home, site, f'[[sources]]\nname = "Gone"\nhome = "{site.url("/")}"\nfeeds = ["{site.url("/missing.xml")}"]\n')
        outcome = CliRunner().invoke(app, ["fetch", "--home", str(home)])
    assert outcome.exit_code == 1
    assert "Gone: listed 0" in outcome.stdout and "FAILED: feed " in outcome.stdout and "HTTP 404" in outcome.stdout
    assert "Test Daily: listed 1, fetched 1" in outcome.stdout and "accepted 1, duplicate 0" in outcome.stdout


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["fetch"], "", "no [[sources]] in"),
        (["fetch", "--source", "Nope"], "sources", "unknown source 'nope'"),
        (["fetch", "--since", "last week"], "sources", "--since 'last week': not a date"),
        (["sources", "list"], "", "no [[sources]] in"),
    ],
)
def test_cli_usage_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], config: str, message: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    if config:
        (home / "compare.toml").write_text('[fetch]\ncontact = "x@example.org"\n[[sources]]\nname = "A"\nhome = "http://127.0.0.1:9/"\n')
    outcome = CliRunner().invoke(app, [*args, "--home", str(home)])
    assert outcome.exit_code == 2 and message in outcome.output.replace("\n", " ")
