"""Derived indexes (wire-copy clusters, article vectors, stories) built from the corpus as snapshots.

Each build writes a complete new snapshot directory, then switches the `current` symlink with one
atomic rename, so a reader never sees a half-built index and a crashed build leaves the previous
one serving. Article vectors of the previous snapshot are reused, so only new articles are embedded.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from compare.config import Settings
from compare.dedup import cluster_copies
from compare.embed import Embedder, make_embedder
from compare.schema import CLUSTER_SCHEMA, STORY_SCHEMA, conform
from compare.stories import group_stories, story_text
from compare.store import Store

MANIFEST = "manifest.json"
KEEP_SNAPSHOTS = 2


class IndexMissingError(RuntimeError):
    """No index has been built for this home yet."""


@dataclass(frozen=True)
class Manifest:
    corpus_version: str
    model: str
    built_at: str
    articles: int
    clusters: int
    stories: int
    seconds: dict[str, float]


@dataclass(frozen=True)
class Index:
    path: Path
    manifest: Manifest
    clusters: pl.DataFrame  # CLUSTER_SCHEMA
    stories: pl.DataFrame  # STORY_SCHEMA


def current_path(store: Store) -> Path:
    return store.index_dir / "current"


def load_index(store: Store) -> Index:
    path = current_path(store)
    if not (path / MANIFEST).exists():
        raise IndexMissingError(f"no index in {store.index_dir}; run `compare index build` (or any listing command builds it)")
    resolved = path.resolve()
    manifest = Manifest(**json.loads((resolved / MANIFEST).read_text(encoding="utf-8")))
    clusters = conform(pl.read_parquet(resolved / "clusters.parquet"), CLUSTER_SCHEMA)
    stories = conform(pl.read_parquet(resolved / "stories.parquet"), STORY_SCHEMA)
    return Index(path=resolved, manifest=manifest, clusters=clusters, stories=stories)


def _previous_vectors(store: Store, model: str) -> dict[str, np.ndarray]:
    try:
        previous = load_index(store)
    except IndexMissingError:
        return {}
    if previous.manifest.model != model or not (previous.path / "article_vectors.npy").exists():
        return {}
    ids = json.loads((previous.path / "article_ids.json").read_text(encoding="utf-8"))
    vectors = np.load(previous.path / "article_vectors.npy")
    return dict(zip(ids, vectors, strict=True))


def article_vectors(
    articles: pl.DataFrame, embedder: Embedder, cached: dict[str, np.ndarray], progress: Callable[[int, int], None] | None
) -> np.ndarray:
    """story_text embeddings in row order; rows already in `cached` are not embedded again."""
    ids = articles["id"].to_list()
    missing = [row for row, article_id in enumerate(ids) if article_id not in cached]
    texts = [story_text(title, text) for title, text in articles.select("title", "text").iter_rows()]
    fresh: dict[int, np.ndarray] = {}
    chunk = 256
    for offset in range(0, len(missing), chunk):
        rows = missing[offset : offset + chunk]
        for row, vector in zip(rows, embedder.encode([texts[r] for r in rows]), strict=True):
            fresh[row] = vector
        if progress:
            progress(min(offset + chunk, len(missing)), len(missing))
    dimension = embedder.dimension or (next(iter(cached.values())).shape[0] if cached else 0)
    matrix = np.zeros((len(ids), dimension), dtype=np.float32)
    for row, article_id in enumerate(ids):
        matrix[row] = fresh[row] if row in fresh else cached[article_id]
    return matrix


def _switch_current(store: Store, snapshot: Path) -> None:
    link = current_path(store)
    temporary = link.with_name(f".current-{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(snapshot.relative_to(link.parent))
    os.replace(temporary, link)


def _prune(store: Store, keep: int) -> None:
    snapshots = sorted((store.index_dir / "snapshots").iterdir())
    current = current_path(store).resolve()
    for old in snapshots[:-keep]:
        if old.resolve() != current:
            shutil.rmtree(old, ignore_errors=True)


def build_index(
    store: Store,
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Index:
    """Build clusters, article vectors and stories into a new snapshot and make it current."""
    embedder = embedder or make_embedder(settings.embed)
    report = progress or (lambda stage, done, total: None)
    with store.lock():
        seconds: dict[str, float] = {}
        articles = store.articles()
        started = time.perf_counter()
        report("wire copy", 0, 1)
        clusters = cluster_copies(articles, settings.minhash)
        seconds["dedup"] = time.perf_counter() - started
        report("wire copy", 1, 1)

        started = time.perf_counter()
        cached = _previous_vectors(store, embedder.name)
        vectors = article_vectors(articles, embedder, cached, lambda done, total: report("embedding", done, total))
        seconds["embed"] = time.perf_counter() - started

        started = time.perf_counter()
        links = _copy_links(clusters)
        stories = group_stories(articles, vectors, links, settings.stories)
        seconds["stories"] = time.perf_counter() - started

        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        snapshots = store.index_dir / "snapshots"
        building = snapshots / f".building-{stamp}"
        building.mkdir(parents=True)
        clusters.write_parquet(building / "clusters.parquet")
        stories.write_parquet(building / "stories.parquet")
        np.save(building / "article_vectors.npy", vectors)
        (building / "article_ids.json").write_text(json.dumps(articles["id"].to_list()), encoding="utf-8")
        manifest = Manifest(
            corpus_version=store.corpus_version(),
            model=embedder.name,
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            articles=articles.height,
            clusters=clusters["cluster_id"].n_unique(),
            stories=stories["story_id"].n_unique(),
            seconds={stage: round(value, 3) for stage, value in seconds.items()},
        )
        (building / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        final = snapshots / stamp
        building.rename(final)
        _switch_current(store, final)
        _prune(store, KEEP_SNAPSHOTS)
    return load_index(store)


def _copy_links(clusters: pl.DataFrame) -> list[tuple[str, str]]:
    sources = clusters.filter(pl.col("is_source")).select("cluster_id", pl.col("article_id").alias("source_id"))
    members = clusters.filter(~pl.col("is_source")).join(sources, on="cluster_id")
    return list(members.select("source_id", "article_id").iter_rows())


def ensure_index(store: Store, settings: Settings, *, embedder: Embedder | None = None, progress=None) -> Index:  # noqa: ANN001
    """The current index, rebuilt first when the corpus or the model changed since it was built."""
    try:
        index = load_index(store)
    except IndexMissingError:
        return build_index(store, settings, embedder=embedder, progress=progress)
    model = (embedder.name if embedder else settings.embed.model)
    if index.manifest.corpus_version != store.corpus_version() or index.manifest.model != model:
        return build_index(store, settings, embedder=embedder, progress=progress)
    return index
