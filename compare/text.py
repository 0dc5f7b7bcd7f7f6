"""Text handling shared by every stage: normalisation for matching, and splitting articles into claims.

Claims are sentences with character offsets into the article text as stored, so every finding can
point at the exact source span. Splitting is rule-based (abbreviations, quotes, datelines) because
it runs over the whole corpus and must be fast and deterministic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from compare.schema import CLAIM_SCHEMA

_QUOTE_TRANSLATION = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'"})
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def normalize_for_matching(text: str) -> str:
    """Case-, accent-width-, quote- and punctuation-insensitive form used for shingles and cache keys.

    Idempotent: normalize_for_matching(normalize_for_matching(x)) == normalize_for_matching(x).
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTE_TRANSLATION).casefold()
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def words(text: str) -> list[str]:
    return normalize_for_matching(text).split()


@dataclass(frozen=True)
class ClaimSpan:
    """One sentence of an article; `start`/`end` index the article text, text == article[start:end]."""

    position: int
    start: int
    end: int
    text: str


# Tokens that end in a period without ending a sentence. Lower-cased, without the final period.
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof gen lt col sgt capt maj cmdr adm brig rep sen gov pres st jr sr rev hon
    inc co corp ltd bros no nos vs etc al approx dept est fig jan feb mar apr jun jul aug sep sept
    oct nov dec mt ft u.s u.k u.n e.g i.e a.k.a lt.-col lt.-gen maj.-gen brig.-gen
    """.split()
)
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_TOKEN_BEFORE = re.compile(r"(\S+)$")

_WIRES = r"AP|Reuters|AFP|JNS|TPS|dpa|DPA|Xinhua|UPI|ANI|Bloomberg|AA|WAFA|SPA|KUNA|IRNA|Tasnim"
# "BAGHDAD (AP) — ", "JERUSALEM, Aug. 20 (Reuters) - ", "GAZA CITY — "
_DATELINE = re.compile(
    rf"^\s*[A-Z][A-Z .'\-]{{1,40}}(?:,\s*[A-Z][\w .]{{1,30}})?\s*(?:\((?:{_WIRES})\))?\s*[—–-]{{1,2}}\s+"
)
_BOILERPLATE = re.compile(
    r"^(?:sign up|subscribe|click here|read more|follow us|share this|advertisement|related:|"
    r"photo:|image:|copyright|all rights reserved|reporting by|editing by|writing by|"
    r"this article (?:was|has been|originally)|\(?(?:ap|reuters|afp) photo)",
    re.IGNORECASE,
)
_MIN_CLAIM_WORDS = 3


def _is_real_boundary(paragraph: str, match: re.Match[str]) -> bool:
    before = paragraph[: match.start() + 1]
    token_match = _TOKEN_BEFORE.search(before[:-1]) if before.endswith(".") else None
    if token_match:
        token = token_match.group(1).lstrip("\"'“‘(").lower()
        if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
            return False
    # Inside an open quotation, a full stop ends the quoted sentence, not the claim.
    head = paragraph[: match.end()]
    straight_open = head.count('"') % 2 == 1
    curly_open = head.count("“") > head.count("”")
    return not (straight_open or curly_open)


def _paragraph_spans(text: str) -> Iterable[tuple[int, int]]:
    for match in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", text):
        yield match.start(), match.end()


def _sentence_spans(paragraph: str) -> Iterable[tuple[int, int]]:
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        if _is_real_boundary(paragraph, match):
            yield start, match.end()
            start = match.end()
    yield start, len(paragraph)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_claims(text: str) -> list[ClaimSpan]:
    """Sentences of `text` that carry a claim: datelines stripped, boilerplate and fragments dropped."""
    claims: list[ClaimSpan] = []
    for paragraph_start, paragraph_end in _paragraph_spans(text):
        paragraph = text[paragraph_start:paragraph_end]
        if _BOILERPLATE.match(paragraph.strip()):
            continue
        for local_start, local_end in _sentence_spans(paragraph):
            start, end = _trim(text, paragraph_start + local_start, paragraph_start + local_end)
            # Slice rather than match(text, start): "^" only anchors at position 0 of the string.
            dateline = _DATELINE.match(text[start:end]) if not claims else None
            if dateline:
                start += dateline.end()
            sentence = text[start:end]
            if len(sentence.split()) < _MIN_CLAIM_WORDS or _BOILERPLATE.match(sentence):
                continue
            claims.append(ClaimSpan(position=len(claims), start=start, end=end, text=sentence))
    return claims


def claims_frame(articles: pl.DataFrame) -> pl.DataFrame:
    """CLAIM_SCHEMA rows for every article in `articles` (needs columns id, outlet, text)."""
    rows: dict[str, list[object]] = {name: [] for name in CLAIM_SCHEMA}
    for article_id, outlet, text in articles.select("id", "outlet", "text").iter_rows():
        for claim in split_claims(text):
            rows["claim_id"].append(f"{article_id}:{claim.position}")
            rows["article_id"].append(article_id)
            rows["outlet"].append(outlet)
            rows["position"].append(claim.position)
            rows["start"].append(claim.start)
            rows["end"].append(claim.end)
            rows["text"].append(claim.text)
    return pl.DataFrame(rows, schema=CLAIM_SCHEMA)


def lede(text: str, max_claims: int = 2) -> str:
    """The first claims of an article: what story grouping compares besides the title."""
    return " ".join(claim.text for claim in split_claims(text)[:max_claims])
