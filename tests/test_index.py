"""compare.index: incremental builds, stable ids, the build lock, and crash safety done for real.

Builds use the HashingEmbedder (model "hashing") so each takes well under a second; the crash tests
run a build in a subprocess and kill it with SIGKILL at a chosen stage.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal
import pytest
from typer.testing import CliRunner

from compare.cli import EXIT_BUILD_FAILED, EXIT_LOCKED, EXIT_VERIFY_FAILED, app
from compare.core.config import Settings, load_settings
from compare.demo import demo_corpus_text
from compare.embed.embedder import HashingEmbedder
from compare.index import (
    SNAPSHOT_FORMAT,
    VECTORS,
    IndexBuildError,
    build_index,
    build_lock,
    current_path,
    diff_snapshots,
    list_snapshots,
    load_index,
    prune_snapshots,
    snapshot_claims,
    snapshot_refs,
    snapshot_status,
    stable_ids,
    verify_snapshot,
)
from compare.ingest import ingest
from compare.core.store import Store

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


class CountingEmbedder(HashingEmbedder):
    """HashingEmbedder that remembers how many texts it embedded (to check what a build reused)."""

    def __init__(self) -> None:
        super().__init__(256)
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        return super().encode(texts)


def demo_records() -> list[dict]:
    return [json.loads(line) for line in demo_corpus_text().splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def settings_for(home: Path) -> Settings:
    return load_settings(home, environ={}, overrides={"embed": {"model": "hashing"}})


def ingest_records(home: Path, records: list[dict], name: str) -> None:
    ingest(Store(home), [write_jsonl(home.parent / f"{home.name}-{name}.jsonl", records)])


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# --------------------------------------------------------------------------- incremental builds


def test_incremental_build_embeds_only_new_articles_and_matches_a_full_build(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records[:6], "first")
    embedder = CountingEmbedder()
    first = build_index(Store(home), settings_for(home), embedder=embedder)
    assert (first.manifest.mode, first.manifest.embedded, embedder.calls) == ("full", 6, 6)

    ingest_records(home, records[6:], "second")
    embedder.calls = 0
    second = build_index(Store(home), settings_for(home), embedder=embedder)
    assert (second.manifest.mode, second.manifest.new_articles, second.manifest.embedded, embedder.calls) == ("incremental", 3, 3, 3)
    assert second.manifest.previous == first.path.name

    full = build_index(Store(home), settings_for(home), embedder=CountingEmbedder(), full=True, keep=5)
    assert (full.manifest.mode, full.manifest.embedded) == ("full", 9)
    np.testing.assert_allclose(np.load(second.path / VECTORS), np.load(full.path / VECTORS), atol=1e-6)
    assert second.manifest.claims == full.manifest.claims > 0
    assert sorted(second.stories.rows()) == sorted(full.stories.rows())
    assert sorted(second.clusters.rows()) == sorted(full.clusters.rows())


def test_unchanged_corpus_builds_nothing(home: Path) -> None:
    ingest_records(home, demo_records(), "all")
    first = build_index(Store(home), settings_for(home))
    again = build_index(Store(home), settings_for(home))
    assert again.reused and again.path == first.path
    assert len(list_snapshots(Store(home))) == 1


def test_retention_keeps_the_newest_snapshots_and_always_the_current(home: Path) -> None:
    records = demo_records()
    for number in range(3):
        ingest_records(home, records[number * 3 : number * 3 + 3], f"part{number}")
        build_index(Store(home), settings_for(home), keep=5)
    store = Store(home)
    assert len(list_snapshots(store)) == 3
    removed = prune_snapshots(store, 1)
    assert len(removed) == 2
    assert list_snapshots(store) == [current_path(store).resolve()]
    ingest_records(home, [{**records[0], "url": "https://example.org/other", "title": "Another take"}], "more")
    build_index(Store(home), settings_for(home))  # default keep_snapshots = 2
    assert len(list_snapshots(store)) == 2


# --------------------------------------------------------------------------- stable ids


def groups(column: str, members: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame([(group, article) for group, ids in members.items() for article in ids], schema=[column, "article_id"], orient="row")


def as_sets(frame: pl.DataFrame, column: str) -> dict[str, set[str]]:
    return {key: set(group["article_id"].to_list()) for (key,), group in frame.group_by(column)}


def test_stable_ids_keep_the_id_of_a_story_that_gains_or_loses_members() -> None:
    previous = groups("story_id", {"s-old1": ["b", "c"], "s-old2": ["x", "y", "z"]})
    fresh = groups("story_id", {"s-new1": ["a", "b", "c"], "s-new2": ["x", "y"], "s-new3": ["q"]})
    result = as_sets(stable_ids(fresh, "story_id", previous), "story_id")
    assert result == {"s-old1": {"a", "b", "c"}, "s-old2": {"x", "y"}, "s-new3": {"q"}}


def test_stable_ids_give_a_split_story_id_to_the_larger_part_and_merges_keep_one() -> None:
    previous = groups("story_id", {"s-a": ["1", "2", "3"], "s-b": ["4"]})
    split = groups("story_id", {"s-n1": ["1"], "s-n2": ["2", "3"], "s-n3": ["4"]})
    result = as_sets(stable_ids(split, "story_id", previous), "story_id")
    assert result["s-a"] == {"2", "3"} and result["s-b"] == {"4"} and {"1"} in result.values()
    merged = groups("story_id", {"s-m": ["1", "2", "3", "4"]})
    assert as_sets(stable_ids(merged, "story_id", previous), "story_id") == {"s-a": {"1", "2", "3", "4"}}


def test_stable_ids_rehash_a_fresh_id_that_collides_with_a_kept_one() -> None:
    previous = groups("cluster_id", {"w-1": ["a", "b"]})
    fresh = groups("cluster_id", {"w-2": ["a", "b"], "w-1": ["c", "d"]})  # "w-1" is named after a new source
    result = as_sets(stable_ids(fresh, "cluster_id", previous), "cluster_id")
    assert result["w-1"] == {"a", "b"}
    assert len(result) == 2 and {"c", "d"} in result.values()


def test_stable_ids_follow_renamed_articles() -> None:
    previous = groups("story_id", {"s-old": ["v1", "k"]})
    fresh = groups("story_id", {"s-new": ["v2", "k2"]})
    result = stable_ids(fresh, "story_id", previous, {"v1": "v2", "k": "k2"})
    assert result["story_id"].unique().to_list() == ["s-old"]


def test_story_and_wire_cluster_ids_survive_when_the_source_arrives_later(home: Path) -> None:
    """AP is the earliest copy: added last, it becomes the cluster's source, yet both ids stay."""
    records = demo_records()
    ap, rest = records[0], records[1:]
    ingest_records(home, rest, "rest")
    first = build_index(Store(home), settings_for(home))
    ingest_records(home, [ap], "ap")
    second = build_index(Store(home), settings_for(home))
    before_stories, after_stories = as_sets(first.stories, "story_id"), as_sets(second.stories, "story_id")
    for story, members in before_stories.items():
        assert members <= after_stories[story], story
    before_clusters, after_clusters = as_sets(first.clusters, "cluster_id"), as_sets(second.clusters, "cluster_id")
    assert before_clusters, "the demo's wire copies should cluster without the AP original"
    for cluster, members in before_clusters.items():
        assert members <= after_clusters[cluster], cluster
    ap_id = Store(home).articles().filter(pl.col("outlet") == "Associated Press")["id"].item()
    assert second.clusters.filter(pl.col("is_source"))["article_id"].to_list() == [ap_id]


def test_story_id_survives_a_recrawled_article(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records, "all")
    first = build_index(Store(home), settings_for(home))
    edited = {**records[3], "text": records[3]["text"] + "\n\nThe ministry later corrected the casualty figures."}
    ingest_records(home, [edited], "recrawl")
    second = build_index(Store(home), settings_for(home))
    assert second.manifest.articles == 9
    assert sorted(first.stories["story_id"].unique().to_list()) == sorted(second.stories["story_id"].unique().to_list())


def test_diff_lists_new_stories_gained_outlets_and_new_wire_clusters(home: Path) -> None:
    records = demo_records()
    depot, heat = records[:6], records[6:]
    ingest_records(home, [depot[1], depot[2], heat[0]], "first")  # Times of Israel + Al-Jazeera copies, one heat story
    first = build_index(Store(home), settings_for(home))
    ingest_records(home, [depot[0], depot[3], heat[1], heat[2]], "second")
    second = build_index(Store(home), settings_for(home))
    changes = diff_snapshots(first.path, second.path)
    by_change = {change: frame for (change,), frame in changes.group_by("change")}
    depot_story = second.stories.filter(pl.col("article_id") == Store(home).articles()["id"][1])["story_id"].item()
    gained = by_change["gained outlets"]
    assert depot_story in gained["id"].to_list()
    assert set(gained.filter(pl.col("id") == depot_story)["added_outlets"].item()) == {"Associated Press", "Ynet News"}
    heat_id = second.stories.filter(pl.col("article_id") == Store(home).articles()["id"][2])["story_id"].item()
    assert heat_id in gained["id"].to_list()  # heat story: Ynet alone, then Times of Israel and Al-Jazeera joined
    assert "new story" not in by_change or depot_story not in by_change["new story"]["id"].to_list()
    result = runner.invoke(app, ["index", "diff", "--home", str(home), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert {row["change"] for row in json.loads(result.stdout)} >= {"gained outlets"}


# --------------------------------------------------------------------------- status and verify


def test_status_and_verify_report_a_sound_snapshot(home: Path) -> None:
    ingest_records(home, demo_records(), "all")
    built = build_index(Store(home), settings_for(home))
    [row] = snapshot_status(Store(home))
    assert (row.name, row.current, row.articles, row.claims, row.model) == (built.path.name, True, 9, built.manifest.claims, "hashing-256")
    assert row.size_mb > 0 and row.build_seconds >= 0
    assert verify_snapshot(built.path) == []
    assert snapshot_refs(built.path).height == 9
    result = runner.invoke(app, ["index", "status", "--home", str(home), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["articles"] == 9
    result = runner.invoke(app, ["index", "verify", "--home", str(home)])
    assert result.exit_code == 0 and "verified 1 snapshot" in result.output


def test_verify_catches_a_corrupted_file_and_the_next_build_does_not_trust_it(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records[:8], "first")
    built = build_index(Store(home), settings_for(home))
    vectors = built.path / VECTORS
    data = bytearray(vectors.read_bytes())
    data[-16:] = b"\xff" * 16  # a flipped tail: still a loadable array, but wrong numbers
    vectors.write_bytes(bytes(data))
    assert any("checksum" in problem for problem in verify_snapshot(built.path))
    result = runner.invoke(app, ["index", "verify", "--home", str(home)])
    assert result.exit_code == EXIT_VERIFY_FAILED and "checksum differs" in result.output

    ingest_records(home, records[8:], "second")
    embedder = CountingEmbedder()
    rebuilt = build_index(Store(home), settings_for(home), embedder=embedder)
    assert embedder.calls == 9  # the damaged vectors were not reused
    assert verify_snapshot(rebuilt.path) == []


# --------------------------------------------------------------------------- lock and failures


def test_second_build_exits_with_the_locked_code_while_one_runs(home: Path) -> None:
    ingest_records(home, demo_records(), "all")
    with build_lock(Store(home)):  # a different open file description: conflicts even in one process
        result = runner.invoke(app, ["index", "build", "--home", str(home), "--model", "hashing"])
    assert result.exit_code == EXIT_LOCKED
    assert "another index build is running" in result.output
    result = runner.invoke(app, ["index", "build", "--home", str(home), "--model", "hashing"])
    assert result.exit_code == 0, result.output


def test_corrupt_corpus_fails_the_build_and_keeps_the_previous_snapshot(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records[:6], "first")
    previous = build_index(Store(home), settings_for(home))
    ingest_records(home, records[6:], "second")
    corpus = Store(home).articles_path
    data = bytearray(corpus.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 200] = b"\x00" * 200
    corpus.write_bytes(bytes(data[: len(data) - 50]))  # torn and zeroed: not a Parquet file any more
    with pytest.raises(IndexBuildError, match="articles.parquet"):
        build_index(Store(home), settings_for(home))
    result = runner.invoke(app, ["index", "build", "--home", str(home), "--model", "hashing"])
    assert result.exit_code == EXIT_BUILD_FAILED
    assert "previous snapshot kept" in result.output and "Traceback" not in result.output
    assert load_index(Store(home)).path == previous.path
    assert verify_snapshot(previous.path) == []
    assert not list((home / "index" / "snapshots").glob(".building-*"))


def run_build_script(home: Path, body: str, **kwargs) -> subprocess.CompletedProcess:  # noqa: ANN003
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from compare.core.config import load_settings
        from compare.index import build_index
        from compare.core.store import Store
        home = Path({str(home)!r})
        settings = load_settings(home, environ={{}}, overrides={{"embed": {{"model": "hashing"}}}})
        """
    ) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO, **kwargs)


@pytest.mark.slow  # a subprocess per stage, killed and rebuilt
@pytest.mark.parametrize(("stage", "done"), [("wire copy", 0), ("embedding", 3), ("writing", 2), ("switching", 0)])
def test_build_killed_at_any_stage_leaves_the_previous_snapshot_and_the_next_build_completes(home: Path, stage: str, done: int) -> None:
    records = demo_records()
    ingest_records(home, records[:6], "first")
    previous = build_index(Store(home), settings_for(home))
    ingest_records(home, records[6:], "second")
    finished = run_build_script(
        home,
        f"""
        def progress(stage, done, total):
            if stage == {stage!r} and done == {done}:
                os.kill(os.getpid(), signal.SIGKILL)  # kill -9: no cleanup of any kind
        build_index(Store(home), settings, progress=progress)
        """,
    )
    assert finished.returncode == -signal.SIGKILL, finished.stderr
    store = Store(home)
    assert load_index(store).path == previous.path
    assert verify_snapshot(previous.path) == []
    rebuilt = build_index(store, settings_for(home))
    assert rebuilt.path != previous.path and rebuilt.manifest.articles == 9
    assert verify_snapshot(rebuilt.path) == []
    assert not list((home / "index" / "snapshots").glob(".building-*"))
    assert not list((home / "index" / "snapshots").glob(".scratch-*"))  # the killed build's spooled claims and pinned corpus
    assert not list((home / "index").glob(".current-*"))


@pytest.mark.slow
def test_build_killed_from_outside_mid_embedding(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records[:6], "first")
    previous = build_index(Store(home), settings_for(home))
    ingest_records(home, records[6:], "second")
    marker = home.parent / "embedding-started"
    script = f"""
        import time
        from compare.embed.embedder import HashingEmbedder
        class Slow(HashingEmbedder):
            def encode(self, texts):
                Path({str(marker)!r}).touch()
                time.sleep(60)
                return super().encode(texts)
        build_index(Store(home), settings, embedder=Slow())
        """
    body = textwrap.dedent(script)
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
        import os
        from pathlib import Path
        from compare.core.config import load_settings
        from compare.index import build_index
        from compare.core.store import Store
        home = Path({str(home)!r})
        settings = load_settings(home, environ={{}}, overrides={{"embed": {{"model": "hashing"}}}})
        """) + body],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        for _ in range(600):
            if marker.exists() or process.poll() is not None:
                break
            import time

            time.sleep(0.05)
        assert marker.exists(), process.stderr.read().decode() if process.poll() is not None else "build never reached embedding"
        result = runner.invoke(app, ["index", "build", "--home", str(home), "--model", "hashing"])
        assert result.exit_code == EXIT_LOCKED  # the running build holds the lock
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert load_index(Store(home)).path == previous.path
    result = runner.invoke(app, ["index", "build", "--home", str(home), "--model", "hashing"])
    assert result.exit_code == 0, result.output
    assert load_index(Store(home)).manifest.articles == 9


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics checked on Linux only")
def test_disk_full_fails_the_build_cleanly(home: Path) -> None:
    """RLIMIT_FSIZE makes every write past the limit fail with EFBIG, as a full disk fails with ENOSPC."""
    records = demo_records()
    ingest_records(home, records[:6], "first")
    previous = build_index(Store(home), settings_for(home))
    ingest_records(home, records[6:], "second")
    finished = run_build_script(
        home,
        """
        import resource
        from compare.index import IndexBuildError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))
        try:
            build_index(Store(home), settings)
        except IndexBuildError as error:
            print(error)
            raise SystemExit(3)
        """,
    )
    assert finished.returncode == 3, finished.stderr
    assert "disk full" in finished.stdout and "previous snapshot kept" in finished.stdout
    assert load_index(Store(home)).path == previous.path
    assert not list((home / "index" / "snapshots").glob(".building-*"))
    assert build_index(Store(home), settings_for(home)).manifest.articles == 9


# --------------------------------------------------------------------------- incremental wire copy


def filler_records(count: int) -> list[dict]:
    """Unrelated articles months before the demo story, so the dedup window around new articles is small."""
    import random

    vocabulary = [f"word{n}" for n in range(3000)]
    rng = random.Random(7)
    return [
        {
            "outlet": f"Filler {number % 3}", "url": f"https://filler.example/{number}", "title": f"Filler item {number}",
            "published": f"2026-0{1 + number % 5}-{1 + number % 27:02d}T08:00:00+00:00",
            "text": " ".join(rng.choice(vocabulary) for _ in range(120)) + ".",
        }
        for number in range(count)
    ]


def test_window_subset_holds_articles_near_the_new_ones_and_the_undated() -> None:
    from datetime import datetime, timedelta, timezone

    from compare.dedup.clusters import window_subset

    t0 = datetime(2026, 8, 20, tzinfo=timezone.utc)
    frame = pl.DataFrame(
        {
            "id": ["new", "near", "far", "undated", "far-same-outlet"],
            "outlet": ["A", "B", "B", "C", "A"],
            "published": [t0, t0 - timedelta(days=10), t0 - timedelta(days=40), None, t0 - timedelta(days=90)],
        },
        schema={"id": pl.String, "outlet": pl.String, "published": pl.Datetime("us", "UTC")},
    )
    subset = window_subset(frame, {"new"}, 14.0)
    assert sorted(subset["id"].to_list()) == ["far-same-outlet", "near", "new", "undated"]  # outlet sample for templates
    assert window_subset(frame, {"undated"}, 14.0) is None  # an undated new article may copy anything
    assert window_subset(frame, {"new"}, 0.0) is None


def test_incremental_wire_copy_matches_a_full_pass(home: Path) -> None:
    from compare.dedup.clusters import cluster_copies

    records = demo_records()
    ingest_records(home, filler_records(30) + records[1:], "base")  # the AP original arrives later
    build_index(Store(home), settings_for(home))
    ingest_records(home, [records[0]], "ap")
    incremental = build_index(Store(home), settings_for(home))
    assert incremental.manifest.dedup_mode == "incremental"
    full = cluster_copies(Store(home).articles(), settings_for(home).minhash)

    def shape(frame: pl.DataFrame) -> list[tuple]:
        groups = {}
        for cluster, article, is_source, score in frame.iter_rows():
            groups.setdefault(cluster, []).append((article, is_source, round(score, 6)))
        return sorted(sorted(members) for members in groups.values())

    assert shape(incremental.clusters) == shape(full)
    assert len(shape(full)) >= 1


def test_a_full_rebuild_keeps_the_ids_too(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records[1:], "rest")
    first = build_index(Store(home), settings_for(home))
    ingest_records(home, [records[0]], "ap")
    full = build_index(Store(home), settings_for(home), full=True)
    assert full.manifest.mode == "full" and full.manifest.new_articles == 1 and full.manifest.previous == first.path.name
    assert set(first.stories["story_id"].to_list()) <= set(full.stories["story_id"].to_list())
    assert set(first.clusters["cluster_id"].to_list()) == set(full.clusters["cluster_id"].to_list())


def test_incremental_stories_put_a_new_article_where_a_full_grouping_does(home: Path) -> None:
    records = demo_records()
    ingest_records(home, filler_records(30) + records[:3] + records[4:], "base")  # Ynet's depot article arrives later
    build_index(Store(home), settings_for(home))
    ingest_records(home, [records[3]], "ynet")
    incremental = build_index(Store(home), settings_for(home))
    assert incremental.manifest.stories_mode == "incremental"
    full = build_index(Store(home), settings_for(home), full=True)
    assert full.manifest.stories_mode == "full"
    assert sorted(map(sorted, as_sets(incremental.stories, "story_id").values())) == sorted(map(sorted, as_sets(full.stories, "story_id").values()))
    assert set(incremental.stories["story_id"].to_list()) == set(full.stories["story_id"].to_list())  # and the same ids


def test_changed_story_settings_force_a_full_build(home: Path) -> None:
    from dataclasses import replace

    records = demo_records()
    ingest_records(home, records[:6], "first")
    build_index(Store(home), settings_for(home))
    ingest_records(home, records[6:], "second")
    settings = settings_for(home)
    changed = replace(settings, stories=replace(settings.stories, min_similarity=settings.stories.min_similarity + 0.05))
    embedder = CountingEmbedder()
    rebuilt = build_index(Store(home), changed, embedder=embedder)
    assert rebuilt.manifest.mode == "full" and embedder.calls == 9


def test_a_prune_killed_half_way_is_cleaned_up_by_the_next_build(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records[:6], "first")
    first = build_index(Store(home), settings_for(home))
    half_deleted = first.path.with_name(f".pruning-{first.path.name}")
    ingest_records(home, records[6:], "second")
    build_index(Store(home), settings_for(home), keep=5)
    first.path.rename(half_deleted)
    (half_deleted / "stories.parquet").unlink()
    assert first.path not in list_snapshots(Store(home))
    ingest_records(home, [{**records[0], "url": "https://example.org/x", "title": "Another"}], "third")
    build_index(Store(home), settings_for(home))
    assert not half_deleted.exists()


def test_build_can_embed_claims_of_multi_outlet_stories_ahead_of_the_first_report(tmp_path: Path) -> None:
    from compare.core.config import load_settings
    from compare.demo import demo_corpus_text
    from compare.embed.embedder import cached_embedder
    from compare.index import build_index
    from compare.ingest import ingest
    from compare.report.story import build_report, list_stories
    from compare.core.store import Store

    home = tmp_path / "home"
    corpus = tmp_path / "demo.jsonl"
    corpus.write_text(demo_corpus_text(), encoding="utf-8")
    settings = load_settings(home, environ={}, overrides={"embed": {"model": "hashing"}, "index": {"precompute_claims_min_outlets": 4}})
    store = Store(home)
    ingest(store, [corpus])
    index = build_index(store, settings)
    depot = max(list_stories(store.articles(), index), key=lambda story: len(story.outlets))
    heat = min(list_stories(store.articles(), index), key=lambda story: len(story.outlets))

    warm = cached_embedder(settings.embed, home)
    build_report(store.articles(), index, depot.story_id, settings, embedder=warm)
    assert warm.embedded == 0  # six outlets >= 4: every claim was embedded by the build

    cold = cached_embedder(settings.embed, home)
    build_report(store.articles(), index, heat.story_id, settings, embedder=cold)
    assert cold.embedded > 0  # three outlets < 4: left for the first report


def test_full_rebuild_and_settings_change_send_no_text_to_the_model(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Vectors depend only on text and model: the build's embedder is the home's embedding cache, so
    `--full` of an unchanged corpus, or new story settings, embed nothing again."""
    sent: list[int] = []
    original = HashingEmbedder.encode
    monkeypatch.setattr(HashingEmbedder, "encode", lambda self, texts: sent.append(len(texts)) or original(self, texts))
    ingest_records(home, demo_records(), "all")
    first = build_index(Store(home), settings_for(home), full=True).manifest
    assert first.embedded == first.articles and sum(sent) > first.articles  # articles, then claims
    sent.clear()
    again = build_index(Store(home), settings_for(home), full=True).manifest
    assert sum(sent) == 0
    assert (again.mode, again.embedded, again.stages["claim_vectors"]["embedded"]) == ("full", 0, 0)
    assert again.stories == first.stories and again.clusters == first.clusters
    changed = load_settings(home, environ={}, overrides={"embed": {"model": "hashing"}, "stories": {"min_similarity": 0.4}})
    assert build_index(Store(home), changed).manifest.mode == "full"  # new settings: nothing reusable
    assert sum(sent) == 0


def test_onnx_export_is_shared_by_every_home_on_the_machine(tmp_path: Path) -> None:
    from compare.core.config import default_model_cache
    from compare.embed.embedder import cached_embedder

    settings = [load_settings(tmp_path / name, environ={"COMPARE_MODEL_CACHE": str(tmp_path / "models")}) for name in ("a", "b")]
    folders = [cached_embedder(each.embed, each.home).inner.folder for each in settings]  # type: ignore[attr-defined]
    assert folders[0] == folders[1] and folders[0].is_relative_to(tmp_path / "models" / "onnx")
    default = [cached_embedder(load_settings(tmp_path / name, environ={}).embed, tmp_path / name).inner.folder for name in ("a", "b")]  # type: ignore[attr-defined]
    assert default[0] == default[1] and default[0].is_relative_to(default_model_cache())
    assert default_model_cache({"XDG_CACHE_HOME": str(tmp_path / "xdg")}) == tmp_path / "xdg" / "compare"
    assert default_model_cache({}) == Path.home() / ".cache" / "compare"


# --------------------------------------------------------------------------- stages and what reports read


def test_the_stage_pipeline_builds_the_demo_as_the_first_version_did(home: Path) -> None:
    """Clusters, stories, ids and claim counts equal those of the single-function build it replaced."""
    golden = json.loads((REPO / "tests" / "fixtures" / "index" / "demo-build.json").read_text(encoding="utf-8"))
    ingest_records(home, demo_records(), "all")
    index = build_index(Store(home), settings_for(home))
    clusters = sorted([list(row) for row in index.clusters.with_columns(pl.col("jaccard_to_source").round(6)).rows()])
    assert clusters == golden["clusters"]
    assert sorted([list(row) for row in index.stories.rows()]) == golden["stories"]
    assert sorted([list(row) for row in snapshot_refs(index.path).select("id", "claims").rows()]) == golden["claims"]


def test_every_stage_is_timed_and_counted_in_the_manifest(home: Path) -> None:
    ingest_records(home, demo_records(), "all")
    manifest = build_index(Store(home), settings_for(home)).manifest
    stages = ("claims", "dedup", "embed", "stories", "claim_vectors", "facts")
    assert set(stages) <= set(manifest.seconds) and set(manifest.stages) == set(stages)
    assert all(manifest.stages[stage]["mode"] == "full" for stage in stages)
    assert manifest.stages["claims"]["claims"] == manifest.claims > 0
    assert manifest.claim_vectors == manifest.stages["claim_vectors"]["claims"] > 0  # both demo stories have 3+ outlets
    assert manifest.stages["facts"].pop("cpu_seconds") >= 0  # every stage records its CPU seconds
    assert manifest.stages["facts"] == {"mode": "full", "stories": 2, "computed": 2}


def test_a_report_reads_claims_vectors_and_wire_evidence_from_the_snapshot(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.dedup import clusters as dedup
    from compare.report import story as report

    ingest_records(home, demo_records(), "all")
    settings = settings_for(home)
    index = build_index(Store(home), settings)
    articles = Store(home).articles()
    story = max(report.list_stories(articles, index), key=lambda s: len(s.outlets)).story_id

    class NoModel(HashingEmbedder):
        def encode(self, texts: Sequence[str]) -> np.ndarray:
            raise AssertionError(f"a report after a build embedded {len(texts)} texts")

    def no_split(*args: object, **kwargs: object) -> None:
        raise AssertionError("a report after a build split or shingled articles again")

    recomputed = report.report_for_articles(
        articles.filter(pl.col("id").is_in(index.stories.filter(pl.col("story_id") == story)["article_id"].implode())),
        settings, story_id=story, index=index, embedder=HashingEmbedder(),
    )
    monkeypatch.setattr(report, "claims_frame", no_split)
    monkeypatch.setattr(dedup, "describe_copy", no_split)
    monkeypatch.setattr(report, "aligned_facts", no_split)  # facts come from the build: no alignment either
    monkeypatch.setattr(report, "find_divergences", no_split)
    stored = report.build_report(articles, index, story, settings, embedder=NoModel())
    for part in ("shared", "partial", "unique", "divergences", "findings", "notes", "wire_copies"):
        assert getattr(stored, part) == getattr(recomputed, part), part
    assert stored.wire_copies and stored.divergences


def test_an_incremental_build_embeds_only_the_claims_it_has_not_stored(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records[:3] + records[4:], "base")
    first = build_index(Store(home), settings_for(home))
    ingest_records(home, [records[3]], "ynet")
    second = build_index(Store(home), settings_for(home))
    ynet = Store(home).articles().filter(pl.col("outlet") == "Ynet News")["id"].to_list()
    claims = snapshot_claims(second.path)
    new_claims = claims.filter(pl.col("article_id").is_in(ynet) & pl.col("vector_row").is_not_null()).height
    assert {**second.manifest.stages["claims"], "cpu_seconds": 0} == {"mode": "incremental", "split": 1, "claims": second.manifest.claims, "cpu_seconds": 0}
    assert 0 < second.manifest.stages["claim_vectors"]["embedded"] <= new_claims
    assert second.manifest.claim_vectors > first.manifest.claim_vectors


def test_listing_wire_copy_on_a_fresh_home_runs_only_the_wire_copy_stage(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.index import current_clusters

    ingest_records(home, demo_records(), "all")
    notices: list[str] = []
    clusters, copies = current_clusters(Store(home), settings_for(home), notice=notices.append)
    assert not (home / "index" / "current").exists()  # nothing built or written
    assert notices and "compare index build" in notices[0]
    built = build_index(Store(home), settings_for(home))
    assert sorted(clusters.rows()) == sorted(built.clusters.rows())
    again, stored = current_clusters(Store(home), settings_for(home), notice=notices.append)
    assert len(notices) == 1 and sorted(again.rows()) == sorted(clusters.rows()) and sorted(stored.rows()) == sorted(copies.rows())


def test_a_report_on_a_stale_index_says_it_updates_the_index_first(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records[:6], "first")
    result = runner.invoke(app, ["stories", "--home", str(home), "--model", "hashing", "--format", "json"])
    assert result.exit_code == 0 and "building it now" in result.stderr
    ingest_records(home, records[6:], "second")
    result = runner.invoke(app, ["stories", "--home", str(home), "--model", "hashing", "--format", "json"])
    assert result.exit_code == 0 and "the corpus changed since the last build" in result.stderr
    result = runner.invoke(app, ["stories", "--home", str(home), "--model", "hashing", "--format", "json"])
    assert result.exit_code == 0 and result.stderr == ""


def test_a_snapshot_of_the_previous_format_is_rebuilt_with_a_message(home: Path) -> None:
    ingest_records(home, demo_records(), "all")
    index = build_index(Store(home), settings_for(home))
    manifest = json.loads((index.path / "manifest.json").read_text(encoding="utf-8"))
    (index.path / "manifest.json").write_text(json.dumps({**manifest, "format": 2}), encoding="utf-8")
    (index.path / "claims.parquet").unlink()
    result = runner.invoke(app, ["stories", "--home", str(home), "--model", "hashing", "--format", "json"])
    assert result.exit_code == 0 and "built by an older version" in result.stderr
    assert load_index(Store(home)).manifest.format == SNAPSHOT_FORMAT


# --------------------------------------------------------------------------- damaged snapshots


def two_snapshots(home: Path) -> tuple[Path, Path]:
    records = demo_records()
    ingest_records(home, records[:6], "first")
    first = build_index(Store(home), settings_for(home)).path
    ingest_records(home, records[6:], "second")
    return first, build_index(Store(home), settings_for(home)).path


@pytest.mark.parametrize("damage", ["truncate stories", "truncate clusters", "manifest garbage", "manifest not an object", "manifest wrong types"])
def test_a_damaged_current_snapshot_fails_verify_with_one_line_and_readers_fall_back(home: Path, damage: str) -> None:
    first, current = two_snapshots(home)
    if damage.startswith("truncate"):
        target = current / f"{damage.split()[1]}.parquet"
        target.write_bytes(target.read_bytes()[:40])
    else:
        manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
        document = {"manifest garbage": "{not json", "manifest not an object": "[1, 2]",
                    "manifest wrong types": json.dumps({**manifest, "files": [1], "articles": "many"})}[damage]
        (current / "manifest.json").write_text(document, encoding="utf-8")

    verify = runner.invoke(app, ["index", "verify", "--home", str(home)])
    assert verify.exit_code == EXIT_VERIFY_FAILED and "Traceback" not in verify.output
    assert len(verify.stderr.strip().splitlines()) == 1 and str(current) in verify.stderr

    index = load_index(Store(home))
    assert index.path == first and index.note and "serving the previous snapshot" in index.note
    status = runner.invoke(app, ["index", "status", "--home", str(home), "--format", "json"])
    assert status.exit_code == 0, status.output
    listed = runner.invoke(app, ["stories", "--home", str(home), "--model", "hashing", "--format", "json"])
    assert listed.exit_code == 0 and "serving the previous snapshot" in listed.stderr  # then rebuilt, as the corpus moved on
    assert verify_snapshot(load_index(Store(home)).path) == []


def test_a_failed_update_serves_the_previous_snapshot_saying_so(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.index import IndexBuildError, ensure_index, runner as build_runner

    first, _ = two_snapshots(home)
    ingest_records(home, [{**demo_records()[0], "url": "https://example.org/later", "title": "Later"}], "third")

    def broken(*args: object, **kwargs: object) -> None:
        raise IndexBuildError("disk full; previous snapshot kept")

    monkeypatch.setattr(build_runner, "build_index", broken)
    notices: list[str] = []
    index = ensure_index(Store(home), settings_for(home), notice=notices.append)
    assert index.path == load_index(Store(home)).path
    assert any("serving the snapshot" in notice and "misses the latest changes" in notice for notice in notices)


def test_temporary_files_of_killed_writes_are_removed_by_the_next_run(home: Path) -> None:
    records = demo_records()
    ingest_records(home, records[:3], "first")
    leftover = home / "corpus" / ".articles.parquet.abc123.tmp"
    leftover.write_bytes(b"half a file")
    ingest_records(home, records[3:], "second")
    assert not leftover.exists()


def test_a_truncated_corpus_is_one_line_everywhere(home: Path) -> None:
    ingest_records(home, demo_records(), "all")
    corpus = home / "corpus" / "articles.parquet"
    corpus.write_bytes(corpus.read_bytes()[:100])
    for command in (["dedup"], ["stories"], ["index", "build"], ["history", "https://example.org/x"]):
        result = runner.invoke(app, [*command, "--home", str(home), "--model", "hashing"] if command[0] != "history" else [*command, "--home", str(home)])
        assert result.exit_code in (2, EXIT_BUILD_FAILED), (command, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert "Traceback" not in result.output and len(errors) == 1 and str(corpus) in errors[0], (command, result.output)


def test_files_written_atomically_follow_the_umask(home: Path) -> None:
    previous = os.umask(0o022)
    try:
        ingest_records(home, demo_records()[:2], "first")
    finally:
        os.umask(previous)
    assert (home / "corpus" / "articles.parquet").stat().st_mode & 0o777 == 0o644


def test_unchanged_stories_keep_their_stored_facts_and_other_settings_are_not_read(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from compare.report import story as report

    records = demo_records()
    ingest_records(home, records[:8], "first")  # the heat-wave story lacks one article
    build_index(Store(home), settings_for(home))
    ingest_records(home, records[8:], "second")
    second = build_index(Store(home), settings_for(home))
    assert second.manifest.stages["facts"]["computed"] == 1 and second.manifest.stages["facts"]["stories"] == 2  # only the story that changed

    settings = settings_for(home)
    looser = replace(settings, align=replace(settings.align, align_probability=0.5))
    articles = Store(home).articles()
    story = max(report.list_stories(articles, second), key=lambda s: len(s.outlets)).story_id
    member_ids = second.stories.filter(pl.col("story_id") == story)["article_id"].to_list()
    assert report.stored_facts(second, story, member_ids, settings) is not None
    assert report.stored_facts(second, story, member_ids, looser) is None  # computed for the settings asked
    assert report.stored_facts(second, story, member_ids[1:], settings) is None


def test_copy_evidence_described_a_pair_at_a_time_equals_all_at_once(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wire-copy stage reads the texts of the copies it describes a wave of pairs at a time."""
    import compare.index.stages as stages

    ingest_records(home, demo_records(), "all")
    whole = build_index(Store(home), settings_for(home))
    monkeypatch.setattr(stages, "_PAIRS_AT_ONCE", 1)
    waves = build_index(Store(home), settings_for(home), full=True, keep=5)
    expected, found = pl.read_parquet(whole.path / "copies.parquet"), pl.read_parquet(waves.path / "copies.parquet")
    assert found.height >= 2 and waves.manifest.stages["dedup"]["described"] == found.height
    assert_frame_equal(found, expected)
