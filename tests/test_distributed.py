"""compare.core.distributed: a Ray build gives the local build's snapshot, and engine problems are one-line errors.

One small Ray runtime (2 CPUs, no dashboard) serves the whole module and is shut down after it.
Builds use the HashingEmbedder (model "hashing"); small batches make the demo corpus span several
Ray tasks, so stitching batch results back together is exercised.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from compare.cli import app
from compare.core.config import EmbedConfig, IndexConfig, MinHashConfig, Settings, load_settings
from compare.dedup.clusters import PassLimits, find_reuse, shingle_texts, template_keep
from compare.demo import demo_corpus_text
from compare.core.distributed import (
    BatchedEmbedder,
    EngineError,
    EngineRunError,
    LocalEngine,
    RayEngine,
    batched_embedder,
    check_engine,
    worker_embedder,
)
from compare.embed.embedder import HashingEmbedder, cached_embedder
from compare.index import CLAIM_VECTORS, VECTORS, IndexBuildError, build_index, snapshot_claims, snapshot_copies, snapshot_facts, snapshot_refs
from compare.ingest import ingest
from compare.core.store import Store

runner = CliRunner()
# A Ray runtime starts for the module (about 15 s) and builds run through it.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def ray_runtime() -> Iterator[None]:
    """One light local runtime for the module; shut down after it even when a test fails."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def demo_home(root: Path, *, precompute: int = 0) -> tuple[Store, Settings]:
    root.mkdir(parents=True, exist_ok=True)
    corpus = root / "demo.jsonl"
    corpus.write_text(demo_corpus_text(), encoding="utf-8")
    home = root / "home"
    ingest(Store(home), [corpus])
    overrides = {"embed": {"model": "hashing"}, "index": {"precompute_claims_min_outlets": precompute}}
    return Store(home), load_settings(home, environ={}, overrides=overrides)


def demo_texts() -> tuple[list[str], list[str]]:
    records = [json.loads(line) for line in demo_corpus_text().splitlines() if line.strip()]
    return [record["text"] for record in records], [record["outlet"] for record in records]


# --------------------------------------------------------------------------- the build


def test_a_ray_build_gives_the_local_build(tmp_path: Path) -> None:
    local_store, local_settings = demo_home(tmp_path / "local", precompute=4)
    ray_store, ray_settings = demo_home(tmp_path / "ray", precompute=4)
    local = build_index(local_store, local_settings, engine=LocalEngine())
    distributed = build_index(ray_store, ray_settings, engine=RayEngine(batch_size=2))  # 9 articles: 5 tasks per stage

    assert (local.manifest.engine, distributed.manifest.engine) == ("local", "ray")
    assert_frame_equal(local.clusters, distributed.clusters, check_row_order=False)
    assert_frame_equal(local.stories, distributed.stories, check_row_order=False)
    assert_frame_equal(snapshot_refs(local.path), snapshot_refs(distributed.path))  # ids, order and claim counts
    np.testing.assert_allclose(np.load(local.path / VECTORS), np.load(distributed.path / VECTORS), atol=1e-6)
    assert_frame_equal(snapshot_claims(local.path), snapshot_claims(distributed.path))  # claims and their vector rows
    np.testing.assert_allclose(np.load(local.path / CLAIM_VECTORS), np.load(distributed.path / CLAIM_VECTORS), atol=1e-6)
    assert_frame_equal(snapshot_copies(local.path), snapshot_copies(distributed.path), check_row_order=False)
    # every multi-outlet story's facts, one story per Ray task (batch_size 2)
    assert distributed.manifest.stages["facts"]["computed"] == local.manifest.stages["facts"]["computed"] > 0
    assert_frame_equal(snapshot_facts(local.path), snapshot_facts(distributed.path), check_row_order=False)
    for field in ("articles", "clusters", "stories", "claims", "embedded"):
        assert getattr(local.manifest, field) == getattr(distributed.manifest, field), field

    # The planted wire copy: AP's depot article and its two reprints, AP as the source.
    [members] = distributed.clusters.group_by("cluster_id").agg("article_id")["article_id"].to_list()
    outlets = dict(ray_store.articles().select("id", "outlet").iter_rows())
    assert sorted(outlets[member] for member in members) == ["Al-Jazeera", "Associated Press", "Times of Israel"]
    source = distributed.clusters.filter(pl.col("is_source"))["article_id"].item()
    assert outlets[source] == "Associated Press"

    # Claims precomputed on the workers landed in the driver's cache: the same texts as a local build.
    local_cache = cached_embedder(local_settings.embed, local_store.home).cache
    ray_cache = cached_embedder(ray_settings.embed, ray_store.home).cache
    assert len(ray_cache) == len(local_cache) > 0


def test_an_incremental_ray_build_matches_the_local_one(tmp_path: Path) -> None:
    records = [json.loads(line) for line in demo_corpus_text().splitlines() if line.strip()]
    results = []
    for name, engine in (("local", LocalEngine()), ("ray", RayEngine(batch_size=2))):
        home = tmp_path / name / "home"
        home.parent.mkdir(parents=True)
        settings = load_settings(home, environ={}, overrides={"embed": {"model": "hashing"}})
        for part, chunk in enumerate((records[:6], records[6:])):
            path = home.parent / f"part{part}.jsonl"
            path.write_text("".join(json.dumps(record) + "\n" for record in chunk), encoding="utf-8")
            ingest(Store(home), [path])
            built = build_index(Store(home), settings, engine=engine)
        results.append(built)
    local, distributed = results
    assert distributed.manifest.mode == "incremental" and distributed.manifest.embedded == 3
    assert_frame_equal(local.clusters, distributed.clusters, check_row_order=False)
    assert_frame_equal(local.stories, distributed.stories, check_row_order=False)
    np.testing.assert_allclose(np.load(local.path / VECTORS), np.load(distributed.path / VECTORS), atol=1e-6)
    assert_frame_equal(snapshot_claims(local.path), snapshot_claims(distributed.path))  # claims and their vector rows
    np.testing.assert_allclose(np.load(local.path / CLAIM_VECTORS), np.load(distributed.path / CLAIM_VECTORS), atol=1e-6)
    assert_frame_equal(snapshot_copies(local.path), snapshot_copies(distributed.path), check_row_order=False)


def test_index_build_command_runs_on_ray(tmp_path: Path) -> None:
    store, _ = demo_home(tmp_path)
    result = runner.invoke(app, ["index", "build", "--home", str(store.home), "--model", "hashing", "--engine", "ray", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert (record["engine"], record["articles"], record["clusters"]) == ("ray", 9, 1)


def test_engine_comes_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "compare.toml").write_text('[index]\nengine = "ray"\nray_address = "auto"\n', encoding="utf-8")
    settings = load_settings(tmp_path, environ={})
    assert (settings.index.engine, settings.index.ray_address) == ("ray", "auto")
    assert IndexConfig().engine == "local"


# --------------------------------------------------------------------------- the per-article stages


def test_wire_copy_passes_on_ray_equal_the_local_passes() -> None:
    texts, outlets = demo_texts()
    footer = " Sign up for our morning newsletter to get the day's top stories in your inbox."
    texts = [text + footer if outlet == "Ynet News" else text for text, outlet in zip(texts, outlets, strict=True)]
    config = MinHashConfig(template_min_articles=2)  # Ynet's two articles: the footer is its page template
    shingled = shingle_texts(texts, config.shingle_size)
    assert not template_keep(shingled, outlets, config.template_min_articles).all()
    ids = [f"d{row}" for row in range(len(texts))]
    limits = PassLimits(articles_per_wave=4, pairs_per_batch=1)  # several waves of tasks per pass
    local = find_reuse(ids, texts, outlets, config, engine=LocalEngine(batch_size=100))
    assert local and any(pair.kind == "copy" for pair in local)
    assert find_reuse(ids, texts, outlets, config, engine=RayEngine(batch_size=2), limits=limits) == local


@pytest.mark.parametrize("exact_max", [20_000, 100])  # undated rows searched exactly, and with IVF (an index shipped to the workers)
def test_story_linkage_buckets_on_ray_give_the_local_neighbours(exact_max: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.core import vectors as module

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stamps = rng.uniform(0, 40 * 86400.0, size=500)
    stamps[rng.random(500) < 0.2] = np.nan
    local = module.window_search(vectors, stamps, 3.0, 8, exact_max=exact_max)
    monkeypatch.setattr(module, "_UNDATED_BLOCK", 40)  # undated queries in several tasks
    distributed = module.window_search(vectors, stamps, 3.0, 8, exact_max=exact_max, engine=RayEngine(batch_size=40))  # ~12 buckets, several per task
    np.testing.assert_array_equal(distributed[1], local[1])
    np.testing.assert_array_equal(distributed[0], local[0])


def test_tfidf_words_counted_on_ray_give_the_local_rows() -> None:
    from compare.stories.grouping import tfidf_vectors

    texts, _ = demo_texts()
    local = tfidf_vectors(texts)
    distributed = tfidf_vectors(texts, engine=RayEngine(batch_size=2))
    assert local.nnz > 100 and (local != distributed).nnz == 0


def test_workers_embed_from_the_config_and_reuse_their_model() -> None:
    texts, _ = demo_texts()
    config = EmbedConfig(model="hashing")
    seen: list[tuple[int, int]] = []
    embedder = batched_embedder(RayEngine(batch_size=3), HashingEmbedder(), config, progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_allclose(embedder.encode(texts), HashingEmbedder().encode(texts), atol=1e-7)
    assert seen[-1] == (len(texts), len(texts)) and len(seen) == 3
    assert worker_embedder(config, None) is worker_embedder(config, None)  # loaded once per process


def test_an_embedder_that_is_not_the_configured_model_is_refused_on_ray(tmp_path: Path) -> None:
    store, settings = demo_home(tmp_path)
    with pytest.raises(EngineError, match="configured model 'hashing-256'"):
        build_index(store, settings, embedder=HashingEmbedder(64), engine=RayEngine())


def test_a_task_error_is_raised_as_itself() -> None:
    with pytest.raises(ValueError, match="invalid literal for int") as caught:
        RayEngine().map_batches(int, ["1", "two", "3"])
    assert type(caught.value) is ValueError  # not Ray's RayTaskError(ValueError) with a remote traceback
    assert RayEngine().map_batches(int, ["1", "2", "3"]) == [1, 2, 3]


def test_a_lost_worker_fails_the_build_with_the_previous_snapshot_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, settings = demo_home(tmp_path)
    first = build_index(store, settings, engine=LocalEngine())
    path = store.home.parent / "more.jsonl"
    record = {"outlet": "Reuters", "url": "https://example.org/more", "title": "More", "text": "Another article about something else entirely."}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    ingest(store, [path])

    def lost(self: RayEngine, fn: object, batches: object, progress: object = None) -> list:
        raise EngineRunError("ray: the worker died unexpectedly")

    monkeypatch.setattr(RayEngine, "map_batches", lost)
    with pytest.raises(IndexBuildError, match="distributed engine failed .* previous snapshot kept"):
        build_index(store, settings, engine=RayEngine())
    assert (store.home / "index" / "current").resolve() == first.path


def test_batched_embedder_of_nothing_is_empty() -> None:
    embedder = BatchedEmbedder(LocalEngine(), HashingEmbedder(8).encode, name="hashing-8", dimension=8)
    assert embedder.encode([]).shape == (0, 8)


# --------------------------------------------------------------------------- errors


def test_engine_ray_without_ray_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = demo_home(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    result = runner.invoke(app, ["index", "build", "--home", str(store.home), "--model", "hashing", "--engine", "ray"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ['error: engine "ray" needs the ray package: pip install "ray>=2.9" (the "distributed" extra of this project)']
    assert not (store.home / "index" / "current").exists()


def test_an_unknown_engine_is_a_one_line_error(tmp_path: Path) -> None:
    store, _ = demo_home(tmp_path)
    result = runner.invoke(app, ["index", "build", "--home", str(store.home), "--model", "hashing", "--engine", "spark"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: unknown engine 'spark' (known: local, ray); set engine in the index section of compare.toml, or --engine"]
    with pytest.raises(EngineError, match="unknown engine 'spark'"):
        check_engine(IndexConfig(engine="spark"))
