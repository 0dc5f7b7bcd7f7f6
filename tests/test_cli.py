"""The CLI through typer's runner: every command runs, formats parse, errors are one line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compare.cli import app
from compare.demo import demo_corpus_text

runner = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-home")
    corpus = home.parent / "demo.jsonl"
    corpus.write_text(demo_corpus_text(), encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(corpus), "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "accepted 9, duplicate 0, rejected 0" in result.output
    return home


def test_ingest_twice_adds_nothing(home: Path) -> None:
    corpus = home.parent / "demo.jsonl"
    result = runner.invoke(app, ["ingest", str(corpus), "--home", str(home)])
    assert result.exit_code == 0
    assert "accepted 0, duplicate 9, rejected 0" in result.output


def test_ingest_reports_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    good = json.dumps({"outlet": "Ynet News", "text": "A perfectly good article about a heat wave in the north."})
    bad_date = json.dumps({"outlet": "Ynet News", "text": "Another article text here today.", "published": "yesterday-ish"})
    path = tmp_path / "mixed.jsonl"
    path.write_bytes((good + "\n" + '{"outlet": "X", "text": "trunc' + "\n" + bad_date + "\n").encode())
    result = runner.invoke(app, ["ingest", str(path), "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    assert "accepted 1, duplicate 0, rejected 2" in result.output
    assert f"{path}:2" in result.output
    assert f"{path}:3: field 'published'" in result.output
    assert "Traceback" not in result.output


def test_ingest_bad_map_is_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path), "--map", "nonsense", "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output


def test_dedup_json_names_articles(home: Path) -> None:
    result = runner.invoke(app, ["dedup", "--home", str(home), "--format", "json", "--min-outlets", "2"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {row["outlet"] for row in rows} == {"Associated Press", "Times of Israel", "Al-Jazeera"}
    assert all({"id", "outlet", "url", "title", "published", "jaccard_to_source"} <= row.keys() for row in rows)
    source = [row for row in rows if row["is_source"]]
    assert [row["outlet"] for row in source] == ["Associated Press"]


def test_dedup_csv_and_table(home: Path) -> None:
    result = runner.invoke(app, ["dedup", "--home", str(home), "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3
    table = runner.invoke(app, ["dedup", "--home", str(home)])
    assert "Associated Press" in table.stdout


def test_stories_lists_both_demo_stories(home: Path) -> None:
    result = runner.invoke(app, ["stories", "--home", str(home), "--format", "json"])
    assert result.exit_code == 0, result.output
    stories = json.loads(result.stdout)
    assert sorted(len(story["outlets"]) for story in stories) == [3, 6]
    for story in stories:
        assert all({"id", "outlet", "url", "title", "published"} <= a.keys() for a in story["articles"])


def test_report_by_article_id_writes_each_format(home: Path, tmp_path: Path) -> None:
    stories = json.loads(runner.invoke(app, ["stories", "--home", str(home), "--format", "json"]).stdout)
    depot = next(story for story in stories if len(story["outlets"]) == 6)
    article_id = depot["articles"][0]["id"]
    for report_format in ("markdown", "html", "json", "terminal"):
        target = tmp_path / f"report.{report_format}"
        result = runner.invoke(app, ["report", article_id, "--home", str(home), "--format", report_format, "-o", str(target)])
        assert result.exit_code == 0, result.output
        assert "Asharq Al-Awsat" in target.read_text(encoding="utf-8")
    assert json.loads((tmp_path / "report.json").read_text())["story_id"] == depot["story_id"]


def test_report_unknown_story_is_one_line_error(home: Path) -> None:
    result = runner.invoke(app, ["report", "s-nope", "--home", str(home)])
    assert result.exit_code == 2
    assert "neither a story id nor an article id" in result.output


def test_index_build_and_status(home: Path) -> None:
    built = runner.invoke(app, ["index", "build", "--full", "--home", str(home)])  # --full: rebuild even if up to date
    assert built.exit_code == 0, built.output
    assert "9 articles, 1 wire-copy clusters, 2 stories" in built.stdout
    status = runner.invoke(app, ["index", "status", "--home", str(home)])
    assert "up to date" in status.stdout


def test_every_command_has_help_with_an_example() -> None:
    commands = [["ingest"], ["dedup"], ["stories"], ["report"], ["demo"], ["index", "build"], ["index", "status"],
                ["index", "verify"], ["index", "diff"], ["index", "prune"], ["history"], []]
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.stdout, command


def test_report_by_query_and_stories_time_span(home: Path) -> None:
    result = runner.invoke(app, ["report", "--query", "heat wave power outages", "--home", str(home), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "heat" in json.loads(result.stdout)["title"].lower()
    stories = json.loads(runner.invoke(app, ["stories", "--home", str(home), "--format", "json"]).stdout)
    assert all(story["last_published"] >= story["first_published"] for story in stories)
    both = runner.invoke(app, ["report", "s-x", "--query", "heat", "--home", str(home)])
    assert both.exit_code == 2 and "exactly one" in both.output


def test_recrawled_url_is_reported_as_a_new_version(tmp_path: Path) -> None:
    url = "https://www.ynetnews.com/article/demo-heat"
    first = {"outlet": "Ynet News", "url": url, "title": "Heat wave", "text": "Temperatures reached 46 degrees in the Jordan Valley on Saturday."}
    second = {**first, "text": "Temperatures reached 47 degrees in the Jordan Valley on Saturday."}
    home = tmp_path / "home"
    for number, record in enumerate((first, second)):
        path = tmp_path / f"crawl{number}.jsonl"
        path.write_text(json.dumps(record) + "\n", encoding="utf-8")
        result = runner.invoke(app, ["ingest", str(path), "--home", str(home)])
        assert result.exit_code == 0, result.output
    assert "accepted 1, duplicate 0, rejected 0; 1 of the accepted are new versions of stored URLs" in result.output
    history = runner.invoke(app, ["history", url, "--home", str(home)])
    assert history.exit_code == 0, history.output
    assert "47 degrees" in history.output


@pytest.mark.slow
def test_finetune_cross_encoder_writes_reranker_calibration_and_holdout(tmp_path: Path) -> None:
    from conftest import PARAPHRASES

    mrpc = tmp_path / "mrpc.txt"
    rows = [f"{label}\t{100 + n}\t{200 + n}\t{left}\t{right}" for n, (left, right, label) in enumerate(PARAPHRASES * 4)]
    mrpc.write_text("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "\n".join(rows) + "\n", encoding="utf-8")
    output = tmp_path / "reranker"
    result = runner.invoke(app, ["finetune", str(output), "--cross-encoder", "--mrpc", str(mrpc), "--holdout", "0.3"])
    assert result.exit_code == 0, result.output
    assert f"COMPARE_RERANKER={output}" in result.output
    calibration = json.loads((output / "compare-calibration.json").read_text())
    assert calibration["fitted_on"] == "mrpc.txt (calibration part)" and calibration["pairs"] >= 1
    assert calibration["embedding_model"] == "bundled:all-MiniLM-L6-v2"
    from compare.train.finetune import load_mrpc

    held_out = load_mrpc(output / "heldout-mrpc.tsv")
    calibration_pairs = load_mrpc(output / "calibration-mrpc.tsv")
    assert 0 < len(held_out) < 32 and len(calibration_pairs) == calibration["pairs"]
    assert {p.key for p in held_out}.isdisjoint({p.key for p in calibration_pairs})


@pytest.mark.slow
def test_finetune_cross_encoder_calibrates_with_the_claim_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights from the [embed] model, threshold fitted on the claim model's cosines (what reports blend in)."""
    from conftest import PARAPHRASES

    mrpc = tmp_path / "mrpc.txt"
    rows = [f"{label}\t{100 + n}\t{200 + n}\t{left}\t{right}" for n, (left, right, label) in enumerate(PARAPHRASES * 4)]
    mrpc.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setenv("COMPARE_CLAIM_MODEL", "hashing")
    result = runner.invoke(app, ["finetune", str(tmp_path / "reranker"), "--cross-encoder", "--mrpc", str(mrpc), "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    assert "calibrate it with hashing's cosines" in result.output
    calibration = json.loads((tmp_path / "reranker" / "compare-calibration.json").read_text())
    assert calibration["embedding_model"] == "hashing"


def test_finetune_cross_encoder_without_mrpc_is_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["finetune", str(tmp_path / "out"), "--cross-encoder"])
    assert result.exit_code == 2
    assert "needs an MRPC file (--mrpc)" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_report_with_a_configured_reranker(home: Path, tmp_path: Path, tiny_reranker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPARE_RERANKER", str(tiny_reranker))
    stories = json.loads(runner.invoke(app, ["stories", "--home", str(home), "--format", "json"]).stdout)
    story = max(stories, key=lambda s: len(s["outlets"]))
    result = runner.invoke(app, ["report", story["story_id"], "--home", str(home), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["outlets"]) == set(story["outlets"])
    monkeypatch.setenv("COMPARE_RERANKER", str(tmp_path))
    result = runner.invoke(app, ["report", story["story_id"], "--home", str(home), "--format", "json"])
    assert result.exit_code == 2 and f"{tmp_path}: not a cross-encoder folder" in result.output
    monkeypatch.setenv("COMPARE_RERANKER", str(tiny_reranker))
    result = runner.invoke(app, ["report", story["story_id"], "--home", str(home), "--model", "hashing"])
    assert result.exit_code == 2 and "calibrated with embedding model 'bundled:all-MiniLM-L6-v2'" in result.output
    # The reranker is checked against the claim model, which may differ from the [embed] model.
    monkeypatch.setenv("COMPARE_CLAIM_MODEL", "bundled:all-MiniLM-L6-v2")
    result = runner.invoke(app, ["report", story["story_id"], "--home", str(home), "--model", "hashing", "--format", "json"])
    assert result.exit_code == 0, result.output


def test_report_embeds_claims_with_the_claim_model(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stories = json.loads(runner.invoke(app, ["stories", "--home", str(home), "--format", "json"]).stdout)
    story = max(stories, key=lambda s: len(s["outlets"]))["story_id"]
    monkeypatch.setenv("COMPARE_CLAIM_MODEL", str(tmp_path / "no-such-model"))
    result = runner.invoke(app, ["report", story, "--home", str(home), "--model", "hashing"])
    assert result.exit_code == 2 and "no-such-model" in result.output and "Traceback" not in result.output
