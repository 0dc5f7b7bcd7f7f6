"""The bundled demo: one invented event covered by five outlets and a wire service, plus an unrelated story.

The text was written for this project (see PLANTED.md for the planted divergences); it is not
copied from any outlet.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from compare.core.config import Settings
from compare.embed.embedder import Embedder
from compare.index import ensure_index
from compare.ingest import IngestSummary, ingest
from compare.report.story import StoryReport, build_report, list_stories
from compare.core.store import Store


def demo_corpus_text() -> str:
    return files("compare.demo").joinpath("articles.jsonl").read_text(encoding="utf-8")


def run_demo(settings: Settings, *, embedder: Embedder | None = None) -> tuple[IngestSummary, StoryReport]:
    """Ingest the demo corpus into settings.home, index it, and report on the story most outlets cover."""
    store = Store(settings.home)
    with as_file(files("compare.demo").joinpath("articles.jsonl")) as corpus:
        summary = ingest(store, [Path(corpus)])
    index = ensure_index(store, settings, embedder=embedder)
    articles = store.articles()
    biggest = max(list_stories(articles, index), key=lambda story: (len(story.outlets), story.story_id))
    return summary, build_report(articles, index, biggest.story_id, settings, embedder=embedder)
