"""Read articles from JSONL, CSV/TSV, Parquet, saved HTML pages and RSS/Atom feeds into ARTICLE_SCHEMA.

A bad record never aborts a file: every line that is not valid UTF-8 or JSON, every record without an
outlet or text, every unparseable date becomes a `Reject(file, line, field, reason)` and the rest of the
file is still read. Whole-file problems (binary data, an unsupported type, a truncated gzip) are one
Reject each. Ids are content hashes, so ingesting the same file twice adds nothing the second time.
"""

from __future__ import annotations

import calendar
import csv
import email.utils
import hashlib
import json
import re
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import polars as pl

from compare.core.schema import ARTICLE_SCHEMA, MAPPABLE_FIELDS
from compare.core.wires import CREDIT_SPELLINGS
from compare.core.store import Reject, Store

SUPPORTED_FORMATS = (
    ".jsonl, .ndjson, .json, .jsonl.gz, .ndjson.gz, .csv, .tsv, .parquet, "
    ".html, .htm, .xml, .rss, .atom"
)

# Names accepted for a field when the user did not map it, after the field's own name.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "outlet": ("source", "site"),
    "text": ("content", "body"),
    "published": ("date",),
    "byline": ("author", "authors"),
    "language": ("lang",),
    "url": ("link",),
    "title": ("headline",),
}

_CHUNK_BYTES = 1 << 20
_SNIFF_BYTES = 8192
_PROGRESS_EVERY = 1000
_MAX_QUOTED = 60
# On a page with no article, trafilatura falls back to whatever text is left ("Home" from the menu of
# a 404 page); a real article page has far more than this after the headline.
_MIN_PAGE_TEXT = 100
# Article bodies in CSV exceed the csv module's default 128 KiB field limit; 64 MiB still stops a
# runaway unbalanced quote from swallowing a whole multi-gigabyte file into one field.
_CSV_FIELD_LIMIT = 64 << 20
# One line (JSONL) is at most this long: a newline-free stream (a gzip bomb inflating to gigabytes of
# one line) is one reject instead of a buffer the size of the stream.
_MAX_LINE_BYTES = 64 << 20
# Decompression stops at this many bytes, or once past _BOMB_MIN_BYTES at more than _MAX_RATIO bytes
# out per byte in: news JSONL compresses 3-10x (the Baly sample: 4.2x), a gzip bomb 200-1000x.
_MAX_DECOMPRESSED_BYTES = 8 << 30
_MAX_RATIO = 100
_BOMB_MIN_BYTES = 16 << 20
# A file with this many bad records is garbage, not a file with a few bad records: the rest of it is
# one reject, so a flood of bad lines cannot fill memory with rejects.
_MAX_REJECTS_PER_FILE = 10_000
# JSON documents, HTML pages and feeds are parsed whole (several times their size in memory): past
# this they are one reject, so one file cannot take the machine's memory. JSONL and CSV stream.
_MAX_WHOLE_FILE_BYTES = 256 << 20
# JSON integers longer than this stay text: Python refuses to convert more than 4,300 digits, and no
# field we read holds such a number (a 400-digit "published" is then an unparseable date, one reject).
_MAX_INT_DIGITS = 1000


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


@dataclass(frozen=True)
class _Record:
    """One raw input record; `canonical` records (HTML pages, feed entries) already use our field names."""

    line: int | None
    data: Mapping[str, object]
    canonical: bool = False


@dataclass(frozen=True)
class _Problem:
    """A reject before the file name is attached; `is_record=False` for whole-file or stream problems."""

    line: int | None
    reason: str
    field: str | None = None
    is_record: bool = True


_Item = _Record | _Problem


# --------------------------------------------------------------------------- public helpers


def parse_field_map(pairs: Sequence[str]) -> dict[str, str]:
    """Turn `["outlet=source", "text=content_original"]` into `{"outlet": "source", ...}`.

    Raises ValueError with a one-line message for a pair without "=" or a field we do not have.
    """
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise ValueError(f"invalid mapping {pair!r}: expected field=column, e.g. text=content_original")
        if field not in MAPPABLE_FIELDS:
            raise ValueError(f"unknown field {field!r} in {pair!r}: valid fields are {', '.join(MAPPABLE_FIELDS)}")
        mapping[field] = column
    return mapping


def article_id(outlet: str, title: str | None, text: str) -> str:
    """Stable 20-hex-char content hash: the same article from the same outlet always gets the same id.

    Outlet is casefolded and all whitespace collapsed, so re-extractions that differ only in spacing
    or paragraph breaks collide on purpose.
    """
    key = "\x1f".join((_collapse(outlet).casefold(), _collapse(title or ""), _collapse(text)))
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def normalize_text(text: str) -> str:
    """Strip, unify newlines, collapse runs of spaces, keep paragraph breaks as exactly one blank line.

    Idempotent; single line breaks inside a paragraph are kept.
    """
    # str.splitlines/str.split rather than regexes: they are C loops and ~5x faster on the 55M chars
    # of the Baly sample (0.5 s against 2.8 s), which made normalisation the slowest part of ingest.
    out: list[str] = []
    blank = False
    for line in _without_surrogates(text).splitlines():
        line = " ".join(line.split())
        if not line:
            blank = bool(out)
            continue
        if out:
            out.append("\n\n" if blank else "\n")
        out.append(line)
        blank = False
    return "".join(out)


def _without_surrogates(text: str) -> str:
    """Lone surrogates (from JSON "\\ud800" escapes) cannot be stored as UTF-8; replace them with U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def parse_published(value: object) -> datetime | None:
    """Parse a publication date into an aware UTC datetime; None for a missing or empty value.

    Accepts ISO 8601 (date-only means midnight), RFC 822 (RSS), epoch seconds (1e8 to 1e11; larger
    numbers are milliseconds, smaller ones such as a bare year are refused) and other spelled-out
    dates with a year, month and day (slashed dates are month first, the US convention: "7/23/17").
    Naive times are taken as UTC. Raises ValueError for anything else.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, bool):
        raise ValueError("a boolean is not a date")
    if isinstance(value, int | float):
        return _from_epoch(value)
    if not isinstance(value, str):
        raise ValueError(f"a {type(value).__name__} is not a date")
    text = value.strip()
    if not text:
        return None
    return _parse_date_string(text)


def detect_wire_credit(text: str, byline: str | None = None) -> str | None:
    """Canonical wire name ("AP", "Reuters", "AFP", ...) when the article credits a wire, else None.

    Only credits count: a dateline "BAGHDAD (AP) —" at the start of a paragraph near the top, a
    byline that is the wire ("By Reuters", "Jane Doe, Associated Press"), or a sign-off near the end
    ("— AP", "(Reporting by ...; Editing by ...)", "The Associated Press contributed to this report").
    A mention such as "Reuters reported that ..." is not a credit; we prefer missing a credit to
    inventing one.
    """
    head = text[:_HEAD_CHARS]
    if wire := _dateline_credit(head):
        return wire
    if byline and (wire := _byline_credit(byline)):
        return wire
    if wire := _lead_credit(head):
        return wire
    return _tail_credit(text[-_TAIL_CHARS:])


# --------------------------------------------------------------------------- reading


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
    columns = _candidate_columns(field_map)
    rows = _ArticleRows(ingested_at=datetime.now(timezone.utc))
    rejects: list[Reject] = []
    records_read = 0
    hints: list[str] = []
    files_read = 0
    for path in _expand(paths):
        if limit is not None and records_read >= limit:
            break
        files_read += 1
        file = str(path)
        file_rejects = 0
        usable = 0
        first: _Record | None = None
        for item in _read_file(path):
            if isinstance(item, _Record):
                first = first or item
                item = rows.add(_checked_article_row(item, columns, field_map), file)
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

    def add(self, row: dict[str, object] | _Problem, file: str) -> _Problem | None:
        """Keep `row`; a _Problem is handed back so the caller records it as a reject."""
        if isinstance(row, _Problem):
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


def file_hint(path: Path, first: _Record | None, field_map: Mapping[str, str]) -> str | None:
    """The likely cause when no record of `path` was usable, as one line naming the file and the fix:
    CSV in a JSON-lines file, a ';'- or tab-separated CSV read with ',', or columns named otherwise
    than the fields (with the file's own column names). None when nothing points to a cause."""
    head = _first_line(path)
    reader = _reader_for(path)
    if reader in (_read_jsonl, _read_jsonl_gz, _read_json) and head and not head.lstrip().startswith(("{", "[")):
        separator = next((sep for sep in ("\t", ",", ";") if sep in head), None)
        if separator is not None:
            kind, suffix = ("TSV", ".tsv") if separator == "\t" else ("CSV", ".csv")
            fix = f"rename it {suffix}" if separator != ";" else "save it as ','-separated .csv"
            return f"{path}: looks like {kind} (first line {_quote(head)}): {fix}"
    if reader in (_read_csv, _read_tsv) and head:
        expected = "," if reader is _read_csv else "\t"
        for separator, name in ((";", "';'"), ("\t", "tab"), (",", "','"), ("|", "'|'")):
            if separator != expected and expected not in head and separator in head:
                fix = {"\t": "rename it .tsv", ",": "rename it .csv"}.get(separator, "only ',' (.csv) and tab (.tsv) separators are read: save it with one of those")
                return f"{path}: the header has one column containing {name}: is it {name}-separated? {fix}"
    if first is None or first.canonical:
        return None
    missing = [field for field in ("outlet", "text") if not any(_has_value(first.data.get(column)) for column in _candidate_columns(field_map)[field])]
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


def _first_line(path: Path) -> str:
    """The first non-blank line of the file as text ('' when unreadable or binary), for hints only."""
    try:
        chunks = _gunzip_chunks(path) if path.name.lower().endswith(".gz") else _file_chunks(path)
        head = next((chunk for chunk in chunks if isinstance(chunk, bytes)), b"")[:_SNIFF_BYTES]
    except OSError:
        return ""
    if _looks_binary(head):
        return ""
    text = head.decode("utf-8-sig", errors="replace")
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _expand(paths: Sequence[Path]) -> Iterator[Path]:
    """Files to read, in order: a directory yields its files sorted, skipping hidden ones (.DS_Store)."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = (p for p in path.rglob("*") if p.is_file())
            yield from sorted(p for p in files if not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            yield path


def _read_file(path: Path) -> Iterator[_Item]:
    reader = _reader_for(path)
    if reader is None:
        yield _Problem(None, f"unsupported file type; supported: {SUPPORTED_FORMATS}", is_record=False)
        return
    try:
        yield from reader(path)
    except OSError as error:
        yield _Problem(None, f"cannot read file: {error.strerror or error}", is_record=False)


def _reader_for(path: Path) -> Callable[[Path], Iterator[_Item]] | None:
    name = path.name.lower()
    if name.endswith((".jsonl.gz", ".ndjson.gz")):
        return _read_jsonl_gz
    suffix = path.suffix.lower()
    return _READERS.get(suffix)


# --------------------------------------------------------------------------- JSON


def _read_jsonl(path: Path) -> Iterator[_Item]:
    yield from _jsonl_items(_file_chunks(path))


def _read_jsonl_gz(path: Path) -> Iterator[_Item]:
    yield from _jsonl_items(_gunzip_chunks(path))


def _read_json(path: Path) -> Iterator[_Item]:
    """A `.json` file may hold one object, an array of objects (line = element number) or JSON lines."""
    if problem := _too_big_to_hold(path, "JSON document (use JSON lines, .jsonl, for big files)"):
        yield problem
        return
    raw = path.read_bytes()
    if _looks_binary(raw):
        yield _Problem(None, "binary file, not JSON", is_record=False)
        return
    start = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"[":
        yield from _json_array(raw)
        return
    if start == b"{":
        try:
            value = _json_loads(raw.decode("utf-8-sig"))
        except (ValueError, RecursionError):
            value = None  # several objects: JSON lines
        if isinstance(value, dict):
            yield _Record(1, value)
            return
    yield from _jsonl_items(iter([raw]))


def _json_array(raw: bytes) -> Iterator[_Item]:
    try:
        value = _json_loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        yield _Problem(None, f"not valid UTF-8 (byte offset {error.start})", is_record=False)
        return
    except json.JSONDecodeError as error:
        yield _Problem(error.lineno, f"invalid JSON array: {error.msg} (column {error.colno})", is_record=False)
        return
    except (ValueError, RecursionError) as error:
        yield _Problem(None, f"invalid JSON array: {type(error).__name__}", is_record=False)
        return
    for number, element in enumerate(value, start=1):
        if isinstance(element, dict):
            yield _Record(number, element)
        else:
            yield _Problem(number, f"array element {number} is a {type(element).__name__}, not a JSON object")


def _jsonl_items(chunks: Iterator[bytes | _Problem]) -> Iterator[_Item]:
    """One record per non-blank line; a bad line is a reject and the next line is read as usual."""
    first = next(chunks, b"")
    if isinstance(first, _Problem):
        yield first
        return
    if _looks_binary(first):
        yield _Problem(None, "binary file, not JSONL", is_record=False)
        return
    number = 0
    for line in _lines(_chain_first(first, chunks)):
        if isinstance(line, _Problem) and line.is_record:  # one over-long line
            number += 1
            yield _Problem(number, line.reason)
            continue
        if isinstance(line, _Problem):
            yield _Problem(number + 1, f"{line.reason}; lines from {number + 1} on could not be read", is_record=False)
            return
        number += 1
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if line.strip():
            yield _json_line(number, line)


def _json_line(number: int, line: bytes) -> _Item:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = line[error.start]
        return _Problem(number, f"not valid UTF-8 (byte 0x{bad:02x} at byte {error.start + 1} of the line)")
    try:
        value = _json_loads(text)
    except json.JSONDecodeError as error:
        return _Problem(number, f"invalid JSON: {error.msg} (column {error.colno})")
    except (ValueError, RecursionError) as error:  # e.g. nesting deeper than the interpreter's stack
        return _Problem(number, f"invalid JSON: {type(error).__name__}")
    if not isinstance(value, dict):
        return _Problem(number, f"a JSON {type(value).__name__}, not an object")
    return _Record(number, value)


def _json_int(digits: str) -> int | str:
    return int(digits) if len(digits.lstrip("-")) <= _MAX_INT_DIGITS else digits


def _json_loads(text: str) -> object:
    """json.loads where any number is a value, never an exception: huge integers stay their digits."""
    return json.loads(text, parse_int=_json_int)


def _file_chunks(path: Path) -> Iterator[bytes | _Problem]:
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            yield chunk


def _gunzip_chunks(path: Path) -> Iterator[bytes | _Problem]:
    """Decompressed data as it comes; a truncated or corrupt stream ends with a _Problem, not an exception.

    zlib by hand rather than gzip.open: gzip drops its partly decoded buffer when it hits the early
    end of a truncated file, and we want to keep every complete line before the damage.
    """
    decompressor = zlib.decompressobj(wbits=31)
    started = in_member = False
    consumed = written = 0  # compressed bytes inflated so far, and what they gave
    with open(path, "rb") as handle:
        while compressed := handle.read(_CHUNK_BYTES):
            output_full = False
            while compressed or output_full:
                if decompressor.eof:  # a multi-member gzip (concatenated .gz files) goes on
                    if not compressed.strip(b"\x00"):
                        break  # zero padding after the last member, as some tape tools write
                    decompressor = zlib.decompressobj(wbits=31)
                try:
                    # max_length: never more than one chunk of output at a time, whatever the ratio
                    data = decompressor.decompress(compressed, _CHUNK_BYTES)
                except zlib.error as error:
                    reason = f"corrupt gzip data ({error})" if started else "not a gzip file"
                    yield _Problem(None, reason, is_record=False)
                    return
                started, in_member = True, not decompressor.eof
                left = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
                consumed += len(compressed) - len(left)
                written += len(data)
                if bomb := _decompression_limit(consumed, written):
                    yield _Problem(None, bomb, is_record=False)
                    return
                if data:
                    yield data
                # a full chunk may leave output inside zlib even when all input was taken: ask again
                output_full = len(data) == _CHUNK_BYTES and not decompressor.eof
                compressed = left
    if in_member:
        yield _Problem(None, "gzip file is truncated", is_record=False)


def _decompression_limit(read: int, written: int) -> str | None:
    """Why decompression must stop here (a reject reason), or None while the output is plausible."""
    if written > _MAX_DECOMPRESSED_BYTES:
        return f"decompresses to more than {_MAX_DECOMPRESSED_BYTES >> 30} GiB; split the file (nothing past that read)"
    if written > _BOMB_MIN_BYTES and written > _MAX_RATIO * read:
        return (
            f"decompresses more than {_MAX_RATIO}x ({written >> 20} MiB from {read >> 10} KiB): "
            "not news text, treated as a decompression bomb (nothing past that read)"
        )
    return None


def _lines(chunks: Iterable[bytes | _Problem]) -> Iterator[bytes | _Problem]:
    """Split a chunk stream into lines; a trailing _Problem is passed on after the last partial line.

    A line over _MAX_LINE_BYTES becomes a _Problem (its bytes are dropped up to the next newline)
    and the lines after it are read as usual.
    """
    pending: list[bytes] = []
    pending_bytes = 0
    overlong = False
    for chunk in chunks:
        if isinstance(chunk, _Problem):
            if pending and not overlong:
                yield b"".join(pending)
            yield chunk
            return
        *complete, rest = chunk.split(b"\n")
        if complete:
            first, *complete = complete
            if overlong:
                yield _Problem(None, f"line longer than {_MAX_LINE_BYTES >> 20} MiB")
            else:
                yield b"".join((*pending, first))
            yield from complete
            pending, pending_bytes, overlong = [], 0, False
        if not overlong:
            pending.append(rest)
            pending_bytes += len(rest)
            if pending_bytes > _MAX_LINE_BYTES:
                pending, overlong = [], True
    if overlong:
        yield _Problem(None, f"line longer than {_MAX_LINE_BYTES >> 20} MiB")
    elif pending and any(pending):
        yield b"".join(pending)


def _chain_first(first: bytes, rest: Iterator[bytes | _Problem]) -> Iterator[bytes | _Problem]:
    yield first
    yield from rest


# --------------------------------------------------------------------------- CSV / Parquet


def _read_csv(path: Path) -> Iterator[_Item]:
    yield from _delimited_items(path, ",")


def _read_tsv(path: Path) -> Iterator[_Item]:
    yield from _delimited_items(path, "\t")


def _delimited_items(path: Path, delimiter: str) -> Iterator[_Item]:
    """One record per row; line = row number + 1 (the header is line 1), a bad row is one reject."""
    with open(path, "rb") as handle:
        if _looks_binary(handle.read(_SNIFF_BYTES)):
            kind = "CSV" if delimiter == "," else "TSV"
            yield _Problem(None, f"binary file, not {kind}", is_record=False)
            return
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    # surrogateescape keeps undecodable bytes as lone surrogates, so one bad row is rejected by itself
    # instead of a UnicodeDecodeError ending the whole file.
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        lines = _PushbackLines(handle)
        # strict: an unbalanced quote is an error, not a field that swallows the rows after it
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as error:
            yield _Problem(1, f"CSV header cannot be parsed: {error}", is_record=False)
            return
        if header is None:
            return
        lines.end_record()
        if _SURROGATES.search("".join(header)):
            yield _Problem(1, "header is not valid UTF-8", is_record=False)
            return
        header = [name.strip() for name in header]
        number = 1
        while True:
            lines.start_record()
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                number += 1
                first_line = lines.physical_line + 1
                yield _Problem(number, f"CSV quoting error: {error} (record starting at physical line {first_line}); the lines after it are read as rows")
                lines.resume_after_first_line()
                reader = csv.reader(lines, delimiter=delimiter, strict=True)
                continue
            number += 1
            lines.end_record()
            if any(cell.strip() for cell in row):
                yield _csv_record(number, header, row)


class _PushbackLines:
    """The physical lines fed to csv.reader, kept per record so a badly quoted record can be re-read
    line by line: the record is rejected and the rows it swallowed are parsed on their own.

    Each line is re-read at most once per unbalanced quote before it, and a swallowing record ends at
    the next quote mark, so the re-reading stays linear in practice; the csv field limit bounds memory.
    """

    def __init__(self, handle: Iterator[str]) -> None:
        self.handle = handle
        self.pushed: list[str] = []  # reversed: pop() gives the next line
        self.taken: list[str] = []
        self.physical_line = 0  # lines before the current record

    def __iter__(self) -> _PushbackLines:
        return self

    def __next__(self) -> str:
        line = self.pushed.pop() if self.pushed else next(self.handle)
        self.taken.append(line)
        return line

    def start_record(self) -> None:
        self.taken = []

    def end_record(self) -> None:
        self.physical_line += len(self.taken)
        self.taken = []

    def resume_after_first_line(self) -> None:
        self.pushed.extend(reversed(self.taken[1:]))
        self.physical_line += 1 if self.taken else 0
        self.taken = []


def _csv_record(number: int, header: list[str], row: list[str]) -> _Item:
    joined = "".join(row)
    if _SURROGATES.search(joined):
        return _Problem(number, "not valid UTF-8 (undecodable bytes in this row)")
    if "\x00" in joined:
        return _Problem(number, "contains a NUL byte (binary data in this row)")
    if len(row) > len(header):
        return _Problem(number, f"row has {len(row)} fields but the header has {len(header)}")
    return _Record(number, dict(zip(header, row)))


def _read_parquet(path: Path) -> Iterator[_Item]:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        yield _Problem(None, f"unreadable Parquet file: {first_line}", is_record=False)
        return
    for index, row in enumerate(frame.iter_rows(named=True)):
        yield _Record(index + 1, row)


# --------------------------------------------------------------------------- HTML pages


def _read_html(path: Path) -> Iterator[_Item]:
    """One saved page is one record: trafilatura finds the article text and its metadata."""
    if problem := _too_big_to_hold(path, "saved page"):
        yield problem
        return
    raw = path.read_bytes()
    if _looks_binary(raw):
        yield _Problem(None, "binary file, not HTML", is_record=False)
        return
    try:
        trafilatura = _import_trafilatura()
    except ImportError as error:
        yield _Problem(None, f"HTML extraction needs trafilatura, which failed to import: {error}", is_record=False)
        return
    document = trafilatura.bare_extraction(
        raw,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        # keep the time of day (htmldate's default output is the date alone) and prefer the
        # original publication date over a "last modified" one
        date_extraction_params={"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True},
    )
    text = _page_text(document.text or "", document.title) if document is not None else ""
    if len(text) < _MIN_PAGE_TEXT:
        yield _Problem(None, f"no article text found in the page ({len(text)} characters)", field="text")
        return
    url = document.url or None
    yield _Record(
        None,
        {
            "outlet": document.sitename or _hostname(url) or _hostname(document.hostname),
            "url": url,
            "title": document.title,
            "published": document.date,
            "language": document.language or _html_lang(raw),
            "byline": document.author,
            "text": text,
        },
        canonical=True,
    )


def _page_text(extracted: str, title: str | None) -> str:
    """trafilatura's text has one paragraph per line and often repeats the headline as the first line."""
    lines = [line.strip() for line in extracted.splitlines() if line.strip()]
    if lines and title and _collapse(lines[0]) == _collapse(title):
        lines = lines[1:]
    return "\n\n".join(lines)


def _import_trafilatura() -> ModuleType:
    """Imported lazily: it pulls in lxml, justext and htmldate, which plain-text ingests never need."""
    import trafilatura

    return trafilatura


def _html_lang(raw: bytes) -> str | None:
    match = _HTML_LANG.search(raw[:_SNIFF_BYTES])
    return match.group(1).decode("ascii", "replace") if match else None


def _hostname(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url if "//" in url else f"//{url}").hostname
    return host.removeprefix("www.") if host else None


# --------------------------------------------------------------------------- RSS / Atom


def _read_xml(path: Path) -> Iterator[_Item]:
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if _looks_binary(head):
        yield _Problem(None, "binary file, not XML", is_record=False)
    elif not _FEED_ROOT.search(head):
        yield _Problem(None, "XML file is not an RSS or Atom feed", is_record=False)
    else:
        yield from _read_feed(path)


def _read_feed(path: Path) -> Iterator[_Item]:
    """One record per feed entry (line = entry number); outlet is the feed's title."""
    import feedparser

    if problem := _too_big_to_hold(path, "feed"):
        yield problem
        return
    parsed = feedparser.parse(path.read_bytes())
    if not parsed.entries:
        why = f": {parsed.bozo_exception}" if parsed.get("bozo") else ""
        yield _Problem(None, f"no feed entries found{why}", is_record=False)
        return
    feed = parsed.feed
    outlet = feed.get("title") or _hostname(feed.get("link"))
    language = feed.get("language")
    for number, entry in enumerate(parsed.entries, start=1):
        yield _Record(number, _feed_entry(entry, outlet, language), canonical=True)


def _feed_entry(entry: Mapping[str, object], outlet: str | None, language: str | None) -> dict[str, object]:
    contents = entry.get("content") or []
    body = contents[0] if contents else entry.get("summary_detail") or {"value": entry.get("summary", "")}
    value = body.get("value", "") or ""
    text = value if body.get("type") == "text/plain" else _html_to_text(value)
    authors = [author.get("name") for author in entry.get("authors") or [] if author.get("name")]
    return {
        "outlet": outlet,
        "url": entry.get("link"),
        "title": entry.get("title"),
        "published": _feed_date(entry),
        "language": body.get("language") or language,
        "byline": authors or entry.get("author"),
        "text": text,
    }


def _feed_date(entry: Mapping[str, object]) -> object:
    """The entry's own date string; feedparser's UTC struct_time only when the string is beyond us."""
    for key in ("published", "updated"):
        raw = entry.get(key)
        if not raw:
            continue
        try:
            return parse_published(raw)
        except ValueError:
            parsed = entry.get(f"{key}_parsed")
            return datetime.fromtimestamp(calendar.timegm(parsed), timezone.utc) if parsed else raw
    return None


def _html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment with a blank line after each block element (p, li, h1, ...)."""
    if "<" not in markup:
        return markup
    from lxml import etree, html

    try:
        root = html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return markup
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n\n" + (element.tail or "")
        element.text = "\n\n" + (element.text or "")
    for element in root.iter("br"):
        element.tail = "\n" + (element.tail or "")
    return root.text_content()


# --------------------------------------------------------------------------- record -> article row


def _candidate_columns(field_map: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Where each field is looked up: only the mapped column if mapped, else its own name and aliases."""
    return {
        field: (field_map[field],) if field in field_map else (field, *FIELD_ALIASES.get(field, ()))
        for field in MAPPABLE_FIELDS
    }


def _article_row(
    record: _Record, columns: Mapping[str, tuple[str, ...]], field_map: Mapping[str, str]
) -> dict[str, object] | _Problem:
    def get(field: str) -> object:
        if record.canonical:
            return record.data.get(field)
        for column in columns[field]:
            value = record.data.get(column)
            if value is not None and value != "" and value != []:
                return value
        return None

    outlet = _single_line(get("outlet"))
    if not outlet:
        return _Problem(record.line, _missing("outlet", columns, field_map, record.canonical), field="outlet")
    text = normalize_text(_as_text(get("text"), joiner="\n\n") or "")
    if not text:
        return _Problem(record.line, _missing("text", columns, field_map, record.canonical), field="text")
    raw_published = get("published")
    try:
        published = parse_published(raw_published)
    except ValueError:
        return _Problem(record.line, f"unparseable date {_quote(raw_published)}", field="published")
    title = _single_line(get("title"))
    byline = _single_line(get("byline"), joiner=", ")
    return {
        "id": article_id(outlet, title, text),
        "outlet": outlet,
        "url": _single_line(get("url")),
        "title": title,
        "published": published,
        "language": _single_line(get("language")),
        "byline": byline,
        "text": text,
        "wire_credit": detect_wire_credit(text, byline),
    }


def _checked_article_row(
    record: _Record, columns: Mapping[str, tuple[str, ...]], field_map: Mapping[str, str]
) -> dict[str, object] | _Problem:
    """_article_row, where a value Python cannot convert (a number too large for a date or for text,
    nesting too deep to print) is that record's reject, never the end of the batch."""
    try:
        return _article_row(record, columns, field_map)
    except (ValueError, OverflowError, RecursionError) as error:
        detail = str(error).splitlines()[0][:_MAX_QUOTED] if str(error) else ""
        return _Problem(record.line, f"unusable value ({type(error).__name__}{': ' + detail if detail else ''})")


def _missing(field: str, columns: Mapping[str, tuple[str, ...]], field_map: Mapping[str, str], canonical: bool) -> str:
    if canonical:
        return "no site name, feed title or URL to name the outlet" if field == "outlet" else "missing or empty"
    if field in field_map:
        return f"missing or empty (mapped from column {field_map[field]!r})"
    names = ", ".join(repr(name) for name in columns[field])
    return f"missing or empty (looked for {names}; map another column with {field}=COLUMN)"


def _as_text(value: object, *, joiner: str = " ") -> str | None:
    """Coerce a record value to text: lists are joined (authors with ", "), numbers printed plainly."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        parts = (_as_text(part, joiner=joiner) for part in value)
        return joiner.join(part.strip() for part in parts if part and part.strip())
    if isinstance(value, dict):
        name = value.get("name")
        return name if isinstance(name, str) else json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _single_line(value: object, *, joiner: str = " ") -> str | None:
    text = _as_text(value, joiner=joiner)
    if text is None:
        return None
    return _SURROGATES.sub("\ufffd", _collapse(text)) or None


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _quote(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > _MAX_QUOTED:
        text = text[: _MAX_QUOTED - 3] + "..."
    return repr(text)


def _too_big_to_hold(path: Path, what: str) -> _Problem | None:
    """Formats read whole (JSON documents, pages, feeds) are refused past _MAX_WHOLE_FILE_BYTES."""
    size = path.stat().st_size
    if size <= _MAX_WHOLE_FILE_BYTES:
        return None
    return _Problem(None, f"{size >> 20} MiB is too big for one {what}: at most {_MAX_WHOLE_FILE_BYTES >> 20} MiB", is_record=False)


def _looks_binary(head: bytes) -> bool:
    """A NUL and many control bytes in the first 8 KiB: a photo or archive, not text.

    One stray NUL in a text file is that record's problem (rejected on its own), not the file's:
    only when control bytes exceed 1 in 20 of the head is the whole file refused.
    """
    head = head[:_SNIFF_BYTES]
    if b"\x00" not in head:
        return False
    return len(_CONTROL_BYTES.findall(head)) * 20 > len(head)


# --------------------------------------------------------------------------- dates


def _parse_date_string(text: str) -> datetime:
    try:
        return _as_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    if _EPOCH.fullmatch(text):
        return _from_epoch(float(text))
    try:
        return _as_utc(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    return _as_utc(_parse_loose_date(text))


def _parse_loose_date(text: str) -> datetime:
    """dateutil for the rest ("7/23/17", "September 20, 2016"), refusing strings without a full date.

    Parsing twice with two different defaults shows whether year, month and day all came from the
    string: dateutil silently fills missing parts from the default ("2016" would become 1 January).
    """
    from dateutil import parser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UnknownTimezoneWarning: the zone is then treated as UTC
        try:
            first = parser.parse(text, default=datetime(2001, 1, 1))
            second = parser.parse(text, default=datetime(2002, 2, 2))
        except (ValueError, OverflowError) as error:
            raise ValueError(f"unparseable date {text!r}") from error
    if first.date() != second.date():
        raise ValueError(f"incomplete date {text!r}")
    return first


def _as_utc(value: datetime) -> datetime:
    try:
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    except OverflowError as error:
        raise ValueError(f"date out of range: {value!r}") from error


def _from_epoch(seconds: float) -> datetime:
    try:
        seconds = float(seconds)  # a 400-digit integer: OverflowError here, not in the division below
    except OverflowError as error:
        raise ValueError("epoch value out of range") from error
    if seconds != seconds:  # NaN, e.g. a missing value in a Parquet float column
        raise ValueError("NaN is not a date")
    if abs(seconds) < 1e8:  # before March 1973: a bare year ("2016") or a count, not a timestamp
        raise ValueError(f"{seconds:g} is too small to be epoch seconds")
    if abs(seconds) >= 1e11:  # 1e11 s is the year 5138: such a number is epoch milliseconds
        seconds = seconds / 1000
    try:
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError) as error:
        raise ValueError(f"epoch value out of range: {seconds}") from error


# --------------------------------------------------------------------------- wire credits

def _wire_group() -> str:
    """One alternation with a named group per wire, so `match.lastgroup` is the canonical name."""
    return r"\b(?:" + "|".join(f"(?P<{name}>{spelling})" for name, spelling in CREDIT_SPELLINGS.items()) + r")\b"


_WIRE = _wire_group()
_HEAD_CHARS = 3000  # AP pages put photo captions (up to ~1,700 chars in the Baly sample) before the dateline
_TAIL_CHARS = 1500
_LEAD_PARAGRAPHS = 4
_LEAD_LINE_CHARS = 80
_WIRE_ACRONYMS = frozenset({"AP", "AFP", "JNS", "TPS", "dpa", "DPA", "UPI", "ANI"})
_BYLINE_MAX_PARTS = 3  # scraped bylines listing 5+ names plus "Associated Press" are page furniture

# "BAGHDAD (AP) —", "(Reuters) -", "BEIJING, Jan. 5 (Xinhua) --", "New Delhi [India], May 5 (ANI):"
# at the start of a paragraph; "(AP Photo/...)" captions and "... 1989 (Reuters)" photo credits
# have no dash after them and do not match.
_DATELINE = re.compile(r"\(" + _WIRE + r"\)\s*(?:—|–|-{1,2}|:|_\s)")  # "_": old AP plain-text style
_DATELINE_PLACE = re.compile(r"(?:[A-Z][^\n()]{0,80}?)?\s*")
_JNS_DATELINE = re.compile(r"^\((?:[^()\n]{0,40}/\s*)?(?P<JNS>JNS(?:\.org)?)\)", re.MULTILINE)
# "Associated Press", "By Reuters", "Reuters Staff", "Reuters in Washington" (the Guardian's style)
_BYLINE_PART = re.compile(
    r"(?i:by\s+)?"
    + _WIRE
    + r"(?:\s+(?i:staff|wire|news\s+service|writers?|reporters?))?"
    + r"(?:\s+(?i:in)\s+[A-Z][\w .'-]{0,40})?\.?"
)
# Not on "/" or "|": "Mike Groll/AP" and "Jane Doe | Bloomberg | Getty Images" are photo credits.
_BYLINE_SPLIT = re.compile(r"\s*(?:[,;]|\band\b|&)\s*")
_TAIL_PATTERNS = (
    # "... said. — AP", "-- Reuters"
    re.compile(r"(?:^|\s)(?:—|–|-{1,2})\s*" + _WIRE + r"\.?\s*$"),
    # Reuters sign-off, ending a paragraph: "... he said. (Reporting by X; Editing by Y)", or
    # unbracketed on a line of its own with the roles split by ";"
    re.compile(
        r"\((?i:additional\s+)?(?i:reporting|writing|editing|compiled|compiling)\s+by\b[^()\n]*\)\.?\s*$"
        r"|^(?i:reporting|writing)\s+by\b[^\n;]*;\s*(?i:additional\s+reporting|writing|editing)\s+by\b",
        re.MULTILINE,
    ),
    # "Associated Press writers A in B, C in D, ... contributed to this report" runs to ~200 chars
    re.compile(_WIRE + r"[^.\n]{0,240}?\bcontributed\b[^.\n]{0,40}?\b(?:report|story|article)\b"),
    # "Copyright 2013 The Associated Press"; the year is required because BBC pages end with image
    # credits such as "Image copyright Reuters", which credit a photo, not the story.
    re.compile(r"(?:(?:©\s*)?(?i:copyright)\s*(?:©\s*)?|©\s*)\d{4}\s+" + _WIRE),
    re.compile(r"\b(?i:material|information)\s+from\s+(?i:the\s+)?" + _WIRE + r"[^.\n]{0,80}?\bwas\s+used\b"),
    re.compile(r"\b(?i:click)\s+(?i:here\s+)?for\s+more\s+from\s+(?i:the\s+)?" + _WIRE),
    re.compile(r"\b(?i:originally|first)\s+(?:published|appeared)\s+(?:by|in|on)\s+(?i:the\s+)?" + _WIRE),
    re.compile(r"\b(?i:originally\s+)?produced\s+by\s+(?i:the\s+)?" + _WIRE),
    re.compile(r"\b(?P<AP>The AP) is solely responsible for (?:all|this) content\b"),
    re.compile(r"\bMore (?P<AP>AP) [^:\n]{1,40}: https?://(?:www\.)?apnews\.com"),
    re.compile(r"\b(?P<Reuters>Thomson Reuters) Trust Principles\b"),
)
_REUTERS_SIGN_OFF = _TAIL_PATTERNS[1]


def _wire_of(match: re.Match[str]) -> str | None:
    return match.lastgroup


def _dateline_credit(head: str) -> str | None:
    """A "(WIRE) —" that starts a paragraph, optionally after a place name and date."""
    # Searching for the literal "(" and checking the line start afterwards is ~6x faster than a
    # MULTILINE "^place (WIRE)" pattern, which the regex engine tries at every character.
    for match in _DATELINE.finditer(head):
        line_start = head.rfind("\n", 0, match.start()) + 1
        if _DATELINE_PLACE.fullmatch(head, line_start, match.start()):
            return _wire_of(match)
    if "JNS" in head and (match := _JNS_DATELINE.search(head)):
        return _wire_of(match)
    return None


def _lead_credit(head: str) -> str | None:
    """A paragraph near the top that is nothing but the credit: "By Reuters", "The Associated Press"."""
    for paragraph in head.split("\n\n", _LEAD_PARAGRAPHS)[:_LEAD_PARAGRAPHS]:
        paragraph = paragraph.strip()
        # A bare acronym line ("AP") under a picture is usually the photo's credit, not the story's.
        if paragraph in _WIRE_ACRONYMS or len(paragraph) > _LEAD_LINE_CHARS:
            continue
        if match := _BYLINE_PART.fullmatch(paragraph):
            return _wire_of(match)
    return None


def _byline_credit(byline: str) -> str | None:
    """A byline credits a wire when one of its first few names *is* the wire ("Jane Doe, Associated Press")."""
    parts = [part for part in _BYLINE_SPLIT.split(byline.strip()) if part]
    if not parts or len(parts) > _BYLINE_MAX_PARTS:
        return None
    for part in parts:
        match = _BYLINE_PART.fullmatch(part.strip())
        if match:
            return _wire_of(match)
    return None


def _tail_credit(tail: str) -> str | None:
    """Sign-offs in the last three paragraphs; a substring pre-check skips the regexes for most articles."""
    paragraphs = [p.strip() for p in tail.split("\n") if p.strip()][-3:]
    ending = "\n".join(paragraphs)
    folded = ending.casefold()
    if not any(hint in ending for hint in _TAIL_HINTS) and not any(hint in folded for hint in _TAIL_FOLDED_HINTS):
        return None
    for pattern in _TAIL_PATTERNS:
        match = pattern.search(ending)
        if match:
            return "Reuters" if pattern is _REUTERS_SIGN_OFF else _wire_of(match)
    return None


# Every tail pattern needs one of these: an acronym (case-sensitive) or a name or phrase (casefolded).
_TAIL_HINTS = tuple(_WIRE_ACRONYMS)
_TAIL_FOLDED_HINTS = (
    "associated press", "reuters", "agence france", "jewish news", "jns.org", "tazpit", "deutsche presse",
    "xinhua", "united press", "bloomberg", "asian news", "reporting by", "writing by", "editing by",
    "compiled by", "compiling by",
)


# --------------------------------------------------------------------------- shared regexes and tables

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_EPOCH = re.compile(r"[-+]?\d+(?:\.\d+)?")
_HTML_LANG = re.compile(rb"<html[^>]*\slang=[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)", re.IGNORECASE)
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)\b", re.IGNORECASE)
_BLOCK_TAGS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "ul", "ol", "table")

_READERS: dict[str, Callable[[Path], Iterator[_Item]]] = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".json": _read_json,
    ".csv": _read_csv,
    ".tsv": _read_tsv,
    ".parquet": _read_parquet,
    ".html": _read_html,
    ".htm": _read_html,
    ".xml": _read_xml,
    ".rss": _read_feed,
    ".atom": _read_feed,
}
