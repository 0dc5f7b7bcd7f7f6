"""Equivalent claims across outlets: FAISS nearest neighbours over claim embeddings.

Two claims of different outlets are aligned when each is the other's nearest neighbour among that
outlet's claims (mutual nearest neighbours) and their cosine similarity reaches the floor. Aligned
pairs are joined into claim groups that span outlets.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from compare.config import AlignConfig

ALIGNED_PAIR_SCHEMA: dict[str, pl.DataType] = {
    "left_claim_id": pl.String(),
    "right_claim_id": pl.String(),
    "similarity": pl.Float32(),
}
CLAIM_GROUP_SCHEMA: dict[str, pl.DataType] = {"group_id": pl.String(), "claim_id": pl.String()}


def _flat_index(vectors: np.ndarray):  # noqa: ANN202 - faiss types are not importable lazily
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _best_per_outlet(vectors: np.ndarray, outlets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every claim and every outlet, the most similar claim of that outlet (index and similarity).

    One exact FAISS search per outlet's claims; a story has tens of outlets and hundreds of claims.
    """
    unique_outlets = np.unique(outlets)
    best_index = np.full((len(vectors), len(unique_outlets)), -1, dtype=np.int64)
    best_similarity = np.full((len(vectors), len(unique_outlets)), -np.inf, dtype=np.float32)
    for column, outlet in enumerate(unique_outlets):
        members = np.flatnonzero(outlets == outlet)
        similarities, neighbours = _flat_index(vectors[members]).search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
        best_index[:, column] = members[neighbours[:, 0]]
        best_similarity[:, column] = similarities[:, 0]
    return best_index, best_similarity


def align_claims(claims: pl.DataFrame, vectors: np.ndarray, config: AlignConfig) -> pl.DataFrame:
    """ALIGNED_PAIR_SCHEMA rows between claims of different outlets (left_claim_id < right_claim_id)."""
    if claims.height < 2:
        return pl.DataFrame(schema=ALIGNED_PAIR_SCHEMA)
    outlets = np.asarray(claims["outlet"].to_list(), dtype=object)
    claim_ids = claims["claim_id"].to_list()
    outlet_column = {outlet: column for column, outlet in enumerate(np.unique(outlets))}
    best_index, best_similarity = _best_per_outlet(vectors, outlets)
    rows: set[tuple[str, str, float]] = set()
    for claim in range(len(claim_ids)):
        for outlet, column in outlet_column.items():
            if outlet == outlets[claim]:
                continue
            match = int(best_index[claim, column])
            similarity = float(best_similarity[claim, column])
            if similarity < config.min_similarity:
                continue
            if config.mutual and best_index[match, outlet_column[outlets[claim]]] != claim:
                continue
            left, right = sorted((claim_ids[claim], claim_ids[match]))
            rows.add((left, right, round(similarity, 6)))
    return pl.DataFrame(sorted(rows), schema=ALIGNED_PAIR_SCHEMA, orient="row")


def group_claims(claim_ids: list[str], pairs: pl.DataFrame) -> pl.DataFrame:
    """CLAIM_GROUP_SCHEMA rows: connected components of aligned pairs; unaligned claims are their own group."""
    parent = {claim_id: claim_id for claim_id in claim_ids}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for left, right in pairs.select("left_claim_id", "right_claim_id").iter_rows():
        parent[root(left)] = root(right)
    members: dict[str, list[str]] = {}
    for claim_id in claim_ids:
        members.setdefault(root(claim_id), []).append(claim_id)
    rows = []
    for group in members.values():
        group_id = "g-" + hashlib.blake2b(min(group).encode(), digest_size=5).hexdigest()
        rows.extend((group_id, claim_id) for claim_id in group)
    return pl.DataFrame(rows, schema=CLAIM_GROUP_SCHEMA, orient="row")
