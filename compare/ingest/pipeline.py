"""Read articles from JSONL, CSV/TSV, Parquet, saved HTML pages and RSS/Atom feeds into ARTICLE_SCHEMA.

A bad record never aborts a file: every line that is not valid UTF-8 or JSON, every record without an
outlet or text, every unparseable date becomes a `Reject(file, line, field, reason)` and the rest of the
file is still read. Whole-file problems (binary data, an unsupported type, a truncated gzip) are one
Reject each. Ids are content hashes, so ingesting the same file twice adds nothing the second time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from compare.core.schema import ARTICLE_SCHEMA
from compare.core.store import Reject, Store
from compare.ingest.readers import expand_paths, first_line_of, read_csv_file, read_file, read_json_file, read_jsonl_file, read_jsonl_gz_file, read_tsv_file, reader_for
from compare.ingest.records import candidate_columns, checked_article_row, RecordProblem, quote_value, RawRecord


_PROGRESS_EVERY = 1000

# A file with this many bad records is garbage, not a file with a few bad records: the rest of it is
# one reject, so a flood of bad lines cannot fill memory with rejects.
_MAX_REJECTS_PER_FILE = 10_000


@dataclass(frozen=True)
class IngestBatch:
    """What one read of the input produced, before anything touches the store."""

    articles: pl.DataFrame  # exactly ARTICLE_SCHEMA, deduplicated by id
    rejects: list[Reject]
    records_read: int  # records seen, accepted or not (whole-file rejects are not records)
    duplicates: int = 0  # records dropped because an earlier record in the input had the same id
    files_read: int = 0  # files found under the paths (an empty folder: 0)
    hints: tuple[str, ...] = ()  # per file of which no record was usable: its likely cause and fix (file_hint)


@dataclass(frozen=True)
class IngestSummary:
    accepted: int  # newly added to the store
    duplicates: int  # already in the store or repeated in the input
    rejected: int
    rejects_path: Path | None
    rejects: list[Reject]  # so the CLI can print the first few one-line errors
    versions: int = 0  # of the accepted, new versions of URLs already stored (re-crawls; see Store.add_articles)
    records_read: int = 0  # records seen in the input, accepted or not: 0 for an empty file or folder
    files_read: int = 0
    hints: tuple[str, ...] = ()  # likely causes of whole files failing, one line each (IngestBatch.hints)


@dataclass(frozen=True)
class RejectGroup:
    """Rejects with one cause, so 3,000 records failing alike are one line with a count, not 3,000."""

    cause: str  # the reason without what differs per line (column numbers, quoted values)
    count: int
    records: bool  # False when every reject of the group is a whole file (unsupported type, binary data)

    def one_line(self) -> str:
        noun = ("record" if self.records else "file") + ("" if self.count == 1 else "s")
        return f"{self.count:,} {noun}: {self.cause}"


def read_paths(
    paths: Sequence[Path],
    field_map: Mapping[str, str] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
) -> IngestBatch:
    """Read every file under `paths` (directories walked recursively, sorted) into one batch.

    `progress` is called with the number of records read so far (cumulative, not an increment),
    every 1,000 records and once at the end. `limit` stops after that many records in total.
    """
    field_map = dict(field_map or {})
    columns = candidate_columns(field_map)
    rows = _ArticleRows(ingested_at=datetime.now(timezone.utc))
    rejects: list[Reject] = []
    records_read = 0
    hints: list[str] = []
    files_read = 0
    for path in expand_paths(paths):
        if limit is not None and records_read >= limit:
            break
        files_read += 1
        file = str(path)
        file_rejects = 0
        usable = 0
        first: RawRecord | None = None
        for item in read_file(path):
            if isinstance(item, RawRecord):
                first = first or item
                item = rows.add(checked_article_row(item, columns, field_map), file)
                usable += item is None
            if item is not None:
                rejects.append(Reject(file, item.line, item.field, item.reason))
                if not item.is_record:
                    continue
                file_rejects += 1
                if file_rejects >= _MAX_REJECTS_PER_FILE:
                    records_read += 1
                    reason = f"{file_rejects} bad records: not a usable file; lines after {item.line or '?'} not read"
                    rejects.append(Reject(file, None, None, reason))
                    break
            records_read += 1
            if progress is not None and records_read % _PROGRESS_EVERY == 0:
                progress(records_read)
            if limit is not None and records_read >= limit:
                break
        if file_rejects and not usable and (hint := file_hint(path, first, field_map)):
            hints.append(hint)
    if progress is not None:
        progress(records_read)
    return IngestBatch(
        articles=rows.frame(), rejects=rejects, records_read=records_read, duplicates=rows.duplicates,
        files_read=files_read, hints=tuple(hints),
    )


class _ArticleRows:
    """Column lists for the batch frame; drops a row whose id an earlier row already had."""

    def __init__(self, ingested_at: datetime) -> None:
        self.ingested_at = ingested_at
        self.columns: dict[str, list[object]] = {name: [] for name in ARTICLE_SCHEMA}
        self.seen: set[object] = set()
        self.duplicates = 0

    def add(self, row: dict[str, object] | RecordProblem, file: str) -> RecordProblem | None:
        """Keep `row`; a RecordProblem is handed back so the caller records it as a reject."""
        if isinstance(row, RecordProblem):
            return row
        if row["id"] in self.seen:
            self.duplicates += 1
            return None
        self.seen.add(row["id"])
        row["source_file"] = file
        row["ingested_at"] = self.ingested_at
        for name, value in row.items():
            self.columns[name].append(value)
        return None

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.columns, schema=ARTICLE_SCHEMA)


def ingest(
    store: Store,
    paths: Sequence[Path],
    field_map: Mapping[str, str] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Read `paths`, add the new articles to `store` and write the rejects file (if any)."""
    batch = read_paths(paths, field_map, progress=progress)
    added = store.add_articles(batch.articles)
    rejects_path = store.write_rejects(batch.rejects)
    return IngestSummary(
        accepted=added.added,
        duplicates=added.duplicates + batch.duplicates,
        rejected=len(batch.rejects),
        rejects_path=rejects_path,
        rejects=batch.rejects,
        versions=added.versions,
        records_read=batch.records_read,
        files_read=batch.files_read,
        hints=batch.hints,
    )


def summarise_rejects(rejects: Sequence[Reject]) -> list[RejectGroup]:
    """Rejects grouped by cause, most frequent first (first seen first among equals).

    The cause drops what differs per record: "(column 12)", a quoted date, a field count, so a wrong
    --map or a file in another format is one group whatever its size.
    """
    causes: dict[str, str] = {}  # key (numbers as N) -> the cause as first seen
    counts: dict[str, int] = {}
    records: dict[str, bool] = {}
    for reject in rejects:
        cause = _cause(reject)
        key = re.sub(r"\d+", "N", cause)
        causes.setdefault(key, cause)
        counts[key] = counts.get(key, 0) + 1
        records[key] = records.get(key, False) or reject.line is not None or reject.field is not None
    ordered = sorted(causes, key=lambda key: -counts[key])  # stable: first seen first among equals
    return [RejectGroup(cause=causes[key], count=counts[key], records=records[key]) for key in ordered]


def _cause(reject: Reject) -> str:
    field, reason = reject.field, reject.reason
    if field and reason.startswith("missing or empty"):
        mapped = re.search(r"mapped from column ('.*')\)$", reason)
        if mapped:
            return f"field '{field}' missing (mapped from column {mapped[1]}) - check the column name with --map {field}=COLUMN"
        return f"field '{field}' missing - map it with --map {field}=COLUMN"
    if reason.startswith("unparseable date"):
        reason = "unparseable date"
    reason = re.sub(r"row has \d+ fields but the header has (\d+)", r"row has more fields than the header's \1", reason)
    # "(column 12)", "(byte 0x80 at byte 3 of the line)", "(record starting at physical line 40)"
    reason = re.sub(r"\s*\([^()]*\d[^()]*\)", "", reason)
    return f"field '{field}': {reason}" if field else reason


def file_hint(path: Path, first: RawRecord | None, field_map: Mapping[str, str]) -> str | None:
    """The likely cause when no record of `path` was usable, as one line naming the file and the fix:
    CSV in a JSON-lines file, a ';'- or tab-separated CSV read with ',', or columns named otherwise
    than the fields (with the file's own column names). None when nothing points to a cause."""
    head = first_line_of(path)
    reader = reader_for(path)
    if reader in (read_jsonl_file, read_jsonl_gz_file, read_json_file) and head and not head.lstrip().startswith(("{", "[")):
        separator = next((sep for sep in ("\t", ",", ";") if sep in head), None)
        if separator is not None:
            kind, suffix = ("TSV", ".tsv") if separator == "\t" else ("CSV", ".csv")
            fix = f"rename it {suffix}" if separator != ";" else "save it as ','-separated .csv"
            return f"{path}: looks like {kind} (first line {quote_value(head)}): {fix}"
    if reader in (read_csv_file, read_tsv_file) and head:
        expected = "," if reader is read_csv_file else "\t"
        for separator, name in ((";", "';'"), ("\t", "tab"), (",", "','"), ("|", "'|'")):
            if separator != expected and expected not in head and separator in head:
                fix = {"\t": "rename it .tsv", ",": "rename it .csv"}.get(separator, "only ',' (.csv) and tab (.tsv) separators are read: save it with one of those")
                return f"{path}: the header has one column containing {name}: is it {name}-separated? {fix}"
    if first is None or first.canonical:
        return None
    missing = [field for field in ("outlet", "text") if not any(_has_value(first.data.get(column)) for column in candidate_columns(field_map)[field])]
    if not missing:
        return None
    names = [str(name) for name in first.data][:12]
    maps = " ".join(f"--map {field}={_guess_column(field, first.data) or 'COLUMN'}" for field in missing)
    listed = ", ".join(repr(name) for name in names) + (", ..." if len(first.data) > len(names) else "")
    return f"{path}: no {' or '.join(repr(field) for field in missing)} in any record; its columns are {listed}: map them, e.g. {maps}"


def _has_value(value: object) -> bool:
    return value is not None and value != "" and value != []


def _guess_column(field: str, data: Mapping[str, object]) -> str | None:
    """A column likely to hold `field` in the first record: the longest text for 'text', a name such as
    'publisher' or 'domain' for 'outlet'; None (shown as COLUMN) when nothing stands out."""
    if field == "text":
        texts = [(len(value), str(name)) for name, value in data.items() if isinstance(value, str) and len(value) >= 200]
        return max(texts)[1] if texts else None
    named = [str(name) for name in data if re.search(r"outlet|publisher|source|site|domain|media|paper|newspaper", str(name), re.IGNORECASE)]
    return named[0] if named else None
