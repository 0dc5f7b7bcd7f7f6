"""Near-duplicate articles (wire copy and reprints) with MinHash signatures and datasketch LSH.

LSH gives candidates cheaply; every candidate pair is then verified with the exact Jaccard of the
hashed shingle sets, so what is reported as a copy has a real overlap, not an estimate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH

from compare.config import MinHashConfig
from compare.schema import CLUSTER_SCHEMA
from compare.text import words


_ROLL_BASE = np.uint64(0x9E3779B97F4A7C15)


def shingles(text: str, size: int) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word n-grams of the normalised text (short texts: one shingle).

    Words are hashed once and rolled into n-gram hashes with numpy (polynomial hash mod 2**64),
    instead of building every n-gram string in Python.
    """
    tokens = words(text)
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    word_hashes = np.fromiter((xxhash.xxh64_intdigest(token.encode()) for token in tokens), dtype=np.uint64, count=len(tokens))
    count = max(1, len(tokens) - size + 1)
    grams = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(min(size, len(tokens))):
            grams = grams * _ROLL_BASE + word_hashes[offset : offset + count]
    return np.unique(grams)


def jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Exact Jaccard of two sorted unique hash arrays; 0.0 when both are empty."""
    if left.size == 0 and right.size == 0:
        return 0.0
    shared = np.intersect1d(left, right, assume_unique=True).size
    return shared / (left.size + right.size - shared)


def _identity_hash(value: bytes) -> int:
    # Shingles are already 64-bit hashes; datasketch takes the low 32 bits for its permutations.
    return int.from_bytes(value[:4], "little")


def signatures(shingle_sets: Sequence[np.ndarray], config: MinHashConfig) -> list[LeanMinHash]:
    """datasketch-compatible signatures, so MinHashLSH (and its storage backends) stay the index."""
    encoded = [[int(h).to_bytes(8, "little") for h in hashes] for hashes in shingle_sets]
    minhashes = MinHash.bulk(encoded, num_perm=config.num_perm, seed=config.seed, hashfunc=_identity_hash)
    return [LeanMinHash(m) for m in minhashes]


@dataclass(frozen=True)
class CopyPair:
    left: str
    right: str
    jaccard: float


def candidate_pairs(article_ids: Sequence[str], minhashes: Sequence[LeanMinHash], config: MinHashConfig) -> list[tuple[int, int]]:
    lsh = MinHashLSH(threshold=config.lsh_threshold, num_perm=config.num_perm)
    for index, minhash in enumerate(minhashes):
        lsh.insert(index, minhash, check_duplication=False)
    pairs: set[tuple[int, int]] = set()
    for index, minhash in enumerate(minhashes):
        for other in lsh.query(minhash):
            if other != index:
                pairs.add((min(index, other), max(index, other)))
    return sorted(pairs)


def containment(part: np.ndarray, whole: np.ndarray) -> float:
    """Share of `part`'s shingles found in `whole`: high when a short copy sits inside a long article."""
    if part.size == 0:
        return 0.0
    return np.intersect1d(part, whole, assume_unique=True).size / part.size


def strip_templates(shingle_sets: list[np.ndarray], outlets: Sequence[str], min_articles: int) -> list[np.ndarray]:
    """Remove each outlet's page template: shingles found in `min_articles` or more of its articles.

    Scraped text often keeps an outlet's boilerplate (newsletter boxes, related links); in the Baly
    sample 33 of the 40 highest-containment pairs were one outlet's articles sharing only that.
    """
    if not shingle_sets:
        return shingle_sets
    lengths = [hashes.size for hashes in shingle_sets]
    frame = pl.DataFrame(
        {
            "doc": np.repeat(np.arange(len(shingle_sets)), lengths),
            "outlet": np.repeat(np.asarray(outlets, dtype=object), lengths).astype(str),
            "shingle": np.concatenate(shingle_sets) if sum(lengths) else np.zeros(0, np.uint64),
        }
    )
    templates = frame.group_by("outlet", "shingle").agg(pl.len().alias("articles")).filter(pl.col("articles") >= min_articles)
    if templates.height == 0:
        return shingle_sets
    kept = frame.join(templates.select("outlet", "shingle"), on=["outlet", "shingle"], how="anti")
    by_doc = {doc: np.sort(group["shingle"].to_numpy()) for (doc,), group in kept.group_by("doc")}
    return [by_doc.get(doc, np.zeros(0, dtype=np.uint64)) for doc in range(len(shingle_sets))]


def is_copy(left: np.ndarray, right: np.ndarray, config: MinHashConfig) -> tuple[bool, float, float]:
    """(verdict, jaccard, containment of the smaller in the larger)."""
    score = jaccard(left, right)
    smaller, larger = (left, right) if left.size <= right.size else (right, left)
    contained = containment(smaller, larger)
    shared = round(contained * smaller.size)
    verdict = score >= config.min_jaccard or (contained >= config.min_containment and shared >= config.min_shared_shingles)
    return verdict, score, contained


def find_copy_pairs(
    article_ids: Sequence[str], texts: Sequence[str], outlets: Sequence[str], config: MinHashConfig
) -> list[CopyPair]:
    """Verified near-duplicate pairs: Jaccard >= min_jaccard, or a long enough passage contained in the other."""
    shingle_sets = [shingles(text, config.shingle_size) for text in texts]
    shingle_sets = strip_templates(shingle_sets, outlets, config.template_min_articles)
    minhashes = signatures(shingle_sets, config)
    verified = []
    for i, j in candidate_pairs(article_ids, minhashes, config):
        verdict, score, _ = is_copy(shingle_sets[i], shingle_sets[j], config)
        if verdict:
            verified.append(CopyPair(article_ids[i], article_ids[j], score))
    return verified


def _components(nodes: Sequence[str], pairs: Sequence[CopyPair]) -> list[list[str]]:
    parent = {node: node for node in nodes}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pair in pairs:
        parent[root(pair.left)] = root(pair.right)
    groups: dict[str, list[str]] = {}
    for node in nodes:
        groups.setdefault(root(node), []).append(node)
    return [members for members in groups.values() if len(members) > 1]


def cluster_id(source_article_id: str) -> str:
    """Named after the probable source, so the id survives while that article stays in the cluster."""
    return "w-" + hashlib.blake2b(source_article_id.encode(), digest_size=5).hexdigest()


def cluster_copies(articles: pl.DataFrame, config: MinHashConfig) -> pl.DataFrame:
    """CLUSTER_SCHEMA rows: each cluster's members, the earliest-published one marked as source."""
    ids = articles["id"].to_list()
    texts = articles["text"].to_list()
    pairs = find_copy_pairs(ids, texts, articles["outlet"].to_list(), config)
    if not pairs:
        return pl.DataFrame(schema=CLUSTER_SCHEMA)
    order = articles.select("id", "published").sort(["published", "id"], nulls_last=True)
    rank = {article_id: position for position, article_id in enumerate(order["id"].to_list())}
    text_of = dict(zip(ids, texts, strict=True))
    rows: list[tuple[str, str, bool, float]] = []
    for members in _components(ids, pairs):
        members.sort(key=rank.__getitem__)
        source = members[0]
        source_shingles = shingles(text_of[source], config.shingle_size)
        for member in members:
            score = 1.0 if member == source else jaccard(source_shingles, shingles(text_of[member], config.shingle_size))
            rows.append((cluster_id(source), member, member == source, score))
    return pl.DataFrame(rows, schema=CLUSTER_SCHEMA, orient="row")


def copy_listing(articles: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """One row per cluster member with what a user needs to judge it, clusters with most outlets first.

    Columns: cluster_id, outlets (distinct outlets in the cluster), is_source, jaccard_to_source,
    id, outlet, url, title, published, wire_credit.
    """
    joined = clusters.join(articles, left_on="article_id", right_on="id").rename({"article_id": "id"})
    joined = joined.with_columns(pl.col("outlet").n_unique().over("cluster_id").cast(pl.Int32).alias("outlets"))
    return joined.select(
        "cluster_id", "outlets", "is_source", pl.col("jaccard_to_source").round(4), "id", "outlet", "url", "title",
        "published", "wire_credit",
    ).sort(["outlets", "cluster_id", "is_source", "published"], descending=[True, False, True, False], nulls_last=True)
