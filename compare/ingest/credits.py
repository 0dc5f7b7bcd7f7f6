"""Wire-credit detection: which wire agency (if any) an article credits, from its dateline, byline or sign-off.

The agencies and their spellings live in compare.core.wires; this module only finds them in article text.
"""

from __future__ import annotations

import re

from compare.core.wires import CREDIT_SPELLINGS


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
