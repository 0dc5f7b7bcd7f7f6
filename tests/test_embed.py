"""compare.embed.embedder: the persistent embedding cache (keys, reuse across runs, its SQLite file), backends agree."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from compare.core.config import EmbedConfig
from compare.embed.embedder import CachedEmbedder, EmbeddingCache, HashingEmbedder, ModelLoadError, _text_key, cached_embedder, make_embedder
from compare.text.normalize import normalize_for_embedding


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
    second = CachedEmbedder(inner, EmbeddingCache(tmp_path))  # a new process: reads the database back
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


def test_cache_is_one_database_opened_on_first_use_and_kept_by_a_new_process(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    cache = EmbeddingCache(folder)
    assert cache.lookup([b"k" * 16])[0] == []  # nothing cached: no file made
    assert len(cache) == 0 and not folder.exists()
    embedder = CachedEmbedder(CountingEmbedder(), cache)
    texts = [f"sentence number {n}" for n in range(8)]
    for text in texts:
        embedder.encode([text])
    assert sorted(path.name for path in folder.iterdir() if not path.name.endswith(("-wal", "-shm"))) == ["vectors.sqlite"]
    reread = EmbeddingCache(folder)
    assert len(reread) == 8
    inner = CountingEmbedder()
    np.testing.assert_array_equal(CachedEmbedder(inner, reread).encode(texts), HashingEmbedder(64).encode(texts))
    assert inner.batches == []


def test_lookup_spans_batches_keeps_key_order_and_skips_misses_and_repeats(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    keys = [n.to_bytes(16, "big") for n in range(1200)]
    vectors = np.arange(1200 * 3, dtype=np.float32).reshape(1200, 3)
    cache.store(keys[::2], vectors[::2])
    cache.store(keys[:2], vectors[:2] + 100)  # already there: the first vector stays
    asked = [keys[1199], keys[0], b"x" * 16, *keys[400:1100], keys[0]]
    found, got = EmbeddingCache(tmp_path).lookup(asked)
    expected = [position for position, key in enumerate(asked) if key in set(keys[::2])]
    assert found == expected and got.shape == (len(expected), 3)
    np.testing.assert_array_equal(got, vectors[[int.from_bytes(asked[position], "big") for position in expected]])


def test_a_vector_of_the_wrong_size_is_a_miss(tmp_path: Path) -> None:
    import sqlite3

    cache = EmbeddingCache(tmp_path)
    keys = [b"a" * 16, b"b" * 16, b"c" * 16]
    cache.store(keys, np.ones((3, 4), dtype=np.float32))
    with sqlite3.connect(tmp_path / "vectors.sqlite") as connection:
        connection.execute("UPDATE vectors SET vector = ? WHERE key = ?", (b"\x00" * 12, keys[1]))
    found, vectors = EmbeddingCache(tmp_path).lookup(keys)
    assert found == [0, 2] and vectors.shape == (2, 4)


def test_shards_of_earlier_versions_are_imported_once_then_deleted(tmp_path: Path) -> None:
    texts = [f"old sentence {n}" for n in range(5)]
    keys = np.frombuffer(b"".join(_text_key(normalize_for_embedding(text)) for text in texts), dtype=np.uint8).reshape(5, 16)
    old = HashingEmbedder(64).encode(texts)
    with open(tmp_path / "shard-00000000000000000001-7.npz", "wb") as handle:  # the format EmbeddingCache wrote before
        np.savez(handle, keys=keys[:3], vectors=old[:3])
    with open(tmp_path / "shard-00000000000000000002-7-merged.npz", "wb") as handle:
        np.savez(handle, keys=keys[2:], vectors=old[2:])
    inner = CountingEmbedder()
    np.testing.assert_array_equal(CachedEmbedder(inner, EmbeddingCache(tmp_path)).encode(texts), old)
    assert inner.batches == [] and not list(tmp_path.glob("shard-*"))
    assert len(EmbeddingCache(tmp_path)) == 5


def test_a_damaged_database_is_moved_aside_with_a_warning_and_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "vectors.sqlite").write_bytes(b"not a database at all " * 300)
    inner = CountingEmbedder()
    with caplog.at_level("WARNING", logger="compare.embed.embedder"):
        vectors = CachedEmbedder(inner, EmbeddingCache(tmp_path)).encode(["one", "two"])
    np.testing.assert_array_equal(vectors, HashingEmbedder(64).encode(["one", "two"]))
    aside = list(tmp_path.glob("vectors.sqlite.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"not a database")
    assert [record.levelname for record in caplog.records] == ["WARNING"] and str(tmp_path / "vectors.sqlite") in caplog.text
    assert len(EmbeddingCache(tmp_path)) == 2


def test_a_damaged_page_found_while_reading_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = EmbeddingCache(tmp_path)
    keys = [n.to_bytes(16, "big") for n in range(300)]
    cache.store(keys, np.ones((300, 64), dtype=np.float32))
    cache.close()
    path = tmp_path / "vectors.sqlite"
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page : page * 3] = b"\xff" * (page * 2)  # pages 2 and 3: the table's b-tree
    path.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="compare.embed.embedder"):
        assert EmbeddingCache(tmp_path).lookup(keys)[0] == []
    assert len(list(tmp_path.glob("vectors.sqlite.damaged-*"))) == 1 and "damaged" in caplog.text


def test_the_cache_pickles_without_its_connection_and_reopens(tmp_path: Path) -> None:
    import pickle

    embedder = CachedEmbedder(CountingEmbedder(), EmbeddingCache(tmp_path))
    embedder.encode(["kept"])
    copy = pickle.loads(pickle.dumps(embedder))
    assert copy.cache.lookup([_text_key("kept")])[0] == [0]


@pytest.mark.skipif(sys.platform != "linux", reason="fork and RLIMIT_FSIZE semantics checked on Linux only")
def test_a_forked_child_reopens_the_database(tmp_path: Path) -> None:
    import multiprocessing

    cache = EmbeddingCache(tmp_path)
    cache.store([b"p" * 16], np.ones((1, 4), dtype=np.float32))
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_store_in_child, (cache,)) == 2  # pickled and sent: reopens
    child = multiprocessing.get_context("fork").Process(target=cache.store, args=([b"f" * 16], np.ones((1, 4), dtype=np.float32)))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert len(cache) == 3 and cache.lookup([b"f" * 16])[0] == [0]


@pytest.mark.skipif(sys.platform != "linux", reason="fork and RLIMIT_FSIZE semantics checked on Linux only")
def test_concurrent_writers_and_readers_all_succeed(tmp_path: Path) -> None:
    """Two builds (or a build and a report) on one home: both store and read at once, nothing lost."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_store_and_read, args=(tmp_path, first)) for first in (0, 1000, 500)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert len(EmbeddingCache(tmp_path)) == 2000


def _store_and_read(folder: Path, first: int) -> None:
    cache = EmbeddingCache(folder)
    for start in range(first, first + 1000, 50):
        keys = [n.to_bytes(16, "big") for n in range(start, start + 50)]
        cache.store(keys, np.full((50, 8), start, dtype=np.float32))
        found, vectors = cache.lookup(keys)
        assert found == list(range(50)) and vectors.shape == (50, 8)


def _store_in_child(cache: EmbeddingCache) -> int:
    cache.store([b"c" * 16], np.ones((1, 4), dtype=np.float32))
    return len(cache)


@pytest.mark.skipif(sys.platform != "linux", reason="fork and RLIMIT_FSIZE semantics checked on Linux only")
def test_a_store_past_the_file_size_limit_is_an_oserror_naming_the_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE stands in for a full disk, as in test_store: the build's disk-full handling needs
    an OSError with ENOSPC/EFBIG and the file, not sqlite's "disk I/O error"."""
    script = textwrap.dedent(
        f"""
        import errno, resource, signal
        from pathlib import Path
        import numpy as np
        from compare.embed.embedder import EmbeddingCache
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        cache = EmbeddingCache(Path({str(tmp_path)!r}))
        try:
            for batch in range(100):
                cache.store([(batch * 64 + n).to_bytes(16, "big") for n in range(64)], np.ones((64, 384), np.float32))
        except OSError as error:
            print(error.errno in (errno.EFBIG, errno.ENOSPC), error.filename == cache.path.as_posix(), batch > 0)
        """
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.stdout.split() == ["True", "True", "True"], finished.stderr
    assert 0 < len(EmbeddingCache(tmp_path)) < 6400  # what was committed before is still readable


def test_a_full_database_is_enospc_naming_the_file(tmp_path: Path) -> None:
    """SQLite's own "database or disk is full" (here: max_page_count) is the errno of a full disk."""
    import errno

    cache = EmbeddingCache(tmp_path)
    cache.store([b"a" * 16], np.ones((1, 384), dtype=np.float32))
    cache._connection.execute("PRAGMA max_page_count = 8")  # type: ignore[union-attr]
    with pytest.raises(OSError) as raised:
        cache.store([n.to_bytes(16, "big") for n in range(100)], np.ones((100, 384), dtype=np.float32))
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "vectors.sqlite")
    assert len(cache) == 1  # the failed store left nothing half-written


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
