"""Feeds, sitemaps and URLs (compare.fetch.discover, compare.fetch.extract)."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from compare.fetch.discover import feeds_in_home_page, pick_children, read_feed, read_sitemap, same_site
from compare.fetch.extract import canonical_link, normalize_url

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://www.example.org/news/a?utm_source=sitemap</loc>
    <news:news><news:publication><news:name>Example</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2026-11-30T08:15:00+02:00</news:publication_date><news:title>Council meets</news:title></news:news></url>
  <url><loc>/news/b</loc><lastmod>2026-11-29</lastmod></url>
  <url><lastmod>2026-11-29</lastmod></url>
</urlset>"""


def test_a_news_sitemap_gives_urls_with_publication_dates_and_titles() -> None:
    listed = read_sitemap(NEWS_SITEMAP, "https://www.example.org/sitemap-news.xml", max_bytes=1 << 20)
    assert listed.error is None and listed.children == ()
    first, second = listed.entries
    assert first.url == "https://www.example.org/news/a" and first.title == "Council meets"
    assert first.listed_date == datetime(2026, 11, 30, 6, 15, tzinfo=timezone.utc)
    assert second.url == "https://www.example.org/news/b" and second.listed_date == datetime(2026, 11, 29, tzinfo=timezone.utc)


def test_a_gzipped_sitemap_is_read_and_a_gzip_bomb_is_refused() -> None:
    listed = read_sitemap(gzip.compress(NEWS_SITEMAP), "https://www.example.org/s.xml.gz", max_bytes=1 << 20)
    assert len(listed.entries) == 2
    bomb = gzip.compress(b"<urlset>" + b" " * (4 << 20) + b"</urlset>")
    assert read_sitemap(bomb, "https://www.example.org/s.xml.gz", max_bytes=1 << 20).error == "sitemap decompresses to more than 1 MiB"


def test_a_sitemap_index_lists_children_and_news_ones_are_preferred_newest_first() -> None:
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://x.example/sitemap-2024-01.xml</loc><lastmod>2024-02-01</lastmod></sitemap>
      <sitemap><loc>https://x.example/news-sitemap-1.xml</loc><lastmod>2026-11-01</lastmod></sitemap>
      <sitemap><loc>https://x.example/news-sitemap-2.xml</loc><lastmod>2026-11-30</lastmod></sitemap>
    </sitemapindex>"""
    listed = read_sitemap(index, "https://x.example/sitemap.xml", max_bytes=1 << 20)
    assert [url for url, _ in listed.children] == [
        "https://x.example/sitemap-2024-01.xml", "https://x.example/news-sitemap-1.xml", "https://x.example/news-sitemap-2.xml",
    ]
    assert pick_children(listed.children, None) == ["https://x.example/news-sitemap-2.xml", "https://x.example/news-sitemap-1.xml"]
    assert pick_children(listed.children, datetime(2026, 11, 15, tzinfo=timezone.utc)) == ["https://x.example/news-sitemap-2.xml"]


def test_entities_in_a_sitemap_are_not_expanded() -> None:
    hostile = b"""<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.example/a&secret;</loc></url></urlset>"""
    listed = read_sitemap(hostile, "https://x.example/s.xml", max_bytes=1 << 20)
    assert all("root:" not in entry.url for entry in listed.entries)


def test_something_else_than_a_sitemap_is_an_error() -> None:
    assert read_sitemap(b"<html><body>hi</body></html>", "https://x.example/s.xml", max_bytes=1 << 20).error == "not a sitemap (root element <html>)"
    assert read_sitemap(b"\x00\x01 not xml", "https://x.example/s.xml", max_bytes=1 << 20).error is not None


def test_a_feed_gives_absolute_normalised_links_and_dates() -> None:
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>X</title>
      <item><title>One</title><link>/news/one?fbclid=abc#top</link><pubDate>Mon, 30 Nov 2026 08:00:00 GMT</pubDate></item>
      <item><title>No link</title></item></channel></rss>"""
    listed = read_feed(feed, "https://www.x.example/feed.xml")
    (entry,) = listed.entries
    assert entry.url == "https://www.x.example/news/one" and entry.title == "One"
    assert entry.listed_date == datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
    assert read_feed(b"<html>not a feed</html>", "https://x.example/").error is not None


def test_feeds_are_found_on_a_home_page() -> None:
    page = b"""<html><head><link rel="alternate" type="application/rss+xml" href="/rss/all.xml">
      <link rel="stylesheet" href="/s.css"></head><body>news</body></html>"""
    assert feeds_in_home_page(page, "https://www.x.example/") == ["https://www.x.example/rss/all.xml"]


def test_same_site_takes_subdomains_and_ignores_www() -> None:
    assert same_site("https://english.x.example/a", "https://www.x.example/")
    assert same_site("http://x.example/a", "https://www.x.example/")
    assert not same_site("https://notx.example/a", "https://x.example/")
    assert not same_site("https://x.example.evil.test/a", "https://x.example/")


def test_canonical_links_are_taken_only_when_they_name_another_page_of_the_site() -> None:
    def page(link: str) -> bytes:
        return f"<html><head>{link}<title>t</title></head><body><p>text</p></body></html>".encode()

    url = "https://www.x.example/amp/story"
    assert canonical_link(page('<link rel="canonical" href="/news/story">'), url) == "https://www.x.example/news/story"
    assert canonical_link(page("<link href='/news/story?utm_medium=x' rel='canonical'>"), url) == "https://www.x.example/news/story"
    assert canonical_link(page('<link rel="canonical" href="/">'), url) is None  # every page "is" the home page
    assert canonical_link(page('<link rel="canonical" href="https://other.example/story">'), url) is None
    assert canonical_link(page('<link rel="canonical" href="/amp/story">'), url) is None  # itself
    assert canonical_link(page('<link rel="alternate" href="/news/story">'), url) is None


_SEGMENT = st.text(alphabet="abcXYZ019-_.~%", min_size=1, max_size=8)


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.sampled_from(["www.x.example", "X.Example", "news.x.example:443", "x.example:8080"]),
    path=st.lists(_SEGMENT, max_size=4),
    query=st.lists(st.tuples(st.sampled_from(["id", "page", "utm_source", "fbclid", "q"]), _SEGMENT), max_size=3),
    fragment=st.sampled_from(["", "#top", "#x=1"]),
)
def test_url_normalisation_is_idempotent_and_drops_trackers_and_fragments(scheme, host, path, query, fragment) -> None:  # noqa: ANN001
    url = f"{scheme}://{host}/{'/'.join(path)}" + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "") + fragment
    once = normalize_url(url)
    assert normalize_url(once) == once
    assert "#" not in once and "utm_source" not in once and "fbclid" not in once
