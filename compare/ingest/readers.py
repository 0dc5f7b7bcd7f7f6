"""File formats read into raw records: JSON/JSONL (gzip too), CSV/TSV, Parquet, saved HTML pages, RSS/Atom.

Each reader yields `RawRecord`s and `RecordProblem`s (records.py); it never raises for a bad record or file,
and a whole-file problem (binary data, a truncated gzip, a file too big to hold) is one `RecordProblem`.
"""

from __future__ import annotations

import calendar
import csv
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from compare.ingest.dates import parse_published
from compare.ingest.records import collapse_whitespace, ReadItem, RecordProblem, RawRecord
from compare.text.normalize import SURROGATES


SUPPORTED_FORMATS = (
    ".jsonl, .ndjson, .json, .jsonl.gz, .ndjson.gz, .csv, .tsv, .parquet, "
    ".html, .htm, .xml, .rss, .atom, .warc, .warc.gz"
)

_CHUNK_BYTES = 1 << 20
_SNIFF_BYTES = 8192

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

# JSON documents, HTML pages and feeds are parsed whole (several times their size in memory): past
# this they are one reject, so one file cannot take the machine's memory. JSONL and CSV stream.
_MAX_WHOLE_FILE_BYTES = 256 << 20
# JSON integers longer than this stay text: Python refuses to convert more than 4,300 digits, and no
# field we read holds such a number (a 400-digit "published" is then an unparseable date, one reject).
_MAX_INT_DIGITS = 1000


def first_line_of(path: Path) -> str:
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


def expand_paths(paths: Sequence[Path]) -> Iterator[Path]:
    """Files to read, in order: a directory yields its files sorted, skipping hidden ones (.DS_Store)."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = (p for p in path.rglob("*") if p.is_file())
            yield from sorted(p for p in files if not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            yield path


def read_file(path: Path) -> Iterator[ReadItem]:
    """Records of one input file, or one problem for the whole file (unsupported type, unreadable)."""
    reader = reader_for(path)
    if reader is None:
        yield RecordProblem(None, f"unsupported file type; supported: {SUPPORTED_FORMATS}", is_record=False)
        return
    try:
        yield from reader(path)
    except OSError as error:
        yield RecordProblem(None, f"cannot read file: {error.strerror or error}", is_record=False)


def reader_for(path: Path) -> Callable[[Path], Iterator[ReadItem]] | None:
    """The reader for a file by its name (WARC, JSON Lines, gzip, CSV...), None when unsupported."""
    name = path.name.lower()
    if name.endswith((".warc", ".warc.gz")):  # `compare fetch` runs, Common Crawl's CC-NEWS
        from compare.fetch.warc import read_warc

        return read_warc
    if name.endswith((".jsonl.gz", ".ndjson.gz")):
        return read_jsonl_gz_file
    suffix = path.suffix.lower()
    return _READERS.get(suffix)


def read_jsonl_file(path: Path) -> Iterator[ReadItem]:
    """One record per line; a bad line is a reject, the rest are kept."""
    yield from _jsonl_items(_file_chunks(path))


def read_jsonl_gz_file(path: Path) -> Iterator[ReadItem]:
    """Gzipped JSON Lines, read as a stream (a cut-off archive keeps the lines before the damage)."""
    yield from _jsonl_items(_gunzip_chunks(path))


def read_json_file(path: Path) -> Iterator[ReadItem]:
    """A `.json` file may hold one object, an array of objects (line = element number) or JSON lines."""
    if problem := _too_big_to_hold(path, "JSON document (use JSON lines, .jsonl, for big files)"):
        yield problem
        return
    raw = path.read_bytes()
    if _looks_binary(raw):
        yield RecordProblem(None, "binary file, not JSON", is_record=False)
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
            yield RawRecord(1, value)
            return
    yield from _jsonl_items(iter([raw]))


def _json_array(raw: bytes) -> Iterator[ReadItem]:
    try:
        value = _json_loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        yield RecordProblem(None, f"not valid UTF-8 (byte offset {error.start})", is_record=False)
        return
    except json.JSONDecodeError as error:
        yield RecordProblem(error.lineno, f"invalid JSON array: {error.msg} (column {error.colno})", is_record=False)
        return
    except (ValueError, RecursionError) as error:
        yield RecordProblem(None, f"invalid JSON array: {type(error).__name__}", is_record=False)
        return
    for number, element in enumerate(value, start=1):
        if isinstance(element, dict):
            yield RawRecord(number, element)
        else:
            yield RecordProblem(number, f"array element {number} is a {type(element).__name__}, not a JSON object")


def _jsonl_items(chunks: Iterator[bytes | RecordProblem]) -> Iterator[ReadItem]:
    """One record per non-blank line; a bad line is a reject and the next line is read as usual."""
    first = next(chunks, b"")
    if isinstance(first, RecordProblem):
        yield first
        return
    if _looks_binary(first):
        yield RecordProblem(None, "binary file, not JSONL", is_record=False)
        return
    number = 0
    for line in _lines(_chain_first(first, chunks)):
        if isinstance(line, RecordProblem) and line.is_record:  # one over-long line
            number += 1
            yield RecordProblem(number, line.reason)
            continue
        if isinstance(line, RecordProblem):
            yield RecordProblem(number + 1, f"{line.reason}; lines from {number + 1} on could not be read", is_record=False)
            return
        number += 1
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if line.strip():
            yield _json_line(number, line)


def _json_line(number: int, line: bytes) -> ReadItem:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = line[error.start]
        return RecordProblem(number, f"not valid UTF-8 (byte 0x{bad:02x} at byte {error.start + 1} of the line)")
    try:
        value = _json_loads(text)
    except json.JSONDecodeError as error:
        return RecordProblem(number, f"invalid JSON: {error.msg} (column {error.colno})")
    except (ValueError, RecursionError) as error:  # e.g. nesting deeper than the interpreter's stack
        return RecordProblem(number, f"invalid JSON: {type(error).__name__}")
    if not isinstance(value, dict):
        return RecordProblem(number, f"a JSON {type(value).__name__}, not an object")
    return RawRecord(number, value)


def _json_int(digits: str) -> int | str:
    return int(digits) if len(digits.lstrip("-")) <= _MAX_INT_DIGITS else digits


def _json_loads(text: str) -> object:
    """json.loads where any number is a value, never an exception: huge integers stay their digits."""
    return json.loads(text, parse_int=_json_int)


def _file_chunks(path: Path) -> Iterator[bytes | RecordProblem]:
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            yield chunk


def _gunzip_chunks(path: Path) -> Iterator[bytes | RecordProblem]:
    """Decompressed data as it comes; a truncated or corrupt stream ends with a RecordProblem, not an exception.

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
                    yield RecordProblem(None, reason, is_record=False)
                    return
                started, in_member = True, not decompressor.eof
                left = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
                consumed += len(compressed) - len(left)
                written += len(data)
                if bomb := _decompression_limit(consumed, written):
                    yield RecordProblem(None, bomb, is_record=False)
                    return
                if data:
                    yield data
                # a full chunk may leave output inside zlib even when all input was taken: ask again
                output_full = len(data) == _CHUNK_BYTES and not decompressor.eof
                compressed = left
    if in_member:
        yield RecordProblem(None, "gzip file is truncated", is_record=False)


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


def _lines(chunks: Iterable[bytes | RecordProblem]) -> Iterator[bytes | RecordProblem]:
    """Split a chunk stream into lines; a trailing RecordProblem is passed on after the last partial line.

    A line over _MAX_LINE_BYTES becomes a RecordProblem (its bytes are dropped up to the next newline)
    and the lines after it are read as usual.
    """
    pending: list[bytes] = []
    pending_bytes = 0
    overlong = False
    for chunk in chunks:
        if isinstance(chunk, RecordProblem):
            if pending and not overlong:
                yield b"".join(pending)
            yield chunk
            return
        *complete, rest = chunk.split(b"\n")
        if complete:
            first, *complete = complete
            if overlong:
                yield RecordProblem(None, f"line longer than {_MAX_LINE_BYTES >> 20} MiB")
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
        yield RecordProblem(None, f"line longer than {_MAX_LINE_BYTES >> 20} MiB")
    elif pending and any(pending):
        yield b"".join(pending)


def _chain_first(first: bytes, rest: Iterator[bytes | RecordProblem]) -> Iterator[bytes | RecordProblem]:
    yield first
    yield from rest


def read_csv_file(path: Path) -> Iterator[ReadItem]:
    """Comma-separated rows with a header, one record each."""
    yield from _delimited_items(path, ",")


def read_tsv_file(path: Path) -> Iterator[ReadItem]:
    """Tab-separated rows with a header, one record each."""
    yield from _delimited_items(path, "\t")


def _delimited_items(path: Path, delimiter: str) -> Iterator[ReadItem]:
    """One record per row; line = row number + 1 (the header is line 1), a bad row is one reject."""
    with open(path, "rb") as handle:
        if _looks_binary(handle.read(_SNIFF_BYTES)):
            kind = "CSV" if delimiter == "," else "TSV"
            yield RecordProblem(None, f"binary file, not {kind}", is_record=False)
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
            yield RecordProblem(1, f"CSV header cannot be parsed: {error}", is_record=False)
            return
        if header is None:
            return
        lines.end_record()
        if SURROGATES.search("".join(header)):
            yield RecordProblem(1, "header is not valid UTF-8", is_record=False)
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
                yield RecordProblem(number, f"CSV quoting error: {error} (record starting at physical line {first_line}); the lines after it are read as rows")
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


def _csv_record(number: int, header: list[str], row: list[str]) -> ReadItem:
    joined = "".join(row)
    if SURROGATES.search(joined):
        return RecordProblem(number, "not valid UTF-8 (undecodable bytes in this row)")
    if "\x00" in joined:
        return RecordProblem(number, "contains a NUL byte (binary data in this row)")
    if len(row) > len(header):
        return RecordProblem(number, f"row has {len(row)} fields but the header has {len(header)}")
    return RawRecord(number, dict(zip(header, row)))


def _read_parquet(path: Path) -> Iterator[ReadItem]:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        yield RecordProblem(None, f"unreadable Parquet file: {first_line}", is_record=False)
        return
    for index, row in enumerate(frame.iter_rows(named=True)):
        yield RawRecord(index + 1, row)


def _read_html(path: Path) -> Iterator[ReadItem]:
    """One saved page is one record: trafilatura finds the article text and its metadata."""
    if problem := _too_big_to_hold(path, "saved page"):
        yield problem
        return
    raw = path.read_bytes()
    if _looks_binary(raw):
        yield RecordProblem(None, "binary file, not HTML", is_record=False)
        return
    try:
        trafilatura = import_trafilatura()
    except ImportError as error:
        yield RecordProblem(None, f"HTML extraction needs trafilatura, which failed to import: {error}", is_record=False)
        return
    document, text = extract_page(trafilatura, raw)
    if len(text) < _MIN_PAGE_TEXT:
        yield RecordProblem(None, f"no article text found in the page ({len(text)} characters)", field="text")
        return
    url = document.url or None
    yield RawRecord(
        None,
        {
            "outlet": document.sitename or url_hostname(url) or url_hostname(document.hostname),
            "url": url,
            "title": document.title,
            "published": document.date,
            "language": document.language or html_lang(raw),
            "byline": document.author,
            "text": text,
        },
        canonical=True,
    )


def extract_page(trafilatura: ModuleType, html: bytes | str, *, url: str | None = None, precise: bool = False) -> tuple[Any, str]:
    """trafilatura's document for one HTML page (None when it finds nothing) and its article text.

    The time of day is kept (htmldate's default output is the date alone) and the original
    publication date is preferred over a "last modified" one. `precise` is for crawled pages: on a
    paywall or consent page the default falls back to the navigation links (500 characters of
    "Section 1 ...") where the article should be; with favor_precision, the stub's 60. fast (no
    second extractor as fallback) keeps it at 35 ms a page instead of 58 ms with precision alone
    (27.5 KB generated pages of benchmarks/fetch.py, under load), the same text on articles.
    """
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params={"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True},
        **({"favor_precision": True, "fast": True} if precise else {}),
    )
    return document, page_text(document.text or "", document.title) if document is not None else ""


def page_text(extracted: str, title: str | None) -> str:
    """trafilatura's text has one paragraph per line and often repeats the headline as the first line."""
    lines = [line.strip() for line in extracted.splitlines() if line.strip()]
    if lines and title and collapse_whitespace(lines[0]) == collapse_whitespace(title):
        lines = lines[1:]
    return "\n\n".join(lines)


def import_trafilatura() -> ModuleType:
    """Imported lazily: it pulls in lxml, justext and htmldate, which plain-text ingests never need."""
    import trafilatura

    return trafilatura


def html_lang(raw: bytes) -> str | None:
    match = _HTML_LANG.search(raw[:_SNIFF_BYTES])
    return match.group(1).decode("ascii", "replace") if match else None


def url_hostname(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url if "//" in url else f"//{url}").hostname
    return host.removeprefix("www.") if host else None


def _read_xml(path: Path) -> Iterator[ReadItem]:
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if _looks_binary(head):
        yield RecordProblem(None, "binary file, not XML", is_record=False)
    elif not _FEED_ROOT.search(head):
        yield RecordProblem(None, "XML file is not an RSS or Atom feed", is_record=False)
    else:
        yield from _read_feed(path)


def _read_feed(path: Path) -> Iterator[ReadItem]:
    """One record per feed entry (line = entry number); outlet is the feed's title."""
    import feedparser

    if problem := _too_big_to_hold(path, "feed"):
        yield problem
        return
    parsed = feedparser.parse(path.read_bytes())
    if not parsed.entries:
        why = f": {parsed.bozo_exception}" if parsed.get("bozo") else ""
        yield RecordProblem(None, f"no feed entries found{why}", is_record=False)
        return
    feed = parsed.feed
    outlet = feed.get("title") or url_hostname(feed.get("link"))
    language = feed.get("language")
    for number, entry in enumerate(parsed.entries, start=1):
        yield RawRecord(number, _feed_entry(entry, outlet, language), canonical=True)


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


def _too_big_to_hold(path: Path, what: str) -> RecordProblem | None:
    """Formats read whole (JSON documents, pages, feeds) are refused past _MAX_WHOLE_FILE_BYTES."""
    size = path.stat().st_size
    if size <= _MAX_WHOLE_FILE_BYTES:
        return None
    return RecordProblem(None, f"{size >> 20} MiB is too big for one {what}: at most {_MAX_WHOLE_FILE_BYTES >> 20} MiB", is_record=False)


def _looks_binary(head: bytes) -> bool:
    """A NUL and many control bytes in the first 8 KiB: a photo or archive, not text.

    One stray NUL in a text file is that record's problem (rejected on its own), not the file's:
    only when control bytes exceed 1 in 20 of the head is the whole file refused.
    """
    head = head[:_SNIFF_BYTES]
    if b"\x00" not in head:
        return False
    return len(_CONTROL_BYTES.findall(head)) * 20 > len(head)


_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")

_HTML_LANG = re.compile(rb"<html[^>]*\slang=[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)", re.IGNORECASE)
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)\b", re.IGNORECASE)
_BLOCK_TAGS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "ul", "ol", "table")

_READERS: dict[str, Callable[[Path], Iterator[ReadItem]]] = {
    ".jsonl": read_jsonl_file,
    ".ndjson": read_jsonl_file,
    ".json": read_json_file,
    ".csv": read_csv_file,
    ".tsv": read_tsv_file,
    ".parquet": _read_parquet,
    ".html": _read_html,
    ".htm": _read_html,
    ".xml": _read_xml,
    ".rss": _read_feed,
    ".atom": _read_feed,
}
