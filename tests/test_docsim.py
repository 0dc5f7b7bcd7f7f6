"""benchmarks/docsim.py: head + claim-match document similarity with a time window (benchmarks/claims.py scores it)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from docsim import DOCSIM_SCHEMA, DocSimConfig, DocumentVectors, claim_match, document_similarity, embed_documents, score_article_pairs  # noqa: E402

from compare.embed.embedder import HashingEmbedder  # noqa: E402

DEPOT_AP = (
    "BAGHDAD (AP) — Explosions destroyed a weapons depot of an Iran-backed militia north of Baghdad. "
    "The depot lies 80 kilometres north of the capital. Two fighters were killed, officials said."
)
DEPOT_BBC = (
    "Blasts destroyed a weapons depot of an Iran-backed militia north of Baghdad on Tuesday. "
    "Officials said two fighters were killed. The depot lies 80 kilometres north of the capital."
)
HEAT = "A heat wave caused power cuts across the country. Electricity demand hit a record on Monday night."


def test_same_story_scores_above_other_story() -> None:
    documents = embed_documents([DEPOT_AP, DEPOT_BBC, HEAT], HashingEmbedder(512))
    same = document_similarity(documents[0], documents[1])
    other = document_similarity(documents[0], documents[2])
    assert same > other + 0.3
    assert document_similarity(documents[1], documents[0]) == pytest.approx(same)


def test_claim_match_is_symmetric_bounded_and_one_on_identity() -> None:
    rng = np.random.default_rng(0)
    left = rng.normal(size=(4, 8))
    right = rng.normal(size=(6, 8))
    left /= np.linalg.norm(left, axis=1, keepdims=True)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    assert claim_match(left, right) == pytest.approx(claim_match(right, left))
    assert -1.0 <= claim_match(left, right) <= 1.0
    assert claim_match(left, left) == pytest.approx(1.0)
    assert claim_match(left, np.zeros((0, 8))) == 0.0


def test_time_window_zeroes_distant_articles_and_ignores_undated() -> None:
    head = np.array([1.0, 0.0])
    claims = np.array([[1.0, 0.0]])
    start = datetime(2026, 8, 20, tzinfo=UTC)
    a = DocumentVectors(head, claims, start)
    near = DocumentVectors(head, claims, start + timedelta(days=2))
    far = DocumentVectors(head, claims, start + timedelta(days=5))
    undated = DocumentVectors(head, claims, None)
    config = DocSimConfig(window_days=3)
    assert document_similarity(a, near, config) == pytest.approx(1.0)
    assert document_similarity(a, far, config) == 0.0
    assert document_similarity(a, undated, config) == pytest.approx(1.0)


def test_head_only_config_is_the_head_cosine() -> None:
    documents = embed_documents([DEPOT_AP, HEAT], HashingEmbedder(256), titles=["Depot blast", None])
    expected = float(documents[0].head @ documents[1].head)
    assert document_similarity(documents[0], documents[1], DocSimConfig(claim_weight=0.0)) == pytest.approx(expected)


def test_score_article_pairs_follows_schema() -> None:
    start = datetime(2026, 8, 20, tzinfo=UTC)
    articles = pl.DataFrame(
        {
            "id": ["ap", "bbc", "heat"],
            "title": ["Depot destroyed", "Blasts hit depot", "Heat wave"],
            "text": [DEPOT_AP, DEPOT_BBC, HEAT],
            "published": [start, start + timedelta(hours=3), start + timedelta(days=9)],
        }
    )
    scored = score_article_pairs(articles, [("ap", "bbc"), ("ap", "heat")], HashingEmbedder(512))
    assert scored.schema == pl.Schema(DOCSIM_SCHEMA)
    assert scored["left_id"].to_list() == ["ap", "ap"]
    similarity = dict(zip(scored["right_id"], scored["similarity"], strict=True))
    assert similarity["bbc"] > 0.5 and similarity["heat"] == 0.0
    with pytest.raises(KeyError, match="unknown article ids: nope"):
        score_article_pairs(articles, [("ap", "nope")], HashingEmbedder(64))
