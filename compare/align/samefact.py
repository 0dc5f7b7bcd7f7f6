"""Do two claims of different outlets report the same fact? A small learned head over pair features.

One bi-encoder cosine cannot decide it: on the gold BASIL events its best F1 over cross-outlet
sentence pairs is 0.40 (paraphrases score low, same-topic sentences high). The head adds what a
reader uses: shared content words, names and numbers, the same quoted words, and where the pair
ranks among each claim's neighbours in the other outlet. It is a logistic regression whose weights
ship in the package (`samefact_head.json`, a few KB), so no user trains anything;
`train_head` refits it from labelled pairs (benchmarks/train_samefact.py does it from the gold).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from compare.text.normalize import normalize_for_matching

HEAD_FILE = "samefact_head.json"

_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself
    no nor not now of off on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your yours yourself
    said says say told according mr mrs ms one two new would could may might must shall us
    """.split()
)
_NUMBER = re.compile(r"\d[\d,.]*")
_QUOTED = re.compile(r"[\"“”]([^\"“”]{8,})[\"“”]?")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'’\-]+")

FEATURES: tuple[str, ...] = (
    "cosine", "gap_left", "gap_right", "rank_left", "rank_right", "mutual", "margin",
    "jaccard", "containment", "bigram", "longest_run", "names", "numbers_shared", "numbers_clash",
    "quote", "length_ratio", "short", "idf_containment", "idf_jaccard", "idf_rarest",
    "position_gap", "both_lede",
)


_MAX_RUN = 12  # longest_run is capped here: a 12-word shared run is a copied passage either way


def _ngram_sets(words: tuple[str, ...]) -> tuple[frozenset[tuple[str, ...]], ...]:
    return tuple(frozenset(zip(*(words[i:] for i in range(n)))) for n in range(1, min(len(words), _MAX_RUN) + 1))


@dataclass(frozen=True)
class ClaimTokens:
    """What the lexical features need of one claim, computed once per claim."""

    content: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    words: tuple[str, ...]
    names: frozenset[str]
    numbers: frozenset[str]
    quoted: tuple[tuple[str, ...], ...]  # quoted passages as word tuples
    runs: tuple[frozenset[tuple[str, ...]], ...] = ()  # word n-grams, n = 1.._MAX_RUN
    quoted_runs: tuple[tuple[frozenset[tuple[str, ...]], ...], ...] = ()


def _stem(word: str) -> str:
    # A crude prefix stem: "criticized"/"criticizes"/"criticism" meet at "criti"; enough for overlap.
    return word[:6] if len(word) > 6 else word


def claim_tokens(text: str) -> ClaimTokens:
    words = tuple(normalize_for_matching(text).split())
    content = [_stem(w) for w in words if w not in _STOPWORDS and not w.isdigit() and len(w) > 1]
    names = frozenset(normalize_for_matching(m) for m in _CAPITALISED.findall(text) if m.lower() not in _STOPWORDS)
    numbers = frozenset(m.rstrip(".,").replace(",", "") for m in _NUMBER.findall(text))
    quoted = tuple(q for q in (tuple(normalize_for_matching(q).split()) for q in _QUOTED.findall(text)) if len(q) >= 3)
    return ClaimTokens(
        frozenset(content), frozenset(zip(content, content[1:])), words, names, numbers, quoted,
        _ngram_sets(words), tuple(_ngram_sets(q) for q in quoted),
    )


def _longest_shared_run(a: tuple[frozenset, ...], b: tuple[frozenset, ...]) -> int:
    """Length in words (capped at _MAX_RUN) of the longest word sequence both n-gram ladders hold:
    a shared n-gram implies every shorter one, so the first empty intersection ends the search."""
    run = 0
    for mine, theirs in zip(a, b):
        if mine.isdisjoint(theirs):
            break
        run += 1
    return run


def _quote_shared(a: ClaimTokens, b: ClaimTokens) -> float:
    """Share of a quoted passage of one claim that the other repeats word for word (a run of at
    least 4 words; the larger share of both ways): the same quoted words are the same fact."""
    best = 0.0
    for quotes, ladders, other in ((a.quoted, a.quoted_runs, b.runs), (b.quoted, b.quoted_runs, a.runs)):
        for quote, ladder in zip(quotes, ladders, strict=True):
            run = _longest_shared_run(ladder, other)
            if run >= 4:
                best = max(best, run / min(len(quote), _MAX_RUN))
    return best


def lexical_features(a: ClaimTokens, b: ClaimTokens) -> list[float]:
    """jaccard .. short of FEATURES for one pair."""
    shared = len(a.content & b.content)
    union = len(a.content | b.content) or 1
    smaller = min(len(a.content), len(b.content)) or 1
    bigram_smaller = min(len(a.bigrams), len(b.bigrams)) or 1
    run = _longest_shared_run(a.runs, b.runs)
    names_union = len(a.names | b.names)
    numbers_shared = len(a.numbers & b.numbers)
    clash = float(bool(a.numbers) and bool(b.numbers) and not numbers_shared)
    length_ratio = min(len(a.words), len(b.words)) / (max(len(a.words), len(b.words)) or 1)
    return [
        shared / union, shared / smaller, len(a.bigrams & b.bigrams) / bigram_smaller, run / _MAX_RUN,
        len(a.names & b.names) / names_union if names_union else 0.0, min(numbers_shared, 3) / 3, clash,
        _quote_shared(a, b), length_ratio, float(min(len(a.words), len(b.words)) < 8),
    ]


@dataclass(frozen=True)
class StoryIdf:
    weights: dict[str, float]
    top: float  # the largest weight: idf_rarest is relative to it


def story_idf(tokens: list[ClaimTokens]) -> StoryIdf:
    """Inverse document frequency of content words over a story's claims: words every outlet repeats
    ("depot", "militia") say little about which fact two claims share; a rare shared word says much."""
    counts: dict[str, int] = {}
    for claim in tokens:
        for word in claim.content:
            counts[word] = counts.get(word, 0) + 1
    total = max(len(tokens), 1)
    weights = {word: float(np.log((total + 1) / (count + 0.5))) for word, count in counts.items()}
    return StoryIdf(weights, max(weights.values(), default=1.0) or 1.0)


def idf_features(a: ClaimTokens, b: ClaimTokens, story: StoryIdf) -> list[float]:
    """idf_containment, idf_jaccard, idf_rarest of FEATURES: shared content weighted by rarity in the story."""
    idf = story.weights
    weight_a = sum(idf.get(w, 0.0) for w in a.content)
    weight_b = sum(idf.get(w, 0.0) for w in b.content)
    shared = [idf.get(w, 0.0) for w in a.content & b.content]
    smaller = min(weight_a, weight_b)
    union = weight_a + weight_b - sum(shared)
    return [sum(shared) / smaller if smaller > 0 else 0.0, sum(shared) / union if union > 0 else 0.0, max(shared, default=0.0) / story.top]


@dataclass(frozen=True)
class SameFactHead:
    """Logistic regression over standardised FEATURES; `align_threshold` decides aligned pairs,
    `near_threshold` (lower) decides that an outlet mentions a fact it was not aligned on."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    align_threshold: float
    near_threshold: float
    features: tuple[str, ...] = FEATURES
    trained_on: str = ""
    # Standardised features may be clipped to +-clip (0 = not clipped), so no single overlap can make
    # a pair certain (on a 586-claim real story, word-rarity overlap alone gave +6 logits to pairs of
    # different lawmakers' remarks). Leave-one-event-out on the gold events, clipped at 2: best pair
    # F1 0.583 (0.572 unclipped) but report alignment F1 0.527 (0.537), so the shipped head is not.
    clip: float = 0.0

    def standardised(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.scale
        return np.clip(z, -self.clip, self.clip) if self.clip > 0 else z

    def probability(self, features: np.ndarray) -> np.ndarray:
        if features.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} features ({', '.join(self.features)}), got {features.shape[1]}")
        z = self.standardised(features) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(self.features), "weights": [round(float(w), 6) for w in self.weights], "bias": round(self.bias, 6),
            "mean": [round(float(v), 6) for v in self.mean], "scale": [round(float(v), 6) for v in self.scale],
            "align_threshold": self.align_threshold, "near_threshold": self.near_threshold, "trained_on": self.trained_on,
            "clip": self.clip,
        }


def head_from_json(document: dict) -> SameFactHead:
    features = tuple(document["features"])
    if features != FEATURES:
        raise ValueError(f"head features {features} do not match this version's {FEATURES}; retrain it (benchmarks/train_samefact.py)")
    return SameFactHead(
        weights=np.asarray(document["weights"], dtype=np.float64), bias=float(document["bias"]),
        mean=np.asarray(document["mean"], dtype=np.float64), scale=np.asarray(document["scale"], dtype=np.float64),
        align_threshold=float(document["align_threshold"]), near_threshold=float(document["near_threshold"]),
        features=features, trained_on=str(document.get("trained_on", "")), clip=float(document.get("clip", 0.0)),
    )


def load_head(path: Path | None = None) -> SameFactHead:
    """The head at `path`, else the one shipped in the package."""
    if path is not None:
        return head_from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    return head_from_json(json.loads(resources.files("compare.align").joinpath(HEAD_FILE).read_text(encoding="utf-8")))


def save_head(head: SameFactHead, path: Path) -> None:
    Path(path).write_text(json.dumps(head.to_json(), indent=1) + "\n", encoding="utf-8")


def train_head(
    features: np.ndarray, labels: np.ndarray, *, align_threshold: float, near_threshold: float, c: float = 1.0, clip: float = 0.0, trained_on: str = ""
) -> SameFactHead:
    """Fit the logistic regression (scikit-learn, L2, balanced classes) on labelled pair features,
    standardised and clipped at +-clip as the head applies them."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    unfitted = SameFactHead(np.zeros(len(FEATURES)), 0.0, mean, scale, align_threshold, near_threshold, FEATURES, trained_on, clip)
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    model.fit(unfitted.standardised(features), labels.astype(int))
    return replace(unfitted, weights=model.coef_[0].astype(np.float64), bias=float(model.intercept_[0]))
