"""One fetch run: list each source's new article URLs, fetch them politely into a WARC, ingest it.

Stages (each timed): `fetch` (discovery, feeds, sitemaps, pages, the WARC), `extract` (the WARC read
back through ingest's reader: trafilatura, field checks, rejects) and `ingest` (Store.add_articles:
ids, duplicates, versions). Sources run side by side (`parallel_sources`), one request at a time per
host; a source that fails is reported with its reason and the others go on.

Across runs (state.FetchState): a URL listed but not fetched (cap reached, server down) is pending
and tried next run; a fetched URL still listed within `revisit_hours` is asked again conditionally
(a 304 costs no body; a changed page becomes a new version); after that it is not asked again.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl

from compare.fetch.client import Exchange, Outcome, PoliteClient
from compare.fetch.discover import Entry, Listed, feeds_in_home_page, pick_children, read_feed, read_sitemap, same_site
from compare.fetch.extract import canonical_link, normalize_url
from compare.fetch.sources import FetchConfig, Source
from compare.fetch.state import FetchState
from compare.fetch.warc import Label, WarcArchive, now_stamp
from compare.core.store import Reject, Store

_FAILURES_SHOWN = 20  # per source in the JSON record (all of them are in the result and the rejects file)


@dataclass(frozen=True)
class Discovery:
    """The feeds and sitemaps a source is read from, and where they came from."""

    feeds: tuple[str, ...]
    sitemaps: tuple[str, ...]
    discovered: bool  # True when found on the home page / robots.txt rather than configured
    error: str | None = None


@dataclass(frozen=True)
class SourceResult:
    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listed: int = 0  # article URLs the feeds and sitemaps list (after --since)
    fetched: int = 0  # pages archived with a body (new, or changed on revisit)
    not_modified: int = 0  # revisits answered 304
    skipped: int = 0  # listed URLs already fetched and past revisit_hours, or aliases of fetched ones
    pending: int = 0  # left for the next run: max_articles_per_source reached (failures for now are retried too)
    failed: int = 0
    failures: tuple[tuple[str, str], ...] = ()  # (url, reason) of every failed URL
    error: str | None = None  # the source as a whole failed: no feed or sitemap could be read

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class FetchResult:
    sources: tuple[SourceResult, ...]
    warc: Path | None  # None when deleted after ingest (keep_warc false) or nothing was fetched
    accepted: int = 0
    duplicates: int = 0
    versions: int = 0
    rejected: int = 0  # pages ingest refused (too little text, bad fields) plus URLs that failed to fetch
    rejects_path: Path | None = None
    rejects: tuple[Reject, ...] = ()
    requests: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # fetch, extract, ingest

    @property
    def failed_sources(self) -> tuple[SourceResult, ...]:
        return tuple(source for source in self.sources if not source.ok)


def fetch_dir(home: Path) -> Path:
    return Path(home) / "fetch"


def warc_dir(home: Path) -> Path:
    return Path(home) / "warc"


def check_sources(sources: tuple[Source, ...], config: FetchConfig) -> list[tuple[Source, Discovery, int]]:
    """`compare sources check`: discovery and the number of article URLs listed, per source; fetches
    home pages, robots.txt, feeds and sitemaps (politely), no articles, writes nothing."""
    results = []
    since = datetime.now(timezone.utc) - timedelta(days=config.max_age_days) if config.max_age_days > 0 else None
    with PoliteClient(config, delay_for=_delays(sources, config)) as client:
        for source in sources:
            discovery = discover(source, client)
            entries, errors = _entries(source, discovery, client, None, since, config)
            if not entries and errors and discovery.error is None:
                discovery = Discovery(discovery.feeds, discovery.sitemaps, discovery.discovered, "; ".join(errors)[:300])
            results.append((source, discovery, len(entries)))
    return results


def discover(source: Source, client: PoliteClient) -> Discovery:
    """Configured feeds and sitemaps, else the home page's feeds and robots.txt's sitemaps."""
    if source.feeds or source.sitemaps:
        return Discovery(source.feeds, source.sitemaps, discovered=False)
    home = client.get(source.home, "home", tag=Label(source.name, source.language))
    feeds: list[str] = feeds_in_home_page(home.body, home.url) if home.ok else []
    # robots.txt often lists every sitemap of the site: its news ones when there are some, at most 10
    sitemaps = pick_children(((url, None) for url in client.robots_sitemaps(source.home) if same_site(url, source.home)), None)
    feeds = [url for url in feeds if same_site(url, source.home)]
    error = None
    if not feeds and not sitemaps:
        why = home.error or (f"HTTP {home.status}" if not home.ok else "no feed links on it and no Sitemap: in robots.txt")
        error = f"nothing found to read: home page {source.home}: {why}"
    return Discovery(tuple(feeds), tuple(sitemaps), discovered=True, error=error)


def fetch_sources(
    home: Path,
    sources: tuple[Source, ...],
    config: FetchConfig,
    *,
    since: datetime | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> FetchResult:
    """Fetch every source's new articles into one WARC under <home>/warc/ and ingest it into the store.

    `since` (default: `max_age_days` ago) drops listed URLs the feed or sitemap dates earlier (undated
    ones are kept). `progress` is called with (source name, pages fetched so far for it). Raises
    ValueError without a contact.
    """
    if not config.contact.strip():
        raise ValueError("set [fetch] contact in compare.toml (an email or URL where site owners can reach you): it is sent in the User-Agent")
    if since is None and config.max_age_days > 0:
        since = datetime.now(timezone.utc) - timedelta(days=config.max_age_days)
    store = Store(home)
    started = time.perf_counter()
    state = FetchState(fetch_dir(home) / "state.sqlite")
    path = warc_dir(home) / f"fetch-{now_stamp()}.warc.gz"
    archive = WarcArchive(path, software="compare-news fetch", operator=config.contact)
    requests = itertools.count()

    def archived(exchange: Exchange, kind: str, tag: object) -> None:
        next(requests)
        archive.write(exchange, kind, tag if isinstance(tag, Label) else None)

    try:
        with PoliteClient(config, delay_for=_delays(sources, config), on_exchange=archived) as client:
            workers = max(1, min(config.parallel_sources, len(sources)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
                futures = [pool.submit(_run_source, source, client, state, config, since, progress) for source in sources]
                results = tuple(future.result() for future in futures)
    finally:
        archive.close()
        state.close()
    fetched = time.perf_counter()
    fetch_rejects = [Reject(url, None, None, f"fetch failed: {reason}") for result in results for url, reason in result.failures]
    return _ingest_archive(store, path, sources, config, results, fetch_rejects, next(requests), started, fetched)


def backfill(
    home: Path, sources: tuple[Source, ...], paths: list[Path], config: FetchConfig, *, since: datetime | None = None,
) -> FetchResult:
    """Past coverage from WARC files fetched elsewhere (Common Crawl's CC-NEWS): the 200 HTML responses
    on the sources' sites (dated `since` or later by WARC-Date) are copied, labelled with their source,
    into <home>/warc/backfill-<stamp>.warc.gz and ingested like a fetch run; their URLs count as
    fetched, so `compare fetch` does not ask for them again. Other sites' records are skipped."""
    from compare.fetch.warc import iter_responses

    store = Store(home)
    started = time.perf_counter()
    state = FetchState(fetch_dir(home) / "state.sqlite")
    path = warc_dir(home) / f"backfill-{now_stamp()}.warc.gz"
    archive = WarcArchive(path, software="compare-news backfill", operator=config.contact or "unknown")
    copied: dict[str, int] = {source.name: 0 for source in sources}
    problems: list[Reject] = []
    try:
        for warc in paths:
            try:
                for response in iter_responses(warc):
                    source = next((s for s in sources if same_site(response.url, s.home)), None)
                    if source is None or not response.is_article:
                        continue
                    if since is not None and response.date and _warc_date(response.date) < since:
                        continue
                    url = normalize_url(response.url)
                    known = state.get(url)
                    if known is not None and known.fetched:
                        continue
                    archive.copy(response.url, response.status_line, response.headers, response.body, response.date,
                                 Label(source.name, source.language))
                    state.record(url, source=source.name, kind="article", status=response.status or 200)
                    copied[source.name] += 1
            except Exception as error:  # noqa: BLE001 - a damaged WARC is one reject; the files after it are read
                from compare.fetch.warc import is_archive_damage

                if not is_archive_damage(error):
                    raise
                problems.append(Reject(str(warc), None, None, f"damaged WARC file: {type(error).__name__}: {error}"[:300]))
    finally:
        archive.close()
        state.close()
    results = tuple(SourceResult(name, listed=count, fetched=count) for name, count in copied.items())
    return _ingest_archive(store, path, sources, config, results, problems, 0, started, time.perf_counter())


def _warc_date(value: str) -> datetime:
    from compare.ingest import parse_published

    try:
        return parse_published(value) or datetime.max.replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime.max.replace(tzinfo=timezone.utc)


def _ingest_archive(
    store: Store, path: Path, sources: tuple[Source, ...], config: FetchConfig, results: tuple[SourceResult, ...],
    fetch_rejects: list[Reject], requests: int, started: float, fetched: float,
) -> FetchResult:
    """Read the run's WARC back through ingest's reader (extract) and add the articles (ingest)."""
    from compare.ingest import read_paths

    batch = read_paths([path])
    extracted = time.perf_counter()
    added = store.add_articles(_credit_wires(batch.articles, sources))
    rejects = [*fetch_rejects, *batch.rejects]
    rejects_path = store.write_rejects(rejects)
    ingested = time.perf_counter()
    if not config.keep_warc:
        path.unlink(missing_ok=True)
    return FetchResult(
        sources=results, warc=path if config.keep_warc else None, accepted=added.added,
        duplicates=added.duplicates + batch.duplicates, versions=added.versions, rejected=len(rejects),
        rejects_path=rejects_path, rejects=tuple(rejects), requests=requests,
        seconds={"fetch": fetched - started, "extract": extracted - fetched, "ingest": ingested - extracted},
    )


def _run_source(
    source: Source, client: PoliteClient, state: FetchState, config: FetchConfig, since: datetime | None,
    progress: Callable[[str, int], None] | None,
) -> SourceResult:
    """One source from discovery to its last page; never raises, so one source cannot stop the others."""
    try:
        return _fetch_source(source, client, state, config, since, progress)
    except Exception as error:  # noqa: BLE001 - reported per source (nightly log), the other sources go on
        return SourceResult(source.name, error=f"{type(error).__name__}: {error}"[:300])


def _fetch_source(
    source: Source, client: PoliteClient, state: FetchState, config: FetchConfig, since: datetime | None,
    progress: Callable[[str, int], None] | None,
) -> SourceResult:
    discovery = discover(source, client)
    if discovery.error is not None:
        return SourceResult(source.name, error=discovery.error)
    entries, errors = _entries(source, discovery, client, state, since, config)
    if errors and not entries and not state.pending(source.name):
        return SourceResult(source.name, discovery.feeds, discovery.sitemaps, error="; ".join(errors)[:300])
    for entry in entries:
        state.list_url(entry.url, source=source.name, listed_date=entry.listed_date)
    now = datetime.now(timezone.utc)
    revisit = timedelta(hours=config.revisit_hours)
    work: list[tuple[str, dict[str, str] | None, datetime | None]] = []
    skipped = 0
    for entry in entries:
        known = state.get(entry.url)
        if known is None or not known.fetched:
            continue  # pending: state.pending() hands it out below
        if known.kind == "article" and now - known.first_fetched < revisit and known.last_status in (200, 304):
            work.append((entry.url, {"etag": known.etag or "", "last_modified": known.last_modified or ""}, entry.listed_date))
        else:
            skipped += 1  # fetched long enough ago, or an alias (redirect, canonical) of a fetched page
    for pending in state.pending(source.name):
        work.append((pending.url, None, pending.listed_date))
    # pending ones first are those listed this run; earlier runs' leftovers follow (state orders by date)
    seen: set[str] = set()
    result = _Counts()
    for url, validators, listed_date in work:
        if url in seen:
            continue
        seen.add(url)
        if result.fetched + result.not_modified + result.failed >= config.max_articles_per_source:
            result.pending += 1
            continue
        if validators is None and (known := state.get(url)) is not None and known.fetched:
            skipped += 1  # became known this run as the canonical of another listed URL
            continue
        label = Label(source.name, source.language, listed_date)
        outcome = client.get(url, "article", validators=validators if validators and any(validators.values()) else None, tag=label)
        _settle(source, url, outcome, state, result)
        if progress is not None:
            progress(source.name, result.fetched)
    return SourceResult(
        source.name, discovery.feeds, discovery.sitemaps, listed=len(entries), fetched=result.fetched,
        not_modified=result.not_modified, skipped=skipped, pending=result.pending,
        failed=result.failed, failures=tuple(result.failures),
    )


@dataclass
class _Counts:
    fetched: int = 0
    not_modified: int = 0
    failed: int = 0
    pending: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def _settle(source: Source, url: str, outcome: Outcome, state: FetchState, counts: _Counts) -> None:
    """Record what became of one article URL in the state, and count it."""
    final = outcome.final
    if outcome.ok and final is not None:
        final_url = normalize_url(outcome.url)
        canonical = canonical_link(outcome.body, outcome.url)
        state.record(url, source=source.name, kind="article", status=final.status or 200, etag=final.header("etag"),
                     last_modified=final.header("last-modified"), canonical=canonical or (final_url if final_url != url else None))
        for alias in {final_url, canonical} - {None, url}:
            state.alias(alias, url, source=source.name)
        counts.fetched += 1
        return
    if outcome.not_modified and final is not None:
        state.record(url, source=source.name, kind="article", status=304)
        counts.not_modified += 1
        return
    reason = outcome.error or f"HTTP {outcome.status}"
    state.failed(url, source=source.name, status=outcome.status, permanent=not outcome.transient)
    counts.failed += 1
    counts.failures.append((url, reason))


def _entries(
    source: Source, discovery: Discovery, client: PoliteClient, state: FetchState | None, since: datetime | None,
    config: FetchConfig | None,
) -> tuple[list[Entry], list[str]]:
    """Article URLs the source's feeds and sitemaps list (on its own site, after `since`), de-duplicated
    in listing order, and one error line per feed or sitemap that could not be read."""
    entries: dict[str, Entry] = {}
    errors: list[str] = []
    label = Label(source.name, source.language)
    max_bytes = (config or FetchConfig()).max_body_bytes

    def listing(url: str, kind: str) -> Listed | None:
        known = state.get(normalize_url(url)) if state is not None else None
        validators = {"etag": known.etag or "", "last_modified": known.last_modified or ""} if known and known.fetched else None
        outcome = client.get(url, kind, validators=validators if validators and any(validators.values()) else None, tag=label)
        if state is not None and (outcome.ok or outcome.not_modified) and outcome.final is not None:
            final = outcome.final
            state.record(normalize_url(url), source=source.name, kind=kind, status=final.status or 0,
                         etag=final.header("etag"), last_modified=final.header("last-modified"))
        if outcome.not_modified:
            return Listed()  # unchanged since the last run: its entries were listed then (pending ones are in the state)
        if not outcome.ok:
            errors.append(f"{kind} {url}: {outcome.error or f'HTTP {outcome.status}'}")
            return None
        found = read_feed(outcome.body, outcome.url) if kind == "feed" else read_sitemap(outcome.body, outcome.url, max_bytes=max_bytes)
        if found.error:
            errors.append(f"{kind} {url}: {found.error}")
        return found

    def add(found: Listed) -> None:
        for entry in found.entries:
            if not same_site(entry.url, source.home) or entry.url in entries:
                continue
            if since is not None and entry.listed_date is not None and entry.listed_date < since:
                continue
            entries[entry.url] = entry

    for feed in discovery.feeds:
        if (found := listing(feed, "feed")) is not None:
            add(found)
    queue = [(url, 0) for url in discovery.sitemaps]
    while queue:
        url, depth = queue.pop(0)
        found = listing(url, "sitemap")
        if found is None:
            continue
        add(found)
        if found.children and depth < 2:
            queue.extend((child, depth + 1) for child in pick_children(found.children, since) if same_site(child, source.home))
    return list(entries.values()), errors


def _credit_wires(articles: pl.DataFrame, sources: tuple[Source, ...]) -> pl.DataFrame:
    """A wire agency's own articles credit it (wire_credit = its name) when their text names no wire,
    so dedup takes them as the original of the copies other outlets print."""
    wires = [source.name for source in sources if source.wire]
    if not wires:
        return articles
    own = pl.col("outlet").is_in(wires) & pl.col("wire_credit").is_null()
    return articles.with_columns(pl.when(own).then(pl.col("outlet")).otherwise(pl.col("wire_credit")).alias("wire_credit"))


def _delays(sources: tuple[Source, ...], config: FetchConfig) -> Callable[[str], float]:
    """host -> the pause its source asks for (the longest, when two sources share a host)."""
    by_host: dict[str, float] = {}
    for source in sources:
        delay = config.delay_seconds if source.delay_seconds is None else source.delay_seconds
        for url in (source.home, *source.feeds, *source.sitemaps):
            host = urlsplit(url).hostname or ""
            by_host[host] = max(by_host.get(host, 0.0), delay)
    return lambda host: by_host.get(host, config.delay_seconds)


def result_record(result: FetchResult) -> dict[str, object]:
    """The run as one JSON-ready object (the nightly log line's payload)."""
    return {
        "warc": str(result.warc) if result.warc else None,
        "requests": result.requests,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "versions": result.versions,
        "rejected": result.rejected,
        "rejects_file": str(result.rejects_path) if result.rejects_path else None,
        "seconds": {stage: round(seconds, 3) for stage, seconds in result.seconds.items()},
        "sources": [
            {
                "name": source.name, "ok": source.ok, "error": source.error, "listed": source.listed, "fetched": source.fetched,
                "not_modified": source.not_modified, "skipped": source.skipped, "pending": source.pending, "failed": source.failed,
                "failures": [{"url": url, "reason": reason} for url, reason in source.failures[:_FAILURES_SHOWN]],
            }
            for source in result.sources
        ],
        "failed_sources": [{"name": source.name, "error": source.error} for source in result.failed_sources],
    }
