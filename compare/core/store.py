"""The corpus on local disk: Parquet files under one data home, written atomically.

Layout under the home:
    corpus/articles.parquet   the latest version of every accepted article (ARTICLE_SCHEMA)
    corpus/versions.parquet   earlier versions of re-crawled URLs (VERSION_SCHEMA)
    rejects/<stamp>.jsonl     records an ingest run refused, with file, line, field and reason
    index/                    derived indexes (signatures, clusters, stories), rebuilt from the corpus
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from compare.core.schema import ARTICLE_META_SCHEMA, ARTICLE_SCHEMA, VERSION_SCHEMA, conform, empty_frame


class StoreLockedError(RuntimeError):
    """Another process holds the store's lock (a concurrent ingest or build)."""


class CorpusDamagedError(RuntimeError):
    """A corpus file (articles or versions) cannot be read; the message names it. Nothing is changed."""


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
    versions: int = 0  # of the added, how many replaced a stored article with the same URL (re-crawls)


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` on a temp file beside `path`, fsync it, then rename it over `path`.

    A crash at any point leaves either the old file or the new one, never a torn file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # mkstemp creates 0600; the file gets what any new file of this user gets (the umask).
        os.chmod(tmp, 0o666 & ~_current_umask())
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


def written(write: Callable[[Path], object], target: Path) -> Path:
    """`write(target)`, a polars write failing as an OSError naming the file, with the system's
    errno when polars quotes one ("File too large (os error 27)"), so every writer of the build
    reports a full disk the same way (polars raises ComputeError for it)."""
    try:
        write(target)
    except pl.exceptions.PolarsError as error:
        quoted = re.search(r"os error (\d+)", str(error))
        code = int(quoted.group(1)) if quoted else errno.EIO
        raise OSError(code, str(error).strip().splitlines()[0][:200], str(target)) from error
    return target


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temporaries(paths: Sequence[Path], *, older_than_seconds: float = 0.0) -> list[str]:
    """Delete temporary files (`.*.tmp`, as write_atomically and the embedding cache name theirs) that
    a killed write left behind; only those older than `older_than_seconds` when a live writer may own one."""
    removed = []
    now = time.time()
    for path in paths:
        try:
            if now - path.stat().st_mtime >= older_than_seconds:
                path.unlink()
                removed.append(path.name)
        except FileNotFoundError:
            continue
    return removed


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

    @property
    def embedding_cache_dir(self) -> Path:
        """Vectors by text hash, per model (compare.embed.embedder.EmbeddingCache), and the ONNX exports."""
        return self.home / "cache" / "embeddings"

    @property
    def versions_path(self) -> Path:
        return self.home / "corpus" / "versions.parquet"

    def articles(self, ids: Sequence[str] | None = None) -> pl.DataFrame:
        """ARTICLE_SCHEMA rows: all, or only those with an id in `ids` (read with a filter, so a
        report of one story does not load the whole corpus)."""
        if not self.articles_path.exists():
            return empty_frame(ARTICLE_SCHEMA)
        with _damage(self.articles_path):
            if ids is None:
                return conform(pl.read_parquet(self.articles_path), ARTICLE_SCHEMA)
            return conform(pl.scan_parquet(self.articles_path).filter(pl.col("id").is_in(list(ids))).collect(), ARTICLE_SCHEMA)

    def article_meta(self) -> pl.DataFrame:
        """ARTICLE_META_SCHEMA rows of every article (all but the text), in corpus order: what a
        build holds for the whole corpus; texts are read in chunks (ArticleTexts)."""
        if not self.articles_path.exists():
            return empty_frame(ARTICLE_META_SCHEMA)
        with _damage(self.articles_path):
            return conform(pl.scan_parquet(self.articles_path).select(list(ARTICLE_META_SCHEMA)).collect(), ARTICLE_META_SCHEMA)

    def corpus_version(self) -> str:
        """Changes whenever the corpus file is rewritten; derived indexes record it to detect staleness."""
        if not self.articles_path.exists():
            return "empty"
        stat = self.articles_path.stat()
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    def versions(self) -> pl.DataFrame:
        """Superseded versions of re-crawled articles (VERSION_SCHEMA), oldest first."""
        if not self.versions_path.exists():
            return empty_frame(VERSION_SCHEMA)
        with _damage(self.versions_path):
            return conform(pl.read_parquet(self.versions_path), VERSION_SCHEMA)

    def superseded_ids(self) -> dict[str, str]:
        """Each superseded article id -> the id of the latest version of its URL (chains resolved)."""
        if not self.versions_path.exists():
            return {}
        pairs = dict(self.versions().select("id", "superseded_by").iter_rows())
        latest = {}
        for old in pairs:
            new, seen = pairs[old], {old}
            while new in pairs and new not in seen:
                seen.add(new)
                new = pairs[new]
            latest[old] = new
        return latest

    def add_articles(self, incoming: pl.DataFrame) -> AddResult:
        """Append articles whose id is not stored yet; the rewrite is atomic and under the store lock.

        An article whose URL is already stored with other content is a new version: it replaces the
        stored row in the corpus, and the old row moves to corpus/versions.parquet (history). An id
        seen before, current or superseded, is a duplicate, so re-ingesting an old crawl changes nothing.
        """
        incoming = conform(incoming, ARTICLE_SCHEMA).unique(subset="id", keep="first", maintain_order=True)
        with self.lock():
            # Under the lock no other corpus write is in flight: any temporary file here is a killed one's.
            remove_stale_temporaries(list(self.articles_path.parent.glob(".*.tmp")))
            existing = self.articles()
            previous_versions = self.versions()
            known = pl.concat([existing.select("id"), previous_versions.select("id")])
            new = incoming.join(known, on="id", how="anti")
            duplicates = incoming.height - new.height
            if not new.height:
                return AddResult(added=0, duplicates=duplicates)
            latest = (
                new.filter(pl.col("url").is_not_null() & (pl.col("url") != ""))
                .group_by("url", maintain_order=True)
                .agg(pl.col("id").last().alias("superseded_by"))
            )
            now = datetime.now(timezone.utc)
            replaced = pl.concat([existing, new]).join(latest, on="url").filter(pl.col("id") != pl.col("superseded_by"))
            replaced = replaced.with_columns(pl.lit(now).cast(VERSION_SCHEMA["superseded_at"]).alias("superseded_at"))
            recrawled = existing.join(latest, on="url", how="semi").height
            if replaced.height:
                versions = pl.concat([previous_versions, conform(replaced, VERSION_SCHEMA)]).unique("id", keep="first", maintain_order=True)
                # History first: a crash before the corpus rewrite leaves the old corpus, never lost history.
                write_atomically(self.versions_path, lambda tmp: versions.write_parquet(tmp))
            combined = pl.concat([existing, new], how="vertical").join(replaced.select("id"), on="id", how="anti")
            write_atomically(self.articles_path, lambda tmp: combined.write_parquet(tmp))
        return AddResult(added=new.height, duplicates=duplicates, versions=recrawled)

    def write_rejects(self, rejects: Sequence[Reject]) -> Path | None:
        if not rejects:
            return None
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.rejects_dir / f"ingest-{stamp}.jsonl"
        lines = "".join(json.dumps(asdict(reject), ensure_ascii=False) + "\n" for reject in rejects)
        write_atomically(path, lambda tmp: tmp.write_text(lines, encoding="utf-8"))
        return path

    def lock(self, *, wait: bool = True) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock on the home; with wait=False a held lock raises StoreLockedError at once."""
        return file_lock(self.home / ".lock", wait=wait, busy=lambda: StoreLockedError(f"{self.home} is locked by another compare process"))


@contextlib.contextmanager
def _damage(path: Path) -> Iterator[None]:
    """A truncated or foreign file is a CorpusDamagedError naming it, not a traceback."""
    try:
        yield
    except (pl.exceptions.PolarsError, ValueError, OSError) as error:
        if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM):
            raise
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise CorpusDamagedError(f"{path}: unreadable corpus file ({first}); restore it from a backup or ingest again into a new home") from error


@contextlib.contextmanager
def file_lock(path: Path, *, wait: bool, busy: Callable[[], Exception]) -> Iterator[None]:
    """flock on `path`; the kernel releases it when the process dies, even by kill -9.

    With wait=False a held lock raises `busy()` at once instead of blocking.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise busy() from error
            raise
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class ArticleTexts(Sequence[str]):
    """The corpus's texts in row order, read from its Parquet file a chunk of rows at a time.

    At about 6 KB of text an article a corpus of a million is 6 GB: a build holds the other columns
    (ARTICLE_META_SCHEMA) and reads texts where a stage needs them, in runs of `chunk_rows` (slices of
    a few thousand rows read at the speed of one whole read; slices of 256 cost 8x more). The last
    chunk read is kept, so walking the rows in order reads each chunk once. `pin` (a build's scratch
    folder) hard-links the file there first (or copies it), so an ingest that replaces the corpus
    file during a long build cannot shift the rows under it.
    """

    def __init__(self, path: Path, rows: int, *, pin: Path | None = None, chunk_rows: int = 8192) -> None:
        if pin is not None and rows:
            pinned = pin / "articles.parquet"
            try:
                os.link(path, pinned)
            except OSError:
                shutil.copyfile(path, pinned)
            path = pinned
        self.path, self.rows, self.chunk_rows = path, rows, chunk_rows
        self._chunk: tuple[int, list[str]] = (-1, [])

    def __len__(self) -> int:
        return self.rows

    def _read(self, chunk: int) -> list[str]:
        if self._chunk[0] != chunk:
            with _damage(self.path):
                texts = pl.scan_parquet(self.path).select("text").slice(chunk * self.chunk_rows, self.chunk_rows).collect()["text"]
            self._chunk = (chunk, texts.fill_null("").to_list())
        return self._chunk[1]

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - int -> str, slice -> list[str] (Sequence's overloads)
        if isinstance(index, slice):
            return self.take(range(*index.indices(self.rows)))
        if index < 0:
            index += self.rows
        if not 0 <= index < self.rows:
            raise IndexError(index)
        return self._read(index // self.chunk_rows)[index % self.chunk_rows]

    def take(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        """The texts of `rows` (any order), each chunk read once."""
        wanted = np.asarray(rows, dtype=np.int64)
        found: list[str] = [""] * wanted.size
        order = np.argsort(wanted // self.chunk_rows, kind="stable")
        for at in order.tolist():
            found[at] = self[int(wanted[at])]
        return found
