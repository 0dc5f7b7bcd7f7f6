"""Column names and dtypes of the frames that move between stages, in one place.

Every stage takes and returns frames with exactly these schemas, so a stage can be tested alone
and the store can validate what it is given before it writes anything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

UTC_DATETIME = pl.Datetime("us", "UTC")

# One row per article in the corpus. `id` is a content hash (see ingest.article_id), so the same
# article ingested twice gets the same id; `published` may be null for undated articles.
ARTICLE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "outlet": pl.String(),
    "url": pl.String(),
    "title": pl.String(),
    "published": UTC_DATETIME,
    "language": pl.String(),
    "byline": pl.String(),
    "text": pl.String(),
    "wire_credit": pl.String(),
    "source_file": pl.String(),
    "ingested_at": UTC_DATETIME,
}

# An article without its text: what a build holds for every article of the corpus (the texts are
# read in chunks, compare.core.store.ArticleTexts).
ARTICLE_META_SCHEMA: dict[str, pl.DataType] = {name: dtype for name, dtype in ARTICLE_SCHEMA.items() if name != "text"}

# Earlier versions of re-crawled articles (same URL, changed text), kept in corpus/versions.parquet:
# an article row plus the id of the version that replaced it and when. The corpus itself holds only
# the latest version of each URL, so every stage reads the latest text.
VERSION_SCHEMA: dict[str, pl.DataType] = {
    **ARTICLE_SCHEMA,
    "superseded_by": pl.String(),
    "superseded_at": UTC_DATETIME,
}

# Fields a user may map from their own column names with `--map field=column`.
MAPPABLE_FIELDS: tuple[str, ...] = ("outlet", "url", "title", "published", "language", "byline", "text")

# One row per claim (sentence). `start`/`end` are character offsets into the article text.
CLAIM_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String(),
    "article_id": pl.String(),
    "outlet": pl.String(),
    "position": pl.Int32(),
    "start": pl.Int32(),
    "end": pl.Int32(),
    "text": pl.String(),
}

# One row per (cluster, member article) of near-duplicate articles.
CLUSTER_SCHEMA: dict[str, pl.DataType] = {
    "cluster_id": pl.String(),
    "article_id": pl.String(),
    "is_source": pl.Boolean(),
    "jaccard_to_source": pl.Float64(),
}

# One row per (story, member article).
STORY_SCHEMA: dict[str, pl.DataType] = {
    "story_id": pl.String(),
    "article_id": pl.String(),
}

# What a user sees of an article wherever it is listed: enough for other tools to join on.
ARTICLE_REF_COLUMNS: tuple[str, ...] = ("id", "outlet", "url", "title", "published")


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast to `schema`, so frames built by hand or read from old files line up.

    Raises ValueError naming the missing columns rather than failing later in a join.
    """
    missing = [name for name in schema if name not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing columns: {', '.join(missing)}")
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def outlet_codes(outlets: Sequence[str | None] | pl.Series) -> np.ndarray:
    """uint64 code of each article's outlet, in order of first appearance (a missing outlet is a name
    of its own): what wire copy keys page templates by and story grouping compares, without a
    Python string per article."""
    series = outlets.cast(pl.String) if isinstance(outlets, pl.Series) else pl.Series(list(outlets), dtype=pl.String)
    return series.fill_null("\x00").cast(pl.Categorical).to_physical().to_numpy().astype(np.uint64)
