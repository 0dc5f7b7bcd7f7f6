"""Where a source's new articles are listed: its feeds (feedparser) and news sitemaps (lxml).

When a source names no feeds and no sitemaps, they are discovered: feeds from the home page's
<link rel="alternate"> tags (trafilatura.feeds), sitemaps from robots.txt's `Sitemap:` lines (protego).
No library reads a news sitemap's <news:publication_date>, so sitemaps are parsed here, with entity
expansion and network access off.
"""

from __future__ import annotations

import calendar
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

from compare.fetch.extract import normalize_url

_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
# A sitemap index lists every month back to 1996 on some sites: only this many children are read,
# newest (by lastmod) first, and only children whose name says news when some do.
MAX_CHILD_SITEMAPS = 10
_MAX_SITEMAP_DEPTH = 2


@dataclass(frozen=True)
class Entry:
    """One article URL as a feed or sitemap lists it."""

    url: str  # normalised
    listed_date: datetime | None = None
    title: str | None = None


@dataclass(frozen=True)
class Listed:
    """What one feed or sitemap gave: entries, child sitemaps (an index), or why nothing."""

    entries: tuple[Entry, ...] = ()
    children: tuple[tuple[str, datetime | None], ...] = ()
    error: str | None = None


def feeds_in_home_page(body: bytes, home: str) -> list[str]:
    """Feed URLs the home page announces (<link rel="alternate" type="application/rss+xml">, or
    links that look like feeds), absolute and de-duplicated."""
    from trafilatura.feeds import FeedParameters, determine_feed
    from trafilatura.utils import decode_file

    host = urlsplit(home).hostname or ""
    params = FeedParameters(baseurl=_origin(home), domain=host, reference=home)
    return list(dict.fromkeys(determine_feed(decode_file(body), params)))


def read_feed(body: bytes, base: str) -> Listed:
    """RSS/Atom entries with a link; the entry's published (else updated) date."""
    import feedparser

    parsed = feedparser.parse(body, resolve_relative_uris=False, sanitize_html=False)
    if not parsed.entries:
        why = f": {parsed.bozo_exception}" if parsed.get("bozo") else ""
        return Listed(error=f"no feed entries{why}"[:200])
    entries = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        date = datetime.fromtimestamp(calendar.timegm(stamp), timezone.utc) if stamp else None
        entries.append(Entry(normalize_url(urljoin(base, link)), date, entry.get("title")))
    return Listed(entries=tuple(entries))


def read_sitemap(body: bytes, base: str, *, max_bytes: int) -> Listed:
    """A urlset (with news: extensions or not) or a sitemap index; .xml.gz bodies are inflated under
    `max_bytes`."""
    from lxml import etree

    if body[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, max_bytes + 1)
        except zlib.error as error:
            return Listed(error=f"corrupt gzip sitemap: {error}")
        if len(body) > max_bytes:
            return Listed(error=f"sitemap decompresses to more than {max_bytes >> 20} MiB")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as error:
        return Listed(error=f"not XML: {error}"[:200])
    if root is None:
        return Listed(error="not XML")
    tag = etree.QName(root).localname
    if tag == "sitemapindex":
        children = [
            (urljoin(base, loc), _date(_text(node, "lastmod")))
            for node in root.iter(f"{{{_SITEMAP_NS}}}sitemap", "sitemap")
            if (loc := _text(node, "loc"))
        ]
        return Listed(children=tuple(children))
    if tag != "urlset":
        return Listed(error=f"not a sitemap (root element <{tag}>)")
    entries = []
    for node in root.iter(f"{{{_SITEMAP_NS}}}url", "url"):
        loc = _text(node, "loc")
        if not loc:
            continue
        news = node.find(f"{{{_NEWS_NS}}}news")
        published = _date(_text(news, "publication_date", _NEWS_NS)) if news is not None else None
        title = _text(news, "title", _NEWS_NS) if news is not None else None
        entries.append(Entry(normalize_url(urljoin(base, loc)), published or _date(_text(node, "lastmod")), title))
    return Listed(entries=tuple(entries))


def pick_children(children: Iterable[tuple[str, datetime | None]], since: datetime | None) -> list[str]:
    """The child sitemaps worth reading: news ones when some are, changed since `since`, newest first."""
    children = [(url, date) for url, date in children if since is None or date is None or date >= since]
    news = [(url, date) for url, date in children if "news" in url.lower()]
    chosen = news or children
    chosen.sort(key=lambda item: item[1] or datetime.min.replace(tzinfo=timezone.utc), reverse=True)
    return [url for url, _ in chosen[:MAX_CHILD_SITEMAPS]]


def _text(node: object, name: str, namespace: str = _SITEMAP_NS) -> str | None:
    if node is None:
        return None
    found = node.find(f"{{{namespace}}}{name}")
    if found is None:
        found = node.find(name)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    from compare.ingest import parse_published

    try:
        return parse_published(value)
    except ValueError:
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def same_site(url: str, home: str) -> bool:
    """`url` is on the source's site (its host or a subdomain of it, www. ignored)."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    site = (urlsplit(home).hostname or "").removeprefix("www.")
    return bool(site) and (host == site or host.endswith("." + site))
