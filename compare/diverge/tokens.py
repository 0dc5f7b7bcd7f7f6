"""Tokens shared by the detectors, and the word-level diff that framing and the HTML highlighting use."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

TOKEN = re.compile(r"[A-Za-z][\w'’-]*|\d[\d,.]*|[^\w\s]")
SAY_VERBS = r"(?:said|says|say|told|tells|reported|reports|claimed|claims|stated|added|confirmed|announced|denied|denies|insisted)"
FOLLOWED_BY_SAY = re.compile(rf"^\s*{SAY_VERBS}\b", re.IGNORECASE)


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of TOKEN matches, so a diff over tokens maps back to offsets in `text`."""
    return [match.span() for match in TOKEN.finditer(text)]


def opcodes(left: Sequence[str], right: Sequence[str]) -> tuple[float, list[tuple[str, int, int, int, int]]]:
    """Case-insensitive token alignment: similarity ratio and difflib opcodes."""
    matcher = difflib.SequenceMatcher(None, [t.lower() for t in left], [t.lower() for t in right], autojunk=False)
    return matcher.ratio(), matcher.get_opcodes()


def differing_spans(text: str, other: str) -> list[tuple[int, int]]:
    """Character spans of `text` whose words are not in `other` (replaced or inserted), merged.

    What the HTML report highlights when it shows two aligned claims side by side.
    """
    spans = token_spans(text)
    tokens = [text[start:end] for start, end in spans]
    _, codes = opcodes(tokens, TOKEN.findall(other))
    found: list[tuple[int, int]] = []
    for tag, i1, i2, _j1, _j2 in codes:
        if tag in ("replace", "delete") and i2 > i1:
            start, end = spans[i1][0], spans[i2 - 1][1]
            if found and start - found[-1][1] <= 1:
                found[-1] = (found[-1][0], end)
            else:
                found.append((start, end))
    return found
