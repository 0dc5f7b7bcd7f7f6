"""Where aligned claims disagree: numbers, named actors, attribution and hedging.

Each detector looks at one claim group (claims of several outlets aligned as the same claim) and
returns a Divergence when the outlets' claims carry different values of its kind. Every side of a
divergence keeps the exact claims (outlet, article, offsets) that carry that value.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# ---------------------------------------------------------------- data model


@dataclass(frozen=True)
class ClaimRef:
    """A claim as the report shows it: text plus where it sits in which article."""

    claim_id: str
    article_id: str
    outlet: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class DivergenceSide:
    """One version of the disputed detail (e.g. '80 km') and the claims that carry it."""

    value: str
    claims: tuple[ClaimRef, ...]

    @property
    def outlets(self) -> tuple[str, ...]:
        return tuple(sorted({claim.outlet for claim in self.claims}))


@dataclass(frozen=True)
class Divergence:
    kind: str  # "number" | "actor" | "attribution" | "hedge"
    group_id: str
    subject: str  # what the sides disagree about, e.g. "distance (km)" or "who is blamed"
    sides: tuple[DivergenceSide, ...]


# ---------------------------------------------------------------- numbers

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "a dozen": 12, "dozens": 24,
    "hundreds": 200, "thousands": 2000,
}
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
    key: str  # unit dimension or the noun counted
    value: float
    surface: str


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
        following = text[number_end : number_end + 80]
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
        surface = " ".join([text[match.start() : number_end], *shown]).replace(" %", "%")
        quantities.append(Quantity(key=key, value=value * factor, surface=surface))
    return quantities


def _same_value(left: float, right: float) -> bool:
    """Within 10%: '80 km' and 'some 50 miles' (80.5 km) agree; rounding is not a divergence."""
    return abs(left - right) <= 0.1 * max(abs(left), abs(right))


def number_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    by_key: dict[str, list[tuple[Quantity, ClaimRef]]] = {}
    for claim in claims:
        for quantity in extract_quantities(claim.text):
            by_key.setdefault(quantity.key, []).append((quantity, claim))
    found = []
    for key, items in by_key.items():
        clusters: list[list[tuple[Quantity, ClaimRef]]] = []
        for item in items:
            for cluster in clusters:
                if _same_value(cluster[0][0].value, item[0].value):
                    cluster.append(item)
                    break
            else:
                clusters.append([item])
        outlets_per_cluster = [{claim.outlet for _, claim in cluster} for cluster in clusters]
        if len(clusters) > 1 and len(set().union(*outlets_per_cluster)) > 1:
            sides = tuple(
                DivergenceSide(value=cluster[0][0].surface, claims=tuple(dict.fromkeys(claim for _, claim in cluster)))
                for cluster in clusters
            )
            found.append(Divergence(kind="number", group_id=group_id, subject=key, sides=sides))
    return found


# ---------------------------------------------------------------- actors

_NOT_ACTORS = {
    "a", "an", "the", "it", "he", "she", "they", "we", "i", "in", "on", "at", "but", "and", "as", "after", "before",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
    "this", "that", "these", "those", "there", "his", "her", "its", "their", "several", "some", "no", "one",
}
_TOKEN = re.compile(r"[A-Za-z][\w'’-]*|\d[\d,.]*|[^\w\s]")


def _is_name(token: str) -> bool:
    return token[:1].isupper() and token.lower() not in _NOT_ACTORS


def _names(tokens: Sequence[str]) -> str:
    return " ".join(token for token in tokens if _is_name(token) or token.lower() in {"the", "of"}).strip()


def _equivalent_names(left: str, right: str) -> bool:
    """'Iraq'/'Iraqi', 'Shiite'/'Shia': spelling or demonym variants, not different actors."""
    left_key, right_key = left.lower().removeprefix("the "), right.lower().removeprefix("the ")
    if left_key.startswith(right_key) or right_key.startswith(left_key):
        return True
    return left_key[:3] == right_key[:3] and difflib.SequenceMatcher(None, left_key, right_key).ratio() >= 0.6


def actor_swaps(left: str, right: str, min_overlap: float = 0.5) -> list[tuple[str, str]]:
    """Named actors replaced between two near-parallel sentences ('blamed the United States' / 'blamed Israel').

    Only sentences whose words mostly match are compared, so a loose paraphrase does not count.
    """
    left_tokens, right_tokens = _TOKEN.findall(left), _TOKEN.findall(right)
    matcher = difflib.SequenceMatcher(None, [t.lower() for t in left_tokens], [t.lower() for t in right_tokens], autojunk=False)
    if matcher.ratio() < min_overlap:
        return []
    swaps = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace":
            continue
        # A different speaker before "said" is a different source, which attribution covers.
        if _FOLLOWED_BY_SAY.match(" ".join(left_tokens[i2 : i2 + 1])):
            continue
        left_name, right_name = _names(left_tokens[i1:i2]), _names(right_tokens[j1:j2])
        if not any(_is_name(t) for t in left_tokens[i1:i2]) or not any(_is_name(t) for t in right_tokens[j1:j2]):
            continue
        if left_name and right_name and not _equivalent_names(left_name, right_name):
            swaps.append((left_name, right_name))
    return swaps


def actor_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    sides: dict[str, list[ClaimRef]] = {}
    for index, left in enumerate(claims):
        for right in claims[index + 1 :]:
            if left.outlet == right.outlet:
                continue
            for left_name, right_name in actor_swaps(left.text, right.text):
                sides.setdefault(left_name, []).append(left)
                sides.setdefault(right_name, []).append(right)
    if len(sides) < 2:
        return []
    built = tuple(DivergenceSide(value=name, claims=tuple(dict.fromkeys(refs))) for name, refs in sides.items())
    return [Divergence(kind="actor", group_id=group_id, subject="named actor", sides=built)]


# ---------------------------------------------------------------- attribution and hedging

_SAY_VERBS = r"(?:said|says|say|told|tells|reported|reports|claimed|claims|stated|added|confirmed|announced|denied|denies|insisted)"
_ATTRIBUTION = re.compile(
    r"according to (?P<according>[^,.;]+)"
    rf"|(?P<said_by>(?:[\w'’-]+\s+){{1,4}}?){_SAY_VERBS}\b"
    r"|(?P<citing>citing [^,.;]+)"
    r"|(?P<claimed>\b(?:claimed|alleged|asserted)\b)",
    re.IGNORECASE,
)
_SPEAKER_TRIM = re.compile(r"^(?:(?:the|a|an|and|but|that|which|while|as)\s+)+", re.IGNORECASE)
_FOLLOWED_BY_SAY = re.compile(rf"^\s*{_SAY_VERBS}\b", re.IGNORECASE)
HEDGES: tuple[str, ...] = (
    "reportedly", "allegedly", "apparently", "purportedly", "possibly", "likely", "probably", "presumably",
    "suspected", "believed to", "thought to", "appears to", "appeared to", "may have", "might have",
    "could have", "unconfirmed", "unverified", "it is unclear",
)
_HEDGE = re.compile(r"\b(" + "|".join(re.escape(h) for h in HEDGES) + r")\b", re.IGNORECASE)


def attribution_of(text: str) -> str | None:
    """Who a claim is attributed to ('Western diplomatic sources'), or None when stated as fact."""
    match = _ATTRIBUTION.search(text)
    if not match:
        return None
    for name in ("according", "said_by", "citing"):
        if match.group(name):
            return _SPEAKER_TRIM.sub("", match.group(name).strip()) or match.group(name).strip()
    return "claimed"


def hedges_of(text: str) -> tuple[str, ...]:
    return tuple(sorted({match.group(1).lower() for match in _HEDGE.finditer(text)}))


def _presence_divergence(
    kind: str, subject: str, group_id: str, claims: Sequence[ClaimRef], value_of: Callable[[str], str | None], absent: str
) -> list[Divergence]:
    with_value: dict[str, list[ClaimRef]] = {}
    without: list[ClaimRef] = []
    for claim in claims:
        value = value_of(claim.text)
        (with_value.setdefault(value, []) if value else without).append(claim)
    present_outlets = {claim.outlet for refs in with_value.values() for claim in refs}
    absent_outlets = {claim.outlet for claim in without} - present_outlets
    if not with_value or not absent_outlets:
        return []
    sides = [DivergenceSide(value=value, claims=tuple(refs)) for value, refs in with_value.items()]
    sides.append(DivergenceSide(value=absent, claims=tuple(c for c in without if c.outlet in absent_outlets)))
    return [Divergence(kind=kind, group_id=group_id, subject=subject, sides=tuple(sides))]


def attribution_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    return _presence_divergence(
        "attribution", "attributed vs stated as fact", group_id, claims,
        lambda text: (f"attributed to {who}" if (who := attribution_of(text)) else None), "stated as fact",
    )


def hedge_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    return _presence_divergence(
        "hedge", "hedged vs asserted", group_id, claims,
        lambda text: ", ".join(hedges_of(text)) or None, "no hedge",
    )


DETECTORS: tuple[Callable[[str, Sequence[ClaimRef]], list[Divergence]], ...] = (
    number_divergences,
    actor_divergences,
    attribution_divergences,
    hedge_divergences,
)


def find_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    """All detectors on one claim group; groups carried by a single outlet cannot diverge."""
    if len({claim.outlet for claim in claims}) < 2:
        return []
    return [divergence for detector in DETECTORS for divergence in detector(group_id, claims)]
