"""What the detectors read from one claim: who it is attributed to, how hedged it is, its main
predicates (who did what to whom), its entities and quoted passages.

Built once per claim text (cached) from the spaCy parse when it is installed, else from word
patterns; `parsed` says which. Reads at most `max_chars` characters, so it is linear and bounded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from compare.diverge.nlp import load_parser, parse, parse_many
from compare.diverge.tokens import STOPWORDS, TOKEN, content_words, outside_quotes, quote_spans

REPORTING_LEMMAS = frozenset(
    """say tell report claim state add announce confirm deny insist write post tweet argue contend allege note
    explain acknowledge admit warn testify declare assert maintain reveal""".split()
)
_SAY_FORMS = frozenset(
    """say says said saying tell tells told report reports reported reporting claim claims claimed state states stated
    add adds added announce announces announced confirm confirms confirmed deny denies denied insist insists insisted
    write writes wrote post posts posted tweet tweets tweeted argue argues argued contend contends contended
    allege alleges alleged note notes noted acknowledge acknowledged admit admits admitted warn warns warned
    testify testified declare declared assert asserted maintain maintains maintained""".split()
)
PRONOUNS = frozenset("he she they it we i you who which that this one someone".split())
# Hedges (Hyland's epistemic markers) and the confidence a finding built on each gets: adverbs that
# disclaim the outlet's own knowledge ("reportedly") are the clearest; modals the weakest.
HEDGE_ADVERBS: dict[str, float] = {
    "reportedly": 0.8, "allegedly": 0.8, "purportedly": 0.8, "supposedly": 0.7, "apparently": 0.6,
    "possibly": 0.55, "probably": 0.55, "presumably": 0.55, "perhaps": 0.5, "seemingly": 0.55,
}
HEDGE_VERBS: dict[str, float] = {"appear": 0.55, "seem": 0.55, "suggest": 0.45, "indicate": 0.4}
HEDGE_PASSIVES: dict[str, float] = {"expect": 0.6, "believe": 0.6, "think": 0.55, "rumor": 0.7, "rumour": 0.7, "suspect": 0.6}
HEDGE_MODALS: dict[str, float] = {"may": 0.45, "might": 0.5, "could": 0.4}
LIKELY = 0.55
# Most quotes, sources, hedges, predicates and entities kept per claim: pairs of claims compare these
# item by item, so a crafted claim with hundreds of tiny quotes or verbs stays cheap (real sentences
# have a handful).
MAX_ITEMS = 12
_MAIN_CHAIN = frozenset({"ROOT", "ccomp", "conj", "parataxis", "xcomp"})
_SOURCE_NOUNS = frozenset(
    """officials official aides aide sources source spokesman spokeswoman spokesperson police authorities
    advisers advisors critics analysts experts witnesses residents staff staffers investigators prosecutors
    lawmakers diplomats observers agency ministry department government campaign""".split()
)
_CLAUSE_START = frozenset({",", "“", '"', "and", "but", "—", "–", "-", ":", ";", "(", "that"})
# Subjects that make "suggest"/"indicate" a judgement on evidence rather than someone's speech.
_EVIDENCE = frozenset(
    """evidence data record document e-mail email message finding result study report poll survey analysis
    figure number sign it this that they""".split()
)
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())


@dataclass(frozen=True)
class Source:
    """Who a claim is attributed to: the subject of its reporting verb or the object of 'according to'."""

    text: str
    words: frozenset[str]  # content words, lower-cased, for "same source" tests
    named: bool  # a proper name ("Huckabee", "The New York Times"), not "officials"
    plural: bool  # "campaign aides": cannot be one named person
    pronoun: bool  # "she said": the speaker is named elsewhere


@dataclass(frozen=True)
class Predicate:
    """A verb of the claim's main clause and its arguments (subject = agent, object = target)."""

    lemma: str
    negated: bool
    subject: str | None
    subject_named: bool
    object: str | None
    object_named: bool
    day: str | None


@dataclass(frozen=True)
class Hedge:
    marker: str
    confidence: float
    # content words of what the hedge governs (the hedged verb's clause); None: the whole claim (patterns)
    scope: frozenset[str] | None = None
    # the scope without its subject: what is hedged about the subject ("might switch parties")
    predicate: frozenset[str] | None = None
    verb: str | None = None  # lemma of the hedged verb ("switch"); None: patterns, not a parse


@dataclass(frozen=True)
class ClaimAnalysis:
    text: str  # the analysed text: the claim, cut at max_chars
    truncated: bool
    parsed: bool  # built from the spaCy parse (else word patterns)
    quotes: tuple[str, ...]  # quoted passages
    own_words: str  # the text with quoted passages blanked: the outlet's own words
    content: frozenset[str]
    sources: tuple[Source, ...]
    hedges: tuple[Hedge, ...]  # certainty markers of the main clause, outside quotes
    predicates: tuple[Predicate, ...]  # main-clause verbs (parse only)
    entities: tuple[tuple[str, str], ...]  # (text, label) (parse only)
    question: bool
    subjects: tuple[str, ...] = ()  # subjects of the main clause's verbs as written, pronouns included (parse only)
    tense: str | None = None  # of the main verb: "future" (will, set to, expected to), "past" or "present" (parse only)

    @property
    def attributed(self) -> bool:
        """Reported speech of any kind: a reporting verb, 'according to', or a direct quotation."""
        return bool(self.sources or self.quotes)


def analyse(text: str, *, use_nlp: bool = True, max_chars: int = 1200) -> ClaimAnalysis:
    """The analysis of a claim text (cached per text and settings)."""
    return _analyse(_prepare(text[:max_chars]), len(text) > max_chars, use_nlp and load_parser() is not None)


def analyse_many(texts: Sequence[str], *, use_nlp: bool = True, max_chars: int = 1200) -> list[ClaimAnalysis]:
    """`analyse` for several claims, parsing them in one batch first."""
    use_nlp = use_nlp and load_parser() is not None
    prepared = [_prepare(text[:max_chars]) for text in texts]
    if use_nlp:
        parse_many(prepared)
    return [_analyse(ready, len(text) > max_chars, use_nlp) for ready, text in zip(prepared, texts)]


def _prepare(text: str) -> str:
    """The text as analysed: a leading dateline blanked (same length, offsets kept)."""
    dateline = _DATELINE.match(text)
    return " " * dateline.end() + text[dateline.end() :] if dateline else text


# "WASHINGTON — ": a dateline is not a speaker; blanked (offsets kept) before the claim is read.
_DATELINE = re.compile(r"^[A-Z][A-Z.,' ]{2,40}(?:\([^)]{0,40}\))?\s*[—–-]{1,3}\s*")


@lru_cache(maxsize=4096)
def _analyse(text: str, truncated: bool, use_nlp: bool) -> ClaimAnalysis:
    spans = quote_spans(text)
    quotes = tuple(text[start:end].strip() for start, end in spans if end - start > 0)
    own = outside_quotes(text)
    question = text.rstrip(" ”\"'’)").endswith("?") and not quotes
    if use_nlp:
        doc = parse(text)
        inside = _inside_mask(text, spans)
        return ClaimAnalysis(
            text, truncated, True, quotes[:MAX_ITEMS], own, content_words(own), _parsed_sources(doc, inside)[:MAX_ITEMS],
            _parsed_hedges(doc, inside)[:MAX_ITEMS], _parsed_predicates(doc, inside)[:MAX_ITEMS],
            tuple((ent.text, ent.label_) for ent in doc.ents)[:MAX_ITEMS], question,
            tuple(t.text for t in doc if t.dep_ == "nsubj" and not inside[t.idx] and _in_main_chain(t.head))[:MAX_ITEMS],
            _tense(doc),
        )
    return ClaimAnalysis(
        text, truncated, False, quotes[:MAX_ITEMS], own, content_words(own), _pattern_sources(own)[:MAX_ITEMS],
        _pattern_hedges(own)[:MAX_ITEMS], (), (), question,
    )


def _inside_mask(text: str, spans: list[tuple[int, int]]) -> bytearray:
    mask = bytearray(len(text) + 1)
    for start, end in spans:
        mask[start:end] = b"\x01" * (end - start)
    return mask


# --- from the parse -------------------------------------------------------------------------------

def _in_main_chain(token: Any) -> bool:
    """The verb belongs to the main assertion: its path to the root runs only through clause
    complements and conjuncts, not relative, adverbial or noun-modifying clauses."""
    steps = 0
    while token.dep_ != "ROOT" and steps < 40:
        if token.dep_ not in _MAIN_CHAIN:
            return False
        token = token.head
        steps += 1
    return True


def _subordinate(token: Any) -> bool:
    """Inside a relative, adverbial or participial clause ("Cheney, who reportedly plans to run, said"):
    a looser test than the main chain, for the disclaiming adverbs that almost always scope over the
    sentence (the small parser often misattaches their verb, e.g. as a noun modifier)."""
    steps = 0
    while token.dep_ != "ROOT" and steps < 40:
        if token.dep_ in ("relcl", "advcl", "acl"):
            return True
        token = token.head
        steps += 1
    return False


def _phrase(token: Any) -> tuple[str, bool, bool, bool]:
    """The noun phrase headed by `token` without clauses or appositions: text, named, plural, pronoun."""
    # prenominal words only: "Mary Cheney, openly lesbian and married ..." is the phrase "Mary Cheney"
    keep = [t for t in token.subtree if t.dep_ in ("compound", "det", "amod", "poss", "case", "nmod", "flat") and t.head == token and t.i < token.i or t == token]
    # names run through compounds of compounds ("The New York Times")
    keep = sorted({*keep, *(t for t in token.subtree if t.dep_ == "compound" and t.head in keep)}, key=lambda t: t.i)
    text = " ".join(t.text for t in keep)
    conjuncts = [t for t in token.children if t.dep_ == "conj"]
    if conjuncts:  # "Medicare and Social Security": both are the target
        text = " and ".join([text, *(" ".join(x.text for x in c.subtree if x.dep_ in ("compound", "flat") or x == c) for c in conjuncts)])
    named = token.pos_ == "PROPN" or token.ent_type_ in ("PERSON", "ORG", "GPE", "NORP")
    return text, named, token.tag_ in ("NNS", "NNPS"), token.pos_ == "PRON" or token.lower_ in PRONOUNS


def _human_noun(word: str) -> bool:
    """A noun for people or bodies that speak ('officials', 'lawmakers', 'analysts'), not 'rules'."""
    word = word.lower()
    return word in _SOURCE_NOUNS or word.endswith(("ers", "ists", "ians", "ants", "ents", "ors"))


def _source(token: Any) -> Source:
    # "One Democrat, Rep. Jeff Van Drew, said": the appositive name is who spoke
    named_apposition = next((c for c in token.children if c.dep_ == "appos" and (c.pos_ == "PROPN" or c.ent_type_ == "PERSON")), None)
    if named_apposition is not None and token.ent_type_ != "PERSON":
        token = named_apposition
    text, named, plural, pronoun = _phrase(token)
    plural = plural and _human_noun(token.text)
    # every word of the phrase ("Republican lawmakers": the adjective names the source too)
    words = frozenset(w for w in text.lower().split() if w not in STOPWORDS and w[:1].isalpha())
    return Source(text, words, named, plural, pronoun)


def _parsed_sources(doc: Any, inside: bytearray) -> tuple[Source, ...]:
    found = []
    for token in doc:
        if inside[token.idx]:
            continue
        if token.lower_ == "according" and token.i + 1 < len(doc) and doc[token.i + 1].lower_ == "to":
            objects = [child for child in doc[token.i + 1].children if child.dep_ == "pobj"]
            if objects:
                found.append(_source(objects[0]))
        elif token.lemma_ in REPORTING_LEMMAS and token.pos_ in ("VERB", "AUX") and (_in_main_chain(token) or token.dep_ == "advcl"):
            subjects = [child for child in token.children if child.dep_ == "nsubj"]
            # "will say", "to say", "may say": speech not (yet) made attributes nothing
            if any(child.tag_ in ("MD", "TO") for child in token.children):
                continue
            if subjects and not _quantity(subjects[0]):
                found.append(_source(subjects[0]))
    return tuple(found)


# Heads of a share of people ("three-quarters of those questioned said", "a majority said"): what a
# poll found, not a source the outlet credits.
_QUANTITY_NOUNS = frozenset("percent per cent quarter quarters third thirds half majority plurality fraction share most".split())


def _quantity(token: Any) -> bool:
    return token.pos_ == "NUM" or token.like_num or token.lower_.split("-")[-1] in _QUANTITY_NOUNS


def _subject_tokens(verb: Any) -> list[Any]:
    """The verb's subject (a subject shared by conjoined verbs hangs on the first one)."""
    subjects = [child for child in verb.children if child.dep_ in ("nsubj", "nsubjpass")]
    if not subjects and verb.dep_ == "conj":
        subjects = [child for child in verb.head.children if child.dep_ in ("nsubj", "nsubjpass")]
    return [t for subject in subjects for t in subject.subtree]


def _scope(verb: Any) -> frozenset[str]:
    """Content words of the clause a hedge governs: the verb's subtree plus its subject, quotations included."""
    words = [t.text for t in verb.subtree]
    if verb.dep_ == "conj":
        words += [t.text for child in verb.head.children if child.dep_ in ("nsubj", "nsubjpass") for t in child.subtree]
    return content_words(" ".join(words))


def _predicate(verb: Any) -> frozenset[str]:
    """The hedged clause without its subject and names: "he might switch parties" hedges the switch,
    not "he"; "seemed to embolden Trump" hedges the emboldening, not Trump (named all over a story)."""
    subject = {t.i for t in _subject_tokens(verb)}
    return content_words(" ".join(t.text for t in verb.subtree if t.i not in subject and t.pos_ != "PROPN"))


def _hedge(marker: str, confidence: float, verb: Any) -> Hedge:
    return Hedge(marker, confidence, _scope(verb), _predicate(verb), verb.lemma_.lower() if verb.pos_ in ("VERB", "AUX") else None)


def _epistemic(token: Any) -> bool:
    """'appears to be', 'it seems that', 'the e-mails suggest that': a judgement of likelihood. Not
    'appeared in blackface' (no complement) nor 'Trump has indicated that' (a person's speech)."""
    children = list(token.children)
    if token.lemma_ in ("appear", "seem"):
        return any(child.dep_ in ("xcomp", "ccomp") for child in children)
    subjects = [child for child in children if child.dep_ == "nsubj"]
    evidence = bool(subjects) and all(s.lemma_.lower() in _EVIDENCE for s in subjects)
    return any(child.dep_ == "ccomp" for child in children) and evidence


def _parsed_hedges(doc: Any, inside: bytearray) -> tuple[Hedge, ...]:
    found = []
    for token in doc:
        if inside[token.idx]:
            continue
        lower, lemma, head = token.lower_, token.lemma_.lower(), token.head
        if lower in HEDGE_ADVERBS and not _subordinate(head):
            found.append(_hedge(lower, HEDGE_ADVERBS[lower], head))
        elif lemma in HEDGE_VERBS and token.pos_ == "VERB" and _in_main_chain(token) and _epistemic(token):
            found.append(_hedge(lower, HEDGE_VERBS[lemma], token))
        elif lemma in HEDGE_PASSIVES and token.tag_ == "VBN" and _in_main_chain(token) and any(
            child.dep_ == "auxpass" for child in token.children
        ) and any(child.dep_ == "xcomp" for child in token.children):
            # "was expected to win" reports a past forecast (background of a result), not a hedge
            if not (lemma == "expect" and any(child.dep_ == "auxpass" and child.tag_ == "VBD" for child in token.children)):
                found.append(_hedge(f"{lower} to", HEDGE_PASSIVES[lemma], token))
        elif lower == "likely" and token.dep_ in ("acomp", "advmod", "xcomp", "ROOT") and _in_main_chain(token if token.dep_ == "ROOT" else head):
            found.append(_hedge("likely", LIKELY, token if token.dep_ == "ROOT" else head))
        elif lower in HEDGE_MODALS and token.dep_ == "aux" and _in_main_chain(head):
            found.append(_hedge(lower, HEDGE_MODALS[lower], head))
    return tuple(found)


def _tense(doc: Any) -> str | None:
    """Tense of the main assertion: the root verb, or the verb a reporting root governs ("X said Y won")."""
    roots = [token for token in doc if token.dep_ == "ROOT"]
    if not roots:
        return None
    verb = roots[0]
    if verb.lemma_ in REPORTING_LEMMAS:
        complements = [child for child in verb.children if child.dep_ == "ccomp"]
        verb = complements[0] if complements else verb
    auxiliaries = [child for child in verb.children if child.dep_ in ("aux", "auxpass")]
    if any(aux.lower_ in ("will", "shall", "'ll") for aux in auxiliaries):
        return "future"
    if verb.lemma_ in ("set", "poise", "expect", "schedule", "go") and verb.tag_ in ("VBN", "VBG") and any(
        child.dep_ == "xcomp" for child in verb.children
    ) and not any(aux.tag_ == "VBD" for aux in auxiliaries):
        return "future"  # "is set to vote", "is expected to win", "is going to sign"
    if verb.tag_ == "VBD" or any(aux.tag_ == "VBD" for aux in auxiliaries) or (
        verb.tag_ == "VBN" and any(aux.lemma_ == "have" for aux in auxiliaries)
    ):
        return "past"
    return "present"


def _parsed_predicates(doc: Any, inside: bytearray) -> tuple[Predicate, ...]:
    found = []
    for token in doc:
        if token.pos_ != "VERB" or inside[token.idx] or not _in_main_chain(token):
            continue
        subject = obj = day = None
        subject_named = object_named = False
        negated = False
        for child in token.children:
            if child.dep_ == "neg" or child.lower_ == "never":
                negated = True
            elif child.dep_ == "nsubj":
                subject, subject_named, _, pronoun = _phrase(child)
                if pronoun:
                    subject = None
            elif child.dep_ in ("nsubjpass", "dobj"):  # the passive subject is the act's object
                obj, object_named, _, pronoun = _phrase(child)
                if pronoun:
                    obj = None
            elif child.dep_ == "agent":
                agents = [t for t in child.children if t.dep_ == "pobj"]
                if agents:
                    subject, subject_named, _, _ = _phrase(agents[0])
            if child.lower_ in WEEKDAYS:
                day = child.lower_
            elif child.dep_ == "prep" and child.lower_ == "on":
                days = [t.lower_ for t in child.children if t.lower_ in WEEKDAYS]
                day = days[0] if days else day
        found.append(Predicate(token.lemma_.lower(), negated, subject, subject_named, obj, object_named, day))
    return tuple(found)


# --- from word patterns (no parse) ---------------------------------------------------------------

_ACCORDING = re.compile(r"\baccording to ((?:[\w.'’&-]{1,40}\s?){1,8})", re.IGNORECASE)
_HEDGE_PATTERNS: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"\b(" + "|".join(HEDGE_ADVERBS) + r")\b", re.IGNORECASE), 0.0),
    (re.compile(r"\b(?:is|are|was|were|be|been|being)\s+(?:widely\s+)?((?:expected|believed|thought|rumou?red|suspected)\s+to)\b", re.IGNORECASE), 0.6),
    (re.compile(r"\b((?:appears?|appeared|seems?|seemed)\s+to)\b", re.IGNORECASE), 0.55),
    # "likely" as a hedge, never as an adjective before a noun ("the most likely candidate")
    (re.compile(r"\b((?:is|are|was|were|be)\s+(?:very\s+|most\s+|more\s+)?likely\s+to|(?:will|would)\s+likely)\b", re.IGNORECASE), LIKELY),
    (re.compile(r"\b((?:may|might)\s+have)\b", re.IGNORECASE), 0.45),
)


def _pattern_hedges(own: str) -> tuple[Hedge, ...]:
    found = []
    for pattern, confidence in _HEDGE_PATTERNS:
        for match in pattern.finditer(own):
            marker = " ".join(match.group(1).lower().split())
            # patterns read no clause structure, so they are trusted less than the parse
            found.append(Hedge(marker, (confidence or HEDGE_ADVERBS.get(marker, 0.5)) - 0.1))
    return tuple(found)


def _pattern_source(words: list[str]) -> Source | None:
    """A speaker phrase from the words before a reporting verb, or None when it is not one."""
    if not words:
        return None
    if len(words) == 1 and words[0].lower() in PRONOUNS:
        return Source(words[0], frozenset(), False, False, True)
    head = words[-1]
    if not (head[:1].isupper() or head.lower() in _SOURCE_NOUNS):
        return None
    named = any(word[:1].isupper() and word.lower() not in STOPWORDS for word in words)
    text = " ".join(words)
    plural = head.lower().endswith("s") and head.islower() and _human_noun(head)
    return Source(text, frozenset(w.lower() for w in words if w.lower() not in STOPWORDS), named, plural, False)


def _pattern_sources(own: str) -> tuple[Source, ...]:
    found = []
    for match in _ACCORDING.finditer(own):
        words = [w for w in match.group(1).split() if w]
        cut = next((i for i, w in enumerate(words) if w.lower() in ("and", "that", "who", "which", "in", "on", "at")), len(words))
        source = _pattern_source([w.strip(",.;:") for w in words[:cut] if w.lower() not in ("the", "a", "an")])
        if source:
            found.append(source)
    tokens = TOKEN.findall(own)
    for index, token in enumerate(tokens):
        if token.lower() not in _SAY_FORMS:
            continue
        end = index
        while end > 0 and tokens[end - 1].lower() in ("is", "was", "has", "have", "had", "are", "were"):
            end -= 1  # "The Times is reporting"
        start = end
        while start > 0 and end - start < 5 and tokens[start - 1][:1].isalpha() and (
            tokens[start - 1][:1].isupper() or tokens[start - 1].lower() in _SOURCE_NOUNS or tokens[start - 1].lower() in ("the", "campaign", "senior", "top")
        ):
            start -= 1
        if start == end and end > 0 and tokens[end - 1].lower() in PRONOUNS:
            start = end - 1
        # a speaker phrase starts a clause: "heard Trump say" and "Needless to say" name no source
        if start > 0 and tokens[start - 1].lower() not in _CLAUSE_START:
            continue
        words = [w for w in tokens[start:end] if w.lower() not in ("the", "a", "an") and not (w[:1].isupper() and w.lower() in STOPWORDS - PRONOUNS)]
        source = _pattern_source(words)
        if source is None and index + 1 < len(tokens) and tokens[index - 1 if index else 0] == ",":
            after = []  # inverted: ", said John Smith"
            for word in tokens[index + 1 : index + 5]:
                if not word[:1].isupper():
                    break
                after.append(word)
            source = _pattern_source(after)
        if source:
            found.append(source)
    return tuple(found)
