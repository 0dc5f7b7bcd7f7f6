"""Wire copy in batches (compare.dedup.clusters.find_reuse, compare.dedup.spill): the same pairs, evidence
and clusters as one pass over the whole corpus held in memory, whatever the batch sizes and spills."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from compare.core.config import MinHashConfig
from compare.core.distributed import LocalEngine
from compare.core.schema import ARTICLE_SCHEMA
from compare.dedup.clusters import (
    CopyPair,
    PassLimits,
    _verify,
    candidate_pairs,
    cluster_copies,
    clusters_from_pairs,
    find_reuse,
    lean_minhashes,
    pairs_in_window,
    reuse_signatures,
    _bucket_pairs,
    article_band_keys,
    band_keys,
    band_rows,
    settle_composites,
    shingle_texts,
    slot_pairs,
    verification_groups,
    is_template,
    hit_pairs,
    summed_hits,
    undated_hits,
    UNDATED_SLOT,
    UNDATED_MIN_PASSAGE_KEYS,
    template_keep,
    time_slots,
)
from compare.dedup.spill import KeyRows

CONFIG = MinHashConfig()
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)
_VOCABULARY = [f"{a}{b}{c}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu") for b in ("b", "d", "g", "k", "m", "n") for c in ("a", "e", "o", "u")]
TINY = PassLimits(articles_per_wave=4, spill_rows=40, partition_rows=25, pairs_per_batch=2)


def words(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(_VOCABULARY) for _ in range(count)]


def planted_corpus() -> pl.DataFrame:
    """36 articles of 6 outlets, each outlet's page footer on all its articles (a template), with
    planted copies: near-duplicates, a cut reprint, a passage lifted into another article, a copy 40
    days later (outside the window), an undated copy and a two-wire composite."""
    rng = random.Random(16)
    outlets = [f"Outlet {k}" for k in range(6)]
    footers = {outlet: words(rng, 45) for outlet in outlets}
    bodies = [words(rng, rng.randint(120, 260)) for _ in range(36)]
    bodies[3] = [w if rng.random() > 0.03 else rng.choice(_VOCABULARY) for w in bodies[0]]  # near-duplicate of 0
    bodies[9] = bodies[0][:110] + words(rng, 40)  # a cut reprint of 0 with a local ending
    bodies[14] = words(rng, 90) + bodies[20][30:100] + words(rng, 90)  # a 70-word passage of 20
    bodies[21] = list(bodies[5])  # a copy of 5, published 40 days later
    bodies[27] = list(bodies[11])  # an undated copy of 11
    bodies[30] = bodies[6][:90] + bodies[25][:90]  # stitched from two unrelated wires
    rows = []
    for index, body in enumerate(bodies):
        outlet = outlets[index % len(outlets)]
        published = None if index == 27 else T0 + timedelta(days=40 if index == 21 else 0, hours=3 * index)
        rows.append({"id": f"a{index:02d}", "outlet": outlet, "title": f"Title {index}", "text": " ".join(body + footers[outlet]), "published": published})
    defaults = {name: None for name in ARTICLE_SCHEMA}
    return pl.DataFrame([{**defaults, **row} for row in rows], schema=ARTICLE_SCHEMA)


def passage_pairs(docs: np.ndarray, windows: np.ndarray, config: MinHashConfig) -> set[tuple[int, int]]:
    """Passage candidates of the whole corpus in one group-by: the reference for the batched band rows."""
    keys, key_docs = band_keys(docs, windows, config)
    return _bucket_pairs(pl.DataFrame({"key": keys, "doc": key_docs}), config.max_bucket) if keys.size else set()


def whole_corpus_reuse(articles: pl.DataFrame, config: MinHashConfig) -> list[CopyPair]:
    """find_reuse as one pass: every shingle of the corpus in memory, templates counted over all of them."""
    ids, texts, outlets, published = (articles[c].to_list() for c in ("id", "text", "outlet", "published"))
    shingled = shingle_texts(texts, config.shingle_size)
    keep = template_keep(shingled, outlets, config.template_min_articles)
    assert not keep.all()  # the footers are masked
    signed = reuse_signatures(shingled.hashes, keep, shingled.doc_shingles, config)
    candidates = set(candidate_pairs(ids, lean_minhashes(signed.articles, config.seed), config))
    candidates |= passage_pairs(signed.window_docs, signed.windows, config)
    sets: dict[int, np.ndarray] = {}
    verified = [_verify(i, j, ids, shingled, keep, sets, config) for i, j in pairs_in_window(sorted(candidates), published, config.window_days)]
    return settle_composites([pair for pair in verified if pair is not None], config)


def reuse(articles: pl.DataFrame, config: MinHashConfig, **options: object) -> list[CopyPair]:
    return find_reuse(*(articles[c].to_list() for c in ("id", "text", "outlet")), config, articles["published"].to_list(), **options)  # type: ignore[arg-type]


def test_batched_reuse_equals_the_whole_corpus_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    articles = planted_corpus()
    expected = whole_corpus_reuse(articles, CONFIG)
    kinds = {(pair.left, pair.right): pair.kind for pair in expected}
    assert kinds[("a00", "a03")] == kinds[("a00", "a09")] == "copy"
    assert kinds[("a14", "a20")] == "partial" and kinds[("a11", "a27")] == "copy"
    assert ("a05", "a21") not in kinds  # outside the 14-day window
    assert kinds[("a06", "a30")] == kinds[("a25", "a30")] == "partial"  # the composite joins neither wire
    for batch_size in (1, 3, 7, 1000):
        engine = LocalEngine(batch_size=batch_size)
        assert reuse(articles, CONFIG, engine=engine, spill_dir=tmp_path, limits=TINY) == expected
        assert reuse(articles, CONFIG, engine=engine) == expected
    assert list(tmp_path.iterdir()) == []  # spilled key rows are removed
    monkeypatch.setattr("compare.dedup.clusters._HITS_HELD", 0)  # undated key counts summed after every slice
    assert reuse(articles, CONFIG, engine=LocalEngine(batch_size=3), limits=TINY) == expected
    whole = MinHashConfig(window_days=0, template_min_articles=3, passage_shingles=20)
    assert reuse(articles, whole, engine=LocalEngine(batch_size=5), limits=TINY) == whole_corpus_reuse(articles, whole)



def test_the_clock_gets_each_pass_cpu_seconds_and_the_clusters_do_not_change() -> None:
    """A build reports where wire copy's time goes (benchmarks/scale.py): each pass is a step."""
    from compare.core.progress import StepClock

    articles = planted_corpus()
    clock = StepClock()
    timed = cluster_copies(articles, CONFIG, engine=LocalEngine(batch_size=4), limits=TINY, clock=clock)
    assert_frame_equal(timed, cluster_copies(articles, CONFIG, engine=LocalEngine(batch_size=4), limits=TINY))
    assert set(clock.seconds) == {"templates", "signing", "candidates_whole", "candidates_passages", "window", "verification", "composites", "clusters"}
    assert all(value >= 0 for value in clock.seconds.values())


def test_texts_read_from_the_corpus_file_in_chunks_give_the_same_pairs(tmp_path: Path) -> None:
    """A build hands find_reuse the corpus file (ArticleTexts), read a chunk at a time; verification
    fetches each wave's texts in one pass: the pairs equal those from texts in memory."""
    from compare.core.store import ArticleTexts

    articles = planted_corpus()
    path = tmp_path / "articles.parquet"
    articles.write_parquet(path)
    expected = whole_corpus_reuse(articles, CONFIG)
    chunked = ArticleTexts(path, articles.height, chunk_rows=5)
    ids, outlets, published = articles["id"].to_list(), articles["outlet"].to_list(), articles["published"].to_list()
    assert find_reuse(ids, chunked, outlets, CONFIG, published, engine=LocalEngine(batch_size=3), limits=TINY) == expected
    assert len(expected) >= 6

def test_batched_clusters_equal_one_batch_clusters() -> None:
    articles = planted_corpus()
    expected = clusters_from_pairs(articles, whole_corpus_reuse(articles, CONFIG), CONFIG)
    assert expected["cluster_id"].n_unique() == 2
    assert_frame_equal(cluster_copies(articles, CONFIG, engine=LocalEngine(batch_size=4), limits=TINY), expected)


def test_clusters_of_a_build_equal_one_batch_clusters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build's path: texts from the corpus file in chunks, no text column, member texts read a
    wave of clusters at a time (waves of 2 members here: each cluster its own wave)."""
    import compare.dedup.clusters as clusters
    from compare.core.store import ArticleTexts

    articles = planted_corpus()
    expected = clusters_from_pairs(articles, whole_corpus_reuse(articles, CONFIG), CONFIG)
    path = tmp_path / "articles.parquet"
    articles.write_parquet(path)
    monkeypatch.setattr(clusters, "_MEMBER_TEXTS_AT_ONCE", 2)
    texts = ArticleTexts(path, articles.height, chunk_rows=5)
    found = cluster_copies(articles.drop("text"), CONFIG, engine=LocalEngine(batch_size=4), limits=TINY, texts=texts)
    assert_frame_equal(found, expected)
    assert found["cluster_id"].n_unique() == 2


def test_key_rows_slices_keep_each_key_whole_in_memory_and_spilled(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 2**63, size=400, dtype=np.uint64) * np.uint64(2)
    keys = np.concatenate([keys, keys[:150], keys[:40]])  # some keys in several batches
    expected = pl.DataFrame({"key": keys}).group_by("key").len().sort("key")
    for spill_rows in (10**6, 64):
        rows = KeyRows(lambda: tmp_path, spill_rows=spill_rows)
        for first in range(0, keys.size, 97):
            rows.add(pl.DataFrame({"key": keys[first : first + 97]}))
        assert (rows.spilled > 0) == (spill_rows == 64)
        slices = list(rows.slices(partition_rows=100))
        assert len(slices) == 6
        counted = pl.concat([part.group_by("key").len() for part in slices]).sort("key")
        assert_frame_equal(counted, expected)  # no key is counted in two slices


def test_passage_buckets_are_keyed_by_time_slot_so_far_apart_texts_never_pair() -> None:
    # One passage in 60 texts a week apart (a bucket over the cap of 50 when keyed by passage alone),
    # the last one undated.
    published = [T0 + timedelta(days=7 * week) for week in range(59)] + [None]
    slots = time_slots(published, 14.0, len(published))
    assert slots is not None and slots[-1] == -1 and slots[:5].tolist() == [0, 0, 0, 1, 1]
    docs = np.arange(60, dtype=np.uint32)
    candidates = slot_pairs(band_rows(np.full(60, 7, dtype=np.uint64), docs, slots, 0), CONFIG.max_bucket)
    dated, found = candidates.dated, candidates.dated | hit_pairs(candidates.undated)
    assert all(59 not in pair for pair in dated)
    assert all(abs(int(slots[i]) - int(slots[j])) <= 1 for i, j in dated)  # at most 4 weeks apart, never months
    assert {(i, j) for i in range(59) for j in range(i + 1, min(i + 3, 59))} <= dated  # every pair within 14 days
    assert {(0, 59), (58, 59)} <= found  # the undated text still pairs (a chain: the bucket is over the cap)
    # keyed by passage alone the 60 texts were one capped bucket: a chain, then most in-window pairs dropped
    chained = _bucket_pairs(pl.DataFrame({"key": np.full(60, 7, dtype=np.uint64), "doc": docs}), CONFIG.max_bucket)
    assert (1, 3) not in chained and (1, 3) in found
    assert time_slots(published, 0.0, 60) is None and time_slots(None, 14.0, 60) is None


def test_undated_texts_pair_with_the_texts_of_their_keys_and_keys_are_counted_across_slices() -> None:
    """An undated text pairs with every text sharing a key (a chain past max_bucket), as all pairs of
    those keys kept where one text is undated did, without making the pairs of dated texts."""
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 40, 600).astype(np.uint64)
    keys[:120] = 99  # one key over the cap of 50 texts
    docs = rng.integers(0, 300, 600).astype(np.uint32)
    slots = np.where(rng.random(300) < 0.2, UNDATED_SLOT, rng.integers(0, 9, 300)).astype(np.int32)
    rows = band_rows(keys, docs, slots, 0)
    undated = set(np.flatnonzero(slots == UNDATED_SLOT).tolist())
    old = {pair for pair in _bucket_pairs(rows, CONFIG.max_bucket) if pair[0] in undated or pair[1] in undated}
    hits = undated_hits(rows, CONFIG.max_bucket)
    found = hit_pairs(hits)
    in_large = {int(doc) for doc in docs[:120]}
    assert {pair for pair in old if not (set(pair) <= in_large)} <= found  # every pair of a small key
    assert all(pair[0] in undated or pair[1] in undated for pair in found) and len(found) >= 100
    chained = sorted(in_large)
    for doc in in_large & undated:  # in the large key: the first text and the neighbours only
        at = chained.index(doc)
        partners = {pair[0] if pair[1] == doc else pair[1] for pair in found if doc in pair and (set(pair) <= in_large)}
        assert {chained[0], *chained[max(0, at - 1) : at + 2]} - {doc} <= partners
    # keys counted in two slices add up; passage candidates of an undated text need two keys
    one = pl.DataFrame({"doc": [1, 2], "doc_other": [5, 5], "keys": [1, 1]}, schema=hits.schema)
    other = pl.DataFrame({"doc": [1], "doc_other": [5], "keys": [1]}, schema=hits.schema)
    assert hit_pairs(summed_hits([one, other]), UNDATED_MIN_PASSAGE_KEYS) == {(1, 5)}
    assert hit_pairs(summed_hits([one, other])) == {(1, 5), (2, 5)}


def test_an_undated_text_sharing_one_passage_key_by_chance_is_no_candidate() -> None:
    """A passage band key two unrelated texts share by chance brings no pair when one is undated
    (its candidates span the whole corpus); a copy shares many keys and stays."""
    rows = band_rows(
        np.array([1, 1, 2, 2, 3, 2, 3, 4], dtype=np.uint64), np.array([0, 1, 2, 3, 3, 4, 4, 5], dtype=np.uint32),
        np.array([UNDATED_SLOT, 0, 0, UNDATED_SLOT, 0, 0], dtype=np.int32), 0,
    )
    hits = undated_hits(rows, CONFIG.max_bucket)
    assert hit_pairs(hits) == {(0, 1), (2, 3), (3, 4)}
    assert hit_pairs(hits, UNDATED_MIN_PASSAGE_KEYS) == {(3, 4)}  # 3 and 4 share keys 2 and 3


def test_pairs_with_an_undated_text_are_verified_last_a_group_of_undated_texts_at_a_time() -> None:
    pairs = np.array([[0, 1], [0, 7], [2, 3], [2, 8], [3, 7], [4, 5], [7, 8]])
    undated = np.zeros(9, dtype=bool)
    undated[[7, 8]] = True
    groups = list(verification_groups(pairs, undated))
    assert [(positions.tolist(), held.tolist()) for positions, held in groups] == [
        ([0, 2, 5], []),  # dated pairs, in row order, nothing held
        ([1, 3, 4, 6], [7, 8]),  # pairs with an undated text, in their partners' row order: 0, 2, 3, 8 (7-8: 7 is the undated one)
    ]
    one_each = list(verification_groups(pairs, undated, held_at_most=1))
    assert [(positions.tolist(), held.tolist()) for positions, held in one_each[1:]] == [([1, 4, 6], [7]), ([3], [8])]
    assert [positions.tolist() for positions, _ in verification_groups(pairs, None)] == [list(range(7))]


def test_is_template_finds_exactly_the_keys_of_the_sorted_template_array() -> None:
    rng = np.random.default_rng(3)
    templates = np.unique(rng.integers(0, 2**64, 5_000, dtype=np.uint64))
    keys = np.concatenate([templates[::3], rng.integers(0, 2**64, 20_000, dtype=np.uint64), templates[:5] ^ np.uint64(1 << 40)])
    expected = np.isin(keys, templates)
    assert expected.sum() == templates[::3].size
    assert (is_template(keys, templates) == expected).all()  # the same low bits (the last five) but other keys: not templates
    assert not is_template(keys, np.zeros(0, np.uint64)).any() and is_template(np.zeros(0, np.uint64), templates).size == 0


def test_whole_article_band_keys_pair_what_datasketch_lsh_pairs() -> None:
    articles = planted_corpus()
    texts = articles["text"].to_list() + ["", "short text"]  # no shingle at all, and one shingle
    shingled = shingle_texts(texts, CONFIG.shingle_size)
    signed = reuse_signatures(shingled.hashes, np.ones(shingled.hashes.size, dtype=np.bool_), shingled.doc_shingles, CONFIG)
    keys, docs = article_band_keys(signed.articles, CONFIG)
    found = _bucket_pairs(pl.DataFrame({"key": keys, "doc": docs}), 10**9)
    expected = set(candidate_pairs([str(row) for row in range(len(texts))], lean_minhashes(signed.articles, CONFIG.seed), CONFIG))
    empty = len(texts) - 2
    assert found == {pair for pair in expected if empty not in pair} and len(found) >= 6
