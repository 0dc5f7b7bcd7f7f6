"""Numbers: different figures for the same quantity (same unit or counted thing, said of the same
thing), with units, number words and bounds ("more than 20", "nearly 7") normalised.

Two figures are the same quantity only when their unit or counted noun is the same and the words
that govern them overlap ("won by 20 points" and "lead in polling by 7 points" are two quantities).
A figure one outlet gives that the other's claim also holds anywhere is agreement, so a sentence's
own "64% ... 30%" is never a finding. One pass over the claim's tokens: linear, bounded by the cap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from compare.diverge.model import ClaimRef, DivergeConfig, Divergence
from compare.diverge.pairs import PairFinding, bounded, cross_pairs, gather
from compare.diverge.tokens import STOPWORDS, TOKEN

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12, "dozens": 24,
    "hundreds": 200, "thousands": 2000, "several": 3, "scores": 40,
}
# Vague amounts are ranges, so "dozens" agrees with "30" but not with "12", and "hundreds" not with "50".
_VAGUE_RANGES: dict[str, tuple[float, float]] = {
    "several": (3, 9), "dozens": (24, 99), "scores": (40, 99), "hundreds": (200, 999), "thousands": (2000, 9999),
}
MONEY = "money (USD)"
_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
# Units normalised to one base per dimension, so "80 km" and "50 miles" compare.
_UNITS: dict[str, tuple[str, float]] = {
    "km": ("distance (km)", 1.0), "kilometres": ("distance (km)", 1.0), "kilometers": ("distance (km)", 1.0),
    "kilometre": ("distance (km)", 1.0), "kilometer": ("distance (km)", 1.0),
    "miles": ("distance (km)", 1.609), "mile": ("distance (km)", 1.609),
    "metres": ("distance (km)", 0.001), "meters": ("distance (km)", 0.001), "m": ("distance (km)", 0.001),
    "percent": ("percent", 1.0), "%": ("percent", 1.0),
    "years": ("years", 1.0), "year": ("years", 1.0), "days": ("days", 1.0), "hours": ("hours", 1.0),
    "dollars": (MONEY, 1.0),
}
# Bounds written before a figure: (low factor, high factor) around it.
_BOUNDS: dict[str, tuple[float, float]] = {
    "more than": (1.0, float("inf")), "over": (1.0, float("inf")), "at least": (1.0, float("inf")), "above": (1.0, float("inf")),
    "nearly": (0.85, 1.0), "almost": (0.85, 1.0), "about": (0.85, 1.15), "around": (0.85, 1.15), "roughly": (0.85, 1.15),
    "some": (0.85, 1.15), "approximately": (0.85, 1.15), "up to": (0.0, 1.0), "less than": (0.0, 1.0),
    "fewer than": (0.0, 1.0), "under": (0.0, 1.0), "below": (0.0, 1.0),
}
_MONTHS = frozenset("jan jan. january feb feb. february mar mar. march apr apr. april may june jul jul. july aug aug. august "
                    "sep sep. sept sept. september oct oct. october nov nov. november dec dec. december".split())
# A counted noun phrase ends at the first of these: "two militia fighters and ..." counts "fighters".
_PHRASE_END = {
    "and", "or", "in", "on", "at", "to", "of", "from", "with", "by", "for", "near", "north", "south", "east",
    "west", "were", "was", "are", "is", "be", "had", "have", "has", "who", "which", "that", "after", "before",
    "since", "said", "say", "says", "remain", "remained", "died", "fled", "left", "will", "would", "could", "than",
}
_CONTEXT_TOKENS = 6  # words before a figure that say what it measures ("won by", "lead in polling by")
_AGE = re.compile(r"\b(\d{1,3})-year-old\b", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    """A count or measure between `value` and `high` (equal for an exact figure), with what it measures."""

    key: str  # unit dimension or the noun counted
    value: float
    surface: str
    high: float | None = None
    context: frozenset[str] = frozenset()  # content words governing it, cut to 6 letters
    nearest: str = ""  # the content word just before it ("won" in "won by 20 points")
    # for money, what it is an amount of: the last word of the noun run after "of", "in", "worth of" or
    # "for" ("goods" in "$200 billion of Chinese goods"); "" when the sentence does not say
    spent_on: str = ""

    @property
    def upper(self) -> float:
        return self.value if self.high is None else self.high


def _number(token: str) -> float | None:
    raw = token.rstrip(".,").replace(",", "")
    if raw.count(".") > 1 or len(raw) > 15:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def extract_quantities(text: str, *, max_chars: int = 1200) -> list[Quantity]:
    """Counts and measures in a claim (its first `max_chars` characters), keyed by unit or counted noun.

    Years, dates, ordinals and names with digits ("F-35", "MH17", "1st") are not quantities.
    """
    text = text[:max_chars]
    matches = list(TOKEN.finditer(text))
    tokens = [match.group(0) for match in matches]
    lower = [token.lower() for token in tokens]
    quantities = []
    for i, token in enumerate(tokens):
        start, end = matches[i].span()
        vague = None
        if token[:1].isdigit():
            if (start and (text[start - 1].isalnum() or text[start - 1] == "-")) or text[end : end + 1].isalpha():
                continue  # part of a name or code: "F-35", "MH17", "1st"
            if text[end : end + 1] == "-" and text[end + 1 : end + 2].isalnum():
                continue  # "20-year-old" (ages below), "3-2"
            value = _number(token)
            if value is None or (i and lower[i - 1] in _MONTHS):
                continue
        elif lower[i] in _WORD_NUMBERS and not (lower[i] in ("hundred", "dozen") and i and lower[i - 1] not in ("a", "one")):
            value = float(_WORD_NUMBERS[lower[i]])
            vague = _VAGUE_RANGES.get(lower[i])
        else:
            continue
        j = i + 1
        if j < len(tokens) and lower[j] in _SCALES:
            value *= _SCALES[lower[j]]
            vague, j = None, j + 1
        if vague and j < len(tokens) and lower[j] == "of":
            j += 1  # "dozens of people" counts people
        currency = i > 0 and tokens[i - 1] == "$"
        phrase = []
        while j < len(tokens) and len(phrase) < 3 and tokens[j][:1].isalpha() and lower[j] not in _PHRASE_END and lower[j] not in _WORD_NUMBERS:
            if phrase and lower[j].endswith("ed"):
                break
            phrase.append(tokens[j])
            j += 1
        if j < len(tokens) and tokens[j] == "%" and not phrase:
            phrase = ["%"]
        first = phrase[0].lower() if phrase else ""
        spent_on = ""
        if currency:
            key, factor, shown = MONEY, 1.0, []
            spent_on = _money_object(lower, j)
        elif first in ("percent", "%") or (first == "per" and len(phrase) > 1 and phrase[1].lower() == "cent"):
            key, factor, shown = "percent", 1.0, ["%"]
        elif first in _UNITS:
            (key, factor), shown = _UNITS[first], phrase[:1]
        elif phrase:
            key, factor, shown = phrase[-1].lower(), 1.0, phrase
        else:
            continue
        is_year = token.isdigit() and 1900 <= value <= 2100 and len(token) == 4
        if is_year and key not in (MONEY, "percent", "distance (km)"):
            continue
        low_factor, high_factor = 1.0, 1.0
        two = " ".join(lower[max(0, i - 2) : i]) if i >= 2 else ""
        bound = two if two in _BOUNDS else (lower[i - 1] if i and lower[i - 1] in _BOUNDS else None)
        if bound:
            low_factor, high_factor = _BOUNDS[bound]
        nearest = next((w[:6] for w in reversed(lower[max(0, i - _CONTEXT_TOKENS) : i]) if _governing(w)), "")
        context = frozenset(word[:6] for word in lower[max(0, i - _CONTEXT_TOKENS) : i] if _governing(word))
        low, high = (vague if vague else (value, value))
        scale = [lower[i + 1]] if i + 1 < len(tokens) and lower[i + 1] in _SCALES else []
        surface = " ".join([*([bound] if bound else []), ("$" if currency else "") + token, *scale, *shown]).replace(" %", "%")
        quantities.append(Quantity(
            key=key, value=low * factor * low_factor, surface=surface,
            high=None if (high == low and low_factor == high_factor == 1.0) else high * factor * high_factor, context=context,
            nearest=nearest, spent_on=spent_on,
        ))
    for match in _AGE.finditer(text):
        quantities.append(Quantity(key="age", value=float(match.group(1)), surface=match.group(0)))
    return quantities


_MONEY_LINKS = frozenset({"of", "in", "for", "worth", "on"})


def _governing(word: str) -> bool:
    """A content word that may say what a figure measures; not another figure's unit or number
    ("25 percent on $200 billion": "percent" belongs to the 25)."""
    return (
        word[:1].isalpha() and len(word) >= 3 and word not in STOPWORDS and word not in _BOUNDS and word not in ("than", "least")
        and word not in _UNITS and word not in _WORD_NUMBERS and word not in _SCALES and word != "per"
    )


def _money_object(lower: list[str], j: int) -> str:
    """What an amount of money is of: after "of"/"in"/"worth of"/"for", the last word of the noun run
    ("$250 billion worth of Chinese imports" -> "import"), cut to 6 letters; "" when none follows."""
    while j < len(lower) and lower[j] in _MONEY_LINKS:
        j += 1
    if j == 0 or lower[j - 1] not in _MONEY_LINKS:
        return ""
    run = []
    while j < len(lower) and lower[j][:1].isalpha() and lower[j] not in STOPWORDS and lower[j] not in _PHRASE_END and len(run) < 4:
        run.append(lower[j])
        j += 1
    return run[-1].removesuffix("s")[:6] if run else ""


def same_quantity(left: Quantity, right: Quantity) -> bool:
    """Do two figures agree? Exact values within 10% ('80 km' and 'some 50 miles'), ranges when they overlap."""
    return left.value <= right.upper * 1.1 and right.value <= left.upper * 1.1 or (
        abs(left.value - right.value) <= 0.1 * max(abs(left.value), abs(right.value))
    )


def number_divergences(group_id: str, claims: Sequence[ClaimRef], *, config: DivergeConfig = DivergeConfig()) -> list[Divergence]:
    """Figures for the same quantity (same key, overlapping governing words) that disagree across outlets."""
    items = [(claim, extract_quantities(claim.text, max_chars=config.max_chars)) for claim in bounded(claims)]
    found = []

    def stated_together(first: Quantity, second: Quantity) -> bool:
        """Some claim of the group gives both figures ("outraising him $5.4 million to $200,000"):
        they are two quantities, not two versions of one."""
        return any(
            any(same_quantity(first, q) for q in quantities) and any(same_quantity(second, q) for q in quantities)
            for _, quantities in items
        )

    for (left, mine), (right, theirs) in cross_pairs(items):
        if left.claim_id > right.claim_id:
            continue
        for quantity in mine:
            same_key = [other for other in theirs if other.key == quantity.key]
            if any(same_quantity(quantity, other) for other in same_key):
                continue  # the other claim gives this figure too
            # the same quantity: the word governing both figures is the same, or two governing words are shared
            # (for money, two governing words: "total", "cost" or "spend" next to an amount says little of what it is)
            rivals = [
                other for other in same_key
                if (quantity.key != MONEY and quantity.nearest and quantity.nearest == other.nearest) or len(quantity.context & other.context) >= 2
            ]
            # amounts of money of different things ("$200 billion of goods", "$540 billion in goods we imported"
            # vs "$50 billion" of purchases) are different quantities
            rivals = [other for other in rivals if not (quantity.spent_on and other.spent_on and quantity.spent_on != other.spent_on)]
            if not rivals or any(any(same_quantity(rival, own) for own in mine) for rival in rivals):
                continue
            rivals = [rival for rival in rivals if not stated_together(quantity, rival)]
            if not rivals:
                continue
            rival = rivals[0]
            overlap = len(quantity.context & rival.context)
            confidence = 0.55 + 0.1 * min(overlap, 2)
            found.append(PairFinding(quantity.key, quantity.surface, left, rival.surface, right, confidence))
    return gather("number", group_id, found, config)
