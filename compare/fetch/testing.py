"""A local news site on 127.0.0.1 for the fetch tests and benchmarks/fetch.py (as polars.testing is
for polars' users): a home page, an RSS feed, a news sitemap, robots.txt and article pages, plus the
hostile pages a crawler meets: a redirect loop, a 20 MB body, a gzip bomb, a slow response, 429 with
Retry-After, a disallowed path, a wrong charset, a paywall stub and a page that changes.

Every request is recorded (time, path, headers, host) so tests can assert what a crawler did. The text
is generated from a fixed vocabulary and seed: no real outlet's writing.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

_WORDS = (
    "minister council talks border ceasefire report officials said government army statement city residents "
    "police court vote election parliament agency plan budget hospital school road week month year meeting "
    "leaders opposition protest crowd spokesman region military troops aid convoy talks agreement deal "
    "prices market bank inflation rate energy water rain storm fire rescue workers families children"
).split()
_PLACES = ("Jerusalem", "Gaza", "Cairo", "Beirut", "Amman", "Doha", "Riyadh", "Haifa", "Ramallah", "Tel Aviv")


def synthetic_paragraphs(seed: int, words: int) -> list[str]:
    """Deterministic news-like prose of about `words` words, in paragraphs of 3 sentences."""
    rng = random.Random(seed)
    sentences = []
    total = 0
    while total < words:
        length = rng.randint(12, 24)
        body = " ".join(rng.choice(_WORDS) for _ in range(length))
        sentence = f"{rng.choice(_PLACES)} {body} on {rng.choice(('Monday', 'Tuesday', 'Friday'))}, officials said {rng.randint(2, 900)} times."
        sentences.append(sentence[0].upper() + sentence[1:])
        total += length + 6
    return [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]


def article_html(title: str, paragraphs: list[str], *, published: datetime, canonical: str | None = None,
                 charset: str = "utf-8", boilerplate: int = 40) -> str:
    """A page shaped like a news site's: head metadata, navigation, the article, related links, footer."""
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(boilerplate))
    related = "".join(f'<li><a href="/news/related-{i}">Related story number {i} about the region</a></li>' for i in range(boilerplate // 2))
    body = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs)
    link = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    script = "<script>window.analytics = {" + ",".join(f'"k{i}": {i}' for i in range(boilerplate * 5)) + "};</script>"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="{charset}"><title>{escape(title)} - Test Daily</title>{link}'
        f'<meta property="og:title" content="{escape(title)}"><meta property="og:site_name" content="Test Daily">'
        f'<meta property="article:published_time" content="{published.isoformat()}">{script}</head>'
        f'<body><header><nav><ul>{nav}</ul></nav></header><main><article><h1>{escape(title)}</h1>'
        f'<p class="byline">By Dana Writer</p>{body}</article><aside><ul>{related}</ul></aside></main>'
        f"<footer><p>Copyright Test Daily. All rights reserved.</p></footer></body></html>"
    )


@dataclass
class Seen:
    """One request as the server received it."""

    at: float  # time.monotonic()
    host: str  # the Host header without the port
    path: str
    headers: dict[str, str]
    status: int | None = None  # what was answered (set once the response is chosen)


@dataclass
class Page:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Handler = Callable[["NewsSite", BaseHTTPRequestHandler, Seen], "Page | None"]


class NewsSite:
    """`with NewsSite(articles=8) as site:` serves on http://127.0.0.1:<port>/ until the block ends.

    `site.version` bumps the text of /news/changing (call `site.change()` between two runs). Hostile
    pages are listed in the feed only with `hostile=True`.
    """

    def __init__(self, articles: int = 8, *, hostile: bool = False, amp: bool = False, words: int = 500, etags: bool = True,
                 boilerplate: int = 40) -> None:
        self.count = articles
        self.boilerplate = boilerplate
        self.amp = amp
        self.hostile = hostile
        self.words = words
        self.etags = etags
        self.version = 1
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._busy_served: set[str] = set()
        # recent, so the crawler's max_age_days keeps the listings whatever day the tests run
        self.published = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
        self._pages: dict[int, bytes] = {}

    # ----------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> NewsSite:
        site = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: Nagle would hold the body 40 ms

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                site._handle(self)

            def log_message(self, *args: object) -> None:
                return

        if self.hostile:
            _bomb()  # 0.4 s: not inside a request, where it would count against the client's timeout
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def change(self) -> None:
        self.version += 1

    def seen(self, prefix: str = "/") -> list[Seen]:
        with self._lock:
            return [request for request in self.requests if request.path.startswith(prefix)]

    # ----------------------------------------------------------------------------- content

    def article_paths(self) -> list[str]:
        paths = [f"/news/story-{i}" for i in range(self.count)]
        if self.amp:
            paths.insert(0, "/amp/story-0")  # listed first (newest); its canonical is /news/story-0
        if self.hostile:
            paths += [
                "/news/changing", "/news/latin", "/news/paywall", "/news/busy", "/news/story-0?utm_source=rss&utm_medium=feed",
                "/hostile/loop", "/hostile/huge", "/hostile/bomb", "/hostile/slow", "/private/secret", "/hostile/image",
            ]
        return paths

    def article_page(self, index: int, host: str) -> bytes:
        if index not in self._pages:
            title = f"Officials meet over story number {index}"
            paragraphs = synthetic_paragraphs(index, self.words)
            self._pages[index] = article_html(title, paragraphs, published=self.published - timedelta(hours=index),
                                              canonical=f"/news/story-{index}", boilerplate=self.boilerplate).encode()
        return self._pages[index]

    def feed(self, host: str) -> bytes:
        items = []
        for number, path in enumerate(self.article_paths()):
            date = format_datetime(self.published - timedelta(minutes=number - 1 if self.amp else number))
            title = f"Item {number}" + (f" (version {self.version})" if path == "/news/changing" else "")
            items.append(f"<item><title>{title}</title><link>{escape(self.url(path, host))}</link><pubDate>{date}</pubDate></item>")
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Test Daily</title>'
            f"<link>{self.url('/', host)}</link><language>en</language>{''.join(items)}</channel></rss>"
        ).encode()

    def sitemap(self, host: str) -> bytes:
        urls = []
        for number, path in enumerate(self.article_paths()[: self.count + self.amp]):
            if "?" in path or path.startswith("/amp/"):
                continue
            date = (self.published - timedelta(minutes=number)).isoformat()
            urls.append(
                f"<url><loc>{escape(self.url(path, host))}</loc><news:news><news:publication><news:name>Test Daily</news:name>"
                f"<news:language>en</news:language></news:publication><news:publication_date>{date}</news:publication_date>"
                f"<news:title>Item {number}</news:title></news:news></url>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{"".join(urls)}</urlset>'
        ).encode()

    # ----------------------------------------------------------------------------- serving

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        host = (handler.headers.get("Host") or "").rsplit(":", 1)[0]
        seen = Seen(time.monotonic(), host, handler.path, {key.lower(): value for key, value in handler.headers.items()})
        with self._lock:
            self.requests.append(seen)
        page = self._route(handler, seen)
        if page is None:
            seen.status = 200
            return  # the route wrote its own response
        body = page.body
        etag = page.headers.get("ETag")
        modified = page.headers.get("Last-Modified")
        if etag and seen.headers.get("if-none-match") == etag or modified and seen.headers.get("if-modified-since") == modified:
            page, body = Page(304, {key: value for key, value in page.headers.items() if key in ("ETag", "Last-Modified")}), b""
        seen.status = page.status
        handler.send_response(page.status)
        for key, value in page.headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _html(self, body: bytes, charset: str = "utf-8") -> Page:
        headers = {"Content-Type": f"text/html; charset={charset}"}
        if self.etags:
            headers["ETag"] = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        else:  # validators by date instead (versions count as a day each)
            headers["Last-Modified"] = format_datetime(self.published + timedelta(days=self.version), usegmt=True)
        return Page(200, headers, body)

    def _route(self, handler: BaseHTTPRequestHandler, seen: Seen) -> Page | None:
        path, host = seen.path.split("#")[0], seen.host
        bare = path.split("?")[0]
        if bare == "/robots.txt":
            text = f"User-agent: *\nDisallow: /private/\n\nSitemap: {self.url('/news-sitemap.xml', host)}\n"
            return Page(200, {"Content-Type": "text/plain"}, text.encode())
        if bare == "/":
            links = "".join(f'<li><a href="{p}">{p}</a></li>' for p in self.article_paths()[:5])
            html = (f'<html><head><title>Test Daily</title><link rel="alternate" type="application/rss+xml" title="RSS" '
                    f'href="/feed.xml"></head><body><ul>{links}</ul></body></html>')
            return self._html(html.encode())
        if bare == "/feed.xml":
            page = Page(200, {"Content-Type": "application/rss+xml"}, self.feed(host))
            if self.etags:
                page.headers["ETag"] = '"feed-' + hashlib.blake2b(page.body, digest_size=8).hexdigest() + '"'
            return page
        if bare == "/news-sitemap.xml":
            return Page(200, {"Content-Type": "application/xml"}, self.sitemap(host))
        if bare.startswith("/news/story-"):
            try:
                index = int(bare.removeprefix("/news/story-"))
            except ValueError:
                return Page(404, {"Content-Type": "text/plain"}, b"not found")
            return self._html(self.article_page(index, host)) if 0 <= index < self.count else Page(404, {}, b"not found")
        if bare == "/amp/story-0" and self.count:
            return self._html(self.article_page(0, host))  # the same page, canonical /news/story-0
        if bare == "/news/changing":
            paragraphs = synthetic_paragraphs(1000 + self.version, self.words)
            title = "Changing story" + (" (updated)" if self.version > 1 else "")
            return self._html(article_html(title, paragraphs, published=self.published).encode())
        if bare == "/news/latin":
            # says ISO-8859-1 in the header, is UTF-8 (and says so in the page)
            paragraphs = [f"Le café à Tel Aviv–Yafo est très animé, dit le maire. {p}" for p in synthetic_paragraphs(77, self.words)]
            page = self._html(article_html("Café naïve façade", paragraphs, published=self.published).encode("utf-8"))
            page.headers["Content-Type"] = "text/html; charset=iso-8859-1"
            return page
        if bare == "/news/paywall":
            html = article_html("Subscribe to read", ["Subscribe to continue reading this article."], published=self.published)
            return self._html(html.encode())
        if bare == "/news/busy":
            if bare not in self._busy_served:
                self._busy_served.add(bare)
                return Page(429, {"Retry-After": "1", "Content-Type": "text/plain"}, b"slow down")
            paragraphs = synthetic_paragraphs(55, self.words)
            return self._html(article_html("Busy server story", paragraphs, published=self.published).encode())
        if bare == "/hostile/loop":
            return Page(302, {"Location": "/hostile/loop-b"}, b"")
        if bare == "/hostile/loop-b":
            return Page(302, {"Location": "/hostile/loop"}, b"")
        if bare == "/hostile/huge":
            self._stream(handler, {"Content-Type": "text/html"}, b"<p>" + b"x" * (64 << 10), repeat=320)  # 20 MB, no Content-Length
            return None
        if bare == "/hostile/bomb":
            return Page(200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, _bomb())
        if bare == "/hostile/slow":
            self._stream(handler, {"Content-Type": "text/html"}, b"<", repeat=60, pause=0.25)
            return None
        if bare == "/hostile/image":
            return Page(200, {"Content-Type": "image/jpeg"}, b"\xff\xd8\xff" + b"\0" * 1000)
        if bare.startswith("/private/"):
            return self._html(article_html("Secret", synthetic_paragraphs(9, self.words), published=self.published).encode())
        return Page(404, {"Content-Type": "text/plain"}, b"not found")

    def _stream(self, handler: BaseHTTPRequestHandler, headers: dict[str, str], chunk: bytes, *, repeat: int, pause: float = 0.0) -> None:
        """A body without Content-Length, ended by closing the connection."""
        handler.send_response(200)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        try:
            for _ in range(repeat):
                handler.wfile.write(chunk)
                handler.wfile.flush()
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up, as it should


_BOMB: list[bytes] = []


def _bomb() -> bytes:
    """32 MiB of zeros, gzipped to 32 KB (ratio 1000); made once, when a hostile site starts."""
    if not _BOMB:
        _BOMB.append(gzip.compress(b"\0" * (32 << 20), compresslevel=6))
    return _BOMB[0]
