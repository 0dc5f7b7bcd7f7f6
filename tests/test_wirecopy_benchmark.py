"""benchmarks/wire_edits.py (the seeded wire-edit generator) and the exact parts of benchmarks/wirecopy.py."""

from __future__ import annotations

import itertools
import random
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from wire_edits import SourceArticle, generate, paragraphs  # noqa: E402
from wirecopy import adjusted_rand_index, exact_coverage, exact_pairs, shingle_frame  # noqa: E402

from compare.core.config import MinHashConfig  # noqa: E402
from compare.dedup.clusters import jaccard, shingles  # noqa: E402

T0 = datetime(2026, 8, 20, tzinfo=timezone.utc)
_VOCABULARY = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu") for b in ("b", "d", "g", "k", "m", "n", "p", "r", "s", "t", "bel", "dor", "gan")]


def article(rng: random.Random, name: str, count: int = 7) -> SourceArticle:
    body = "\n\n".join(" ".join(rng.choice(_VOCABULARY) for _ in range(rng.randint(30, 60))).capitalize() + "." for _ in range(count))
    return SourceArticle(name, body, T0)


def corpus() -> tuple[list[SourceArticle], list[SourceArticle]]:
    rng = random.Random(5)
    return [article(rng, f"wire{i}") for i in range(6)], [article(rng, f"local{i}") for i in range(4)]


def test_generator_is_seeded_and_reproducible() -> None:
    wires, local = corpus()
    first, again, other = generate(wires, local, seed=1), generate(wires, local, seed=1), generate(wires, local, seed=2)
    assert first == again
    assert [g.text for g in first] != [g.text for g in other]


def test_generated_segments_point_at_their_source_text() -> None:
    wires, local = corpus()
    generated = generate(wires, local, seed=3, merged_share=0.5)
    by_id = {w.id: w for w in wires}
    local_paragraphs = {p for a in local for p in paragraphs(a.text)}
    assert {g.cluster for g in generated if g.cluster} == set(by_id)
    assert sum(g.cluster is None for g in generated) == 3  # half of six wires, stitched in pairs
    for g in generated:
        assert g.text == "\n\n".join(g.text[s.start : s.end] for s in g.segments)
        for segment in g.segments:
            piece = g.text[segment.start : segment.end]
            if segment.source is None:
                assert piece in local_paragraphs
            elif "words" not in g.edits:
                assert piece in paragraphs(by_id[segment.source].text)
            else:  # 5% of the words changed: still mostly the wire's paragraph
                assert any(jaccard(shingles(piece, 1), shingles(p, 1)) > 0.7 for p in paragraphs(by_id[segment.source].text))
        if g.cluster is None:
            assert len({s.source for s in g.segments if s.source}) == 2 and g.edits == ("merge",)
        elif g.id != g.cluster:
            assert g.published > T0 and 1 <= len(g.edits) <= 3


def test_exact_pairs_equal_brute_force() -> None:
    rng = random.Random(9)
    base = [[rng.choice(_VOCABULARY) for _ in range(80)] for _ in range(6)]
    texts = []
    for tokens in base:
        for changes in (0, 2, 6, 15):
            copy = list(tokens)
            for _ in range(changes):
                copy[rng.randrange(len(copy))] = rng.choice(_VOCABULARY)
            texts.append(" ".join(copy))
    config = MinHashConfig()
    frame = shingle_frame(texts, [f"o{i}" for i in range(len(texts))], config)
    sets = [shingles(t, 5) for t in texts]
    brute = {(i, j) for i, j in itertools.combinations(range(len(texts)), 2) if jaccard(sets[i], sets[j]) >= 0.5}
    found = exact_pairs(frame, 0.5)
    assert set(found.select("doc", "doc_o").iter_rows()) == brute
    for i, j, score in found.select("doc", "doc_o", "jaccard").iter_rows():
        assert score == pytest.approx(jaccard(sets[i], sets[j]))
    assert len(brute) >= 8


def test_adjusted_rand_index() -> None:
    assert adjusted_rand_index(["a", "a", "b", "b"], ["x", "x", "y", "y"]) == 1.0
    assert adjusted_rand_index(["a", "a", "b", "b"], ["x", "y", "x", "y"]) == pytest.approx(-0.5)
    assert adjusted_rand_index(list("aabbcc"), list("aabbcd")) == pytest.approx(1.6 / 2.1)  # index 2, expected 0.4, max 2.5
    assert isinstance(pl.__version__, str)


def test_exact_coverage_bridges_edited_words() -> None:
    from compare.dedup.clusters import shingle_texts

    rng = random.Random(4)
    words = [rng.choice(_VOCABULARY) + str(i) for i in range(100)]
    edited = list(words)
    edited[20] = "changed"
    other = " ".join(edited[:50] + [rng.choice(_VOCABULARY) + "x" + str(i) for i in range(50)])
    shingled = shingle_texts([" ".join(words), other], 5)
    sequence, keep = shingled.sequence(0), np.ones(shingled.sequence(0).size, dtype=bool)
    assert exact_coverage(sequence, keep, np.unique(shingled.sequence(1)), 100, 5) == 0.5
