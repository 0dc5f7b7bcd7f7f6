"""Tokens shared by the detectors, quoted passages, and the word-level diff that the HTML highlighting uses.

Everything here is linear in the text it is given (callers cap that text; `differing_spans` caps the
compared tokens itself), so a crafted claim cannot make a report slow.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

# Bounded runs ({0,60}): a 20,000-character token is read in pieces, never re-scanned per position.
TOKEN = re.compile(r"[A-Za-z][\w'’-]{0,60}|\d[\d,.]{0,30}|[^\w\s]")
SAY_VERBS = r"(?:said|says|say|told|tells|reported|reports|claimed|claims|stated|added|confirmed|announced|denied|denies|insisted)"
FOLLOWED_BY_SAY = re.compile(rf"^\s*{SAY_VERBS}\b", re.IGNORECASE)
# Most tokens a word diff compares: difflib is quadratic in the worst case (one word repeated), so the
# diff reads at most this many tokens of each side; sentences are far shorter (median ~30 tokens, rarely over 100).
MAX_DIFF_TOKENS = 200

STOPWORDS = frozenset(
    """a an the of to in on at for with by from as and or but nor is was were be been being are am that this these
    those it its their his her hers him them they he she we us our you your i me my which who whom whose what when
    where while after before into over under than then there here has had have having will would could should may
    might can shall must do does did not no so also very more most some any all each other such only just about
    up out if because though although said says say told also mr mrs ms dr one two three""".split()
)
_OPEN, _CLOSE = "“‘«", "”’»"


def quote_spans(text: str) -> list[tuple[int, int]]:
    """Character spans inside quotation marks (“...”, "..."), found in one pass.

    An apostrophe (’ inside a word) is not a quote mark; an unclosed quote runs to the end of the text.
    """
    spans: list[tuple[int, int]] = []
    start: int | None = None
    straight = False
    for index, char in enumerate(text):
        if char == '"':
            if start is None:
                start, straight = index + 1, True
            elif straight:
                spans.append((start, index))
                start = None
        elif char == "“" and start is None:
            start, straight = index + 1, False
        elif char == "”" and start is not None and not straight:
            spans.append((start, index))
            start = None
    if start is not None and len(text) - start > 0:
        spans.append((start, len(text)))
    return spans


def outside_quotes(text: str) -> str:
    """The text with quoted passages blanked (same length, so offsets still hold): the outlet's own words."""
    chars = list(text)
    for start, end in quote_spans(text):
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def content_words(text: str) -> frozenset[str]:
    """Lower-cased words of 3+ letters that are not function words, cut to 6 letters (a crude stem)."""
    return frozenset(
        token.lower()[:6] for token in TOKEN.findall(text) if token[:1].isalpha() and len(token) >= 3 and token.lower() not in STOPWORDS
    )


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of TOKEN matches, so a diff over tokens maps back to offsets in `text`."""
    return [match.span() for match in TOKEN.finditer(text)]


def opcodes(left: Sequence[str], right: Sequence[str]) -> tuple[float, list[tuple[str, int, int, int, int]]]:
    """Case-insensitive token alignment of at most MAX_DIFF_TOKENS tokens a side: ratio and difflib opcodes."""
    left, right = left[:MAX_DIFF_TOKENS], right[:MAX_DIFF_TOKENS]
    # autojunk: a token making up over 1% of a 200+ token side is skipped as an anchor, so a crafted
    # repetition ("said" x 400) costs about what a normal pair does; sentences under 200 tokens are unaffected.
    matcher = difflib.SequenceMatcher(None, [t.lower() for t in left], [t.lower() for t in right], autojunk=True)
    return matcher.ratio(), matcher.get_opcodes()


def differing_spans(text: str, other: str) -> list[tuple[int, int]]:
    """Character spans of `text` whose words are not in `other` (replaced or inserted), merged.

    What the HTML report highlights when it shows two aligned claims side by side. Only the first
    MAX_DIFF_TOKENS tokens of each text are compared; nothing past them is highlighted.
    """
    spans = [match.span() for _, match in zip(range(MAX_DIFF_TOKENS), TOKEN.finditer(text))]
    tokens = [text[start:end] for start, end in spans]
    other_tokens = [match.group(0) for _, match in zip(range(MAX_DIFF_TOKENS), TOKEN.finditer(other))]
    _, codes = opcodes(tokens, other_tokens)
    found: list[tuple[int, int]] = []
    for tag, i1, i2, _j1, _j2 in codes:
        if tag in ("replace", "delete") and i2 > i1:
            start, end = spans[i1][0], spans[i2 - 1][1]
            if found and start - found[-1][1] <= 1:
                found[-1] = (found[-1][0], end)
            else:
                found.append((start, end))
    return found
