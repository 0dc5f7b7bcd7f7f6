"""Versions of a re-crawled article (same URL, changed text) and what changed between them.

Outlets edit published articles without saying so; a stealth edit (a number changed, a sentence
dropped, a headline softened) is news too. The corpus keeps only the latest version of a URL and
`corpus/versions.parquet` the earlier ones (see Store.add_articles); this module lines them up.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from compare.core.store import Store


class UnknownArticleError(LookupError):
    """No stored article has this URL."""


@dataclass(frozen=True)
class ArticleVersion:
    version: int  # 1 = first crawl
    id: str
    outlet: str
    title: str | None
    published: datetime | None
    ingested_at: datetime | None  # when this version was crawled (ingested)
    text: str


@dataclass(frozen=True)
class VersionChange:
    """What changed from version `before` to version `after` (seen at `at`, the later crawl)."""

    before: int
    after: int
    at: datetime | None
    title_before: str | None
    title_after: str | None
    published_before: datetime | None
    published_after: datetime | None
    removed: tuple[str, ...]  # sentences of `before` missing from `after`
    added: tuple[str, ...]  # sentences of `after` missing from `before`

    @property
    def title_changed(self) -> bool:
        return self.title_before != self.title_after


def article_history(store: Store, url: str) -> list[ArticleVersion]:
    """Every stored version of the article at `url`, oldest first; the last is the one reports use."""
    url = url.strip()
    columns = ["id", "outlet", "title", "published", "ingested_at", "text"]
    older = store.versions().filter(pl.col("url") == url).with_row_index("order").sort(["ingested_at", "order"], nulls_last=False)
    current = store.articles().filter(pl.col("url") == url)
    rows = [*older.select(columns).iter_rows(), *current.select(columns).iter_rows()]
    if not rows:
        raise UnknownArticleError(f"no stored article has the URL {url}")
    return [ArticleVersion(number, *row) for number, row in enumerate(rows, start=1)]


def _sentences(text: str) -> list[str]:
    from compare.text.claims import split_claims

    claims = [claim.text for claim in split_claims(text)]
    return claims or [part.strip() for part in text.split("\n") if part.strip()]


def compare_versions(before: ArticleVersion, after: ArticleVersion) -> VersionChange:
    """Sentence-level difference (difflib over claims), plus title and date changes."""
    old, new = _sentences(before.text), _sentences(after.text)
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed.extend(old[i1:i2])
        if tag in ("replace", "insert"):
            added.extend(new[j1:j2])
    return VersionChange(
        before=before.version, after=after.version, at=after.ingested_at,
        title_before=before.title, title_after=after.title,
        published_before=before.published, published_after=after.published,
        removed=tuple(removed), added=tuple(added),
    )


def version_changes(versions: list[ArticleVersion]) -> list[VersionChange]:
    """Changes between each pair of consecutive versions."""
    return [compare_versions(before, after) for before, after in zip(versions, versions[1:])]
