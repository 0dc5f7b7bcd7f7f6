"""Cross-outlet pair findings gathered into Divergences: the detectors compare two claims of different
outlets at a time and this joins what they found into one finding per subject, sides by value."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from compare.diverge.analysis import ClaimAnalysis, analyse_many
from compare.diverge.model import ClaimRef, DivergeConfig, Divergence, DivergenceSide

# Claims of one group this many or fewer are compared pair by pair; a larger group is cut to its
# first claims of each outlet in turn, so the work per group stays bounded (pairs grow with the square).
MAX_CLAIMS_PER_GROUP = 24


@dataclass(frozen=True)
class PairFinding:
    subject: str
    left_value: str
    left: ClaimRef
    right_value: str
    right: ClaimRef
    confidence: float


def bounded(claims: Sequence[ClaimRef]) -> list[ClaimRef]:
    """At most MAX_CLAIMS_PER_GROUP claims, taken outlet by outlet in turn so every outlet is kept."""
    if len(claims) <= MAX_CLAIMS_PER_GROUP:
        return list(claims)
    per_outlet: dict[str, list[ClaimRef]] = {}
    for claim in claims:
        per_outlet.setdefault(claim.outlet, []).append(claim)
    kept: list[ClaimRef] = []
    depth = 0
    while len(kept) < MAX_CLAIMS_PER_GROUP and any(depth < len(refs) for refs in per_outlet.values()):
        kept.extend(refs[depth] for refs in per_outlet.values() if depth < len(refs))
        depth += 1
    return kept[:MAX_CLAIMS_PER_GROUP]


def analysed(claims: Sequence[ClaimRef], config: DivergeConfig) -> list[tuple[ClaimRef, ClaimAnalysis]]:
    kept = bounded(claims)
    return list(zip(kept, analyse_many([claim.text for claim in kept], use_nlp=config.use_nlp, max_chars=config.max_chars)))


T = TypeVar("T")


def cross_pairs(items: Sequence[tuple[ClaimRef, T]]) -> Iterator[tuple[tuple[ClaimRef, T], tuple[ClaimRef, T]]]:
    """Every ordered pair of claims from different outlets (both orders, so detectors may be one-sided)."""
    for left in items:
        for right in items:
            if left[0].outlet != right[0].outlet:
                yield left, right


def shares_content(left: ClaimAnalysis, right: ClaimAnalysis, minimum: int = 2) -> bool:
    """A cheap check that two claims speak of the same thing: some content words in common."""
    return len(left.content & right.content) >= minimum


def gather(kind: str, group_id: str, findings: Sequence[PairFinding], config: DivergeConfig) -> list[Divergence]:
    """One Divergence per subject: sides by value (claims in first-seen order), confidence the highest."""
    by_subject: dict[str, list[PairFinding]] = {}
    for finding in findings:
        by_subject.setdefault(finding.subject, []).append(finding)
    found = []
    for subject, items in by_subject.items():
        sides: dict[str, list[ClaimRef]] = {}
        for item in items:
            for value, claim in ((item.left_value, item.left), (item.right_value, item.right)):
                refs = sides.setdefault(value, [])
                if claim not in refs:
                    refs.append(claim)
        confidence = max(item.confidence for item in items)
        if confidence < config.min_confidence or len(sides) < 2:
            continue
        built = tuple(DivergenceSide(value=value, claims=tuple(refs)) for value, refs in sides.items())
        found.append(Divergence(kind=kind, group_id=group_id, subject=subject, sides=built, confidence=round(min(1.0, confidence), 3)))
    return found
