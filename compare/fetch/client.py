"""A polite HTTP client: robots.txt, a pause per host, retries that honour Retry-After, and limits.

httpx does the HTTP, protego reads robots.txt. What is ours is the policy around them: redirects are
followed one hop at a time (so each hop is checked against robots.txt, counted and archived), bodies are
read raw and inflated here under a size cap (a gzip bomb stops at `max_body_bytes`, not in memory),
and a response that trickles in stops at `total_timeout` even though every read is quick.
Every exchange, failed or not, is handed back so the caller can archive it.
"""

from __future__ import annotations

import email.utils
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import httpx

from compare.fetch.sources import FetchConfig

if TYPE_CHECKING:
    from protego import Protego

# Content types accepted per kind of URL (a 2xx of another type is refused before its body is read).
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_XML_TYPES = (
    "application/xml", "text/xml", "application/rss+xml", "application/atom+xml", "application/rdf+xml",
    "application/x-gzip", "application/gzip", "application/octet-stream", "text/plain", "text/html",
)
ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    "article": _HTML_TYPES,
    "home": _HTML_TYPES,
    "feed": _XML_TYPES,
    "sitemap": _XML_TYPES,
    "robots": ("text/plain", "text/html", "application/octet-stream"),
}
_ACCEPT_HEADER = {
    "article": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "home": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1",
    "sitemap": "application/xml,text/xml;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Exchange:
    """One request and its response as sent and received, for the WARC and the tests."""

    url: str
    request_headers: tuple[tuple[str, str], ...]
    status: int | None  # None: no response (connection error, timeout before the headers)
    reason: str
    http_version: str
    response_headers: tuple[tuple[str, str], ...]
    body: bytes  # decoded (Content-Encoding undone), possibly cut short: see `truncated`
    truncated: str | None = None  # WARC-Truncated value: "length" or "time"
    error: str | None = None  # why the body is not usable
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    transient: bool = False  # no response because of a timeout or a connection error: worth a retry

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.response_headers if key.lower() == name), None)


@dataclass(frozen=True)
class Outcome:
    """What became of one URL: the final response (after redirects) and every exchange on the way."""

    requested: str
    url: str  # where it ended (redirects followed)
    status: int | None
    body: bytes
    exchanges: tuple[Exchange, ...]
    error: str | None = None  # set when there is no usable body: disallowed, failed, too big, wrong type
    robots_unavailable: bool = False  # disallowed only because robots.txt could not be read (5xx, down)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304

    @property
    def final(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None

    @property
    def transient(self) -> bool:
        """A failure worth another try next run: no response, a timeout, 408, 429 or 5xx (after the
        retries), robots.txt unavailable. Not: 404, robots.txt disallow, a loop, too big, wrong type."""
        if self.robots_unavailable:
            return True
        final = self.final
        if final is None:
            return False
        return final.transient or final.truncated == "time" or final.status in RETRY_STATUSES or final.status == 408


class HostPacer:
    """At most one request at a time per host, `delay` seconds apart; a Retry-After holds the host."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock, self._sleep = clock, sleep
        self._locks: dict[str, threading.Lock] = {}
        self._next: dict[str, float] = {}
        self._guard = threading.Lock()

    def lock(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())

    def wait(self, host: str) -> None:
        """Sleep until the host may be asked again (call with `lock(host)` held)."""
        pause = self._next.get(host, 0.0) - self._clock()
        if pause > 0:
            self._sleep(pause)

    def done(self, host: str, delay: float) -> None:
        self._next[host] = max(self._next.get(host, 0.0), self._clock() + delay)

    def hold(self, host: str, seconds: float) -> None:
        self._next[host] = max(self._next.get(host, 0.0), self._clock() + seconds)


class PoliteClient:
    """GET with manners. One per run; thread-safe (httpx.Client is, and the pacer serialises hosts).

    `delay_for(host)` gives the pause for a host (a source's delay_seconds); robots.txt Crawl-delay
    raises it, up to `max_delay_seconds`.
    """

    def __init__(
        self,
        config: FetchConfig,
        *,
        delay_for: Callable[[str], float] | None = None,
        on_exchange: Callable[[Exchange, str, object], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        pacer: HostPacer | None = None,
    ) -> None:
        self.config = config
        self._delay_for = delay_for or (lambda host: config.delay_seconds)
        self._on_exchange = on_exchange
        self._pacer = pacer or HostPacer()
        self._robots: dict[str, Protego | None] = {}  # origin -> its rules, None when everything is allowed
        self._robots_locks: dict[str, threading.Lock] = {}
        self._crawl_delays: dict[str, float] = {}  # host -> robots.txt Crawl-delay (capped)
        self._robots_unavailable: set[str] = set()  # origins whose robots.txt answered 5xx or nothing
        self._guard = threading.Lock()
        self._client = httpx.Client(
            headers={"User-Agent": config.user_agent_header, "Accept-Encoding": "gzip"},
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- public

    def get(self, url: str, kind: str, *, validators: Mapping[str, str] | None = None, tag: object = None) -> Outcome:
        """Fetch `url` (kind: article, home, feed, sitemap) following at most `max_redirects` hops.

        `validators` {"etag", "last_modified"} make the first request conditional; `tag` is handed to
        `on_exchange` with each exchange (what the URL was fetched for). Never raises for
        what the web does (errors, loops, bombs, refusals): those are the Outcome's `error`.
        """
        exchanges: list[Exchange] = []
        current, seen = url, {url}
        for hop in range(self.config.max_redirects + 1):
            if not self.allowed(current):
                origin = "{0.scheme}://{0.netloc}".format(urlsplit(current))
                return Outcome(url, current, None, b"", tuple(exchanges), error="disallowed by robots.txt",
                               robots_unavailable=origin in self._robots_unavailable)
            exchange = self._with_retries(current, kind, validators if hop == 0 else None, tag)
            exchanges.append(exchange)
            location = exchange.header("location")
            if exchange.status in _REDIRECT_STATUSES and location and exchange.error is None:
                target = urljoin(current, location.strip())
                if urlsplit(target).scheme not in ("http", "https"):
                    return Outcome(url, current, exchange.status, b"", tuple(exchanges), error=f"redirect to a non-http URL {target[:100]!r}")
                if target in seen:
                    return Outcome(url, target, exchange.status, b"", tuple(exchanges), error=f"redirect loop after {hop + 1} hops")
                seen.add(target)
                current = target
                continue
            return Outcome(url, current, exchange.status, exchange.body if exchange.error is None else b"", tuple(exchanges), error=exchange.error)
        return Outcome(url, current, exchanges[-1].status, b"", tuple(exchanges), error=f"more than {self.config.max_redirects} redirects")

    def allowed(self, url: str) -> bool:
        """robots.txt of the URL's host allows our user agent there (fetched once per host and run)."""
        parts = urlsplit(url)
        robots = self._robots_for(parts.scheme, parts.netloc)
        return robots is None or bool(robots.can_fetch(url, self.config.robots_token))

    def robots_sitemaps(self, url: str) -> list[str]:
        """Sitemap URLs robots.txt of the URL's host lists (discovery)."""
        parts = urlsplit(url)
        robots = self._robots_for(parts.scheme, parts.netloc)
        return list(robots.sitemaps) if robots is not None else []

    # ----------------------------------------------------------------------------- robots.txt

    def _robots_for(self, scheme: str, netloc: str) -> Protego | None:
        key = f"{scheme}://{netloc}"
        with self._guard:
            lock = self._robots_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._robots:
                self._robots[key] = self._load_robots(key)
            return self._robots[key]

    def _load_robots(self, origin: str) -> Protego | None:
        """Google's reading of robots.txt failures: 4xx means no rules; 5xx or unreachable means keep
        out of the whole host for this run (it may be overloaded)."""
        from protego import Protego

        exchange = self._with_retries(f"{origin}/robots.txt", "robots", None, None)
        if exchange.status is None or exchange.status >= 500:
            self._robots_unavailable.add(origin)
            return Protego.parse("User-agent: *\nDisallow: /\n")
        if exchange.status >= 400 or exchange.error is not None or not 200 <= exchange.status < 300:
            return None  # 3xx robots.txt: treated as none rather than chased
        robots = Protego.parse(exchange.body.decode("utf-8", errors="replace"))
        crawl_delay = robots.crawl_delay(self.config.robots_token)
        if crawl_delay:
            host = urlsplit(origin).hostname or ""
            self._crawl_delays[host] = min(float(crawl_delay), self.config.max_delay_seconds)
        return robots

    def _delay(self, host: str) -> float:
        return max(self._delay_for(host), self._crawl_delays.get(host, 0.0))

    # ----------------------------------------------------------------------------- one URL, with retries

    def _with_retries(self, url: str, kind: str, validators: Mapping[str, str] | None, tag: object) -> Exchange:
        host = urlsplit(url).hostname or ""
        headers = {"Accept": _ACCEPT_HEADER[kind]}
        if validators and validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators and validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        attempt = 0
        while True:
            with self._pacer.lock(host):
                self._pacer.wait(host)
                exchange = self._exchange(url, kind, headers)
                self._pacer.done(host, self._delay(host))
            if self._on_exchange is not None:
                self._on_exchange(exchange, kind, tag)
            retryable = exchange.status in RETRY_STATUSES or exchange.transient
            if not retryable or attempt >= self.config.retries:
                if retryable:
                    return _with_error(exchange, exchange.error or f"HTTP {exchange.status} after {attempt + 1} tries")
                return exchange
            wait = _retry_after(exchange)
            if wait is None:
                wait = self.config.backoff_seconds * 2**attempt
            if wait > self.config.max_retry_after:
                return _with_error(exchange, f"HTTP {exchange.status}: Retry-After {wait:g} s is more than {self.config.max_retry_after:g} s; retried next run")
            self._pacer.hold(host, wait)
            attempt += 1

    def _exchange(self, url: str, kind: str, headers: Mapping[str, str]) -> Exchange:
        started = datetime.now(timezone.utc)
        clock = time.monotonic()
        try:
            request = self._client.build_request("GET", url, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as error:
            return Exchange(url, tuple(headers.items()), None, "", "", (), b"", error=f"invalid URL: {error}", started=started)
        sent = tuple((key.decode("latin-1"), value.decode("latin-1")) for key, value in request.headers.raw)
        try:
            response = self._client.send(request, stream=True)
        except httpx.TimeoutException as error:
            return Exchange(url, sent, None, "", "", (), b"", error=f"timed out ({type(error).__name__})", started=started, transient=True)
        except httpx.HTTPError as error:  # connection refused, reset, bad protocol: all retryable
            return Exchange(url, sent, None, "", "", (), b"", error=f"{type(error).__name__}: {error}"[:200], started=started, transient=True)
        try:
            return self._read(url, kind, sent, response, started, clock)
        finally:
            response.close()

    def _read(self, url: str, kind: str, sent: tuple[tuple[str, str], ...], response: httpx.Response, started: datetime, clock: float) -> Exchange:
        received = tuple((key.decode("latin-1"), value.decode("latin-1")) for key, value in response.headers.raw)
        base = dict(url=url, request_headers=sent, status=response.status_code, reason=response.reason_phrase,
                    http_version=response.http_version, response_headers=received, started=started)
        limit = self.config.max_body_bytes
        if 200 <= response.status_code < 300:
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type and content_type not in ACCEPTED_TYPES[kind]:
                return Exchange(**base, body=b"", error=f"content type {content_type!r} is not {kind} content")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                return Exchange(**base, body=b"", truncated="length", error=f"body of {int(declared) >> 20} MiB is over the {limit >> 20} MiB limit")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", ""):
            return Exchange(**base, body=b"", error=f"unsupported content encoding {encoding!r}")
        inflater = zlib.decompressobj(wbits=31) if encoding in ("gzip", "x-gzip") else None
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_raw():  # as received: a chunk size would wait for that many bytes
                if time.monotonic() - clock > self.config.total_timeout:
                    return Exchange(**base, body=b"".join(parts), truncated="time", error=f"response took longer than {self.config.total_timeout:g} s")
                pending = chunk
                while pending:
                    if inflater is None:
                        data, pending = pending, b""
                    else:
                        data = inflater.decompress(pending, limit - size + 1)
                        pending = inflater.unconsumed_tail
                    size += len(data)
                    if size > limit:
                        what = "decompresses to more than" if inflater is not None else "body is over"
                        return Exchange(**base, body=b"".join(parts), truncated="length", error=f"{what} the {limit >> 20} MiB limit")
                    parts.append(data)
                    if inflater is not None and inflater.eof:
                        break
        except httpx.TimeoutException:
            return Exchange(**base, body=b"".join(parts), truncated="time", error="timed out while reading the body")
        except (httpx.HTTPError, zlib.error) as error:  # a dropped connection: another try may do
            return Exchange(**base, body=b"".join(parts), truncated="length", transient=True,
                            error=f"body unreadable: {type(error).__name__}: {error}"[:200])
        if inflater is not None and not inflater.eof and parts:
            return Exchange(**base, body=b"".join(parts), truncated="length", transient=True, error="gzip body cut off before its end")
        return Exchange(**base, body=b"".join(parts))


def _with_error(exchange: Exchange, error: str) -> Exchange:
    from dataclasses import replace

    return replace(exchange, error=error)


def _retry_after(exchange: Exchange) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    value = exchange.header("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
