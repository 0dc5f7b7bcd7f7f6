"""compare.report.story: the report over any article set, flagged sentences, and finding a story by text."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from stories import all_claims, flagged_claims  # noqa: E402  (benchmarks/stories.py: what the stories benchmark scores)

from compare.core.config import load_settings  # noqa: E402
from compare.embed.embedder import HashingEmbedder  # noqa: E402
from compare.report.story import UnknownStoryError, find_story, report_for_articles  # noqa: E402
from compare.core.schema import ARTICLE_SCHEMA  # noqa: E402

T0 = datetime(2026, 8, 20, 8, 0, tzinfo=timezone.utc)
TEXTS = {
    "ap": ("AP", "Depot blast north of Baghdad",
           "The depot lies 80 km north of Baghdad. A militia commander blamed the United States. Residents heard two loud blasts overnight."),
    "bbc": ("BBC", "Baghdad depot explosion",
            "The depot lies 100 km north of Baghdad. A militia commander blamed the United States. The government ordered an inquiry today."),
    "heat": ("BBC", "Heat wave grips Israel", "Temperatures reached 46 degrees in the Jordan Valley. Power cuts hit several towns."),
}


def articles() -> pl.DataFrame:
    rows = [
        {"id": key, "outlet": outlet, "title": title, "text": text, "published": T0 + timedelta(hours=i)}
        for i, (key, (outlet, title, text)) in enumerate(TEXTS.items())
    ]
    return pl.DataFrame([{name: row.get(name) for name in ARTICLE_SCHEMA} for row in rows], schema=ARTICLE_SCHEMA)


@pytest.fixture()
def settings(tmp_path: Path):  # noqa: ANN201
    return load_settings(tmp_path, environ={})


def test_report_for_articles_finds_the_number_divergence_and_unique_claims(settings) -> None:  # noqa: ANN001
    members = articles().filter(pl.col("id").is_in(["ap", "bbc"]))
    report = report_for_articles(members, settings, story_id="s-test", embedder=HashingEmbedder())
    assert report.outlets == ("AP", "BBC") and report.wire_copies == ()
    [number] = [d for d in report.divergences if d.kind == "number"]
    assert {side.value for side in number.sides} == {"80 km", "100 km"}
    assert any("blamed the United States" in row.text for row in report.shared)
    unique_texts = {row.text for row in report.unique}
    assert "Residents heard two loud blasts overnight." in unique_texts


def test_flagged_claims_are_unique_or_divergent_and_point_into_the_text(settings) -> None:  # noqa: ANN001
    frame = articles().filter(pl.col("id").is_in(["ap", "bbc"]))
    report = report_for_articles(frame, settings, story_id="s-test", embedder=HashingEmbedder())
    flagged, every = flagged_claims(report), all_claims(report)
    assert flagged < every
    texts = dict(zip(frame["id"].to_list(), frame["text"].to_list(), strict=True))
    flagged_text = {texts[a][s:e] for a, s, e in flagged}
    assert "The depot lies 80 km north of Baghdad." in flagged_text
    assert "A militia commander blamed the United States." not in flagged_text


def test_find_story_by_query() -> None:
    index = SimpleNamespace(stories=pl.DataFrame({"story_id": ["s-depot", "s-depot", "s-heat"], "article_id": ["ap", "bbc", "heat"]}))
    assert find_story(articles(), index, "explosion at the Baghdad depot") == "s-depot"
    assert find_story(articles(), index, "heat wave power cuts") == "s-heat"
    with pytest.raises(UnknownStoryError, match="no story matches"):
        find_story(articles(), index, "zzzz qqqq")


def test_loosely_similar_sentence_is_near_not_left_out(settings) -> None:  # noqa: ANN001
    import numpy as np

    from compare.report.story import CoverageRow, _with_near
    from compare.diverge import ClaimRef

    claims = pl.DataFrame({"claim_id": ["a:0", "b:0", "c:0"], "outlet": ["A", "B", "C"]})
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)  # cos(a, b) = 0.8, cos(a, c) = 0
    row = CoverageRow("g", (ClaimRef("a:0", "a", "A", 0, 5, "text."),), ("A",), ("B", "C"))
    [updated] = _with_near([row], claims, vectors, 0.6)
    assert (updated.present, updated.near, updated.missing) == (("A",), ("B",), ("C",))
    # The cut is the configured one: above cos(a, b) nobody is near.
    [strict] = _with_near([row], claims, vectors, 0.9)
    assert (strict.near, strict.missing) == ((), ("B", "C"))


def test_divergences_are_found_only_between_directly_paired_claims() -> None:
    from compare.diverge import ClaimRef
    from compare.report.story import row_divergences

    a = ClaimRef("a:1", "a", "A", 0, 10, "The blast killed 12 people in the market, police said.")
    b = ClaimRef("b:1", "b", "B", 0, 10, "The blast killed 15 people in the market, police said.")
    c = ClaimRef("c:1", "c", "C", 0, 10, "The blast killed 15 people in the market, police said.")
    [whole_row] = [d for d in row_divergences("g", [a, b, c], None) if d.kind == "number"]  # other criteria: every claim compared
    assert {side.value: side.outlets for side in whole_row.sides}.keys() >= {"12 people"}
    [direct] = [d for d in row_divergences("g", [a, b, c], {("a:1", "c:1"): 0.95, ("b:1", "c:1"): 0.99}) if d.kind == "number"]
    assert direct.confidence == round(whole_row.confidence * 0.95, 4)
    assert {side.value: side.outlets for side in direct.sides} == {"12 people": ("A",), "15 people": ("C",)}
    # a and b are joined only through c: they are not compared, and b and c agree
    assert [d for d in row_divergences("g", [a, b, c], {("b:1", "c:1"): 0.99}) if d.kind == "number"] == []
    # a difference inside outlets (A and B on both sides) is not one between outlets
    a2 = ClaimRef("a:2", "a", "A", 20, 30, "The blast killed 15 people in the market, police said.")
    b2 = ClaimRef("b:2", "b", "B", 20, 30, "The blast killed 12 people in the market, police said.")
    inside = row_divergences("g", [a, b, a2, b2], {("a:1", "b:1"): 0.99, ("a:2", "b:2"): 0.99})
    assert [d for d in inside if d.kind == "number"] == []


def test_statement_findings_need_the_two_sentences_to_read_alike() -> None:
    from compare.diverge import ClaimRef
    from compare.report.story import STATEMENT_MIN_COSINE, row_divergences

    a = ClaimRef("a:1", "a", "A", 0, 10, "Israel carried out the strike with US approval, according to Western diplomatic sources.")
    b = ClaimRef("b:1", "b", "B", 0, 10, "Israel carried out the strike with US approval.")
    paired = {("a:1", "b:1"): 0.95}
    alike = row_divergences("g", [a, b], paired, lambda left, right: STATEMENT_MIN_COSINE + 0.2)
    unlike = row_divergences("g", [a, b], paired, lambda left, right: STATEMENT_MIN_COSINE - 0.2)
    assert [d.kind for d in alike] == ["attribution"]
    assert unlike == []


def test_divergences_under_the_report_cut_are_not_reported(tmp_path: Path) -> None:
    from dataclasses import replace

    from compare.core.config import ReportConfig
    from compare.demo import run_demo

    settings = load_settings(tmp_path, environ={})
    _, everything = run_demo(replace(settings, report=ReportConfig(min_confidence=0.0)))
    _, strict = run_demo(replace(settings, report=ReportConfig(min_confidence=0.7)))
    assert any(d.confidence < 0.7 for d in everything.divergences)
    assert strict.divergences and all(d.confidence >= 0.7 for d in strict.divergences)
    assert {(d.kind, d.subject) for d in strict.divergences} < {(d.kind, d.subject) for d in everything.divergences}
