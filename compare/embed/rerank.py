"""Claim pairs re-scored by a cross-encoder, which reads both claims together.

A bi-encoder embeds each claim alone, so "five fighters were killed" and "two fighters were killed"
land close together and a plain cosine cut cannot tell paraphrase from near-miss. A cross-encoder
attends across the pair; it is too slow to compare every claim with every other, so FAISS still
proposes the candidates (align/alignment.py) and the cross-encoder decides (the retrieve-then-rerank pattern of
NEWS-COPY's bi-encoder + re-rank). The model is one `compare finetune --cross-encoder` writes; it
carries a calibration file with the decision threshold fitted on training pairs it never trained on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = "compare-calibration.json"


class RerankerError(RuntimeError):
    """The configured reranker cannot be used; the message names the folder and what is wrong."""


@dataclass(frozen=True)
class Calibration:
    """Decision thresholds fitted on labelled pairs the model did not train on.

    `threshold` applies to the reranker's score; `cosine_threshold` is the same decision on the base
    bi-encoder's cosine, fitted on the same pairs, so both can be compared on held-out data.
    The score is `cross_encoder_weight` x the cross-encoder's probability (the mean of its heads) + the
    rest x the rescaled bi-encoder cosine, each head and the cosine weighing the same (2/3 for the
    two-head model): the views err differently (on held-out MRPC/STS news, the blend kept F1 and raised
    Spearman 0.02-0.03 over the cross-encoder alone; docs/benchmarks.md). Older one-head models stored 0.5.
    """

    threshold: float
    cosine_threshold: float
    fitted_on: str
    pairs: int
    f1_on_fit_pairs: float
    cross_encoder_weight: float = 0.5
    embedding_model: str = ""  # the bi-encoder whose cosines the threshold was fitted with


def load_calibration(folder: Path) -> Calibration:
    path = Path(folder) / CALIBRATION_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Calibration(**{key: raw[key] for key in Calibration.__dataclass_fields__ if key in raw})
    except FileNotFoundError as error:
        raise RerankerError(f"{path}: missing; write the reranker with `compare finetune --cross-encoder`") from error
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise RerankerError(f"{path}: not a calibration file ({error})") from error


def save_calibration(folder: Path, calibration: Calibration) -> None:
    path = Path(folder) / CALIBRATION_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(calibration), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


class CrossEncoderScorer:
    """Scores (left, right) text pairs in [0, 1]: the cross-encoder's probability (the mean of both
    orders, so the score is symmetric, and of its heads) blended with the pair's bi-encoder cosine
    (see Calibration)."""

    def __init__(self, folder: str | Path, *, device: str = "cpu", batch_size: int = 32, calibrated: bool = True) -> None:
        self.folder = Path(folder)
        if not (self.folder / "config.json").exists():
            raise RerankerError(f"{self.folder}: not a cross-encoder folder (no config.json); write one with `compare finetune --cross-encoder`")
        self.device = device
        self.batch_size = batch_size
        # Only `compare finetune` itself scores with an uncalibrated model (to fit the calibration).
        self.calibration = load_calibration(self.folder) if calibrated else None
        self.name = f"cross-encoder:{self.folder.resolve()}"
        self.heads = _head_count(self.folder)
        self._model = None

    @property
    def default_weight(self) -> float:
        """Each head and the cosine weigh the same in the blend."""
        return self.heads / (self.heads + 1)

    def _load(self):  # noqa: ANN202 - sentence_transformers types are imported lazily
        if self._model is None:
            from compare.embed.embedder import offline_environment, resolve_device

            offline_environment()
            from sentence_transformers import CrossEncoder
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # "Loading weights" bars in report output

            self._model = CrossEncoder(str(self.folder), device=resolve_device(self.device), local_files_only=True)
        return self._model

    def score(self, pairs: Sequence[tuple[str, str]], cosines: np.ndarray) -> np.ndarray:
        """The calibrated blend for pairs whose bi-encoder cosines are `cosines`."""
        weight = self.calibration.cross_encoder_weight if self.calibration else self.default_weight
        return blend(self.probabilities(pairs), cosines, weight)

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """The cross-encoder alone: the mean over both orders and over heads of each head's sigmoid."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        import torch

        model = self._load()
        both_orders = [*pairs, *((right, left) for left, right in pairs)]
        scores = model.predict(both_orders, batch_size=self.batch_size, show_progress_bar=False, activation_fn=torch.nn.Sigmoid())
        per_pair = np.asarray(scores, dtype=np.float32).reshape(len(both_orders), -1).mean(axis=1)
        return (per_pair[: len(pairs)] + per_pair[len(pairs) :]) / 2


def _head_count(folder: Path) -> int:
    """Output logits in the model's config.json (1 for rerankers written before the two-head model)."""
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise RerankerError(f"{path}: not readable as JSON ({error})") from error
    return max(1, len(config.get("id2label") or {}))


def blend(probabilities: np.ndarray, cosines: np.ndarray, weight: float) -> np.ndarray:
    """weight x probability + (1 - weight) x cosine mapped from [-1, 1] to [0, 1]."""
    rescaled = (np.asarray(cosines, dtype=np.float32) + 1.0) / 2.0
    return (weight * np.asarray(probabilities, dtype=np.float32) + (1.0 - weight) * rescaled).astype(np.float32)


def configured_scorer(reranker: str, threshold: float, *, embedding_model: str, device: str = "cpu") -> tuple[CrossEncoderScorer | None, float | None]:
    """The scorer and decision threshold for AlignConfig.reranker/rerank_threshold (None, None when unset).

    The score blends in the embedding model's cosine, so a reranker calibrated with another
    embedding model would be cut at a meaningless threshold: that is refused.
    """
    if not reranker:
        return None, None
    scorer = CrossEncoderScorer(reranker, device=device)
    assert scorer.calibration is not None
    calibrated_with = scorer.calibration.embedding_model
    if calibrated_with and calibrated_with != embedding_model:
        raise RerankerError(
            f"{scorer.folder}: calibrated with embedding model {calibrated_with!r}, but the configured model is "
            f"{embedding_model!r}; use that model or train the reranker again with `compare finetune --cross-encoder`"
        )
    return scorer, threshold or scorer.calibration.threshold
