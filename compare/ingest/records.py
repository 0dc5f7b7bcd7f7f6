"""A raw record mapped onto ARTICLE_SCHEMA: field lookup (--map and aliases), value checks, the content-hash id.

A record that cannot be mapped (no outlet or text, an unparseable date, a value Python cannot convert)
becomes a `RecordProblem`, that record's reject, never the end of the batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from compare.core.schema import MAPPABLE_FIELDS
from compare.ingest.credits import detect_wire_credit
from compare.ingest.dates import parse_published
from compare.text.normalize import SURROGATES, normalize_text


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

_MAX_QUOTED = 60


@dataclass(frozen=True)
class RawRecord:
    """One raw input record; `canonical` records (HTML pages, feed entries) already use our field names."""

    line: int | None
    data: Mapping[str, object]
    canonical: bool = False


@dataclass(frozen=True)
class RecordProblem:
    """A reject before the file name is attached; `is_record=False` for whole-file or stream problems."""

    line: int | None
    reason: str
    field: str | None = None
    is_record: bool = True


ReadItem = RawRecord | RecordProblem


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
    key = "\x1f".join((collapse_whitespace(outlet).casefold(), collapse_whitespace(title or ""), collapse_whitespace(text)))
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def candidate_columns(field_map: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Where each field is looked up: only the mapped column if mapped, else its own name and aliases."""
    return {
        field: (field_map[field],) if field in field_map else (field, *FIELD_ALIASES.get(field, ()))
        for field in MAPPABLE_FIELDS
    }


def _article_row(
    record: RawRecord, columns: Mapping[str, tuple[str, ...]], field_map: Mapping[str, str]
) -> dict[str, object] | RecordProblem:
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
        return RecordProblem(record.line, _missing("outlet", columns, field_map, record.canonical), field="outlet")
    text = normalize_text(_as_text(get("text"), joiner="\n\n") or "")
    if not text:
        return RecordProblem(record.line, _missing("text", columns, field_map, record.canonical), field="text")
    raw_published = get("published")
    try:
        published = parse_published(raw_published)
    except ValueError:
        return RecordProblem(record.line, f"unparseable date {quote_value(raw_published)}", field="published")
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


def checked_article_row(
    record: RawRecord, columns: Mapping[str, tuple[str, ...]], field_map: Mapping[str, str]
) -> dict[str, object] | RecordProblem:
    """_article_row, where a value Python cannot convert (a number too large for a date or for text,
    nesting too deep to print) is that record's reject, never the end of the batch."""
    try:
        return _article_row(record, columns, field_map)
    except (ValueError, OverflowError, RecursionError) as error:
        detail = str(error).splitlines()[0][:_MAX_QUOTED] if str(error) else ""
        return RecordProblem(record.line, f"unusable value ({type(error).__name__}{': ' + detail if detail else ''})")


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
    return SURROGATES.sub("\ufffd", collapse_whitespace(text)) or None


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace as one space, to compare headlines with text."""
    return " ".join(text.split())


def quote_value(value: object) -> str:
    """A value for a reject message: quoted, and cut so one huge field cannot flood the rejects file."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > _MAX_QUOTED:
        text = text[: _MAX_QUOTED - 3] + "..."
    return repr(text)
