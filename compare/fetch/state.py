"""What earlier fetch runs saw, kept between runs in <home>/fetch/state.sqlite.

Per URL: its validators (ETag, Last-Modified) for conditional requests, when it was first and last
fetched, and the canonical URL it turned out to have, so one article is fetched once across runs and
across the feeds and sitemaps that list it. SQLite because a nightly run looks up thousands of URLs
and a crash mid-run must leave every finished URL recorded (each one is committed as it is done).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,           -- normalised URL
    source TEXT NOT NULL,
    kind TEXT NOT NULL,             -- article, feed, sitemap, robots, home
    etag TEXT,
    last_modified TEXT,
    first_fetched TEXT,             -- ISO 8601 UTC; NULL until a response was archived
    last_fetched TEXT,
    last_status INTEGER,
    canonical TEXT,                 -- the page's canonical URL when it differs, else NULL
    listed_date TEXT,               -- the date the feed or sitemap gave
    attempts INTEGER NOT NULL DEFAULT 0  -- failed tries; GAVE_UP after a permanent failure
);
CREATE INDEX IF NOT EXISTS pending ON urls (source, kind, first_fetched);
"""


# A URL that failed this many runs in a row (or failed for good: 404, robots.txt) is not tried again.
MAX_ATTEMPTS = 5
GAVE_UP = 99


@dataclass(frozen=True)
class UrlState:
    url: str
    source: str
    kind: str
    etag: str | None
    last_modified: str | None
    first_fetched: datetime | None
    last_fetched: datetime | None
    last_status: int | None
    canonical: str | None
    listed_date: datetime | None = None
    attempts: int = 0

    @property
    def fetched(self) -> bool:
        return self.first_fetched is not None


class FetchState:
    """One SQLite file; safe to share between the threads of one run (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, url: str) -> UrlState | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM urls WHERE url = ?", (url,)
            ).fetchone()
        return _state(row) if row is not None else None

    def list_url(self, url: str, *, source: str, listed_date: datetime | None) -> None:
        """A feed or sitemap lists `url`: remember it as pending until a response is archived, so a
        URL that could not be fetched this run (cap reached, server down) is tried next run."""
        listed = listed_date.isoformat() if listed_date is not None else None
        with self._lock:
            self._db.execute(
                """INSERT INTO urls (url, source, kind, listed_date) VALUES (?, ?, 'article', ?)
                   ON CONFLICT(url) DO UPDATE SET listed_date = COALESCE(urls.listed_date, excluded.listed_date)""",
                (url, source, listed),
            )

    def pending(self, source: str) -> list[UrlState]:
        """Article URLs of `source` listed but never fetched and not given up on, newest listed first."""
        with self._lock:
            rows = self._db.execute(
                f"""SELECT {_COLUMNS} FROM urls WHERE source = ? AND kind = 'article' AND first_fetched IS NULL
                    AND attempts < ? ORDER BY listed_date IS NULL, listed_date DESC, url""",
                (source, MAX_ATTEMPTS),
            ).fetchall()
        return [_state(row) for row in rows]

    def failed(self, url: str, *, source: str, status: int | None, permanent: bool) -> None:
        """A try that archived no usable response; a permanent failure is not tried again."""
        with self._lock:
            self._db.execute(
                """INSERT INTO urls (url, source, kind, last_status, attempts) VALUES (?, ?, 'article', ?, ?)
                   ON CONFLICT(url) DO UPDATE SET last_status = excluded.last_status,
                       attempts = CASE WHEN ? THEN ? ELSE urls.attempts + 1 END""",
                (url, source, status, GAVE_UP if permanent else 1, permanent, GAVE_UP),
            )

    def record(
        self, url: str, *, source: str, kind: str, status: int, etag: str | None = None, last_modified: str | None = None,
        canonical: str | None = None, at: datetime | None = None,
    ) -> None:
        """A response for `url` was archived: keep its validators (a 304 keeps the earlier ones)."""
        now = (at or datetime.now(timezone.utc)).isoformat()
        with self._lock:
            self._db.execute(
                """INSERT INTO urls (url, source, kind, etag, last_modified, first_fetched, last_fetched, last_status, canonical)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(url) DO UPDATE SET
                       source = excluded.source, kind = excluded.kind,
                       etag = CASE WHEN excluded.last_status = 304 THEN urls.etag ELSE excluded.etag END,
                       last_modified = CASE WHEN excluded.last_status = 304 THEN urls.last_modified ELSE excluded.last_modified END,
                       first_fetched = COALESCE(urls.first_fetched, excluded.first_fetched),
                       last_fetched = excluded.last_fetched, last_status = excluded.last_status,
                       canonical = COALESCE(excluded.canonical, urls.canonical)""",
                (url, source, kind, etag, last_modified, now, now, status, canonical),
            )

    def alias(self, url: str, canonical: str, *, source: str, at: datetime | None = None) -> None:
        """`url` names a page fetched as `canonical` (a redirect target, a canonical link): it counts as
        fetched, so listing it later fetches nothing (kind 'alias', never revisited)."""
        if url == canonical:
            return
        now = (at or datetime.now(timezone.utc)).isoformat()
        with self._lock:
            self._db.execute(
                """INSERT INTO urls (url, source, kind, first_fetched, last_fetched, last_status, canonical)
                   VALUES (?, ?, 'alias', ?, ?, 200, ?)
                   ON CONFLICT(url) DO UPDATE SET
                       kind = CASE WHEN urls.first_fetched IS NULL THEN 'alias' ELSE urls.kind END,
                       canonical = COALESCE(urls.canonical, excluded.canonical),
                       first_fetched = COALESCE(urls.first_fetched, excluded.first_fetched)""",
                (url, source, now, now, canonical),
            )

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            if kind is None:
                return int(self._db.execute("SELECT COUNT(*) FROM urls").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM urls WHERE kind = ?", (kind,)).fetchone()[0])


_COLUMNS = "url, source, kind, etag, last_modified, first_fetched, last_fetched, last_status, canonical, listed_date, attempts"


def _state(row: tuple) -> UrlState:
    return UrlState(*row[:5], _time(row[5]), _time(row[6]), row[7], row[8], _time(row[9]), row[10])


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
