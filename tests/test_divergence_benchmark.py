"""benchmarks/divergence.py: the gold README's scoring rules on two invented events with known answers,
and one end-to-end run (ingest, build, report) over them in BASIL's file layout."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from divergence import (  # noqa: E402
    EventScore, GoldEvent, ReportClaim, ReportDivergence, ReportRow, load_gold, main, quote_matches, score_event,
)

# Two invented events, three short articles each (paragraphs of sentences, BASIL's body-paragraphs).
ARTICLES = {
    "ev1": {
        "fox": [["The city council voted 7-2 on Monday to close the old bridge for repairs."],
                ["Mayor Jane Roe said the bridge was \"a danger to every driver in town.\""]],
        "nyt": [["On Monday the council decided, by seven votes to two, that the old bridge will shut for repairs."],
                ["Repairs are expected to cost $4 million, officials said."]],
        "hpo": [["Mayor Jane Roe called the bridge \"a danger to every driver in town\" at the meeting."],
                ["Local shops fear losing customers while the bridge is closed."]],
    },
    "ev2": {
        "fox": [["Heavy rain flooded the lower town on Sunday night."], ["Two people were rescued from a car by firefighters."]],
        "nyt": [["Floods hit the lower town after heavy rain on Sunday night."], ["The river rose three metres in six hours."]],
        "hpo": [["Firefighters rescued two people trapped in a car in the lower town."], ["The governor declared an emergency."]],
    },
}

GOLD = {
    "ev1": {
        "facts": [
            {"id": "f1", "kind": "event", "mentions": [
                {"outlet": "fox", "quote": "The city council voted 7-2 on Monday to close the old bridge for repairs."},
                {"outlet": "nyt", "quote": "On Monday the council decided, by seven votes to two, that the old bridge will shut for repairs."}]},
            {"id": "f2", "kind": "quote", "mentions": [
                {"outlet": "fox", "quote": "the bridge was \"a danger to every driver in town.\""},
                {"outlet": "hpo", "quote": "Mayor Jane Roe called the bridge \"a danger to every driver in town\" at the meeting."}]},
            {"id": "f3", "kind": "event", "mentions": [{"outlet": "nyt", "quote": "Repairs are expected to cost $4 million, officials said."}]},
        ],
        "divergences": [{"type": "attribution", "fact": "f2", "sides": [
            {"outlet": "fox", "quote": "Mayor Jane Roe said the bridge was \"a danger to every driver in town.\"", "value": "said"},
            {"outlet": "hpo", "quote": "Mayor Jane Roe called the bridge \"a danger to every driver in town\" at the meeting.", "value": "called"}]}],
        "omissions": [{"fact": "f3", "missing_from": ["fox", "hpo"], "importance": "key", "note": ""},
                      {"fact": "f1", "missing_from": ["hpo"], "importance": "minor", "note": ""}],
    },
    "ev2": {
        "facts": [
            {"id": "f1", "kind": "event", "mentions": [
                {"outlet": "fox", "quote": "Heavy rain flooded the lower town on Sunday night."},
                {"outlet": "nyt", "quote": "Floods hit the lower town after heavy rain on Sunday night."}]},
            {"id": "f2", "kind": "event", "mentions": [
                {"outlet": "fox", "quote": "Two people were rescued from a car by firefighters."},
                {"outlet": "hpo", "quote": "Firefighters rescued two people trapped in a car in the lower town."}]},
        ],
        "divergences": [],
        "omissions": [{"fact": "f2", "missing_from": ["nyt"], "importance": "key", "note": ""}],
    },
}


def write_fixture(root: Path) -> tuple[Path, Path]:
    gold_dir, basil = root / "gold", root / "basil"
    gold_dir.mkdir()
    (basil / "articles" / "2014").mkdir(parents=True)
    for day, (event, outlets) in enumerate(ARTICLES.items(), start=1):
        files = {}
        for n, (outlet, paragraphs) in enumerate(outlets.items(), start=1):
            files[outlet] = f"{event}_{n}.json"
            document = {"source": outlet.upper(), "title": f"{event} story by {outlet}", "date": f"2014-05-0{day}",
                        "url": f"https://{outlet}.example/{event}", "triplet-uuid": event, "body-paragraphs": str(paragraphs)}
            (basil / "articles" / "2014" / files[outlet]).write_text(json.dumps(document), encoding="utf-8")
        (gold_dir / f"{event}.json").write_text(json.dumps({"event": event, "main_event": event, "articles": files, **GOLD[event]}), encoding="utf-8")
    return gold_dir, basil


@pytest.fixture()
def golds(tmp_path: Path) -> dict[str, GoldEvent]:
    gold_dir, _ = write_fixture(tmp_path)
    return {path.stem: load_gold(path) for path in sorted(gold_dir.glob("*.json"))}


def claim(claim_id: str, outlet: str, event: str = "ev1", paragraph: int = 0) -> ReportClaim:
    return ReportClaim(claim_id, outlet, ARTICLES[event][outlet][paragraph][0])


def test_quote_matching_rule() -> None:
    sentence = "Mayor Jane Roe said the bridge was \"a danger to every driver in town.\""
    assert quote_matches("the bridge was \"a danger to every driver in town.\"", sentence)  # contained
    assert quote_matches(sentence + " She left.", sentence)  # the claim inside the quote
    assert quote_matches("Mayor Roe said the old bridge was a danger to drivers", sentence)  # 9 of 11 words = 82%
    assert not quote_matches("The council voted to close the old bridge", sentence)


def test_scores_on_known_answers(golds: dict[str, GoldEvent]) -> None:
    fox_vote, nyt_vote, nyt_cost = claim("f0", "fox"), claim("n0", "nyt"), claim("n1", "nyt", paragraph=1)
    fox_quote, hpo_quote, hpo_shops = claim("f1", "fox", paragraph=1), claim("h0", "hpo"), claim("h1", "hpo", paragraph=1)
    rows = [
        ReportRow((fox_vote, nyt_vote), ("hpo",)),  # right pair; hpo missing: right (f1 missing_from hpo)
        ReportRow((fox_quote, hpo_quote, nyt_cost), ()),  # 1 right pair of 3 (fox-hpo), 2 wrong
        ReportRow((hpo_shops,), ("fox", "nyt")),  # matches no fact: not scored
    ]
    divergences = [ReportDivergence(((fox_quote,), (hpo_quote,))), ReportDivergence(((fox_vote,), (nyt_vote,)))]
    score = score_event(golds["ev1"], rows, divergences)
    assert (score.aligned_pairs, score.aligned_right, score.gold_pairs, score.gold_pairs_found) == (4, 2, 2, 2)
    assert (score.divergences, score.divergences_right, score.gold_divergences_found) == (2, 1, 1)
    assert (score.omissions_listed, score.omissions_scored, score.omissions_wrong, score.omissions_right) == (3, 1, 0, 1)
    # Key omission f3 from fox and hpo: the row holding nyt's cost sentence lists nobody missing.
    assert (score.key_omissions, score.key_omissions_found) == (2, 0)
    figures = score.figures()
    assert figures["alignment"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667}
    assert figures["divergence"] == {"precision": 0.5, "recall": 1.0}


def test_wrong_omission_and_key_recall(golds: dict[str, GoldEvent]) -> None:
    fox_rain, nyt_rain = claim("f0", "fox", "ev2"), claim("n0", "nyt", "ev2")
    fox_rescue, hpo_rescue = claim("f1", "fox", "ev2", 1), claim("h0", "hpo", "ev2")
    rows = [
        ReportRow((fox_rain,), ("nyt", "hpo")),  # nyt reports f1: wrong; hpo: neither (unannotated gap)
        ReportRow((nyt_rain,), ("fox", "hpo")),  # fox reports f1: wrong; hpo: neither
        ReportRow((fox_rescue, hpo_rescue), ("nyt",)),  # key omission f2 from nyt: found, right
    ]
    score = score_event(golds["ev2"], rows, [])
    assert (score.omissions_scored, score.omissions_wrong, score.omissions_right) == (5, 2, 1)
    assert (score.gold_pairs, score.gold_pairs_found, score.aligned_pairs, score.aligned_right) == (2, 1, 1, 1)
    assert score.figures()["omission"] == {"wrong_rate": 0.4, "key_recall": 1.0}
    pooled = EventScore()
    pooled.add(score)
    pooled.add(score)
    assert pooled.figures()["omission"]["wrong_rate"] == 0.4 and pooled.key_omissions == 2


def test_end_to_end_through_the_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold_dir, basil = write_fixture(tmp_path)
    out = tmp_path / "out.json"
    assert main(["--gold", str(gold_dir), "--basil", str(basil), "--json", str(out), "--model", "hashing"]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["events"] == 2 and set(result["per_event"]) == {"ev1", "ev2"}
    for section, names in {"alignment": ("precision", "recall", "f1"), "divergence": ("precision", "recall"), "omission": ("wrong_rate", "key_recall")}.items():
        assert set(names) <= set(result[section])
        assert set(names) <= set(result["per_event"]["ev1"][section])
    assert result["counts"]["gold_pairs"] == 4  # ev1: fox-nyt, fox-hpo; ev2: fox-nyt, fox-hpo
    assert "pooled" in capsys.readouterr().out


def test_missing_article_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold_dir, basil = write_fixture(tmp_path)
    (basil / "articles" / "2014" / "ev1_1.json").unlink()
    assert main(["--gold", str(gold_dir), "--basil", str(basil)]) == 2
    assert "ev1_1.json" in capsys.readouterr().err
