"""Contradictions: two outlets assert incompatible things about the same fact.

- a negation: the same main verb asserted by one outlet and negated by the other ("did not see" /
  "saw"), in claims that otherwise share most content and speak of the same time (tense);
- opposite outcomes: antonym verbs of the main clause ("won" / "lost", "approved" / "rejected") said
  of the same subject;
- a different day for the same act ("announced Monday" / "announced Tuesday");
- the same quotation in different words (a misquote): two quoted passages that share a long run of
  words and differ inside it, not merely where one is cut short;
- a different name for the same entity ("House Foreign Affairs Committee" / "House Foreign Relations
  Committee"): two names of one type that share most words (parse only).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from compare.diverge.analysis import WEEKDAYS, ClaimAnalysis
from compare.diverge.model import ClaimRef, DivergeConfig, Divergence
from compare.diverge.pairs import PairFinding, analysed, cross_pairs, gather, shares_content
from compare.diverge.tokens import STOPWORDS, TOKEN

# Verbs whose outcomes exclude each other (lemmas), both directions.
_OPPOSITES = {
    ("win", "lose"), ("pass", "fail"), ("approve", "reject"), ("accept", "reject"), ("confirm", "deny"),
    ("support", "oppose"), ("rise", "fall"), ("increase", "decrease"), ("gain", "lose"), ("acquit", "convict"),
    ("agree", "refuse"), ("admit", "deny"), ("open", "close"), ("lift", "impose"), ("raise", "cut"),
}
OPPOSITES = frozenset(_OPPOSITES | {(b, a) for a, b in _OPPOSITES})
_MIN_QUOTE_WORDS = 6
_MIN_QUOTE_RATIO = 0.6
_MAX_CHANGED = 3
_NAME_LABELS = frozenset({"ORG", "FAC", "GPE", "LOC", "EVENT", "LAW", "WORK_OF_ART"})


_DIGITS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}


def _words(text: str) -> list[str]:
    """Words for comparing quotations: apostrophes, hyphens and number words normalised ("can’t" = "can't",
    "tax-filing" = "tax filing", "two" = "2")."""
    text = text.replace("’", "'").replace("‘", "'").replace("-", " ")
    return [_DIGITS.get(token.lower(), token.lower()) for token in TOKEN.findall(text) if token[:1].isalnum()]


def misquote(left: str, right: str) -> tuple[str, str] | None:
    """(left words, right words) where two renderings of one quotation differ inside their shared
    stretch; None when they are different quotations or one only stops earlier than the other."""
    a, b = _words(left)[:120], _words(right)[:120]
    if min(len(a), len(b)) < _MIN_QUOTE_WORDS:
        return None
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    blocks = [block for block in matcher.get_matching_blocks() if block.size]
    if not blocks or max(block.size for block in blocks) < 4:
        return None
    first, last = blocks[0], blocks[-1]
    span_a = a[first.a : last.a + last.size]
    span_b = b[first.b : last.b + last.size]
    matched = sum(block.size for block in blocks)
    if matched < _MIN_QUOTE_RATIO * min(len(span_a), len(span_b)) or matched < _MIN_QUOTE_WORDS:
        return None
    inner = difflib.SequenceMatcher(None, span_a, span_b, autojunk=False)
    codes = [code for code in inner.get_opcodes() if code[0] != "equal"]
    # A misquote changes a few words of one passage; a longer change is a different remark that
    # happens to share a phrase ("well over the line").
    if any(i2 - i1 > _MAX_CHANGED or j2 - j1 > _MAX_CHANGED for _, i1, i2, j1, j2 in codes):
        return None
    # Words left out or added may be an unmarked elision; a word replaced by another is a misquote,
    # unless it is the same word spelled another way ("behavior" / "behaviour").
    for tag, i1, i2, j1, j2 in codes:
        if tag == "replace" and difflib.SequenceMatcher(None, " ".join(span_a[i1:i2]), " ".join(span_b[j1:j2])).ratio() < 0.8:
            return " ".join(span_a[max(0, i1 - 2) : i2 + 2]), " ".join(span_b[max(0, j1 - 2) : j2 + 2])
    return None


def _same_subject(left: str | None, right: str | None) -> bool:
    if not left or not right:
        return False
    return bool({w.lower() for w in left.split()} - STOPWORDS & {w.lower() for w in right.split()})


def _name_clash(a: ClaimAnalysis, b: ClaimAnalysis) -> tuple[str, str] | None:
    """Two multi-word names of one type sharing most words but not equal, neither in the other claim."""
    for left, label in a.entities:
        if label not in _NAME_LABELS:
            continue
        left_words = [w[:6] for w in _words(left) if w not in STOPWORDS]
        for right, other_label in b.entities:
            right_words = [w[:6] for w in _words(right) if w not in STOPWORDS]
            if other_label != label or len(left_words) < 3 or len(right_words) < 3:
                continue
            shared = set(left_words) & set(right_words)
            if len(shared) < 2 or len(shared) < 0.6 * max(len(set(left_words)), len(set(right_words))):
                continue
            if set(left_words) == set(right_words) or left.lower() in b.text.lower() or right.lower() in a.text.lower():
                continue
            if set(left_words) <= set(right_words) or set(right_words) <= set(left_words):
                continue  # one name is a fuller form of the other
            return left, right
    return None


def contradiction_divergences(group_id: str, claims: Sequence[ClaimRef], *, config: DivergeConfig = DivergeConfig()) -> list[Divergence]:
    found: list[PairFinding] = []
    for (left, a), (right, b) in cross_pairs(analysed(claims, config)):
        if left.claim_id > right.claim_id or a.question or b.question:
            continue
        for quote_a in a.quotes:
            for quote_b in b.quotes:
                differs = misquote(quote_a, quote_b)
                if differs:
                    found.append(PairFinding("quotation worded differently", f"“…{differs[0]}…”", left, f"“…{differs[1]}…”", right, 0.6))
        if not shares_content(a, b, 3):
            continue
        # "did not recognize" (before the ruling) and "will be recognized" (after it) are two times,
        # not a denial of what the other outlet asserts.
        same_time = a.tense is None or b.tense is None or a.tense == b.tense
        clash = _name_clash(a, b)
        if clash:
            found.append(PairFinding("name of the same body", clash[0], left, clash[1], right, 0.45))
        for pa in a.predicates:
            for pb in b.predicates:
                if pa.lemma == pb.lemma and pa.negated != pb.negated and same_time and (_same_subject(pa.subject, pb.subject) or _same_subject(pa.object, pb.object)):
                    negated, plain = (pa, pb) if pa.negated else (pb, pa)
                    found.append(PairFinding(f"'{pa.lemma}' asserted or denied", f"not {pa.lemma}" if pa.negated else pa.lemma, left,
                                             f"not {pb.lemma}" if pb.negated else pb.lemma, right, 0.55))
                elif (pa.lemma, pb.lemma) in OPPOSITES and pa.negated == pb.negated and _same_subject(pa.subject, pb.subject):
                    found.append(PairFinding("outcome", f"{pa.subject} {pa.lemma}", left, f"{pb.subject} {pb.lemma}", right, 0.6))
                elif pa.lemma == pb.lemma and pa.day and pb.day and pa.day != pb.day and {pa.day, pb.day} <= WEEKDAYS:
                    found.append(PairFinding(f"day of '{pa.lemma}'", pa.day.title(), left, pb.day.title(), right, 0.5))
    return gather("contradiction", group_id, found, config)
