"""Claims benchmark: paraphrase alignment (MRPC), graded similarity (STS news), document similarity
(SemEval-2022 Task 8, English pairs), embedding throughput per backend, and FAISS ANN recall.

    python benchmarks/claims.py --mrpc ../shared/datasets/mrpc/msr_paraphrase_train.txt \\
        --sts ../shared/datasets/stsbenchmark/sts-dev-news.csv \\
        --semeval ../shared/datasets/semeval2022_task8/training_set.csv --json claims.json

Claims (MRPC, STS, throughput, ANN) are embedded with the claim model (--claim-model, default the
configured `align.claim_model`, else --model); SemEval documents with --model (default the configured
`embed.model`), as reports and story grouping use them. With a reranker (--reranker, default the
configured `align.reranker`, e.g. COMPARE_RERANKER), the headline MRPC figures are the cross-encoder's
decisions at the threshold stored with the model (fitted by `compare finetune --cross-encoder` on
training pairs it did not train on), mining mode with FAISS proposing and the cross-encoder deciding;
the bi-encoder cosine figures are reported beside them as the baseline. The headline STS figure is
always the claim model's cosine, the `similarity` reports carry for an aligned pair (the reranker
decides which pairs align; its score's Spearman is under "reranker").

Thresholds are never fitted on the rows being scored: they come with the reranker, or with
--mrpc-train from that file, otherwise the --mrpc file is split deterministically by a hash of the
pair ids (40% fit, 60% scored; the output says which). STS and SemEval need no threshold (rank and
linear correlations). Every figure is measured in this run against its baseline (plain cosine, torch fp32).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docsim import DocSimConfig, document_similarity, embed_documents  # noqa: E402

from compare.align.alignment import accept, build_index, candidate_pairs, reranked_pairs  # noqa: E402
from compare.core.config import AlignConfig, ConfigError, EmbedConfig, load_settings  # noqa: E402
from compare.embed.embedder import CachedEmbedder, EmbeddingCache, make_embedder  # noqa: E402
from compare.train.finetune import FIT_SHARE, DataError, LabelledPair, best_f1_threshold, load_mrpc, load_sts, split_fit_score  # noqa: E402
from compare.embed.rerank import CrossEncoderScorer, RerankerError, blend  # noqa: E402


def load_semeval(path: Path) -> tuple[list[LabelledPair], int]:
    """English-English original pairs (pair_id 'digits_digits', no language suffix) and the row count.

    `label` is the similarity with the sign flipped: 5 - Overall, so 4 = very similar, 1 = dissimilar.
    """
    try:
        frame = pl.read_csv(path, infer_schema_length=0)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise DataError(f"{path}: not a readable CSV ({str(error).splitlines()[0]})") from error
    for column in ("pair_id", "lang1", "lang2", "text1", "text2", "Overall"):
        if column not in frame.columns:
            raise DataError(f"{path}: missing column '{column}'")
    english = frame.filter(
        pl.col("pair_id").str.contains(r"^\d+_\d+$") & (pl.col("lang1") == "en") & (pl.col("lang2") == "en")
    )
    pairs = []
    for pair_id, text1, text2, overall in english.select("pair_id", "text1", "text2", "Overall").iter_rows():
        try:
            pairs.append(LabelledPair(pair_id, pair_id + "a", pair_id + "b", text1 or "", text2 or "", 5.0 - float(overall)))
        except (TypeError, ValueError) as error:
            raise DataError(f"{path}: pair {pair_id}: field 'Overall' is not a number") from error
    return pairs, frame.height


# ---------------------------------------------------------------- metrics


def prf(predicted: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    true_positive = float(np.sum(predicted & gold))
    precision = true_positive / max(1.0, float(np.sum(predicted)))
    recall = true_positive / max(1.0, float(np.sum(gold)))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def fit_threshold(scores: np.ndarray, gold: np.ndarray) -> float:
    """The cut that maximises F1 of `scores >= cut` on the fit rows (midpoint between distinct scores)."""
    return best_f1_threshold(scores, gold)[0]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    return round(float(spearmanr(x, y).statistic), 4)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    return round(float(np.corrcoef(np.asarray(x, float), np.asarray(y, float))[0, 1]), 4)


# ---------------------------------------------------------------- MRPC


def pair_cosines(embedder: CachedEmbedder, pairs: Sequence[LabelledPair]) -> np.ndarray:
    left = embedder.encode([p.left for p in pairs])
    right = embedder.encode([p.right for p in pairs])
    return np.sum(left * right, axis=1)


def mining_claims(embedder: CachedEmbedder, pairs: Sequence[LabelledPair]) -> tuple[pl.DataFrame, np.ndarray, set[tuple[str, str]]]:
    """All side-1 sentences and all side-2 sentences as two outlets' claims, their vectors, and
    gold = the label-1 pairs."""
    side1 = {p.left_id: p.left for p in pairs}
    side2 = {p.right_id: p.right for p in pairs}
    claims = pl.DataFrame(
        {
            "claim_id": [f"1:{i}" for i in side1] + [f"2:{i}" for i in side2],
            "outlet": ["side1"] * len(side1) + ["side2"] * len(side2),
            "text": list(side1.values()) + list(side2.values()),
        }
    )
    gold = {(f"1:{p.left_id}", f"2:{p.right_id}") for p in pairs if p.label == 1}
    return claims, embedder.encode(claims["text"].to_list()), gold


def mining_candidates(embedder: CachedEmbedder, pairs: Sequence[LabelledPair], config: AlignConfig) -> tuple[pl.DataFrame, set[tuple[str, str]]]:
    """All side-1 sentences against all side-2 sentences, as two outlets' claims; gold = label-1 pairs."""
    claims, vectors, gold = mining_claims(embedder, pairs)
    return candidate_pairs(claims, vectors, config), gold


def mining_prf(candidates: pl.DataFrame, gold: set[tuple[str, str]], config: AlignConfig, threshold: float | None = None) -> dict[str, float]:
    accepted = accept(candidates, config, threshold=threshold)
    found = {tuple(sorted(pair)) for pair in accepted.select("left_claim_id", "right_claim_id").iter_rows()}
    gold_sorted = {tuple(sorted(pair)) for pair in gold}
    hits = len(found & gold_sorted)
    precision = hits / max(1, len(found))
    recall = hits / max(1, len(gold_sorted))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def fit_mining(candidates: pl.DataFrame, gold: set[tuple[str, str]], config: AlignConfig) -> AlignConfig:
    """Grid search of the floor (and the margin for criterion 'margin') for F1 on the fit part."""
    floors = np.round(np.arange(0.30, 0.96, 0.02), 2)
    margins = np.round(np.arange(0.90, 2.00, 0.02), 2) if config.criterion == "margin" else [config.min_margin]
    best, best_f1 = config, -1.0
    for floor in floors:
        for margin in margins:
            trial = replace(config, min_similarity=float(floor), min_margin=float(margin))
            f1 = mining_prf(candidates, gold, trial)["f1"]
            if f1 > best_f1:
                best, best_f1 = trial, f1
    return best


MINING_VARIANTS: dict[str, AlignConfig] = {
    "cosine threshold (best match, not mutual)": AlignConfig(criterion="cosine", mutual=False),
    "mutual NN + cosine floor": AlignConfig(criterion="cosine", mutual=True),
    "mutual NN + ratio margin + floor": AlignConfig(criterion="margin", mutual=True),
}
MARGIN_KS = (2, 4, 8)  # neighbourhood sizes tried for the margin, chosen on the fit part


def run_mrpc(embedder: CachedEmbedder, fit: list[LabelledPair], score: list[LabelledPair]) -> dict:
    fit_cos, score_cos = pair_cosines(embedder, fit), pair_cosines(embedder, score)
    fit_gold = np.array([p.label == 1 for p in fit])
    score_gold = np.array([p.label == 1 for p in score])
    threshold = fit_threshold(fit_cos, fit_gold)
    result = {**prf(score_cos >= threshold, score_gold), "threshold": round(threshold, 4)}
    mining = {}
    for name, variant in MINING_VARIANTS.items():
        best_f1, fitted = -1.0, variant
        for k in MARGIN_KS if variant.criterion == "margin" else (variant.margin_k,):
            fit_candidates, fit_pairs_gold = mining_candidates(embedder, fit, replace(variant, margin_k=k))
            trial = fit_mining(fit_candidates, fit_pairs_gold, replace(variant, margin_k=k))
            f1 = mining_prf(fit_candidates, fit_pairs_gold, trial)["f1"]
            if f1 > best_f1:
                best_f1, fitted = f1, trial
        score_candidates, score_pairs_gold = mining_candidates(embedder, score, fitted)
        mining[name] = {
            **mining_prf(score_candidates, score_pairs_gold, fitted),
            "min_similarity": fitted.min_similarity,
            **({"min_margin": fitted.min_margin, "margin_k": fitted.margin_k} if variant.criterion == "margin" else {}),
        }
    # The shipped margin thresholds, unfitted, for reference. The default criterion is "learned" (a
    # same-fact head over a story's claims: ranks, story-rare words, positions), which isolated MRPC
    # pairs cannot feed; benchmarks/divergence.py measures it on whole stories.
    default = replace(AlignConfig(), criterion="margin")
    score_candidates, score_pairs_gold = mining_candidates(embedder, score, default)
    mining["default AlignConfig"] = mining_prf(score_candidates, score_pairs_gold, default)
    result["mining"] = mining
    return result


def backend_embedder(model: str, backend: str, work: Path) -> CachedEmbedder:
    """The backend's embedder behind its own persistent cache (int8 vectors differ, so never shared)."""
    space = model if backend == "torch" else f"{model}+{backend}"
    inner = make_embedder(EmbedConfig(model=model, backend=backend), cache_dir=work)
    return CachedEmbedder(inner, EmbeddingCache(work / "vectors" / hashlib.blake2b(space.encode(), digest_size=6).hexdigest()))


# ---------------------------------------------------------------- reranker


def run_reranker(scorer: CrossEncoderScorer, embedder: CachedEmbedder, mrpc: list[LabelledPair], sts: list[LabelledPair]) -> dict:
    """The cross-encoder's figures at its stored threshold, and the bi-encoder cosine at the cosine
    threshold fitted on the same calibration pairs (the baseline), on the same scored rows."""
    calibration = scorer.calibration
    assert calibration is not None
    gold = np.array([p.label == 1 for p in mrpc])
    cosines = pair_cosines(embedder, mrpc)
    probabilities = scorer.probabilities([(p.left, p.right) for p in mrpc])
    weight = calibration.cross_encoder_weight
    scores = blend(probabilities, cosines, weight)
    claims, vectors, mining_gold = mining_claims(embedder, mrpc)
    config = AlignConfig()
    started = time.perf_counter()
    mining = mining_prf(reranked_pairs(claims, vectors, scorer, config), mining_gold, config, threshold=calibration.threshold)
    mining_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sts_probabilities = scorer.probabilities([(p.left, p.right) for p in sts])
    sts_seconds = time.perf_counter() - started
    sts_cosines = pair_cosines(embedder, sts)
    sts_gold = [p.label for p in sts]
    return {
        "model": str(scorer.folder),
        "threshold": calibration.threshold,
        "cosine_threshold": calibration.cosine_threshold,
        "fitted_on": f"{calibration.fitted_on}, {calibration.pairs} pairs",
        "mrpc": {**prf(scores >= calibration.threshold, gold), "mining": mining},
        "mrpc_cosine_baseline": prf(cosines >= calibration.cosine_threshold, gold),
        "sts": {"spearman": spearman(blend(sts_probabilities, sts_cosines, weight), sts_gold), "pairs": len(sts)},
        "cross_encoder_weight": weight,
        # The two parts of the blend alone, on the same rows (the cross-encoder at no refitted cut).
        "cross_encoder_only": {"sts_spearman": spearman(sts_probabilities, sts_gold), "mrpc_f1_oracle_cut": round(best_f1_threshold(probabilities, gold)[1], 4)},
        "pairs_per_s": round(len(sts) / max(sts_seconds, 1e-9), 1),
        "mining_s": round(mining_seconds, 1),
    }


# ---------------------------------------------------------------- throughput and ANN


def news_sentences(pairs: Sequence[LabelledPair], count: int) -> list[str]:
    seen: dict[str, None] = {}
    for pair in pairs:
        for text in (pair.left, pair.right):
            seen.setdefault(text, None)
        if len(seen) >= count:
            break
    return list(seen)[:count]


def throughput(backends: Sequence[str], model: str, sentences: list[str], work: Path, chunks: int = 4) -> dict[str, float]:
    """Sentences/s of each backend, uncached, after a warm-up batch (model load and export excluded).

    The sentences are cut into `chunks` slices and the backends take turns slice by slice, so a
    change in machine load (shared cores) hits every backend alike instead of whichever ran last.
    """
    embedders = {backend: make_embedder(EmbedConfig(model=model, backend=backend), cache_dir=work) for backend in backends}
    for embedder in embedders.values():
        embedder.encode(sentences[:32])
    seconds = dict.fromkeys(backends, 0.0)
    size = -(-len(sentences) // chunks)
    for offset in range(0, len(sentences), size):
        for backend, embedder in embedders.items():
            started = time.perf_counter()
            embedder.encode(sentences[offset : offset + size])
            seconds[backend] += time.perf_counter() - started
    return {backend: round(len(sentences) / seconds[backend], 1) for backend in backends}


def synthetic_corpus(seed_vectors: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Embedding-like vectors: a blend of two real sentence embeddings (weight 0.5-1 on the first)
    plus Gaussian noise, so neighbourhoods are a continuum as in a real corpus, not tight clumps.

    Uniform random vectors are a worst case for HNSW that real embeddings never are (STACK-NOTES);
    noisy copies of a few thousand sentences alone are too easy (recall 0.9999 at 200k).
    """
    dimension = seed_vectors.shape[1]
    out = np.empty((count, dimension), dtype=np.float32)
    for start in range(0, count, 100_000):
        stop = min(count, start + 100_000)
        first = seed_vectors[rng.integers(0, len(seed_vectors), stop - start)]
        second = seed_vectors[rng.integers(0, len(seed_vectors), stop - start)]
        weight = rng.uniform(0.5, 1.0, size=(stop - start, 1)).astype(np.float32)
        noisy = weight * first + (1 - weight) * second + rng.normal(scale=0.5 / np.sqrt(dimension), size=first.shape).astype(np.float32)
        out[start:stop] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return out


def run_ann(seed_vectors: np.ndarray, count: int, queries: int = 1000) -> dict:
    rng = np.random.default_rng(7)
    corpus = synthetic_corpus(seed_vectors, count, rng)
    probe = synthetic_corpus(seed_vectors, queries, rng)
    started = time.perf_counter()
    exact = build_index(corpus, exact_max=count)
    _, truth = exact.search(probe, 10)
    exact_seconds = time.perf_counter() - started
    result: dict = {"vectors": count, "queries": queries, "dimension": int(corpus.shape[1]), "data": "blends of 2 real embeddings + noise", "exact_s": round(exact_seconds, 2)}

    def recall(found: np.ndarray) -> float:
        return round(float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])), 4)

    started = time.perf_counter()
    hnsw = build_index(corpus, exact_max=0, approximate="hnsw")
    build = time.perf_counter() - started
    for ef in (64, 128, 256):
        hnsw.hnsw.efSearch = ef
        started = time.perf_counter()
        _, found = hnsw.search(probe, 10)
        result[f"hnsw32_ef{ef}"] = {"recall@10": recall(found), "build_s": round(build, 1), "query_ms": round((time.perf_counter() - started) * 1000 / queries, 3)}
    started = time.perf_counter()
    ivf = build_index(corpus, exact_max=0, approximate="ivf")  # what align.py uses above exact_max
    build = time.perf_counter() - started
    nlist = ivf.nlist
    for nprobe in (8, 32):
        ivf.nprobe = nprobe
        started = time.perf_counter()
        _, found = ivf.search(probe, 10)
        result[f"ivf{nlist}_nprobe{nprobe}"] = {"recall@10": recall(found), "build_s": round(build, 1), "query_ms": round((time.perf_counter() - started) * 1000 / queries, 3)}
    return result


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--mrpc", type=Path, required=True, help="MRPC split (msr_paraphrase_*.txt) scored pairwise and in mining mode")
    parser.add_argument("--mrpc-train", type=Path, help="MRPC split to fit thresholds on (default: 40%% of --mrpc by pair-id hash)")
    parser.add_argument("--sts", type=Path, required=True, help="STS Benchmark split (sts-*-news.csv)")
    parser.add_argument("--semeval", type=Path, required=True, help="SemEval-2022 Task 8 CSV (English original pairs are used)")
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--reranker", help="cross-encoder folder from `compare finetune --cross-encoder` (default: the configured align.reranker; 'none' for bi-encoder figures only)")
    parser.add_argument("--model", help="embedding model for documents, and for claims unless a claim model is given or configured (default: the configured [embed] model, e.g. COMPARE_MODEL; else the bundled MiniLM)")
    parser.add_argument("--claim-model", help="embedding model for claims (default: the configured [align] claim_model, e.g. COMPARE_CLAIM_MODEL; else the --model one), e.g. a `compare finetune --sts` output folder")
    parser.add_argument("--backends", default="torch,onnx,onnx-int8", help="backends to measure (first one gives the headline figures)")
    parser.add_argument("--ann-vectors", type=int, default=200_000, help="ANN corpus size (issue target 1,000,000; 0 skips)")
    parser.add_argument("--sentences", type=int, default=2000, help="news sentences for the throughput test")
    parser.add_argument("--cache-dir", type=Path, help="persistent embedding cache (default: a temporary folder)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pairs of each file (quick runs)")
    args = parser.parse_args(argv)

    try:
        mrpc = load_mrpc(args.mrpc)
        if args.mrpc_train:
            mrpc_fit, mrpc_score, fit_note = load_mrpc(args.mrpc_train), mrpc, f"thresholds fitted on {args.mrpc_train}"
        else:
            mrpc_fit, mrpc_score = split_fit_score(mrpc)
            fit_note = f"thresholds fitted on {FIT_SHARE:.0%} of {args.mrpc.name} (pair-id hash), scored on the other {1 - FIT_SHARE:.0%}"
        sts = load_sts(args.sts)
        semeval, semeval_rows = load_semeval(args.semeval)
        if not mrpc_fit or not mrpc_score:
            raise DataError(f"{args.mrpc}: no pairs left to {'fit thresholds on' if not mrpc_fit else 'score'} (a file written by `compare finetune --holdout` is all one hash part): pass --mrpc-train")
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    if args.limit:
        mrpc_fit, mrpc_score, sts, semeval = (part[: args.limit] for part in (mrpc_fit, mrpc_score, sts, semeval))
    try:  # the configured models and reranker, with these flags on top, resolved as the CLI resolves them
        settings = load_settings(overrides={"embed": {"model": args.model}, "align": {"claim_model": args.claim_model, "reranker": args.reranker}})
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    reranker_folder, document_model, claim_model = settings.align.reranker, settings.embed.model, settings.claim_embed.model
    scorer = None
    if reranker_folder and reranker_folder != "none":
        try:
            scorer = CrossEncoderScorer(reranker_folder)
        except RerankerError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    work = args.cache_dir or Path(tempfile.mkdtemp(prefix="claims-bench-"))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    per_backend: dict[str, dict] = {}
    seed_vectors = None
    for backend in backends:
        embedder = backend_embedder(claim_model, backend, work)
        print(f"[{backend}] MRPC ({len(mrpc_fit)} fit / {len(mrpc_score)} scored pairs)", file=sys.stderr)
        mrpc_result = run_mrpc(embedder, mrpc_fit, mrpc_score)
        print(f"[{backend}] STS ({len(sts)} pairs)", file=sys.stderr)
        sts_result = {"spearman": spearman(pair_cosines(embedder, sts), [p.label for p in sts]), "pairs": len(sts)}
        print(f"[{backend}] SemEval ({len(semeval)} English pairs of {semeval_rows} rows)", file=sys.stderr)
        document_embedder = embedder if document_model == claim_model else backend_embedder(document_model, backend, work)
        documents = embed_documents([t for p in semeval for t in (p.left, p.right)], document_embedder)
        docsim = [document_similarity(documents[2 * i], documents[2 * i + 1], DocSimConfig()) for i in range(len(semeval))]
        head_only = [document_similarity(documents[2 * i], documents[2 * i + 1], DocSimConfig(claim_weight=0.0)) for i in range(len(semeval))]
        gold = [p.label for p in semeval]
        semeval_result = {"pearson": pearson(docsim, gold), "pairs": len(semeval), "baseline_head_cosine_pearson": pearson(head_only, gold)}
        per_backend[backend] = {"mrpc": mrpc_result, "sts": sts_result, "semeval": semeval_result}
        if seed_vectors is None:
            seed_vectors = embedder.encode(news_sentences(mrpc_fit + mrpc_score + sts, 20_000))  # cached already

    reranked = None
    if scorer is not None:
        print(f"[reranker] {reranker_folder}: MRPC ({len(mrpc)} pairs, all of --mrpc), STS, mining", file=sys.stderr)
        embedder = backend_embedder(claim_model, backends[0], work)
        reranked = run_reranker(scorer, embedder, mrpc, sts)

    sentences = news_sentences(mrpc + sts, args.sentences)
    print(f"throughput on {len(sentences)} sentences ({', '.join(backends)}, interleaved)", file=sys.stderr)
    speeds = throughput(backends, claim_model, sentences, work)
    ann = run_ann(seed_vectors, args.ann_vectors) if args.ann_vectors and seed_vectors is not None else {"skipped": True}

    headline = per_backend[backends[0]]
    output = {
        "mrpc": {**headline["mrpc"], "pairs_scored": len(mrpc_score), "fit": fit_note},
        "sts": {"spearman": headline["sts"]["spearman"], "pairs": headline["sts"]["pairs"]},
        "semeval": headline["semeval"],
        "throughput": {
            "model": claim_model,
            "sentences": len(sentences),
            "sentences_per_s": speeds,
            "quality": {b: {"mrpc_f1": r["mrpc"]["f1"], "sts_spearman": r["sts"]["spearman"], "semeval_pearson": r["semeval"]["pearson"]} for b, r in per_backend.items()},
        },
        "ann": ann,
        "models": {"claims": claim_model, "documents": document_model},
    }
    if reranked is not None:
        # Headline MRPC = the configured pipeline (bi-encoder proposes, cross-encoder decides); the
        # bi-encoder-only figures stay under "baseline". STS stays the claim cosine (see the docstring).
        output["baseline"] = {"mrpc": output["mrpc"], "sts": output["sts"], "mrpc_at_reranker_calibration": reranked["mrpc_cosine_baseline"]}
        output["mrpc"] = {**reranked["mrpc"], "pairs_scored": len(mrpc), "fit": f"thresholds stored with the reranker: {reranked['fitted_on']}"}
        output["reranker"] = {key: reranked[key] for key in ("model", "threshold", "cosine_threshold", "cross_encoder_weight", "fitted_on", "mining_s", "cross_encoder_only", "sts")}
        output["throughput"]["reranker_pairs_per_s"] = reranked["pairs_per_s"]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    print_table(output, per_backend, claim_model if claim_model == document_model else f"{claim_model} (claims), {document_model} (documents)")
    if reranked is not None:
        print_reranker(reranked)
    elif reranker_folder != "none":
        print(
            "no reranker configured: the headline mrpc/sts figures are the bi-encoder's. Train one with "
            "`compare finetune DIR --cross-encoder --mrpc TRAIN --sts TRAIN` (docs/claims.md) and pass --reranker DIR.",
            file=sys.stderr,
        )
    return 0


def print_reranker(reranked: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"reranker {reranked['model']} (thresholds: {reranked['fitted_on']})")
    for column in ("measure", "cross-encoder", "bi-encoder cosine"):
        table.add_column(column)
    mrpc, base = reranked["mrpc"], reranked["mrpc_cosine_baseline"]
    table.add_row("MRPC pairwise P / R / F1", f"{mrpc['precision']:.3f} / {mrpc['recall']:.3f} / {mrpc['f1']:.3f}", f"{base['precision']:.3f} / {base['recall']:.3f} / {base['f1']:.3f}")
    table.add_row("MRPC mining P / R / F1", f"{mrpc['mining']['precision']:.3f} / {mrpc['mining']['recall']:.3f} / {mrpc['mining']['f1']:.3f}", "(table above)")
    table.add_row("STS news Spearman of the score", f"{reranked['sts']['spearman']:.3f}", "(table above: the headline)")
    table.add_row("pairs/s", f"{reranked['pairs_per_s']:.0f}", "")
    Console().print(table)


def print_table(output: dict, per_backend: dict[str, dict], model: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"claims benchmark — model {model}")
    for column in ("measure", *per_backend):
        table.add_column(column)
    table.add_row("MRPC pairwise P / R / F1", *(f"{r['mrpc']['precision']:.3f} / {r['mrpc']['recall']:.3f} / {r['mrpc']['f1']:.3f}" for r in per_backend.values()))
    for name in [*MINING_VARIANTS, "default AlignConfig"]:
        table.add_row(f"MRPC mining: {name}", *(f"{r['mrpc']['mining'][name]['precision']:.3f} / {r['mrpc']['mining'][name]['recall']:.3f} / {r['mrpc']['mining'][name]['f1']:.3f}" for r in per_backend.values()))
    table.add_row("STS news Spearman", *(f"{r['sts']['spearman']:.3f}" for r in per_backend.values()))
    table.add_row("SemEval en-en Pearson: docsim", *(f"{r['semeval']['pearson']:.3f}" for r in per_backend.values()))
    table.add_row("SemEval baseline: head cosine", *(f"{r['semeval']['baseline_head_cosine_pearson']:.3f}" for r in per_backend.values()))
    table.add_row("sentences/s", *(f"{output['throughput']['sentences_per_s'][b]:.0f}" for b in per_backend))
    console.print(table)
    console.print(output["mrpc"]["fit"])
    ann = output["ann"]
    if not ann.get("skipped"):
        ann_table = Table(title=f"FAISS ANN recall@10 vs exact — {ann['vectors']:,} vectors ({ann['data']}), exact {ann['exact_s']} s for {ann['queries']} queries")
        for column in ("index", "recall@10", "build s", "ms/query"):
            ann_table.add_column(column)
        for name, value in ann.items():
            if isinstance(value, dict):
                ann_table.add_row(name, f"{value['recall@10']:.4f}", f"{value['build_s']}", f"{value['query_ms']}")
        console.print(ann_table)


if __name__ == "__main__":
    raise SystemExit(main())
