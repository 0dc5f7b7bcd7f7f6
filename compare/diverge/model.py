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


# Finding kinds, in the order reports show them. "certainty" replaces the old "hedge" and
# "intensifier" kinds (hedged vs asserted); "contradiction" is new (incompatible assertions).
KINDS: tuple[str, ...] = ("contradiction", "number", "actor", "attribution", "certainty", "framing")
# Old kind names, as stored in earlier JSON reports, and the kind they are now.
LEGACY_KINDS: dict[str, str] = {"hedge": "certainty", "intensifier": "certainty"}


@dataclass(frozen=True)
class Divergence:
    kind: str  # one of KINDS
    group_id: str
    subject: str  # what the sides disagree about, e.g. "distance (km)" or "agent of 'defeat'"
    sides: tuple[DivergenceSide, ...]
    # How sure the detector is that the outlets truly differ on the same fact, in [0, 1]: set per rule
    # from how the sides were found (a parsed reporting verb is surer than a word pattern).
    confidence: float = 0.5


@dataclass(frozen=True)
class DivergeConfig:
    """What the detectors may use: the spaCy parse when installed, and how much of a claim is read.

    `max_chars` bounds the work per claim (every detector is linear in it); longer claims are read
    up to that many characters. `min_confidence` drops weaker findings.
    """

    use_nlp: bool = True
    max_chars: int = 1200
    min_confidence: float = 0.0
