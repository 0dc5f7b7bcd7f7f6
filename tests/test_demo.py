"""End to end on the bundled demo story with the real bundled model: every planted item is found.

The planted items are listed in compare/demo/PLANTED.md.
"""

from __future__ import annotations


import pytest

from compare.core.config import load_settings
from compare.demo import run_demo
from compare.diverge import Divergence
from compare.report.render import render_html, render_json, render_markdown
from compare.report.story import StoryReport

DEMO_OUTLETS = {"Associated Press", "Times of Israel", "Ynet News", "Israel Hayom", "Al-Jazeera", "Asharq Al-Awsat"}


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> StoryReport:
    settings = load_settings(tmp_path_factory.mktemp("demo-home"), environ={})
    summary, report = run_demo(settings)
    assert summary.accepted == 9 and summary.rejected == 0
    return report


def _side_outlets(divergence: Divergence) -> dict[str, set[str]]:
    return {side.value: set(side.outlets) for side in divergence.sides}


def _find(report: StoryReport, kind: str, needle: str) -> Divergence:
    matches = [d for d in report.divergences if d.kind == kind and any(needle in side.value for side in d.sides)]
    assert matches, f"no {kind} divergence with a side containing {needle!r}: {report.divergences}"
    return matches[0]


def test_report_covers_the_six_outlets_of_the_depot_story(demo_report: StoryReport) -> None:
    assert set(demo_report.outlets) == DEMO_OUTLETS
    assert "depot" in demo_report.title.lower()


def test_wire_copy_cluster_names_ap_as_source_and_both_reprints(demo_report: StoryReport) -> None:
    assert len(demo_report.wire_copies) == 1
    cluster = demo_report.wire_copies[0]
    assert cluster.source.outlet == "Associated Press"
    assert {article.outlet for article, _ in cluster.copies} == {"Times of Israel", "Al-Jazeera"}
    assert all(0.5 <= score < 1.0 for _, score in cluster.copies)
    credited = {article.outlet for article in demo_report.articles if article.wire_credit == "AP"}
    assert credited == {"Associated Press", "Times of Israel", "Al-Jazeera"}


def test_distance_divergence_80_vs_100_km(demo_report: StoryReport) -> None:
    sides = _side_outlets(_find(demo_report, "number", "100 kilometres"))
    assert sides["100 kilometres"] == {"Asharq Al-Awsat"}
    assert sides["80 kilometres"] == {"Associated Press", "Times of Israel", "Al-Jazeera"}


def test_casualty_divergence_two_vs_five(demo_report: StoryReport) -> None:
    sides = _side_outlets(_find(demo_report, "number", "five"))
    assert sides["five militia fighters"] == {"Ynet News"}
    assert "Associated Press" in sides["two militia fighters"]


def test_attributed_in_one_outlet_stated_as_fact_in_another(demo_report: StoryReport) -> None:
    sides = _side_outlets(_find(demo_report, "attribution", "Western diplomatic sources"))
    assert sides["attributed to Western diplomatic sources"] == {"Asharq Al-Awsat"}
    assert sides["stated as fact"] == {"Israel Hayom"}


def test_hedges_reportedly_and_allegedly(demo_report: StoryReport) -> None:
    for hedge in ("reportedly", "allegedly"):
        sides = _side_outlets(_find(demo_report, "certainty", hedge))
        assert sides[f"hedged: {hedge}"] == {"Ynet News"}
        assert sides["asserted"] == {"Israel Hayom"}


def test_actor_divergence_who_is_blamed(demo_report: StoryReport) -> None:
    sides = _side_outlets(_find(demo_report, "actor", "United States"))
    assert sides["Israel"] == {"Asharq Al-Awsat"}
    assert sides["the United States"] == {"Associated Press", "Times of Israel", "Al-Jazeera"}


def test_investigation_claim_left_out_by_israel_hayom_only(demo_report: StoryReport) -> None:
    rows = [row for row in demo_report.partial if "investigation" in row.text]
    assert len(rows) == 1
    assert rows[0].missing == ("Israel Hayom",)


def test_claim_every_outlet_carries(demo_report: StoryReport) -> None:
    assert any("arms depot" in row.text for row in demo_report.shared)


def test_every_finding_points_at_exact_source_text(demo_report: StoryReport) -> None:
    from compare.demo import demo_corpus_text
    import json

    texts = {json.loads(line)["outlet"] + json.loads(line)["published"][:10]: json.loads(line)["text"] for line in demo_corpus_text().splitlines()}
    by_outlet = {key[:-10]: text for key, text in texts.items() if key.endswith("2026-08-20")}
    for divergence in demo_report.divergences:
        for side in divergence.sides:
            for claim in side.claims:
                assert by_outlet[claim.outlet][claim.start : claim.end] == claim.text


def test_all_formats_name_every_outlet_and_planted_divergence(demo_report: StoryReport) -> None:
    for rendered in (render_markdown(demo_report), render_html(demo_report), render_json(demo_report)):
        for outlet in DEMO_OUTLETS:
            assert outlet in rendered
        for needle in ("100 kilometres", "five militia fighters", "Western diplomatic sources", "reportedly", "United States"):
            assert needle in rendered
