"""Numbers: counts, distances, money, percentages, durations and ages, with units and words normalised.

"80 km" and "some 50 miles" agree (within 10%); "dozens" is a range (24-99), so it agrees with "30"
and not with "12". Years and model names ("F-35") are not quantities.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from compare.diverge.model import ClaimRef, Divergence, DivergenceSide

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "a dozen": 12, "dozens": 24,
    "hundreds": 200, "thousands": 2000, "several": 3, "scores": 40, "tens of thousands": 20000,
}
# Vague amounts are ranges, so "dozens" agrees with "30" but not with "12", and "hundreds" not with "50".
_VAGUE_RANGES: dict[str, tuple[float, float]] = {
    "several": (3, 9), "dozens": (24, 99), "scores": (40, 99), "hundreds": (200, 999), "thousands": (2000, 9999),
    "tens of thousands": (20000, 99999),
}
_AGE = re.compile(r"\b(?:(?P<hyphen>\d{1,3})-year-old|aged (?P<aged>\d{1,3}))\b", re.IGNORECASE)
_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9}
# Units normalised to one base per dimension, so "80 km" and "50 miles" compare.
_UNITS: dict[str, tuple[str, float]] = {
    "km": ("distance (km)", 1.0), "kilometres": ("distance (km)", 1.0), "kilometers": ("distance (km)", 1.0),
    "kilometre": ("distance (km)", 1.0), "kilometer": ("distance (km)", 1.0),
    "miles": ("distance (km)", 1.609), "mile": ("distance (km)", 1.609),
    "metres": ("distance (km)", 0.001), "meters": ("distance (km)", 0.001), "m": ("distance (km)", 0.001),
    "percent": ("percent", 1.0), "%": ("percent", 1.0), "per cent": ("percent", 1.0),
    "years": ("years", 1.0), "year": ("years", 1.0), "days": ("days", 1.0), "hours": ("hours", 1.0),
    "dollars": ("money (USD)", 1.0), "$": ("money (USD)", 1.0),
}
_NUMBER = re.compile(
    r"(?P<currency>\$)?(?P<value>\d+(?:[.,]\d+)*|" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")\b"
    r"(?:\s+(?P<scale>hundred|thousand|million|billion)\b)?",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"^\s*(?:%|per cent\b|percent\b)", re.IGNORECASE)
_FOLLOWING_WORD = re.compile(r"\s+([A-Za-z][\w'-]*)")
# A counted noun phrase ends at the first of these: "two militia fighters and ..." counts "fighters".
_PHRASE_END = {
    "and", "or", "in", "on", "at", "to", "of", "from", "with", "by", "for", "near", "north", "south", "east",
    "west", "were", "was", "are", "is", "be", "had", "have", "has", "who", "which", "that", "after", "before",
    "since", "said", "say", "says", "remain", "remained", "died", "fled", "left", "will", "would", "could",
}


@dataclass(frozen=True)
class Quantity:
    """A count or measure; `high` is set for a vague amount ("dozens": 24..99), else the value is exact."""

    key: str  # unit dimension or the noun counted
    value: float
    surface: str
    high: float | None = None


def _parse_value(raw: str) -> float:
    lowered = raw.lower()
    if lowered in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[lowered])
    return float(raw.replace(",", ""))


def _counted_words(following: str, limit: int = 3) -> list[str]:
    """The noun phrase after a number, up to a function word, a verb-like word or another number."""
    phrase: list[str] = []
    position = 0
    while len(phrase) < limit:
        match = _FOLLOWING_WORD.match(following, position)
        if not match:
            break
        word = match.group(1).lower()
        if word in _PHRASE_END or word in _WORD_NUMBERS or (phrase and word.endswith("ed")):
            break
        phrase.append(match.group(1))
        position = match.end()
    return phrase


def extract_quantities(text: str) -> list[Quantity]:
    """Counts and measures in a sentence, keyed by unit or counted noun; years and names skipped.

    Only the number itself is consumed, so a skipped year or name ("In 2024 three soldiers...",
    "F-16") never hides the quantity that follows it.
    """
    quantities = []
    for match in _NUMBER.finditer(text):
        start, end = match.span("value")
        before = text[start - 1] if start > 0 else " "
        if before.isalnum() or before == "-" or text[end : end + 1] == "-" and text[end + 1 : end + 2].isalnum():
            continue  # part of a name or code: "F-35", "COVID-19", "MH17"
        value = _parse_value(match.group("value"))
        if match.group("scale"):
            value *= _SCALES[match.group("scale").lower()]
        number_end = match.end()
        vague = _VAGUE_RANGES.get(match.group("value").lower()) if not match.group("scale") else None
        of = re.match(r"\s+of\b", text[number_end:]) if vague or match.group("value").lower() == "a dozen" else None
        following = text[number_end + (of.end() if of else 0) : number_end + 80]  # "dozens of people" counts people
        phrase = _counted_words(following)
        first = phrase[0].lower() if phrase else ""
        if match.group("currency"):
            key, factor, shown = "money (USD)", 1.0, []
        elif _PERCENT.match(following):
            key, factor, shown = "percent", 1.0, ["%"]
        elif first in _UNITS:
            (key, factor), shown = _UNITS[first], phrase[:1]
        elif phrase:
            key, factor, shown = phrase[-1].lower(), 1.0, phrase
        else:
            continue
        is_year = match.group("value").isdigit() and 1900 <= value <= 2100 and not match.group("scale")
        if is_year and key not in ("money (USD)", "percent", "distance (km)", "people"):
            continue
        surface = " ".join([text[match.start() : number_end + (of.end() if of else 0)], *shown]).replace(" %", "%")
        high = vague[1] * factor if vague else None
        quantities.append(Quantity(key=key, value=(vague[0] if vague else value) * factor, surface=surface, high=high))
    for match in _AGE.finditer(text):
        quantities.append(Quantity(key="age", value=float(match.group("hyphen") or match.group("aged")), surface=match.group(0)))
    return quantities


def _same_value(left: float, right: float) -> bool:
    """Within 10%: '80 km' and 'some 50 miles' (80.5 km) agree; rounding is not a divergence."""
    return abs(left - right) <= 0.1 * max(abs(left), abs(right))


def same_quantity(left: Quantity, right: Quantity) -> bool:
    """Exact values within 10%; a vague amount agrees with anything inside its range (10% slack)."""
    if left.high is None and right.high is None:
        return _same_value(left.value, right.value)
    left_low, left_high = left.value, left.high if left.high is not None else left.value
    right_low, right_high = right.value, right.high if right.high is not None else right.value
    return left_low <= right_high * 1.1 and right_low <= left_high * 1.1


def number_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    """Aligned claims whose quantities of the same kind (unit or counted noun) disagree."""
    by_key: dict[str, list[tuple[Quantity, ClaimRef]]] = {}
    for claim in claims:
        for quantity in extract_quantities(claim.text):
            by_key.setdefault(quantity.key, []).append((quantity, claim))
    found = []
    for key, items in by_key.items():
        clusters: list[list[tuple[Quantity, ClaimRef]]] = []
        for item in items:
            for cluster in clusters:
                if same_quantity(cluster[0][0], item[0]):
                    cluster.append(item)
                    break
            else:
                clusters.append([item])
        outlets_per_cluster = [{claim.outlet for _, claim in cluster} for cluster in clusters]
        # Every outlet giving every value ("21 percent ... 17 percent each" in one shared sentence) is agreement.
        same_everywhere = all(outlets == outlets_per_cluster[0] for outlets in outlets_per_cluster)
        if len(clusters) > 1 and len(set().union(*outlets_per_cluster)) > 1 and not same_everywhere:
            sides = tuple(
                DivergenceSide(value=cluster[0][0].surface, claims=tuple(dict.fromkeys(claim for _, claim in cluster)))
                for cluster in clusters
            )
            found.append(Divergence(kind="number", group_id=group_id, subject=key, sides=sides))
    return found


