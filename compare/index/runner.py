"""The build runner: reads the corpus, runs the stages in order, timing and counting each, and hands
their outputs to the snapshot store.

Builds are incremental: each stage reuses what the previous snapshot holds for unchanged articles
(compare.index.stages); `full=True` recomputes everything. Story and wire-cluster ids are carried
over from the previous snapshot by member overlap either way (snapshot.stable_ids). When the corpus,
the models and the settings are unchanged nothing is built (`Index.reused`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from compare.core.config import Settings
from compare.core.distributed import Engine, EngineRunError, LocalEngine, check_engine, open_engine
from compare.embed.embedder import Embedder, cached_embedder, make_embedder
from compare.index.snapshot import (
    CLAIM_VECTORS,
    CLAIMS,
    COPIES,
    FACTS,
    REFS,
    SNAPSHOT_FORMAT,
    VECTORS,
    Index,
    IndexBuildError,
    IndexMissingError,
    Manifest,
    SnapshotDamagedError,
    build_lock,
    load_index,
    load_snapshot,
    parquet_writer,
    prune_snapshots,
    remove_leftovers,
    short_error,
    snapshot_refs,
    snapshots_dir,
    switch_current,
    vectors_writer,
    write_snapshot,
)
from compare.index.stages import (
    ArticleVectorsStage,
    ClaimsStage,
    ClaimVectorsStage,
    Corpus,
    FactsStage,
    Previous,
    Stage,
    StageResult,
    StoriesStage,
    WireCopyStage,
)
from compare.index.spool import scratch_folder
from compare.core.progress import StageProgress
from compare.core.schema import ARTICLE_REF_COLUMNS
from compare.core.store import ArticleTexts, CorpusDamagedError, Store

BuildProgress = StageProgress
Notice = Callable[[str], None]


def build_stages(settings: Settings, embedder: Embedder, scratch: Path) -> list[Stage]:
    """The build's stages in order, each given only its own settings; `scratch` is the build's
    folder for spooled files (compare.index.spool)."""
    return [
        ClaimsStage(scratch),
        WireCopyStage(settings.minhash, settings.home),
        ArticleVectorsStage(embedder, settings.article_embed),
        StoriesStage(settings.stories, scratch),
        ClaimVectorsStage(settings.claim_embed, settings.home, settings.index.precompute_claims_min_outlets, scratch),
        FactsStage(settings, settings.index.precompute_claims_min_outlets, scratch),
    ]


def run_stages(
    stages: Sequence[Stage], corpus: Corpus, previous: Previous | None, engine: Engine, report: BuildProgress
) -> tuple[dict[str, Any], dict[str, float], dict[str, dict[str, object]]]:
    """Run `stages` in order; returns everyone's outputs (later stages may replace a key, e.g. the
    claim table gains its vector rows), seconds per stage and the stages' counts (with cpu_seconds)."""
    built: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    stats: dict[str, dict[str, object]] = {}
    for stage in stages:
        started, cpu_started = time.perf_counter(), time.process_time()
        result: StageResult = stage.run(corpus, previous, engine, built, lambda done, total, label=stage.label: report(label, done, total))
        seconds[stage.name] = time.perf_counter() - started
        built.update(result.outputs)
        # CPU seconds of this process, all its threads: the per-core cost on a shared machine, where
        # wall seconds vary 2x with the neighbours' load (benchmarks/scale.py)
        stats[stage.name] = {**result.stats, "cpu_seconds": round(time.process_time() - cpu_started, 3)}
    return built, seconds, stats


def settings_fingerprint(settings: Settings) -> str:
    """Short hash of what shapes claims, clusters and stories (not the models: vectors are keyed by them)."""
    from compare.text.claims import CLAIM_SPLIT_VERSION

    document = json.dumps(
        {"minhash": asdict(settings.minhash), "stories": asdict(settings.stories), "claims": CLAIM_SPLIT_VERSION,
         "claim_vectors_min_outlets": settings.index.precompute_claims_min_outlets},
        sort_keys=True, default=str,
    )
    return hashlib.blake2b(document.encode(), digest_size=8).hexdigest()


def _previous_snapshot(store: Store, reusable: Callable[[Manifest], bool]) -> Previous | None:
    """The current snapshot as a base for this build; None when missing or unreadable."""
    try:
        index = load_index(store)
        refs = snapshot_refs(index.path)
    except (IndexMissingError, SnapshotDamagedError, OSError, ValueError, TypeError, pl.exceptions.PolarsError):
        return None
    return Previous(index.path, index.manifest, index.clusters, index.stories, refs, reusable(index.manifest))


def _read_corpus(store: Store, previous_refs: pl.DataFrame | None, scratch: Path | None = None) -> Corpus:
    """Articles (without their texts), corpus version and the superseded->latest id map, read
    together under the store lock; the texts are read in chunks as stages need them, from the corpus
    file pinned (hard-linked) into `scratch` so a concurrent ingest cannot change them mid-build."""
    try:
        with store.lock():
            articles, version, renamed = store.article_meta(), store.corpus_version(), store.superseded_ids()
            texts = ArticleTexts(store.articles_path, articles.height, pin=scratch)
    except CorpusDamagedError as error:
        raise IndexBuildError(f"{error}; previous snapshot kept") from error
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        raise IndexBuildError(f"{store.articles_path}: corrupt or unreadable corpus ({short_error(error)}); previous snapshot kept") from error
    known = set(previous_refs["id"].to_list()) if previous_refs is not None else set()
    return Corpus(articles, texts, version, renamed, frozenset(article_id for article_id in articles["id"].to_list() if article_id not in known))


@contextlib.contextmanager
def _build_failures() -> Iterator[None]:
    """A lost Ray task or worker, or a file a stage cannot write (the embedding cache on a full disk),
    fails the build like a corrupt corpus does: the previous snapshot stays current."""
    try:
        yield
    except EngineRunError as error:
        raise IndexBuildError(f"distributed engine failed ({short_error(error)}); previous snapshot kept") from error
    except OSError as error:
        full = error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        where = f"{error.filename}: " if error.filename else ""
        raise IndexBuildError(f"{where}build failed ({'disk full: ' if full else ''}{short_error(error)}); previous snapshot kept") from error


def _is_current(manifest: Manifest, corpus_version: str, model: str, claim_model: str, fingerprint: str, facts: str) -> bool:
    return (
        manifest.format == SNAPSHOT_FORMAT and manifest.corpus_version == corpus_version and manifest.model == model
        and manifest.claim_model == claim_model and manifest.settings == fingerprint and manifest.facts_key == facts
    )


def claim_model_name(settings: Settings) -> str:
    """The name claim vectors are stored under (the claims embedder's; making it loads nothing)."""
    return make_embedder(settings.claim_embed).name


def build_index(
    store: Store,
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    progress: BuildProgress | None = None,
    full: bool = False,
    keep: int | None = None,
    wait: bool = False,
    engine: Engine | None = None,
) -> Index:
    """Run the build stages into a new snapshot and make it current.

    Raises BuildLockedError when another build runs (unless `wait`), IndexBuildError when the corpus
    cannot be read or the snapshot cannot be written; in both cases the previous snapshot stays
    current. `keep` snapshots are kept afterwards (default: settings.index.keep_snapshots). The
    default embedder is the configured article model (settings.article_embed: int8 ONNX on CPU)
    behind the home's embedding cache, so a `--full` build of an unchanged corpus sends no text to
    the model. The
    per-article work runs on `engine`, by default the configured one (settings.index.engine, opened
    only when there is something to build); the snapshot is the same on every engine.
    """
    embedder = embedder or cached_embedder(settings.article_embed, settings.home)
    report = progress or (lambda stage, done, total: None)
    keep = keep if keep is not None else settings.index.keep_snapshots
    if engine is None:
        check_engine(settings.index)
    fingerprint = settings_fingerprint(settings)
    claim_model = claim_model_name(settings)
    facts = _facts_key(settings)
    with build_lock(store, wait=wait), _build_failures(), contextlib.ExitStack() as resources:
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        remove_leftovers(store)
        previous = _previous_snapshot(store, lambda manifest: not full and manifest.settings == fingerprint)
        scratch = resources.enter_context(scratch_folder(snapshots_dir(store)))
        corpus = _read_corpus(store, previous.refs if previous else None, scratch)
        if previous and previous.reusable and _is_current(previous.manifest, corpus.version, embedder.name, claim_model, fingerprint, facts):
            index = load_snapshot(previous.path)
            return Index(index.path, index.manifest, index.clusters, index.stories, reused=True)
        seconds["read"] = time.perf_counter() - started
        if engine is None:
            started = time.perf_counter()
            engine = resources.enter_context(open_engine(settings.index))
            seconds["engine"] = time.perf_counter() - started

        built, stage_seconds, stats = run_stages(build_stages(settings, embedder, scratch), corpus, previous, engine, report)
        seconds.update(stage_seconds)
        final = _write(store, settings, corpus, previous, built, seconds, stats, embedder, fingerprint, engine, report)
        report("switching", 0, 1)
        switch_current(store, final)
        report("switching", 1, 1)
        prune_snapshots(store, keep, locked=True)
    return load_index(store)


def _write(
    store: Store, settings: Settings, corpus: Corpus, previous: Previous | None, built: dict[str, Any], seconds: dict[str, float],
    stats: dict[str, dict[str, object]], embedder: Embedder, fingerprint: str, engine: Engine, report: BuildProgress,
):  # noqa: ANN202 - returns the snapshot's Path
    articles, claims, clusters, stories = corpus.articles, built["claims"], built["clusters"], built["stories"]
    counts = claims.counts
    refs = (
        articles.select(list(ARTICLE_REF_COLUMNS))
        .join(counts, left_on="id", right_on="article_id", how="left")
        .with_columns(pl.col("claims").fill_null(0).cast(pl.Int32))
    )
    reusable = previous is not None and previous.reusable
    manifest = Manifest(
        corpus_version=corpus.version,
        model=embedder.name,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        articles=articles.height,
        clusters=clusters["cluster_id"].n_unique(),
        stories=stories["story_id"].n_unique(),
        seconds=seconds,
        claims=claims.height,
        mode="incremental" if reusable else "full",
        new_articles=len(corpus.new_ids),
        embedded=int(stats.get("embed", {}).get("embedded", 0)),  # type: ignore[call-overload]
        previous=previous.path.name if previous else None,
        dedup_mode=str(stats["dedup"]["mode"]),
        stories_mode=str(stats["stories"]["mode"]),
        settings=fingerprint,
        engine=engine.name,
        claim_model=built["claim_model"],
        claim_vectors=built["claim_vectors"].rows,
        facts_key=_facts_key(settings),
        stages=stats,
    )
    writers = {
        "clusters.parquet": parquet_writer(clusters),
        "stories.parquet": parquet_writer(stories),
        REFS: parquet_writer(refs),
        VECTORS: vectors_writer(built["article_vectors"]),
        CLAIMS: claims.write,
        CLAIM_VECTORS: built["claim_vectors"].write,
        COPIES: parquet_writer(built["copies"]),
        FACTS: built["facts"].write,
    }
    return write_snapshot(store, manifest, writers, report)


def ensure_index(
    store: Store, settings: Settings, *, embedder: Embedder | None = None, progress: BuildProgress | None = None, notice: Notice | None = None
) -> Index:
    """The current index, (re)built first when missing or out of date, saying so through `notice`:
    a report never waits on a build silently. Waits for a running build."""
    embedder = embedder or cached_embedder(settings.article_embed, settings.home)
    say = notice or (lambda message: None)
    try:
        index = load_index(store)
    except (IndexMissingError, SnapshotDamagedError) as missing:
        first = "no index" if isinstance(missing, IndexMissingError) else "no sound snapshot"
        say(f"{first} in {store.home} yet: building it now (what `compare index build` does)")
        return build_index(store, settings, embedder=embedder, progress=progress, wait=True)
    if index.note:
        say(index.note)
    reason = stale_reason(index, store, settings, embedder.name)
    if not reason:
        return index
    say(f"{reason}: updating the index of {store.home} first (what `compare index build` does)")
    try:
        return build_index(store, settings, embedder=embedder, progress=progress, wait=True)
    except IndexBuildError as error:
        say(f"{error}; serving the snapshot {index.path.name} built {index.manifest.built_at}, which misses the latest changes")
        return index


def stale_reason(index: Index, store: Store, settings: Settings, model: str) -> str | None:
    """Why the current snapshot cannot serve a report of this corpus under these settings, or None."""
    manifest = index.manifest
    if manifest.format < SNAPSHOT_FORMAT:
        return "the index was built by an older version (no stored claims)"
    if manifest.corpus_version != store.corpus_version():
        return "the corpus changed since the last build"
    if manifest.model != model or manifest.claim_model != claim_model_name(settings):
        return "the embedding model changed"
    if manifest.settings != settings_fingerprint(settings):
        return "the dedup, story or claim settings changed"
    if manifest.facts_key != _facts_key(settings):
        return "the alignment or divergence settings changed (or a new version finds facts differently)"
    return None


def _facts_key(settings: Settings) -> str:
    from compare.report.story import facts_key

    return facts_key(settings)


def current_clusters(store: Store, settings: Settings, *, notice: Notice | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Wire-copy clusters and their evidence (COPY_SCHEMA) for the corpus as it is now.

    From the current snapshot when it is up to date; otherwise only the wire-copy stage runs (on the
    previous snapshot's clusters where it can), in memory, so listing copies never waits for the
    embedding of every article. Nothing is written: `compare index build` stores it.
    """
    from compare.index.snapshot import COPY_SCHEMA, snapshot_copies

    say = notice or (lambda message: None)
    try:
        index = load_index(store)
    except IndexMissingError:
        index = None
    fingerprint = settings_fingerprint(settings)
    if index is not None and index.manifest.format >= SNAPSHOT_FORMAT and index.manifest.corpus_version == store.corpus_version() and index.manifest.settings == fingerprint:
        return index.clusters, snapshot_copies(index.path)
    say("the index is missing or out of date: finding wire copy now (run `compare index build` to store it)")
    previous = _previous_snapshot(store, lambda manifest: manifest.settings == fingerprint)
    corpus = _read_corpus(store, previous.refs if previous else None)
    result = WireCopyStage(settings.minhash, settings.home).run(corpus, previous, LocalEngine(), {}, lambda done, total: None)
    copies = result.outputs["copies"]
    return result.outputs["clusters"], copies if copies.height else pl.DataFrame(schema=COPY_SCHEMA)
