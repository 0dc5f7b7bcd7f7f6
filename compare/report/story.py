"""The story report: one data model built from the corpus and its index, rendered by compare.report.render.

Per story: the outlets covering it, wire copy among them, claims every outlet carries, claims only
some carry (and who left them out), and aligned claims that disagree.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import numpy as np
import polars as pl

from compare.align.alignment import align_claims, decide_fact_pairs, fact_pairs, group_claims, load_configured_head
from compare.embed.rerank import configured_scorer
from compare.core.config import AlignConfig, MinHashConfig, Settings
from compare.diverge import ClaimRef, Divergence, DivergenceSide, find_divergences, nlp_note, story_label_divergences
from compare.diverge.nlp import nlp_installed
from compare.dedup.evidence import CopyDetail, cluster_credit
from compare.embed.embedder import Embedder, make_embedder
from compare.diverge.certainty import FORECAST
from compare.report.findings import TIMING_GAP_HOURS, Finding, rank_findings
from compare.index import Index
from compare.text.claims import claims_frame


class UnknownStoryError(LookupError):
    """The story or article id is not in the index."""


@dataclass(frozen=True)
class ArticleRef:
    id: str
    outlet: str
    url: str | None
    title: str | None
    published: datetime | None
    wire_credit: str | None


@dataclass(frozen=True)
class WireCopy:
    """A near-duplicate cluster: the earliest article is the probable source.

    `details` (one per copy, same order as `copies`) say how much of each copy is the source's text,
    which character ranges are its own, and which sentences it added, removed or changed.
    """

    cluster_id: str
    source: ArticleRef
    copies: tuple[tuple[ArticleRef, float], ...]  # (copy, word-shingle Jaccard with the source)
    wire_credit: str | None = None  # printed on the source, else the most common among the copies
    details: tuple[CopyDetail, ...] = ()


@dataclass(frozen=True)
class CoverageRow:
    """One claim group across outlets: who carries it (aligned claims), who has only a loosely similar
    sentence (`near`: cosine >= AlignConfig.near_similarity but not aligned), and who left it out (`missing`)."""

    group_id: str
    claims: tuple[ClaimRef, ...]
    present: tuple[str, ...]
    missing: tuple[str, ...]
    near: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return self.claims[0].text


@dataclass(frozen=True)
class StoryReport:
    story_id: str
    title: str
    first_published: datetime | None
    last_published: datetime | None
    outlets: tuple[str, ...]
    articles: tuple[ArticleRef, ...]
    wire_copies: tuple[WireCopy, ...]
    shared: tuple[CoverageRow, ...]  # carried by every outlet
    partial: tuple[CoverageRow, ...]  # carried by some outlets (at least two)
    unique: tuple[CoverageRow, ...]  # carried by one outlet only
    divergences: tuple[Divergence, ...]
    findings: tuple[Finding, ...] = ()  # divergences and omissions ranked best first (compare.report.findings)
    notes: tuple[str, ...] = ()  # what the reader should know about how it was made (a detector off...)


@dataclass(frozen=True)
class StorySummary:
    story_id: str
    title: str
    first_published: datetime | None
    outlets: tuple[str, ...]
    articles: tuple[ArticleRef, ...]
    last_published: datetime | None = None


def _article_ref(row: dict) -> ArticleRef:
    return ArticleRef(
        id=row["id"], outlet=row["outlet"], url=row["url"], title=row["title"],
        published=row["published"], wire_credit=row["wire_credit"],
    )


def _by_time(articles: pl.DataFrame) -> pl.DataFrame:
    return articles.sort(["published", "id"], nulls_last=True)


def list_stories(articles: pl.DataFrame, index: Index, *, min_outlets: int = 1) -> list[StorySummary]:
    """Stories newest first; each titled by its earliest article."""
    members = index.stories.join(articles, left_on="article_id", right_on="id").rename({"article_id": "id"})
    summaries = []
    for (story_id,), group in members.group_by("story_id"):
        ordered = _by_time(group)
        outlets = tuple(sorted(set(ordered["outlet"].to_list())))
        if len(outlets) < min_outlets:
            continue
        refs = tuple(_article_ref(row) for row in ordered.iter_rows(named=True))
        title = next((ref.title for ref in refs if ref.title), refs[0].id)
        dated = [ref.published for ref in refs if ref.published]
        summaries.append(StorySummary(story_id, title, refs[0].published, outlets, refs, max(dated) if dated else None))
    summaries.sort(key=lambda s: (s.first_published is not None, s.first_published or datetime.min, s.story_id), reverse=True)
    return summaries


def resolve_story(index: Index, story_or_article_id: str) -> str:
    """Accept a story id or the id of any article in it."""
    stories = index.stories
    if stories.filter(pl.col("story_id") == story_or_article_id).height:
        return story_or_article_id
    found = stories.filter(pl.col("article_id") == story_or_article_id)
    if found.height:
        return found["story_id"][0]
    raise UnknownStoryError(f"'{story_or_article_id}' is neither a story id nor an article id in the index (see `compare stories`)")


def find_story(articles: pl.DataFrame, index: Index, query: str) -> str:
    """The story whose article best matches `query` (TF-IDF cosine over title and text), for `report --query`.

    Word-based rather than embedded so it needs no model and favours the names and places a
    reader types; raises UnknownStoryError when no article shares a content word with the query.
    """
    from compare.stories.grouping import tfidf_vectors

    members = index.stories.join(articles.select("id", "title", "text"), left_on="article_id", right_on="id")
    if not members.height or not query.strip():
        raise UnknownStoryError("no story to match: the index is empty or the query is blank")
    texts = [f"{title or ''}. {title or ''}. {text}" for title, text in members.select("title", "text").iter_rows()]
    vectors = tfidf_vectors([*texts, query])
    scores = (vectors[:-1] @ vectors[-1].T).toarray().ravel()
    best = int(scores.argmax())
    if scores[best] <= 0:
        raise UnknownStoryError(f"no story matches '{query}' (no article shares a word with it)")
    return members["story_id"][best]


def _wire_copies(members: pl.DataFrame, index: Index, config: MinHashConfig | None = None) -> tuple[WireCopy, ...]:
    """The story's wire-copy clusters with each copy's evidence: read from the snapshot (stored by
    the build's wire-copy stage), computed here only for a snapshot of an older format."""
    from compare.index import snapshot_copies

    config = config or MinHashConfig()
    clusters = index.clusters.join(members, left_on="article_id", right_on="id")
    wanted = [cid for (cid,), group in clusters.group_by("cluster_id") if group.height >= 2]
    try:
        stored = {row[0]: CopyDetail.from_json(row[1]) for row in snapshot_copies(index.path, wanted).select("article_id", "detail").iter_rows()}
    except (OSError, pl.exceptions.PolarsError):
        stored = {}
    copies = []
    for (cluster_id,), group in clusters.group_by("cluster_id"):
        if group.height < 2:
            continue
        rows = list(_by_time(group.rename({"article_id": "id"})).iter_rows(named=True))
        source = next(row for row in rows if row["is_source"]) if any(r["is_source"] for r in rows) else rows[0]
        others = [row for row in rows if row is not source]
        credit = cluster_credit(source["wire_credit"], [row["wire_credit"] for row in others])
        details = tuple(stored.get(row["id"]) or _describe_copy(source["text"], row["id"], row["text"], config) for row in others)
        refs = tuple((_article_ref(row), row["jaccard_to_source"]) for row in others)
        copies.append(WireCopy(cluster_id, _article_ref(source), refs, credit, details))
    return tuple(sorted(copies, key=lambda copy: copy.cluster_id))


def _describe_copy(source_text: str, copy_id: str, copy_text: str, config: MinHashConfig) -> CopyDetail:
    """Only for snapshots of an older format: the build stores this evidence (dedup imports datasketch, ~1 s)."""
    from compare.dedup.clusters import describe_copy

    return describe_copy(source_text, copy_id, copy_text, config)


def _coverage(claims: pl.DataFrame, groups: pl.DataFrame, outlets: Sequence[str]) -> list[CoverageRow]:
    joined = groups.join(claims, on="claim_id")
    rows = []
    for (group_id,), group in joined.group_by("group_id"):
        ordered = group.sort(["article_order", "position"])
        refs = tuple(
            ClaimRef(r["claim_id"], r["article_id"], r["outlet"], r["start"], r["end"], r["text"])
            for r in ordered.iter_rows(named=True)
        )
        present = tuple(sorted({ref.outlet for ref in refs}))
        missing = tuple(outlet for outlet in outlets if outlet not in present)
        rows.append(CoverageRow(group_id, refs, present, missing))
    # In story order: by the first claim's article, then its position in that article.
    order = {cid: i for i, cid in enumerate(claims.sort(["article_order", "position"])["claim_id"].to_list())}
    rows.sort(key=lambda row: order[row.claims[0].claim_id])
    return rows


def _with_near(rows: list[CoverageRow], claims: pl.DataFrame, vectors: np.ndarray, near_similarity: float) -> list[CoverageRow]:
    """Move outlets with a loosely similar sentence from `missing` to `near`.

    An outlet whose closest sentence to a claim group reaches `near_similarity` (AlignConfig, cosine)
    has not left the claim out, though alignment did not pair them: on BASIL, 84% of sentences had
    no aligned counterpart, many of them paraphrased elsewhere.
    """
    if not rows or vectors.size == 0:
        return rows
    position = {claim_id: row for row, claim_id in enumerate(claims["claim_id"].to_list())}
    outlet_of = np.asarray(claims["outlet"].to_list(), dtype=object)
    by_outlet = {outlet: vectors[outlet_of == outlet] for outlet in set(outlet_of.tolist())}
    updated = []
    for row in rows:
        if not row.missing:
            updated.append(row)
            continue
        mine = vectors[[position[claim.claim_id] for claim in row.claims]]
        near = tuple(o for o in row.missing if o in by_outlet and len(by_outlet[o]) and float((mine @ by_outlet[o].T).max()) >= near_similarity)
        updated.append(replace(row, missing=tuple(o for o in row.missing if o not in near), near=near) if near else row)
    return updated


def _with_near_pairs(rows: list[CoverageRow], claims: pl.DataFrame, scored: pl.DataFrame, cut: float) -> list[CoverageRow]:
    """Move outlets from `missing` to `near` when one of their claims and one of the row's pass the
    same-fact head at the recall-oriented `cut` (criterion "learned"): a paraphrase or partial mention
    is not an omission."""
    if not rows or scored.height == 0:
        return rows
    outlet_of = dict(zip(claims["claim_id"].to_list(), claims["outlet"].to_list(), strict=True))
    partners: dict[str, set[str]] = {}
    for left, right in scored.filter(pl.col("probability") >= cut).select("left_claim_id", "right_claim_id").iter_rows():
        partners.setdefault(left, set()).add(outlet_of[right])
        partners.setdefault(right, set()).add(outlet_of[left])
    updated = []
    for row in rows:
        mentioned = set().union(*(partners.get(claim.claim_id, set()) for claim in row.claims))
        near = tuple(o for o in row.missing if o in mentioned)
        updated.append(replace(row, missing=tuple(o for o in row.missing if o not in near), near=near) if near else row)
    return updated


PairProbabilities = dict[tuple[str, str], float]  # (claim id, claim id), ids sorted -> same-fact probability


def aligned_facts(
    claims: pl.DataFrame,
    vectors: np.ndarray,
    config: AlignConfig,
    outlets: Sequence[str],
    *,
    scorer: object | None = None,
    threshold: float | None = None,
    head: object | None = None,
) -> tuple[list[CoverageRow], PairProbabilities | None]:
    """Coverage rows, and (criterion "learned") the same-fact probability of every scored claim pair at
    the near cut or above, so divergences are judged on mentions the head says report the same fact.

    With criterion "learned" one same-fact head decides both: pairs at its align cut are grouped,
    and an outlet with a pair at its lower near cut is listed as mentioning the fact, not missing it.
    """
    if scorer is None and config.criterion == "learned":
        head = head or load_configured_head(config)
        scored = fact_pairs(claims, vectors, config, head=head)
        near = config.near_probability or head.near_threshold  # type: ignore[attr-defined]
        pairs = decide_fact_pairs(scored, claims, config, threshold=config.align_probability or head.align_threshold)  # type: ignore[attr-defined]
        groups = group_claims(claims["claim_id"].to_list(), pairs)
        probabilities = {
            (min(left, right), max(left, right)): float(p)
            for left, right, p in scored.filter(pl.col("probability") >= near).select("left_claim_id", "right_claim_id", "probability").iter_rows()
        }
        return _with_near_pairs(_coverage(claims, groups, outlets), claims, scored, near), probabilities
    pairs = align_claims(claims, vectors, config, scorer=scorer, threshold=threshold)  # type: ignore[arg-type]
    groups = group_claims(claims["claim_id"].to_list(), pairs)
    return _with_near(_coverage(claims, groups, outlets), claims, vectors, config.near_similarity), None


# Kinds that compare one statement as two outlets render it (who said it, how sure): the two claims
# must also read alike to the bi-encoder. On a 7-outlet real story every top "attribution" finding
# set different lawmakers' remarks side by side (cosine 0.38-0.41) that the head paired on shared
# names and phrases; 16 of the 22 gold divergences' claim pairs have cosine 0.54 or more.
STATEMENT_KINDS = frozenset({"attribution", "certainty"})
STATEMENT_MIN_COSINE = 0.5


def row_divergences(
    group_id: str, claims: Sequence[ClaimRef], probabilities: PairProbabilities | None, cosine: Callable[[str, str], float] | None = None
) -> list[Divergence]:
    """Where the outlets of one coverage row disagree.

    With same-fact probabilities (criterion "learned") the detectors compare each directly paired
    couple of claims, and a finding's confidence is its detector's times that pair's probability. A
    row joins claims through chains of pairs, so comparing every claim with every other set claims
    side by side that report different facts (on a 7-outlet story every top finding did: one
    lawmaker's words "attributed to different sources" against another's). Findings of one kind and
    subject are then merged by value. A difference inside outlets (the same outlets on every side)
    is dropped. Without probabilities (other criteria) the whole row is compared. With `cosine`
    (claim id, claim id -> cosine of their vectors), STATEMENT_KINDS need STATEMENT_MIN_COSINE."""
    if probabilities is None:
        found = find_divergences(group_id, claims)
    else:
        merged: dict[tuple[str, str], Divergence] = {}
        for left, right in itertools.combinations(claims, 2):
            probability = probabilities.get((min(left.claim_id, right.claim_id), max(left.claim_id, right.claim_id)), 0.0)
            if left.outlet == right.outlet or probability <= 0:
                continue
            alike = cosine is None or cosine(left.claim_id, right.claim_id) >= STATEMENT_MIN_COSINE
            for divergence in find_divergences(group_id, [left, right]):
                if divergence.kind in STATEMENT_KINDS and not alike:
                    continue
                weighted = replace(divergence, confidence=round(divergence.confidence * probability, 4))
                key = (weighted.kind, weighted.subject)
                merged[key] = _merged(merged[key], weighted) if key in merged else weighted
        found = sorted(merged.values(), key=lambda divergence: -divergence.confidence)
    return [divergence for divergence in found if len({side.outlets for side in divergence.sides}) >= 2]


def _merged(first: Divergence, second: Divergence) -> Divergence:
    """One divergence from two of the same kind and subject: sides joined by value, the higher confidence."""
    sides: dict[str, list[ClaimRef]] = {}
    for side in (*first.sides, *second.sides):
        kept = sides.setdefault(side.value, [])
        kept.extend(claim for claim in side.claims if claim not in kept)
    return replace(first, sides=tuple(DivergenceSide(value, tuple(claims)) for value, claims in sides.items()),
                   confidence=max(first.confidence, second.confidence))


def story_labels(coverage: Sequence[CoverageRow], found: Sequence[Divergence]) -> tuple[Divergence, ...]:
    """Loaded labels compared over the whole story (diverge.story_label_divergences), except classes
    a fact's own comparison already reported."""
    group_of = {claim.claim_id: row.group_id for row in coverage for claim in row.claims}
    reported = {d.subject for d in found if d.kind == "framing"}
    labels = story_label_divergences([claim for row in coverage for claim in row.claims], group_of)
    return tuple(d for d in labels if d.subject not in reported)


def forecast_precedes_outcome(divergence: Divergence, published: Mapping[str, datetime | None]) -> bool:
    """False for a "forecast vs outcome" divergence unless every forecast side was published at least
    TIMING_GAP_HOURS before an outcome side. Outlets writing on the same day in different tenses
    ("announced he'll run" / "has announced his run") tell one event, not a preview and a result;
    with dates unknown the order cannot be told, so it is not claimed. Other divergences pass."""
    if divergence.subject != FORECAST:
        return True
    forecasts = [published.get(c.article_id) for side in divergence.sides if side.value.startswith("forecast") for c in side.claims]
    outcomes = [t for side in divergence.sides if not side.value.startswith("forecast") for c in side.claims if (t := published.get(c.article_id))]
    if not forecasts or not outcomes or None in forecasts:
        return False
    return (max(outcomes) - max(forecasts)).total_seconds() >= TIMING_GAP_HOURS * 3600  # type: ignore[type-var]


def stored_claims(index: Index, article_ids: Sequence[str], settings: Settings) -> tuple[pl.DataFrame, np.ndarray] | None:
    """The snapshot's claims of `article_ids` (STORED_CLAIM_SCHEMA) and its claim vectors, or None
    when the snapshot predates stored claims. Vectors made with another claim model are not used
    (every vector_row is then null)."""
    from compare.index import claim_model_name, snapshot_claim_vectors, snapshot_claims

    try:
        claims = snapshot_claims(index.path, list(article_ids))
        vectors = snapshot_claim_vectors(index.path)
    except (OSError, ValueError, pl.exceptions.PolarsError):
        return None
    if index.manifest.claim_model != claim_model_name(settings):
        claims = claims.with_columns(pl.lit(None, dtype=pl.Int32).alias("vector_row"))
    return claims, vectors


def build_report(
    articles: pl.DataFrame,
    index: Index,
    story_or_article_id: str,
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] | None = None,
) -> StoryReport:
    """The report of one story of the index. Claims, their vectors and the wire-copy evidence come
    from the snapshot; a model is loaded only for claims the build did not embed."""
    story_id = resolve_story(index, story_or_article_id)
    member_ids = index.stories.filter(pl.col("story_id") == story_id)["article_id"]
    members = articles.filter(pl.col("id").is_in(member_ids.implode()))
    document = stored_facts(index, story_id, member_ids.to_list(), settings)
    stored = stored_claims(index, member_ids.to_list(), settings)
    if document is not None and stored is not None:
        claims = {
            row["claim_id"]: ClaimRef(row["claim_id"], row["article_id"], row["outlet"], row["start"], row["end"], row["text"])
            for row in stored[0].iter_rows(named=True)
        }
        try:
            return _report_from_facts(members, index, story_id, settings, decode_facts(document, claims))
        except KeyError:
            pass  # a claim it names is gone: computed below
    return report_for_articles(members, settings, story_id=story_id, index=index, embedder=embedder, progress=progress, stored=stored)


def _report_from_facts(members: pl.DataFrame, index: Index, story_id: str, settings: Settings, parts: dict[str, tuple]) -> StoryReport:
    members = _by_time(members)
    refs = tuple(_article_ref(row) for row in members.iter_rows(named=True))
    dated = [ref.published for ref in refs if ref.published]
    return StoryReport(
        story_id=story_id,
        title=next((ref.title for ref in refs if ref.title), story_id),
        first_published=min(dated) if dated else None,
        last_published=max(dated) if dated else None,
        outlets=tuple(sorted({ref.outlet for ref in refs})),
        articles=refs,
        wire_copies=_wire_copies(members, index, settings.minhash),
        **parts,
    )


def _claim_vectors(
    claims: pl.DataFrame, stored: np.ndarray | None, settings: Settings, embedder: Embedder | None, progress: Callable[[str], None] | None
) -> np.ndarray:
    """Vectors of `claims` rows: stored rows read from the snapshot, the rest embedded (claim vectors
    persist under the home, so a story's second report needs no model either)."""
    rows = claims["vector_row"].to_list() if "vector_row" in claims.columns else [None] * claims.height
    missing = [position for position, row in enumerate(rows) if row is None]
    if stored is not None and not missing:
        return np.asarray(stored[np.asarray(rows, dtype=np.int64)], dtype=np.float32) if rows else np.zeros((0, stored.shape[1] if stored.ndim == 2 else 0), np.float32)
    if embedder is None and stored is not None:  # a story of the index: cache what the build did not embed
        from compare.embed.embedder import cached_embedder

        embedder = cached_embedder(settings.claim_embed, settings.home)
    embedder = embedder or make_embedder(settings.claim_embed)
    if progress:
        progress(f"embedding {len(missing)} claims")
    fresh = embedder.encode([claims["text"][position] for position in missing])
    vectors = np.zeros((claims.height, fresh.shape[1]), dtype=np.float32)
    if missing:
        vectors[missing] = fresh
    present = [position for position, row in enumerate(rows) if row is not None]
    if present and stored is not None:
        vectors[present] = stored[np.asarray([rows[position] for position in present], dtype=np.int64)]
    return vectors


def report_for_articles(
    members: pl.DataFrame,
    settings: Settings,
    *,
    story_id: str,
    index: Index | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] | None = None,
    stored: tuple[pl.DataFrame, np.ndarray] | None = None,
) -> StoryReport:
    """The report over any set of articles (ARTICLE_SCHEMA rows): claims aligned across outlets, then detectors.

    `index` only supplies wire-copy clusters; without it the report has none. `stored` is the
    snapshot's claims and claim vectors (stored_claims); without it the articles are split and
    embedded here. Benchmarks call this directly on gold story groupings.
    """
    members = _by_time(members)
    outlets = tuple(sorted(set(members["outlet"].to_list())))
    article_order = {article_id: i for i, article_id in enumerate(members["id"].to_list())}

    claims = stored[0] if stored is not None else claims_frame(members)
    claims = claims.filter(pl.col("article_id").is_in(list(article_order))).with_columns(
        pl.col("article_id").replace_strict(article_order, return_dtype=pl.Int32).alias("article_order")
    )
    vectors = _claim_vectors(claims, stored[1] if stored is not None else None, settings, embedder, progress)
    scorer, threshold = configured_scorer(
        settings.align.reranker, settings.align.rerank_threshold, embedding_model=settings.claim_embed.model, device=settings.embed.device
    )
    if scorer is not None and progress:
        progress(f"re-ranking claim pairs with {settings.align.reranker}")
    coverage, probabilities = aligned_facts(claims, vectors, settings.align, outlets, scorer=scorer, threshold=threshold)
    multi_outlet = len(outlets) > 1
    shared = tuple(row for row in coverage if multi_outlet and not row.missing and not row.near)
    unique = tuple(row for row in coverage if multi_outlet and len(row.present) == 1 and not row.near)
    partial = tuple(row for row in coverage if multi_outlet and (row.missing or row.near) and row not in unique)
    refs = tuple(_article_ref(row) for row in members.iter_rows(named=True))
    published = {ref.id: ref.published for ref in refs}
    row_of = {claim_id: row for row, claim_id in enumerate(claims["claim_id"].to_list())}

    def cosine(left: str, right: str) -> float:
        return float(vectors[row_of[left]] @ vectors[row_of[right]])

    found = (d for row in coverage for d in row_divergences(row.group_id, row.claims, probabilities, cosine))
    divergences = tuple(d for d in found if forecast_precedes_outcome(d, published))
    if multi_outlet:
        divergences += story_labels(coverage, divergences)
    divergences = tuple(d for d in divergences if d.confidence >= settings.report.min_confidence)

    findings = rank_findings(
        coverage if multi_outlet else [], divergences, outlets, {ref.id: ref.title for ref in refs}, published,
        _latest_by_outlet(refs), _titles_by_outlet(refs),
    )
    title = next((ref.title for ref in refs if ref.title), story_id)
    dated = [ref.published for ref in refs if ref.published]
    return StoryReport(
        story_id=story_id,
        title=title,
        first_published=min(dated) if dated else None,
        last_published=max(dated) if dated else None,
        outlets=outlets,
        articles=refs,
        wire_copies=_wire_copies(members, index, settings.minhash) if index is not None else (),
        shared=shared,
        partial=partial,
        unique=unique,
        divergences=divergences,
        findings=findings,
        notes=tuple(note for note in (nlp_note(), *_partly_analysed(members, claims)) if note),
    )


def _titles_by_outlet(refs: Sequence[ArticleRef]) -> dict[str, list[str | None]]:
    titles: dict[str, list[str | None]] = {}
    for ref in refs:
        titles.setdefault(ref.outlet, []).append(ref.title)
    return titles


def _latest_by_outlet(refs: Sequence[ArticleRef]) -> dict[str, datetime | None]:
    """Each outlet's latest publication time in the story (None when any of its articles is undated)."""
    latest: dict[str, datetime | None] = {}
    for ref in refs:
        if ref.outlet in latest and (latest[ref.outlet] is None or ref.published is None):
            latest[ref.outlet] = None
        elif ref.published is not None:
            latest[ref.outlet] = max(ref.published, latest.get(ref.outlet) or ref.published)
        else:
            latest[ref.outlet] = None
    return latest


def _partly_analysed(members: pl.DataFrame, claims: pl.DataFrame) -> list[str]:
    """One note per article analysed only in part (past text.MAX_ANALYSED_CHARS or the claim limit)."""
    from compare.text.claims import MAX_CLAIMS_PER_ARTICLE, analysed_length

    ends = dict(claims.group_by("article_id").agg(pl.col("end").max(), pl.len().alias("count")).select("article_id", pl.struct("end", "count")).iter_rows())
    notes = []
    for article_id, outlet, text in members.select("id", "outlet", "text").iter_rows():
        found = ends.get(article_id) or {"end": 0, "count": 0}
        analysed = found["end"] if found["count"] >= MAX_CLAIMS_PER_ARTICLE else analysed_length(text)
        if analysed < len(text):
            notes.append(f"{outlet} article {article_id} was analysed up to character {analysed:,} of {len(text):,} (longer texts are analysed in part)")
    return notes


# --------------------------------------------------------------------------- facts stored by the build
# The build's facts stage (compare.index.stages.FactsStage) runs report_for_articles for every story
# several outlets cover and stores what it found as one JSON document per story, claims named by id,
# so a report reads it back instead of aligning and parsing again (and loads no model).

# Bump when alignment, the detectors or ranking change what a report finds for the same claims.
FACTS_VERSION = 19


def facts_key(settings: Settings) -> str:
    """What stored facts depend on besides the claims: alignment settings and head, the claim model,
    whether the parse-based detectors ran, and FACTS_VERSION. Stored facts with another key are not used."""
    head = load_configured_head(settings.align) if settings.align.criterion == "learned" else None
    document = {
        "version": FACTS_VERSION, "align": asdict(settings.align), "report": asdict(settings.report), "claim_model": make_embedder(settings.claim_embed).name,
        "nlp": nlp_installed(), "head": json.dumps(asdict(head), sort_keys=True, default=str) if head is not None else None,
    }
    return hashlib.blake2b(json.dumps(document, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def members_key(article_ids: Sequence[str]) -> str:
    """A story's membership as a short hash: stored facts are used only for exactly these articles."""
    return hashlib.blake2b("\x1f".join(sorted(article_ids)).encode(), digest_size=8).hexdigest()


def encode_facts(report: StoryReport) -> str:
    """The report's coverage, divergences, findings and notes as JSON, claims by id."""
    def row(r: CoverageRow) -> dict[str, object]:
        return {"group_id": r.group_id, "claims": [c.claim_id for c in r.claims], "present": list(r.present), "missing": list(r.missing), "near": list(r.near)}

    def divergence(d: Divergence) -> dict[str, object]:
        return {"kind": d.kind, "group_id": d.group_id, "subject": d.subject, "confidence": d.confidence,
                "sides": [{"value": side.value, "claims": [c.claim_id for c in side.claims]} for side in d.sides]}

    position = {d: i for i, d in enumerate(report.divergences)}
    findings = [
        {"rank": f.rank, "kind": f.kind, "headline": f.headline, "confidence": f.confidence, "importance": f.importance, "score": f.score,
         "group_id": f.group_id, "divergence": position.get(f.divergence) if f.divergence is not None else None,
         "fact": [c.claim_id for c in f.fact], "missing": list(f.missing), "timing": f.timing}
        for f in report.findings
    ]
    return json.dumps({
        "shared": [row(r) for r in report.shared], "partial": [row(r) for r in report.partial], "unique": [row(r) for r in report.unique],
        "divergences": [divergence(d) for d in report.divergences], "findings": findings, "notes": list(report.notes),
    }, separators=(",", ":"), ensure_ascii=False)


def decode_facts(document: str, claims: Mapping[str, ClaimRef]) -> dict[str, tuple]:
    """encode_facts back to the StoryReport fields it holds; KeyError when a claim is not in `claims`."""
    from compare.diverge import DivergenceSide

    data = json.loads(document)
    refs = lambda ids: tuple(claims[i] for i in ids)  # noqa: E731

    def row(r: dict) -> CoverageRow:
        return CoverageRow(r["group_id"], refs(r["claims"]), tuple(r["present"]), tuple(r["missing"]), tuple(r["near"]))

    divergences = tuple(
        Divergence(d["kind"], d["group_id"], d["subject"], tuple(DivergenceSide(side["value"], refs(side["claims"])) for side in d["sides"]), d["confidence"])
        for d in data["divergences"]
    )
    findings = tuple(
        Finding(f["rank"], f["kind"], f["headline"], f["confidence"], f["importance"], f["score"], f["group_id"],
                divergences[f["divergence"]] if f["divergence"] is not None else None, refs(f["fact"]), tuple(f["missing"]), f["timing"])
        for f in data["findings"]
    )
    return {
        "shared": tuple(row(r) for r in data["shared"]), "partial": tuple(row(r) for r in data["partial"]),
        "unique": tuple(row(r) for r in data["unique"]), "divergences": divergences, "findings": findings, "notes": tuple(data["notes"]),
    }


def stored_facts(index: Index, story_id: str, article_ids: Sequence[str], settings: Settings) -> str | None:
    """The facts document the build stored for this story, when it was made for exactly these
    articles under these settings; else None (the report is then computed)."""
    from compare.index import snapshot_facts

    try:
        rows = snapshot_facts(index.path, [story_id])
    except (OSError, ValueError, pl.exceptions.PolarsError):
        return None
    if rows.height != 1:
        return None
    record = rows.row(0, named=True)
    if record["members"] != members_key(article_ids) or record["key"] != facts_key(settings):
        return None
    return record["document"]
