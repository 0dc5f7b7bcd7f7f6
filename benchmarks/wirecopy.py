"""Benchmark wire-copy detection: signature speed, recall against exact all-pairs Jaccard, wire edits.

    python benchmarks/wirecopy.py --corpus ../shared/datasets/allsides_baly2020/articles_sample.jsonl.gz \
        --map outlet=source --map text=content_original --map published=date --json wirecopy.json

--corpus takes any file `compare ingest` takes, with the same --map options. Three measures:
- speed: raw text to datasketch signature, ours (compare.dedup.clusters.text_signatures) against the plain
  datasketch way (word 5-gram strings built in Python, MinHash.update_batch with its default sha1),
  same shingle size and permutations, same documents, one run (both timed alternately on five
  chunks of the documents; numba's one-off compile/cache load is excluded by a warm-up on ten texts).
- recall: exact Jaccard of all pairs (polars prefix-filter join, exact for J >= 0.5: no O(n^2)
  loop) on the shingle sets the pipeline uses; recall of pairs with J >= 0.8 and J >= 0.5 among
  the pairs compare.dedup.clusters reports as copies (whole-corpus mode, no time window); precision: the
  share of reported copies that the exact shingle sets confirm by the copy rules (Jaccard >= 0.5,
  containment >= 0.6, or half of one article's words under shingles of the other), recomputed here
  with plain set operations independently of the pipeline's span code.
- wire_edit: articles generated from the corpus by benchmarks/wire_edits.py (cut, local
  paragraphs, new lede, 5% words changed, paragraph moved, two wires merged); adjusted Rand index
  of the clusters (stitched two-wire articles left out: they belong to two clusters), and
  word-level span F1 of "this word of article D comes from wire W" over every (D, W).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
from datasketch import LeanMinHash, MinHash
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from wire_edits import GeneratedArticle, SourceArticle, eligible, generate  # noqa: E402

from compare.core.config import MinHashConfig  # noqa: E402
from compare.dedup.clusters import clusters_from_pairs, find_reuse, lean_minhashes, shingle_texts, signature_matrix, template_keep  # noqa: E402
from compare.ingest import parse_field_map, read_paths  # noqa: E402
from compare.core.schema import ARTICLE_SCHEMA  # noqa: E402

_TOKEN = re.compile(r"\w+")


# ---------------------------------------------------------------- speed


def text_signatures(texts: Sequence[str], config: MinHashConfig) -> list[LeanMinHash]:
    """Raw texts to datasketch signatures: the fast path this benchmark times."""
    shingled = shingle_texts(texts, config.shingle_size)
    matrix = signature_matrix(shingled.hashes, shingled.doc_shingles[:-1], shingled.doc_shingles[1:], config.num_perm, config.seed)
    return lean_minhashes(matrix, config.seed)


def datasketch_signature(text: str, config: MinHashConfig) -> MinHash:
    """The plain way: shingle strings in Python, then update_batch with datasketch's default hash."""
    tokens = _TOKEN.findall(text.lower())
    grams = {" ".join(tokens[i : i + config.shingle_size]) for i in range(max(1, len(tokens) - config.shingle_size + 1))}
    minhash = MinHash(num_perm=config.num_perm, seed=config.seed)
    minhash.update_batch([gram.encode("utf-8") for gram in grams])
    return minhash


def measure_speed(texts: Sequence[str], config: MinHashConfig, chunks: int = 5) -> dict[str, float]:
    """Docs per second of both ways, timed alternately on the same chunks of documents, so that a
    load change on a shared machine hits both alike."""
    text_signatures(texts[:10], config)  # numba loads its compiled cache once per process
    ours = baseline = 0.0
    size = max(1, -(-len(texts) // chunks))
    for start in range(0, len(texts), size):
        part = texts[start : start + size]
        started = time.perf_counter()
        text_signatures(part, config)
        ours += time.perf_counter() - started
        started = time.perf_counter()
        for text in part:
            datasketch_signature(text, config)
        baseline += time.perf_counter() - started
    return {
        "ours_docs_per_s": round(len(texts) / ours, 1),
        "datasketch_docs_per_s": round(len(texts) / baseline, 1),
        "ratio": round(baseline / ours, 2),
    }


# ---------------------------------------------------------------- exact all pairs


def shingle_frame(texts: Sequence[str], outlets: Sequence[str], config: MinHashConfig) -> pl.DataFrame:
    """(doc, sh) unique rows: the template-masked shingle sets compare.dedup.clusters verifies on."""
    shingled = shingle_texts(texts, config.shingle_size)
    keep = template_keep(shingled, outlets, config.template_min_articles)
    docs = np.repeat(np.arange(len(texts), dtype=np.uint32), np.diff(shingled.doc_shingles))
    return pl.DataFrame({"doc": docs[keep], "sh": shingled.hashes[keep]}).unique()


def pair_overlaps(frame: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Exact shared-shingle counts and set sizes of the given (doc, doc_o) pairs, by joins."""
    sizes = frame.group_by("doc").agg(pl.len().alias("size"))
    shared = (
        pairs.join(frame, on="doc").join(frame.rename({"doc": "doc_o"}), on=["doc_o", "sh"])
        .group_by("doc", "doc_o").agg(pl.len().alias("shared"))
    )
    return (
        pairs.join(shared, on=["doc", "doc_o"], how="left").with_columns(pl.col("shared").fill_null(0))
        .join(sizes, on="doc").join(sizes.rename({"doc": "doc_o", "size": "size_o"}), on="doc_o")
        .with_columns((pl.col("shared") / (pl.col("size") + pl.col("size_o") - pl.col("shared"))).alias("jaccard"))
    )


def exact_pairs(frame: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Every pair (doc < doc_o) with exact Jaccard >= threshold.

    Prefix filtering: order each set by shingle rarity; two sets with Jaccard >= t share a shingle
    within the first |x| - ceil(t|x|) + 1 of each, so joining the prefixes finds every such pair.
    """
    sizes = frame.group_by("doc").agg(pl.len().alias("size"))
    rarity = frame.group_by("sh").agg(pl.len().alias("df"))
    ranked = (
        frame.join(rarity, on="sh").join(sizes, on="doc").sort(["doc", "df", "sh"])
        .with_columns(pl.int_range(pl.len()).over("doc").alias("position"))
    )
    prefix = ranked.filter(
        (pl.col("position") < pl.col("size") - (pl.col("size") * threshold).ceil() + 1) & (pl.col("df") > 1)
    ).select("doc", "sh", "size")
    candidates = (
        prefix.join(prefix, on="sh", suffix="_o")
        .filter(
            (pl.col("doc") < pl.col("doc_o"))
            & (pl.col("size_o") >= threshold * pl.col("size")) & (pl.col("size") >= threshold * pl.col("size_o"))
        )
        .select("doc", "doc_o").unique()
    )
    return pair_overlaps(frame, candidates).filter(pl.col("jaccard") >= threshold)


def exact_coverage(sequence: np.ndarray, keep: np.ndarray, other: np.ndarray, words: int, size: int) -> float:
    """Share of an article's words under its shingles found in `other` (set membership, gaps of up to
    `size` words bridged as edited words): the coverage rule recomputed independently of compare.dedup.evidence."""
    if words == 0:
        return 0.0
    present = np.flatnonzero(np.isin(sequence, other) & keep)
    covered = np.zeros(words + 1, dtype=np.int64)
    np.add.at(covered, present, 1)
    np.add.at(covered, np.minimum(present + size, words), -1)
    mask = np.cumsum(covered)[:words] > 0
    runs = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    starts, ends = runs[0::2], runs[1::2]
    for end, start in zip(ends[:-1], starts[1:], strict=True):
        if start - end <= size:
            mask[end:start] = True
    return float(mask.mean())


def measure_recall(articles: pl.DataFrame, config: MinHashConfig) -> tuple[dict[str, float], dict[str, int]]:
    texts, outlets = articles["text"].to_list(), articles["outlet"].to_list()
    whole = MinHashConfig(**{**config.__dict__, "window_days": 0.0})
    shingled = shingle_texts(texts, whole.shingle_size)
    keep = template_keep(shingled, outlets, whole.template_min_articles)
    docs = np.repeat(np.arange(len(texts), dtype=np.uint32), np.diff(shingled.doc_shingles))
    frame = pl.DataFrame({"doc": docs[keep], "sh": shingled.hashes[keep]}).unique()
    truth = exact_pairs(frame, 0.5)
    ids = [str(i) for i in range(len(texts))]
    found = [p for p in find_reuse(ids, texts, outlets, whole, articles["published"].to_list()) if p.kind == "copy"]
    reported = {(int(p.left), int(p.right)) for p in found}
    at80 = {(i, j) for i, j, jac in truth.select("doc", "doc_o", "jaccard").iter_rows() if jac >= 0.8}
    at50 = set(truth.select("doc", "doc_o").iter_rows())
    check = pair_overlaps(frame, pl.DataFrame(sorted(reported), schema={"doc": pl.UInt32, "doc_o": pl.UInt32}, orient="row"))
    confirmed = 0
    for i, j, shared, size_i, size_j, score in check.select("doc", "doc_o", "shared", "size", "size_o", "jaccard").iter_rows():
        contained = shared / min(size_i, size_j)
        if score >= whole.min_jaccard or (contained >= whole.min_containment and shared >= whole.min_shared_shingles):
            confirmed += 1
            continue
        rows_i = slice(shingled.doc_shingles[i], shingled.doc_shingles[i + 1])
        rows_j = slice(shingled.doc_shingles[j], shingled.doc_shingles[j + 1])
        coverage = max(
            exact_coverage(shingled.hashes[rows_i], keep[rows_i], shingled.hashes[rows_j][keep[rows_j]], shingled.word_count(i), whole.shingle_size),
            exact_coverage(shingled.hashes[rows_j], keep[rows_j], shingled.hashes[rows_i][keep[rows_i]], shingled.word_count(j), whole.shingle_size),
        )
        confirmed += coverage >= whole.min_coverage and shared >= whole.min_shared_shingles
    scores = {
        "at_j80": round(len(at80 & reported) / len(at80), 4) if at80 else 1.0,
        "at_j50": round(len(at50 & reported) / len(at50), 4) if at50 else 1.0,
        "precision": round(confirmed / len(reported), 4) if reported else 1.0,
    }
    counts = {"pairs_j80": len(at80), "pairs_j50": len(at50), "reported": len(reported)}
    return scores, counts


# ---------------------------------------------------------------- wire edits


def adjusted_rand_index(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """ARI (scikit-learn): 1.0 for identical partitions, about 0 for chance."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(truth, predicted))


def choose_sources(articles: pl.DataFrame, wires: int, seed: int, config: MinHashConfig) -> tuple[list[SourceArticle], list[SourceArticle]]:
    """Wires and local-paragraph sources: eligible articles in seeded order, none sharing 10+ shingles
    with another chosen one (so real reprints in the corpus do not blur the ground truth)."""
    pool = [
        SourceArticle(row["id"], row["text"], row["published"])
        for row in articles.select("id", "text", "published").iter_rows(named=True)
    ]
    pool = [article for article in pool if eligible(article)]
    random.Random(seed).shuffle(pool)
    pool = pool[: 3 * wires]
    shingled = shingle_texts([a.text for a in pool], config.shingle_size)
    docs = np.repeat(np.arange(len(pool), dtype=np.uint32), np.diff(shingled.doc_shingles))
    frame = pl.DataFrame({"doc": docs, "sh": shingled.hashes}).unique()
    common = frame.join(frame.group_by("sh").len().filter(pl.col("len") > 1), on="sh", how="semi")
    clashes = (
        common.join(common, on="sh", suffix="_o").filter(pl.col("doc") != pl.col("doc_o"))
        .group_by("doc", "doc_o").len().filter(pl.col("len") >= 10)
    )
    conflicts: dict[int, set[int]] = {}
    for a, b, _ in clashes.iter_rows():
        conflicts.setdefault(a, set()).add(b)
    chosen: list[int] = []
    for index in range(len(pool)):
        if not conflicts.get(index, set()) & set(chosen):
            chosen.append(index)
    if len(chosen) < wires + 10:
        raise SystemExit(f"only {len(chosen)} usable articles (6+ paragraphs, 250+ words, no shared text); lower --wires")
    picked = [pool[i] for i in chosen]
    return picked[:wires], picked[wires : 2 * wires]


def measure_wire_edits(articles: pl.DataFrame, config: MinHashConfig, wires: int, seed: int) -> tuple[dict[str, float], dict[str, int]]:
    wire_sources, local_sources = choose_sources(articles, wires, seed, config)
    generated = generate(wire_sources, local_sources, seed=seed)
    frame = pl.DataFrame(
        [{"id": g.id, "outlet": g.outlet, "title": g.title, "text": g.text, "published": g.published} for g in generated],
        schema={k: ARTICLE_SCHEMA[k] for k in ("id", "outlet", "title", "text", "published")},
    )
    ids, texts = frame["id"].to_list(), frame["text"].to_list()
    pairs = find_reuse(ids, texts, frame["outlet"].to_list(), config, frame["published"].to_list())
    clusters = clusters_from_pairs(frame, pairs, config)
    assigned = dict(zip(clusters["article_id"].to_list(), clusters["cluster_id"].to_list(), strict=True))
    labelled = [g for g in generated if g.cluster is not None]
    ari = adjusted_rand_index([g.cluster for g in labelled], [assigned.get(g.id, g.id) for g in labelled])
    return {"ari": round(ari, 4), "span_f1": round(span_f1(generated, pairs, config), 4)}, {
        "wires": len(wire_sources), "articles": len(generated), "pairs": len(pairs),
    }


def span_f1(generated: Sequence[GeneratedArticle], pairs: Sequence, config: MinHashConfig) -> float:
    """Word-level F1 of (article, word, wire) triples: truth from the generator, prediction from the spans
    each reported pair shares with a wire article."""
    wire_ids = {g.id for g in generated if g.cluster == g.id}
    position = {g.id: i for i, g in enumerate(generated)}
    shingled = shingle_texts([g.text for g in generated], config.shingle_size)
    predicted: dict[tuple[str, str], set[int]] = {}
    for pair in pairs:
        for article, other, side in ((pair.left, pair.right, "left"), (pair.right, pair.left, "right")):
            if other in wire_ids and article not in wire_ids:
                words = predicted.setdefault((article, other), set())
                for span in pair.spans:
                    start, end = span.left_words if side == "left" else span.right_words
                    words.update(range(start, end))
    tp = fp = fn = 0
    for g in generated:
        if g.id in wire_ids:
            continue
        starts, _ = shingled.words(position[g.id])
        truth: dict[str, set[int]] = {}
        for index, start in enumerate(starts.tolist()):
            source = next((s.source for s in g.segments if s.start <= start < s.end), None)
            if source is not None:
                truth.setdefault(source, set()).add(index)
        for wire in set(truth) | {w for (a, w) in predicted if a == g.id}:
            actual, guessed = truth.get(wire, set()), predicted.get((g.id, wire), set())
            tp += len(actual & guessed)
            fp += len(guessed - actual)
            fn += len(actual - guessed)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", required=True, help="file(s) or folder(s) `compare ingest` reads")
    parser.add_argument("--map", action="append", default=[], help="field=column, as for `compare ingest`; repeatable")
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--limit", type=int, default=None, help="read only this many records (quick runs; default all)")
    parser.add_argument("--speed-docs", type=int, default=None, help="time signatures on this many documents (default all)")
    parser.add_argument("--wires", type=int, default=300, help="wire stories for the wire-edit benchmark (default 300)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    try:
        mapping = parse_field_map(args.map)
    except ValueError as error:
        parser.error(str(error))
    for path in args.corpus:
        if not path.exists():
            parser.error(f"{path}: no such file or folder")
    console = Console(stderr=True)
    batch = read_paths(args.corpus, mapping, limit=args.limit)
    articles = batch.articles
    if articles.height < 2:
        parser.error(f"{', '.join(map(str, args.corpus))}: fewer than 2 readable articles ({len(batch.rejects)} rejected); check --map")
    config = MinHashConfig()
    texts = articles["text"].to_list()[: args.speed_docs]
    console.print(f"{articles.height} articles; timing signatures on {len(texts)}")
    speed = measure_speed(texts, config)
    console.print("exact all-pairs Jaccard and pipeline recall")
    recall, recall_counts = measure_recall(articles, config)
    console.print("wire-edit benchmark")
    wire_edit, wire_counts = measure_wire_edits(articles, config, args.wires, args.seed)
    result = {"speed": speed, "recall": recall, "wire_edit": wire_edit}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    table = Table(title=f"wire copy on {', '.join(p.name for p in args.corpus)} ({articles.height} articles)")
    for column in ("measure", "value", "target", "notes"):
        table.add_column(column)
    notes = {
        "ratio": f"{len(texts)} docs, {config.num_perm} perms, {config.shingle_size}-word shingles",
        "at_j80": f"{recall_counts['pairs_j80']} exact pairs",
        "at_j50": f"{recall_counts['pairs_j50']} exact pairs",
        "precision": f"{recall_counts['reported']} reported copies",
        "ari": f"{wire_counts['articles']} generated articles from {wire_counts['wires']} wires",
    }
    targets = {"ratio": ">= 10", "at_j80": ">= 0.99", "at_j50": ">= 0.95", "precision": ">= 0.99", "ari": ">= 0.95", "span_f1": ">= 0.95"}
    for section, values in result.items():
        for key, value in values.items():
            table.add_row(f"{section}.{key}", f"{value:g}" if not math.isnan(value) else "nan", targets.get(key, ""), notes.get(key, ""))
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
