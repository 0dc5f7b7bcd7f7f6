"""Articles grouped into stories: the same event covered by several outlets.

Two articles are linked when their title+lede embeddings are similar and they were published
within the time window, or when one is a near-duplicate (wire copy) of the other; a story is a
connected component of those links.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import polars as pl

from compare.config import StoryConfig
from compare.schema import STORY_SCHEMA
from compare.text import lede


STORY_TEXT_WORDS = 64


def story_text(title: str | None, text: str) -> str:
    """What a story is recognised by: the headline and the first two claims, cut to 64 words.

    Scraped ledes can run to hundreds of words when sentence splitting fails on page junk; the cut
    keeps embedding cost per article bounded (MiniLM cost grows with sequence length).
    """
    combined = f"{title or ''}. {lede(text, 2)}".strip(". ")
    return " ".join(combined.split()[:STORY_TEXT_WORDS])


def _within_window(left: object, right: object, window_days: float) -> bool:
    if left is None or right is None:
        return True  # undated articles may belong to any story
    return abs((left - right).total_seconds()) <= window_days * 86400  # type: ignore[operator]


def story_id(member_ids: Sequence[str]) -> str:
    return "s-" + hashlib.blake2b(min(member_ids).encode(), digest_size=5).hexdigest()


def group_stories(
    articles: pl.DataFrame,
    vectors: np.ndarray,
    copy_links: Sequence[tuple[str, str]],
    config: StoryConfig,
) -> pl.DataFrame:
    """STORY_SCHEMA rows for every article (an article with no link is a story of its own).

    `vectors` are L2-normalised story_text embeddings in the row order of `articles`.
    """
    import faiss

    ids = articles["id"].to_list()
    published = articles["published"].to_list()
    parent = list(range(len(ids)))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    if len(ids) > 1:
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        similarities, neighbours = index.search(np.ascontiguousarray(vectors, dtype=np.float32), min(len(ids), config.neighbours + 1))
        for row in range(len(ids)):
            for similarity, other in zip(similarities[row], neighbours[row], strict=True):
                if other < 0 or other == row or similarity < config.min_similarity:
                    continue
                if _within_window(published[row], published[other], config.window_days):
                    parent[root(row)] = root(int(other))
    position = {article_id: row for row, article_id in enumerate(ids)}
    for left, right in copy_links:
        if left in position and right in position:
            parent[root(position[left])] = root(position[right])

    members: dict[int, list[str]] = {}
    for row, article_id in enumerate(ids):
        members.setdefault(root(row), []).append(article_id)
    rows = [(story_id(group), article_id) for group in members.values() for article_id in group]
    return pl.DataFrame(rows, schema=STORY_SCHEMA, orient="row")
