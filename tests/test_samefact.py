"""compare.align.samefact and the learned alignment path: features on known inputs, the shipped head's loading,
one-claim-per-outlet grouping, near/missing from the same head, and pairs the real bundled model with
the shipped head must and must not align."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from compare.align.alignment import FACT_PAIR_SCHEMA, align_claims, decide_fact_pairs, fact_pair_features, fact_pairs, load_configured_head
from compare.core.config import AlignConfig, EmbedConfig
from compare.report.story import CoverageRow, _with_near_pairs, aligned_facts
from compare.align.samefact import FEATURES, claim_tokens, head_from_json, idf_features, lexical_features, load_head, save_head, story_idf, train_head
from compare.text.claims import claims_frame

LEARNED = AlignConfig(criterion="learned")

STORY = {
    "Daily": (
        "The city council voted 7-2 on Monday to close the old bridge for repairs.\n\n"
        "Mayor Jane Roe said the bridge was \"a danger to every driver in town.\"\n\n"
        "Repairs are expected to cost $4 million and take a year, officials said.\n\n"
        "Shops near the river fear losing customers while the bridge is shut."
    ),
    "Herald": (
        "On Monday the council decided, by seven votes to two, that the old bridge will shut for repairs.\n\n"
        "\"A danger to every driver in town\" is how Mayor Roe described the bridge to reporters.\n\n"
        "The school board elected a new chair at its meeting on Thursday.\n\n"
        "A heat wave is forecast for the weekend across the region."
    ),
}


def story_claims() -> pl.DataFrame:
    articles = pl.DataFrame({"id": ["d", "h"], "outlet": list(STORY), "text": list(STORY.values())})
    return claims_frame(articles).with_columns(pl.col("position").alias("article_order"))


def test_claim_tokens_and_lexical_features() -> None:
    a = claim_tokens("Mayor Jane Roe said the bridge was \"a danger to every driver in town.\"")
    b = claim_tokens("\"A danger to every driver in town\" is how Mayor Roe described the bridge.")
    assert {"jane", "roe"} <= a.names and a.quoted == (("a", "danger", "to", "every", "driver", "in", "town"),)
    features = dict(zip(FEATURES[7:17], lexical_features(a, b), strict=True))
    assert features["quote"] == 1.0  # the whole quoted passage repeated word for word
    assert features["longest_run"] == 7 / 12 and features["numbers_clash"] == 0.0
    c, d = claim_tokens("The council voted 7-2 to close it."), claim_tokens("The council voted 5-4 to close it.")
    assert dict(zip(FEATURES[7:17], lexical_features(c, d), strict=True))["numbers_clash"] == 1.0


def test_idf_features_weigh_rare_shared_words() -> None:
    tokens = [claim_tokens(t) for t in ("the depot exploded", "the depot burned", "the depot was hit by drones", "drones hit the depot")]
    idf = story_idf(tokens)
    assert idf.weights["drones"] > idf.weights["depot"]
    common_only = idf_features(tokens[0], tokens[1], idf)
    rare_shared = idf_features(tokens[2], tokens[3], idf)
    assert rare_shared[0] > common_only[0] and rare_shared[2] > common_only[2]


def test_shipped_head_loads_and_round_trips(tmp_path: Path) -> None:
    head = load_head()
    assert head.features == FEATURES and 0 < head.near_threshold < head.align_threshold < 1
    assert "divergence-gold" in head.trained_on
    save_head(head, tmp_path / "head.json")
    again = load_head(tmp_path / "head.json")
    features = np.random.default_rng(0).normal(size=(5, len(FEATURES)))
    np.testing.assert_allclose(again.probability(features), head.probability(features), atol=1e-5)
    assert (tmp_path / "head.json").stat().st_size < 20_000
    document = json.loads((tmp_path / "head.json").read_text(encoding="utf-8"))
    document["features"] = document["features"][:-1]
    with pytest.raises(ValueError, match="retrain"):
        head_from_json(document)


def test_train_head_separates_a_planted_feature() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(400, len(FEATURES)))
    labels = (features[:, 0] > 0.5).astype(int)
    head = train_head(features, labels, align_threshold=0.5, near_threshold=0.3)
    predicted = head.probability(features) >= 0.5
    assert (predicted == labels.astype(bool)).mean() > 0.95
    assert int(np.argmax(np.abs(head.weights))) == 0


def test_a_clipped_head_bounds_what_one_feature_can_add() -> None:
    rng = np.random.default_rng(2)
    features = rng.normal(size=(400, len(FEATURES)))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0.5).astype(int)
    head = train_head(features, labels, align_threshold=0.5, near_threshold=0.3, clip=2.0)
    assert head.clip == 2.0 and head_from_json(head.to_json()).clip == 2.0
    extreme, edge = np.zeros((1, len(FEATURES))), np.zeros((1, len(FEATURES)))
    extreme[0, 0], edge[0, 0] = 50 * head.scale[0] + head.mean[0], 2 * head.scale[0] + head.mean[0]
    assert head.probability(extreme)[0] == pytest.approx(head.probability(edge)[0])  # 50 sd counts as 2
    assert replace(head, clip=0.0).probability(extreme)[0] > head.probability(extreme)[0]


def test_grouping_keeps_one_claim_per_outlet_unless_strongly_linked() -> None:
    claims = pl.DataFrame({"claim_id": ["a:0", "a:1", "b:0", "c:0"], "outlet": ["A", "A", "B", "C"]})
    scored = pl.DataFrame(
        [("a:0", "b:0", 0.8, 0.95), ("a:1", "b:0", 0.7, 0.93), ("b:0", "c:0", 0.6, 0.92), ("a:1", "c:0", 0.5, 0.5)],
        schema=FACT_PAIR_SCHEMA, orient="row",
    )
    config = replace(LEARNED, fact_strong=0.99)
    kept = decide_fact_pairs(scored, claims, config, threshold=0.9)
    # a:1 would make the group hold two claims of A through a pair below fact_strong.
    assert sorted(kept.select("left_claim_id", "right_claim_id").rows()) == [("a:0", "b:0"), ("b:0", "c:0")]
    loose = decide_fact_pairs(scored, claims, replace(config, fact_strong=0.9), threshold=0.9)
    assert loose.height == 3
    assert decide_fact_pairs(scored, claims, replace(config, fact_grouping="all"), threshold=0.9).height == 3


def test_near_from_the_head_moves_outlets_out_of_missing() -> None:
    claims = pl.DataFrame({"claim_id": ["a:0", "b:0", "c:0"], "outlet": ["A", "B", "C"]})
    from compare.diverge import ClaimRef

    row = CoverageRow("g", (ClaimRef("a:0", "a", "A", 0, 5, "x"),), ("A",), ("B", "C"))
    scored = pl.DataFrame([("a:0", "b:0", 0.5, 0.7), ("a:0", "c:0", 0.5, 0.2)], schema=FACT_PAIR_SCHEMA, orient="row")
    [updated] = _with_near_pairs([row], claims, scored, 0.6)
    assert updated.near == ("B",) and updated.missing == ("C",)


@pytest.fixture(scope="module")
def bundled_story() -> tuple[pl.DataFrame, np.ndarray]:
    from compare.embed.embedder import make_embedder

    claims = story_claims()
    return claims, make_embedder(EmbedConfig()).encode(claims["text"].to_list())


def test_bundled_model_aligns_paraphrase_and_shared_quote_not_unrelated(bundled_story: tuple[pl.DataFrame, np.ndarray]) -> None:
    claims, vectors = bundled_story
    text = dict(zip(claims["claim_id"].to_list(), claims["text"].to_list(), strict=True))
    pairs = {tuple(sorted((text[left][:20], text[right][:20]))) for left, right in align_claims(claims, vectors, LEARNED).select("left_claim_id", "right_claim_id").iter_rows()}
    assert ("On Monday the counci", "The city council vot") in pairs  # same vote, very different words
    assert ("\"A danger to every d", "Mayor Jane Roe said ") in pairs  # same quoted words
    assert not any("school board" in a or "school board" in b or "heat wave" in a.lower() or "heat wave" in b.lower() for a, b in pairs)
    probability = {tuple(sorted((text[l][:20], text[r][:20]))): p for l, r, _, p in fact_pairs(claims, vectors, LEARNED).iter_rows()}
    assert probability.get(("Shops near the river", "The school board ele"), 0.0) < load_configured_head(LEARNED).near_threshold


def test_coverage_rows_learned_lists_the_cost_as_left_out(bundled_story: tuple[pl.DataFrame, np.ndarray]) -> None:
    claims, vectors = bundled_story
    rows, _ = aligned_facts(claims, vectors, LEARNED, tuple(STORY))
    cost = next(row for row in rows if "$4 million" in row.text)
    assert cost.present == ("Daily",) and cost.missing == ("Herald",)
    vote = next(row for row in rows if "voted 7-2" in row.text)
    assert vote.present == ("Daily", "Herald") and not vote.missing


def test_features_need_text_and_two_claims() -> None:
    pairs, features = fact_pair_features(pl.DataFrame({"claim_id": ["a:0"], "outlet": ["A"], "text": ["One claim only."]}), np.ones((1, 4), dtype=np.float32) / 2, LEARNED)
    assert pairs == [] and features.shape == (0, len(FEATURES))
