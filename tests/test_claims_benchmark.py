"""The exact parts of benchmarks/claims.py: SemEval filtering, threshold fitting, mining-mode scoring,
the synthetic ANN corpus, and one-line errors for malformed input files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from claims import fit_threshold, load_semeval, mining_candidates, mining_prf, prf, synthetic_corpus  # noqa: E402

from compare.core.config import AlignConfig  # noqa: E402
from compare.embed.embedder import CachedEmbedder, EmbeddingCache, HashingEmbedder  # noqa: E402
from compare.train.finetune import LabelledPair  # noqa: E402

SEMEVAL = (
    ",pair_id,lang1,lang2,text1,text2,Geography,Entities,Time,Narrative,Overall,Style,Tone\n"
    "0,111_222,en,en,A depot exploded.,The depot blew up.,1,1,1,1,1.0,1,1\n"
    "1,111de_222,de,en,Ein Depot.,The depot blew up.,1,1,1,1,1.5,1,1\n"
    "2,333_444,de,de,Ein Depot.,Ein Lager.,1,1,1,1,2.0,1,1\n"
    "3,555_666,en,en,Heat wave.,Depot blast.,4,4,4,4,4.0,1,1\n"
    "4,777_888en,en,en,Copy.,Copy.,1,1,1,1,1.0,1,1\n"
)


def paraphrase_files(tmp_path: Path) -> list[str]:
    """--mrpc, --sts, --semeval and --json arguments over the project's own PARAPHRASES fixture."""
    from conftest import PARAPHRASES

    mrpc = tmp_path / "m.txt"
    rows = [f"{label}\t{100 + n}\t{200 + n}\t{left}\t{right}" for n, (left, right, label) in enumerate(PARAPHRASES)]
    mrpc.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "\n".join(rows) + "\n", encoding="utf-8")
    sts = tmp_path / "s.csv"
    sts.write_text("".join(f"main-news\tMSRpar\t2012\t{n}\t{4.0 * label + n / 10}\t{left}\t{right}\n" for n, (left, right, label) in enumerate(PARAPHRASES)), encoding="utf-8")
    semeval = tmp_path / "e.csv"
    semeval.write_text(SEMEVAL, encoding="utf-8")
    return ["--mrpc", str(mrpc), "--sts", str(sts), "--semeval", str(semeval), "--json", str(tmp_path / "out.json")]


def test_semeval_keeps_english_original_pairs_and_flips_the_sign(tmp_path: Path) -> None:
    path = tmp_path / "semeval.csv"
    path.write_text(SEMEVAL, encoding="utf-8")
    pairs, rows = load_semeval(path)
    assert rows == 5
    assert [(p.key, p.label) for p in pairs] == [("111_222", 4.0), ("555_666", 1.0)]


def test_fit_threshold_maximises_f1_on_what_it_is_given() -> None:
    scores = np.array([0.1, 0.2, 0.6, 0.7, 0.8])
    gold = np.array([False, False, True, True, True])
    cut = fit_threshold(scores, gold)
    assert 0.2 < cut < 0.6
    assert prf(scores >= cut, gold) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_mining_mode_counts_only_labelled_paraphrases_as_hits(tmp_path: Path) -> None:
    pairs = [
        LabelledPair("1-2", "1", "2", "the depot lies eighty kilometres north", "the depot lies eighty kilometres north of here", 1.0),
        LabelledPair("3-4", "3", "4", "rescuers searched rubble for survivors", "rescuers searched the rubble for survivors", 0.0),
        LabelledPair("5-6", "5", "6", "power cuts across the country", "a completely different story about sport", 1.0),
    ]
    embedder = CachedEmbedder(HashingEmbedder(512), EmbeddingCache(tmp_path))
    config = AlignConfig(criterion="cosine", min_similarity=0.5)
    candidates, gold = mining_candidates(embedder, pairs, config)
    assert gold == {("1:1", "2:2"), ("1:5", "2:6")}
    # Pair 1 found (hit), pair 2 found but labelled 0 (false positive), pair 3 missed.
    assert mining_prf(candidates, gold, config) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_synthetic_corpus_is_normalised_and_near_its_seeds() -> None:
    rng = np.random.default_rng(0)
    seeds = rng.normal(size=(50, 16)).astype(np.float32)
    seeds /= np.linalg.norm(seeds, axis=1, keepdims=True)
    corpus = synthetic_corpus(seeds, 300, rng)
    np.testing.assert_allclose(np.linalg.norm(corpus, axis=1), 1.0, atol=1e-5)
    assert float(np.mean(np.max(corpus @ seeds.T, axis=1))) > 0.6


@pytest.mark.parametrize("flag", ["--mrpc", "--sts", "--semeval"])
def test_bad_file_is_a_one_line_error(tmp_path: Path, flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    from claims import main

    good = {"--mrpc": tmp_path / "m.txt", "--sts": tmp_path / "s.csv", "--semeval": tmp_path / "e.csv"}
    good["--mrpc"].write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta b c\ta b d\n", encoding="utf-8")
    good["--sts"].write_text("main-news\tMSRpar\t2012\t1\t4.0\ta b c\ta b d\n", encoding="utf-8")
    good["--semeval"].write_text(SEMEVAL, encoding="utf-8")
    broken = tmp_path / "broken.txt"
    broken.write_text("nonsense\n", encoding="utf-8")
    args = [item for key, path in good.items() for item in (key, str(broken if key == flag else path))]
    assert main([*args, "--json", str(tmp_path / "out.json")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "broken.txt" in error and "\n" not in error
    assert not (tmp_path / "out.json").exists()


@pytest.mark.slow
def test_reranker_run_writes_the_documented_keys_with_thresholds_from_the_model(tmp_path: Path, tiny_reranker: Path) -> None:
    """A whole (tiny) run: headline = the cross-encoder at its stored threshold, cosine under baseline."""
    from claims import main

    from compare.embed.rerank import load_calibration

    args = paraphrase_files(tmp_path)
    out = tmp_path / "out.json"
    assert main([*args, "--reranker", str(tiny_reranker), "--backends", "onnx", "--ann-vectors", "0", "--sentences", "8", "--cache-dir", str(tmp_path / "cache")]) == 0
    result = json.loads(out.read_text())
    assert {"precision", "recall", "f1"} <= result["mrpc"].keys() and "spearman" in result["sts"]
    assert {"pearson", "pairs"} <= result["semeval"].keys() and result["ann"] == {"skipped": True}
    calibration = load_calibration(tiny_reranker)
    assert result["reranker"]["threshold"] == calibration.threshold
    assert result["mrpc"]["fit"].startswith("thresholds stored with the reranker: test pairs")
    assert {"mrpc", "sts", "mrpc_at_reranker_calibration"} <= result["baseline"].keys()
    assert result["throughput"]["reranker_pairs_per_s"] > 0
    # The tiny model was trained on exactly these pairs: it separates them.
    assert result["mrpc"]["f1"] == 1.0 and result["reranker"]["sts"]["spearman"] > 0.5
    # Headline STS is the claim cosine (what reports carry as `similarity`), reranked or not.
    assert result["sts"] == result["baseline"]["sts"]


@pytest.mark.slow
def test_claims_use_the_claim_model_and_documents_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from claims import main

    monkeypatch.setenv("COMPARE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMPARE_CLAIM_MODEL", raising=False)
    args = [*paraphrase_files(tmp_path), "--reranker", "none", "--backends", "onnx", "--ann-vectors", "0", "--sentences", "8", "--cache-dir", str(tmp_path / "cache")]
    out = tmp_path / "out.json"
    assert main([*args, "--model", "hashing-64"]) == 0
    alone = json.loads(out.read_text())
    assert main([*args, "--model", "hashing-256", "--claim-model", "hashing-64"]) == 0
    split = json.loads(out.read_text())
    assert split["models"] == {"claims": "hashing-64", "documents": "hashing-256"} and split["throughput"]["model"] == "hashing-64"
    assert (split["mrpc"]["f1"], split["sts"]) == (alone["mrpc"]["f1"], alone["sts"])
    monkeypatch.setenv("COMPARE_CLAIM_MODEL", "hashing-64")  # the configured claim model is the default
    assert main(args) == 0
    assert json.loads(out.read_text())["models"] == {"claims": "hashing-64", "documents": "bundled:all-MiniLM-L6-v2"}


@pytest.mark.slow
def test_without_a_reranker_the_run_says_the_headline_is_the_bi_encoders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from claims import main

    monkeypatch.delenv("COMPARE_RERANKER", raising=False)
    monkeypatch.setenv("COMPARE_HOME", str(tmp_path / "home"))
    args = [*paraphrase_files(tmp_path), "--mrpc-train", str(tmp_path / "m.txt")]
    out = tmp_path / "out.json"
    assert main([*args, "--backends", "onnx", "--ann-vectors", "0", "--sentences", "8", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "no reranker configured: the headline mrpc/sts figures are the bi-encoder's" in capsys.readouterr().err
    assert "reranker" not in json.loads(out.read_text())
