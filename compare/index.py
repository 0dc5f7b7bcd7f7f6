"""Derived indexes (wire-copy clusters, article vectors, stories) built from the corpus as snapshots.

Layout under `<home>/index/`:
    snapshots/<stamp>/        one complete build: manifest.json, clusters.parquet, stories.parquet,
                              articles.parquet (id, outlet, url, title, published, claims; the row
                              order of the vectors), article_vectors.npy
    snapshots/.building-*     a build in progress; a leftover one (build killed) is removed by the next
    snapshots/.pruning-*      a snapshot being deleted (renamed first, so it is never listed half-deleted)
    current -> snapshots/<stamp>   switched with one atomic rename once the snapshot is complete
    .build.lock               held (fcntl) for the whole build, so two builds never run at once

A reader resolves `current` once and reads a complete snapshot; a build that is killed, runs out of
disk or meets a corrupt input leaves the previous snapshot current. Builds are incremental: article
vectors and claim counts of the previous snapshot are reused by article id, so only new articles are
embedded; copies of new articles are looked for only within the dedup time window around them
(incremental_clusters), and new articles are grouped with their nearest neighbours' stories
(incremental_stories). `full=True` recomputes everything. Story and wire-cluster ids are carried over from the
previous snapshot by member overlap, so an id survives while its members do. No file is a pickle
(`np.load(allow_pickle=False)`), and every file's SHA-256 is recorded in the manifest for `verify`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from compare.components import UnionFind
from compare.config import Settings
from compare.distributed import Engine, EngineRunError, LocalEngine, batched_embedder, check_engine, engine_signer, map_texts, open_engine
from compare.embed import Embedder, make_embedder
from compare.schema import ARTICLE_REF_COLUMNS, CLUSTER_SCHEMA, STORY_SCHEMA, UTC_DATETIME, conform
from compare.store import Store, file_lock

MANIFEST = "manifest.json"
KEEP_SNAPSHOTS = 2
SNAPSHOT_FORMAT = 2
VECTORS = "article_vectors.npy"
REFS = "articles.parquet"
PARQUET_FILES = ("clusters.parquet", "stories.parquet", REFS)

# Article rows kept in a snapshot: what `index diff` and `index status` need, without the text.
REF_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "outlet": pl.String(),
    "url": pl.String(),
    "title": pl.String(),
    "published": UTC_DATETIME,
    "claims": pl.Int32(),
}

Progress = Callable[[str, int, int], None]


class IndexMissingError(RuntimeError):
    """No index has been built for this home yet."""


class IndexBuildError(RuntimeError):
    """The build failed (unreadable corpus, disk full...); the previous snapshot is still current."""


class BuildLockedError(RuntimeError):
    """Another `compare index build` holds the build lock of this home."""


@dataclass(frozen=True)
class Manifest:
    corpus_version: str
    model: str
    built_at: str
    articles: int
    clusters: int
    stories: int
    seconds: dict[str, float]
    claims: int = 0
    mode: str = "full"  # "full" or "incremental"
    new_articles: int = 0  # articles not in the previous snapshot
    embedded: int = 0  # articles embedded by this build (the rest came from the previous snapshot)
    previous: str | None = None  # name of the snapshot this one was built on
    dedup_mode: str = "full"  # "incremental": copies of new articles looked for within the dedup window only
    stories_mode: str = "full"  # "incremental": new articles grouped with their nearest neighbours' stories only
    settings: str = ""  # fingerprint of the dedup and story settings; a change forces a full build
    engine: str = "local"  # where the per-article work ran (compare.distributed); results do not depend on it
    files: dict[str, dict[str, object]] = field(default_factory=dict)  # name -> {"sha256", "bytes"}
    format: int = SNAPSHOT_FORMAT

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Unknown keys are ignored, so an older or newer manifest still loads."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class Index:
    path: Path
    manifest: Manifest
    clusters: pl.DataFrame  # CLUSTER_SCHEMA
    stories: pl.DataFrame  # STORY_SCHEMA
    reused: bool = False  # True when build_index found the corpus unchanged and built nothing


def current_path(store: Store) -> Path:
    return store.index_dir / "current"


def snapshots_dir(store: Store) -> Path:
    return store.index_dir / "snapshots"


def load_index(store: Store) -> Index:
    path = current_path(store)
    if not (path / MANIFEST).exists():
        raise IndexMissingError(f"no index in {store.index_dir}; run `compare index build` (or any listing command builds it)")
    return load_snapshot(path.resolve())


def load_snapshot(path: Path) -> Index:
    manifest = Manifest.from_json((path / MANIFEST).read_text(encoding="utf-8"))
    clusters = conform(pl.read_parquet(path / "clusters.parquet"), CLUSTER_SCHEMA)
    stories = conform(pl.read_parquet(path / "stories.parquet"), STORY_SCHEMA)
    return Index(path=path, manifest=manifest, clusters=clusters, stories=stories)


def snapshot_refs(path: Path) -> pl.DataFrame:
    """REF_SCHEMA rows of a snapshot, in the row order of its vectors."""
    return conform(pl.read_parquet(path / REFS), REF_SCHEMA)


def list_snapshots(store: Store) -> list[Path]:
    """Complete snapshots, oldest first (names are UTC stamps, so they sort by time)."""
    directory = snapshots_dir(store)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists())


# --------------------------------------------------------------------------- files and checksums


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_vectors(path: Path, expected_sha256: object) -> np.ndarray | None:
    """The vectors file when its checksum matches the manifest, else None (the cache is then ignored)."""
    if not path.exists() or (expected_sha256 and file_sha256(path) != expected_sha256):
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- stable ids


def stable_ids(groups: pl.DataFrame, column: str, previous: pl.DataFrame | None, renamed: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Rename the groups in `column` to the id of the previous group they share most members with.

    Each previous id goes to at most one group (largest overlap first, ties by id), so a story that
    gains or loses articles keeps its id and a split keeps it on the larger part. `renamed` maps an
    article id to the id of its newer version, so a re-crawled article counts as the same member.
    A fresh id that collides with a kept one is re-hashed deterministically.
    """
    if previous is None or previous.height == 0 or groups.height == 0:
        return groups
    mapping = dict(renamed or {})
    old = previous.select(pl.col(column).alias("old"), pl.col("article_id"))
    if mapping:
        old = old.with_columns(pl.col("article_id").replace(mapping))
    overlap = (
        groups.select(pl.col(column).alias("new"), "article_id")
        .join(old, on="article_id")
        .group_by("new", "old")
        .agg(pl.len().alias("shared"))
        .sort(["shared", "old", "new"], descending=[True, False, False])
    )
    assigned: dict[str, str] = {}
    taken: set[str] = set()
    for new, old_id, _ in overlap.iter_rows():
        if new not in assigned and old_id not in taken:
            assigned[new] = old_id
            taken.add(old_id)
    final: dict[str, str] = {}
    for new in groups[column].unique(maintain_order=True).to_list():
        if new in assigned:
            final[new] = assigned[new]
            continue
        candidate, attempt = new, 0
        while candidate in taken:
            attempt += 1
            prefix = new.split("-", 1)[0]
            candidate = f"{prefix}-" + hashlib.blake2b(f"{new}#{attempt}".encode(), digest_size=5).hexdigest()
        final[new] = candidate
        taken.add(candidate)
    return groups.with_columns(pl.col(column).replace_strict(final))


# --------------------------------------------------------------------------- the build


def build_lock(store: Store, *, wait: bool = False) -> contextlib.AbstractContextManager[None]:
    """Exclusive build lock, separate from the store lock so ingest can run during a build."""
    return file_lock(
        store.index_dir / ".build.lock",
        wait=wait,
        busy=lambda: BuildLockedError(f"another index build is running on {store.home}; try again when it has finished"),
    )


def _remove_leftovers(store: Store) -> list[str]:
    """Delete what a killed build or prune left behind (.building-*, .pruning-*, temporary links); call under the build lock."""
    removed = []
    leftovers = [*snapshots_dir(store).glob(".building-*"), *snapshots_dir(store).glob(".pruning-*")] if snapshots_dir(store).is_dir() else []
    for leftover in sorted(leftovers):
        shutil.rmtree(leftover, ignore_errors=True)
        removed.append(leftover.name)
    for link in store.index_dir.glob(".current-*"):
        link.unlink(missing_ok=True)
        removed.append(link.name)
    return removed


@dataclass(frozen=True)
class _Previous:
    path: Path
    manifest: Manifest
    clusters: pl.DataFrame
    stories: pl.DataFrame
    refs: pl.DataFrame


def _previous_snapshot(store: Store) -> _Previous | None:
    """The current snapshot as a base for an incremental build; None when missing or unreadable."""
    try:
        index = load_index(store)
        refs = snapshot_refs(index.path)
    except (IndexMissingError, OSError, ValueError, pl.exceptions.PolarsError):
        return None
    return _Previous(index.path, index.manifest, index.clusters, index.stories, refs)


def _read_corpus(store: Store) -> tuple[pl.DataFrame, str, dict[str, str]]:
    """Articles, corpus version and the superseded->latest id map, read together under the store lock."""
    try:
        with store.lock():
            return store.articles(), store.corpus_version(), store.superseded_ids()
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        raise IndexBuildError(f"{store.articles_path}: corrupt or unreadable corpus ({_short(error)}); previous snapshot kept") from error


def _short(error: BaseException) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__


def count_claims(texts: list[str]) -> list[int]:
    from compare.text import split_claims

    return [len(split_claims(text)) for text in texts]


# An incremental wire-copy pass is worth it only while the window around the new articles holds
# less than this share of the corpus; past it a full pass costs about the same and is exact.
INCREMENTAL_DEDUP_MAX_SHARE = 0.5
# Articles of each new article's outlet added to the incremental pass, so per-outlet page templates
# (dedup.template_min_articles) are still recognised when the window holds few of that outlet's articles.
TEMPLATE_SAMPLE = 25


def window_subset(articles: pl.DataFrame, new_ids: set[str], window_days: float) -> pl.DataFrame | None:
    """Articles that could be copies of a new one: published within the window of a new article, or
    undated (undated articles pair with any), plus a sample of each new article's outlet. None when a
    new article is undated (it may pair with anything) or the window is off."""
    new = articles.filter(pl.col("id").is_in(list(new_ids)))
    if window_days <= 0 or new["published"].null_count():
        return None
    stamps = np.sort(new["published"].dt.epoch("s").to_numpy().astype(np.float64))
    published = articles["published"].dt.epoch("s").to_numpy().astype(np.float64)  # NaN when undated
    position = np.searchsorted(stamps, np.nan_to_num(published))
    before = stamps[np.clip(position - 1, 0, len(stamps) - 1)]
    after = stamps[np.clip(position, 0, len(stamps) - 1)]
    with np.errstate(invalid="ignore"):
        near = np.isnan(published) | (np.minimum(np.abs(published - before), np.abs(published - after)) <= window_days * 86400.0)
    chosen = articles.filter(pl.Series(near) | pl.col("id").is_in(list(new_ids)))
    outlets = new["outlet"].unique().to_list()
    sample = (
        articles.filter(pl.col("outlet").is_in(outlets))
        .sort("published", descending=True, nulls_last=True)
        .group_by("outlet", maintain_order=True)
        .head(TEMPLATE_SAMPLE)
        .select(articles.columns)
    )
    return pl.concat([chosen, sample]).unique("id", keep="first", maintain_order=True)


def incremental_clusters(
    articles: pl.DataFrame, new_ids: set[str], previous: pl.DataFrame, config: object, *, engine: Engine | None = None
) -> pl.DataFrame | None:
    """Wire-copy clusters of the grown corpus without a full pass: copies of new articles are looked
    for among the articles within the dedup time window of them (a copy outside it is never reported,
    see MinHashConfig.window_days), and merged with the previous clusters. Clusters whose members did
    not change keep their rows. None when a full pass is needed (see window_subset).

    Links between old articles are taken from the previous snapshot as they were; `--full` re-derives
    them (e.g. after the dedup settings change).
    """
    from compare.dedup import cluster_copies, clusters_from_groups

    current = set(articles["id"].to_list())
    if not new_ids:
        kept = previous.filter(pl.col("article_id").is_in(list(current)))
        return kept if kept.height == previous.height else None
    subset = window_subset(articles, new_ids, float(getattr(config, "window_days", 0.0)))
    if subset is None or subset.height > INCREMENTAL_DEDUP_MAX_SHARE * articles.height:
        return None
    found = cluster_copies(subset, config, sign=engine_signer(engine or LocalEngine()))  # type: ignore[arg-type]
    touched = found.filter(pl.col("cluster_id").is_in(found.filter(pl.col("article_id").is_in(list(new_ids)))["cluster_id"].unique().to_list()))
    old = previous.filter(pl.col("article_id").is_in(list(current)))

    previous_sets = {frozenset(g["article_id"].to_list()): key for (key,), g in previous.group_by("cluster_id")}
    frames, changed = [], []
    for members in _union_groups([old, touched], "cluster_id", pl.concat([old["article_id"], touched["article_id"]]).unique(maintain_order=True).to_list()):
        if len(members) < 2:
            continue
        unchanged = previous_sets.get(frozenset(members))
        if unchanged is not None:
            frames.append(previous.filter(pl.col("cluster_id") == unchanged))
        else:
            changed.append(members)
    frames.append(clusters_from_groups(articles.filter(pl.col("id").is_in([m for group in changed for m in group])), changed, config))  # type: ignore[arg-type]
    return conform(pl.concat([conform(frame, CLUSTER_SCHEMA) for frame in frames]), CLUSTER_SCHEMA)


def _union_groups(frames: Sequence[pl.DataFrame], column: str, all_ids: Sequence[str]) -> list[list[str]]:
    """Connected components of group membership over `all_ids` (an id in no group is its own group)."""
    union = UnionFind(all_ids)
    for frame in frames:
        for (_,), group in frame.group_by(column):
            members = [m for m in group["article_id"].to_list() if m in union.parent]
            for member in members[1:]:
                union.join(member, members[0])
    return union.groups()


def incremental_stories(
    articles: pl.DataFrame, vectors: np.ndarray, new_ids: set[str], previous: pl.DataFrame, clusters: pl.DataFrame, config: object
) -> pl.DataFrame | None:
    """Stories of the grown corpus without regrouping everything: each new article is grouped (by
    stories.group_stories) with its nearest neighbours inside the story window, and the groups holding
    a new article are merged into the previous stories (a new article that joins a neighbour joins
    that neighbour's story). Old stories never split here; `--full` regroups everything. None when the
    neighbourhood covers too much of the corpus for this to pay off.
    """
    import faiss

    from compare.stories import group_stories, story_id

    ids = articles["id"].to_list()
    current = set(ids)
    old = previous.filter(pl.col("article_id").is_in(list(current)))
    if not new_ids:
        return old if old.height == len(ids) else None
    new_rows = [row for row, article_id in enumerate(ids) if article_id in new_ids]
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(matrix.shape[1])
    index.add(matrix)
    similarities, neighbours = index.search(matrix[new_rows], min(len(ids), int(getattr(config, "neighbours", 20)) + 1))
    published = articles["published"].dt.epoch("s").to_numpy().astype(np.float64)
    window = float(getattr(config, "window_days", 3.0)) * 86400.0
    # group_stories links on (embedding + tf-idf) / 2 >= floor, so with tf-idf <= 1 an embedding
    # similarity below 2 * floor - 1 can never link: such neighbours need not be looked at.
    floor = min(float(getattr(config, "min_similarity", 0.0)), float(getattr(config, "mutual_floor", 1.0)))
    bound = 2 * floor - 1
    seeds = set(new_rows)
    for row, found, scores in zip(new_rows, neighbours, similarities, strict=True):
        for other, score in zip(found, scores, strict=True):
            near = np.isnan(published[row]) or np.isnan(published[other]) or abs(published[row] - published[other]) <= window
            if other >= 0 and score >= bound and near:
                seeds.add(int(other))
    members = {ids[row] for row in seeds}
    if len(members) > INCREMENTAL_DEDUP_MAX_SHARE * len(ids):
        return None
    rows = [row for row, article_id in enumerate(ids) if article_id in members]
    subset = articles[rows]
    links = [(a, b) for a, b in _copy_links(clusters) if a in members and b in members]
    found = group_stories(subset, vectors[rows], links, config)  # type: ignore[arg-type]
    touched = found.filter(pl.col("story_id").is_in(found.filter(pl.col("article_id").is_in(list(new_ids)))["story_id"].unique().to_list()))
    groups = _union_groups([old, touched], "story_id", ids)
    records = [(story_id(group), article_id) for group in groups for article_id in group]
    return pl.DataFrame(records, schema=STORY_SCHEMA, orient="row")


def article_vectors(articles: pl.DataFrame, embedder: Embedder, cached: Mapping[str, np.ndarray]) -> np.ndarray:
    """story_text embeddings in row order; rows already in `cached` are not embedded again.

    The missing rows go to `embedder` in one call: give a distributed.BatchedEmbedder to have them
    embedded in batches (with progress) on an engine.
    """
    from compare.stories import story_text

    ids = articles["id"].to_list()
    missing = [row for row, article_id in enumerate(ids) if article_id not in cached]
    titles, texts = articles["title"].to_list(), articles["text"].to_list()
    encoded = embedder.encode([story_text(titles[row], texts[row]) for row in missing])
    fresh: dict[int, np.ndarray] = dict(zip(missing, encoded, strict=True))
    dimension = embedder.dimension or (next(iter(cached.values())).shape[0] if cached else 0)
    matrix = np.zeros((len(ids), dimension), dtype=np.float32)
    for row, article_id in enumerate(ids):
        matrix[row] = fresh[row] if row in fresh else cached[article_id]
    return matrix


def build_index(
    store: Store,
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    full: bool = False,
    keep: int | None = None,
    wait: bool = False,
    engine: Engine | None = None,
) -> Index:
    """Build clusters, article vectors and stories into a new snapshot and make it current.

    Incremental unless `full`: vectors and claim counts of the previous snapshot are reused by article
    id; either way story and cluster ids are carried over from it (stable_ids). When the corpus and model are unchanged nothing is built (`Index.reused`). Raises
    BuildLockedError when another build runs (unless `wait`), IndexBuildError when the corpus cannot
    be read or the snapshot cannot be written; in both cases the previous snapshot stays current.
    `keep` snapshots are kept afterwards (default: settings.index.keep_snapshots). The per-article
    work runs on `engine`, by default the configured one (settings.index.engine, opened only when
    there is something to build); the snapshot is the same on every engine.
    """
    embedder = embedder or make_embedder(settings.embed)
    report = progress or (lambda stage, done, total: None)
    keep = keep if keep is not None else _keep_setting(settings)
    if engine is None:
        check_engine(settings.index)
    with build_lock(store, wait=wait), _engine_failures(), contextlib.ExitStack() as resources:
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        _remove_leftovers(store)
        articles, corpus_version, renamed = _read_corpus(store)
        base = _previous_snapshot(store)  # ids are carried over from it even by a full build
        fingerprint = settings_fingerprint(settings)
        # What an incremental build reuses; results made under other dedup/story settings are not.
        previous = None if full or (base and base.manifest.settings != fingerprint) else base
        if previous and previous.manifest.corpus_version == corpus_version and previous.manifest.model == embedder.name:
            index = load_snapshot(previous.path)
            return Index(index.path, index.manifest, index.clusters, index.stories, reused=True)
        seconds["read"] = time.perf_counter() - started
        if engine is None:
            started = time.perf_counter()
            engine = resources.enter_context(open_engine(settings.index))
            seconds["engine"] = time.perf_counter() - started

        known = set(base.refs["id"].to_list()) if base else set()
        ids = articles["id"].to_list()
        new_rows = [row for row, article_id in enumerate(ids) if article_id not in known]

        started = time.perf_counter()
        report("wire copy", 0, 1)
        clusters = None
        if previous is not None:
            clusters = incremental_clusters(articles, {ids[row] for row in new_rows}, previous.clusters, settings.minhash, engine=engine)
        dedup_mode = "full" if clusters is None else "incremental"
        if clusters is None:
            from compare.dedup import cluster_copies

            clusters = cluster_copies(articles, settings.minhash, sign=engine_signer(engine))
        clusters = stable_ids(clusters, "cluster_id", base.clusters if base else None, renamed)
        seconds["dedup"] = time.perf_counter() - started
        report("wire copy", 1, 1)

        started = time.perf_counter()
        cached_claims = dict(zip(previous.refs["id"].to_list(), previous.refs["claims"].to_list(), strict=True)) if previous else {}
        texts = articles["text"].to_list()
        to_count = [row for row, article_id in enumerate(ids) if article_id not in cached_claims]
        fresh_claims = dict(zip(to_count, map_texts(engine, count_claims, [texts[row] for row in to_count]), strict=True))
        claims = [fresh_claims[row] if row in fresh_claims else cached_claims.get(article_id, 0) for row, article_id in enumerate(ids)]
        seconds["claims"] = time.perf_counter() - started

        started = time.perf_counter()
        cached = _cached_vectors(previous, embedder.name) if previous else {}
        batched = batched_embedder(engine, embedder, settings.embed, progress=lambda done, total: report("embedding", done, total))
        vectors = article_vectors(articles, batched, cached)
        embedded = sum(1 for article_id in ids if article_id not in cached)
        seconds["embed"] = time.perf_counter() - started

        started = time.perf_counter()
        stories = None
        if previous is not None:
            stories = incremental_stories(articles, vectors, {ids[row] for row in new_rows}, previous.stories, clusters, settings.stories)
        stories_mode = "full" if stories is None else "incremental"
        if stories is None:
            from compare.stories import group_stories

            stories = group_stories(articles, vectors, _copy_links(clusters), settings.stories)
        stories = stable_ids(stories, "story_id", base.stories if base else None, renamed)
        seconds["stories"] = time.perf_counter() - started

        started = time.perf_counter()
        warm_claim_vectors(store, articles, stories, None if previous is None else {ids[row] for row in new_rows}, settings, report, engine=engine)
        seconds["claim_vectors"] = time.perf_counter() - started

        refs = articles.select(list(ARTICLE_REF_COLUMNS)).with_columns(pl.Series("claims", claims, dtype=pl.Int32))
        manifest = Manifest(
            corpus_version=corpus_version,
            model=embedder.name,
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            articles=articles.height,
            clusters=clusters["cluster_id"].n_unique(),
            stories=stories["story_id"].n_unique(),
            seconds={},
            claims=int(sum(claims)),
            mode="incremental" if previous else "full",
            new_articles=len(new_rows),
            embedded=embedded,
            previous=base.path.name if base else None,
            dedup_mode=dedup_mode,
            stories_mode=stories_mode,
            settings=fingerprint,
            engine=engine.name,
        )
        final = _write_snapshot(store, manifest, seconds, clusters, stories, refs, vectors, report)
        report("switching", 0, 1)
        _switch_current(store, final)
        report("switching", 1, 1)
        prune_snapshots(store, keep, locked=True)
    return load_index(store)


def warm_claim_vectors(
    store: Store,
    articles: pl.DataFrame,
    stories: pl.DataFrame,
    new_ids: set[str] | None,
    settings: Settings,
    report: Progress,
    *,
    engine: Engine | None = None,
) -> int:
    """Embed into the persistent cache the claims a report will need, for multi-outlet stories.

    Only articles new since the previous snapshot (all when `new_ids` is None) of stories with at
    least `index.precompute_claims_min_outlets` outlets; returns how many claims were embedded.
    The model runs on `engine` batches; the cache is read and written here only.
    """
    min_outlets = settings.index.precompute_claims_min_outlets
    if min_outlets <= 0:
        return 0
    from compare.embed import cached_embedder
    from compare.text import claims_frame

    outlets = stories.join(articles.select("id", "outlet"), left_on="article_id", right_on="id")
    wide = outlets.group_by("story_id").agg(pl.col("outlet").n_unique().alias("outlets")).filter(pl.col("outlets") >= min_outlets)
    wanted = stories.join(wide, on="story_id")["article_id"]
    chosen = articles.filter(pl.col("id").is_in(wanted.implode()))
    if new_ids is not None:
        chosen = chosen.filter(pl.col("id").is_in(list(new_ids)))
    texts = claims_frame(chosen)["text"].to_list()
    if not texts:
        return 0
    embedder = cached_embedder(settings.claim_embed, store.home, progress=lambda done, total: report("claim vectors", done, total))
    # Workers build the model as cached_embedder did, with the ONNX export under <home>/cache/embeddings.
    embedder.inner = batched_embedder(engine or LocalEngine(), embedder.inner, settings.claim_embed, cache_dir=store.home / "cache" / "embeddings")
    embedder.encode(texts)
    return embedder.embedded


def settings_fingerprint(settings: Settings) -> str:
    """Short hash of the settings that shape clusters and stories (not the model: vectors are keyed by it)."""
    document = json.dumps({"minhash": asdict(settings.minhash), "stories": asdict(settings.stories)}, sort_keys=True, default=str)
    return hashlib.blake2b(document.encode(), digest_size=8).hexdigest()


@contextlib.contextmanager
def _engine_failures() -> Iterator[None]:
    """A lost Ray task or worker fails the build like a corrupt corpus does: the previous snapshot stays current."""
    try:
        yield
    except EngineRunError as error:
        raise IndexBuildError(f"distributed engine failed ({_short(error)}); previous snapshot kept") from error


def _keep_setting(settings: Settings) -> int:
    return settings.index.keep_snapshots


def _cached_vectors(previous: _Previous, model: str) -> dict[str, np.ndarray]:
    if previous.manifest.model != model:
        return {}
    record = previous.manifest.files.get(VECTORS, {})
    vectors = _load_vectors(previous.path / VECTORS, record.get("sha256"))
    if vectors is None or vectors.ndim != 2 or vectors.shape[0] != previous.refs.height:
        return {}
    return dict(zip(previous.refs["id"].to_list(), vectors, strict=True))


def _write_snapshot(
    store: Store,
    manifest: Manifest,
    seconds: dict[str, float],
    clusters: pl.DataFrame,
    stories: pl.DataFrame,
    refs: pl.DataFrame,
    vectors: np.ndarray,
    report: Progress,
) -> Path:
    """Write every file into .building-<stamp>, fsync, then rename to <stamp>; on failure remove it all."""
    started = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    directory = snapshots_dir(store)
    building = directory / f".building-{stamp}"
    writers: list[tuple[str, Callable[[Path], object]]] = [
        ("clusters.parquet", clusters.write_parquet),
        ("stories.parquet", stories.write_parquet),
        (REFS, refs.write_parquet),
        (VECTORS, lambda path: np.save(path, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)),
    ]
    try:
        building.mkdir(parents=True)
        files: dict[str, dict[str, object]] = {}
        for done, (name, write) in enumerate(writers):
            report("writing", done, len(writers))
            write(building / name)
            _fsync_path(building / name)
            files[name] = {"sha256": file_sha256(building / name), "bytes": (building / name).stat().st_size}
        report("writing", len(writers), len(writers))
        seconds = {**seconds, "write": time.perf_counter() - started}
        final_manifest = Manifest(**{**asdict(manifest), "files": files, "seconds": {k: round(v, 3) for k, v in seconds.items()}})
        (building / MANIFEST).write_text(json.dumps(asdict(final_manifest), indent=2), encoding="utf-8")
        _fsync_path(building / MANIFEST)
        _fsync_path(building)
        final = directory / stamp
        building.rename(final)
        _fsync_path(directory)
    except OSError as error:
        shutil.rmtree(building, ignore_errors=True)
        # numpy reports a short write without an errno ("2304 requested and 1468 written").
        full = error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or error.errno is None
        what = f"disk full: {_short(error)}" if full else _short(error)
        raise IndexBuildError(f"{building}: cannot write the snapshot ({what}); previous snapshot kept") from error
    return final


def _switch_current(store: Store, snapshot: Path) -> None:
    link = current_path(store)
    temporary = link.with_name(f".current-{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(snapshot.relative_to(link.parent))
    os.replace(temporary, link)
    _fsync_path(link.parent)


def prune_snapshots(store: Store, keep: int, *, locked: bool = False) -> list[str]:
    """Delete all but the `keep` newest snapshots (never the current one); returns the names removed.

    Takes the build lock unless the caller holds it, so a prune never races a build.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    if not locked:
        with build_lock(store, wait=True):
            return prune_snapshots(store, keep, locked=True)
    current = current_path(store).resolve() if current_path(store).exists() else None
    removed = []
    for old in list_snapshots(store)[:-keep]:
        if old.resolve() != current:
            # Renamed first, so a prune killed half-way never leaves a half-deleted snapshot listed.
            doomed = old.with_name(f".pruning-{old.name}")
            old.rename(doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            removed.append(old.name)
    return removed


def _copy_links(clusters: pl.DataFrame) -> list[tuple[str, str]]:
    sources = clusters.filter(pl.col("is_source")).select("cluster_id", pl.col("article_id").alias("source_id"))
    members = clusters.filter(~pl.col("is_source")).join(sources, on="cluster_id")
    return list(members.select("source_id", "article_id").iter_rows())


def ensure_index(store: Store, settings: Settings, *, embedder: Embedder | None = None, progress=None) -> Index:  # noqa: ANN001
    """The current index, rebuilt first (waiting for a running build) when the corpus or model changed."""
    embedder = embedder or make_embedder(settings.embed)
    try:
        index = load_index(store)
    except IndexMissingError:
        return build_index(store, settings, embedder=embedder, progress=progress, wait=True)
    if index.manifest.corpus_version != store.corpus_version() or index.manifest.model != embedder.name:
        return build_index(store, settings, embedder=embedder, progress=progress, wait=True)
    return index


# --------------------------------------------------------------------------- status, verify, diff


@dataclass(frozen=True)
class SnapshotStatus:
    name: str
    current: bool
    built_at: str
    age_hours: float
    mode: str
    model: str
    articles: int
    new_articles: int
    claims: int
    clusters: int
    stories: int
    build_seconds: float
    size_mb: float


def snapshot_status(store: Store, *, now: datetime | None = None) -> list[SnapshotStatus]:
    """One row per complete snapshot, oldest first."""
    now = now or datetime.now(timezone.utc)
    current = current_path(store).resolve() if current_path(store).exists() else None
    rows = []
    for path in list_snapshots(store):
        manifest = Manifest.from_json((path / MANIFEST).read_text(encoding="utf-8"))
        built = datetime.fromisoformat(manifest.built_at)
        size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        rows.append(
            SnapshotStatus(
                name=path.name, current=path.resolve() == current, built_at=manifest.built_at,
                age_hours=round((now - built).total_seconds() / 3600, 2), mode=manifest.mode, model=manifest.model,
                articles=manifest.articles, new_articles=manifest.new_articles, claims=manifest.claims,
                clusters=manifest.clusters, stories=manifest.stories,
                build_seconds=round(sum(manifest.seconds.values()), 2), size_mb=round(size / 1e6, 2),
            )
        )
    return rows


def verify_snapshot(path: Path) -> list[str]:
    """Problems found in one snapshot (empty when sound): checksums, readability, consistent counts."""
    try:
        manifest = Manifest.from_json((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as error:
        return [f"{path / MANIFEST}: unreadable manifest ({_short(error)})"]
    problems = []
    expected = (*PARQUET_FILES, VECTORS)
    for name in expected:
        record = manifest.files.get(name)
        if not (path / name).exists():
            problems.append(f"{path / name}: missing")
        elif record is None:
            problems.append(f"{path / name}: no checksum in the manifest (built by an older version)")
        elif file_sha256(path / name) != record.get("sha256"):
            problems.append(f"{path / name}: checksum differs from the manifest")
    if problems:
        return problems
    try:
        clusters = conform(pl.read_parquet(path / "clusters.parquet"), CLUSTER_SCHEMA)
        stories = conform(pl.read_parquet(path / "stories.parquet"), STORY_SCHEMA)
        refs = snapshot_refs(path)
        vectors = np.load(path / VECTORS, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        return [f"{path}: unreadable file ({_short(error)})"]
    checks = [
        (refs.height == manifest.articles, f"articles.parquet has {refs.height} rows, manifest says {manifest.articles}"),
        (vectors.shape[0] == manifest.articles, f"{VECTORS} has {vectors.shape[0]} rows, manifest says {manifest.articles}"),
        (clusters["cluster_id"].n_unique() == manifest.clusters, f"clusters.parquet has {clusters['cluster_id'].n_unique()} clusters, manifest says {manifest.clusters}"),
        (stories["story_id"].n_unique() == manifest.stories, f"stories.parquet has {stories['story_id'].n_unique()} stories, manifest says {manifest.stories}"),
        (stories.height == refs.height and set(stories["article_id"].to_list()) == set(refs["id"].to_list()), "stories do not cover exactly the snapshot's articles"),
        (set(clusters["article_id"].to_list()) <= set(refs["id"].to_list()), "clusters name articles not in the snapshot"),
        (int(refs["claims"].sum() or 0) == manifest.claims, f"claim counts sum to {refs['claims'].sum()}, manifest says {manifest.claims}"),
    ]
    return problems + [f"{path}: {message}" for ok, message in checks if not ok]


DIFF_SCHEMA: dict[str, pl.DataType] = {
    "change": pl.String(),
    "id": pl.String(),
    "outlets": pl.Int32(),
    "added_outlets": pl.List(pl.String()),
    "articles": pl.Int32(),
    "title": pl.String(),
}


def _groups_with_outlets(groups: pl.DataFrame, column: str, refs: pl.DataFrame) -> pl.DataFrame:
    joined = groups.join(refs.select("id", "outlet", "title", "published"), left_on="article_id", right_on="id", how="left")
    return joined.sort("published", nulls_last=True).group_by(column, maintain_order=True).agg(
        pl.col("outlet").drop_nulls().unique().sort().alias("outlet_set"),
        pl.col("title").drop_nulls().first().alias("title"),
        pl.len().cast(pl.Int32).alias("articles"),
    ).rename({column: "id"})


def diff_snapshots(old_path: Path, new_path: Path, *, min_outlets: int = 1) -> pl.DataFrame:
    """DIFF_SCHEMA rows: new stories, stories that gained outlets, and new wire clusters in `new_path`.

    Ids are stable across builds (stable_ids), so an id present in both is the same story.
    """
    old, new = load_snapshot(old_path), load_snapshot(new_path)
    old_refs, new_refs = snapshot_refs(old_path), snapshot_refs(new_path)
    rows: list[pl.DataFrame] = []
    for change_new, column, old_groups, new_groups in (
        ("new story", "story_id", old.stories, new.stories),
        ("new wire cluster", "cluster_id", old.clusters, new.clusters),
    ):
        before = _groups_with_outlets(old_groups, column, old_refs).select("id", pl.col("outlet_set").alias("old_set"))
        after = _groups_with_outlets(new_groups, column, new_refs).join(before, on="id", how="left")
        after = after.with_columns(pl.col("outlet_set").list.set_difference(pl.col("old_set").fill_null([])).list.sort().alias("added_outlets"))
        fresh = after.filter(pl.col("old_set").is_null()).with_columns(pl.lit(change_new).alias("change"))
        gained = after.filter(pl.col("old_set").is_not_null() & (pl.col("added_outlets").list.len() > 0))
        gained = gained.with_columns(pl.lit("gained outlets" if column == "story_id" else "wire cluster gained outlets").alias("change"))
        for frame in (fresh, gained):
            rows.append(
                frame.with_columns(pl.col("outlet_set").list.len().cast(pl.Int32).alias("outlets"))
                .with_columns(pl.when(pl.col("change").str.starts_with("new")).then(pl.col("outlet_set")).otherwise(pl.col("added_outlets")).alias("added_outlets"))
                .filter(pl.col("outlets") >= min_outlets)
                .select(list(DIFF_SCHEMA))
            )
    result = pl.concat(rows, how="vertical") if rows else pl.DataFrame(schema=DIFF_SCHEMA)
    return conform(result, DIFF_SCHEMA).sort(["change", "outlets", "id"], descending=[False, True, False])
