"""Benchmark story grouping and the divergence report on BASIL and PAC.

    python benchmarks/stories.py --basil ../shared/datasets/basil --pac ../shared/datasets/pac/dev.json --json stories.json

BASIL: the 180 articles are grouped into stories and compared with the event triplets (adjusted
Rand index), against the baseline of the first version's grouping (connected components of
title+lede similarity). Then each event's report is built and we measure which share of the
annotated informational-bias spans falls in sentences the report flags (unique to one outlet, or
in a divergence), against the share of all sentences flagged (chance): lift = the ratio.
PAC dev: the same for story pairs, and for Partisan / Counter-Partisan event annotations.
A last section times rendering a 10-outlet story report once the claims are embedded.

`--article-backends onnx,onnx-int8 --no-reports` compares article-vector backends on grouping alone
(ARI, pair recovery and CPU seconds to embed the title+ledes, per backend, in the same run).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compare.core.config import StoryConfig, article_backend, load_settings  # noqa: E402
from compare.embed.embedder import Embedder, make_embedder  # noqa: E402
from compare.report.story import StoryReport, report_for_articles  # noqa: E402
from compare.core.schema import ARTICLE_SCHEMA  # noqa: E402
from compare.stories.grouping import group_stories, story_text  # noqa: E402


BASELINE_MIN_SIMILARITY = 0.55


def flagged_claims(report: StoryReport) -> set[tuple[str, int, int]]:
    """(article_id, start, end) of every sentence the report flags: unique to one outlet, or in a divergence.

    What the benchmark compares against annotated bias spans; a reader's "look here" list.
    """
    flagged = {(claim.article_id, claim.start, claim.end) for row in report.unique for claim in row.claims}
    for divergence in report.divergences:
        for side in divergence.sides:
            flagged.update((claim.article_id, claim.start, claim.end) for claim in side.claims)
    return flagged


def all_claims(report: StoryReport) -> set[tuple[str, int, int]]:
    """(article_id, start, end) of every sentence in the report's coverage rows."""
    return {(c.article_id, c.start, c.end) for row in (*report.shared, *report.partial, *report.unique) for c in row.claims}


class DatasetError(ValueError):
    """A dataset file lacks a field the benchmark needs; the message names file and field."""


@dataclass(frozen=True)
class Span:
    """An annotated span: character offsets into the article text as the benchmark builds it."""

    article_id: str
    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Dataset:
    articles: pl.DataFrame  # ARTICLE_SCHEMA
    gold: dict[str, str]  # article id -> gold story (event) id
    spans: list[Span]


# ---------------------------------------------------------------- loading


def _article_rows(records: Sequence[dict]) -> pl.DataFrame:
    rows = [{name: record.get(name) for name in ARTICLE_SCHEMA} for record in records]
    return pl.DataFrame(rows, schema=ARTICLE_SCHEMA)


def _field(record: dict, name: str, path: Path) -> object:
    if name not in record:
        raise DatasetError(f"{path}: missing field '{name}'")
    return record[name]


def load_basil(directory: Path) -> Dataset:
    """BASIL articles (paragraphs of sentences joined into one text) and their informational-bias spans.

    Annotations carry offsets within a sentence but not which sentence, so a span is located by its
    text; the few that are not found verbatim are skipped (counted in the output).
    """
    files = sorted((directory / "articles").glob("*/*.json"))
    if not files:
        raise DatasetError(f"{directory}/articles: no <year>/<event>_<n>.json files")
    records, gold, spans = [], {}, []
    for path in files:
        document = json.loads(path.read_text(encoding="utf-8"))
        paragraphs = _field(document, "body-paragraphs", path)
        if isinstance(paragraphs, str):
            paragraphs = ast.literal_eval(paragraphs)
        text = "\n\n".join(" ".join(sentence.strip() for sentence in paragraph) for paragraph in paragraphs)
        article_id = path.stem
        date = str(_field(document, "date", path))
        records.append(
            {
                "id": article_id, "outlet": str(_field(document, "source", path)).lower(), "url": document.get("url"),
                "title": document.get("title"), "text": text, "language": "en", "source_file": str(path),
                "published": datetime.fromisoformat(date).replace(tzinfo=timezone.utc) if date else None,
            }
        )
        gold[article_id] = str(_field(document, "triplet-uuid", path))
        annotation = directory / "annotations" / path.parent.name / f"{path.stem}_ann.json"
        if annotation.exists():
            for item in json.loads(annotation.read_text(encoding="utf-8")).get("phrase-level-annotations", []):
                if item.get("bias") != "inf":
                    continue
                found = text.find(item.get("txt", "").strip()) if item.get("txt", "").strip() else -1
                spans.append(Span(article_id, found, found + len(item["txt"].strip()) if found >= 0 else -1, "inf"))
    return Dataset(_article_rows(records), gold, spans)


def load_pac(path: Path) -> Dataset:
    """PAC stories ({story: [article, article]}); text is the tokenised sentences joined by spaces.

    The `title` field is a file name that gives the pairing away, so the first sentence (the
    headline in PAC's tokenisation) stands in for the title; PAC has no dates.
    """
    stories = json.loads(path.read_text(encoding="utf-8"))
    records, gold, spans = [], {}, []
    for story_key, documents in stories.items():
        for document in documents:
            sentences = [" ".join(tokens) for tokens in _field(document, "tokens", path)]
            offsets, position = [], 0
            for sentence in sentences:
                offsets.append(position)
                position += len(sentence) + 2
            text = "\n\n".join(sentences)
            article_id = str(_field(document, "id", path))
            records.append(
                {
                    "id": article_id, "outlet": str(_field(document, "source", path)), "title": sentences[0] if sentences else None,
                    "text": "\n\n".join(sentences[1:]) if len(sentences) > 1 else text, "language": "en", "source_file": str(path),
                }
            )
            shift = len(sentences[0]) + 2 if len(sentences) > 1 else 0  # the headline sentence is not in the body
            gold[article_id] = story_key
            for event in document.get("events", []):
                if event.get("remove") or event.get("sentence_id", 0) == 0:
                    continue
                start = offsets[event["sentence_id"]] + event["start"] - shift
                spans.append(Span(article_id, start, offsets[event["sentence_id"]] + event["end"] - shift, event.get("partisanship", "")))
    return Dataset(_article_rows(records), gold, spans)


# ---------------------------------------------------------------- measures


def adjusted_rand_index(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """ARI (scikit-learn): 1.0 for identical partitions, about 0 for chance."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(truth, predicted))


def pair_recovery(gold: dict[str, str], predicted: dict[str, str]) -> float:
    """Share of gold stories whose articles form exactly one predicted story, nothing else in it."""
    members: dict[str, set[str]] = defaultdict(set)
    for article_id, story in predicted.items():
        members[story].add(article_id)
    by_gold: dict[str, set[str]] = defaultdict(set)
    for article_id, story in gold.items():
        by_gold[story].add(article_id)
    exact = sum(1 for articles in by_gold.values() if members[predicted[next(iter(articles))]] == articles)
    return exact / len(by_gold)


def grouping(articles: pl.DataFrame, vectors: np.ndarray, config: StoryConfig, *, baseline: bool) -> dict[str, str]:
    if baseline:  # the first version: components of embedding cosine >= 0.55 (its default)
        config = replace(config, method="components", min_similarity=BASELINE_MIN_SIMILARITY)
    frame = group_stories(articles, vectors, [], config)
    return dict(zip(frame["article_id"].to_list(), frame["story_id"].to_list(), strict=True))


def _rates(hits: Counter, totals: Counter, name: str) -> dict[str, float]:
    rate = hits["sentences"] / max(totals["sentences"], 1)
    span_rate = hits["spans"] / max(totals["spans"], 1)
    return {f"{name}flag_rate": round(rate, 4), f"{name}bias_span_flag_rate": round(span_rate, 4),
            f"{name}lift": round(span_rate / rate, 3) if rate else math.nan}


def flag_lift(dataset: Dataset, settings, embedder: Embedder, labels: set[str]) -> dict[str, float]:  # noqa: ANN001
    """Reports over gold stories: flag rate over sentences, over labelled spans, and their ratio (lift).

    Also split by why a sentence is flagged (unique to one outlet / in a divergence), and, where the
    data has them, the flag rate of the other annotated spans (PAC's Neutral events) as a baseline.
    """
    by_story: dict[str, list[str]] = defaultdict(list)
    for article_id, story in dataset.gold.items():
        by_story[story].append(article_id)
    spans_by_article: dict[str, list[Span]] = defaultdict(list)
    for span in dataset.spans:
        spans_by_article[span.article_id].append(span)
    kinds = ("", "unique_", "divergent_")
    hits: dict[str, Counter] = {kind: Counter() for kind in kinds}
    totals: Counter = Counter()
    missing, other_hits, other_total = 0, 0, 0
    for story, members in sorted(by_story.items()):
        report = report_for_articles(dataset.articles.filter(pl.col("id").is_in(members)), settings, story_id=story, embedder=embedder)
        every = all_claims(report)
        unique = {(c.article_id, c.start, c.end) for row in report.unique for c in row.claims} & every
        flagged = {"": flagged_claims(report) & every, "unique_": unique}
        flagged["divergent_"] = flagged[""] - unique
        totals["sentences"] += len(every)
        for kind in kinds:
            hits[kind]["sentences"] += len(flagged[kind])
        sentences: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for article_id, start, end in every:
            sentences[article_id].append((start, end))
        for article_id in members:
            for span in spans_by_article[article_id]:
                located = _sentence_of(span, sentences)
                if span.label in labels:
                    if located is None:
                        missing += 1
                        continue
                    totals["spans"] += 1
                    for kind in kinds:
                        hits[kind]["spans"] += located in flagged[kind]
                elif located is not None:
                    other_total += 1
                    other_hits += located in flagged[""]
    result: dict[str, float] = {"sentences": totals["sentences"], "spans": totals["spans"], "spans_not_located": missing}
    for kind in kinds:
        result.update(_rates(hits[kind], totals, kind))
    if other_total:
        result["other_span_flag_rate"] = round(other_hits / other_total, 4)
    return result


def _sentence_of(span: Span, sentences: dict[str, list[tuple[int, int]]]) -> tuple[str, int, int] | None:
    """The claim sentence holding the span's first character, or None (span in a dropped fragment)."""
    if span.start < 0:
        return None
    for start, end in sentences.get(span.article_id, []):
        if start <= span.start < end:
            return (span.article_id, start, end)
    return None


def encode_story_texts(articles: pl.DataFrame, embedder: Embedder) -> np.ndarray:
    return embedder.encode([story_text(title, text) for title, text in articles.select("title", "text").iter_rows()])


# ---------------------------------------------------------------- render speed


def render_speed(dataset: Dataset, settings) -> dict[str, float]:  # noqa: ANN001
    """Time one report of a 10-outlet story, built and rendered in all four formats, as `compare report` does.

    The story is ten BASIL articles relabelled as ten outlets (about 240 claims). "cold": a fresh
    process's first report (model load, every claim embedded); "warm": the same story again, its
    claim vectors in the home's embedding cache (what a reader re-opening a story waits).
    """
    import io
    import tempfile

    from rich.console import Console

    from compare.embed.embedder import cached_embedder
    from compare.report.render import render_html, render_json, render_markdown, render_terminal

    ids = dataset.articles["id"].to_list()[:10]
    members = dataset.articles.filter(pl.col("id").is_in(ids)).with_columns(pl.Series("outlet", [f"Outlet {i + 1}" for i in range(len(ids))]))
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="compare-speed-") as home:
        for run in ("cold", "warm"):
            started = time.perf_counter()
            embedder = cached_embedder(settings.claim_embed, Path(home))  # a new process would build a new one
            report = report_for_articles(members, settings, story_id="s-speed", embedder=embedder)
            built = time.perf_counter() - started
            started = time.perf_counter()
            render_html(report), render_markdown(report), render_json(report)
            render_terminal(report, Console(file=io.StringIO(), width=120))
            timings[f"{run}_build_s"] = round(built, 3)
            timings[f"{run}_render_s"] = round(time.perf_counter() - started, 3)
            timings[f"{run}_total_s"] = round(built + timings[f"{run}_render_s"], 3)
    return {"outlets": len(report.outlets), "claims": len(all_claims(report)), **timings}


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--basil", type=Path, required=True, help="BASIL folder (articles/<year>/<event>_<n>.json, annotations/)")
    parser.add_argument("--pac", type=Path, help="PAC split file, e.g. pac/dev.json")
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--limit-events", type=int, default=0, help="build reports for the first N events only (0 = all)")
    parser.add_argument(
        "--article-backends", default="",
        help="article-vector backends to compare, e.g. onnx,onnx-int8 (first = the figures without a suffix; default: the configured one)",
    )
    parser.add_argument("--no-reports", action="store_true", help="grouping only: skip the report flags and render timing")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    settings = load_settings(Path("/nonexistent-compare-home"), environ={})
    embedder = make_embedder(settings.claim_embed)  # reports embed claims (fp32 by default)
    backends = [name.strip() for name in args.article_backends.split(",") if name.strip()] or [article_backend(settings.embed)]
    article_embedders = {backend: make_embedder(replace(settings.article_embed, backend=backend)) for backend in backends}
    results: dict[str, dict[str, float]] = {}
    try:
        datasets = {"basil": load_basil(args.basil)}
        if args.pac:
            datasets["pac"] = load_pac(args.pac)
    except (DatasetError, OSError, json.JSONDecodeError) as error:
        console.print(f"[red]error:[/] {error}")
        return 2
    for name, dataset in datasets.items():
        started = time.perf_counter()
        ids = dataset.articles["id"].to_list()
        truth = [dataset.gold[i] for i in ids]
        figures: dict[str, float] = {"articles": len(ids)}
        for number, (backend, article_embedder) in enumerate(article_embedders.items()):
            article_embedder.encode(["warm up"])  # the model load is not the per-article cost
            cpu_started = time.process_time()
            vectors = encode_story_texts(dataset.articles, article_embedder)
            cpu = time.process_time() - cpu_started
            suffix = "" if number == 0 else f"_{backend}"
            if number == 0:
                base = grouping(dataset.articles, vectors, settings.stories, baseline=True)
                figures["ari_baseline"] = round(adjusted_rand_index(truth, [base[i] for i in ids]), 4)
                figures["pair_recovery_baseline"] = round(pair_recovery(dataset.gold, base), 4)
            ours = grouping(dataset.articles, vectors, settings.stories, baseline=False)
            figures[f"ari{suffix}"] = round(adjusted_rand_index(truth, [ours[i] for i in ids]), 4)
            figures[f"pair_recovery{suffix}"] = round(pair_recovery(dataset.gold, ours), 4)
            # CPU seconds of this process (all threads) to embed the articles' title+ledes
            figures[f"article_cpu_s_{backend}"] = round(cpu, 2)
        if args.no_reports:
            figures["seconds"] = round(time.perf_counter() - started, 1)
            results[name] = figures
            continue
        gold_subset = dataset
        if args.limit_events:
            keep = set(sorted(set(dataset.gold.values()))[: args.limit_events])
            gold_subset = replace(dataset, gold={a: s for a, s in dataset.gold.items() if s in keep})
        labels = {"inf"} if name == "basil" else {"Partisan", "Counter-Partisan"}
        figures.update(flag_lift(gold_subset, settings, embedder, labels))
        figures["seconds"] = round(time.perf_counter() - started, 1)
        results[name] = figures
    if not args.no_reports:
        results["render"] = render_speed(datasets["basil"], settings)

    table = Table(title="Story grouping and report flags (baseline: first-version components)")
    table.add_column("measure")
    for name in results:
        table.add_column(name, justify="right")
    measures = list(dict.fromkeys(key for figures in results.values() for key in figures))
    for measure in measures:
        table.add_row(measure, *(str(results[name].get(measure, "")) for name in results))
    Console().print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
