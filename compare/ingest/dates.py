"""Publication dates: ISO 8601, RFC 822, epoch seconds or milliseconds, and spelled-out dates, to aware UTC."""

from __future__ import annotations

import email.utils
import re
import warnings
from datetime import date, datetime, timezone


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


_EPOCH = re.compile(r"[-+]?\d+(?:\.\d+)?")
