"""Actors: aligned claims naming different agents or targets ("blamed the United States" / "blamed Israel")."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from compare.diverge.framing import lexicon_terms
from compare.diverge.model import ClaimRef, Divergence, DivergenceSide
from compare.diverge.tokens import FOLLOWED_BY_SAY, TOKEN

_NOT_ACTORS = {
    "a", "an", "the", "it", "he", "she", "they", "we", "i", "in", "on", "at", "but", "and", "as", "after", "before",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
    "this", "that", "these", "those", "there", "his", "her", "its", "their", "several", "some", "no", "one",
}


def _is_name(token: str) -> bool:
    return token[:1].isupper() and token.lower() not in _NOT_ACTORS


def _names(tokens: Sequence[str]) -> str:
    return " ".join(token for token in tokens if _is_name(token) or token.lower() in {"the", "of"}).strip()


def _equivalent_names(left: str, right: str) -> bool:
    """'Iraq'/'Iraqi', 'Shiite'/'Shia', 'Muammar'/'Moammar': spelling or demonym variants, not different actors."""
    left_key, right_key = left.lower().removeprefix("the "), right.lower().removeprefix("the ")
    if left_key.startswith(right_key) or right_key.startswith(left_key):
        return True
    ratio = difflib.SequenceMatcher(None, left_key, right_key).ratio()
    return ratio >= 0.75 or (left_key[:3] == right_key[:3] and ratio >= 0.6)


def actor_swaps(left: str, right: str, min_overlap: float = 0.5) -> list[tuple[str, str]]:
    """Named actors replaced between two near-parallel sentences ('blamed the United States' / 'blamed Israel').

    Only sentences whose words mostly match are compared, so a loose paraphrase does not count.
    """
    left_tokens, right_tokens = TOKEN.findall(left), TOKEN.findall(right)
    matcher = difflib.SequenceMatcher(None, [t.lower() for t in left_tokens], [t.lower() for t in right_tokens], autojunk=False)
    if matcher.ratio() < min_overlap:
        return []
    swaps = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace":
            continue
        # A different speaker before "said" is a different source, which attribution covers.
        if FOLLOWED_BY_SAY.match(" ".join(left_tokens[i2 : i2 + 1])):
            continue
        left_name, right_name = _names(left_tokens[i1:i2]), _names(right_tokens[j1:j2])
        if not any(_is_name(t) for t in left_tokens[i1:i2]) or not any(_is_name(t) for t in right_tokens[j1:j2]):
            continue
        left_phrase, right_phrase = " ".join(left_tokens[i1:i2]), " ".join(right_tokens[j1:j2])
        if set(lexicon_terms(left_phrase)) & set(lexicon_terms(right_phrase)):
            continue  # "the Jewish state" / "Israel": one referent, two terms; framing reports it
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


