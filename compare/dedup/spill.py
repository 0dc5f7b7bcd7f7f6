"""Rows keyed by a 64-bit hash, gathered batch by batch and read back one slice of the key space at a time.

Why: wire copy counts page-template shingles and groups passage band keys over the whole corpus, about
one row per word; holding them all grew with the corpus (24 bytes a word, 124 KB an article). Here at
most `spill_rows` rows are held; past that they go to Parquet files in a folder the caller gives, each
sorted by the key's top bits so a slice reads only its own row groups. Every row of a key falls in the
same slice, so a group-by run slice by slice gives the exact answer of one run over all rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

from compare.core.store import written

# A key's slice is chosen by its top FINE_BITS bits (keys are hashes, so slices are about even).
FINE_BITS = 12
_FINE_PARTS = 1 << FINE_BITS
_SHIFT = np.uint64(64 - FINE_BITS)
# A spill file is cut into about _ROW_GROUPS row groups (at least ROW_GROUP_ROWS rows each): a slice
# reads only the groups whose part range meets its own, so at 1M articles (~500 slices) it reads
# about twice the rows it needs, not the whole file.
ROW_GROUP_ROWS = 8_192
_ROW_GROUPS = 512


def _fine_part(keys: pl.Series) -> np.ndarray:
    return (keys.to_numpy() >> _SHIFT).astype(np.uint16)


class KeyRows:
    """Frames with a uint64 "key" column, added in any number of batches; `slices` yields them again
    grouped so that all rows of a key are in one yielded frame, at most about `partition_rows` each.

    `folder` is called once, on the first spill, for the directory to write to (the caller owns and
    removes it); with no spill nothing touches the disk.
    """

    def __init__(self, folder: Callable[[], Path], *, spill_rows: int) -> None:
        self._folder = folder
        self._spill_rows = spill_rows
        self._frames: list[pl.DataFrame] = []
        self._held = 0
        self._files: list[Path] = []
        self.rows = 0  # rows added in all

    @property
    def spilled(self) -> int:
        """Parquet files written so far."""
        return len(self._files)

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        self._frames.append(frame)
        self._held += frame.height
        self.rows += frame.height
        if self._held > self._spill_rows:
            self._spill()

    def _spill(self) -> None:
        frame = pl.concat(self._frames, rechunk=True)
        self._frames, self._held = [], 0
        part = _fine_part(frame["key"])
        order = np.argsort(part, kind="stable")  # a radix sort of uint16: a third less CPU than frame.sort here
        frame = frame.with_columns(pl.Series("part", part))[order]
        path = self._folder() / f"keys-{id(self):x}-{len(self._files):06d}.parquet"  # folders may be shared
        rows_per_group = max(ROW_GROUP_ROWS, frame.height // _ROW_GROUPS)
        written(lambda target: frame.write_parquet(target, compression="lz4", row_group_size=rows_per_group, statistics=True), path)
        self._files.append(path)

    def discard(self) -> None:
        """Drop the rows held and delete the files written (the folder stays the caller's)."""
        self._frames, self._held = [], 0
        for path in self._files:
            path.unlink(missing_ok=True)
        self._files = []
        self.rows = 0

    def slices(self, partition_rows: int) -> Iterator[pl.DataFrame]:
        """The rows again, one slice of the key space at a time (rows of a key never split)."""
        if self.rows == 0:
            return
        if self._files and self._frames:
            self._spill()  # then every slice reads from files alone
        parts = min(_FINE_PARTS, max(1, -(-self.rows // max(1, partition_rows))))
        if parts == 1:
            yield pl.concat(self._frames) if self._frames else pl.read_parquet(self._files).drop("part")
            return
        fine = [_fine_part(frame["key"]) for frame in self._frames]
        for part in range(parts):
            low, high = part * _FINE_PARTS // parts, (part + 1) * _FINE_PARTS // parts
            if self._files:
                yield pl.scan_parquet(self._files).filter(pl.col("part").is_between(low, high - 1)).drop("part").collect()
            else:
                yield pl.concat([frame.filter(pl.Series((f >= low) & (f < high))) for frame, f in zip(self._frames, fine, strict=True)])
