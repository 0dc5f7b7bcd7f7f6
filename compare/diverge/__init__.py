"""Where outlets reporting the same fact disagree: contradictions, numbers, actors, attribution,
certainty and framing.

Each detector (one module each) looks at one claim group (claims of several outlets aligned as the
same fact), compares claims of different outlets pair by pair, and returns Divergences with a
confidence in [0, 1]. Every side of a divergence keeps the exact claims (outlet, article, character
offsets) that carry it. The actor, attribution, certainty and contradiction detectors read the
spaCy parse when `compare-news[nlp]` is installed and fall back to word patterns (actors: off)
without it; `nlp_note()` gives the line a report shows then. Work per claim is bounded by
`DivergeConfig.max_chars` and per group by `MAX_CLAIMS_PER_GROUP`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from compare.diverge.actors import actor_divergences, actor_swaps, equivalent_names
from compare.diverge.analysis import ClaimAnalysis, analyse
from compare.diverge.attribution import attribution_divergences, attribution_of, same_source
from compare.diverge.certainty import (
    HEDGES, INTENSIFIERS, certainty_divergences, hedge_divergences, hedges_of, intensifier_divergences, intensifiers_of,
)
from compare.diverge.contradiction import contradiction_divergences, misquote
from compare.diverge.framing import LEXICON, framing_divergences, lexicon_terms, story_label_divergences, term_swaps
from compare.diverge.model import KINDS, LEGACY_KINDS, ClaimRef, DivergeConfig, Divergence, DivergenceSide
from compare.diverge.nlp import NLP_MISSING_NOTE, nlp_available, nlp_note
from compare.diverge.numbers import Quantity, extract_quantities, number_divergences, same_quantity
from compare.diverge.pairs import MAX_CLAIMS_PER_GROUP
from compare.diverge.tokens import MAX_DIFF_TOKENS, differing_spans

Detector = Callable[..., list[Divergence]]

DETECTORS: tuple[Detector, ...] = (
    contradiction_divergences,
    number_divergences,
    actor_divergences,
    attribution_divergences,
    certainty_divergences,
    framing_divergences,
)


def find_divergences(group_id: str, claims: Sequence[ClaimRef], *, config: DivergeConfig = DivergeConfig()) -> list[Divergence]:
    """All detectors on one claim group, best first; groups carried by a single outlet cannot diverge."""
    if len({claim.outlet for claim in claims}) < 2:
        return []
    found = [divergence for detector in DETECTORS for divergence in detector(group_id, claims, config=config)]
    return sorted(found, key=lambda divergence: -divergence.confidence)


__all__ = [
    "DETECTORS", "HEDGES", "INTENSIFIERS", "KINDS", "LEGACY_KINDS", "LEXICON", "MAX_CLAIMS_PER_GROUP", "MAX_DIFF_TOKENS",
    "NLP_MISSING_NOTE", "ClaimAnalysis", "ClaimRef", "DivergeConfig", "Divergence", "DivergenceSide", "Quantity",
    "actor_divergences", "actor_swaps", "analyse", "attribution_divergences", "attribution_of", "certainty_divergences",
    "contradiction_divergences", "differing_spans", "equivalent_names", "extract_quantities", "find_divergences",
    "framing_divergences", "hedge_divergences", "hedges_of", "intensifier_divergences", "intensifiers_of", "lexicon_terms",
    "misquote", "nlp_available", "nlp_note", "number_divergences", "same_quantity", "same_source", "story_label_divergences", "term_swaps",
]
