"""benchmarks/scale.py: the synthetic corpus generator, publication order, the exponent fit, and one
tiny end-to-end run (hash embedder, no facts) that writes the contract's JSON keys."""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from scale import ParagraphPool, exponent, main, neighbour_search, publication_order, synthetic_frame  # noqa: E402

from compare.core.schema import ARTICLE_SCHEMA, conform  # noqa: E402

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
_VOCABULARY = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu") for b in ("b", "d", "g", "k", "m", "n", "p", "r", "s", "t")]


def real_articles(count: int = 30, *, undated_every: int = 5) -> pl.DataFrame:
    rng = random.Random(7)
    rows = []
    for index in range(count):
        paragraphs = [" ".join(rng.choice(_VOCABULARY) for _ in range(rng.randint(12, 30))).capitalize() + "." for _ in range(rng.randint(3, 6))]
        rows.append({
            "id": f"a{index}", "outlet": f"outlet{index % 4}", "url": f"https://example.org/{index}", "title": f"Headline {index}",
            "published": None if index % undated_every == 0 else T0 + timedelta(days=index / 2), "language": "en", "byline": None,
            "text": "\n\n".join(paragraphs), "wire_credit": None, "source_file": "fixture", "ingested_at": T0,
        })
    return conform(pl.DataFrame(rows, schema=ARTICLE_SCHEMA), ARTICLE_SCHEMA)


def test_synthetic_articles_depend_on_their_index_only() -> None:
    pool = ParagraphPool.from_articles(real_articles(), per_day=10.0)
    whole = synthetic_frame(pool, 0, 40, seed=3, copy_share=0.2)
    pieces = pl.concat([synthetic_frame(pool, 0, 17, seed=3, copy_share=0.2), synthetic_frame(pool, 17, 40, seed=3, copy_share=0.2)])
    assert whole.equals(pieces)
    assert not whole.equals(synthetic_frame(pool, 0, 40, seed=4, copy_share=0.2))
    assert whole["id"].n_unique() == 40 and whole["url"].n_unique() == 40


def test_synthetic_text_is_reworded_real_paragraphs_and_planted_copies_repeat_an_older_article() -> None:
    real = real_articles()
    pool = ParagraphPool.from_articles(real, per_day=10.0)
    frame = synthetic_frame(pool, 0, 200, seed=1, copy_share=0.3)
    vocabulary = {word for paragraph in pool.paragraphs for word in paragraph.split()}
    known = {len(paragraph.split()) for paragraph in pool.paragraphs}
    copies = 0
    for row, text in enumerate(frame["text"].to_list()):
        paragraphs = text.split("\n\n")
        if paragraphs[0].startswith(f"(Wire {row}) - "):
            copies += 1
            body = [paragraphs[0].removeprefix(f"(Wire {row}) - "), *paragraphs[1:]]
            older = frame["text"].head(row).to_list()
            assert any(all(p in source for p in body) for source in older)  # a copy of an earlier article
        else:  # real paragraph lengths, real words, about a third of them swapped
            assert {len(paragraph.split()) for paragraph in paragraphs} <= known
            assert {word for paragraph in paragraphs for word in paragraph.split()} <= vocabulary
            assert not set(paragraphs) <= set(pool.paragraphs)
    assert 30 <= copies <= 90  # about 30% of 200
    dated = frame.filter(pl.col("published").is_not_null() & ~pl.col("text").str.starts_with("(Wire "))["published"]
    assert (dated.diff().drop_nulls().dt.total_seconds() > -86400).all()  # 10 a day, jitter under a day


def test_publication_order_sorts_and_spreads_the_undated() -> None:
    real = real_articles(50)
    ordered = publication_order(real, seed=0)
    assert sorted(ordered["id"].to_list()) == sorted(real["id"].to_list())
    dated = ordered["published"].drop_nulls()
    assert dated.is_sorted()
    positions = [row for row, value in enumerate(ordered["published"].to_list()) if value is None]
    assert len(positions) == 10 and positions[-1] - positions[0] > 20  # spread, not all first or last


def test_exponent_of_linear_and_quadratic_growth() -> None:
    assert exponent([1000, 2000, 4000], [1.0, 2.0, 4.0]) == pytest.approx(1.0)
    assert exponent([1000, 2000, 4000], [1.0, 4.0, 16.0]) == pytest.approx(2.0)
    assert exponent([1000], [1.0]) is None


def test_scale_run_writes_the_contract_keys(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    real = real_articles(40)
    corpus.write_text("\n".join(json.dumps({"source": o, "title": t, "date": p.isoformat() if p else None, "body": x})
                                for o, t, p, x in real.select("outlet", "title", "published", "text").iter_rows()), encoding="utf-8")
    out = tmp_path / "scale.json"
    code = main(["--corpus", str(corpus), "--map", "outlet=source", "--map", "text=body", "--map", "published=date",
                 "--sizes", "30,60", "--synthetic", "60", "--embedder", "hash", "--no-facts", "--embed-sample", "0", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["sizes"] == [30, 60]
    assert set(result["seconds"]) >= {"claims", "dedup", "embed", "stories", "total"}
    assert set(result["seconds"]["stories"]) == {"30", "60"}
    assert set(result["peak_rss_mb"]) == {"30", "60"} and all(value > 0 for value in result["peak_rss_mb"].values())
    assert set(result["exponent"]) == set(result["seconds"])
    assert set(result["cpu_seconds"]) >= {"claims", "dedup", "embed", "stories", "total"} and set(result["cpu_exponent"]) == set(result["cpu_seconds"])
    assert "sentences_per_second" in result["embed"]
    # the stories stage's own steps, each with CPU seconds at both sizes and an exponent
    story_steps = {step for step in result["step_cpu_seconds"] if step.startswith("stories.")}
    assert {"stories.tfidf", "stories.neighbours", "stories.candidate_scores", "stories.blocks", "stories.clustering", "stories.components"} <= story_steps
    assert all(set(result["step_cpu_seconds"][step]) == {"30", "60"} for step in story_steps)
    assert {"dedup.signing", "dedup.candidates_passages", "dedup.verification", "dedup.evidence"} <= set(result["step_cpu_seconds"])
    assert set(result["step_cpu_exponent"]) == set(result["step_cpu_seconds"])
    assert [result["builds"][size]["articles"] for size in ("30", "60")] == [30, 60]
    assert result["builds"]["60"]["model"] == "bundled:all-MiniLM-L6-v2+hash"


def test_neighbour_search_timing_reports_each_variant() -> None:
    timed = neighbour_search([300, 600], per_day=10.0, undated_share=0.1, seed=0, global_max=300)
    windows = {"window, dated", "window, 10% undated", "window, 10% undated with crawl dates"}
    assert set(timed["300"]) == windows | {"all against all (before)", "recall"}
    assert timed["300"]["recall"] == 1.0  # 300 rows: exact
    assert set(timed["600"]) == windows
    assert all(value >= 0 for row in timed.values() for value in row.values())
