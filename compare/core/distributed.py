"""Where the per-article work of an index build runs: in this process ("local") or as Ray tasks ("ray").

An engine maps a function over batches and hands the results back in batch order; nothing else.
The index build uses it for the work that is independent per article (claim spans, title+lede
embeddings, claim embeddings, TF-IDF word counts), for wire copy's batch passes (template counts,
signatures and band keys, verification of candidate pairs: compare.dedup.clusters.find_reuse), per
time bucket (story linkage's neighbour search: compare.core.vectors.window_search; its candidate
scoring and average-linkage blocks: compare.stories.grouping) and per story (the facts of
multi-outlet stories: compare.index.stages.facts_documents). The other global steps (summing
template counts, grouping band keys, clustering, snapshot writing) stay on the driver. Both
engines produce the same snapshot. What is shipped to a Ray worker is a module-level function and
small frozen configs or arrays, never a loaded model: a worker loads its embedder once per process
(`worker_embedder`) and keeps it for the following tasks.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from compare.core.config import ConfigError, EmbedConfig, IndexConfig
from compare.core.progress import StepProgress
from compare.embed.embedder import Embedder, make_embedder

ENGINES = ("local", "ray")
# Articles per task. A batch of 256 title+ledes is ~2.5 s of MiniLM on one core, so the ~1 ms a Ray
# task costs is noise, and a 1,000-article build still has 4 tasks to spread.
ARTICLES_PER_BATCH = 256

BatchT = TypeVar("BatchT")
ResultT = TypeVar("ResultT")
BatchProgress = StepProgress  # (batches done, batches in all)


class EngineError(ConfigError):
    """The engine cannot be used as configured (unknown name, ray not installed, cluster unreachable)."""


class EngineRunError(RuntimeError):
    """The engine lost a task or a worker (not an error raised by the code the task ran)."""


class Engine(Protocol):
    """Runs a function over batches; results come back in the order of `batches`."""

    name: str
    batch_size: int

    def map_batches(
        self, fn: Callable[[BatchT], ResultT], batches: Sequence[BatchT], progress: BatchProgress | None = None
    ) -> list[ResultT]: ...

    def encoder(self, embedder: Embedder, config: EmbedConfig, cache_dir: Path | None = None) -> Callable[[list[str]], np.ndarray]: ...


def in_waves(engine: Engine, fn: Callable[[BatchT], ResultT], batches: Iterator[BatchT], per_wave: int) -> Iterator[ResultT]:
    """Engine results batch by batch, `per_wave` batches handed to the engine at a time, so the
    batches and results held at once are a wave's, not the whole input's."""
    while wave := list(itertools.islice(batches, max(1, per_wave))):
        yield from engine.map_batches(fn, wave)


class LocalEngine:
    """Batches one after the other in this process, with the embedder object the caller gave."""

    name = "local"

    def __init__(self, *, batch_size: int = ARTICLES_PER_BATCH) -> None:
        self.batch_size = batch_size

    def map_batches(
        self, fn: Callable[[BatchT], ResultT], batches: Sequence[BatchT], progress: BatchProgress | None = None
    ) -> list[ResultT]:
        results = []
        for done, batch in enumerate(batches, start=1):
            results.append(fn(batch))
            if progress:
                progress(done, len(batches))
        return results

    def encoder(self, embedder: Embedder, config: EmbedConfig, cache_dir: Path | None = None) -> Callable[[list[str]], np.ndarray]:
        return embedder.encode


class RayEngine:
    """Batches as plain Ray tasks on the runtime this process is connected to (see open_engine)."""

    name = "ray"

    def __init__(self, *, batch_size: int = ARTICLES_PER_BATCH) -> None:
        self.batch_size = batch_size
        self._ray = _import_ray()
        if not self._ray.is_initialized():
            raise EngineError("the ray engine needs a Ray runtime: use open_engine(), or call ray.init() first")
        self._task = self._ray.remote(_run_batch)

    def map_batches(
        self, fn: Callable[[BatchT], ResultT], batches: Sequence[BatchT], progress: BatchProgress | None = None
    ) -> list[ResultT]:
        ray = self._ray
        shipped = ray.put(fn)  # one copy in the object store, not one per task
        refs = [self._task.remote(shipped, batch) for batch in batches]
        pending, done = list(refs), 0
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                done += len(ready)
                if progress:
                    progress(done, len(refs))
            return list(ray.get(refs))
        except ray.exceptions.RayTaskError as error:
            # The task's own exception (a ModelLoadError, say), not Ray's wrapper with a remote traceback.
            cause = error.cause if isinstance(error.cause, BaseException) else None
            if cause is None or isinstance(cause, ray.exceptions.RayError):  # Ray's own failure, e.g. an argument lost
                raise EngineRunError(f"ray: {_first_line(cause or error)}") from error
            raise cause from error
        except ray.exceptions.RayError as error:
            raise EngineRunError(f"ray: {_first_line(error)}") from error

    def encoder(self, embedder: Embedder, config: EmbedConfig, cache_dir: Path | None = None) -> Callable[[list[str]], np.ndarray]:
        """Workers embed with `config` (an embedder object cannot be shipped), so it must name the same model."""
        expected = make_embedder(config, cache_dir=cache_dir).name
        if embedder.name != expected:
            raise EngineError(
                f"the ray engine embeds with the configured model '{expected}', but the build was given an embedder "
                f"for '{embedder.name}'; set [embed] model instead of passing an embedder"
            )
        return partial(encode_on_worker, config, cache_dir)


def _run_batch(fn: Callable[[Any], Any], batch: Any) -> Any:
    """The one Ray task: apply `fn` to a batch (Ray resolves `fn` from the object store)."""
    return fn(batch)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise EngineError('engine "ray" needs the ray package: pip install "ray>=2.9" (the "distributed" extra of this project)') from error
    return ray


def make_engine(name: str, *, batch_size: int = ARTICLES_PER_BATCH) -> Engine:
    """The engine called `name`; for "ray" a Ray runtime must already be initialised (open_engine does it)."""
    if name == "local":
        return LocalEngine(batch_size=batch_size)
    if name == "ray":
        return RayEngine(batch_size=batch_size)
    raise EngineError(f"unknown engine '{name}' (known: {', '.join(ENGINES)})")


def check_engine(config: IndexConfig) -> None:
    """Raise EngineError now for an unknown engine or a missing ray, before a build takes its lock."""
    if config.engine not in ENGINES:
        raise EngineError(f"unknown engine '{config.engine}' (known: {', '.join(ENGINES)}); set engine in the index section of compare.toml, or --engine")
    if config.engine == "ray":
        _import_ray()


@contextlib.contextmanager
def open_engine(config: IndexConfig, *, batch_size: int = ARTICLES_PER_BATCH) -> Iterator[Engine]:
    """The configured engine for the length of a build.

    "ray" joins the Ray runtime this process already has, else starts one: `ray_address` "" starts a
    local runtime on this machine's cores, "auto" joins the cluster started with `ray start` here,
    "ray://host:10001" joins a remote cluster through Ray Client. A runtime started here is shut down
    on exit; one that was already running is left alone.
    """
    check_engine(config)
    if config.engine == "local":
        yield LocalEngine(batch_size=batch_size)
        return
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        try:
            if config.ray_address:
                ray.init(address=config.ray_address)
            else:
                ray.init(include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = config.ray_address or "a local runtime"
            raise EngineError(f"cannot start or join Ray at {where} ({_first_line(error)})") from error
        started = True
    try:
        yield RayEngine(batch_size=batch_size)
    finally:
        if started:
            ray.shutdown()


# --------------------------------------------------------------------------- embeddings


_WORKER_EMBEDDERS: dict[tuple[EmbedConfig, str], Embedder] = {}


def worker_embedder(config: EmbedConfig, cache_dir: Path | None) -> Embedder:
    """This process's embedder for `config`, made on first use and kept: a Ray worker runs many
    tasks, and loading MiniLM costs ~1 s each time."""
    key = (config, str(cache_dir or ""))
    if key not in _WORKER_EMBEDDERS:
        _WORKER_EMBEDDERS[key] = make_embedder(config, cache_dir=cache_dir)
    return _WORKER_EMBEDDERS[key]


def encode_on_worker(config: EmbedConfig, cache_dir: Path | None, texts: list[str]) -> np.ndarray:
    return worker_embedder(config, cache_dir).encode(texts)


class BatchedEmbedder:
    """An Embedder whose `encode` splits the texts into engine batches (in order, or as Ray tasks).

    `dimension` is the model's once a batch has come back (a Ray driver never loads the model itself).
    """

    def __init__(
        self, engine: Engine, encode: Callable[[list[str]], np.ndarray], *, name: str, dimension: int, progress: BatchProgress | None = None
    ) -> None:
        self.engine = engine
        self._encode = encode
        self.name = name
        self.dimension = dimension
        self.progress = progress

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        size = self.engine.batch_size
        batches = _batches(texts, size)
        total = len(texts)

        def report(done: int, count: int) -> None:
            if self.progress:
                self.progress(total if done == count else min(done * size, total), total)

        parts = self.engine.map_batches(self._encode, batches, report)
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.dimension = int(parts[0].shape[1])
        return np.concatenate(parts).astype(np.float32, copy=False)


def batched_embedder(
    engine: Engine, embedder: Embedder, config: EmbedConfig, *, cache_dir: Path | None = None, progress: BatchProgress | None = None
) -> BatchedEmbedder:
    """`embedder` run over `engine` batches; `config` (and `cache_dir`, as given to make_embedder) is
    what Ray workers build their own copy of it from."""
    return BatchedEmbedder(engine, engine.encoder(embedder, config, cache_dir), name=embedder.name, dimension=embedder.dimension, progress=progress)


def _batches(texts: Sequence[str], size: int) -> list[list[str]]:
    return [list(texts[offset : offset + size]) for offset in range(0, len(texts), size)]
