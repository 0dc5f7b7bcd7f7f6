"""When two articles are close enough in time to be compared: one rule for wire copy, stories and
document similarity.

Undated articles pair with every article (a missing date is no evidence of distance), and a window
of 0 days or less is no window at all (the whole corpus pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import polars as pl

SECONDS_PER_DAY = 86400.0


def timestamps(published: Sequence[datetime | None] | pl.Series) -> np.ndarray:
    """POSIX seconds of each date, NaN where undated (a date column: column_timestamps)."""
    if isinstance(published, pl.Series):
        return column_timestamps(published)
    return np.array([p.timestamp() if p is not None else np.nan for p in published], dtype=np.float64)


def column_timestamps(column: pl.Series) -> np.ndarray:
    """timestamps() of a date column without a Python datetime per row (a build's million articles
    held 56 MB of them); a column of nulls only (no dtype) is all NaN."""
    if not isinstance(column.dtype, pl.Datetime):
        if column.null_count() == column.len():
            return np.full(column.len(), np.nan)
        raise TypeError(f"{column.name}: a date column is needed, not {column.dtype}")
    return (column.dt.epoch("us").cast(pl.Float64) / 1e6).fill_null(np.nan).to_numpy()


def within(gaps_seconds: np.ndarray, days: float) -> np.ndarray:
    """Which absolute gaps (seconds; NaN when either side is undated) fall inside a `days` window."""
    if days <= 0:
        return np.ones(np.shape(gaps_seconds), dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.isnan(gaps_seconds) | (gaps_seconds <= days * SECONDS_PER_DAY)


def within_window(left: datetime | None, right: datetime | None, days: float) -> bool:
    """One pair of dates under the rule above."""
    if left is None or right is None or days <= 0:
        return True
    return abs((left - right).total_seconds()) <= days * SECONDS_PER_DAY
