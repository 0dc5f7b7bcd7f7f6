"""Findings ranked best first: divergences and omissions scored by confidence x importance.

A journalist reads the first screen only, so the report leads with the few findings most likely to
be real and to matter. Importance is a property of the fact (the coverage row): facts most outlets
carry, facts in titles and ledes, numbers, casualties, decisions, accusations and quotes matter
most. Confidence comes from the detector (Divergence.confidence) or, for an omission, from how many
outlets carry the fact the others lack. Time inside a story is checked here too: two sides published
far apart, one of them looking ahead ("will", "is expected to", "polls show"), are a forecast and an
outcome, labelled so and ranked lower rather than shown as a plain contradiction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from compare.diverge import ClaimRef, Divergence
from compare.text.claims import words

# Words that make a fact matter to a reader (lower-case, matched as whole words).
_CASUALTIES = frozenset("killed dead died death deaths wounded injured casualties hurt murdered shot massacre".split())
_DECISIONS = frozenset(
    "voted vote ruled ruling approved approve passed rejected signed vetoed announced decided resigned elected won lost "
    "banned sanctioned indicted convicted sentenced arrested charged fired appointed nominated".split()
)
_ACCUSATIONS = frozenset("accused accuses blamed blames alleged alleges denied denies condemned criticized criticised".split())
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozens?|hundreds?|thousands?|millions?|billions?)\b", re.I)
_QUOTE = re.compile(r"[\"“”]")
# Looking ahead: the sentence forecasts or previews rather than reports an outcome.
_FORECAST = re.compile(
    r"\b(?:will|would|is expected to|are expected to|expected to|set to|poised to|plans? to|scheduled to|likely to|"
    r"could|may|might|polls? (?:show|suggest)|polling|forecasts?|projected|favou?rite to|ahead of)\b",
    re.I,
)
# A headline that previews: the article was written before the event it announces ("Democrats set to
# take historic step", "Buttigieg surges ahead in latest poll"). Narrower than _FORECAST: a headline's
# "will" or "may" is as often a pledge or a warning as a preview.
_PREVIEW_HEADLINE = re.compile(
    r"\b(?:set to|poised to|expected to|scheduled to|ahead of|on the eve of|gears? up|braces? for|to face|preview|polls?|polling)\b", re.I
)
# Two sides published this far apart may describe different moments of the story.
TIMING_GAP_HOURS = 12.0
LEDE_CLAIMS = 2  # the first claims of an article are its lede


@dataclass(frozen=True)
class Finding:
    """One ranked finding: a divergence between outlets reporting the same fact, or a fact some
    outlets left out. `score` = confidence x importance, both in [0, 1]."""

    rank: int
    kind: str  # a Divergence kind, or "omission"
    headline: str
    confidence: float
    importance: float
    score: float
    group_id: str
    divergence: Divergence | None = None
    fact: tuple[ClaimRef, ...] = ()  # the claims that carry the fact (omissions)
    missing: tuple[str, ...] = ()  # outlets that left the fact out (omissions)
    timing: str | None = None  # e.g. "sides published 2 days apart: forecast vs outcome"


class Fact(Protocol):
    """What ranking reads of a coverage row (compare.report.story.CoverageRow): one fact across outlets."""

    group_id: str
    claims: tuple[ClaimRef, ...]
    present: tuple[str, ...]
    missing: tuple[str, ...]
    near: tuple[str, ...]


def claim_position(claim: ClaimRef) -> int:
    """The claim's position in its article (claim ids are "<article id>:<position>")."""
    tail = claim.claim_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def fact_importance(claims: Sequence[ClaimRef], outlets_carrying: int, outlets: int, titles: Mapping[str, str | None]) -> float:
    """How much a fact matters, in [0, 1]: carried by most outlets, in a title or lede, a number,
    casualties, a decision, an accusation, a quote. Weights are round numbers fixed in advance."""
    text = " ".join(claim.text for claim in claims)
    vocabulary = set(words(text))
    share = outlets_carrying / outlets if outlets else 0.0
    in_lede = any(claim_position(claim) < LEDE_CLAIMS for claim in claims)
    in_title = any(_title_overlap(claim.text, titles.get(claim.article_id)) >= 0.5 for claim in claims)
    score = 0.35 * share + 0.15 * (in_lede or in_title)
    score += 0.1 * bool(_NUMBER.search(text)) + 0.15 * bool(vocabulary & _CASUALTIES)
    score += 0.1 * bool(vocabulary & _DECISIONS) + 0.1 * bool(vocabulary & _ACCUSATIONS) + 0.05 * bool(_QUOTE.search(text))
    return round(min(1.0, score), 4)


def _title_overlap(claim: str, title: str | None) -> float:
    """Share of the title's content words (4+ letters) found in the claim."""
    if not title:
        return 0.0
    wanted = {word for word in words(title) if len(word) >= 4}
    return len(wanted & set(words(claim))) / len(wanted) if wanted else 0.0


def timing_note(divergence: Divergence, published: Mapping[str, datetime | None]) -> str | None:
    """A note when the sides were published far apart, and whether that reads as forecast vs outcome."""
    times = [[published.get(claim.article_id) for claim in side.claims] for side in divergence.sides]
    firsts = [min((t for t in side if t is not None), default=None) for side in times]
    dated = [t for t in firsts if t is not None]
    if len(dated) < 2:
        return None
    gap_hours = (max(dated) - min(dated)).total_seconds() / 3600
    if gap_hours < TIMING_GAP_HOURS:
        return None
    gap = f"{gap_hours / 24:.0f} days" if gap_hours >= 36 else f"{gap_hours:.0f} hours"
    earliest = firsts.index(min(dated))
    looks_ahead = [bool(_FORECAST.search(side.claims[0].text)) for side in divergence.sides]
    if looks_ahead[earliest] and not all(looks_ahead):
        return f"sides published {gap} apart: the earlier one looks ahead (forecast vs outcome)"
    return f"sides published {gap} apart"


def omission_timing(
    claims: Sequence[ClaimRef], missing: Sequence[str], published: Mapping[str, datetime | None], outlet_published: Mapping[str, datetime | None]
) -> str | None:
    """A note when every outlet said to leave the fact out published before the first outlet that
    reports it (TIMING_GAP_HOURS or more): a preview cannot report what happened after it."""
    reported = [published.get(claim.article_id) for claim in claims]
    first = min((t for t in reported if t is not None), default=None)
    earlier = [outlet_published.get(outlet) for outlet in missing]
    if first is None or any(t is None for t in earlier):
        return None
    latest = max(t for t in earlier if t is not None)
    gap_hours = (first - latest).total_seconds() / 3600
    if gap_hours < TIMING_GAP_HOURS:
        return None
    gap = f"{gap_hours / 24:.0f} days" if gap_hours >= 36 else f"{gap_hours:.0f} hours"
    return f"{', '.join(missing)} published {gap} before the first report of this fact: it may not have happened yet"


def preview_note(missing: Sequence[str], outlet_titles: Mapping[str, Sequence[str | None]]) -> str | None:
    """A note when every outlet said to leave the fact out has only previewing headlines in the story
    (same day or undated, so publication times cannot tell): a preview cannot report what came after."""
    if not missing or any(not outlet_titles.get(outlet) for outlet in missing):
        return None
    if not all(title and _PREVIEW_HEADLINE.search(title) for outlet in missing for title in outlet_titles[outlet]):
        return None
    return f"{', '.join(missing)}: the headline looks ahead (a preview): it may have been written before this happened"


def divergence_headline(divergence: Divergence) -> str:
    """'number (killed): 2 (AP) vs 3 (Fox News)'."""
    values = " vs ".join(f"{side.value} ({', '.join(side.outlets)})" for side in divergence.sides)
    return f"{divergence.kind} ({divergence.subject}): {values}"


def rank_findings(
    rows: Sequence[Fact],
    divergences: Sequence[Divergence],
    outlets: Sequence[str],
    titles: Mapping[str, str | None],
    published: Mapping[str, datetime | None],
    outlet_published: Mapping[str, datetime | None] | None = None,
    outlet_titles: Mapping[str, Sequence[str | None]] | None = None,
) -> tuple[Finding, ...]:
    """Every divergence and omission of a story as Findings, best first (rank 1 = best).

    `published` is by article id; `outlet_published` by outlet (its latest article of the story),
    for the preview test of omissions (without it no omission gets a timing note); `outlet_titles` (each
    outlet's headlines in the story) for the headline test when times cannot tell.
    """
    outlet_published = outlet_published or {}
    by_group = {row.group_id: row for row in rows}
    scored: list[Finding] = []
    for divergence in divergences:
        row = by_group.get(divergence.group_id)
        claims = row.claims if row else tuple(claim for side in divergence.sides for claim in side.claims)
        carrying = len(row.present) + len(row.near) if row else len({claim.outlet for claim in claims})
        importance = fact_importance(claims, carrying, len(outlets), titles)
        timing = timing_note(divergence, published)
        confidence = divergence.confidence * (0.5 if timing and "forecast" in timing else 1.0)
        scored.append(Finding(0, divergence.kind, divergence_headline(divergence), round(confidence, 4), importance,
                              round(confidence * importance, 4), divergence.group_id, divergence=divergence, timing=timing))
    for row in rows:
        if not row.missing or len(row.present) < 2:
            continue  # a fact fewer than two outlets report in so many words is background, not another's omission
        carrying = len(row.present) + len(row.near)
        importance = fact_importance(row.claims, carrying, len(outlets), titles)
        # The more outlets carry a fact, the likelier its absence elsewhere is a real omission.
        confidence = min(0.9, 0.3 + 0.6 * carrying / len(outlets))
        timing = omission_timing(row.claims, row.missing, published, outlet_published) or preview_note(row.missing, outlet_titles or {})
        confidence *= 0.5 if timing else 1.0
        headline = f"left out by {', '.join(row.missing)}: {row.claims[0].text}"
        scored.append(Finding(0, "omission", headline, round(confidence, 4), importance, round(confidence * importance, 4), row.group_id,
                              fact=row.claims, missing=row.missing, timing=timing))
    ordered = sorted(scored, key=lambda finding: (-finding.score, finding.kind, finding.group_id, finding.headline))
    return tuple(replace(finding, rank=rank) for rank, finding in enumerate(ordered, start=1))
