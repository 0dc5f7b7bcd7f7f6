"""Full vs incremental index rebuild: does a night's new articles cost in proportion to what is new?

    python benchmarks/rebuild.py --corpus FILE [--map field=column ...] --json OUT

The corpus is read once; 1% of it is held back: by default the newest articles by publication date
(what a night adds to a growing corpus), or a seeded random sample with `--hold-back-order random`. The rest is ingested into a fresh home and
built from scratch (`compare index build --full`, the baseline), then the held-back 1% is ingested
and built incrementally (`compare index build`). Each build runs as its own process, as it does under
cron, so its time includes interpreter start-up, imports and model loading, and its peak memory is
that process's own (os.wait4, read by a small launcher: see benchmarks/scale.py). Right after the full build, `compare report` runs twice (first and
second call, each its own process) for each of the three stories with most outlets. Writes
{"full": {"seconds", "articles_per_s", "peak_rss_mb", "stages", ...},
 "incremental": {"seconds", "new_articles", ...},
 "report": {"first_seconds", "repeat_seconds", "stories": [...]},  (the slowest of the three stories)
 "claim_vectors": {"seconds", "claims", "incremental_seconds", "incremental_embedded"}}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from compare.ingest import parse_field_map, read_paths  # noqa: E402
from compare.core.store import Store  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import own_usage  # noqa: E402

TARGET_RATIO = 0.05  # the contract: 1% new articles cost at most 5% of a full build


def timed_build(home: Path, extra: list[str], model: str | None) -> dict:
    """Run one `compare index build --json` process; wall seconds, peak RSS and its manifest."""
    command = [sys.executable, "-m", "compare", "index", "build", "--home", str(home), "--json", "--keep", "3", *extra]
    if model:
        command += ["--model", model]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        # the build's own peak RSS: started from a small launcher, not from this process (which holds the corpus)
        peak_mb, _, code = own_usage(command, stdout, stderr, dict(os.environ))
        seconds = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read().decode(), stderr.read().decode(errors="replace")
    if code != 0:
        raise SystemExit(f"build failed ({code}): {errors.strip()[-500:]}")
    manifest = json.loads(output.strip().splitlines()[-1])
    return {"seconds": seconds, "peak_rss_mb": peak_mb, "manifest": manifest}


def timed_report(home: Path, story_id: str, model: str | None) -> float:
    """Wall seconds of one `compare report STORY --format json` process (output discarded)."""
    command = [sys.executable, "-m", "compare", "report", story_id, "--home", str(home), "--format", "json"]
    if model:
        command += ["--model", model]
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"report {story_id} failed ({finished.returncode}): {finished.stderr.decode(errors='replace').strip()[-500:]}")
    return seconds


def widest_stories(home: Path, count: int = 3) -> list[tuple[str, int]]:
    """(story id, outlets) of the `count` stories with most outlets in the current snapshot."""
    from compare.index import load_index
    from compare.report.story import list_stories

    store = Store(home)
    summaries = list_stories(store.articles(), load_index(store), min_outlets=1)
    ranked = sorted(summaries, key=lambda story: (-len(story.outlets), story.story_id))[:count]
    return [(story.story_id, len(story.outlets)) for story in ranked]


def snapshot_mb(home: Path, name: str) -> float:
    folder = home / "index" / "snapshots" / name
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="any file `compare ingest` reads")
    parser.add_argument("--map", action="append", default=[], help="field=column, as for compare ingest")
    parser.add_argument("--json", type=Path, required=True, help="write the results here")
    parser.add_argument("--hold-back", type=float, default=0.01, help="share of the corpus added incrementally (default 0.01)")
    parser.add_argument("--hold-back-order", choices=("newest", "random"), default="newest",
                        help="hold back the newest dated articles (default) or a seeded random sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="read at most this many records (for a quick run)")
    parser.add_argument("--model", default=None, help="embedding model (default: the configured one; 'hashing' for a smoke test)")
    parser.add_argument("--home", type=Path, default=None, help="keep the benchmark home here (default: a temporary folder)")
    args = parser.parse_args(argv)

    console = Console(stderr=True)
    try:
        field_map = parse_field_map(args.map)
    except ValueError as error:
        parser.error(str(error))
    batch = read_paths([args.corpus], field_map, limit=args.limit)
    articles = batch.articles
    if articles.height < 2:
        raise SystemExit(f"{args.corpus}: only {articles.height} readable articles")
    import polars as pl

    count = max(1, math.ceil(articles.height * args.hold_back))
    if args.hold_back_order == "newest":
        ranked = articles.with_row_index("row").sort(["published", "row"], descending=[True, False], nulls_last=True)
        held = set(ranked["row"].head(count).to_list())
    else:
        held = set(random.Random(args.seed).sample(range(articles.height), count))
    mask = pl.Series([row not in held for row in range(articles.height)])
    base, later = articles.filter(mask), articles.filter(~mask)

    with tempfile.TemporaryDirectory(prefix="compare-rebuild-") as temporary:
        home = args.home or Path(temporary)
        store = Store(home)
        store.add_articles(base)
        console.print(f"full build of {base.height} articles ...")
        full = timed_build(home, ["--full"], args.model)
        reports = []
        for story_id, outlets in widest_stories(home):
            first = timed_report(home, story_id, args.model)
            repeat = timed_report(home, story_id, args.model)
            reports.append({"story_id": story_id, "outlets": outlets, "first_seconds": round(first, 3), "repeat_seconds": round(repeat, 3)})
            console.print(f"report {story_id} ({outlets} outlets): first {first:.2f} s, repeat {repeat:.2f} s")
        store.add_articles(later)
        console.print(f"incremental build adding {later.height} articles ...")
        incremental = timed_build(home, [], args.model)
        full_mb = snapshot_mb(home, full["manifest"]["snapshot"])
        incremental_mb = snapshot_mb(home, incremental["manifest"]["snapshot"])
        corpus_mb = store.articles_path.stat().st_size / 1e6

    full_manifest, incremental_manifest = full["manifest"], incremental["manifest"]
    ratio = incremental["seconds"] / full["seconds"]
    result = {
        "corpus": str(args.corpus),
        "model": full_manifest["model"],
        "full": {
            "seconds": round(full["seconds"], 2),
            "articles": full_manifest["articles"],
            "articles_per_s": round(full_manifest["articles"] / full["seconds"], 1),
            "peak_rss_mb": round(full["peak_rss_mb"], 1),
            # start-up = interpreter, imports and everything outside the timed stages
            "stages": {**full_manifest["seconds"], "startup": round(full["seconds"] - sum(full_manifest["seconds"].values()), 3)},
            "index_mb": round(full_mb, 2),
            "corpus_mb": round(corpus_mb, 2),
        },
        "incremental": {
            "seconds": round(incremental["seconds"], 2),
            "new_articles": incremental_manifest["new_articles"],
            "embedded": incremental_manifest["embedded"],
            "dedup_mode": incremental_manifest.get("dedup_mode"),
            "stories_mode": incremental_manifest.get("stories_mode"),
            "stages": {
                **incremental_manifest["seconds"],
                "startup": round(incremental["seconds"] - sum(incremental_manifest["seconds"].values()), 3),
            },
            "peak_rss_mb": round(incremental["peak_rss_mb"], 1),
            "index_mb": round(incremental_mb, 2),
            "ratio_to_full": round(ratio, 4),
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio <= TARGET_RATIO,
        },
        "report": {
            "first_seconds": max((r["first_seconds"] for r in reports), default=None),
            "repeat_seconds": max((r["repeat_seconds"] for r in reports), default=None),
            "stories": reports,
        },
        "claim_vectors": {
            "seconds": full_manifest["seconds"].get("claim_vectors"),
            "claims": full_manifest.get("claim_vectors"),
            "incremental_seconds": incremental_manifest["seconds"].get("claim_vectors"),
            "incremental_embedded": incremental_manifest.get("stages", {}).get("claim_vectors", {}).get("embedded"),
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    table = Table(title=f"index rebuild: {args.corpus.name} ({result['model']})")
    for column in ("build", "articles", "new", "embedded", "seconds", "articles/s", "peak RSS MB", "index MB", *full_manifest["seconds"], "startup"):
        table.add_column(column, justify="right" if column != "build" else "left")
    for name, run, manifest, mb in (("full (baseline)", full, full_manifest, full_mb), ("incremental", incremental, incremental_manifest, incremental_mb)):
        stages = result["full" if name.startswith("full") else "incremental"]["stages"]
        table.add_row(
            name, str(manifest["articles"]), str(manifest["new_articles"]), str(manifest["embedded"]), f"{run['seconds']:.1f}",
            f"{manifest['articles'] / run['seconds']:.0f}", f"{run['peak_rss_mb']:.0f}", f"{mb:.1f}",
            *(f"{stages.get(stage, 0):.2f}" for stage in full_manifest["seconds"]), f"{stages['startup']:.2f}",
        )
    Console(width=200).print(table)
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    Console().print(f"incremental / full = {ratio:.1%} ({verdict} the {TARGET_RATIO:.0%} target); results in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
