"""Actors: the same act with a different agent or target ("Brat defeated Cantor" / "Cantor defeated
Brat"; "blamed the United States" / "blamed Israel").

Read from the dependency parse only: for a verb of the main clause that two outlets share, its
subject (agent; the "by" phrase of a passive) and object (target; the subject of a passive), when
both outlets name them with proper names that are not spellings of one another. Capitalised words
are not actors; without the parse this detector is off (see `nlp_note`).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from compare.diverge.analysis import ClaimAnalysis
from compare.diverge.model import ClaimRef, DivergeConfig, Divergence
from compare.diverge.pairs import PairFinding, analysed, cross_pairs, gather, shares_content
from compare.diverge.tokens import STOPWORDS


def equivalent_names(left: str, right: str) -> bool:
    """'Iraq'/'Iraqi', 'Mr. Cantor'/'Eric Cantor', 'Moammar'/'Muammar': one actor, not two."""
    left_words = {w.strip(".,").lower() for w in left.split()} - STOPWORDS - {"mr", "mrs", "ms", "dr", "sen", "rep", "the"}
    right_words = {w.strip(".,").lower() for w in right.split()} - STOPWORDS - {"mr", "mrs", "ms", "dr", "sen", "rep", "the"}
    if left_words & right_words:
        return True
    left_key, right_key = " ".join(sorted(left_words)), " ".join(sorted(right_words))
    if not left_key or not right_key or left_key.startswith(right_key) or right_key.startswith(left_key):
        return True
    ratio = difflib.SequenceMatcher(None, left_key, right_key).ratio()
    return ratio >= 0.75 or (left_key[:3] == right_key[:3] and ratio >= 0.6)


def _absent(name: str | None, analysis: ClaimAnalysis) -> bool:
    """The other claim does not name this actor anywhere (else it is detail, not a different actor)."""
    return bool(name) and name.lower() not in analysis.text.lower()


def actor_divergences(group_id: str, claims: Sequence[ClaimRef], *, config: DivergeConfig = DivergeConfig()) -> list[Divergence]:
    found: list[PairFinding] = []
    for (left, a), (right, b) in cross_pairs(analysed(claims, config)):
        if left.claim_id > right.claim_id or not (a.parsed and b.parsed) or not shares_content(a, b):
            continue
        for pa in a.predicates:
            for pb in b.predicates:
                if pa.lemma != pb.lemma or pa.negated != pb.negated:
                    continue
                # Who did what to whom: one role differs while the other agrees (or the two swap); a
                # different target with an unknown or different agent is another act, not a divergence.
                same_subject = bool(pa.subject and pb.subject) and equivalent_names(pa.subject, pb.subject)
                same_object = bool(pa.object and pb.object) and equivalent_names(pa.object, pb.object)
                swapped = bool(pa.subject and pb.object and pa.object and pb.subject) and equivalent_names(pa.subject, pb.object) and equivalent_names(pa.object, pb.subject)
                if swapped:
                    found.append(PairFinding(f"agent of '{pa.lemma}'", f"{pa.subject} → {pa.object}", left, f"{pb.subject} → {pb.object}", right, 0.6))
                elif same_object and pa.subject_named and pb.subject_named and not same_subject and _absent(pa.subject, b) and _absent(pb.subject, a):
                    found.append(PairFinding(f"agent of '{pa.lemma}'", pa.subject, left, pb.subject, right, 0.5))
                elif same_subject and pa.object_named and pb.object_named and not same_object and _absent(pa.object, b) and _absent(pb.object, a):
                    found.append(PairFinding(f"target of '{pa.lemma}'", pa.object, left, pb.object, right, 0.5))
    return gather("actor", group_id, found, config)


def actor_swaps(left: str, right: str, *, config: DivergeConfig = DivergeConfig()) -> list[tuple[str, str]]:
    """(left actor, right actor) pairs that differ for the same act in two claims (parse only)."""
    claims = [ClaimRef("l", "l", "left", 0, len(left), left), ClaimRef("r", "r", "right", 0, len(right), right)]
    return [(d.sides[0].value, d.sides[1].value) for d in actor_divergences("pair", claims, config=config) if len(d.sides) == 2]
