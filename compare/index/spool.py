"""The build's claims on disk, not in memory.

A corpus has about 40 claims an article (AllSides); held as one frame they were the build's largest
object (about 10 KB an article, and 48 KB at the claims stage's peak, from Python tuples). The claims
stage now writes them as Parquet parts in a scratch folder, one part per batch of articles, and the
later stages read what they need from the parts: the claims of multi-outlet stories, the counts per
article, the snapshot's claims file (copied part by part). The scratch folder lives next to the
snapshots (`.scratch-*`), is removed when the build ends, and by the next build after a crash.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from compare.core.schema import conform
from compare.core.store import written
from compare.index.snapshot import STORED_CLAIM_SCHEMA

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
        return ClaimTable(tuple(parts), self.height, self.counts)


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
