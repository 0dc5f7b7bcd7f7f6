"""compare.train.finetune: pair-file readers (clear errors), the deterministic fit/score split, training pairs.

Both training loops (bi-encoder and cross-encoder) are exercised by tiny real runs from the bundled
model's weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import PARAPHRASES

from compare.core.config import EmbedConfig
from compare.train.finetune import DataError, LabelledPair, best_f1_threshold, load_mrpc, load_sts, split_fit_score, split_mrpc, training_pairs, write_mrpc

MRPC = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "".join(
    f"{n % 2}\t{100 + n}\t{200 + n}\tThe depot exploded {n} times.\tThe \"depot\" blew up {n} times.\n" for n in range(50)
)
STS = "main-news\tMSRpar\t2012test\t0001\t4.200\tA depot exploded.\tThe depot blew up.\nmain-news\theadlines\t2015\t0002\t0.500\tHeat wave hits.\tDepot blew up.\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_mrpc_reads_labels_ids_and_quotes(tmp_path: Path) -> None:
    pairs = load_mrpc(write(tmp_path, "mrpc.txt", MRPC))
    assert len(pairs) == 50
    assert pairs[1] == LabelledPair("101-201", "101", "201", "The depot exploded 1 times.", 'The "depot" blew up 1 times.', 1.0)


def test_load_sts_reads_scores(tmp_path: Path) -> None:
    pairs = load_sts(write(tmp_path, "sts.csv", STS))
    assert [(p.left, p.label) for p in pairs] == [("A depot exploded.", 4.2), ("Heat wave hits.", 0.5)]


@pytest.mark.parametrize(
    ("loader", "text", "message"),
    [
        (load_mrpc, "id\tfoo\n", "expected an MRPC header"),
        (load_mrpc, "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\nyes\t1\t2\ta\tb\n", r"mrpc.txt:2: field 'Quality'"),
        (load_sts, "main-news\tMSRpar\t2012\t1\tfive\ta\tb\n", r"mrpc.txt:1: field 'score'"),
        (load_sts, "main-news\tMSRpar\t2012\t1\t5.0\ta\n", "expected sentence1 and sentence2"),
    ],
)
def test_bad_rows_are_one_line_errors_naming_file_line_and_field(tmp_path: Path, loader, text: str, message: str) -> None:  # noqa: ANN001
    with pytest.raises(DataError, match=message):
        loader(write(tmp_path, "mrpc.txt", text))


def test_split_is_deterministic_disjoint_and_near_the_share(tmp_path: Path) -> None:
    pairs = [LabelledPair(f"{n}-{n + 1}", "", "", "a", "b", 1.0) for n in range(2000)]
    fit, score = split_fit_score(pairs)
    assert split_fit_score(pairs) == (fit, score)
    assert {p.key for p in fit}.isdisjoint({p.key for p in score})
    assert len(fit) + len(score) == 2000
    assert 0.35 < len(fit) / 2000 < 0.45


def test_training_pairs_use_only_the_mrpc_fit_part_unless_asked(tmp_path: Path) -> None:
    mrpc = write(tmp_path, "mrpc.txt", MRPC)
    sts = write(tmp_path, "sts.csv", STS)
    fit_only = training_pairs([mrpc], [sts])
    everything = training_pairs([mrpc], [sts], all_mrpc_rows=True)
    assert len(everything) == 52
    assert len(fit_only) == len(split_fit_score(load_mrpc(mrpc))[0]) + 2
    assert (sts_pair := fit_only[-2]) == ("A depot exploded.", "The depot blew up.", pytest.approx(0.84))
    assert sts_pair[2] <= 1.0


def test_split_mrpc_keeps_calibration_and_holdout_apart_from_training() -> None:
    pairs = [LabelledPair(f"{n}-{n + 1}", "", "", "a", "b", 1.0) for n in range(3000)]
    train, calibration, heldout = split_mrpc(pairs, holdout_share=0.2)
    assert split_mrpc(pairs, holdout_share=0.2) == (train, calibration, heldout)
    keys = [{p.key for p in part} for part in (train, calibration, heldout)]
    assert sum(map(len, keys)) == 3000 and len(set.union(*keys)) == 3000
    assert 0.08 < len(calibration) / 3000 < 0.12 and 0.17 < len(heldout) / 3000 < 0.23
    # The calibration part does not depend on the hold-out share, so thresholds stay comparable.
    assert split_mrpc(pairs, holdout_share=0.0)[1] == calibration
    assert split_mrpc(pairs, holdout_share=0.0)[2] == []
    with pytest.raises(DataError, match="--holdout"):
        split_mrpc(pairs, holdout_share=0.95)


def test_written_mrpc_reads_back_identically(tmp_path: Path) -> None:
    pairs = load_mrpc(write(tmp_path, "mrpc.txt", MRPC))
    write_mrpc(pairs[:7], tmp_path / "out.tsv")
    assert load_mrpc(tmp_path / "out.tsv") == pairs[:7]


@given(st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.booleans()), min_size=1, max_size=40))
def test_best_f1_threshold_matches_brute_force(rows: list[tuple[float, bool]]) -> None:
    scores = np.array([score for score, _ in rows])
    gold = np.array([label for _, label in rows])
    cut, f1 = best_f1_threshold(scores, gold)

    def f1_at(threshold: float) -> float:
        predicted = scores >= threshold
        true_positive = float(np.sum(predicted & gold))
        return 2 * true_positive / max(1.0, float(predicted.sum() + gold.sum()))

    brute = max(f1_at(t) for t in [*scores, scores.max() + 1])
    assert f1 == pytest.approx(brute)
    assert f1_at(cut) == pytest.approx(f1)


@pytest.mark.slow
def test_cross_encoder_trains_calibrates_and_scores_symmetrically(tiny_reranker: Path) -> None:
    """A real (tiny) training run from the bundled model's weights: the folder loads as a reranker."""
    from compare.embed.rerank import CrossEncoderScorer, load_calibration

    calibration = load_calibration(tiny_reranker)
    assert calibration.pairs == 8 and 0.0 < calibration.threshold < 1.0
    assert calibration.fitted_on == "test pairs" and -1.0 < calibration.cosine_threshold < 1.0
    scorer = CrossEncoderScorer(tiny_reranker)
    forward = scorer.probabilities([(left, right) for left, right, _ in PARAPHRASES])
    backward = scorer.probabilities([(right, left) for left, right, _ in PARAPHRASES])
    assert np.allclose(forward, backward, atol=1e-5)
    assert ((forward >= 0) & (forward <= 1)).all()
    # Trained on these pairs for a few steps: paraphrases score above the unrelated pairs.
    assert forward[:4].min() > forward[4:].max()
    # The score blends the probability with the rescaled cosine, by the calibrated weight.
    cosines = np.linspace(-1, 1, len(PARAPHRASES))
    blended = scorer.score([(left, right) for left, right, _ in PARAPHRASES], cosines)
    weight = calibration.cross_encoder_weight
    assert np.allclose(blended, weight * forward + (1 - weight) * (cosines + 1) / 2, atol=1e-6)


@pytest.mark.slow
def test_reranker_has_two_named_heads_and_averages_them_with_the_cosine(tiny_reranker: Path) -> None:
    """The probability is the mean of both heads' sigmoids over both orders, computed here without the scorer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from compare.train.finetune import HEADS
    from compare.embed.rerank import CrossEncoderScorer, load_calibration

    scorer = CrossEncoderScorer(tiny_reranker)
    assert scorer.heads == 2 and HEADS == ("paraphrase", "similarity")
    assert load_calibration(tiny_reranker).cross_encoder_weight == pytest.approx(2 / 3, abs=1e-6)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_reranker).eval()
    assert model.config.id2label == {0: "paraphrase", 1: "similarity"}
    tokenizer = AutoTokenizer.from_pretrained(tiny_reranker)
    lefts, rights = [left for left, _, _ in PARAPHRASES], [right for _, right, _ in PARAPHRASES]
    with torch.no_grad():
        forward = torch.sigmoid(model(**tokenizer(lefts, rights, padding=True, return_tensors="pt")).logits)
        backward = torch.sigmoid(model(**tokenizer(rights, lefts, padding=True, return_tensors="pt")).logits)
    expected = ((forward + backward) / 2).mean(dim=1).numpy()
    assert np.allclose(scorer.probabilities(list(zip(lefts, rights, strict=True))), expected, atol=1e-5)


def test_one_head_rerankers_from_before_still_score(tmp_path: Path) -> None:
    """A folder written before the two-head model (one logit) loads with its equal blend weight."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from compare.core.config import EmbedConfig
    from compare.embed.embedder import model_location
    from compare.embed.rerank import CrossEncoderScorer

    location = model_location(EmbedConfig().model)
    AutoModelForSequenceClassification.from_pretrained(location, num_labels=1).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(location).save_pretrained(tmp_path)
    scorer = CrossEncoderScorer(tmp_path, calibrated=False)
    assert scorer.heads == 1 and scorer.default_weight == 0.5
    probabilities = scorer.probabilities([(left, right) for left, right, _ in PARAPHRASES])
    assert probabilities.shape == (len(PARAPHRASES),) and ((probabilities > 0) & (probabilities < 1)).all()


@pytest.mark.slow
def test_reranker_errors_name_the_folder(tmp_path: Path, tiny_reranker: Path) -> None:
    from compare.embed.rerank import CrossEncoderScorer, RerankerError

    with pytest.raises(RerankerError, match=f"{tmp_path}: not a cross-encoder folder"):
        CrossEncoderScorer(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{truncated")
    with pytest.raises(RerankerError, match=f"{broken / 'config.json'}: not readable as JSON"):
        CrossEncoderScorer(broken, calibrated=False)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "config.json").write_text((tiny_reranker / "config.json").read_text())
    with pytest.raises(RerankerError, match="compare-calibration.json: missing"):
        CrossEncoderScorer(copy)
    (copy / "compare-calibration.json").write_text("{not json")
    with pytest.raises(RerankerError, match="not a calibration file"):
        CrossEncoderScorer(copy)


@pytest.mark.slow
def test_bi_encoder_finetune_writes_a_model_that_moves_paraphrases_closer(tmp_path: Path) -> None:
    """A tiny real CoSENT run: the written folder loads as the embedding model, and on the pairs it
    trained on, paraphrases gain cosine against unrelated pairs."""
    from compare.embed.embedder import make_embedder
    from compare.train.finetune import FinetuneConfig, finetune

    examples = [(left, right, float(label)) for left, right, label in PARAPHRASES] * 4
    folder = finetune(examples, tmp_path / "bi", config=FinetuneConfig(batch_size=8, learning_rate=1e-4))

    def gap(model: str) -> float:
        embedder = make_embedder(EmbedConfig(model=model, backend="torch"))
        cosines = np.sum(embedder.encode([l for l, _, _ in PARAPHRASES]) * embedder.encode([r for _, r, _ in PARAPHRASES]), axis=1)
        return float(cosines[:4].mean() - cosines[4:].mean())

    assert gap(str(folder)) > gap(EmbedConfig().model)


@pytest.mark.slow
def test_bi_encoder_finetune_command_says_the_alignment_thresholds_need_refitting(tmp_path: Path) -> None:
    """The CLI trains (a tiny real run), names the folder to configure, and warns that the shipped
    [align] thresholds were fitted on the base model's cosine scale."""
    from typer.testing import CliRunner

    from compare.cli import app

    sts = write(tmp_path, "sts.csv", STS)
    result = CliRunner().invoke(app, ["finetune", str(tmp_path / "bi"), "--sts", str(sts), "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    assert f"COMPARE_CLAIM_MODEL={tmp_path / 'bi'}" in result.output and f"COMPARE_MODEL={tmp_path / 'bi'}" in result.output
    assert "refit [align] min_similarity and min_margin" in result.output
    assert (tmp_path / "bi" / "modules.json").exists()
