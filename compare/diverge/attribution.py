"""Attribution: a claim stated as fact by one outlet and attributed by another, and to whom.

"Israel carried out the strike, according to Western diplomatic sources" vs "Israel carried out the
strike"; and "Iraqi officials said" vs "a militia commander said" (the same claim, different sources).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from compare.diverge.model import ClaimRef, Divergence, DivergenceSide
from compare.diverge.tokens import SAY_VERBS

_ATTRIBUTION = re.compile(
    r"according to (?P<according>[^,.;]+)"
    rf"|(?P<said_by>(?:[\w'’-]+\s+){{1,4}}?){SAY_VERBS}\b"
    r"|(?P<citing>citing [^,.;]+)"
    r"|(?P<claimed>\b(?:claimed|alleged|asserted)\b)",
    re.IGNORECASE,
)
_SPEAKER_TRIM = re.compile(r"^(?:(?:the|a|an|and|but|that|which|while|as|who|it|has|had|have)\s+)+", re.IGNORECASE)
# Speakers that do not name a source: the sentence is attributed, but not to anyone we can compare.
_UNNAMED = frozenset({"he", "she", "they", "it", "we", "i", "you", "claimed", "who", "which", "that", "this"})
_SOURCE_FILLER = frozenset({"the", "a", "an", "of", "two", "three", "several", "some", "senior", "top", "local"})


# Any of these anywhere in a claim means it reports what someone said, even where the speaker is not
# found ("Trump, who placed second in the poll, said ..."; a quotation): such a claim is not "stated as fact".
_REPORTED_SPEECH = re.compile(rf"\b{SAY_VERBS}\b|according to|[“”\"]", re.IGNORECASE)
_UNNAMED_SPEECH = "attributed (speaker not named)"
# Words that start a clause or stand for a speaker named elsewhere: the speaker phrase begins after them.
_CLAUSE_WORDS = frozenset("when while as and but that which who whom after before because if she he they it we i you".split())
_FUNCTION_WORDS = frozenset("have has had is was were be been are do does did not also then there this that it".split())


def attribution_of(text: str) -> str | None:
    """Who a claim is attributed to ('Western diplomatic sources'), or None when stated as fact."""
    match = _ATTRIBUTION.search(text)
    if not match:
        return None
    for name in ("according", "said_by", "citing"):
        if match.group(name):
            speaker = _clean_speaker(match.group(name))
            return speaker or "claimed"  # "has confirmed", "when she added": reported, no one named
    return "claimed"


def _clean_speaker(raw: str) -> str:
    """The speaker's words: after the last clause word ("... issue when she" -> ""), without a
    trailing adverb ("Liz Cheney reportedly" -> "Liz Cheney") or leading article."""
    words = raw.strip().split()
    cut = max((i + 1 for i, word in enumerate(words) if word.lower().strip(",") in _CLAUSE_WORDS), default=0)
    words = words[cut:]
    while words and words[-1].lower().endswith("ly") and not words[-1][:1].isupper():
        words.pop()
    speaker = _SPEAKER_TRIM.sub("", " ".join(words)).strip(" ,")
    return "" if all(word.lower() in _FUNCTION_WORDS for word in speaker.split()) else speaker


def _attribution_value(text: str) -> str | None:
    """'attributed to X', 'attributed' (reported speech, speaker not found) or None (stated as fact)."""
    who = attribution_of(text)
    if who and who != "claimed":
        return f"attributed to {who}"
    return _UNNAMED_SPEECH if who or _REPORTED_SPEECH.search(text) else None


def _source_words(source: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z][\w'-]*", source.lower()) if w not in _SOURCE_FILLER)


def same_source(left: str, right: str) -> bool:
    """'officials' and 'Iraqi officials' are one source (one's words within the other's); 'army' and 'militia' are not."""
    left_words, right_words = _source_words(left), _source_words(right)
    return bool(left_words and right_words) and (left_words <= right_words or right_words <= left_words)


def presence_divergence(
    kind: str, subject: str, group_id: str, claims: Sequence[ClaimRef], value_of: Callable[[str], str | None], absent: str
) -> list[Divergence]:
    """Some outlets' claims carry a marker (attribution, hedge...), another outlet's claims never do."""
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
    """Attributed vs stated as fact; and, separately, the same claim attributed to different sources."""
    found = presence_divergence(
        "attribution", "attributed vs stated as fact", group_id, claims,
        _attribution_value, "stated as fact",
    )
    # Reported speech whose speaker was not found keeps its outlet off the "stated as fact" side, but is
    # not shown as a side itself; with no named attribution left there is nothing to show.
    found = [
        Divergence(d.kind, d.group_id, d.subject, tuple(side for side in d.sides if side.value != _UNNAMED_SPEECH))
        for d in found if any(side.value.startswith("attributed to") for side in d.sides)
    ]
    sources: list[tuple[str, list[ClaimRef]]] = []
    for claim in claims:
        who = attribution_of(claim.text)
        if not who or who.lower() in _UNNAMED:
            continue
        for name, refs in sources:
            if same_source(name, who):
                refs.append(claim)
                break
        else:
            sources.append((who, [claim]))
    outlets = [{claim.outlet for claim in refs} for _, refs in sources]
    if len(sources) > 1 and len(set().union(*outlets)) > 1:
        sides = tuple(DivergenceSide(value=f"attributed to {name}", claims=tuple(refs)) for name, refs in sources)
        found.append(Divergence(kind="attribution", group_id=group_id, subject="attributed to different sources", sides=sides))
    return found
