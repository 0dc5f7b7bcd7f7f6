"""Adapting the embedding model to news paraphrase: a short CoSENT fine-tune on labelled sentence pairs.

Reads the same files as benchmarks/claims.py (MRPC TSV, STS Benchmark TSV) and writes a
sentence-transformers folder that EmbedConfig.model (or COMPARE_MODEL) can point at. Plain torch loop,
so it needs no `datasets`/`accelerate`. By default only the fit part of an MRPC file is used (the same
pair-id hash split the benchmark fits its thresholds on), so benchmarking on that file stays honest.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from compare.core.config import EmbedConfig
from compare.core.progress import StepProgress

if TYPE_CHECKING:
    import torch

    from compare.embed.rerank import Calibration

csv.field_size_limit(10**8)
FIT_SHARE = 0.4
ExampleT = TypeVar("ExampleT", bound=tuple)  # a training example; only the loss reads it


class DataError(ValueError):
    """A pair file that does not have the documented format (the message names file, line and field)."""


@dataclass(frozen=True)
class LabelledPair:
    """Two texts and a gold score (MRPC 0/1, STS 0-5, SemEval similarity); `key` names the pair."""

    key: str
    left_id: str
    right_id: str
    left: str
    right: str
    label: float


def load_mrpc(path: Path) -> list[LabelledPair]:
    """MRPC TSV: Quality, #1 ID, #2 ID, #1 String, #2 String (header row, UTF-8 with BOM)."""
    pairs = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if not header or header[0].strip() != "Quality" or len(header) < 5:
            raise DataError(f"{path}: expected an MRPC header 'Quality<TAB>#1 ID<TAB>#2 ID<TAB>#1 String<TAB>#2 String'")
        for line, row in enumerate(rows, start=2):
            if len(row) < 5 or row[0] not in ("0", "1"):
                raise DataError(f"{path}:{line}: field 'Quality' must be 0 or 1 with five tab-separated fields")
            pairs.append(LabelledPair(f"{row[1]}-{row[2]}", row[1], row[2], row[3], row[4], float(row[0])))
    return pairs


def load_sts(path: Path) -> list[LabelledPair]:
    """STS Benchmark TSV without header: genre, file, year, id, score (0-5), sentence1, sentence2[, ...]."""
    pairs = []
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row:
                continue
            try:
                score = float(row[4])
            except (IndexError, ValueError) as error:
                raise DataError(f"{path}:{line}: field 'score' (5th column) must be a number from 0 to 5") from error
            if len(row) < 7:
                raise DataError(f"{path}:{line}: expected sentence1 and sentence2 in columns 6 and 7")
            pairs.append(LabelledPair(f"{row[1]}-{row[2]}-{row[3]}", f"{line}a", f"{line}b", row[5], row[6], score))
    return pairs


def hash_bucket(key: str) -> float:
    """A stable number in [0, 1) from a pair key: the same split on every run and machine."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big") / 2**32


def split_fit_score(pairs: Sequence[LabelledPair], fit_share: float = FIT_SHARE) -> tuple[list[LabelledPair], list[LabelledPair]]:
    """Deterministic split by a hash of the pair key, so every run and machine gets the same parts."""
    fit, score = [], []
    for pair in pairs:
        (fit if hash_bucket(pair.key) < fit_share else score).append(pair)
    return fit, score


@dataclass(frozen=True)
class FinetuneConfig:
    """CoSENT (a ranking loss over pair cosines, scale 20) suits both 0/1 and graded labels."""

    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_share: float = 0.1
    scale: float = 20.0
    seed: int = 13


def training_pairs(mrpc: Sequence[Path], sts: Sequence[Path], *, all_mrpc_rows: bool = False) -> list[tuple[str, str, float]]:
    """(left, right, score in [0, 1]) from MRPC files (fit part unless `all_mrpc_rows`) and STS files."""
    examples = []
    for path in mrpc:
        pairs = load_mrpc(path)
        for pair in pairs if all_mrpc_rows else split_fit_score(pairs)[0]:
            examples.append((pair.left, pair.right, pair.label))
    for path in sts:
        examples.extend((pair.left, pair.right, pair.label / 5.0) for pair in load_sts(path))
    return examples


def _train(
    model: torch.nn.Module,
    examples: list[ExampleT],
    batch_loss: Callable[[Sequence[ExampleT]], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    warmup_share: float,
    weight_decay: float = 0.0,
    progress: StepProgress | None = None,
) -> None:
    """AdamW with linear warm-up and decay over shuffled mini-batches; both fine-tunes differ only in `batch_loss`."""
    import torch

    model.train()
    steps = epochs * ((len(examples) + batch_size - 1) // batch_size)
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    warmup = max(1, int(steps * warmup_share))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup))))
    done = 0
    for _ in range(epochs):
        random.shuffle(examples)
        for offset in range(0, len(examples), batch_size):
            loss = batch_loss(examples[offset : offset + batch_size])
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            done += 1
            if progress:
                progress(done, steps)
    model.eval()


def finetune(
    examples: Sequence[tuple[str, str, float]],
    output: Path,
    *,
    base: EmbedConfig = EmbedConfig(),
    config: FinetuneConfig = FinetuneConfig(),
    progress: StepProgress | None = None,
) -> Path:
    """Fine-tune `base.model` on `examples` and save it to `output` (a sentence-transformers folder)."""
    import torch

    from compare.embed.embedder import SentenceTransformerEmbedder

    if not examples:
        raise DataError("no training pairs: give at least one MRPC or STS file with rows")
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    model = SentenceTransformerEmbedder(base)._load()
    device = model.device

    def cosent_loss(batch: Sequence[tuple[str, str, float]]) -> torch.Tensor:
        embeddings = []
        for side in (0, 1):
            features = (getattr(model, "preprocess", None) or model.tokenize)([example[side] for example in batch])
            features = {key: value.to(device) if hasattr(value, "to") else value for key, value in features.items()}
            embeddings.append(torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=1))
        cosines = (embeddings[0] * embeddings[1]).sum(dim=1) * config.scale
        labels = torch.tensor([example[2] for example in batch], device=device)
        # CoSENT: every pair ranked above another by gold must have the larger cosine.
        differences = cosines[None, :] - cosines[:, None]
        differences = differences[labels[:, None] > labels[None, :]]
        return torch.logsumexp(torch.cat([torch.zeros(1, device=device), differences]), dim=0)

    _train(model, list(examples), cosent_loss, epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate, warmup_share=config.warmup_share, progress=progress)
    output.mkdir(parents=True, exist_ok=True)
    model.save(str(output), create_model_card=False)
    return output


# ---------------------------------------------------------------- cross-encoder (reranker)

CALIBRATION_SHARE = 0.1
HELDOUT_FILE = "heldout-mrpc.tsv"
CALIBRATION_PAIRS_FILE = "calibration-mrpc.tsv"
HEADS = ("paraphrase", "similarity")  # the cross-encoder's output logits, in order
PARAPHRASE_HEAD, SIMILARITY_HEAD = 0, 1


@dataclass(frozen=True)
class CrossEncoderConfig:
    """Two output heads on one encoder: `paraphrase` learns MRPC's 0/1 decisions, `similarity` STS's
    graded scores (score/5), both by binary cross-entropy, every pair in both orders.

    One shared head had to serve both label kinds: more training sharpened MRPC decisions but
    flattened its STS ranking (1 epoch F1 0.846 / Spearman 0.794, 2 epochs 0.863 / 0.751). With two
    heads, 1 epoch gave 0.854 / 0.795 on the same hold-out (docs/benchmarks.md), so that is the default.
    """

    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_share: float = 0.1
    max_length: int = 160
    seed: int = 13


def split_mrpc(pairs: Sequence[LabelledPair], *, holdout_share: float) -> tuple[list[LabelledPair], list[LabelledPair], list[LabelledPair]]:
    """(train, calibration, held out) by pair-key hash: the calibration part fits the decision
    thresholds and the held-out part is written out for benchmarks/claims.py; neither is trained on."""
    if not 0 <= holdout_share <= 1 - CALIBRATION_SHARE:
        raise DataError(f"--holdout must be between 0 and {1 - CALIBRATION_SHARE:.1f}, not {holdout_share}")
    train, calibration, heldout = [], [], []
    for pair in pairs:
        bucket = hash_bucket(pair.key)
        if bucket < CALIBRATION_SHARE:
            calibration.append(pair)
        elif bucket >= 1 - holdout_share:
            heldout.append(pair)
        else:
            train.append(pair)
    return train, calibration, heldout


def cross_encoder_examples(paraphrase: Sequence[LabelledPair], similarity: Sequence[LabelledPair]) -> list[tuple[str, str, float, int]]:
    """(left, right, target in [0, 1], head): MRPC pairs (labels 0/1) train the paraphrase head,
    STS pairs (scores 0-5) the similarity head."""
    return [(p.left, p.right, p.label, PARAPHRASE_HEAD) for p in paraphrase] + [(p.left, p.right, p.label / 5.0, SIMILARITY_HEAD) for p in similarity]


def write_mrpc(pairs: Sequence[LabelledPair], path: Path) -> None:
    """MRPC TSV, so a held-out part can be passed to `benchmarks/claims.py --mrpc`."""
    lines = ["\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
    lines += [f"{int(p.label)}\t{p.left_id}\t{p.right_id}\t{p.left}\t{p.right}" for p in pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def best_f1_threshold(scores: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    """(cut, F1): the cut maximising F1 of `scores >= cut`, midway between neighbouring scores."""
    if len(scores) == 0:
        raise DataError("no pairs to fit a threshold on")
    values = np.unique(scores)[::-1]  # descending: taking everything >= values[i]
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_gold = scores[order], gold[order].astype(float)
    taken = np.searchsorted(-sorted_scores, -values, side="right")  # rows with score >= each value
    true_positive = np.concatenate([[0.0], np.cumsum(sorted_gold)])[taken]
    f1 = 2 * true_positive / np.maximum(1.0, taken + gold.sum())
    best = int(np.argmax(f1))
    upper = float(values[best])
    if best + 1 < len(values):
        # Midway to the next lower score generalises better than the score itself, unless floats
        # are too close to have a midpoint above the lower one.
        middle = (upper + float(values[best + 1])) / 2
        return (middle if middle > values[best + 1] else upper), float(f1[best])
    return upper - 1e-6, float(f1[best])


def finetune_cross_encoder(
    examples: Sequence[tuple[str, str, float, int]],
    output: Path,
    *,
    base: EmbedConfig = EmbedConfig(),
    config: CrossEncoderConfig = CrossEncoderConfig(),
    progress: StepProgress | None = None,
) -> Path:
    """Train a cross-encoder from `base.model`'s weights (fresh `HEADS`; see `cross_encoder_examples`)
    and save it to `output` as a transformers folder that sentence-transformers' CrossEncoder loads."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from compare.embed.embedder import offline_environment, resolve_device, model_location

    if not examples:
        raise DataError("no training pairs: give at least one MRPC or STS file with rows")
    offline_environment()
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    location = model_location(base.model)
    tokenizer = AutoTokenizer.from_pretrained(location)
    transformers_logging.set_verbosity_error()  # "classifier newly initialised" is the point here
    transformers_logging.disable_progress_bar()
    device = resolve_device(base.device)  # --device / COMPARE_DEVICE: train on a GPU where there is one
    model = AutoModelForSequenceClassification.from_pretrained(
        location, num_labels=len(HEADS), id2label=dict(enumerate(HEADS)), label2id={name: index for index, name in enumerate(HEADS)}
    ).to(device)
    loss_function = torch.nn.BCEWithLogitsLoss()

    def pair_loss(batch: Sequence[tuple[str, str, float, int]]) -> torch.Tensor:
        features = tokenizer([b[0] for b in batch], [b[1] for b in batch], padding=True, truncation=True, max_length=config.max_length, return_tensors="pt").to(device)
        heads = torch.tensor([b[3] for b in batch], device=device)
        logits = model(**features).logits.gather(1, heads[:, None])[:, 0]  # each pair trains its own head only
        return loss_function(logits, torch.tensor([b[2] for b in batch], dtype=torch.float32, device=device))

    both_orders = [*examples, *((right, left, label, head) for left, right, label, head in examples)]
    _train(
        model, both_orders, pair_loss, epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
        warmup_share=config.warmup_share, weight_decay=0.01, progress=progress,
    )
    output.mkdir(parents=True, exist_ok=True)
    model.to("cpu").save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output


def calibrate_cross_encoder(folder: Path, pairs: Sequence[LabelledPair], *, base: EmbedConfig, fitted_on: str) -> Calibration:
    """Fit the reranker's and the base bi-encoder's F1-best thresholds on `pairs` and save them with the model."""
    from compare.embed.embedder import make_embedder
    from compare.embed.rerank import Calibration, CrossEncoderScorer, save_calibration

    if not pairs:
        raise DataError("no calibration pairs: the MRPC file has no rows in its calibration part")
    gold = np.array([p.label == 1 for p in pairs])
    embedder = make_embedder(base)
    cosines = np.sum(embedder.encode([p.left for p in pairs]) * embedder.encode([p.right for p in pairs]), axis=1)
    scorer = CrossEncoderScorer(folder, device=base.device, calibrated=False)
    scores = scorer.score([(p.left, p.right) for p in pairs], cosines)
    threshold, f1 = best_f1_threshold(scores, gold)
    cosine_threshold, _ = best_f1_threshold(cosines, gold)
    calibration = Calibration(
        round(threshold, 6), round(cosine_threshold, 6), fitted_on, len(pairs), round(f1, 4),
        cross_encoder_weight=round(scorer.default_weight, 6), embedding_model=base.model,
    )
    save_calibration(folder, calibration)
    return calibration
