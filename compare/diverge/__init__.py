"""Where aligned claims disagree: numbers, named actors, attribution, certainty and framing.

Each detector (one module each) looks at one claim group (claims of several outlets aligned as the
same claim) and returns Divergences when the outlets' claims carry different values of its kind.
Every side of a divergence keeps the exact claims (outlet, article, character offsets) that carry it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from compare.diverge.actors import actor_divergences, actor_swaps
from compare.diverge.attribution import attribution_divergences, attribution_of, same_source
from compare.diverge.certainty import HEDGES, INTENSIFIERS, hedge_divergences, hedges_of, intensifier_divergences, intensifiers_of
from compare.diverge.framing import LEXICON, framing_divergences, lexicon_terms, term_swaps
from compare.diverge.model import KINDS, ClaimRef, Divergence, DivergenceSide
from compare.diverge.numbers import Quantity, extract_quantities, number_divergences, same_quantity
from compare.diverge.tokens import differing_spans

Detector = Callable[[str, Sequence[ClaimRef]], list[Divergence]]

DETECTORS: tuple[Detector, ...] = (
    number_divergences,
    actor_divergences,
    attribution_divergences,
    hedge_divergences,
    intensifier_divergences,
    framing_divergences,
)


def find_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    """All detectors on one claim group; groups carried by a single outlet cannot diverge."""
    if len({claim.outlet for claim in claims}) < 2:
        return []
    return [divergence for detector in DETECTORS for divergence in detector(group_id, claims)]


__all__ = [
    "DETECTORS", "HEDGES", "INTENSIFIERS", "KINDS", "LEXICON", "ClaimRef", "Divergence", "DivergenceSide", "Quantity",
    "actor_divergences", "actor_swaps", "attribution_divergences", "attribution_of", "differing_spans", "extract_quantities",
    "find_divergences", "framing_divergences", "hedge_divergences", "hedges_of", "intensifier_divergences", "intensifiers_of",
    "lexicon_terms", "number_divergences", "same_quantity", "same_source", "term_swaps",
]
