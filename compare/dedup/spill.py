"""Rows keyed by a 64-bit hash, gathered batch by batch and read back one slice of the key space at a time.

Why: wire copy counts page-template shingles and groups passage band keys over the whole corpus, about
one row per word; holding them all grew with the corpus (24 bytes a word, 124 KB an article). Here at
most `spill_rows` rows are held; past that they are appended to one file per bucket of the key space
(the key's top bits) in a folder the caller gives, so a slice reads its own buckets' files and
nothing else. Every row of a key falls in the same slice, so a group-by run slice by slice gives the
exact answer of one run over all rows.

Bucket files, not one sorted Parquet file per spill: with a file per spill every slice opened every
file (files x slices grow as N^2: about 7 ms a file and slice, some 300 s at a million articles).
The files hold the rows as packed records (numpy, no compression: the keys are hashes), written by
append and read whole; they live only as long as the pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

# A key's slice is chosen by its top FINE_BITS bits (keys are hashes, so slices are about even); a
# spill appends to one file per such bucket.
FINE_BITS = 12
_FINE_PARTS = 1 << FINE_BITS
_SHIFT = np.uint64(64 - FINE_BITS)


def _fine_part(keys: np.ndarray) -> np.ndarray:
    return (keys >> _SHIFT).astype(np.uint16)


class KeyRows:
    """Frames with a uint64 "key" column (and the same numeric columns each time), added in any number
    of batches; `slices` yields them again grouped so that all rows of a key are in one yielded frame,
    at most about `partition_rows` each.

    `folder` is called once, on the first spill, for the directory to write to (the caller owns and
    removes it); with no spill nothing touches the disk.
    """

    def __init__(self, folder: Callable[[], Path], *, spill_rows: int) -> None:
        self._folder = folder
        self._spill_rows = spill_rows
        self._frames: list[pl.DataFrame] = []
        self._held = 0
        self._records: np.dtype | None = None  # the packed record of a row, fixed by the first frame
        self._bucket_rows = np.zeros(_FINE_PARTS, dtype=np.int64)  # rows spilled to each bucket's file
        self._spills = 0
        self.rows = 0  # rows added in all

    @property
    def spilled(self) -> int:
        """Spills so far (each appended to the bucket files)."""
        return self._spills

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        if self._records is None:
            self._records = np.dtype([(name, frame[name].to_numpy().dtype) for name in frame.columns])
        self._frames.append(frame)
        self._held += frame.height
        self.rows += frame.height
        if self._held > self._spill_rows:
            self._spill()

    def _path(self, bucket: int) -> Path:
        return self._folder() / f"keys-{id(self):x}-{bucket:04d}.bin"  # folders may be shared

    def _spill(self) -> None:
        # packed straight from the held frames, written bucket by bucket through the sort order: no
        # concatenated frame nor sorted copy of the rows beside them
        records = np.empty(self._held, dtype=self._records)
        at = 0
        for frame in self._frames:
            for name in frame.columns:
                records[name][at : at + frame.height] = frame[name].to_numpy()
            at += frame.height
        self._frames, self._held = [], 0
        part = _fine_part(records["key"])
        order = np.argsort(part, kind="stable")  # a radix sort of uint16
        bounds = np.searchsorted(part[order], np.arange(_FINE_PARTS + 1))
        for bucket in np.flatnonzero(np.diff(bounds)).tolist():
            with open(self._path(bucket), "ab") as handle:
                records[order[bounds[bucket] : bounds[bucket + 1]]].tofile(handle)
        self._bucket_rows += np.diff(bounds)
        self._spills += 1

    def discard(self) -> None:
        """Drop the rows held and delete the files written (the folder stays the caller's)."""
        self._frames, self._held = [], 0
        if self._spills:
            for bucket in np.flatnonzero(self._bucket_rows).tolist():
                self._path(bucket).unlink(missing_ok=True)
        self._bucket_rows[:] = 0
        self._spills = 0
        self.rows = 0

    def _read(self, low: int, high: int) -> pl.DataFrame:
        """The spilled rows of buckets low..high-1, as a frame of the added frames' columns and types."""
        parts = [np.fromfile(self._path(bucket), dtype=self._records) for bucket in range(low, high) if self._bucket_rows[bucket]]
        records = np.concatenate(parts) if parts else np.empty(0, dtype=self._records)
        return pl.DataFrame({name: records[name] for name in records.dtype.names})

    def slices(self, partition_rows: int) -> Iterator[pl.DataFrame]:
        """The rows again, one slice of the key space at a time (rows of a key never split)."""
        if self.rows == 0:
            return
        if self._spills and self._frames:
            self._spill()  # then every slice reads from files alone
        parts = min(_FINE_PARTS, max(1, -(-self.rows // max(1, partition_rows))))
        if parts == 1 and not self._spills:
            yield pl.concat(self._frames)
            return
        fine = [_fine_part(frame["key"].to_numpy()) for frame in self._frames]
        for part in range(parts):
            low, high = part * _FINE_PARTS // parts, (part + 1) * _FINE_PARTS // parts
            if self._spills:
                yield self._read(low, high)
            else:
                yield pl.concat([frame.filter(pl.Series((f >= low) & (f < high))) for frame, f in zip(self._frames, fine, strict=True)])
