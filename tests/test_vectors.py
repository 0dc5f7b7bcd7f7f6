"""compare.vectors.window_search: the time-bucketed neighbour search story linkage uses, checked
against brute force over every allowed pair (exact path) and for recall (IVF path)."""

from __future__ import annotations

import numpy as np
import pytest

from compare.core.timewindow import within
from compare.core.vectors import flat_search, window_search

DAY = 86400.0


def corpus(count: int, *, undated_share: float, seed: int, dimension: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stamps = rng.uniform(0, 60 * DAY, size=count)
    stamps[rng.random(count) < undated_share] = np.nan
    return vectors, stamps


def brute_force(vectors: np.ndarray, stamps: np.ndarray, days: float, k: int) -> list[list[int]]:
    scores = vectors @ vectors.T
    allowed = within(np.abs(stamps[:, None] - stamps[None, :]), days)
    np.fill_diagonal(allowed, False)
    scores[~allowed] = -np.inf
    best = []
    for row in range(len(vectors)):
        ranked = [int(other) for other in np.argsort(-scores[row], kind="stable")[:k] if np.isfinite(scores[row, other])]
        best.append(ranked)
    return best


@pytest.mark.parametrize(("days", "undated_share"), [(3.0, 0.0), (3.0, 0.15), (0.5, 0.3), (0.0, 0.1), (100.0, 0.0)])
def test_exact_window_search_equals_brute_force(days: float, undated_share: float) -> None:
    vectors, stamps = corpus(400, undated_share=undated_share, seed=int(days * 10) + int(undated_share * 100))
    scores, rows = window_search(vectors, stamps, days, 5)
    expected = brute_force(vectors, stamps, days, 5)
    for row in range(len(vectors)):
        found = [int(other) for other in rows[row] if other >= 0]
        assert found == expected[row]
        assert np.allclose(scores[row, : len(found)], vectors[found] @ vectors[row], atol=1e-5)
        assert np.all(rows[row, len(found) :] == -1) and np.all(np.isneginf(scores[row, len(found) :]))



@pytest.mark.parametrize("days", [3.0, 0.0])
def test_queries_searched_and_merged_block_by_block_equal_brute_force(days: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """The undated searches make and merge their query blocks one at a time: 400 rows in blocks of 16
    (undated rows against all, dated rows against the undated ones) still give the exact neighbours."""
    from compare.core import vectors as module

    monkeypatch.setattr(module, "_UNDATED_BLOCK", 16)
    vectors, stamps = corpus(400, undated_share=0.3, seed=11)
    scores, rows = window_search(vectors, stamps, days, 5)
    expected = brute_force(vectors, stamps, days, 5)
    assert [[int(other) for other in found if other >= 0] for found in rows] == expected
    assert sum(map(len, expected)) > 1500

def test_every_neighbour_is_inside_the_window_and_never_the_row_itself() -> None:
    vectors, stamps = corpus(1500, undated_share=0.1, seed=3)
    _, rows = window_search(vectors, stamps, 2.0, 10)
    for row, found in enumerate(rows):
        others = found[found >= 0]
        assert row not in others
        assert within(np.abs(stamps[others] - stamps[row]), 2.0).all()


def test_ivf_for_undated_rows_above_exact_max_keeps_recall() -> None:
    # embeddings cluster by topic: 40 topics plus noise (uniform random vectors are IVF's worst case)
    vectors, stamps = corpus(3000, undated_share=0.2, seed=5, dimension=32)
    topics = np.random.default_rng(6).normal(size=(40, 32)).astype(np.float32)
    vectors = topics[np.arange(3000) % 40] + 0.5 * vectors
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    _, exact = window_search(vectors, stamps, 3.0, 5)
    _, approximate = window_search(vectors, stamps, 3.0, 5, exact_max=500)
    dated = ~np.isnan(stamps)
    hits = sum(len(set(a[a >= 0]) & set(e[e >= 0])) for a, e in zip(approximate, exact, strict=True))
    total = sum(int((e >= 0).sum()) for e in exact)
    assert hits / total >= 0.9, hits / total
    assert all(set(a[a >= 0]) >= {o for o in e[e >= 0] if dated[o]} for a, e in zip(approximate[dated], exact[dated], strict=True))


def test_small_inputs() -> None:
    scores, rows = window_search(np.ones((1, 4), np.float32) / 2, np.array([0.0]), 3.0, 4)
    assert rows.tolist() == [[-1, -1, -1, -1]]
    vectors = np.eye(3, dtype=np.float32)
    _, rows = window_search(vectors, np.array([0.0, DAY, 10 * DAY]), 3.0, 2)
    assert [sorted(r[r >= 0].tolist()) for r in rows] == [[1], [0], []]


@pytest.mark.parametrize(("days", "undated_share", "batch_size", "exact_max"), [(3.0, 0.0, 1, 20_000), (3.0, 0.15, 7, 20_000), (0.5, 0.3, 1000, 100), (0.0, 0.1, 5, 20_000)])
def test_buckets_as_engine_batches_give_the_same_neighbours(
    days: float, undated_share: float, batch_size: int, exact_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compare.core import vectors as module
    from compare.core.distributed import LocalEngine

    vectors, stamps = corpus(400, undated_share=undated_share, seed=5)
    scores, rows = window_search(vectors, stamps, days, 6, exact_max=exact_max)
    monkeypatch.setattr(module, "_UNDATED_BLOCK", 32)  # several undated query blocks
    batched_scores, batched_rows = window_search(vectors, stamps, days, 6, exact_max=exact_max, engine=LocalEngine(batch_size=batch_size))
    np.testing.assert_array_equal(batched_rows, rows)
    np.testing.assert_array_equal(batched_scores, scores)
    assert (rows[:, 0] >= 0).mean() > 0.5  # most rows found a neighbour: the comparison is not vacuous


def test_stand_in_dates_widen_the_window_by_their_slack_only() -> None:
    # rows with a stand-in date (an undated article's crawl span) pair when the gap is at most the
    # window plus both slacks; the search equals brute force under that rule
    vectors, stamps = corpus(400, undated_share=0.0, seed=11)
    slack = np.where(np.random.default_rng(4).random(400) < 0.2, 2.5 * DAY, 0.0)
    _, rows = window_search(vectors, stamps, 3.0, 5, slack=slack)
    scores = vectors @ vectors.T
    allowed = np.abs(stamps[:, None] - stamps[None, :]) <= 3.0 * DAY + slack[:, None] + slack[None, :]
    np.fill_diagonal(allowed, False)
    scores[~allowed] = -np.inf
    for row in range(len(vectors)):
        expected = [int(other) for other in np.argsort(-scores[row], kind="stable")[:5] if np.isfinite(scores[row, other])]
        assert [int(other) for other in rows[row] if other >= 0] == expected
    # without slack the same rows see only the plain window
    _, plain = window_search(vectors, stamps, 3.0, 5, slack=np.zeros(400))
    _, reference = window_search(vectors, stamps, 3.0, 5)
    np.testing.assert_array_equal(plain, reference)
    assert (rows != reference).any()


def test_flat_search_gives_each_query_its_best_rows_without_holding_a_copy() -> None:
    """The incremental stories' search: exact top k by inner product, best first; -1 past the rows."""
    vectors, _ = corpus(300, undated_share=0.0, seed=11)
    queries = vectors[[0, 150, 299]]
    scores, rows = flat_search(vectors, queries, 7)
    expected = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :7]
    assert rows.tolist() == expected.tolist()
    assert np.allclose(scores, np.take_along_axis(queries @ vectors.T, expected, axis=1), atol=1e-5)
    assert rows[:, 0].tolist() == [0, 150, 299]  # each query is its own best row
    _, beyond = flat_search(vectors[:4], queries, 6)
    assert (beyond[:, 4:] == -1).all() and sorted(beyond[0, :4].tolist()) == [0, 1, 2, 3]
