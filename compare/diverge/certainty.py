"""Certainty: hedges ("reportedly", "allegedly", "mysterious") and intensifiers ("confirmed", "clearly").

One outlet hedging or stressing a claim that another states plainly is a finding; two outlets using
different hedges are not (both hedge).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from compare.diverge.attribution import presence_divergence
from compare.diverge.model import ClaimRef, Divergence

HEDGES: tuple[str, ...] = (
    "reportedly", "allegedly", "apparently", "purportedly", "possibly", "likely", "probably", "presumably",
    "suspected", "believed to", "thought to", "appears to", "appeared to", "may have", "might have",
    "could have", "unconfirmed", "unverified", "it is unclear", "mysterious", "unexplained", "so-called",
)
INTENSIFIERS: tuple[str, ...] = (
    "confirmed", "clearly", "undoubtedly", "certainly", "definitely", "indeed", "in fact", "proven", "undeniably",
    "obviously", "verified", "without doubt", "beyond doubt", "blatant", "blatantly", "flagrant", "undisputed",
)
_HEDGE = re.compile(r"\b(" + "|".join(re.escape(h) for h in HEDGES) + r")\b", re.IGNORECASE)
_INTENSIFIER = re.compile(r"\b(" + "|".join(re.escape(h) for h in INTENSIFIERS) + r")\b", re.IGNORECASE)


def hedges_of(text: str) -> tuple[str, ...]:
    return tuple(sorted({match.group(1).lower() for match in _HEDGE.finditer(text)}))


def intensifiers_of(text: str) -> tuple[str, ...]:
    return tuple(sorted({match.group(1).lower() for match in _INTENSIFIER.finditer(text)}))


def hedge_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    return presence_divergence(
        "hedge", "hedged vs asserted", group_id, claims, lambda text: ", ".join(hedges_of(text)) or None, "no hedge"
    )


def intensifier_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    return presence_divergence(
        "intensifier", "stressed vs plain", group_id, claims, lambda text: ", ".join(intensifiers_of(text)) or None, "no intensifier"
    )
