"""Certainty: one outlet hedges a claim ("reportedly posted", "is expected to win", "may have") that
another asserts.

Hedges count only in the outlet's own words (outside quotations) and, with the parse, only where they
govern the main assertion: "likely" in "the most likely candidate" or a hedge inside a relative
clause is not a hedge on the claim. Two outlets that both hedge agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from compare.diverge.analysis import HEDGE_ADVERBS, HEDGE_MODALS, HEDGE_PASSIVES, HEDGE_VERBS, Hedge, analyse
from compare.diverge.model import ClaimRef, DivergeConfig, Divergence
from compare.diverge.pairs import PairFinding, analysed, cross_pairs, gather, shares_content
from compare.diverge.tokens import content_words

HEDGES: tuple[str, ...] = (
    *HEDGE_ADVERBS, *(f"{verb} to" for verb in HEDGE_VERBS), *(f"{verb}ed to" for verb in HEDGE_PASSIVES), "likely", *HEDGE_MODALS,
)
SUBJECT = "hedged vs asserted"
FORECAST = "forecast vs outcome"
# Any hedge, in any clause: "Van Drew, who is expected to switch parties" does not assert the switch
# that "he might switch parties" hedges, though its main clause asserts something else.
_ANY_HEDGE = re.compile(
    r"\b(?:" + "|".join([*HEDGE_ADVERBS, *HEDGE_MODALS, "likely", *(rf"{verb}\w*" for verb in HEDGE_VERBS), *(f"{verb}ed to" for verb in HEDGE_PASSIVES)]) + r")\b"
)


def hedged_anywhere(text: str) -> bool:
    return bool(_ANY_HEDGE.search(text.lower()))


def hedges_of(text: str, *, config: DivergeConfig = DivergeConfig()) -> tuple[str, ...]:
    """The certainty markers that hedge the claim's main assertion, in the outlet's own words."""
    analysis = analyse(text, use_nlp=config.use_nlp, max_chars=config.max_chars)
    return tuple(sorted({hedge.marker for hedge in analysis.hedges}))


# Words before a verb that make it a prospect, not a report of fact: "who signaled he would soon switch
# parties" or "who is considering switching parties" does not assert the switch that "he might switch
# parties" hedges.
_PROSPECT = frozenset(
    """would will 'll shall to going plans plan wants want intends intend soon considering considers weighing mulling
    eyeing threatening threatened""".split()
)
_WORD = re.compile(r"[\w']+")


def _asserts_act(verb: str | None, text: str) -> bool:
    """The other claim states the hedged act as fact: some mention of the verb is not a prospect.
    True when the verb is unknown or not mentioned (the scope test has decided)."""
    if not verb or len(verb) < 3:
        return True
    words = _WORD.findall(text.lower())
    stem = verb[: max(4, len(verb) - 1)]
    mentions = [n for n, word in enumerate(words) if word.startswith(stem)]
    return not mentions or any(not (_PROSPECT & set(words[max(0, n - 2) : n])) for n in mentions)


def _governs(hedge: Hedge, their_words: frozenset[str]) -> bool:
    """The other claim asserts what the hedge hedges: it shares two words of the hedged clause, one of
    them outside its subject ("he might switch parties" is not hedging a report of how he voted)."""
    if hedge.scope is None:
        return True
    return len(hedge.scope & their_words) >= 2 and (hedge.predicate is None or bool(hedge.predicate & their_words))


def certainty_divergences(group_id: str, claims: Sequence[ClaimRef], *, config: DivergeConfig = DivergeConfig()) -> list[Divergence]:
    """Hedged in one outlet, asserted in another (the same fact: the claims share content words); and,
    with the parse, a forecast (future main verb) against an outcome (past), subject "forecast vs outcome"."""
    found = []
    for (left, a), (right, b) in cross_pairs(analysed(claims, config)):
        if b.question or a.question or not shares_content(a, b):
            continue
        if a.tense == "future" and b.tense == "past":
            # a preview against a result: the report should say so rather than call it a plain difference
            found.append(PairFinding(FORECAST, "forecast (before the event)", left, "outcome (after it)", right, 0.55))
            continue
        if not a.hedges or b.hedges or b.tense == "future" or hedged_anywhere(b.own_words):
            continue
        # the hedge must govern what the other claim asserts ("reportedly has been transferred" does
        # not hedge "has been charged", which the other outlet reports)
        their_words = content_words(b.text)
        hedges = [hedge for hedge in a.hedges if _governs(hedge, their_words) and _asserts_act(hedge.verb, b.own_words)]
        if not hedges:
            continue
        strongest = max(hedges, key=lambda hedge: hedge.confidence)
        markers = ", ".join(sorted({hedge.marker for hedge in hedges}))
        found.append(PairFinding(SUBJECT, f"hedged: {markers}", left, "asserted", right, strongest.confidence))
    return gather("certainty", group_id, found, config)


# The old detector names, kept for callers: hedges are now "certainty"; intensifiers ("clearly") are
# no longer findings (on the gold events every one reported was a false positive, 0 of 9).
hedge_divergences = certainty_divergences
INTENSIFIERS: tuple[str, ...] = ()


def intensifiers_of(text: str) -> tuple[str, ...]:
    return ()


def intensifier_divergences(group_id: str, claims: Sequence[ClaimRef], *, config: DivergeConfig = DivergeConfig()) -> list[Divergence]:
    return []
