"""The snapshot store: complete builds on disk, switched atomically, verified, pruned and compared.

Layout under `<home>/index/`:
    snapshots/<stamp>/        one complete build: manifest.json and the files of SNAPSHOT_FILES
    snapshots/.building-*     a build in progress; a leftover one (build killed) is removed by the next
    snapshots/.pruning-*      a snapshot being deleted (renamed first, so it is never listed half-deleted)
    current -> snapshots/<stamp>   switched with one atomic rename once the snapshot is complete
    .build.lock               held (fcntl) for the whole build, so two builds never run at once

A reader resolves `current` once and reads a complete snapshot; a build that is killed, runs out of
disk or meets a corrupt input leaves the previous snapshot current. No file is a pickle
(`np.load(allow_pickle=False)`), and every file's SHA-256 is recorded in the manifest for `verify`.
What a build computes lives in compare.index.stages; compare.index.runner runs them and calls
`write_snapshot` here.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from compare.core.schema import CLAIM_SCHEMA, CLUSTER_SCHEMA, STORY_SCHEMA, UTC_DATETIME, conform
from compare.core.store import Store, file_lock, remove_stale_temporaries, written

MANIFEST = "manifest.json"
KEEP_SNAPSHOTS = 2
# 3: claims, claim vectors and wire-copy evidence are stored, so reports read instead of recomputing;
# 4: and what each multi-outlet story's report finds (facts.parquet).
SNAPSHOT_FORMAT = 4
VECTORS = "article_vectors.npy"
REFS = "articles.parquet"
CLAIMS = "claims.parquet"
CLAIM_VECTORS = "claim_vectors.npy"
COPIES = "copies.parquet"
FACTS = "facts.parquet"
PARQUET_FILES = ("clusters.parquet", "stories.parquet", REFS, CLAIMS, COPIES, FACTS)
SNAPSHOT_FILES = (*PARQUET_FILES, VECTORS, CLAIM_VECTORS)

# Claims as stored: CLAIM_SCHEMA plus the row of the claim's vector in claim_vectors.npy (null when
# the claim was not embedded at build time: its story had fewer outlets than the build embeds).
STORED_CLAIM_SCHEMA: dict[str, pl.DataType] = {**CLAIM_SCHEMA, "vector_row": pl.Int32()}

# What a report finds in a story several outlets cover, computed by the build (report.encode_facts):
# used by `compare report` when `members` (report.members_key) and `key` (report.facts_key) match.
FACTS_SCHEMA: dict[str, pl.DataType] = {
    "story_id": pl.String(),
    "members": pl.String(),
    "key": pl.String(),
    "document": pl.String(),
}

# Wire-copy evidence: one row per copy (a cluster member that is not its source), the
# dedup.CopyDetail as JSON (spans, own ranges, sentence diff), so reports never re-shingle.
COPY_SCHEMA: dict[str, pl.DataType] = {
    "cluster_id": pl.String(),
    "article_id": pl.String(),
    "source_id": pl.String(),
    "detail": pl.String(),
}

# Article rows kept in a snapshot: what `index diff` and `index status` need, without the text.
REF_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "outlet": pl.String(),
    "url": pl.String(),
    "title": pl.String(),
    "published": UTC_DATETIME,
    "claims": pl.Int32(),
}

class IndexMissingError(RuntimeError):
    """No index has been built for this home yet."""


class IndexBuildError(RuntimeError):
    """The build failed (unreadable corpus, disk full...); the previous snapshot is still current."""


class SnapshotDamagedError(RuntimeError):
    """A snapshot file is missing, truncated or not what its manifest says; the message names the file."""


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
    engine: str = "local"  # where the per-article work ran (compare.core.distributed); results do not depend on it
    claim_model: str = ""  # the model of claim_vectors.npy ("" before format 3)
    claim_vectors: int = 0  # claims with a stored vector
    facts_key: str = ""  # report.facts_key of the stored facts (alignment, head, detectors)
    stages: dict[str, dict[str, object]] = field(default_factory=dict)  # stage -> {"mode", counts...}
    files: dict[str, dict[str, object]] = field(default_factory=dict)  # name -> {"sha256", "bytes"}
    format: int = SNAPSHOT_FORMAT

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Unknown keys are ignored, so an older or newer manifest still loads; a document that is not
        a manifest (not an object, a required key missing, a field of the wrong type) is a ValueError."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        known = {f.name for f in fields(cls)}
        try:
            manifest = cls(**{key: value for key, value in data.items() if key in known})
        except TypeError as error:
            raise ValueError(str(error)) from error
        typed = (
            isinstance(manifest.files, dict) and isinstance(manifest.seconds, dict) and isinstance(manifest.stages, dict)
            and all(isinstance(getattr(manifest, name), int) and not isinstance(getattr(manifest, name), bool)
                    for name in ("articles", "clusters", "stories", "claims", "claim_vectors", "format"))
            and all(isinstance(record, dict) for record in manifest.files.values())
        )
        if not typed:
            raise ValueError("a field has the wrong type")
        return manifest


@dataclass(frozen=True)
class Index:
    path: Path
    manifest: Manifest
    clusters: pl.DataFrame  # CLUSTER_SCHEMA
    stories: pl.DataFrame  # STORY_SCHEMA
    reused: bool = False  # True when build_index found the corpus unchanged and built nothing
    note: str | None = None  # why this is not the current snapshot (the current one is damaged), for the user


def current_path(store: Store) -> Path:
    return store.index_dir / "current"


def snapshots_dir(store: Store) -> Path:
    return store.index_dir / "snapshots"


def load_index(store: Store) -> Index:
    """The current snapshot; when it is damaged, the newest sound older one with `note` saying so.

    Raises IndexMissingError when nothing was built, SnapshotDamagedError when no snapshot is sound.
    """
    path = current_path(store)
    if not (path / MANIFEST).exists() and not path.is_symlink():
        raise IndexMissingError(f"no index in {store.index_dir}; run `compare index build` (or any listing command builds it)")
    try:
        return load_snapshot(path.resolve())
    except SnapshotDamagedError as damage:
        for older in reversed(list_snapshots(store)):
            if older.resolve() == path.resolve():
                continue
            try:
                index = load_snapshot(older)
            except SnapshotDamagedError:
                continue
            return replace(index, note=f"{damage}; serving the previous snapshot {older.name} (run `compare index build`)")
        raise


def read_manifest(path: Path) -> Manifest:
    """The snapshot's manifest; SnapshotDamagedError (naming the file) when missing or unreadable."""
    try:
        return Manifest.from_json((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise SnapshotDamagedError(f"{path / MANIFEST}: unreadable manifest ({short_error(error)})") from error


def load_snapshot(path: Path) -> Index:
    manifest = read_manifest(path)
    try:
        clusters = conform(pl.read_parquet(path / "clusters.parquet"), CLUSTER_SCHEMA)
        stories = conform(pl.read_parquet(path / "stories.parquet"), STORY_SCHEMA)
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        raise SnapshotDamagedError(f"{path}: unreadable snapshot file ({short_error(error)})") from error
    return Index(path=path, manifest=manifest, clusters=clusters, stories=stories)


def snapshot_refs(path: Path) -> pl.DataFrame:
    """REF_SCHEMA rows of a snapshot, in the row order of its vectors."""
    return conform(pl.read_parquet(path / REFS), REF_SCHEMA)


def snapshot_claims(path: Path, article_ids: list[str] | None = None) -> pl.DataFrame:
    """STORED_CLAIM_SCHEMA rows of a snapshot (of `article_ids` only, read with a filter), in stored order.

    Raises FileNotFoundError for a snapshot written before format 3 (no claims file).
    """
    frame = pl.scan_parquet(path / CLAIMS)
    if article_ids is not None:
        frame = frame.filter(pl.col("article_id").is_in(article_ids))
    return conform(frame.collect(), STORED_CLAIM_SCHEMA)


def snapshot_claim_vectors(path: Path) -> np.ndarray:
    """The stored claim vectors, memory-mapped (rows are read only when indexed)."""
    return np.load(path / CLAIM_VECTORS, allow_pickle=False, mmap_mode="r")


def snapshot_facts(path: Path, story_ids: list[str] | None = None) -> pl.DataFrame:
    """FACTS_SCHEMA rows of a snapshot (of `story_ids` only)."""
    frame = pl.scan_parquet(path / FACTS)
    if story_ids is not None:
        frame = frame.filter(pl.col("story_id").is_in(story_ids))
    return conform(frame.collect(), FACTS_SCHEMA)


def snapshot_copies(path: Path, cluster_ids: list[str] | None = None) -> pl.DataFrame:
    """COPY_SCHEMA rows of a snapshot (of `cluster_ids` only)."""
    frame = pl.scan_parquet(path / COPIES)
    if cluster_ids is not None:
        frame = frame.filter(pl.col("cluster_id").is_in(cluster_ids))
    return conform(frame.collect(), COPY_SCHEMA)


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


def checked_file(path: Path, manifest: Manifest, name: str) -> Path | None:
    """`path/name` when it exists and its checksum matches the manifest, else None: what a build
    reuses from the previous snapshot (anything damaged is recomputed instead)."""
    record = manifest.files.get(name, {})
    expected = record.get("sha256") if isinstance(record, dict) else None
    target = path / name
    if not target.exists() or not expected or file_sha256(target) != expected:
        return None
    return target


def load_checked_vectors(path: Path, manifest: Manifest, name: str) -> np.ndarray | None:
    """A vectors file of the snapshot when sound (see checked_file), as a read-only memory map (a
    caller copies the rows it needs), else None."""
    target = checked_file(path, manifest, name)
    if target is None:
        return None
    try:
        return np.load(target, allow_pickle=False, mmap_mode="r")
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


# --------------------------------------------------------------------------- writing and switching


def build_lock(store: Store, *, wait: bool = False) -> contextlib.AbstractContextManager[None]:
    """Exclusive build lock, separate from the store lock so ingest can run during a build."""
    return file_lock(
        store.index_dir / ".build.lock",
        wait=wait,
        busy=lambda: BuildLockedError(f"another index build is running on {store.home}; try again when it has finished"),
    )


def remove_leftovers(store: Store) -> list[str]:
    """Delete what a killed build or prune left behind (.building-*, .scratch-*, .pruning-*, temporary links); call under the build lock."""
    removed = []
    folder = snapshots_dir(store)
    leftovers = [*folder.glob(".building-*"), *folder.glob(".pruning-*"), *folder.glob(".scratch-*")] if folder.is_dir() else []
    for leftover in sorted(leftovers):
        shutil.rmtree(leftover, ignore_errors=True)
        removed.append(leftover.name)
    for link in store.index_dir.glob(".current-*"):
        link.unlink(missing_ok=True)
        removed.append(link.name)
    # Shard temporaries of the embedding cache before it was SQLite: an hour-old one is a killed write's.
    removed += remove_stale_temporaries(list(store.embedding_cache_dir.glob("*/.*.tmp")), older_than_seconds=3600)
    return removed


def short_error(error: BaseException) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__


SnapshotWriter = Callable[[Path], object]
WriteProgress = Callable[[str, int, int], None]


def parquet_writer(frame: pl.DataFrame) -> SnapshotWriter:
    return lambda path: written(frame.write_parquet, path)


def vectors_writer(vectors: np.ndarray) -> SnapshotWriter:
    return lambda path: np.save(path, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)


def write_snapshot(store: Store, manifest: Manifest, writers: Mapping[str, SnapshotWriter], report: WriteProgress) -> Path:
    """Write every file into .building-<stamp>, fsync, then rename to <stamp>; on failure remove it all.

    `manifest.seconds` gains "write"; the manifest records each file's SHA-256 and size.
    """
    started = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    directory = snapshots_dir(store)
    building = directory / f".building-{stamp}"
    try:
        building.mkdir(parents=True)
        files: dict[str, dict[str, object]] = {}
        for done, (name, write) in enumerate(writers.items()):
            report("writing", done, len(writers))
            write(building / name)
            _fsync_path(building / name)
            files[name] = {"sha256": file_sha256(building / name), "bytes": (building / name).stat().st_size}
        report("writing", len(writers), len(writers))
        seconds = {**manifest.seconds, "write": time.perf_counter() - started}
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
        what = f"disk full: {short_error(error)}" if full else short_error(error)
        raise IndexBuildError(f"{building}: cannot write the snapshot ({what}); previous snapshot kept") from error
    return final


def switch_current(store: Store, snapshot: Path) -> None:
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
        size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        try:
            manifest = read_manifest(path)
            built = datetime.fromisoformat(manifest.built_at)
        except (SnapshotDamagedError, ValueError, TypeError):
            rows.append(SnapshotStatus(path.name, path.resolve() == current, "", 0.0, "damaged (see compare index verify)", "", 0, 0, 0, 0, 0, 0.0, round(size / 1e6, 2)))
            continue
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
        manifest = read_manifest(path)
    except SnapshotDamagedError as error:
        return [str(error)]
    problems = []
    # A snapshot of an older format is checked for the files it was written with.
    expected = {4: SNAPSHOT_FILES, 3: tuple(name for name in SNAPSHOT_FILES if name != FACTS)}.get(
        min(manifest.format, SNAPSHOT_FORMAT), ("clusters.parquet", "stories.parquet", REFS, VECTORS)
    )
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
        return [f"{path}: unreadable file ({short_error(error)})"]
    checks = [
        (refs.height == manifest.articles, f"articles.parquet has {refs.height} rows, manifest says {manifest.articles}"),
        (vectors.shape[0] == manifest.articles, f"{VECTORS} has {vectors.shape[0]} rows, manifest says {manifest.articles}"),
        (clusters["cluster_id"].n_unique() == manifest.clusters, f"clusters.parquet has {clusters['cluster_id'].n_unique()} clusters, manifest says {manifest.clusters}"),
        (stories["story_id"].n_unique() == manifest.stories, f"stories.parquet has {stories['story_id'].n_unique()} stories, manifest says {manifest.stories}"),
        (stories.height == refs.height and set(stories["article_id"].to_list()) == set(refs["id"].to_list()), "stories do not cover exactly the snapshot's articles"),
        (set(clusters["article_id"].to_list()) <= set(refs["id"].to_list()), "clusters name articles not in the snapshot"),
        (int(refs["claims"].sum() or 0) == manifest.claims, f"claim counts sum to {refs['claims'].sum()}, manifest says {manifest.claims}"),
    ]
    if manifest.format >= 3:
        try:
            claims = pl.read_parquet(path / CLAIMS, columns=["article_id", "vector_row"])
            claim_vectors = np.load(path / CLAIM_VECTORS, allow_pickle=False, mmap_mode="r")
            copies = conform(pl.read_parquet(path / COPIES), COPY_SCHEMA)
            facts = conform(pl.read_parquet(path / FACTS), FACTS_SCHEMA) if manifest.format >= 4 else pl.DataFrame(schema=FACTS_SCHEMA)
        except (OSError, ValueError, pl.exceptions.PolarsError) as error:
            return [f"{path}: unreadable file ({short_error(error)})"]
        rows = claims["vector_row"].drop_nulls()
        checks += [
            (claims.height == manifest.claims, f"{CLAIMS} has {claims.height} rows, manifest says {manifest.claims}"),
            (claim_vectors.shape[0] == manifest.claim_vectors == rows.len(), f"{CLAIM_VECTORS} has {claim_vectors.shape[0]} rows, {rows.len()} claims point at one, manifest says {manifest.claim_vectors}"),
            (rows.len() == 0 or (int(rows.min()) >= 0 and int(rows.max()) < claim_vectors.shape[0]), f"{CLAIMS} points outside {CLAIM_VECTORS}"),
            (set(copies["article_id"].to_list()) <= set(clusters["article_id"].to_list()), f"{COPIES} names articles in no cluster"),
            (set(facts["story_id"].to_list()) <= set(stories["story_id"].to_list()), f"{FACTS} names stories not in the snapshot"),
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
