"""The build's claims, claim vectors and facts on disk, not in memory.

A corpus has about 40 claims an article (AllSides); held as one frame they were the build's largest
object (about 10 KB an article, and 48 KB at the claims stage's peak, from Python tuples). The claims
stage now writes them as Parquet parts in a scratch folder, one part per batch of articles, and the
later stages read what they need from the parts: the claims of multi-outlet stories, the counts per
article, the snapshot's claims file (copied part by part). The scratch folder lives next to the
snapshots (`.scratch-*`), is removed when the build ends, and by the next build after a crash.

Claim vectors (1.5 KB a claim, about 18 KB an article of a multi-outlet story) go the same way: the
claim-vector stage appends them to a `.npy` file there (VectorWriter), the facts stage reads the rows
of one wave of stories at a time (VectorFile.take), and the snapshot gets the file as it is. The facts
documents (16-25 KB a story) are written a wave at a time as parts too (FactParts).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from compare.core.schema import conform
from compare.core.store import written
from compare.index.snapshot import FACTS_SCHEMA, STORED_CLAIM_SCHEMA

SCRATCH_PREFIX = ".scratch-"


@contextlib.contextmanager
def scratch_folder(parent: Path) -> Iterator[Path]:
    """A fresh folder under `parent` for one build's spooled files, removed when the build ends."""
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class ClaimTable:
    """STORED_CLAIM_SCHEMA rows in Parquet parts: each article's claims together, by position; a full
    build's in corpus order. `counts` is claims per article (article_id, claims), made as the parts
    were written, so the snapshot's refs need no pass over the claims."""

    parts: tuple[Path, ...]
    height: int
    counts: pl.DataFrame
    vector_rows: int = 0  # claims with a `vector_row` (the rows of the claim-vector file), set by with_vector_rows

    def lazy(self) -> pl.LazyFrame:
        if not self.parts:
            return pl.LazyFrame(schema=STORED_CLAIM_SCHEMA)
        return pl.scan_parquet(list(self.parts), schema=STORED_CLAIM_SCHEMA)

    def of_articles(self, article_ids: Sequence[str] | set[str]) -> pl.DataFrame:
        """The claims of `article_ids` in stored order (read with a filter: only they are held)."""
        wanted = pl.Series("wanted", list(article_ids), dtype=pl.String)
        return conform(self.lazy().filter(pl.col("article_id").is_in(wanted.implode())).collect(), STORED_CLAIM_SCHEMA)

    def collect(self) -> pl.DataFrame:
        """Every claim in memory: for tests and small corpora only."""
        return conform(self.lazy().collect(), STORED_CLAIM_SCHEMA)

    def write(self, path: Path) -> None:
        """The snapshot's claims file, streamed from the parts."""
        written(self.lazy().sink_parquet, path)

    def texts_to_embed(self) -> Iterator[list[str]]:
        """The texts of the claims with a `vector_row`, in vector-row order, a part at a time."""
        for part in self.parts:
            frame = pl.scan_parquet(part).filter(pl.col("vector_row").is_not_null()).select("text").collect()
            if frame.height:
                yield frame["text"].to_list()

    def with_vector_rows(self, article_ids: set[str], folder: Path) -> ClaimTable:
        """The same claims with `vector_row` numbering, in stored order, the claims of `article_ids`
        (the rows of the claim-vector matrix); the others null. Rewritten part by part into `folder`."""
        wanted = pl.Series("wanted", list(article_ids), dtype=pl.String)
        parts, offset = [], 0
        for number, part in enumerate(self.parts):
            frame = pl.read_parquet(part)
            chosen = frame["article_id"].is_in(wanted.implode())
            rows = (chosen.cast(pl.Int32).cum_sum() - 1 + offset).cast(pl.Int32)
            frame = frame.with_columns(pl.when(chosen).then(rows).otherwise(None).cast(pl.Int32).alias("vector_row"))
            offset += int(chosen.sum())
            parts.append(written(frame.write_parquet, folder / f"claims-vectors-{number:05d}.parquet"))
        return ClaimTable(tuple(parts), self.height, self.counts, offset)


class ClaimWriter:
    """Writes claim frames (CLAIM_SCHEMA) as parts of a ClaimTable in `folder`, counting as it goes."""

    def __init__(self, folder: Path, name: str = "claims") -> None:
        self.folder, self.name = folder, name
        self.parts: list[Path] = []
        self.counts: list[pl.DataFrame] = []
        self.height = 0

    def add(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        stored = frame.with_columns(pl.lit(None, dtype=pl.Int32).alias("vector_row")) if "vector_row" not in frame.columns else frame
        target = self.folder / f"{self.name}-{len(self.parts):05d}.parquet"
        written(conform(stored, STORED_CLAIM_SCHEMA).write_parquet, target)
        self.parts.append(target)
        self.height += frame.height
        self.counts.append(frame.group_by("article_id", maintain_order=True).agg(pl.len().cast(pl.Int32).alias("claims")))

    def add_lazy(self, frame: pl.LazyFrame) -> None:
        """Claims straight from another file (the previous snapshot's), streamed to a part."""
        target = self.folder / f"{self.name}-{len(self.parts):05d}.parquet"
        written(frame.with_columns(pl.lit(None, dtype=pl.Int32).alias("vector_row")).select(list(STORED_CLAIM_SCHEMA)).sink_parquet, target)
        counts = pl.scan_parquet(target).group_by("article_id", maintain_order=True).agg(pl.len().cast(pl.Int32).alias("claims")).collect()
        if not counts.height:
            target.unlink()
            return
        self.parts.append(target)
        self.height += int(counts["claims"].sum())
        self.counts.append(counts)

    def table(self) -> ClaimTable:
        counts = pl.concat(self.counts) if self.counts else pl.DataFrame(schema={"article_id": pl.String, "claims": pl.Int32})
        return ClaimTable(tuple(self.parts), self.height, counts)


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """An OSError of a plain file write, with the file named (a full disk reads "disk full: <file>")."""
    try:
        yield
    except OSError as error:
        if error.filename:
            raise
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error


@dataclass(frozen=True)
class VectorFile:
    """float32 rows in a `.npy` file: read a few rows at a time (`take`), never mapped whole, and
    handed to the snapshot as the file it is (`write`)."""

    path: Path
    rows: int
    dimension: int

    def take(self, rows: np.ndarray) -> np.ndarray:
        """A copy of these rows; the mapping is dropped after, so the pages read leave this process."""
        if not len(rows):
            return np.zeros((0, self.dimension), dtype=np.float32)
        mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        try:
            return np.array(mapped[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
        finally:
            del mapped

    def write(self, path: Path) -> None:
        """The snapshot's copy: a hard link when both are on one file system (the scratch folder sits
        beside the snapshots), else a copy."""
        try:
            os.link(self.path, path)
        except OSError:
            with _naming(path):
                shutil.copyfile(self.path, path)


class VectorWriter:
    """Appends float32 blocks to a `.npy` file of `rows` rows, its header written with the first
    block (the dimension is known then); what is appended is on disk, not held."""

    def __init__(self, path: Path, rows: int) -> None:
        self.path, self.rows, self.done, self.dimension = path, rows, 0, 0
        self._handle = None

    def _open(self, dimension: int) -> None:
        self.dimension = dimension
        self._handle = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        with _naming(self.path):
            np.lib.format.write_array_header_1_0(self._handle, {"descr": "<f4", "fortran_order": False, "shape": (self.rows, dimension)})

    def add(self, block: np.ndarray) -> None:
        if self._handle is None:
            self._open(block.shape[1] if block.ndim == 2 else 0)
        if self.done + len(block) > self.rows or (len(block) and block.shape[1] != self.dimension):
            raise ValueError(f"{self.path}: a block of shape {block.shape} does not fit {self.rows} rows of {self.dimension} ({self.done} written)")
        with _naming(self.path):
            self._handle.write(np.ascontiguousarray(block, dtype="<f4").tobytes())  # type: ignore[union-attr]
        self.done += len(block)

    def close(self) -> VectorFile:
        """The finished file (a header of 0 columns when no block was added)."""
        if self._handle is None:
            self._open(0)
        handle, self._handle = self._handle, None
        with _naming(self.path):
            handle.close()  # type: ignore[union-attr]
        if self.done != self.rows:
            raise ValueError(f"{self.path}: {self.done} rows written, {self.rows} announced")
        return VectorFile(self.path, self.rows, self.dimension)


@dataclass(frozen=True)
class FactParts:
    """FACTS_SCHEMA rows in Parquet parts (one per wave of stories), written to the snapshot streamed."""

    parts: tuple[Path, ...]
    height: int

    def lazy(self) -> pl.LazyFrame:
        if not self.parts:
            return pl.LazyFrame(schema=FACTS_SCHEMA)
        return pl.scan_parquet(list(self.parts), schema=FACTS_SCHEMA)

    def write(self, path: Path) -> None:
        written(self.lazy().sink_parquet, path)
