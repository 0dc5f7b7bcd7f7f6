"""The outlets to follow (`[[sources]]`) and how politely to fetch them (`[fetch]`), from compare.toml.

Both live in the home's compare.toml beside the other sections, but are read here: a source is a list
entry, not a section of scalar settings, and only `compare fetch` / `compare sources` need them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from compare.core.config import ConfigError, apply_values

SOURCES_KEY = "sources"
FETCH_KEY = "fetch"


@dataclass(frozen=True)
class Source:
    """One outlet. `feeds` and `sitemaps` empty: discovered from the home page and its robots.txt."""

    name: str  # the outlet, as articles are labelled in the corpus
    home: str  # home page URL
    feeds: tuple[str, ...] = ()  # RSS/Atom URLs
    sitemaps: tuple[str, ...] = ()  # (news) sitemap or sitemap-index URLs
    language: str | None = None  # used when a page does not say
    wire: bool = False  # a wire agency (AP, Reuters): its copies are the originals others reprint
    delay_seconds: float | None = None  # per-host pause between requests; None = [fetch] delay_seconds

    @property
    def host(self) -> str:
        return urlsplit(self.home).hostname or ""


@dataclass(frozen=True)
class FetchConfig:
    """How `compare fetch` behaves on the web; defaults are those of a careful, slow crawler."""

    # Sent with every request; site owners read it in their logs, so it names the tool and a contact.
    user_agent: str = "compare-news/0.1"
    contact: str = ""  # an email or URL where site owners can reach whoever runs the crawl (required)
    delay_seconds: float = 5.0  # per-host pause between requests (a source's delay_seconds overrides)
    max_delay_seconds: float = 60.0  # a robots.txt Crawl-delay above this is capped, not obeyed literally
    connect_timeout: float = 10.0  # seconds
    read_timeout: float = 20.0  # seconds of silence between two reads
    total_timeout: float = 60.0  # seconds for one whole response, however it trickles in
    retries: int = 3  # more tries after a 429, a 5xx or a connection error
    backoff_seconds: float = 2.0  # first retry after this, doubling each time (unless Retry-After says)
    max_retry_after: float = 300.0  # a longer Retry-After gives up on the URL for this run (retried next run)
    max_body_bytes: int = 5 << 20  # decoded body; a news page is 50-500 KB
    max_redirects: int = 5
    min_text_chars: int = 400  # extracted text shorter than this is a reject (paywall, consent wall, live-blog shell)
    # Listed entries dated earlier than this many days ago are skipped (0 = no limit; --since overrides):
    # a general sitemap lists years of articles, and a first run should bring the news, not the archive.
    max_age_days: float = 7.0
    revisit_hours: float = 48.0  # a URL still listed in a feed is re-requested (conditionally) this long after first fetched
    max_articles_per_source: int = 500  # new article URLs fetched per source per run; the rest wait for the next run
    parallel_sources: int = 4  # sources fetched at the same time (one request at a time per host)
    keep_warc: bool = True  # keep each run's WARC under <home>/warc/ (False: deleted once ingested)

    @property
    def user_agent_header(self) -> str:
        return f"{self.user_agent} (+{self.contact})" if self.contact else self.user_agent

    @property
    def robots_token(self) -> str:
        """The product token robots.txt groups are matched against ("compare-news")."""
        return self.user_agent.split("/", 1)[0].strip() or "*"


@dataclass(frozen=True)
class FetchSettings:
    """What `compare fetch` reads from compare.toml: the sources and the crawler's manners."""

    sources: tuple[Source, ...] = ()
    fetch: FetchConfig = field(default_factory=FetchConfig)
    path: Path | None = None  # the file read (None: there was none)


def config_path(home: Path, config_file: Path | None = None) -> Path:
    """The compare.toml `load_settings` reads: --config, else <home>/compare.toml."""
    return Path(config_file) if config_file is not None else Path(home) / "compare.toml"


def load_fetch_settings(home: Path, config_file: Path | None = None, *, overrides: Mapping[str, Any] | None = None) -> FetchSettings:
    """Read `[[sources]]` and `[fetch]` (a missing file: no sources, default manners); flags in
    `overrides` (None values ignored) win over the file. Raises ConfigError naming the file and key."""
    path = config_path(home, config_file)
    document: dict[str, Any] = {}
    if path.exists():
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: {error}") from error
    fetch = FetchConfig()
    if FETCH_KEY in document:
        if not isinstance(document[FETCH_KEY], dict):
            raise ConfigError(f"{path}: [fetch] must be a table")
        fetch = apply_values(fetch, document[FETCH_KEY], f"{path} [fetch]")
    present = {key: value for key, value in (overrides or {}).items() if value is not None}
    if present:
        fetch = apply_values(fetch, present, "--fetch options")
    raw = document.get(SOURCES_KEY, [])
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: sources must be [[sources]] tables, one per outlet")
    sources = tuple(_source(entry, f"{path} [[sources]] #{number}") for number, entry in enumerate(raw, start=1))
    names = [source.name.casefold() for source in sources]
    if duplicate := next((name for name in names if names.count(name) > 1), None):
        raise ConfigError(f"{path}: two [[sources]] are named {duplicate!r}; names must differ")
    return FetchSettings(sources=sources, fetch=fetch, path=path if path.exists() else None)


def select_sources(sources: tuple[Source, ...], names: list[str] | None) -> tuple[Source, ...]:
    """The sources named (case-insensitive), in configured order; all when `names` is empty."""
    if not names:
        return sources
    wanted = {name.casefold() for name in names}
    unknown = wanted - {source.name.casefold() for source in sources}
    if unknown:
        known = ", ".join(source.name for source in sources) or "none configured"
        raise ConfigError(f"unknown source {sorted(unknown)[0]!r} (configured: {known})")
    return tuple(source for source in sources if source.name.casefold() in wanted)


_SOURCE_KEYS = {f.name for f in fields(Source)}


def _source(entry: object, where: str) -> Source:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(entry) - _SOURCE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_SOURCE_KEYS))})")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: 'name' (the outlet) is required")
    where = f"{where} ({name})"
    home = _url(entry.get("home"), f"{where}.home")
    feeds = _urls(entry.get("feeds", []), f"{where}.feeds")
    sitemaps = _urls(entry.get("sitemaps", []), f"{where}.sitemaps")
    language = entry.get("language")
    if language is not None and not isinstance(language, str):
        raise ConfigError(f"{where}.language: expected a language code such as \"en\", got {language!r}")
    wire = entry.get("wire", False)
    if not isinstance(wire, bool):
        raise ConfigError(f"{where}.wire: expected true or false, got {wire!r}")
    delay = entry.get("delay_seconds")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0):
        raise ConfigError(f"{where}.delay_seconds: expected seconds >= 0, got {delay!r}")
    source = Source(name=name.strip(), home=home, feeds=feeds, sitemaps=sitemaps, language=language or None, wire=wire)
    return replace(source, delay_seconds=float(delay)) if delay is not None else source


def _url(value: object, where: str) -> str:
    if not isinstance(value, str) or urlsplit(value.strip()).scheme not in ("http", "https") or not urlsplit(value.strip()).hostname:
        raise ConfigError(f"{where}: expected an http(s) URL, got {value!r}")
    return value.strip()


def _urls(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of URLs, got {value!r}")
    return tuple(_url(item, f"{where}[{number}]") for number, item in enumerate(value))
