"""The stages of an index build, in order: claims -> wire copy -> article vectors -> stories -> claim vectors.

Each stage has a name (its key in the manifest's `seconds` and `stages`), a progress label, its own
small typed config, and one method, `run(corpus, previous, engine, built, progress)`, that returns
its outputs (frames and arrays) and a few counts. A stage owns both its paths: the full one, and the
incremental one that reuses what the previous snapshot holds for unchanged articles. What it needs
from an earlier stage it reads from `built` (the outputs so far). The runner (compare.index.runner)
times and counts the stages; the snapshot store (compare.index.snapshot) writes what they return.
The engine receives plain functions only (compare.core.distributed imports no stage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from compare.core.config import EmbedConfig, MinHashConfig, Settings, StoryConfig
from compare.core.distributed import BatchedEmbedder, Engine, batched_embedder
from compare.embed.embedder import Embedder
from compare.core.progress import StepClock, StepProgress
from compare.core.store import ArticleTexts, written
from compare.index.snapshot import (
    CLAIMS,
    COPIES,
    COPY_SCHEMA,
    FACTS,
    FACTS_SCHEMA,
    STORED_CLAIM_SCHEMA,
    VECTORS,
    Manifest,
    checked_file,
    load_checked_vectors,
    snapshot_copies,
    stable_ids,
)
from compare.core.schema import ARTICLE_SCHEMA, CLAIM_SCHEMA, STORY_SCHEMA, conform
from compare.index.spool import ClaimTable, ClaimWriter, FactParts, VectorFile, VectorWriter



@dataclass(frozen=True)
class Corpus:
    """What every stage reads: the corpus as of this build. The texts are not in `articles`: at a
    million articles they are 6 GB, so a stage reads them from `texts` (compare.core.store.ArticleTexts,
    chunks of rows read from the corpus file) where it needs them, and `with_text` adds them to a few rows."""

    articles: pl.DataFrame  # ARTICLE_META_SCHEMA: the latest version of each URL, without its text
    texts: ArticleTexts  # the texts, in the row order of `articles`
    version: str
    renamed: Mapping[str, str]  # superseded article id -> id of its latest version (ids survive re-crawls)
    new_ids: frozenset[str]  # articles not in the previous snapshot (every article without one)

    def rows_of(self, ids: Sequence[str] | pl.Series) -> np.ndarray:
        """Row numbers of `ids` (articles of this corpus), in their order."""
        indexed = self.articles.select("id").with_row_index("row")
        wanted = pl.DataFrame({"id": pl.Series("id", ids, dtype=pl.String)})
        return wanted.join(indexed, on="id", how="left", maintain_order="left")["row"].to_numpy().astype(np.int64)

    def with_text(self, frame: pl.DataFrame) -> pl.DataFrame:
        """ARTICLE_SCHEMA rows of `frame` (rows of `articles`, any columns with "id") with their texts."""
        texts = self.texts.take(self.rows_of(frame["id"]))
        return conform(frame.with_columns(pl.Series("text", texts, dtype=pl.String)), ARTICLE_SCHEMA)


@dataclass(frozen=True)
class Previous:
    """The snapshot a build starts from. Ids are always carried over from it; its results are
    reused only when `reusable` (same dedup/story settings, not `--full`). Damaged files are
    treated as absent (their contents are recomputed)."""

    path: Path
    manifest: Manifest
    clusters: pl.DataFrame
    stories: pl.DataFrame
    refs: pl.DataFrame
    reusable: bool

    @cached_property
    def claims_file(self) -> Path | None:
        """The snapshot's claims file when reusable and sound, else None."""
        return checked_file(self.path, self.manifest, CLAIMS) if self.reusable else None

    def article_vectors(self, model: str, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of those of `ids` the snapshot has (same model), as (positions in
        `ids`, their vectors): row numbers, not a dict of every stored vector."""
        none = (np.zeros(0, np.int64), np.zeros((0, 0), np.float32))
        if not self.reusable or self.manifest.model != model:
            return none
        vectors = load_checked_vectors(self.path, self.manifest, VECTORS)
        if vectors is None or vectors.ndim != 2 or vectors.shape[0] != self.refs.height:
            return none
        stored = self.refs.select("id").with_row_index("stored")
        wanted = pl.DataFrame({"id": pl.Series("id", ids, dtype=pl.String)}).with_row_index("position")
        found = wanted.join(stored, on="id", how="inner").sort("position")
        try:
            return found["position"].to_numpy().astype(np.int64), np.array(vectors[found["stored"].to_numpy().astype(np.int64)], dtype=np.float32)
        finally:
            del vectors  # the mapping: only the rows copied stay

    @cached_property
    def facts_file(self) -> Path | None:
        """The stored report facts when sound (reused per story when members and facts settings match,
        whatever the other settings: the facts key covers what they depend on)."""
        return checked_file(self.path, self.manifest, FACTS)

    @cached_property
    def copies(self) -> pl.DataFrame | None:
        if not self.reusable or checked_file(self.path, self.manifest, COPIES) is None:
            return None
        try:
            return snapshot_copies(self.path)
        except (OSError, ValueError, pl.exceptions.PolarsError):
            return None


@dataclass
class StageResult:
    outputs: dict[str, Any]
    stats: dict[str, object] = field(default_factory=dict)  # "mode" ("full" or "incremental") and counts


class Stage(Protocol):
    name: str
    label: str

    def run(self, corpus: Corpus, previous: Previous | None, engine: Engine, built: Mapping[str, Any], progress: StepProgress) -> StageResult: ...


def _reusable(previous: Previous | None) -> Previous | None:
    return previous if previous is not None and previous.reusable else None


# --------------------------------------------------------------------------- claims


def claim_spans(texts: list[str]) -> list[list[tuple[int, int, int, str]]]:
    """(position, start, end, text) of each text's claims; a plain function for engine batches."""
    from compare.text.claims import split_claims

    return [[(c.position, c.start, c.end, c.text) for c in split_claims(text)] for text in texts]


# Engine batches per round: a round's claims (about 10 KB an article as frames) are the most the
# stage holds before writing them as a part of the claim table (compare.index.spool).
_CLAIM_BATCHES_AT_ONCE = 16


def claims_of(ids: Sequence[str], outlets: Sequence[str], spans: Sequence[list[tuple[int, int, int, str]]]) -> pl.DataFrame:
    """CLAIM_SCHEMA rows of articles from their claim_spans, built column by column."""
    owner = np.repeat(np.arange(len(ids)), [len(found) for found in spans])  # each claim's article
    flat = [span for found in spans for span in found]
    frame = pl.DataFrame(
        {
            "article_id": pl.Series("article_id", ids, dtype=pl.String).gather(owner),
            "outlet": pl.Series("outlet", outlets, dtype=pl.String).gather(owner),
            "position": pl.Series([span[0] for span in flat], dtype=pl.Int32),
            "start": pl.Series([span[1] for span in flat], dtype=pl.Int32),
            "end": pl.Series([span[2] for span in flat], dtype=pl.Int32),
            "text": pl.Series([span[3] for span in flat], dtype=pl.String),
        }
    )
    claim_id = pl.concat_str([pl.col("article_id"), pl.lit(":"), pl.col("position").cast(pl.String)]).alias("claim_id")
    return frame.with_columns(claim_id).select(list(CLAIM_SCHEMA))


def claim_rows(batch: tuple[list[str], list[str], list[str]]) -> pl.DataFrame:
    """CLAIM_SCHEMA rows of a batch of (ids, outlets, texts); a plain function for engine batches,
    returning columns, not a Python object per claim."""
    ids, outlets, texts = batch
    return claims_of(ids, outlets, claim_spans(texts))


@dataclass(frozen=True)
class ClaimsStage:
    """Every article split into claims, written as a claim table in `scratch` (compare.index.spool:
    the claims are never held whole), reusing the previous snapshot's claims of unchanged articles
    (ids are content hashes, so an unchanged id means unchanged text). A full build's claims are in
    corpus order; an incremental one's are the kept claims in the previous snapshot's order, then
    the new articles' in corpus order."""

    scratch: Path
    name: str = "claims"
    label: str = "splitting claims"

    def run(self, corpus: Corpus, previous: Previous | None, engine: Engine, built: Mapping[str, Any], progress: StepProgress) -> StageResult:
        articles = corpus.articles
        reusable = _reusable(previous)
        known = reusable.claims_file if reusable else None
        writer = ClaimWriter(self.scratch)
        have: set[str] = set()
        reused = known is not None
        if known is not None:
            try:
                writer.add_lazy(pl.scan_parquet(known).filter(pl.col("article_id").is_in(articles["id"].implode())).select(list(CLAIM_SCHEMA)))
            except (OSError, ValueError, pl.exceptions.PolarsError):
                writer, reused = ClaimWriter(self.scratch, "claims-split"), False  # unreadable despite its checksum: split everything
            have = {article_id for counts in writer.counts for article_id in counts["article_id"].to_list()}
        todo = np.arange(articles.height)
        if have:
            todo = np.flatnonzero(~articles["id"].is_in(pl.Series(list(have), dtype=pl.String).implode()).to_numpy())
        size = engine.batch_size
        round_size = size * _CLAIM_BATCHES_AT_ONCE
        progress(0, todo.size)
        for start in range(0, todo.size, round_size):
            batches = []
            for at in range(start, min(start + round_size, todo.size), size):
                rows = todo[at : at + size]
                part = articles[rows]
                batches.append((part["id"].to_list(), part["outlet"].to_list(), corpus.texts.take(rows)))
            frames = engine.map_batches(claim_rows, batches)
            writer.add(pl.concat(frames) if frames else pl.DataFrame(schema=CLAIM_SCHEMA))
            progress(min(start + round_size, todo.size), todo.size)
        claims = writer.table()
        mode = "incremental" if reused else "full"
        return StageResult({"claims": claims}, {"mode": mode, "split": int(todo.size), "claims": claims.height})


# --------------------------------------------------------------------------- wire copy


@dataclass(frozen=True)
class WireCopyStage:
    """Near-duplicate clusters and, per copy, the evidence reports show (dedup.CopyDetail as JSON).

    Incremental: copies of new articles are looked for within the dedup window around them only
    (dedup.incremental_clusters); evidence of an unchanged (source, copy) pair is reused.
    """

    config: MinHashConfig
    home: Path | None = None  # wire-copy key rows past PassLimits.spill_rows are spilled to a temporary folder here
    name: str = "dedup"
    label: str = "wire copy"

    def run(self, corpus: Corpus, previous: Previous | None, engine: Engine, built: Mapping[str, Any], progress: StepProgress) -> StageResult:
        from compare.dedup.clusters import cluster_copies, incremental_clusters

        progress(0, 1)
        spill = self.home
        clock = StepClock()
        reusable = _reusable(previous)
        clusters = None
        if reusable:
            with clock.step("incremental"):
                clusters = incremental_clusters(
                    corpus.articles, set(corpus.new_ids), reusable.clusters, self.config, engine=engine, spill_dir=spill, with_text=corpus.with_text
                )
        mode = "full" if clusters is None else "incremental"
        if clusters is None:
            clusters = cluster_copies(corpus.articles, self.config, engine=engine, spill_dir=spill, texts=corpus.texts, clock=clock)
        with clock.step("stable_ids"):
            clusters = stable_ids(clusters, "cluster_id", previous.clusters if previous else None, corpus.renamed)
        with clock.step("evidence"):
            copies, described = self._evidence(corpus, clusters, reusable.copies if reusable else None)
        progress(1, 1)
        stats = {"mode": mode, "clusters": clusters["cluster_id"].n_unique(), "described": described, "step_cpu_seconds": clock.rounded()}
        return StageResult({"clusters": clusters, "copies": copies}, stats)

    def _evidence(self, corpus: Corpus, clusters: pl.DataFrame, known: pl.DataFrame | None) -> tuple[pl.DataFrame, int]:
        """COPY_SCHEMA rows, one per copy; the texts of the pairs to describe are read a wave of
        _PAIRS_AT_ONCE pairs at a time (all of them at once were 0.4 KB an article with 5% copies)."""
        from compare.dedup.clusters import describe_copy

        sources = clusters.filter(pl.col("is_source")).select("cluster_id", pl.col("article_id").alias("source_id"))
        pairs = clusters.filter(~pl.col("is_source")).join(sources, on="cluster_id").select("cluster_id", "article_id", "source_id")
        details = {(a, s): detail for a, s, detail in known.select("article_id", "source_id", "detail").iter_rows()} if known is not None else {}
        to_describe = [(a, s) for a, s in pairs.select("article_id", "source_id").iter_rows() if (a, s) not in details]
        # in the sources' row order: a wave's texts then lie in a few chunks of the corpus file (in
        # cluster order every wave read most of it: waves x chunks grew as N^2)
        source_rows = corpus.rows_of([source for _, source in to_describe])
        to_describe = [to_describe[at] for at in np.argsort(source_rows, kind="stable").tolist()]
        for start in range(0, len(to_describe), _PAIRS_AT_ONCE):
            wave = to_describe[start : start + _PAIRS_AT_ONCE]
            needed = list({article_id for pair in wave for article_id in pair})
            texts = dict(corpus.with_text(corpus.articles.filter(pl.col("id").is_in(needed))).select("id", "text").iter_rows())
            for article_id, source_id in wave:
                details[(article_id, source_id)] = describe_copy(texts[source_id], article_id, texts[article_id], self.config).to_json()
        rows = [(cluster_id, article_id, source_id, details[(article_id, source_id)]) for cluster_id, article_id, source_id in pairs.iter_rows()]
        return pl.DataFrame(rows, schema=COPY_SCHEMA, orient="row"), len(to_describe)


# Copy pairs described at once by the wire-copy stage (their two texts held).
_PAIRS_AT_ONCE = 8_192


# --------------------------------------------------------------------------- article vectors


@dataclass(frozen=True)
class ArticleVectorsStage:
    """Title+lede embeddings (stories.story_text) in article row order; unchanged articles' vectors
    come from the previous snapshot when it was built with the same model, the rest through the
    embedding cache when the embedder is a CachedEmbedder (the build's default), so `--full` and
    settings changes embed no text twice."""

    embedder: Embedder
    config: EmbedConfig
    name: str = "embed"
    label: str = "embedding"

    def run(self, corpus: Corpus, previous: Previous | None, engine: Engine, built: Mapping[str, Any], progress: StepProgress) -> StageResult:
        from compare.embed.embedder import CachedEmbedder
        from compare.stories.grouping import story_text

        articles = corpus.articles
        ids = articles["id"].to_list()
        kept, kept_vectors = previous.article_vectors(self.embedder.name, ids) if previous else (np.zeros(0, np.int64), np.zeros((0, 0), np.float32))
        is_kept = np.zeros(len(ids), dtype=bool)
        is_kept[kept] = True
        missing = np.flatnonzero(~is_kept).tolist()
        titles = articles["title"].to_list()
        step = corpus.texts.chunk_rows

        def chunk_progress(first: int) -> StepProgress:  # a chunk's own progress as a share of every missing article
            return lambda done, total: progress(first + (done * min(step, len(missing) - first)) // max(total, 1), len(missing))

        matrix = None
        if len(kept):
            matrix = np.zeros((len(ids), kept_vectors.shape[1]), dtype=np.float32)
            matrix[kept] = kept_vectors
        del kept_vectors
        if isinstance(self.embedder, CachedEmbedder):
            # cache look-ups here, only the texts it lacks go to the engine's workers
            batched: CachedEmbedder | BatchedEmbedder = CachedEmbedder(batched_embedder(engine, self.embedder.inner, self.config), self.embedder.cache)
        else:
            batched = batched_embedder(engine, self.embedder, self.config)
        # a chunk of texts at a time, written straight into the matrix: neither the texts nor a second
        # copy of the vectors is held for the whole corpus (5 KB an article at once before)
        for first in range(0, len(missing), step):
            rows = missing[first : first + step]
            texts = [story_text(titles[row], text) for row, text in zip(rows, corpus.texts.take(rows), strict=True)]
            batched.progress = chunk_progress(first)
            encoded = batched.encode(texts)
            if matrix is None:
                matrix = np.zeros((len(ids), encoded.shape[1]), dtype=np.float32)
            matrix[rows] = encoded
            progress(first + len(rows), len(missing))  # also when the cache held every text of the chunk
        embedded = batched.embedded if isinstance(batched, CachedEmbedder) else len(missing)
        if matrix is None:  # nothing kept nor embedded: an empty corpus; a model loads lazily, its dimension may read 0
            matrix = np.zeros((len(ids), self.embedder.dimension), dtype=np.float32)
        # embedded: texts sent to the model (not found in the previous snapshot nor the embedding cache)
        return StageResult({"article_vectors": matrix}, {"mode": "incremental" if len(kept) else "full", "embedded": embedded})


# --------------------------------------------------------------------------- stories


@dataclass(frozen=True)
class StoriesStage:
    """Articles grouped into stories; new articles join their neighbours' stories incrementally
    (stories.incremental_stories); wire copies always share a story."""

    config: StoryConfig
    scratch: Path | None = None  # TF-IDF word bags past stories.grouping.TFIDF_HELD_WORDS are spilled here
    name: str = "stories"
    label: str = "grouping stories"

    def run(self, corpus: Corpus, previous: Previous | None, engine: Engine, built: Mapping[str, Any], progress: StepProgress) -> StageResult:
        from compare.dedup.clusters import copy_links
        from compare.stories.grouping import group_stories, incremental_stories

        progress(0, 1)
        clock = StepClock()
        with clock.step("copy_links"):
            links = copy_links(built["clusters"])
        vectors = built["article_vectors"]
        reusable = _reusable(previous)
        stories = None
        if reusable:
            with clock.step("incremental"):
                stories = incremental_stories(corpus.articles, vectors, set(corpus.new_ids), reusable.stories, links, self.config, with_text=corpus.with_text)
        mode = "full" if stories is None else "incremental"
        if stories is None:
            stories = group_stories(corpus.articles, vectors, links, self.config, engine=engine, texts=corpus.texts, spill_dir=self.scratch, clock=clock)
        with clock.step("stable_ids"):
            stories = stable_ids(stories, "story_id", previous.stories if previous else None, corpus.renamed)
        progress(1, 1)
        # step_cpu_seconds: where the stage's time goes (benchmarks/scale.py gives each step an exponent)
        stats = {"mode": mode, "stories": stories["story_id"].n_unique(), "step_cpu_seconds": clock.rounded()}
        return StageResult({"stories": conform(stories, STORY_SCHEMA)}, stats)


# --------------------------------------------------------------------------- claim vectors


def multi_outlet_articles(articles: pl.DataFrame, stories: pl.DataFrame, min_outlets: int) -> list[str]:
    """Ids of the articles in stories covered by at least `min_outlets` outlets (the ones reports compare)."""
    outlets = stories.join(articles.select("id", "outlet"), left_on="article_id", right_on="id")
    wide = outlets.group_by("story_id").agg(pl.col("outlet").n_unique().alias("outlets")).filter(pl.col("outlets") >= min_outlets)
    return stories.join(wide, on="story_id")["article_id"].to_list()


# Claims sent to the embedder at a time: their texts, keys and vectors (1.5 KB each) are what the
# stage holds; the vectors go to the scratch file after each slice.
_CLAIMS_PER_SLICE = 8_192


@dataclass(frozen=True)
class ClaimVectorsStage:
    """Vectors of the claims of multi-outlet stories, so a story report needs no model.

    Every vector goes through the persistent embedding cache under `<home>/cache/embeddings` (a
    claim's vector depends only on its text and the model: a sentence wire-copied across outlets, or
    kept from the last build, is embedded once), the rest through the model in engine batches. The
    vectors are appended to a file in the scratch folder a slice of claims at a time (spool.VectorWriter),
    so the stage holds one slice, not the corpus's claims. min_outlets 0 turns the stage off.
    """

    config: EmbedConfig
    home: Path
    min_outlets: int
    scratch: Path  # the claim table is rewritten here with its vector rows, and the vectors written
    name: str = "claim_vectors"
    label: str = "embedding claims"

    def run(self, corpus: Corpus, previous: Previous | None, engine: Engine, built: Mapping[str, Any], progress: StepProgress) -> StageResult:
        from compare.embed.embedder import CachedEmbedder, cached_embedder, make_embedder

        claims: ClaimTable = built["claims"]
        model = make_embedder(self.config).name
        target = self.scratch / "claim_vectors.npy"
        if self.min_outlets <= 0:
            return StageResult({"claims": claims, "claim_vectors": VectorWriter(target, 0).close(), "claim_model": model}, {"mode": "off", "embedded": 0})
        wanted = set(multi_outlet_articles(corpus.articles, built["stories"], self.min_outlets))
        numbered = claims.with_vector_rows(wanted, self.scratch)  # the claims of `wanted`, in stored order, are the file's rows
        total = numbered.vector_rows
        base = cached_embedder(self.config, self.home)
        writer = VectorWriter(target, total)
        done, size = 0, 0  # claims finished, claims in the slice being embedded
        progress(0, total)

        def report(finished: int, count: int) -> None:  # texts the model embedded in this slice, as a share of its claims
            progress(done + (round(finished / count * size) if count else 0), total)

        embedder = CachedEmbedder(batched_embedder(engine, base.inner, self.config), base.cache, progress=report)
        for texts in numbered.texts_to_embed():
            for start in range(0, len(texts), _CLAIMS_PER_SLICE):
                chunk = texts[start : start + _CLAIMS_PER_SLICE]
                size = len(chunk)
                writer.add(embedder.encode(chunk))
                done += size
                progress(done, total)
        vectors = writer.close()
        stats = {"mode": "incremental" if _reusable(previous) else "full", "claims": total, "embedded": embedder.embedded}
        return StageResult({"claims": numbered, "claim_vectors": vectors, "claim_model": model}, stats)


# --------------------------------------------------------------------------- facts (what each report finds)


@dataclass(frozen=True)
class StoryFacts:
    """What one story's report needs, self-contained for an engine task: its articles (ARTICLE_SCHEMA
    rows), its claims (STORED_CLAIM_SCHEMA, `vector_row` into `vectors`) and their vectors."""

    story_id: str
    articles: pl.DataFrame
    claims: pl.DataFrame
    vectors: np.ndarray


def facts_documents(settings: Settings, stories: list[StoryFacts]) -> list[str]:
    """The encoded facts (report.story.encode_facts) of each story; a plain function for engine batches.
    What a report loads (the spaCy pipeline, parsed claims) is kept per process by compare.diverge,
    so a Ray worker loads it once for all the stories it is given."""
    from compare.report.story import encode_facts, report_for_articles

    return [
        encode_facts(report_for_articles(story.articles, settings, story_id=story.story_id, stored=(story.claims, story.vectors)))
        for story in stories
    ]


# Stories per engine task, as a share of the engine's articles per batch: a multi-outlet story has
# 4-8 articles on AllSides and a report costs ~36 ms per article, so 256 / 8 = 32 stories is ~5-10 s.
_ARTICLES_PER_STORY = 8
# Tasks handed to the engine at once: their stories' articles, claims and vectors are copies, so the
# driver holds at most this many batches of them, not the corpus again.
_FACT_BATCHES_AT_ONCE = 64


@dataclass(frozen=True)
class FactsStage:
    """What the report of every story covered by `min_outlets` or more outlets finds: claims aligned
    into facts, divergences and omissions ranked (compare.report.story.report_for_articles), stored per
    story so `compare report` reads it and loads no model (the spaCy parse included). A story whose
    members and facts settings are unchanged keeps the previous snapshot's document; the others are
    engine batches of stories (facts_documents), on Ray as tasks: stories are independent.

    Stories are done in waves (64 engine tasks): a wave's texts, claims and claim vectors are read
    when it starts and its documents written as a part in the scratch folder when it ends, so the
    stage holds one wave, not the corpus's claims and documents (16-25 KB a story).

    Takes the whole Settings: it makes reports, which read the alignment, claim-model and dedup settings.
    """

    settings: Settings
    min_outlets: int
    scratch: Path  # the facts parts are written here
    name: str = "facts"
    label: str = "aligning facts"

    def run(self, corpus: Corpus, previous: Previous | None, engine: Engine, built: Mapping[str, Any], progress: StepProgress) -> StageResult:
        from functools import partial

        from compare.report.story import facts_key, members_key

        if self.min_outlets <= 0:
            return StageResult({"facts": FactParts((), 0)}, {"mode": "off", "stories": 0})
        articles, stories = corpus.articles, built["stories"]
        wanted = set(multi_outlet_articles(articles, stories, self.min_outlets))
        members = (
            stories.filter(pl.col("article_id").is_in(list(wanted))).group_by("story_id", maintain_order=True).agg("article_id")
            .with_columns(pl.col("article_id").map_elements(members_key, return_dtype=pl.String).alias("members"))
        )
        key = facts_key(self.settings)
        kept = _reusable_facts(previous, key, members.select("story_id", "members"))
        parts: list[Path] = []
        if kept is not None and kept.height:
            parts.append(written(kept.write_parquet, self.scratch / "facts-kept.parquet"))
        kept_ids = set(kept["story_id"].to_list()) if kept is not None else set()
        mode = "incremental" if kept_ids else "full"
        del kept
        # in order of each story's first article in the corpus: a wave's texts then lie in a few
        # chunks of the corpus file, not in all of them (stories are local in time, as ingests are)
        first_row = (
            members.select("story_id", "article_id").explode("article_id")
            .join(articles.select("id").with_row_index("row"), left_on="article_id", right_on="id")
            .group_by("story_id").agg(pl.col("row").min().alias("first_row"))
        )
        ordered = members.join(first_row, on="story_id", how="left").sort("first_row", maintain_order=True)
        todo = [(story_id, ids, hashed) for story_id, ids, hashed in ordered.select("story_id", "article_id", "members").iter_rows() if story_id not in kept_ids]
        total = members.height
        progress(len(kept_ids), total)
        if todo:
            per_task = max(1, engine.batch_size // _ARTICLES_PER_STORY)
            table: ClaimTable = built["claims"]
            vectors: VectorFile = built["claim_vectors"]
            compute = partial(facts_documents, self.settings)
            done = len(kept_ids)
            for start in range(0, len(todo), per_task * _FACT_BATCHES_AT_ONCE):
                chunk = todo[start : start + per_task * _FACT_BATCHES_AT_ONCE]
                slicer = _StorySlicer.of_wave(corpus, table, vectors, [article_id for _, ids, _ in chunk for article_id in ids])
                batches = [[slicer.story(story_id, ids) for story_id, ids, _ in chunk[i : i + per_task]] for i in range(0, len(chunk), per_task)]
                hashes = [[hashed for _, _, hashed in chunk[i : i + per_task]] for i in range(0, len(chunk), per_task)]
                del slicer

                def report(finished: int, count: int, before: int = done, size: int = len(chunk)) -> None:
                    progress(before + (size if finished == count else finished * per_task), total)

                rows = []
                for batch, hashed, results in zip(batches, hashes, engine.map_batches(compute, batches, report), strict=True):
                    rows.extend((story.story_id, members, key, document) for story, members, document in zip(batch, hashed, results, strict=True))
                del batches
                frame = pl.DataFrame(rows, schema=FACTS_SCHEMA, orient="row")
                parts.append(written(frame.write_parquet, self.scratch / f"facts-{len(parts):05d}.parquet"))
                done += len(chunk)
        progress(total, total)
        stats = {"mode": mode, "stories": total, "computed": len(todo)}
        return StageResult({"facts": FactParts(tuple(parts), total)}, stats)


def _reusable_facts(previous: Previous | None, key: str, members: pl.DataFrame) -> pl.DataFrame | None:
    """The previous snapshot's facts rows (FACTS_SCHEMA) of the stories in `members` (story_id,
    members) whose membership and facts key are unchanged, read with a filter; None without stored facts."""
    source = previous.facts_file if previous else None
    if source is None:
        return None
    try:
        rows = pl.scan_parquet(source).filter(pl.col("key") == key).join(members.lazy(), on=["story_id", "members"], how="semi").collect()
    except (OSError, ValueError, pl.exceptions.PolarsError):
        return None
    return conform(rows, FACTS_SCHEMA)


class _StorySlicer:
    """The stories of one wave cut out of the wave's articles, claims and claim vectors by row
    numbers (an index made once), so slicing every story costs its own size, not the corpus's."""

    def __init__(self, articles: pl.DataFrame, claims: pl.DataFrame, vectors: np.ndarray) -> None:
        self.articles, self.claims, self.vectors = articles, claims, vectors  # vector_row: rows of `vectors`
        self.article_row = {article_id: row for row, article_id in enumerate(articles["id"].to_list())}
        spans = claims.with_row_index("row").group_by("article_id").agg(pl.col("row"))
        self.claim_rows = {article_id: rows for article_id, rows in spans.iter_rows()}

    @classmethod
    def of_wave(cls, corpus: Corpus, table: ClaimTable, vectors: VectorFile, article_ids: list[str]) -> _StorySlicer:
        """The wave's articles with their texts (each chunk of the corpus read once), their claims and
        the claims' vectors (read from the file, renumbered to this wave's rows)."""
        rows = np.unique(corpus.rows_of(list(dict.fromkeys(article_ids))))
        articles = corpus.with_text(corpus.articles[rows])
        claims = table.of_articles(set(article_ids))
        present = pl.col("vector_row").is_not_null()
        local = pl.when(present).then(present.cast(pl.Int32).cum_sum() - 1).cast(pl.Int32).alias("vector_row")  # n-th claim with a vector
        return cls(articles, claims.with_columns(local), vectors.take(claims["vector_row"].drop_nulls().to_numpy()))

    def story(self, story_id: str, article_ids: list[str]) -> StoryFacts:
        rows = sorted(row for article_id in article_ids for row in self.claim_rows.get(article_id, []))
        subset = self.claims[rows]
        stored = subset["vector_row"].to_numpy()
        present = ~subset["vector_row"].is_null().to_numpy()
        local = np.full(len(rows), -1, dtype=np.int64)
        local[present] = np.arange(int(present.sum()))
        vector_row = pl.Series("vector_row", [int(r) if keep else None for r, keep in zip(local, present, strict=True)], dtype=pl.Int32)
        vectors = self.vectors[stored[present].astype(np.int64)] if present.any() else np.zeros((0, self.vectors.shape[1] if self.vectors.ndim == 2 else 0), np.float32)
        article_rows = sorted(self.article_row[a] for a in article_ids)
        articles = self.articles[article_rows]
        return StoryFacts(story_id, articles, subset.with_columns(vector_row), vectors)
