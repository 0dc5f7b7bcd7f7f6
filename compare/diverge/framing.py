"""Framing: a loaded and a neutral label (or two different labels) for the same referent
("homosexual couples" / "gay couples"; "the Jewish state" / "Israel"; "militia" / "resistance group").

Found two ways. From a lexicon of contested labels, each class one referent, each term marked loaded
("!") or neutral; the classes come from newsroom style guides (AP Stylebook, GLAAD and NLGJA
guides, the Reuters handbook on "terrorist") and the conflict-reporting literature, not from the
gold events. Only the outlet's own words count (quoted speech is the speaker's framing). And, at low
confidence, from near-parallel claims: a short run of words replaced by another (a token diff), unless
it is a number, a name, a hedge, a spelling variant or only function words.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from compare.diverge.analysis import analyse
from compare.diverge.certainty import HEDGES
from compare.diverge.model import ClaimRef, DivergeConfig, Divergence, DivergenceSide
from compare.diverge.pairs import PairFinding, bounded, cross_pairs, gather
from compare.diverge.tokens import TOKEN, opcodes

INTENSIFIERS: tuple[str, ...] = ("clearly", "undoubtedly", "certainly", "indeed", "blatantly", "flagrant")

# Terms that name the same referent with a different charge: (subject, terms), "!" marks a loaded term.
LEXICON: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("armed group", (
        "!terrorist organisation", "!terrorist organization", "!terror organisation", "!terror organization", "!terrorist group",
        "!terror group", "!resistance movement", "!resistance group", "!resistance fighters", "armed group", "armed groups",
        "militia", "militias", "militants", "!terrorists", "insurgents", "rebels", "!jihadists", "gunmen", "!resistance",
    )),
    ("Israel", ("!the jewish state", "!the zionist entity", "!the zionist regime", "!the occupation state", "israel")),
    ("Israeli army", (
        "israel defense forces", "!israeli occupation forces", "!occupation forces", "!occupation army", "israeli army",
        "israeli forces", "israeli military", "idf",
    )),
    ("West Bank", ("!judea and samaria", "occupied west bank", "!occupied territories", "west bank")),
    ("killing", ("!massacred", "!murdered", "!slaughtered", "!executed", "!assassinated", "killed")),
    ("protest", ("!riots", "!riot", "unrest", "!uprising", "clashes", "protests", "protest", "demonstrations")),
    ("barrier", ("!apartheid wall", "separation barrier", "!security fence", "!separation wall", "security barrier")),
    ("same-sex couples", ("!homosexual couples", "gay couples", "same-sex couples", "same sex couples", "lesbian and gay couples")),
    ("gay people", ("!homosexuals", "gay people", "gay men and lesbians", "lgbt people", "gays and lesbians")),
    ("same-sex marriage", (
        "!marriage equality", "!homosexual marriage", "!traditional marriage", "same-sex marriage", "same sex marriage",
        "gay marriage", "marriage for same-sex couples",
    )),
    ("abortion stance", ("!pro-life", "!pro-choice", "!pro-abortion", "anti-abortion", "abortion rights", "abortion-rights")),
    ("unborn", ("!unborn child", "!unborn baby", "fetus")),
    ("immigrants without papers", (
        "!illegal aliens", "!illegals", "!undocumented workers", "illegal immigrants", "undocumented immigrants",
        "immigrants in the country illegally", "unauthorized immigrants",
    )),
    ("estate tax", ("!death tax", "estate tax")),
    ("health law", ("!obamacare", "affordable care act", "health care law", "health law")),
    ("interrogation", ("!enhanced interrogation", "!torture", "harsh interrogation")),
    ("gun policy", ("!gun safety", "!gun grabbing", "gun control", "gun restrictions")),
    ("tax cut", ("!tax relief", "tax cuts", "tax cut")),
    ("government (foreign)", ("!regime", "government")),
    ("amnesty", ("!amnesty", "path to citizenship", "legal status")),
)
_LOADED = frozenset(term[1:] for _, terms in LEXICON for term in terms if term.startswith("!"))
_LEXICON_PATTERNS = tuple(
    (subject, re.compile(r"\b(" + "|".join(re.escape(term.lstrip("!")) for term in terms) + r")\b", re.IGNORECASE))
    for subject, terms in LEXICON
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


def lexicon_terms_all(text: str) -> dict[str, list[str]]:
    """{subject: every lexicon term of that class in `text`, lower-cased}."""
    found: dict[str, list[str]] = {}
    for subject, pattern in _LEXICON_PATTERNS:
        terms = [match.group(1).lower() for match in pattern.finditer(text)]
        if terms:
            found[subject] = terms
    return found


def _norm(term: str) -> str:
    return term.replace("-", " ").removesuffix("s")


def framing_divergences(group_id: str, claims: Sequence[ClaimRef], *, config: DivergeConfig = DivergeConfig()) -> list[Divergence]:
    """Lexicon classes whose terms differ across outlets (in the outlets' own words), then word choices.

    A loaded label one outlet uses and the other does not, against the other's label: 0.65 (0.55 when
    the other's is loaded too); two neutral labels are not reported (a style difference). Word choices from the token diff: 0.3 (on the gold events none was real).
    """
    capped = [(claim, analyse(claim.text, use_nlp=False, max_chars=config.max_chars)) for claim in bounded(claims)]
    terms_of = {claim.claim_id: lexicon_terms_all(analysis.own_words) for claim, analysis in capped}
    found = []
    for (left, _), (right, _) in cross_pairs(capped):
        mine, theirs = terms_of[left.claim_id], terms_of[right.claim_id]
        for subject in mine.keys() & theirs.keys():
            their_terms = {_norm(term) for term in theirs[subject]}
            # a loaded label this outlet uses in its own words and the other never does, where the
            # other names the same referent (even if this outlet also uses a neutral label elsewhere)
            loaded = [term for term in mine[subject] if term in _LOADED and _norm(term) not in their_terms]
            if not loaded:
                continue
            other = next((term for term in theirs[subject] if term in _LOADED), theirs[subject][0])
            found.append(PairFinding(subject, loaded[0], left, other, right, 0.55 if other in _LOADED else 0.65))
    swaps = []
    for (left, a), (right, b) in cross_pairs(capped):
        if left.claim_id < right.claim_id:
            swaps.extend(PairFinding("word choice", lt, left, rt, right, 0.3) for lt, rt in term_swaps(a.text, b.text))
    return gather("framing", group_id, found, config) + _join_word_choices(group_id, swaps, config)


# Classes whose terms name one stable referent across a story (a group, a policy, a place), so an
# outlet's label can be compared with another's anywhere in the story. Verbs and generic nouns
# ("killed", "protest", "government", "tax cut") may name different events in one story: per fact only.
_PER_FACT_ONLY = frozenset({"killing", "protest", "government (foreign)", "tax cut"})


_LOADED_LABELS = frozenset(_norm(term) for term in _LOADED)  # as story_label_divergences compares labels


def story_label_divergences(claims: Sequence[ClaimRef], group_of: dict[str, str], *, config: DivergeConfig = DivergeConfig()) -> list[Divergence]:
    """Loaded labels across a whole story: an outlet that calls a referent by a loaded term in its own
    words ("homosexual couples") where another outlet of the story names it otherwise ("gay couples")
    and never so. Outlets label a referent once or twice, often in sentences that report different
    facts, so a per-fact comparison misses it. Only a loaded label against a neutral one: two loaded
    labels a story apart ("terrorist group" / "jihadists") may not name one referent. One divergence
    per class; its group is the first loaded claim's (`group_of`: claim id -> coverage group).
    Confidence 0.6."""
    uses: dict[str, dict[str, dict[str, list[ClaimRef]]]] = {}  # subject -> outlet -> label -> claims
    written: dict[str, str] = {}  # label -> as first written
    for claim in claims:
        own = analyse(claim.text, use_nlp=False, max_chars=config.max_chars).own_words
        for subject, terms in lexicon_terms_all(own).items():
            if subject in _PER_FACT_ONLY:
                continue
            for term in terms:
                written.setdefault(_norm(term), term)
                refs = uses.setdefault(subject, {}).setdefault(claim.outlet, {}).setdefault(_norm(term), [])
                if claim not in refs:
                    refs.append(claim)
    found = []
    for subject, by_outlet in uses.items():
        sides: dict[str, list[ClaimRef]] = {}
        confidence = 0.0
        for outlet, labels in by_outlet.items():
            for label in labels.keys() & _LOADED_LABELS:
                # against a neutral label only: two loaded labels a story apart may not name one referent
                others = [(o, other) for o, theirs in by_outlet.items() if o != outlet and label not in theirs for other in theirs if other not in _LOADED_LABELS]
                for other_outlet, other in others:
                    for side, refs in ((label, labels[label]), (other, by_outlet[other_outlet][other])):
                        kept = sides.setdefault(side, [])
                        kept.extend(ref for ref in refs if ref not in kept)
                    confidence = 0.6
        if len(sides) < 2 or confidence < config.min_confidence:
            continue
        ordered = sorted(sides, key=lambda label: label not in _LOADED_LABELS)  # loaded labels first
        built = tuple(DivergenceSide(written[label], tuple(sides[label])) for label in ordered)
        found.append(Divergence("framing", group_of.get(built[0].claims[0].claim_id, ""), subject, built, confidence))
    return found


def _join_word_choices(group_id: str, swaps: list[PairFinding], config: DivergeConfig) -> list[Divergence]:
    """Word-choice swaps joined into slots (terms that replace one another), one finding per slot."""
    slots: list[dict[str, list[ClaimRef]]] = []
    for swap in swaps:
        keys = {swap.left_value.lower(), swap.right_value.lower()}
        slot = next((s for s in slots if keys & {k.lower() for k in s}), None)
        if slot is None:
            slot = {}
            slots.append(slot)
        for term, claim in ((swap.left_value, swap.left), (swap.right_value, swap.right)):
            existing = next((k for k in slot if k.lower() == term.lower()), term)
            refs = slot.setdefault(existing, [])
            if claim not in refs:
                refs.append(claim)
    if 0.3 < config.min_confidence:
        return []
    return [
        Divergence("framing", group_id, "word choice", tuple(DivergenceSide(term, tuple(refs)) for term, refs in slot.items()), 0.3)
        for slot in slots if len(slot) > 1 and len({c.outlet for refs in slot.values() for c in refs}) > 1
    ]
