"""Exact nearest-neighbour search over L2-normalised vectors (FAISS inner product), in one place.

Story grouping and its incremental pass search article vectors exactly: a few thousand rows per
search, where FAISS's flat index is faster than any approximation. Claim alignment builds its own
indexes (compare.align.alignment.build_index), approximate above `AlignConfig.exact_max`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from compare.core.distributed import Engine


def flat_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, rows) of each query's `k` most similar rows of `vectors` (rows -1 when fewer).

    faiss.knn scans `vectors` where they are (the exact scan an IndexFlatIP runs, same results); an
    index would first copy them all (1.5 GB at a million articles, for an incremental build's
    few thousand new ones)."""
    import faiss

    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    return faiss.knn(np.ascontiguousarray(queries, dtype=np.float32), matrix, k, metric=faiss.METRIC_INNER_PRODUCT)


# Above this many rows a searched set gets an IVF index instead of an exact scan; only undated
# articles and windowless searches reach it (a window bucket is days of news). Exact search of 12%
# undated articles against all grows as 0.24 N^2 (18 CPU s at 64k, against 2 s for the dated ones);
# IVF with sqrt(n) lists costs ~N^1.5 and keeps small corpora (tests, BASIL, a day's news) exact.
EXACT_MAX = 20_000
IVF_PROBES = 8  # lists searched per query, of sqrt(n) lists
_QUERY_BLOCK = 512  # query rows scored at once: bounds the memory of a burst (512 x candidates x 12 bytes)
# Engine batches handed over at once: each carries its buckets' candidate vectors (about 3x the
# rows it scores), so the payloads in memory stay bounded by this many batches, not the corpus.
_BATCHES_AT_ONCE = 64


@dataclass(frozen=True)
class WindowBucket:
    """One time bucket of dated rows, self-contained for an engine task: the rows it may pair with
    (`candidates`, global row numbers, by time) with their vectors and stamps; its own rows are
    candidates[first:last]."""

    candidates: np.ndarray
    vectors: np.ndarray
    stamps: np.ndarray
    first: int
    last: int
    slack: np.ndarray | None = None  # the candidates' date uncertainty (seconds); None: all exact


def score_buckets(width: float, k: int, buckets: list[WindowBucket]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(query rows, similarities, rows) of each bucket's rows' `k` best candidates within `width`
    seconds, self excluded; a plain function for engine batches (buckets are independent)."""
    results = []
    for bucket in buckets:
        local = np.arange(len(bucket.candidates))
        parts = []
        for block in range(bucket.first, bucket.last, _QUERY_BLOCK):
            queries = local[block : min(block + _QUERY_BLOCK, bucket.last)]
            scores = bucket.vectors[queries] @ bucket.vectors.T
            gaps = np.abs(bucket.stamps[queries][:, None] - bucket.stamps[None, :])
            if bucket.slack is not None:  # a stand-in date widens the window by its uncertainty
                gaps = gaps - bucket.slack[queries][:, None] - bucket.slack[None, :]
            scores[(gaps > width) | (queries[:, None] == local[None, :])] = -np.inf
            parts.append(_top(scores, bucket.candidates, k))
        results.append((bucket.candidates[bucket.first : bucket.last], np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])))
    return results


def window_search(
    vectors: np.ndarray, stamps: np.ndarray, days: float, k: int, *, exact_max: int = EXACT_MAX, engine: Engine | None = None,
    slack: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, rows) of each row's `k` most similar other rows among those it may pair with
    under compare.core.timewindow (published at most `days` apart; undated rows pair with every row);
    rows -1 and similarity -inf where fewer. Linear in the rows for a steady flow of dated articles.

    Why not one search over all rows: story linkage needs neighbours within days, and an all-against-
    all search grew with the square of the corpus (16 s at 32k, 58 s at 64k, ~4 h at 1M). Dated rows
    are cut into buckets `days` wide; a row's dated candidates are in its own and the two adjacent
    buckets (exact scores, the window checked per pair). Undated rows are searched apart: as queries
    against every row, and as candidates of the dated ones, exactly up to `exact_max` rows searched,
    with IVF above. The buckets and the undated query blocks are `engine` batches (in this process
    without one; Ray tasks on the ray engine, with the same results). `stamps` are POSIX seconds,
    NaN when undated (timewindow.timestamps). `slack` (seconds per row, 0 for a real date) marks
    stand-in dates known only within +/- slack: two rows pair when their gap is at most the window
    plus both slacks, so such rows join the buckets instead of being searched against all.
    """
    count = len(vectors)
    rows_out = np.full((count, k), -1, dtype=np.int64)
    scores_out = np.full((count, k), -np.inf, dtype=np.float32)
    if count < 2 or k <= 0:
        return scores_out, rows_out
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    stamps = np.asarray(stamps, dtype=np.float64)
    if days <= 0:  # no window: every row pairs with every row
        for part in _index_search(data, np.arange(count), np.arange(count), k + 1, exact_max, engine):
            _merge(scores_out, rows_out, *part)
        return scores_out, rows_out
    undated = np.flatnonzero(np.isnan(stamps))
    dated = np.flatnonzero(~np.isnan(stamps))
    width = days * 86400.0
    if len(dated):
        score = partial(score_buckets, width, k)
        for batches in _bucket_batches(data, stamps, dated, width, engine.batch_size if engine is not None else 0, slack):
            parts = engine.map_batches(score, batches) if engine is not None else [score(batch) for batch in batches]
            for part in parts:
                for queries, scores, rows in part:
                    _merge(scores_out, rows_out, queries, scores, rows)
        if len(undated):  # dated rows' undated candidates
            for part in _index_search(data, undated, dated, k, exact_max, engine):
                _merge(scores_out, rows_out, *part)
    if len(undated):  # undated rows pair with every row
        for part in _index_search(data, np.arange(count), undated, k + 1, exact_max, engine):
            _merge(scores_out, rows_out, *part)
    return scores_out, rows_out


def _bucket_batches(
    data: np.ndarray, stamps: np.ndarray, dated: np.ndarray, width: float, batch_rows: int, slack: np.ndarray | None = None
) -> Iterator[list[list[WindowBucket]]]:
    """The dated rows' buckets, grouped into batches of about `batch_rows` rows to score (one bucket
    per batch when 0), yielded _BATCHES_AT_ONCE batches at a time. With `slack`, a bucket's
    candidates reach twice the largest slack further (the widest a pair's window can be)."""
    reach = width + (2 * float(np.max(slack[dated])) if slack is not None and len(dated) else 0.0)
    order = dated[np.argsort(stamps[dated], kind="stable")]
    sorted_stamps = stamps[order]
    bucket = np.floor((sorted_stamps - sorted_stamps[0]) / width).astype(np.int64)
    starts = np.searchsorted(bucket, np.unique(bucket), side="left")
    ends = np.searchsorted(bucket, np.unique(bucket), side="right")
    batches: list[list[WindowBucket]] = []
    current: list[WindowBucket] = []
    rows = 0
    for first, last in zip(starts, ends, strict=True):
        # candidates: every dated row within `reach` of this bucket's rows (adjacent buckets without slack)
        low = int(np.searchsorted(sorted_stamps, sorted_stamps[first] - reach, side="left"))
        high = int(np.searchsorted(sorted_stamps, sorted_stamps[last - 1] + reach, side="right"))
        candidates = order[low:high]
        current.append(WindowBucket(
            candidates, data[candidates], stamps[candidates], int(first) - low, int(last) - low, slack[candidates] if slack is not None else None,
        ))
        rows += int(last - first)
        if rows >= batch_rows:
            batches.append(current)
            current, rows = [], 0
            if len(batches) == _BATCHES_AT_ONCE:
                yield batches
                batches = []
    if current:
        batches.append(current)
    if batches:
        yield batches


def _top(scores: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each score row's k best (similarity, candidate row), best first; -inf scores become row -1."""
    width = min(k, scores.shape[1])
    best = np.argpartition(-scores, width - 1, axis=1)[:, :width] if width < scores.shape[1] else np.tile(np.arange(width), (len(scores), 1))
    picked = np.take_along_axis(scores, best, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    best, picked = np.take_along_axis(best, order, axis=1), np.take_along_axis(picked, order, axis=1)
    rows = np.where(np.isfinite(picked), candidates[best], -1)
    return picked.astype(np.float32), rows


# Queries per block of the undated searches. Fixed, not the engine's batch size, so every engine
# makes the same FAISS calls and gets the same neighbours; 4,096 x 384 floats is 6 MB a task.
_UNDATED_BLOCK = 4096
# Indexes of undated searches in progress, by token: the driver's own (a local engine searches it in
# place) and, in a Ray worker, the last few deserialised (one copy per worker, not per task).
_SEARCH_INDEXES: dict[str, object] = {}
_WORKER_INDEXES_KEPT = 2


def _index_search(
    data: np.ndarray, database: np.ndarray, queries: np.ndarray, k: int, exact_max: int, engine: Engine | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(query rows, similarities, rows): the k best rows of `database` for each of `queries` (global
    row numbers), self excluded, a block of queries at a time; the blocks as `engine` batches, the
    index shipped once (serialised into the batch function). Blocks are made and merged a wave at a
    time: the queries' vectors and results are never all held at once (at a million articles the
    dated rows' undated candidates alone would be 1.3 GB of query copies and 1 GB of results)."""
    import uuid

    import faiss

    from compare.core.distributed import LocalEngine, in_waves

    engine = engine or LocalEngine()
    local = engine.name == "local"
    # the whole matrix when every row is searched (undated rows pair with every row): no second copy
    index = _index(data if len(database) == len(data) else data[database], exact_max)
    token = uuid.uuid4().hex
    search = partial(search_block, token, None if local else faiss.serialize_index(index), database, min(k, len(database)))
    blocks = ((queries[at : at + _UNDATED_BLOCK], data[queries[at : at + _UNDATED_BLOCK]]) for at in range(0, len(queries), _UNDATED_BLOCK))
    _SEARCH_INDEXES[token] = index
    try:
        yield from in_waves(engine, search, blocks, 1 if local else _BATCHES_AT_ONCE)
    finally:
        del _SEARCH_INDEXES[token]


def search_block(
    token: str, serialised: np.ndarray | None, database: np.ndarray, k: int, block: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query rows, similarities, rows) of one block of (query rows, query vectors) against the index
    `token` names, self excluded; a plain function for engine batches. A worker process deserialises the
    index once and keeps it for the following blocks."""
    queries, vectors = block
    index = _SEARCH_INDEXES.get(token)
    if index is None:
        import faiss

        if serialised is None:
            raise RuntimeError("the undated-article index is not in this process and was not shipped with the task")
        while len(_SEARCH_INDEXES) >= _WORKER_INDEXES_KEPT:
            del _SEARCH_INDEXES[next(iter(_SEARCH_INDEXES))]
        index = _SEARCH_INDEXES[token] = faiss.deserialize_index(serialised)
    scores, found = index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)  # type: ignore[attr-defined]
    rows = np.where(found >= 0, database[np.clip(found, 0, None)], -1)
    scores = np.where((rows >= 0) & (rows != queries[:, None]), scores, -np.inf).astype(np.float32)
    return queries, scores, np.where(np.isfinite(scores), rows, -1)


def _merge(scores_out: np.ndarray, rows_out: np.ndarray, queries: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> None:
    """Keep, for each query, the best k of what it had and the new (scores, rows)."""
    k = scores_out.shape[1]
    both_scores = np.concatenate([scores_out[queries], scores], axis=1)
    both_rows = np.concatenate([rows_out[queries], rows], axis=1)
    order = np.argsort(-both_scores, axis=1, kind="stable")[:, :k]
    scores_out[queries] = np.take_along_axis(both_scores, order, axis=1)
    rows_out[queries] = np.take_along_axis(both_rows, order, axis=1)


def _index(data: np.ndarray, exact_max: int):  # noqa: ANN202 - a faiss index
    """Exact inner-product index up to `exact_max` rows; above, IVF with sqrt(n) lists trained on 40
    rows per list for 10 k-means rounds and IVF_PROBES lists probed, so building and searching stay
    near-linear (alignment.build_index's 4 sqrt(n) lists, 25 rounds, 32 probes cost minutes at 1M)."""
    import faiss

    data = np.ascontiguousarray(data, dtype=np.float32)
    if len(data) <= exact_max:
        index = faiss.IndexFlatIP(data.shape[1])
    else:
        lists = max(1, min(int(np.sqrt(len(data))), len(data) // 40))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(data.shape[1]), data.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        sample = np.random.default_rng(0).choice(len(data), min(len(data), 40 * lists), replace=False)
        index.train(data[np.sort(sample)])
        index.nprobe = min(IVF_PROBES, lists)
    index.add(data)
    return index
