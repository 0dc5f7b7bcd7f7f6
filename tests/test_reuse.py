"""compare.dedup.evidence and the passage-level path of compare.dedup.clusters: spans with offsets, partial reuse, time window, diffs."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from compare.core.config import MinHashConfig
from compare.dedup.clusters import describe_copy, find_reuse, pairs_in_window
from compare.dedup.evidence import own_ranges, sentence_diff

CONFIG = MinHashConfig()
T0 = datetime(2026, 8, 20, 7, 0, tzinfo=timezone.utc)
_VOCABULARY = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "va", "zo") for b in ("b", "d", "g", "k", "m", "n", "p", "r", "s", "t", "v", "z", "bel", "dor", "gan", "kim", "lum", "nar", "pol", "sut")]


def paragraph(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_VOCABULARY) for _ in range(words)).capitalize() + "."


def test_two_wires_merged_with_local_reporting_yield_spans_with_offsets_in_both() -> None:
    rng = random.Random(1)
    wire_a = [paragraph(rng, 60) for _ in range(6)]
    wire_b = [paragraph(rng, 60) for _ in range(6)]
    local = [paragraph(rng, 60) for _ in range(3)]
    merged = "\n\n".join([local[0], *wire_a[:2], local[1], *wire_b[:2], local[2]])
    texts = ["\n\n".join(wire_a), "\n\n".join(wire_b), merged]
    pairs = find_reuse(["a", "b", "m"], texts, ["AP", "Reuters", "Local"], CONFIG)
    found = {(p.left, p.right): p for p in pairs}
    assert set(found) == {("a", "m"), ("b", "m")}
    for wire, (left, right) in ((wire_a, ("a", "m")), (wire_b, ("b", "m"))):
        pair = found[(left, right)]
        assert pair.kind == "partial"  # a third of each wire: neither Jaccard nor containment calls it a copy
        assert 0.2 < pair.left_in_right < 0.45 and 0.2 < pair.right_in_left < 0.45
        [span] = pair.spans
        shared_text = "\n\n".join(wire[:2]).rstrip(".")  # spans run from first word to last word
        left_text, right_text = texts[["a", "b", "m"].index(left)], merged
        assert left_text[span.left_chars[0] : span.left_chars[1]] == shared_text
        assert right_text[span.right_chars[0] : span.right_chars[1]] == shared_text
        assert span.words == 120


def test_edited_words_do_not_split_a_span() -> None:
    rng = random.Random(2)
    words = [rng.choice(_VOCABULARY) for _ in range(200)]
    edited = list(words)
    edited[100] = "changedword"
    detail = describe_copy(" ".join(words), "copy", " ".join(edited), CONFIG)
    assert len(detail.spans) == 1 and detail.spans[0].words == 200
    assert detail.wire_share == 1.0 and detail.own == ()


def test_time_window_drops_far_pairs_but_keeps_undated() -> None:
    published = [T0, T0 + timedelta(days=3), T0 + timedelta(days=30), None]
    pairs = [(0, 1), (0, 2), (1, 2), (2, 3), (0, 3)]
    assert pairs_in_window(pairs, published, 14) == [(0, 1), (2, 3), (0, 3)]
    assert pairs_in_window(pairs, published, 0) == pairs


def test_find_reuse_respects_the_window_option() -> None:
    rng = random.Random(3)
    text = "\n\n".join(paragraph(rng, 60) for _ in range(4))
    published = [T0, T0 + timedelta(days=40)]
    assert find_reuse(["a", "b"], [text, text], ["X", "Y"], CONFIG, published) == []
    whole = MinHashConfig(window_days=0)
    [pair] = find_reuse(["a", "b"], [text, text], ["X", "Y"], whole, published)
    assert pair.kind == "copy" and pair.jaccard == 1.0


def test_sentence_diff_names_added_removed_and_changed_sentences() -> None:
    source = "The depot lies 80 km north of Baghdad. Three people were killed. The army sealed the area. Officials declined to comment."
    copy = "Three people were killed. The depot lies 100 km north of Baghdad. The army sealed the area. Residents heard two blasts."
    diff = sentence_diff(source, copy)
    assert diff.changed == (("The depot lies 80 km north of Baghdad.", "The depot lies 100 km north of Baghdad."),)
    assert diff.removed == ("Officials declined to comment.",)
    assert diff.added == ("Residents heard two blasts.",)
    assert diff.kept == 2
    assert diff.summary() == "2 kept, 1 changed, 1 added, 1 removed"


def test_own_ranges_are_the_complement_of_spans() -> None:
    rng = random.Random(4)
    wire = "\n\n".join(paragraph(rng, 50) for _ in range(3))
    own = paragraph(rng, 30)
    copy = f"{own}\n\n{wire}"
    detail = describe_copy(wire, "c", copy, CONFIG)
    assert [copy[a:b].strip() for a, b in detail.own] == [own]
    assert own_ranges([], "ab. ") == [(0, 4)] and own_ranges([], " . ") == []
    assert 0.8 < detail.wire_share < 0.9


def test_article_stitched_from_two_wires_does_not_join_their_clusters() -> None:
    import polars as pl

    from compare.dedup.clusters import cluster_copies
    from compare.core.schema import ARTICLE_SCHEMA

    rng = random.Random(6)
    wire_a = [paragraph(rng, 50) for _ in range(8)]
    wire_b = [paragraph(rng, 50) for _ in range(8)]
    rows = [
        ("a", "AP", "\n\n".join(wire_a)), ("b", "Reuters", "\n\n".join(wire_b)),
        ("cut_a", "Times", "\n\n".join(wire_a[:3])), ("cut_b", "Herald", "\n\n".join(wire_b[:3])),
        ("merged", "Gazette", "\n\n".join(wire_a[:4] + [paragraph(rng, 40)] + wire_b[:4])),
    ]
    articles = pl.DataFrame(
        [{**{k: None for k in ARTICLE_SCHEMA}, "id": i, "outlet": o, "text": t, "published": T0} for i, o, t in rows],
        schema=ARTICLE_SCHEMA,
    )
    clusters = cluster_copies(articles, CONFIG)
    groups = sorted(sorted(g["article_id"].to_list()) for _, g in clusters.group_by("cluster_id"))
    assert groups == [["a", "cut_a"], ["b", "cut_b"]]
    partial = {(p.left, p.right) for p in find_reuse([r[0] for r in rows], [r[2] for r in rows], [r[1] for r in rows], CONFIG) if p.kind == "partial"}
    assert {("a", "merged"), ("b", "merged")} <= partial


def test_a_passage_run_by_many_outlets_still_connects_them() -> None:
    from dataclasses import replace

    from compare.dedup.clusters import cluster_copies
    import polars as pl

    from compare.core.schema import ARTICLE_SCHEMA

    rng = random.Random(7)
    wire = [paragraph(rng, 50) for _ in range(8)]
    rows = [{**{k: None for k in ARTICLE_SCHEMA}, "id": "wire", "outlet": "AP", "text": "\n\n".join(wire), "published": T0}]
    for n in range(12):  # each runs the first three paragraphs with its own three: Jaccard ~0.2
        own = [paragraph(rng, 50) for _ in range(3)]
        rows.append({**{k: None for k in ARTICLE_SCHEMA}, "id": f"local{n}", "outlet": f"Paper {n}", "text": "\n\n".join(wire[:3] + own), "published": T0})
    articles = pl.DataFrame(rows, schema=ARTICLE_SCHEMA)
    small_buckets = replace(CONFIG, max_bucket=4)
    for config in (CONFIG, small_buckets):
        clusters = cluster_copies(articles, config)
        assert clusters["cluster_id"].n_unique() == 1 and clusters.height == 13


def test_on_equal_dates_the_wire_agency_is_the_source() -> None:
    import polars as pl

    from compare.dedup.clusters import cluster_copies
    from compare.core.schema import ARTICLE_SCHEMA

    rng = random.Random(8)
    text = "\n\n".join(paragraph(rng, 60) for _ in range(4))
    day = datetime(2019, 8, 7, tzinfo=timezone.utc)
    rows = [("a1", "Newsmax - News", None), ("b2", "Reuters", None), ("c3", "Daily", "AP")]
    articles = pl.DataFrame(
        [{**{k: None for k in ARTICLE_SCHEMA}, "id": i, "outlet": o, "wire_credit": w, "text": text, "published": day} for i, o, w in rows],
        schema=ARTICLE_SCHEMA,
    )
    clusters = cluster_copies(articles, CONFIG)
    assert clusters.filter(pl.col("is_source"))["article_id"].to_list() == ["b2"]
    without_agency = cluster_copies(articles.filter(pl.col("id") != "b2"), CONFIG)
    assert without_agency.filter(pl.col("is_source"))["article_id"].to_list() == ["c3"]
