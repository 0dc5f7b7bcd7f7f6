"""Shared fixtures: one tiny cross-encoder trained once per test session from the bundled model."""

from __future__ import annotations

from pathlib import Path

import pytest

PARAPHRASES = [
    ("The army said five fighters were killed near the border.", "Five fighters died near the border, the army said.", 1),
    ("Rescuers pulled two children from the rubble on Tuesday.", "Two children were rescued from the rubble on Tuesday.", 1),
    ("The minister resigned after the vote.", "The minister quit after the vote.", 1),
    ("Oil prices rose three percent on Monday.", "Crude climbed 3% on Monday.", 1),
    ("The army said five fighters were killed near the border.", "The festival opened with a concert in the park.", 0),
    ("Rescuers pulled two children from the rubble on Tuesday.", "Shares in the bank fell sharply in early trading.", 0),
    ("The minister resigned after the vote.", "Heavy snow closed schools across the region.", 0),
    ("Oil prices rose three percent on Monday.", "The court adjourned the trial until next month.", 0),
]


@pytest.fixture(scope="session")
def tiny_reranker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real cross-encoder folder with its calibration, trained for a few steps on PARAPHRASES."""
    from compare.core.config import EmbedConfig
    from compare.train.finetune import CrossEncoderConfig, LabelledPair, calibrate_cross_encoder, cross_encoder_examples, finetune_cross_encoder

    pairs = [LabelledPair(str(n), "", "", left, right, float(label)) for n, (left, right, label) in enumerate(PARAPHRASES)]
    # The same pairs teach both heads: as MRPC-style decisions and as STS-style scores (0 or 5).
    examples = cross_encoder_examples(pairs, [LabelledPair(p.key, "", "", p.left, p.right, 5.0 * p.label) for p in pairs]) * 3
    folder = finetune_cross_encoder(examples, tmp_path_factory.mktemp("reranker") / "model", config=CrossEncoderConfig(batch_size=8, learning_rate=1e-4))
    calibrate_cross_encoder(folder, pairs, base=EmbedConfig(), fitted_on="test pairs")
    return folder
