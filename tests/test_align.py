"""compare.align.alignment: FAISS mutual nearest neighbours checked against a brute-force numpy answer; claim groups."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from compare.align.alignment import ALIGNED_PAIR_SCHEMA, CLAIM_GROUP_SCHEMA, align_claims, build_index, candidate_pairs, group_claims
from compare.core.config import AlignConfig
from compare.embed.embedder import HashingEmbedder


def random_claims(seed: int, outlets: int, dimension: int = 16) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 9, size=outlets)
    names = [f"outlet{o}" for o in range(outlets) for _ in range(sizes[o])]
    claim_ids = [f"a{o}:{k}" for o in range(outlets) for k in range(sizes[o])]
    # Shared "events" plus noise, so some cross-outlet pairs are close and some are not.
    events = rng.normal(size=(6, dimension))
    vectors = events[rng.integers(0, 6, size=len(claim_ids))] + rng.normal(scale=0.6, size=(len(claim_ids), dimension))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return pl.DataFrame({"claim_id": claim_ids, "outlet": names}), vectors


def brute_force_pairs(claims: pl.DataFrame, vectors: np.ndarray, min_similarity: float, *, mutual: bool) -> dict[tuple[str, str], float]:
    ids = claims["claim_id"].to_list()
    outlets = np.array(claims["outlet"].to_list())
    similarity = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    best = {}
    for i in range(len(ids)):
        for outlet in set(outlets.tolist()):
            members = np.flatnonzero(outlets == outlet)
            best[i, outlet] = int(members[np.argmax(similarity[i, members])])
    pairs = {}
    for i in range(len(ids)):
        for outlet in set(outlets.tolist()) - {outlets[i]}:
            j = best[i, outlet]
            if similarity[i, j] < min_similarity:
                continue
            if mutual and best[j, outlets[i]] != i:
                continue
            pairs[tuple(sorted((ids[i], ids[j])))] = similarity[i, j]
    return pairs


@pytest.mark.parametrize(("seed", "outlets"), [(0, 3), (1, 4), (2, 3), (3, 4), (4, 4)])
@pytest.mark.parametrize("mutual", [True, False])
def test_align_claims_matches_brute_force(seed: int, outlets: int, mutual: bool) -> None:
    claims, vectors = random_claims(seed, outlets)
    config = AlignConfig(min_similarity=0.3, mutual=mutual, criterion="cosine")
    expected = brute_force_pairs(claims, vectors, config.min_similarity, mutual=mutual)
    pairs = align_claims(claims, vectors, config)
    assert pairs.schema == pl.Schema(ALIGNED_PAIR_SCHEMA)
    got = {(left, right): similarity for left, right, similarity in pairs.iter_rows()}
    assert len(expected) > 3
    assert set(got) == set(expected)
    for key, similarity in got.items():
        assert similarity == pytest.approx(expected[key], abs=1e-5)


def test_similarity_floor_is_respected_and_no_pairs_within_an_outlet() -> None:
    claims, vectors = random_claims(7, 4)
    outlet_of = dict(zip(claims["claim_id"], claims["outlet"], strict=True))
    loose = align_claims(claims, vectors, AlignConfig(min_similarity=-1.0, mutual=False, criterion="cosine"))
    strict = align_claims(claims, vectors, AlignConfig(min_similarity=0.7, mutual=False, criterion="cosine"))
    assert strict.height < loose.height
    assert strict["similarity"].min() >= 0.7
    assert set(strict.select("left_claim_id", "right_claim_id").iter_rows()) <= set(loose.select("left_claim_id", "right_claim_id").iter_rows())
    for left, right, _ in loose.iter_rows():
        assert left < right
        assert outlet_of[left] != outlet_of[right]
    # With no floor and no mutual check, every claim has a partner in every other outlet.
    partnered = set(loose["left_claim_id"]) | set(loose["right_claim_id"])
    assert partnered == set(claims["claim_id"])


def test_identical_claims_within_one_outlet_are_not_paired() -> None:
    claims = pl.DataFrame({"claim_id": ["a:0", "a:1", "b:0"], "outlet": ["AP", "AP", "BBC"]})
    vectors = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    assert align_claims(claims, vectors, AlignConfig(min_similarity=0.5, mutual=False, criterion="cosine")).height == 0


def test_align_with_hashing_embedder_pairs_the_same_sentence() -> None:
    texts = [
        "The depot lies 80 kilometres north of Baghdad.",
        "Rescuers searched the rubble for survivors.",
        "The depot lies 100 kilometres north of Baghdad.",
        "The weather was hot across the region.",
    ]
    claims = pl.DataFrame({"claim_id": ["ap:0", "ap:1", "bbc:0", "bbc:1"], "outlet": ["AP", "AP", "BBC", "BBC"]})
    pairs = align_claims(claims, HashingEmbedder(512).encode(texts), AlignConfig(criterion="margin"))
    assert pairs.select("left_claim_id", "right_claim_id").rows() == [("ap:0", "bbc:0")]


def test_single_claim_gives_no_pairs() -> None:
    claims = pl.DataFrame({"claim_id": ["a:0"], "outlet": ["AP"]})
    assert align_claims(claims, np.ones((1, 4), dtype=np.float32) / 2, AlignConfig()).height == 0


def test_group_claims_connected_components() -> None:
    ids = ["a:0", "a:1", "b:0", "b:1", "c:0", "d:0"]
    pairs = pl.DataFrame({"left_claim_id": ["a:0", "b:0", "a:1"], "right_claim_id": ["b:0", "c:0", "b:1"], "similarity": [0.9, 0.8, 0.7]})
    groups = group_claims(ids, pairs)
    assert groups.schema == pl.Schema(CLAIM_GROUP_SCHEMA)
    assert sorted(groups["claim_id"].to_list()) == sorted(ids)
    members = {frozenset(g["claim_id"].to_list()) for _, g in groups.group_by("group_id")}
    assert members == {frozenset({"a:0", "b:0", "c:0"}), frozenset({"a:1", "b:1"}), frozenset({"d:0"})}
    # Group ids depend on the members only, not on the order of pairs or claims.
    again = group_claims(list(reversed(ids)), pairs.reverse())
    assert {c: g for g, c in groups.iter_rows()} == {c: g for g, c in again.iter_rows()}
    assert groups["group_id"].n_unique() == 3


def test_group_claims_without_pairs_gives_singletons() -> None:
    groups = group_claims(["x:0", "y:0"], pl.DataFrame(schema=ALIGNED_PAIR_SCHEMA))
    assert groups.height == 2 and groups["group_id"].n_unique() == 2


# ---------------------------------------------------------------- margin criterion and index choice (issue 4)


def brute_force_margin_pairs(claims: pl.DataFrame, vectors: np.ndarray, k: int) -> dict[tuple[str, str], tuple[float, float]]:
    """Mutual best partners by ratio margin, computed with plain numpy loops."""
    ids = claims["claim_id"].to_list()
    outlets = np.array(claims["outlet"].to_list())
    similarity = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    names = sorted(set(outlets.tolist()))

    def knn_mean(i: int, outlet: str) -> float:
        members = np.flatnonzero(outlets == outlet)
        return float(np.mean(np.sort(similarity[i, members])[::-1][: min(k, len(members))]))

    def topk(i: int, outlet: str) -> list[int]:
        members = np.flatnonzero(outlets == outlet)
        return [int(members[j]) for j in np.argsort(-similarity[i, members], kind="stable")[: min(k, len(members))]]

    def margin(i: int, j: int) -> float:
        return similarity[i, j] / max(0.1, (knn_mean(i, outlets[j]) + knn_mean(j, outlets[i])) / 2)

    best = {(i, o): max(topk(i, o), key=lambda j: margin(i, j)) for i in range(len(ids)) for o in names}
    pairs = {}
    for i in range(len(ids)):
        for o in set(names) - {outlets[i]}:
            j = best[i, o]
            if best[j, outlets[i]] == i:
                pairs[tuple(sorted((ids[i], ids[j])))] = (similarity[i, j], margin(i, j))
    return pairs


@pytest.mark.parametrize(("seed", "outlets"), [(0, 3), (1, 4), (5, 2)])
def test_margin_candidates_match_brute_force(seed: int, outlets: int) -> None:
    claims, vectors = random_claims(seed, outlets)
    config = AlignConfig(criterion="margin", margin_k=3)
    expected = brute_force_margin_pairs(claims, vectors, 3)
    got = {(left, right): (similarity, margin) for left, right, similarity, margin in candidate_pairs(claims, vectors, config).iter_rows()}
    assert set(got) == set(expected)
    for key, (similarity, margin) in got.items():
        assert similarity == pytest.approx(expected[key][0], abs=1e-5)
        assert margin == pytest.approx(expected[key][1], abs=1e-4)


def test_margin_threshold_filters_candidates() -> None:
    claims, vectors = random_claims(3, 4)
    loose = align_claims(claims, vectors, AlignConfig(criterion="margin", min_similarity=-1.0, min_margin=0.0))
    median = float(candidate_pairs(claims, vectors, AlignConfig(criterion="margin"))["margin"].median())
    strict = align_claims(claims, vectors, AlignConfig(criterion="margin", min_similarity=-1.0, min_margin=median))
    assert 0 < strict.height < loose.height
    assert set(strict.rows()) <= set(loose.rows())


def test_margin_rejects_a_match_that_is_only_on_topic() -> None:
    # Outlet B's claims are all about the depot; A's weather claim is closest to one of them but
    # not distinctly so, while the true paraphrase stands out from its neighbourhood.
    base = np.array([1.0, 0.0, 0.0, 0.0])
    vectors = np.array(
        [
            [0.90, 0.30, 0.30, 0.00],  # A: depot claim
            [0.60, 0.00, 0.00, 0.80],  # A: weather claim
            [0.92, 0.28, 0.27, 0.00],  # B: paraphrase of A's depot claim
            [0.85, -0.30, 0.35, 0.25],  # B: another depot claim
            [0.85, 0.35, -0.30, 0.25],  # B: another depot claim
        ]
    ) + 0 * base
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    claims = pl.DataFrame({"claim_id": ["a:0", "a:1", "b:0", "b:1", "b:2"], "outlet": ["A", "A", "B", "B", "B"]})
    candidates = candidate_pairs(claims, vectors, AlignConfig(criterion="margin", margin_k=3)).sort("margin", descending=True)
    assert candidates.row(0)[:2] == ("a:0", "b:0")
    margin_pairs = align_claims(claims, vectors, AlignConfig(criterion="margin", margin_k=3, min_similarity=0.5, min_margin=1.05))
    assert margin_pairs.select("left_claim_id", "right_claim_id").rows() == [("a:0", "b:0")]


def test_unknown_criterion_is_an_error() -> None:
    claims, vectors = random_claims(0, 2)
    with pytest.raises(ValueError, match="criterion"):
        align_claims(claims, vectors, AlignConfig(criterion="jaccard"))


@pytest.mark.parametrize(("approximate", "index_type"), [("ivf", "IndexIVFFlat"), ("hnsw", "IndexHNSWFlat")])
def test_approximate_index_above_exact_max_agrees_with_exact_search(approximate: str, index_type: str) -> None:
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(40, 32))
    vectors = centres[rng.integers(0, 40, 2000)] + rng.normal(scale=0.3, size=(2000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    exact = build_index(vectors, exact_max=10_000)
    approximate_index = build_index(vectors, exact_max=500, approximate=approximate)
    assert type(exact).__name__ == "IndexFlatIP" and type(approximate_index).__name__ == index_type
    _, truth = exact.search(vectors[:200], 10)
    _, found = approximate_index.search(vectors[:200], 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall > 0.95
    claims = pl.DataFrame({"claim_id": [f"{o}:{i}" for o in "ab" for i in range(1000)], "outlet": ["A"] * 1000 + ["B"] * 1000})
    via_exact = align_claims(claims, vectors, AlignConfig(exact_max=10_000, criterion="cosine"))
    via_ann = align_claims(claims, vectors, AlignConfig(exact_max=500, criterion="cosine", ann=approximate))
    shared = set(via_exact.select("left_claim_id", "right_claim_id").rows()) & set(via_ann.select("left_claim_id", "right_claim_id").rows())
    assert len(shared) >= 0.9 * via_exact.height


def test_unknown_ann_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="align.ann must be one of ivf, hnsw"):
        build_index(np.eye(4, dtype=np.float32), exact_max=0, approximate="lsh")


class PairHashScorer:
    """A stand-in cross-encoder: a fixed pseudo-random score per unordered pair of texts; records calls."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def score(self, pairs: list[tuple[str, str]], cosines: np.ndarray | None = None) -> np.ndarray:
        import hashlib

        assert cosines is None or len(cosines) == len(pairs)
        self.seen.extend(pairs)
        keys = ["|".join(sorted(pair)) for pair in pairs]
        return np.array([int(hashlib.blake2b(k.encode(), digest_size=4).hexdigest(), 16) / 2**32 for k in keys], dtype=np.float32)


def brute_force_reranked(claims: pl.DataFrame, vectors: np.ndarray, scorer: PairHashScorer, config: AlignConfig) -> dict[tuple[str, str], float]:
    ids, texts = claims["claim_id"].to_list(), claims["text"].to_list()
    outlets = np.array(claims["outlet"].to_list())
    similarity = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    best = {}
    for i in range(len(ids)):
        for outlet in set(outlets.tolist()) - {outlets[i]}:
            members = np.flatnonzero(outlets == outlet)
            nearest = [j for j in members[np.argsort(-similarity[i, members])][: config.rerank_k] if similarity[i, j] >= config.rerank_floor]
            if nearest:
                best[i, outlet] = max(nearest, key=lambda j: scorer.score([(texts[i], texts[j])])[0])
    pairs = {}
    for (i, outlet), j in best.items():
        if best.get((j, outlets[i])) == i:
            pairs[tuple(sorted((ids[i], ids[j])))] = float(scorer.score([(texts[i], texts[j])])[0])
    return pairs


@pytest.mark.parametrize(("seed", "outlets"), [(0, 3), (1, 4), (5, 2)])
def test_reranked_pairs_match_brute_force_and_score_only_proposed_pairs(seed: int, outlets: int) -> None:
    from compare.align.alignment import reranked_pairs

    claims, vectors = random_claims(seed, outlets)
    claims = claims.with_columns(pl.format("claim text {}", pl.col("claim_id")).alias("text"))
    config = AlignConfig(rerank_k=2, rerank_floor=0.2)
    scorer = PairHashScorer()
    found = reranked_pairs(claims, vectors, scorer, config)
    expected = brute_force_reranked(claims, vectors, PairHashScorer(), config)
    assert {(l, r): pytest.approx(s, abs=1e-6) for l, r, s in found.select("left_claim_id", "right_claim_id", "score").iter_rows()} == expected
    # Each proposed pair is scored once, and never a pair of one outlet's claims.
    assert len(scorer.seen) == len({tuple(sorted(p)) for p in scorer.seen})
    outlet_of = dict(zip(claims["text"].to_list(), claims["outlet"].to_list(), strict=True))
    assert all(outlet_of[a] != outlet_of[b] for a, b in scorer.seen)
    assert len(scorer.seen) <= claims.height * (outlets - 1) * config.rerank_k


def test_the_reranker_decides_which_neighbour_is_aligned_and_its_threshold_cuts() -> None:
    # Claim x is closer by cosine to y1, but the scorer prefers y2: the reranked alignment takes y2.
    claims = pl.DataFrame({"claim_id": ["x", "y1", "y2"], "outlet": ["A", "B", "B"], "text": ["five killed", "two killed", "five dead"]})
    vectors = np.array([[1.0, 0.0], [0.99, 0.141], [0.9, 0.436]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    class Prefers:
        def score(self, pairs: list[tuple[str, str]], cosines: np.ndarray) -> np.ndarray:
            assert np.allclose(sorted(cosines), sorted([float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])]), atol=1e-5)
            return np.array([0.9 if "five dead" in pair else 0.3 for pair in pairs], dtype=np.float32)

    cosine_only = align_claims(claims, vectors, AlignConfig(criterion="cosine", min_similarity=0.5))
    assert cosine_only.select("left_claim_id", "right_claim_id").rows() == [("x", "y1")]
    reranked = align_claims(claims, vectors, AlignConfig(), scorer=Prefers(), threshold=0.5)
    assert reranked.select("left_claim_id", "right_claim_id").rows() == [("x", "y2")]
    assert reranked["similarity"][0] == pytest.approx(float(vectors[0] @ vectors[2]), abs=1e-5)  # still the cosine
    assert align_claims(claims, vectors, AlignConfig(), scorer=Prefers(), threshold=0.95).height == 0
