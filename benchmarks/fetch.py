"""Fetch -> extract -> ingest throughput against a local news site (issue 15's contract).

    python benchmarks/fetch.py --pages N --json OUT [--words 700] [--boilerplate 150]

A NewsSite (compare.fetch.testing) on 127.0.0.1 serves one RSS feed listing N article pages of
generated text, shaped like a news site's (navigation, related links, scripts: 27.5 KB a page at the
defaults), from its own process, as a real server is. `compare.fetch.run.fetch_sources` runs with
politeness delays set to zero into a fresh data home. Stages, each timed: fetch (discovery, feed, pages, the WARC),
extract (the WARC read back through ingest's reader: trafilatura, field checks) and ingest
(Store.add_articles). The baseline, measured in the same run: the same N pages saved as .html files
and read by `compare ingest`'s HTML reader (extraction without HTTP or WARC).

Writes {"pages", "seconds", "pages_per_second", "stages": {stage: {"seconds", "share"}}, "baseline":
{"pages", "seconds", "pages_per_second"}, "page_bytes", "accepted"}. Target: >= 20 pages/s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from compare.fetch.run import fetch_sources  # noqa: E402
from compare.fetch.sources import FetchConfig, Source  # noqa: E402
from compare.fetch.testing import NewsSite  # noqa: E402

TARGET = 20.0


def _serve(pages: int, words: int, boilerplate: int, ports: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    """The site in its own process, as a real server is: its CPU time is not the crawler's."""
    with NewsSite(articles=pages, words=words, boilerplate=boilerplate) as site:
        for index in range(pages):
            site.article_page(index, "127.0.0.1")  # generated before the clock starts
        ports.put(site.port)
        stop.wait()


def run(pages: int, words: int, boilerplate: int) -> dict[str, object]:
    config = FetchConfig(contact="mailto:benchmark@example.org", delay_seconds=0.0, max_articles_per_source=pages + 1)
    context = multiprocessing.get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(pages, words, boilerplate, ports, stop), daemon=True)
    site = NewsSite(articles=pages, words=words, boilerplate=boilerplate)  # the same pages, for the baseline
    with tempfile.TemporaryDirectory(prefix="fetch-bench-") as name:
        folder = Path(name)
        server.start()
        try:
            port = ports.get(timeout=120)
            source = Source(name="Bench Daily", home=f"http://127.0.0.1:{port}/", feeds=(f"http://127.0.0.1:{port}/feed.xml",))
            started = time.perf_counter()
            result = fetch_sources(folder / "home", (source,), config)
            seconds = time.perf_counter() - started
        finally:
            stop.set()
            server.join(timeout=10)

        page_bytes = sum(len(site.article_page(i, "127.0.0.1")) for i in range(pages)) / pages
        pages_dir = folder / "pages"
        pages_dir.mkdir()
        for index in range(pages):
            (pages_dir / f"{index:05d}.html").write_bytes(site.article_page(index, "127.0.0.1"))
        from compare.ingest import ingest
        from compare.core.store import Store

        started = time.perf_counter()
        baseline = ingest(Store(folder / "baseline-home"), [pages_dir])
        baseline_seconds = time.perf_counter() - started
    if result.accepted != pages or baseline.accepted != pages:
        raise SystemExit(f"expected {pages} articles, fetched {result.accepted}, baseline {baseline.accepted}: {result.rejects[:3]}")
    total = sum(result.seconds.values())
    return {
        "pages": pages,
        "seconds": round(seconds, 3),
        "pages_per_second": round(pages / seconds, 1),
        "stages": {stage: {"seconds": round(value, 3), "share": round(value / total, 3)} for stage, value in result.seconds.items()},
        "baseline": {"what": "the same pages as .html files through compare ingest (no HTTP, no WARC)", "pages": pages,
                     "seconds": round(baseline_seconds, 3), "pages_per_second": round(pages / baseline_seconds, 1)},
        "page_bytes": round(page_bytes),
        "requests": result.requests,
        "accepted": result.accepted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--words", type=int, default=700, help="words of text per article")
    parser.add_argument("--boilerplate", type=int, default=150, help="navigation links per page (page size)")
    args = parser.parse_args()
    figures = run(args.pages, args.words, args.boilerplate)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    table = Table(title=f"fetch -> extract -> ingest, {figures['pages']} pages of {figures['page_bytes']:,} bytes (target >= {TARGET:g} pages/s)")
    for column in ("run", "seconds", "pages/s", "fetch", "extract", "ingest"):
        table.add_column(column, justify="right" if column != "run" else "left")
    stages = figures["stages"]
    table.add_row("compare fetch", f"{figures['seconds']:.2f}", f"{figures['pages_per_second']:.1f}",
                  *(f"{stages[s]['seconds']:.2f} ({stages[s]['share']:.0%})" for s in ("fetch", "extract", "ingest")))
    base = figures["baseline"]
    table.add_row("baseline: .html files, compare ingest", f"{base['seconds']:.2f}", f"{base['pages_per_second']:.1f}", "-", "-", "-")
    Console().print(table)


if __name__ == "__main__":
    main()
