"""The polite HTTP client against the hostile pages of a local test site (compare.fetch.client)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from compare.fetch.client import HostPacer, PoliteClient
from compare.fetch.sources import FetchConfig
from compare.fetch.testing import NewsSite

LIMIT = 2 << 20


@pytest.fixture(scope="module")
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=3, hostile=True) as running:
        yield running


def config(**changes: object) -> FetchConfig:
    base = dict(contact="mailto:tests@example.org", delay_seconds=0.0, total_timeout=1.0, read_timeout=5.0,
                max_body_bytes=LIMIT, backoff_seconds=0.05, retries=2)
    return FetchConfig(**{**base, **changes})


def test_a_redirect_loop_stops_without_following_it_forever(site: NewsSite) -> None:
    before = len(site.seen("/hostile/loop"))
    with PoliteClient(config()) as client:
        outcome = client.get(site.url("/hostile/loop"), "article")
    assert outcome.error == "redirect loop after 2 hops" and not outcome.ok and not outcome.transient
    assert len(site.seen("/hostile/loop")) - before == 2  # loop and loop-b, once each
    assert [exchange.status for exchange in outcome.exchanges] == [302, 302]


def test_redirect_hops_are_limited(site: NewsSite) -> None:
    with PoliteClient(config(max_redirects=0)) as client:
        outcome = client.get(site.url("/hostile/loop"), "article")
    assert outcome.error == "more than 0 redirects"


def test_a_20_mb_body_stops_at_the_size_limit(site: NewsSite) -> None:
    with PoliteClient(config()) as client:
        outcome = client.get(site.url("/hostile/huge"), "article")
    assert outcome.error == "body is over the 2 MiB limit" and outcome.body == b""
    final = outcome.final
    assert final is not None and final.truncated == "length" and len(final.body) <= LIMIT


def test_a_gzip_bomb_is_never_inflated_past_the_limit(site: NewsSite) -> None:
    with PoliteClient(config()) as client:
        outcome = client.get(site.url("/hostile/bomb"), "article")
    assert outcome.error == "decompresses to more than the 2 MiB limit"
    assert outcome.final is not None and len(outcome.final.body) <= LIMIT


def test_a_slow_response_stops_at_the_total_timeout(site: NewsSite) -> None:
    started = time.monotonic()
    with PoliteClient(config(total_timeout=0.8)) as client:
        outcome = client.get(site.url("/hostile/slow"), "article")
    assert outcome.error == "response took longer than 0.8 s" and outcome.transient
    assert time.monotonic() - started < 3  # the server would trickle for 15 s
    assert outcome.final is not None and outcome.final.truncated == "time"


def test_429_is_retried_after_the_retry_after_it_asks_for() -> None:
    with NewsSite(articles=1, hostile=True) as fresh, PoliteClient(config()) as client:
        outcome = client.get(fresh.url("/news/busy"), "article")
        asked = fresh.seen("/news/busy")
    assert outcome.ok and [exchange.status for exchange in outcome.exchanges] == [200]
    assert [request.status for request in asked] == [429, 200]
    assert asked[1].at - asked[0].at >= 0.95  # Retry-After: 1


def test_a_retry_after_longer_than_allowed_gives_up_for_this_run() -> None:
    with NewsSite(articles=1, hostile=True) as fresh, PoliteClient(config(max_retry_after=0.5)) as client:
        outcome = client.get(fresh.url("/news/busy"), "article")
        asked = fresh.seen("/news/busy")
    assert not outcome.ok and "Retry-After 1 s is more than 0.5 s" in (outcome.error or "") and len(asked) == 1


def test_robots_txt_is_obeyed_and_fetched_once_per_host(site: NewsSite) -> None:
    before_robots = len(site.seen("/robots.txt"))
    with PoliteClient(config()) as client:
        outcome = client.get(site.url("/private/secret"), "article")
        client.get(site.url("/news/story-1"), "article")
        assert client.robots_sitemaps(site.url("/")) == [site.url("/news-sitemap.xml")]
    assert outcome.error == "disallowed by robots.txt" and outcome.exchanges == ()
    assert site.seen("/private/") == []
    assert len(site.seen("/robots.txt")) - before_robots == 1


def test_robots_group_of_our_token_applies() -> None:
    from protego import Protego

    robots = Protego.parse("User-agent: compare-news\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    assert not robots.can_fetch("http://x.example/a", config().robots_token)


def test_a_response_of_the_wrong_content_type_is_refused_before_its_body(site: NewsSite) -> None:
    with PoliteClient(config()) as client:
        outcome = client.get(site.url("/hostile/image"), "article")
    assert outcome.error == "content type 'image/jpeg' is not article content" and outcome.body == b""


def test_conditional_requests_send_the_validators_and_a_304_is_not_modified(site: NewsSite) -> None:
    with PoliteClient(config()) as client:
        first = client.get(site.url("/news/story-2"), "article")
        etag = first.final.header("etag") if first.final else None
        second = client.get(site.url("/news/story-2"), "article", validators={"etag": etag or ""})
    assert first.ok and etag
    assert second.not_modified and second.body == b""
    assert site.seen("/news/story-2")[-1].headers["if-none-match"] == etag


def test_the_user_agent_names_the_tool_and_the_contact(site: NewsSite) -> None:
    with PoliteClient(config()) as client:
        client.get(site.url("/news/story-1"), "article")
    assert site.seen("/news/story-1")[-1].headers["user-agent"] == "compare-news/0.1 (+mailto:tests@example.org)"


def test_requests_to_one_host_keep_the_delay_apart(site: NewsSite) -> None:
    with PoliteClient(config(delay_seconds=0.2)) as client:
        start = len(site.requests)
        for index in range(3):
            client.get(site.url(f"/news/story-{index}"), "article")
        times = [request.at for request in site.requests[start:] if request.host == "127.0.0.1"]
    assert len(times) >= 3
    assert all(later - earlier >= 0.19 for earlier, later in zip(times, times[1:]))


def test_the_pacer_holds_a_host_after_retry_after_and_keeps_hosts_apart() -> None:
    now = [100.0]
    slept: list[float] = []
    pacer = HostPacer(clock=lambda: now[0], sleep=lambda seconds: slept.append(seconds))
    pacer.done("a.example", 5.0)
    pacer.wait("b.example")  # another host: no wait
    pacer.wait("a.example")
    pacer.hold("a.example", 30.0)
    pacer.wait("a.example")
    assert slept == [5.0, 30.0]


def test_connection_errors_are_retried_then_reported() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with PoliteClient(config(retries=1)) as client:
        outcome = client.get(f"http://127.0.0.1:{port}/news/a", "article")
    assert not outcome.ok and outcome.error == "disallowed by robots.txt"  # robots.txt unreachable: keep out
    assert outcome.transient  # ... for this run only


def test_last_modified_is_sent_back_as_if_modified_since() -> None:
    with NewsSite(articles=1, etags=False) as dated, PoliteClient(config()) as client:
        first = client.get(dated.url("/news/story-0"), "article")
        stamp = first.final.header("last-modified") if first.final else None
        second = client.get(dated.url("/news/story-0"), "article", validators={"last_modified": stamp or ""})
        asked = dated.seen("/news/story-0")
    assert first.ok and stamp and second.not_modified
    assert asked[-1].headers["if-modified-since"] == stamp and "if-none-match" not in asked[-1].headers
