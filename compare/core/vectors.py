"""Exact nearest-neighbour search over L2-normalised vectors (FAISS inner product), in one place.

Story grouping and its incremental pass search article vectors exactly: a few thousand rows per
search, where FAISS's flat index is faster than any approximation. Claim alignment builds its own
indexes (compare.align.build_index), approximate above `AlignConfig.exact_max`.
"""

from __future__ import annotations

import numpy as np


def flat_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, rows) of each query's `k` most similar rows of `vectors` (rows -1 when fewer)."""
    import faiss

    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(matrix.shape[1])
    index.add(matrix)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
