"""The corpus on local disk: Parquet files under one data home, written atomically.

Layout under the home:
    corpus/articles.parquet   every accepted article (ARTICLE_SCHEMA)
    rejects/<stamp>.jsonl     records an ingest run refused, with file, line, field and reason
    index/                    derived indexes (signatures, clusters, stories), rebuilt from the corpus
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from compare.schema import ARTICLE_SCHEMA, conform, empty_frame


class StoreLockedError(RuntimeError):
    """Another process holds the store's lock (a concurrent ingest or build)."""


@dataclass(frozen=True)
class Reject:
    """One input record that was not ingested, and why; written to the rejects file."""

    file: str
    line: int | None
    field: str | None
    reason: str

    def one_line(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" field '{self.field}':" if self.field else ""
        return f"{where}:{field} {self.reason}"


@dataclass(frozen=True)
class AddResult:
    added: int
    duplicates: int


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` on a temp file beside `path`, fsync it, then rename it over `path`.

    A crash at any point leaves either the old file or the new one, never a torn file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)


class Store:
    """One data home. Cheap to construct; reads happen when asked."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)

    @property
    def articles_path(self) -> Path:
        return self.home / "corpus" / "articles.parquet"

    @property
    def rejects_dir(self) -> Path:
        return self.home / "rejects"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    def articles(self) -> pl.DataFrame:
        if not self.articles_path.exists():
            return empty_frame(ARTICLE_SCHEMA)
        return conform(pl.read_parquet(self.articles_path), ARTICLE_SCHEMA)

    def corpus_version(self) -> str:
        """Changes whenever the corpus file is rewritten; derived indexes record it to detect staleness."""
        if not self.articles_path.exists():
            return "empty"
        stat = self.articles_path.stat()
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    def add_articles(self, incoming: pl.DataFrame) -> AddResult:
        """Append articles whose id is not stored yet; the rewrite is atomic and under the store lock."""
        incoming = conform(incoming, ARTICLE_SCHEMA).unique(subset="id", keep="first", maintain_order=True)
        with self.lock():
            existing = self.articles()
            new = incoming.join(existing.select("id"), on="id", how="anti")
            duplicates = incoming.height - new.height
            if new.height:
                combined = pl.concat([existing, new], how="vertical")
                write_atomically(self.articles_path, lambda tmp: combined.write_parquet(tmp))
        return AddResult(added=new.height, duplicates=duplicates)

    def write_rejects(self, rejects: Sequence[Reject]) -> Path | None:
        if not rejects:
            return None
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.rejects_dir / f"ingest-{stamp}.jsonl"
        lines = "".join(json.dumps(asdict(reject), ensure_ascii=False) + "\n" for reject in rejects)
        write_atomically(path, lambda tmp: tmp.write_text(lines, encoding="utf-8"))
        return path

    @contextlib.contextmanager
    def lock(self, *, wait: bool = True) -> Iterator[None]:
        """Exclusive lock on the home; with wait=False a held lock raises StoreLockedError at once."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "a+") as handle:
            flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle.fileno(), flags)
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EACCES):
                    raise StoreLockedError(f"{self.home} is locked by another compare process") from error
                raise
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
