"""compare.embed.embedder: the persistent embedding cache (keys, reuse across runs, shards), backends agree."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from compare.core.config import EmbedConfig
from compare.embed.embedder import CachedEmbedder, EmbeddingCache, HashingEmbedder, ModelLoadError, cached_embedder, make_embedder


class CountingEmbedder(HashingEmbedder):
    """HashingEmbedder that records every batch it is asked to embed."""

    def __init__(self) -> None:
        super().__init__(64)
        self.batches: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super().encode(texts)


def test_cache_embeds_each_normalised_text_once_and_returns_rows_in_order(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    embedder = CachedEmbedder(inner, EmbeddingCache(tmp_path))
    texts = ["The depot exploded.", "Rescuers searched the rubble.", "The  depot exploded. ", "“Hi,” he said.", '"Hi," he said.']
    vectors = embedder.encode(texts)
    assert [text for batch in inner.batches for text in batch] == sorted(
        ["The depot exploded.", "Rescuers searched the rubble.", '"Hi," he said.'], key=len
    )
    np.testing.assert_array_equal(vectors[0], vectors[2])  # wire copy with other spacing: one vector
    np.testing.assert_array_equal(vectors[3], vectors[4])  # curly vs straight quotes
    np.testing.assert_allclose(vectors, HashingEmbedder(64).encode(texts), atol=1e-6)


def test_rerun_on_grown_corpus_embeds_only_new_texts(tmp_path: Path) -> None:
    first = CachedEmbedder(CountingEmbedder(), EmbeddingCache(tmp_path))
    before = first.encode(["one two three", "four five six"])
    inner = CountingEmbedder()
    second = CachedEmbedder(inner, EmbeddingCache(tmp_path))  # a new process: reads the shards back
    after = second.encode(["four five six", "seven eight nine", "one two three"])
    assert inner.batches == [["seven eight nine"]]
    assert second.embedded == 1
    np.testing.assert_array_equal(after[[2, 0]], before)


def test_case_is_part_of_the_key(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    CachedEmbedder(inner, EmbeddingCache(tmp_path)).encode(["US strike", "us strike"])
    assert sorted(text for batch in inner.batches for text in batch) == ["US strike", "us strike"]


def test_batches_are_length_sorted_and_progress_is_reported(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    calls: list[tuple[int, int]] = []
    texts = [f"claim {'word ' * (n % 7)}{n}" for n in range(25)]
    CachedEmbedder(inner, EmbeddingCache(tmp_path), progress=lambda done, total: calls.append((done, total)), chunk=10).encode(texts)
    flat = [text for batch in inner.batches for text in batch]
    assert [len(t) for t in flat] == sorted(len(t) for t in flat)
    assert [len(batch) for batch in inner.batches] == [10, 10, 5]
    assert calls == [(10, 25), (20, 25), (25, 25)]


def test_shards_are_merged_and_nothing_is_lost(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, max_shards=3)
    embedder = CachedEmbedder(CountingEmbedder(), cache)
    texts = [f"sentence number {n}" for n in range(8)]
    for text in texts:
        embedder.encode([text])
    assert len(list(tmp_path.glob("shard-*.npz"))) <= 3
    reread = EmbeddingCache(tmp_path)
    assert len(reread) == 8
    inner = CountingEmbedder()
    np.testing.assert_array_equal(CachedEmbedder(inner, reread).encode(texts), HashingEmbedder(64).encode(texts))
    assert inner.batches == []


def test_keys_ending_in_zero_bytes_round_trip(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    keys = [b"\x01" * 15 + b"\x00", b"\x00" * 16]
    cache.store(keys, np.eye(2, dtype=np.float32))
    found, vectors = EmbeddingCache(tmp_path).lookup(keys)
    assert found == [0, 1]
    np.testing.assert_array_equal(vectors, np.eye(2, dtype=np.float32))


def test_empty_input_gives_empty_matrix(tmp_path: Path) -> None:
    assert CachedEmbedder(HashingEmbedder(32), EmbeddingCache(tmp_path)).encode([]).shape == (0, 32)


def test_auto_backend_is_onnx_on_cpu_and_torch_on_gpu() -> None:
    from compare.embed.embedder import resolve_backend

    assert resolve_backend(EmbedConfig()) == "onnx"
    assert resolve_backend(EmbedConfig(device="cuda")) == "torch"
    assert resolve_backend(EmbedConfig(backend="onnx-int8", device="cuda")) == "onnx-int8"


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ModelLoadError, match="unknown embedding backend 'tensorrt'"):
        make_embedder(EmbedConfig(backend="tensorrt"))


def test_hash_backend_stands_in_for_the_model_at_its_dimension(tmp_path: Path) -> None:
    embedder = make_embedder(EmbedConfig(backend="hash"))
    assert (embedder.name, embedder.dimension) == ("bundled:all-MiniLM-L6-v2+hash", 384)
    texts = ["Storm floods the coast of Florida", "Florida coast flooded by a storm", "Parliament passes the budget"]
    vectors = embedder.encode(texts)
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.array_equal(vectors, make_embedder(EmbedConfig(backend="hash")).encode(texts))  # deterministic
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.3 and abs(similarity[0, 2]) < 0.2  # shared words, not unrelated ones
    assert cached_embedder(EmbedConfig(backend="hash"), tmp_path).cache.folder != cached_embedder(EmbedConfig(), tmp_path).cache.folder
    with pytest.raises(ModelLoadError, match="vector size of 'some/hub-model'"):
        make_embedder(EmbedConfig(model="some/hub-model", backend="hash"))


def test_cached_embedder_separates_models_and_backends(tmp_path: Path) -> None:
    torch_cache = cached_embedder(EmbedConfig(), tmp_path).cache.folder
    onnx_cache = cached_embedder(EmbedConfig(backend="onnx-int8"), tmp_path).cache.folder
    other = cached_embedder(EmbedConfig(model="some/other-model"), tmp_path).cache.folder
    assert len({torch_cache, onnx_cache, other}) == 3
    assert torch_cache.parent == tmp_path / "cache" / "embeddings"


SENTENCES = [
    "Israel carried out several strikes with US and Russian approval.",
    "Washington and Moscow gave Israel a green light for the strikes.",
    "The depot lies 80 kilometres north of Baghdad.",
    "A heat wave caused power cuts across the country.",
]


@pytest.mark.filterwarnings("ignore")
def test_onnx_backends_agree_with_torch() -> None:
    """The bundled model through onnxruntime: fp32 equals torch, int8 stays close (its quality is
    measured on MRPC/STS by benchmarks/claims.py). Uses the default export folder, so the export
    (~3 s plus torch import) runs once per machine."""
    pytest.importorskip("onnxruntime")
    reference = make_embedder(EmbedConfig(backend="torch")).encode(SENTENCES)
    fp32_embedder = make_embedder(EmbedConfig(backend="onnx"))
    fp32 = fp32_embedder.encode(SENTENCES)
    int8_embedder = make_embedder(EmbedConfig(backend="onnx-int8"))
    int8 = int8_embedder.encode(SENTENCES)
    assert fp32_embedder.name == EmbedConfig().model  # same vector space as torch: indexes stay valid
    assert int8_embedder.name.endswith("+onnx-int8")
    assert fp32.shape == int8.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(fp32 * reference, axis=1)) > 0.9999
    assert np.min(np.sum(int8 * reference, axis=1)) > 0.9
    # The paraphrase is still the nearest neighbour under int8.
    assert int(np.argmax(int8[1] @ int8[[0, 2, 3]].T)) == 0
