"""The findings' data model: claims as the report shows them, and divergences between outlets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClaimRef:
    """A claim as the report shows it: text plus where it sits in which article (character offsets)."""

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


# Finding kinds, in the order reports show them.
KINDS: tuple[str, ...] = ("number", "actor", "attribution", "hedge", "intensifier", "framing")


@dataclass(frozen=True)
class Divergence:
    kind: str  # one of KINDS
    group_id: str
    subject: str  # what the sides disagree about, e.g. "distance (km)" or "named actor"
    sides: tuple[DivergenceSide, ...]
    confidence: float = 1.0  # how sure the detector is that the sides really disagree, in [0, 1]
