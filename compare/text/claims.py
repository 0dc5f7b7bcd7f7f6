"""Splitting articles into claims (normalisation for matching lives in compare.text.normalize).

Claims are sentences with character offsets into the article text as stored, so every finding can
point at the exact source span. Splitting is rule-based (abbreviations, quotes, datelines) because
it runs over the whole corpus and must be fast and deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from compare.core.schema import CLAIM_SCHEMA
from compare.core.wires import DATELINE_ACRONYMS
from compare.text.normalize import normalize_for_matching

def words(text: str) -> list[str]:
    return normalize_for_matching(text).split()


# Bump when split_claims gives different claims for the same text: snapshots built with another
# version split every article again instead of reusing their stored claims.
CLAIM_SPLIT_VERSION = 2


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
    lt.col brig.gen u.s.a u.a.e a.m p.m ph.d cpl pvt supt insp sens reps gens cols ave blvd rd univ
    """.split()
)
# Possessive quantifiers and the look-behind keep the scan linear: a run of 100k "!" or spaces is
# tried once, not once per character (each try re-reading the rest of the run was quadratic). They
# change no match: a shorter run or a start inside a run is followed by the same characters.
_BOUNDARY = re.compile(r"(?<![.!?])[.!?]++[\"'”’)\]]*+(?=\s++[\"'“‘(\[]?[A-Z0-9])")

_WIRES = DATELINE_ACRONYMS
# "BAGHDAD (AP) — ", "JERUSALEM, Aug. 20 (Reuters) - ", "GAZA CITY — "
_DATELINE = re.compile(
    rf"^\s*(?:"
    # "BAGHDAD (AP) — ", "JERUSALEM, Aug. 20 (Reuters) - ", "GAZA CITY — "
    rf"[A-Z][A-Z .'\-]{{1,40}}(?:,\s*[A-Z][\w .]{{1,30}})?\s*(?:\((?:{_WIRES})\))?\s*[—–-]{{1,2}}\s+"
    # "(Reuters) - " with the city left out by a republisher
    rf"|\((?:{_WIRES})\)\s*[—–-]{{1,2}}\s+"
    # "RIYADH: ", "DUBAI, UAE: " (Gulf outlets); capitals only, so "Update: ..." is not a dateline
    r"|[A-Z][A-Z .'\-]{1,30}(?:,\s*[A-Z][\w .]{1,30})?:\s+(?=[A-Z\"“])"
    r")"
)
_BOILERPLATE = re.compile(
    r"^[(\[]?\s*(?:sign up|subscribe|click here|click to|read more|read also|also read|see also|recommended for you|"
    r"follow us|share this|share on|advertisement|sponsored|related:|related coverage|watch:|listen:|"
    r"listen to this|download (?:the|our)|join our|get the latest|don't miss|continue reading|"
    r"we use cookies|please enable|the views expressed|terms of (?:use|service)|privacy policy|contact us|"
    r"photo:|photos:|image:|images:|picture:|credit:|file photo|copyright|©|all rights reserved|"
    r"(?:additional )?reporting by|editing by|writing by|compiled by|"
    r"this (?:article|story|report) (?:was|has been|originally|first)|(?:ap|reuters|afp|getty|epa) (?:photo|images?))",
    re.IGNORECASE,
)
# A byline paragraph: "By JANE DOE", "By Jane Doe and John Roe, Associated Press", "By TOI staff".
# A sentence like "By then the crowd had swelled." is not one: names start upper-case, no final stop.
_BYLINE = re.compile(r"^[Bb][Yy]\s+(?:the\s+|[A-Z])[\w.'’\-]*(?:[\s,&]+[\w.'’\-]+){0,9}(?<![.!?])\s*$")
# A photo caption ends with its credit: "(AP Photo/John Roe)", "(Photo: Reuters)", "Credit: Getty Images".
_CAPTION = re.compile(
    r"(?:\((?:[A-Z]\w*\s+)?(?:photo|photos|image|picture|file)\b[^()]{0,80}\)|"
    r"(?:photo|image|picture|credit)s?:\s*[^.]{0,60}|/\s*(?:getty images|afp|reuters|ap|epa)\)?)\s*$",
    re.IGNORECASE,
)
# An unclosed quotation mark would make the rest of a paragraph one claim; past this many characters
# we assume the mark was stray (or the quote runs on into the next paragraph) and split normally.
_MAX_QUOTED_CHARS = 600
_MIN_CLAIM_WORDS = 3
# Bounds on what one article costs every later stage (embedding, alignment, divergence patterns).
# The longest of the 9,389 Baly-sample articles is 76,553 characters (median 4,957) and its longest
# claim 8,531 (a run of sentences with no space after the stops); a crafted 50 MB article or a 1 MB
# sentence is analysed only this far.
MAX_ANALYSED_CHARS = 200_000
# The most claims in one Baly-sample article is 469 (median 34). Reports compare every claim of an
# outlet with every claim of the others, so 20k one-line claims made one report take minutes.
MAX_CLAIMS_PER_ARTICLE = 1_000
# Three words need at least five characters; shorter paragraphs ("  ", "a") are skipped unexamined, so
# 100k one-letter lines cost no more than a normal article of the same size.
_MIN_PARAGRAPH_CHARS = 5
MAX_CLAIM_CHARS = 20_000


class _QuoteState:
    """Open quotation marks in paragraph[:scanned], advanced boundary by boundary.

    Counting from the paragraph start at every boundary re-read the paragraph once per sentence
    (quadratic: 4,000 quoted sentences ran past 600 s); each character is now counted once.
    """

    def __init__(self, paragraph: str) -> None:
        self.paragraph = paragraph
        self.scanned = 0
        self.straight = 0
        self.curly_open = 0
        self.curly_close = 0
        self.last_straight = -1
        self.last_curly = -1

    def advance(self, end: int) -> None:
        paragraph, start = self.paragraph, self.scanned
        self.straight += paragraph.count('"', start, end)
        self.curly_open += paragraph.count("“", start, end)
        self.curly_close += paragraph.count("”", start, end)
        self.last_straight = max(self.last_straight, paragraph.rfind('"', start, end))
        self.last_curly = max(self.last_curly, paragraph.rfind("“", start, end))
        self.scanned = end

    def inside_long_quote_ends_at(self, end: int) -> bool:
        """True when `end` (already scanned) lies inside a quotation opened at most _MAX_QUOTED_CHARS before."""
        straight_open = self.straight % 2 == 1
        curly_open = self.curly_open > self.curly_close
        if not (straight_open or curly_open):
            return False
        opened = max(self.last_straight if straight_open else -1, self.last_curly if curly_open else -1)
        return end - opened <= _MAX_QUOTED_CHARS


def _token_before(paragraph: str, end: int) -> str:
    """The run of non-space characters ending at `end` (or just before a newline there), as `(\\S+)$` finds.

    Walks back only over that token, so the work over all boundaries of a paragraph is linear.
    """
    if end > 0 and paragraph[end - 1] == "\n":  # "$" also matches before a final newline
        end -= 1
    start = end
    while start > 0 and not paragraph[start - 1].isspace():
        start -= 1
    return paragraph[start:end]


def _is_real_boundary(paragraph: str, match: re.Match[str], quotes: _QuoteState) -> bool:
    quotes.advance(match.end())
    if paragraph[match.start()] == ".":
        token = _token_before(paragraph, match.start()).lstrip("\"'“‘(").lower()
        if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
            return False
    # Inside an open quotation, a full stop ends the quoted sentence, not the claim.
    return not quotes.inside_long_quote_ends_at(match.end())


# An embedded social post, as text extraction leaves it: its link ("pic.twitter.com/..."), the embed's
# signature line ("— Jane Roe (@janeroe) May 12, 2019") or Instagram's "A post shared by".
_EMBEDDED_POST = re.compile(
    r"pic\.twitter\.com/|\(@\w{1,15}\)\s+[A-Z][a-z]+\.?\s+\d{1,2},\s+\d{4}\s*$|^A post shared by\b", re.IGNORECASE
)


_MAX_POST_PARAGRAPH = 400


def _is_furniture(paragraph: str) -> bool:
    """Page furniture, not reporting: boilerplate, a byline, a photo caption (ends with its credit), or an
    embedded social post (the outlet showing a post, whose words another outlet is not expected to carry)."""
    return bool(
        _BOILERPLATE.match(paragraph) or _BYLINE.match(paragraph) or _CAPTION.search(paragraph)
        # a post is at most 280 characters and its signature: a longer paragraph holds reporting too
        or (len(paragraph) <= _MAX_POST_PARAGRAPH and _EMBEDDED_POST.search(paragraph))
    )


# A paragraph is a run of lines up to a blank (or whitespace-only) line. "[^\S\n]*+\n" rather than
# "\s*\n": the latter read all following whitespace at every line, quadratic on "  \n" * 100k.
_PARAGRAPH = re.compile(r"[^\n]+(?:\n(?![^\S\n]*+\n)[^\n]+)*")


def _paragraph_spans(text: str, end: int) -> Iterable[tuple[int, int]]:
    for match in _PARAGRAPH.finditer(text, 0, end):
        yield match.start(), match.end()


def _sentence_spans(paragraph: str) -> Iterable[tuple[int, int]]:
    start = 0
    quotes = _QuoteState(paragraph)
    for match in _BOUNDARY.finditer(paragraph):
        if _is_real_boundary(paragraph, match, quotes):
            yield start, match.end()
            start = match.end()
    yield start, len(paragraph)


def _windows(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    """Cut a sentence longer than MAX_CLAIM_CHARS at its last space before each limit (or hard, if none)."""
    while end - start > MAX_CLAIM_CHARS:
        limit = start + MAX_CLAIM_CHARS
        cut = max(text.rfind(" ", start + 1, limit), text.rfind("\n", start + 1, limit))
        cut = cut if cut > start else limit
        yield _trim(text, start, cut)
        start, end = _trim(text, cut, end)
    if start < end:
        yield start, end


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def analysed_length(text: str) -> int:
    """How much of `text` split_claims reads: all of it up to MAX_ANALYSED_CHARS, else up to the last
    paragraph or sentence break before that limit. Callers compare with len(text) to say an article
    was analysed only in part.
    """
    if len(text) <= MAX_ANALYSED_CHARS:
        return len(text)
    for separator in ("\n\n", "\n", ". ", " "):
        cut = text.rfind(separator, MAX_ANALYSED_CHARS // 2, MAX_ANALYSED_CHARS)
        if cut > 0:
            return cut + (1 if separator == ". " else 0)
    return MAX_ANALYSED_CHARS


def split_claims(text: str) -> list[ClaimSpan]:
    """Sentences of `text` that carry a claim: datelines stripped, boilerplate and fragments dropped.

    Linear in the text. Only the first analysed_length(text) characters are read, at most
    MAX_CLAIMS_PER_ARTICLE claims are returned, and a sentence longer than MAX_CLAIM_CHARS becomes
    several claims of at most that length (no news sentence comes near these limits), so every later
    stage gets bounded work per article whatever was ingested; analysed_chars says how far it got.
    """
    claims: list[ClaimSpan] = []
    for paragraph_start, paragraph_end in _paragraph_spans(text, analysed_length(text)):
        paragraph = text[paragraph_start:paragraph_end]
        stripped = paragraph.strip()
        if len(stripped) < _MIN_PARAGRAPH_CHARS or _is_furniture(stripped):
            continue
        for local_start, local_end in _sentence_spans(paragraph):
            sentence_start, sentence_end = _trim(text, paragraph_start + local_start, paragraph_start + local_end)
            for start, end in _windows(text, sentence_start, sentence_end):
                # Slice rather than match(text, start): "^" only anchors at position 0 of the string.
                dateline = _DATELINE.match(text[start:end]) if not claims else None
                if dateline:
                    start += dateline.end()
                sentence = text[start:end]
                if len(sentence.split()) < _MIN_CLAIM_WORDS or _BOILERPLATE.match(sentence) or _EMBEDDED_POST.search(sentence):
                    continue
                claims.append(ClaimSpan(position=len(claims), start=start, end=end, text=sentence))
                if len(claims) == MAX_CLAIMS_PER_ARTICLE:
                    return claims
    return claims


def analysed_chars(text: str, claims: Sequence[ClaimSpan]) -> int:
    """How much of `text` its claims (split_claims(text)) were drawn from: len(text) for every normal
    article; less when the size or the claim limit stopped the analysis, which a report should say."""
    if len(claims) >= MAX_CLAIMS_PER_ARTICLE:
        return claims[-1].end
    return analysed_length(text)


def claims_frame(articles: pl.DataFrame, *, fact_units: bool = False) -> pl.DataFrame:
    """CLAIM_SCHEMA rows for every article in `articles` (needs columns id, outlet, text): sentences,
    or with `fact_units` the finer units of split_fact_units."""
    rows: dict[str, list[object]] = {name: [] for name in CLAIM_SCHEMA}
    split = split_fact_units if fact_units else split_claims
    for article_id, outlet, text in articles.select("id", "outlet", "text").iter_rows():
        for claim in split(text):
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


# Inside a sentence, where a second fact usually starts: a semicolon, or a comma before a
# conjunction that opens a new clause ("..., but the council refused").
_UNIT_BREAK = re.compile(r";\s+|,\s+(?=(?:but|while|whereas|although|though|and then|after which)\s)|\s+[—–]\s+(?=[a-z])")
_MIN_UNIT_WORDS = 6


def split_fact_units(text: str) -> list[ClaimSpan]:
    """Claims of `text` split further into fact units: a long sentence with two facts becomes two
    claims (at a semicolon or a clause-opening ", but"/", while"), each with offsets into `text`.

    A piece shorter than 6 words stays with its neighbour: "..., but he declined." is not a fact alone.
    Not the report's default: on the gold events (leave-one-event-out, benchmarks/train_samefact.py
    --fact-units) alignment F1 fell from 0.536 to 0.512 and the omission wrong rate rose from 0.20 to
    0.27, because the second half of a sentence loses the subject that says which fact it is.
    """
    units: list[ClaimSpan] = []
    for claim in split_claims(text):
        pieces: list[tuple[int, int]] = []
        start = claim.start
        for match in _UNIT_BREAK.finditer(claim.text):
            end = claim.start + match.start()
            if len(text[start:end].split()) >= _MIN_UNIT_WORDS and len(claim.text[match.end():].split()) >= _MIN_UNIT_WORDS:
                pieces.append((start, end))
                start = claim.start + match.end()
        pieces.append((start, claim.end))
        for piece_start, piece_end in pieces:
            piece_start, piece_end = _trim(text, piece_start, piece_end)
            units.append(ClaimSpan(position=len(units), start=piece_start, end=piece_end, text=text[piece_start:piece_end]))
    return units
