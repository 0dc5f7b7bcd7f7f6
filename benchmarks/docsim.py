"""Document similarity for story grouping: two articles scored from their head (title + lede) and
from how well their claims match, with a time window.

The head vector captures what the story is about; the claim score (the mean best-match cosine of each
article's claims in the other, both ways, as in BERTScore) captures whether they report the same
facts, which the first 256 tokens alone miss when one outlet buries the news under background.
Measured on SemEval-2022 Task 8 by benchmarks/claims.py (English pairs, Pearson vs Overall).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from compare.embed.embedder import Embedder
from compare.text.claims import split_claims
from compare.core.timewindow import within_window

DOCSIM_SCHEMA: dict[str, pl.DataType] = {
    "left_id": pl.String(),
    "right_id": pl.String(),
    "similarity": pl.Float32(),
    "head": pl.Float32(),
    "claims": pl.Float32(),
}


@dataclass(frozen=True)
class DocSimConfig:
    """Weights of the head cosine and of the claim match score (they need not sum to 1: only the
    ranking matters to grouping thresholds); articles further apart than `window_days` score 0."""

    head_weight: float = 0.5
    claim_weight: float = 0.5
    head_words: int = 200  # the model reads 256 word pieces; more words only cost tokenising
    max_claims: int = 40
    window_days: float = 3.0


@dataclass(frozen=True)
class DocumentVectors:
    head: np.ndarray  # (d,) L2-normalised
    claims: np.ndarray  # (n, d) L2-normalised, n may be 0
    published: datetime | None = None


def head_text(title: str | None, text: str, words: int) -> str:
    combined = f"{title.strip()}. {text}" if title and title.strip() else text
    return " ".join(combined.split()[:words])


def embed_documents(
    texts: Sequence[str],
    embedder: Embedder,
    *,
    titles: Sequence[str | None] | None = None,
    published: Sequence[datetime | None] | None = None,
    config: DocSimConfig = DocSimConfig(),
) -> list[DocumentVectors]:
    """Head and claim vectors for each text, embedded in two batched calls (cache-friendly)."""
    titles = titles or [None] * len(texts)
    published = published or [None] * len(texts)
    heads = embedder.encode([head_text(title, text, config.head_words) for title, text in zip(titles, texts, strict=True)])
    claim_lists = [[claim.text for claim in split_claims(text)[: config.max_claims]] for text in texts]
    flat = embedder.encode([claim for claims in claim_lists for claim in claims])
    documents, offset = [], 0
    for row, claims in enumerate(claim_lists):
        documents.append(DocumentVectors(heads[row], flat[offset : offset + len(claims)], published[row]))
        offset += len(claims)
    return documents


def claim_match(left: np.ndarray, right: np.ndarray) -> float:
    """Mean of both directions' mean best-match cosine between two claim sets; 0 if either is empty."""
    if len(left) == 0 or len(right) == 0:
        return 0.0
    similarity = left @ right.T
    return float((similarity.max(axis=1).mean() + similarity.max(axis=0).mean()) / 2)


def document_similarity(left: DocumentVectors, right: DocumentVectors, config: DocSimConfig = DocSimConfig()) -> float:
    """Weighted head cosine + claim match, in about [-1, 1]; 0 outside the time window."""
    if not within_window(left.published, right.published, config.window_days):
        return 0.0
    head = float(left.head @ right.head)
    if config.claim_weight == 0:
        return head
    return config.head_weight * head + config.claim_weight * claim_match(left.claims, right.claims)


def score_article_pairs(
    articles: pl.DataFrame, pairs: Sequence[tuple[str, str]], embedder: Embedder, config: DocSimConfig = DocSimConfig()
) -> pl.DataFrame:
    """DOCSIM_SCHEMA rows for candidate pairs of article ids (ARTICLE_SCHEMA rows in `articles`).

    For story grouping: find candidates cheaply (head vectors in FAISS), then score them here.
    """
    needed = sorted({article_id for pair in pairs for article_id in pair})
    subset = articles.filter(pl.col("id").is_in(needed))
    unknown = set(needed) - set(subset["id"].to_list())
    if unknown:
        raise KeyError(f"unknown article ids: {', '.join(sorted(unknown)[:5])}")
    ids = subset["id"].to_list()
    documents = dict(
        zip(
            ids,
            embed_documents(subset["text"].to_list(), embedder, titles=subset["title"].to_list(), published=subset["published"].to_list(), config=config),
            strict=True,
        )
    )
    rows = []
    for left, right in pairs:
        a, b = documents[left], documents[right]
        inside = within_window(a.published, b.published, config.window_days)
        head = float(a.head @ b.head)
        claims = claim_match(a.claims, b.claims)
        similarity = config.head_weight * head + config.claim_weight * claims if inside else 0.0
        rows.append((left, right, similarity, head, claims))
    return pl.DataFrame(rows, schema=DOCSIM_SCHEMA, orient="row")
