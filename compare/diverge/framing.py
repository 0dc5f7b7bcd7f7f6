"""Framing: different terms for the same thing ("militia" / "resistance group"; "the Jewish state" / "Israel").

Found two ways. From the aligned pairs: in two near-parallel claims of different outlets, a short
run of words replaced by another (a token diff) is a word choice, unless it is a number, a name
swap (actors), a hedge, a spelling or inflection variant, or only function words. And from a small
lexicon of known loaded alternatives, which also catches looser paraphrases.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from compare.diverge.certainty import HEDGES, INTENSIFIERS
from compare.diverge.model import ClaimRef, Divergence, DivergenceSide
from compare.diverge.tokens import TOKEN, opcodes

# Terms that name the same referent with a different charge. Each class: (subject, terms), longest first.
LEXICON: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("armed group", (
        "terrorist organisation", "terrorist organization", "terror organisation", "terror organization", "terrorist group",
        "terror group", "resistance movement", "resistance group", "resistance fighters", "armed group", "armed groups",
        "militia", "militias", "militants", "terrorists", "insurgents", "rebels", "jihadists", "gunmen", "resistance",
    )),
    ("Israel", ("the jewish state", "the zionist entity", "the zionist regime", "the occupation state", "israel")),
    ("Israeli army", (
        "israel defense forces", "israeli occupation forces", "occupation forces", "occupation army", "israeli army",
        "israeli forces", "israeli military", "idf",
    )),
    ("West Bank", ("judea and samaria", "occupied west bank", "occupied territories", "west bank")),
    ("killing", ("massacred", "murdered", "slaughtered", "executed", "assassinated", "killed")),
    ("protest", ("riots", "riot", "unrest", "uprising", "clashes", "protests", "protest", "demonstrations")),
    ("barrier", ("apartheid wall", "separation barrier", "security fence", "separation wall", "security barrier")),
)
_LEXICON_PATTERNS = tuple(
    (subject, re.compile(r"\b(" + "|".join(re.escape(term) for term in terms) + r")\b", re.IGNORECASE)) for subject, terms in LEXICON
)
_FUNCTION_WORDS = frozenset(
    """a an the of to in on at for with by from as and or but is was were be been are that this these those it its
    their his her they he she we which who whom what when where while after before into over than then there
    has had have will would could should may might can also very more most some any all each""".split()
)
_SKIP_WORDS = frozenset(w for phrase in (*HEDGES, *INTENSIFIERS) for w in phrase.split()) | frozenset(
    "said says say told tells added stated announced reported claims claimed".split()
)
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve dozen dozens hundred hundreds thousand thousands "
    "million millions several few many".split()
)
_MAX_RUN = 3  # longer replaced runs are rewrites, not a choice of term
# Only near-parallel claims are diffed: on the demo story, pairs below 0.7 token overlap gave
# rewrites ("coalition ... that answers to" / "network ... loyal to"), not choices of one term.
_MIN_OVERLAP = 0.7


def lexicon_terms(text: str) -> dict[str, str]:
    """{subject: term as written} for each lexicon class whose term appears in `text` (first term)."""
    found = {}
    for subject, pattern in _LEXICON_PATTERNS:
        match = pattern.search(text)
        if match:
            found[subject] = match.group(1)
    return found


def _variant(left: str, right: str) -> bool:
    """Spelling or inflection variants ('Shiite'/'Shia', 'explosion'/'explosions'), not a choice of term."""
    left, right = left.lower(), right.lower()
    if left[:4] == right[:4] and min(len(left), len(right)) >= 4:
        return True
    ratio = difflib.SequenceMatcher(None, left, right).ratio()
    return ratio >= 0.75 or (left[:3] == right[:3] and ratio >= 0.6)


def _is_term(tokens: Sequence[str], at_start: bool) -> bool:
    """A run of words naming or describing something: no numbers, no names, not only function words.

    Past-tense verbs ("ripped"/"tore") are style more than framing and are left out; the loaded ones
    ("murdered"/"killed") are in the lexicon.
    """
    words = [t for t in tokens if t[:1].isalpha()]
    if not words or len(words) != len(tokens) or all(w.lower() in _FUNCTION_WORDS for w in words):
        return False
    if any(w.lower() in _NUMBER_WORDS or w.lower().endswith("ed") for w in words):
        return False
    return not any(w[:1].isupper() for position, w in enumerate(words) if position or not at_start)


def term_swaps(left: str, right: str) -> list[tuple[str, str]]:
    """(left term, right term) word choices between two near-parallel claims."""
    left_tokens, right_tokens = TOKEN.findall(left), TOKEN.findall(right)
    ratio, codes = opcodes(left_tokens, right_tokens)
    if ratio < _MIN_OVERLAP:
        return []
    swaps = []
    for tag, i1, i2, j1, j2 in codes:
        if tag != "replace" or i2 - i1 > _MAX_RUN or j2 - j1 > _MAX_RUN:
            continue
        left_run, right_run = left_tokens[i1:i2], right_tokens[j1:j2]
        if not (_is_term(left_run, i1 == 0) and _is_term(right_run, j1 == 0)):
            continue  # names are the actors detector's; numbers the numbers detector's
        if {t.lower() for t in left_run + right_run} & _SKIP_WORDS:
            continue
        left_term, right_term = " ".join(left_run), " ".join(right_run)
        if _variant(left_term, right_term):
            continue
        swaps.append((left_term, right_term))
    return swaps


def _slots(pairs: list[tuple[str, ClaimRef, str, ClaimRef]]) -> list[dict[str, list[ClaimRef]]]:
    """Join term pairs that replace one another into slots: {term: claims using it}."""
    slots: list[dict[str, list[ClaimRef]]] = []
    for left_term, left_claim, right_term, right_claim in pairs:
        keys = {left_term.lower(), right_term.lower()}
        slot = next((s for s in slots if keys & {k.lower() for k in s}), None)
        if slot is None:
            slot = {}
            slots.append(slot)
        for term, claim in ((left_term, left_claim), (right_term, right_claim)):
            existing = next((k for k in slot if k.lower() == term.lower()), term)
            refs = slot.setdefault(existing, [])
            if claim not in refs:
                refs.append(claim)
    return slots


def framing_divergences(group_id: str, claims: Sequence[ClaimRef]) -> list[Divergence]:
    """Word-choice slots from aligned pairs, then lexicon classes whose terms differ across outlets."""
    pairs = []
    for index, left in enumerate(claims):
        for right in claims[index + 1 :]:
            if left.outlet != right.outlet:
                pairs.extend((lt, left, rt, right) for lt, rt in term_swaps(left.text, right.text))
    found = []
    covered: set[str] = set()
    for slot in _slots(pairs):
        outlets = [{c.outlet for c in refs} for refs in slot.values()]
        if len(slot) > 1 and len(set().union(*outlets)) > 1:
            covered |= {term.lower() for term in slot}
            sides = tuple(DivergenceSide(value=term, claims=tuple(refs)) for term, refs in slot.items())
            found.append(Divergence(kind="framing", group_id=group_id, subject="word choice", sides=sides))
    by_subject: dict[str, dict[str, list[ClaimRef]]] = {}
    for claim in claims:
        for subject, term in lexicon_terms(claim.text).items():
            by_subject.setdefault(subject, {}).setdefault(term.lower().removesuffix("s"), []).append(claim)
    for subject, terms in by_subject.items():
        if len(terms) < 2 or set(terms) <= {term.removesuffix("s") for term in covered}:
            continue
        per_outlet: dict[str, set[str]] = {}
        for term, refs in terms.items():
            for claim in refs:
                per_outlet.setdefault(claim.outlet, set()).add(term)
        if len(per_outlet) < 2 or len({frozenset(used) for used in per_outlet.values()}) < 2:
            continue  # one outlet only, or every outlet uses the same terms
        sides = tuple(DivergenceSide(value=refs[0].text[_term_span(refs[0].text, subject)], claims=tuple(refs)) for refs in terms.values())
        found.append(Divergence(kind="framing", group_id=group_id, subject=subject, sides=sides))
    return found


def _term_span(text: str, subject: str) -> slice:
    """Where the lexicon term of `subject` is written in `text` (as the side's value, in the outlet's case)."""
    pattern = dict(_LEXICON_PATTERNS)[subject]
    match = pattern.search(text)
    return slice(*match.span(1)) if match else slice(0, 0)
