"""Listing tables (stories, wire-copy clusters, snapshots...) that never hide an id.

The next command a user types needs the id a listing shows, so ids, dates and numbers are always
printed whole; at a narrow width the free text (titles, outlet lists) is truncated with "…" instead.
Every row is one line, so a listing stays greppable and `awk`-able in a pipe, where nothing is
truncated at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import polars as pl
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from compare.core.untrusted import visible

# Free-text columns never get narrower than this while ids are kept whole.
MIN_TEXT_WIDTH = 8
# Each column costs its padding and one border: "│ " + cell + " ", plus the table's closing "│".
_COLUMN_COST = 3

_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d")  # the second when the first leaves no room for text


def _is_whole(name: str, dtype: pl.DataType) -> bool:
    """Ids (`id`, `*_id`, snapshot `name`), dates and numbers are shown whole; strings and lists may be cut."""
    if name in ("id", "name") or name.endswith("_id"):
        return True
    return not (dtype == pl.String or isinstance(dtype, pl.List))


def _cell(value: object, time_format: str) -> str:
    """The cell as printed: crawled text with its control characters shown as escapes (untrusted.visible)."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.strftime(time_format)
    if isinstance(value, (list, tuple)):
        return visible("; ".join(str(item) for item in value))
    return visible(str(value))


def listing_table(frame: pl.DataFrame, title: str, width: int | None) -> tuple[Table, int]:
    """A one-line-per-row table of `frame` for a terminal `width` columns wide (None: unlimited, a pipe).

    Returns the table and the width to print it at: `width`, or more when even the whole columns
    with minimal text columns do not fit (then the terminal wraps the lines, but no id is cut).
    """
    whole = [_is_whole(name, dtype) for name, dtype in frame.schema.items()]
    for time_format in _TIME_FORMATS:
        rows = [[_cell(value, time_format) for value in row] for row in frame.iter_rows()]
        widths = _fit(frame.columns, whole, rows, width)
        texts = [w for w, keep in zip(widths, whole, strict=True) if not keep]
        if width is None or all(w >= 2 * MIN_TEXT_WIDTH for w in texts):
            break
    table = Table(title=Text(visible(title)))
    for name, keep, column_width in zip(frame.columns, whole, widths, strict=True):
        # A whole column narrower than its name wraps the name at "_" (shown as a space), never the values.
        header = name if column_width >= len(name) or not keep else name.replace("_", " ")
        table.add_column(header, width=column_width, no_wrap=not keep, overflow="ellipsis")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: a title's "[red]" is text, not rich markup
    needed = sum(widths) + _COLUMN_COST * len(widths) + 1
    return table, needed if width is None else max(needed, width)


def _fit(columns: Sequence[str], whole: Sequence[bool], rows: Sequence[Sequence[str]], width: int | None) -> list[int]:
    """Column widths: whole columns at their longest value (and header, while it fits), text columns
    sharing what is left, each at least MIN_TEXT_WIDTH."""
    data = [max([1, *(cell_len(row[i]) for row in rows)]) for i in range(len(columns))]  # terminal cells, not characters
    widths = [max(data[i], len(name)) for i, name in enumerate(columns)]
    if width is None:
        return widths
    budget = width - _COLUMN_COST * len(columns) - 1
    # Headers of whole columns give way first (wrapping at "_"), down to their longest word.
    for i, keep in enumerate(whole):
        if keep and sum(widths) > budget:
            widths[i] = max(data[i], *(len(word) for word in columns[i].split("_")))
    texts = [i for i, keep in enumerate(whole) if not keep]
    if sum(widths) <= budget or not texts:
        return widths
    # Max-min fair shares: a column that needs less than an equal share (an outlet name) is shown
    # whole, and the long ones (titles, outlet lists) split the rest.
    room = budget - sum(widths[i] for i, keep in enumerate(whole) if keep)
    pending = sorted(texts, key=lambda i: widths[i])
    for position, i in enumerate(pending):
        share = room // (len(pending) - position)
        widths[i] = max(MIN_TEXT_WIDTH, min(widths[i], share))
        room -= widths[i]
    return widths
