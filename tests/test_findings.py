"""compare.report.findings: importance of a fact, the forecast-vs-outcome note, and best-first ranking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from compare.diverge import ClaimRef, Divergence, DivergenceSide
from compare.report.findings import fact_importance, rank_findings, timing_note

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def claim(article: str, outlet: str, position: int, text: str) -> ClaimRef:
    return ClaimRef(f"{article}:{position}", article, outlet, 0, len(text), text)


@dataclass(frozen=True)
class Row:
    group_id: str
    claims: tuple[ClaimRef, ...]
    present: tuple[str, ...]
    missing: tuple[str, ...]
    near: tuple[str, ...] = ()


def test_a_lede_fact_with_casualties_most_outlets_carry_outranks_background() -> None:
    lede = (claim("a", "A", 0, "The blast killed 12 people on Monday, officials said."), claim("b", "B", 1, "Twelve people were killed in the blast."))
    background = (claim("a", "A", 14, "The town has a long history of textile making."),)
    titles = {"a": "Blast kills 12 in market town", "b": None}
    assert fact_importance(lede, 3, 3, titles) > 0.7
    assert fact_importance(background, 1, 3, titles) < 0.2


def test_sides_published_days_apart_one_looking_ahead_read_as_forecast_vs_outcome() -> None:
    preview = DivergenceSide("7 points", (claim("a", "A", 3, "Polls show Smith will win by 7 points."),))
    result = DivergenceSide("20 points", (claim("b", "B", 0, "Smith won the primary by 20 points."),))
    divergence = Divergence("number", "g1", "points", (preview, result))
    published = {"a": T0, "b": T0 + timedelta(days=3)}
    assert timing_note(divergence, published) == "sides published 3 days apart: the earlier one looks ahead (forecast vs outcome)"
    assert timing_note(divergence, {"a": T0, "b": T0 + timedelta(hours=2)}) is None
    assert timing_note(divergence, {"a": T0, "b": None}) is None


def test_findings_are_ranked_by_confidence_times_importance_and_forecasts_rank_lower() -> None:
    killed_a, killed_b = claim("a", "A", 0, "The blast killed 12 people."), claim("b", "B", 0, "The blast killed 15 people.")
    killed = Divergence("number", "g1", "people", (DivergenceSide("12", (killed_a,)), DivergenceSide("15", (killed_b,))), confidence=0.9)
    vote_a, vote_b = claim("a", "A", 5, "The council will vote to approve the plan."), claim("b", "B", 5, "The council voted to reject the plan.")
    vote = Divergence("contradiction", "g2", "outcome", (DivergenceSide("approve", (vote_a,)), DivergenceSide("reject", (vote_b,))), confidence=0.9)
    dropped = claim("a", "A", 1, "The mayor blamed the gas company for the explosion.")
    rows = [
        Row("g1", (killed_a, killed_b), ("A", "B"), ("C",)),
        Row("g2", (vote_a, vote_b), ("A", "B"), ()),
        Row("g3", (dropped, claim("c", "C", 2, "The mayor blamed the gas firm.")), ("A", "C"), ("B",)),
        Row("g4", (claim("c", "C", 9, "Background only one outlet has."),), ("C",), ("A", "B")),
    ]
    published = {"a": T0, "b": T0 + timedelta(days=2), "c": T0}
    findings = rank_findings(rows, [vote, killed], ["A", "B", "C"], {"a": None, "b": None, "c": None}, published)
    assert [f.rank for f in findings] == [1, 2, 3, 4]  # two divergences, two omissions
    assert [f.group_id for f in findings][0] == "g1"  # the casualty figure in the lede leads
    forecast = next(f for f in findings if f.group_id == "g2")
    assert forecast.timing and "forecast vs outcome" in forecast.timing and forecast.confidence == 0.45
    assert {f.kind for f in findings} == {"number", "contradiction", "omission"}
    assert all(f.group_id != "g4" for f in findings)  # one outlet's background is nobody's omission
    assert [f.score for f in findings] == sorted((f.score for f in findings), reverse=True)


def test_an_outlet_that_published_before_the_fact_happened_is_not_simply_said_to_leave_it_out() -> None:
    result_a, result_b = claim("a", "A", 0, "Smith won the primary by 20 points."), claim("b", "B", 0, "Smith won by twenty points on Tuesday.")
    background = claim("a", "A", 7, "Smith's campaign raised money in the state.")
    rows = [Row("g1", (result_a, result_b), ("A", "B"), ("P",)), Row("g2", (background,), ("A",), ("B", "P"), near=("B",))]
    published = {"a": T0 + timedelta(days=2), "b": T0 + timedelta(days=2), "p": T0}
    findings = rank_findings(rows, [], ["A", "B", "P"], {}, published, {"A": T0 + timedelta(days=2), "B": T0 + timedelta(days=2), "P": T0})
    [omission] = findings  # g2 has one outlet reporting it in so many words: background, not an omission
    assert omission.group_id == "g1" and omission.timing == "P published 2 days before the first report of this fact: it may not have happened yet"
    assert omission.confidence == 0.35  # (0.3 + 0.6 x 2/3) halved


def test_a_forecast_vs_outcome_divergence_needs_the_forecast_published_first() -> None:
    from compare.diverge.certainty import FORECAST
    from compare.report.story import forecast_precedes_outcome

    ahead = DivergenceSide("forecast (before the event)", (claim("a", "A", 0, "Smith will announce his run on Tuesday."),))
    done = DivergenceSide("outcome (after it)", (claim("b", "B", 0, "Smith announced his run on Tuesday."),))
    divergence = Divergence("certainty", "g1", FORECAST, (ahead, done))
    assert forecast_precedes_outcome(divergence, {"a": T0, "b": T0 + timedelta(days=2)})
    assert not forecast_precedes_outcome(divergence, {"a": T0, "b": T0 + timedelta(hours=3)})  # same day: two tenses, one event
    assert not forecast_precedes_outcome(divergence, {"a": T0 + timedelta(days=2), "b": T0})
    assert not forecast_precedes_outcome(divergence, {"a": None, "b": T0})
    other = Divergence("certainty", "g1", "hedged vs asserted", (ahead, done))
    assert forecast_precedes_outcome(other, {})


def test_an_omission_by_a_previewing_headline_is_noted_and_ranked_lower() -> None:
    from compare.report.findings import preview_note

    titles = {"P": ["Council set to vote on the stadium deal"], "R": ["Council approves stadium deal"], "U": [None]}
    assert preview_note(["P"], titles) is not None and "preview" in preview_note(["P"], titles)
    assert preview_note(["R"], titles) is None
    assert preview_note(["P", "R"], titles) is None  # one outlet that did publish after the vote
    assert preview_note(["U"], titles) is None  # no headline: cannot tell
    fact = (claim("r", "R", 0, "The council approved the stadium deal 7-2."), claim("s", "S", 0, "The council voted 7-2 for the stadium deal."))
    rows = [Row("g1", fact, ("R", "S"), ("P",))]
    published = {"r": T0, "s": T0, "p": T0}
    [plain] = rank_findings(rows, [], ["P", "R", "S"], {}, published, {"P": T0})
    [noted] = rank_findings(rows, [], ["P", "R", "S"], {}, published, {"P": T0}, {**titles, "S": ["Stadium deal passes"]})
    assert plain.timing is None and noted.timing is not None and noted.confidence == round(plain.confidence / 2, 4)
