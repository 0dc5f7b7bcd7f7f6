"""compare.dedup.clusters: shingles, exact Jaccard, LSH candidates checked against exact all-pairs, copy clusters."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from compare.core.config import MinHashConfig
from compare.dedup.clusters import (
    candidate_pairs,
    cluster_copies,
    cluster_id,
    containment,
    copy_listing,
    find_copy_pairs,
    is_copy,
    jaccard,
    shingles,
    signatures,
    strip_templates,
)
from compare.core.schema import ARTICLE_SCHEMA, CLUSTER_SCHEMA

CONFIG = MinHashConfig()
T0 = datetime(2026, 8, 20, 7, 0, tzinfo=timezone.utc)

# Invented vocabulary: synthetic documents share words only where a test plants the overlap.
_VOCABULARY = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "va", "zo") for b in ("b", "d", "g", "k", "m", "n", "p", "r", "s", "t", "v", "z", "bel", "dor", "gan", "kim", "lum", "nar", "pol", "sut")]


def random_words(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(_VOCABULARY) for _ in range(count)]


def mutate(rng: random.Random, tokens: list[str], changes: int) -> list[str]:
    tokens = list(tokens)
    for _ in range(changes):
        tokens[rng.randrange(len(tokens))] = rng.choice(_VOCABULARY)
    return tokens


def articles_frame(rows: list[dict]) -> pl.DataFrame:
    defaults = {name: None for name in ARTICLE_SCHEMA}
    return pl.DataFrame([{**defaults, **row} for row in rows], schema=ARTICLE_SCHEMA)


# ---------------------------------------------------------------- shingles and Jaccard


def test_shingles_are_deterministic_sorted_unique() -> None:
    text = "The depot lies 80 kilometres north of Baghdad, near the town of Balad."
    first, second = shingles(text, 5), shingles(text, 5)
    assert first.dtype == np.uint64
    np.testing.assert_array_equal(first, second)
    assert first.tolist() == sorted(set(first.tolist()))
    assert first.size == len(text.split()) - 5 + 1


def test_shingles_ignore_case_and_punctuation_but_not_word_order() -> None:
    a = shingles("The depot lies 80 kilometres north of Baghdad.", 3)
    b = shingles("the DEPOT lies, 80 “kilometres” north of baghdad", 3)
    c = shingles("north of Baghdad the depot lies 80 kilometres", 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_shingles_short_and_empty_texts() -> None:
    assert shingles("", 5).size == 0
    assert shingles("!!! ...", 5).size == 0
    assert shingles("two words", 5).size == 1
    np.testing.assert_array_equal(shingles("Two words", 5), shingles("two WORDS", 5))


def test_repeated_ngrams_collapse() -> None:
    assert shingles("a b a b a b a b", 2).size == 2  # "a b" and "b a"


_HASH_SETS = st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=40).map(lambda xs: np.unique(np.array(xs, dtype=np.uint64)))


@settings(max_examples=300, deadline=None)
@given(_HASH_SETS, _HASH_SETS)
def test_jaccard_matches_python_sets_and_is_symmetric(left: np.ndarray, right: np.ndarray) -> None:
    a, b = set(left.tolist()), set(right.tolist())
    expected = len(a & b) / len(a | b) if a | b else 0.0
    assert jaccard(left, right) == pytest.approx(expected)
    assert jaccard(left, right) == jaccard(right, left)
    assert 0.0 <= jaccard(left, right) <= 1.0
    if left.size:
        assert jaccard(left, left) == 1.0


@settings(max_examples=200, deadline=None)
@given(_HASH_SETS, _HASH_SETS)
def test_containment_matches_python_sets(part: np.ndarray, whole: np.ndarray) -> None:
    a, b = set(part.tolist()), set(whole.tolist())
    expected = len(a & b) / len(a) if a else 0.0
    assert containment(part, whole) == pytest.approx(expected)


# ---------------------------------------------------------------- LSH vs exact


def planted_corpus(seed: int = 11) -> list[str]:
    """40 docs of 60-120 words: 8 families of near-duplicates (original + 1-3 edited copies), rest unrelated."""
    rng = random.Random(seed)
    docs: list[list[str]] = []
    for family in range(8):
        original = random_words(rng, rng.randrange(60, 121))
        docs.append(original)
        for copy in range(1 + family % 3):
            docs.append(mutate(rng, original, changes=rng.choice([1, 2, 3, 5, 8])))
    while len(docs) < 40:
        docs.append(random_words(rng, rng.randrange(60, 121)))
    order = list(range(len(docs)))
    rng.shuffle(order)
    return [" ".join(docs[i]) for i in order]


def test_lsh_candidates_include_every_pair_with_exact_jaccard_at_least_0_6() -> None:
    texts = planted_corpus()
    sets = [shingles(text, CONFIG.shingle_size) for text in texts]
    exact = {(i, j): jaccard(sets[i], sets[j]) for i, j in itertools.combinations(range(len(texts)), 2)}
    strong = {pair for pair, score in exact.items() if score >= 0.6}
    assert len(strong) >= 10  # the planted families really are near-duplicates
    candidates = set(candidate_pairs([str(i) for i in range(len(texts))], signatures(sets, CONFIG), CONFIG))
    assert strong <= candidates
    assert all(i < j for i, j in candidates)


def test_find_copy_pairs_equals_exact_verification_on_planted_corpus() -> None:
    texts = planted_corpus()
    ids = [f"doc{i:02d}" for i in range(len(texts))]
    outlets = [f"outlet{i}" for i in range(len(texts))]  # one article per outlet: no template stripping
    sets = [shingles(text, CONFIG.shingle_size) for text in texts]
    exact_copies = {(ids[i], ids[j]) for i, j in itertools.combinations(range(len(texts)), 2) if is_copy(sets[i], sets[j], CONFIG)[0]}
    must_find = {(ids[i], ids[j]) for i, j in itertools.combinations(range(len(texts)), 2) if jaccard(sets[i], sets[j]) >= 0.6}
    found = find_copy_pairs(ids, texts, outlets, CONFIG)
    found_pairs = {(pair.left, pair.right) for pair in found}
    assert must_find <= found_pairs <= exact_copies
    for pair in found:
        assert pair.jaccard == pytest.approx(jaccard(sets[ids.index(pair.left)], sets[ids.index(pair.right)]))


def test_unrelated_documents_are_not_copies() -> None:
    rng = random.Random(3)
    texts = [" ".join(random_words(rng, 100)) for _ in range(10)]
    assert find_copy_pairs([str(i) for i in range(10)], texts, ["o"] * 10, CONFIG) == []


# ---------------------------------------------------------------- containment


def test_short_copy_inside_long_article_is_a_copy_by_containment() -> None:
    rng = random.Random(5)
    long_tokens = random_words(rng, 400)
    short = " ".join(long_tokens[120:180])
    long_set, short_set = shingles(" ".join(long_tokens), 5), shingles(short, 5)
    assert containment(short_set, long_set) == 1.0
    assert containment(long_set, short_set) < 0.2
    verdict, score, contained = is_copy(long_set, short_set, CONFIG)
    assert verdict and score < CONFIG.min_jaccard and contained == 1.0


def test_short_passage_below_min_shared_shingles_is_not_a_copy() -> None:
    rng = random.Random(5)
    long_tokens = random_words(rng, 400)
    short = " ".join(long_tokens[120:140])  # 16 shingles < min_shared_shingles (40)
    assert is_copy(shingles(" ".join(long_tokens), 5), shingles(short, 5), CONFIG)[0] is False


def test_find_copy_pairs_finds_short_copies_inside_long_articles() -> None:
    # Jaccard ~0.14 keeps these out of whole-article LSH; passage windows make them candidates.
    rng = random.Random(17)
    ids, texts = [], []
    for n in range(5):
        long_tokens = random_words(rng, 400)
        start = rng.randrange(0, 340)
        ids += [f"long{n}", f"short{n}"]
        texts += [" ".join(long_tokens), " ".join(long_tokens[start : start + 60])]
    found = {(pair.left, pair.right) for pair in find_copy_pairs(ids, texts, [f"o{i}" for i in range(len(ids))], CONFIG)}
    assert found == {(f"long{n}", f"short{n}") for n in range(5)}


# ---------------------------------------------------------------- templates


def test_strip_templates_removes_one_outlets_repeated_boilerplate_only() -> None:
    rng = random.Random(8)
    boilerplate = " ".join(random_words(rng, 30))
    bodies = [" ".join(random_words(rng, 50)) for _ in range(7)]
    texts = [f"{bodies[i]}\n\n{boilerplate}" for i in range(5)] + [f"{bodies[5]}\n\n{boilerplate}", bodies[6]]
    outlets = ["Daily"] * 5 + ["Herald", "Daily"]
    sets = [shingles(text, 5) for text in texts]
    template = set(shingles(boilerplate, 5).tolist())
    stripped = strip_templates(sets, outlets, min_articles=5)
    for i in range(5):
        kept = set(stripped[i].tolist())
        assert not kept & template
        assert set(shingles(bodies[i], 5).tolist()) <= kept
    # The other outlet quoting the same paragraph keeps it: shared text across outlets is not a template.
    assert template <= set(stripped[5].tolist())
    np.testing.assert_array_equal(stripped[5], sets[5])
    np.testing.assert_array_equal(stripped[6], sets[6])


def test_template_count_in_key_slices_equals_the_count_in_one_pass() -> None:
    from compare.dedup.clusters import _template_keep

    rng = random.Random(11)
    boilerplates = {outlet: " ".join(random_words(rng, 25)) for outlet in "ABC"}
    outlets = [rng.choice("ABC") for _ in range(40)]
    texts = [f"{' '.join(random_words(rng, 40))}\n\n{boilerplates[o] if rng.random() < 0.6 else ''}" for o in outlets]
    sets = [shingles(text, 5) for text in texts]
    flat, lengths = np.concatenate(sets), np.array([s.size for s in sets])
    whole = _template_keep(flat, lengths, outlets, 5, partition_rows=10**9)
    assert 0 < (~whole).sum() < whole.size  # some templates found, not everything
    for rows in (1, 37, 500):  # thousands of slices, a few, two
        np.testing.assert_array_equal(_template_keep(flat, lengths, outlets, 5, partition_rows=rows), whole)


def test_strip_templates_ignores_text_shared_across_outlets_below_threshold() -> None:
    rng = random.Random(9)
    shared = " ".join(random_words(rng, 30))
    texts = [f"{' '.join(random_words(rng, 40))} {shared}" for _ in range(6)]
    outlets = ["A", "A", "A", "B", "B", "B"]  # 6 articles carry it, but only 3 per outlet
    sets = [shingles(text, 5) for text in texts]
    stripped = strip_templates(sets, outlets, min_articles=5)
    for before, after in zip(sets, stripped, strict=True):
        np.testing.assert_array_equal(before, after)


def test_template_only_overlap_is_not_reported_as_copy() -> None:
    rng = random.Random(10)
    boilerplate = " ".join(random_words(rng, 80))
    texts = [f"{' '.join(random_words(rng, 40))}\n\n{boilerplate}" for _ in range(6)]
    ids = [f"d{i}" for i in range(6)]
    assert find_copy_pairs(ids, texts, ["Daily"] * 6, CONFIG) == []
    assert len(find_copy_pairs(ids, texts, [f"o{i}" for i in range(6)], CONFIG)) == 15  # same texts, distinct outlets


# ---------------------------------------------------------------- clusters


def wire_corpus() -> pl.DataFrame:
    rng = random.Random(21)
    wire = random_words(rng, 120)
    other = random_words(rng, 90)
    return articles_frame(
        [
            {"id": "tol", "outlet": "Times", "title": "Reprint", "url": "https://t.example/1", "text": " ".join(mutate(rng, wire, 2)),
             "published": T0 + timedelta(hours=2)},
            {"id": "ap", "outlet": "AP", "title": "Original", "url": "https://ap.example/1", "text": " ".join(wire),
             "published": T0, "wire_credit": "AP"},
            {"id": "undated", "outlet": "Blog", "title": "Undated copy", "text": " ".join(mutate(rng, wire, 3)), "published": None},
            {"id": "aj", "outlet": "AJ", "title": "Cut reprint", "url": "https://aj.example/1", "text": " ".join(mutate(rng, wire[:100], 1)),
             "published": T0 + timedelta(hours=3)},
            {"id": "own1", "outlet": "Ynet", "title": "Own", "text": " ".join(other), "published": T0 + timedelta(hours=1)},
            {"id": "own2", "outlet": "Hayom", "title": "Own 2", "text": " ".join(mutate(rng, other, 4)), "published": T0 - timedelta(hours=1)},
            {"id": "alone", "outlet": "AJ", "title": "Unrelated", "text": " ".join(random_words(rng, 100)), "published": T0},
        ]
    )


def test_cluster_copies_marks_earliest_as_source_with_stable_ids() -> None:
    articles = wire_corpus()
    clusters = cluster_copies(articles, CONFIG)
    assert clusters.schema == pl.Schema(CLUSTER_SCHEMA)
    by_cluster = {cid: sorted(group["article_id"].to_list()) for (cid,), group in clusters.group_by("cluster_id")}
    assert by_cluster == {cluster_id("ap"): ["aj", "ap", "tol", "undated"], cluster_id("own2"): ["own1", "own2"]}
    sources = clusters.filter(pl.col("is_source"))
    assert sorted(sources["article_id"].to_list()) == ["ap", "own2"]
    assert sources["jaccard_to_source"].to_list() == [1.0, 1.0]
    texts = dict(zip(articles["id"], articles["text"], strict=True))
    for row in clusters.filter(~pl.col("is_source")).iter_rows(named=True):
        source = "ap" if row["cluster_id"] == cluster_id("ap") else "own2"
        assert row["jaccard_to_source"] == pytest.approx(jaccard(shingles(texts[source], 5), shingles(texts[row["article_id"]], 5)))
        assert row["jaccard_to_source"] < 1.0
    assert "alone" not in clusters["article_id"].to_list()
    assert cluster_id("ap") == cluster_id("ap") and cluster_id("ap").startswith("w-") and cluster_id("ap") != cluster_id("tol")


def test_cluster_copies_twice_and_reordered_gives_identical_frames() -> None:
    articles = wire_corpus()
    first = cluster_copies(articles, CONFIG)
    assert_frame_equal(first, cluster_copies(articles, CONFIG))
    assert_frame_equal(first, cluster_copies(articles.reverse(), CONFIG), check_row_order=False)


def test_cluster_copies_without_copies_is_empty_with_schema() -> None:
    rng = random.Random(4)
    articles = articles_frame([{"id": f"x{i}", "outlet": "O", "text": " ".join(random_words(rng, 80))} for i in range(3)])
    clusters = cluster_copies(articles, CONFIG)
    assert clusters.height == 0 and clusters.schema == pl.Schema(CLUSTER_SCHEMA)


def test_copy_listing_columns_and_order() -> None:
    articles = wire_corpus()
    listing = copy_listing(articles, cluster_copies(articles, CONFIG))
    assert listing.columns == [
        "cluster_id", "outlets", "is_source", "jaccard_to_source", "copy_in_source", "source_in_copy", "wire_share", "diff",
        "cluster_credit", "id", "outlet", "url", "title", "published", "wire_credit",
    ]
    assert listing.schema["outlets"] == pl.Int32
    # The four-outlet wire cluster comes first, its source at the top; copies then by publication time.
    assert listing["id"].to_list()[:4] == ["ap", "tol", "aj", "undated"]
    assert listing["outlets"].to_list() == [4, 4, 4, 4, 2, 2]
    assert listing["is_source"].to_list() == [True, False, False, False, True, False]
    assert listing.filter(pl.col("id") == "ap")["wire_credit"].to_list() == ["AP"]
    assert set(listing.filter(pl.col("cluster_id") == cluster_id("ap"))["cluster_credit"]) == {"AP"}
    cut = listing.filter(pl.col("id") == "aj").row(0, named=True)
    assert cut["copy_in_source"] > 0.9 and cut["source_in_copy"] < 0.9  # cut to its first 100 words


def test_cli_dedup_partial_lists_shared_spans(tmp_path) -> None:  # noqa: ANN001
    import json

    from typer.testing import CliRunner

    from compare.cli import app

    rng = random.Random(30)
    wire = [" ".join(random_words(rng, 50)) for _ in range(6)]
    local = [" ".join(random_words(rng, 50)) for _ in range(4)]
    records = [
        {"outlet": "AP", "text": "\n\n".join(wire), "published": "2026-08-20T07:00:00Z", "title": "Wire"},
        {"outlet": "Gazette", "text": "\n\n".join(local[:2] + wire[:2] + local[2:]), "published": "2026-08-21T07:00:00Z", "title": "Local"},
    ]
    source = tmp_path / "articles.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    runner = CliRunner()
    home = str(tmp_path / "home")
    assert runner.invoke(app, ["ingest", str(source), "--home", home]).exit_code == 0
    result = runner.invoke(app, ["dedup", "--partial", "--home", home, "--format", "json", "--min-outlets", "2"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert (row["left_outlet"], row["right_outlet"], row["kind"]) == ("AP", "Gazette", "partial")
    assert row["shared_words"] == 100 and len(row["spans"]) == 1
    left, right = (tuple(map(int, side.split("-"))) for side in row["spans"][0].split("="))
    assert records[0]["text"][left[0] : left[1]] == records[1]["text"][right[0] : right[1]]
