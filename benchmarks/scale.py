"""How a full build grows with the corpus: seconds per stage and peak memory at several sizes.

    python benchmarks/scale.py --corpus ../shared/datasets/allsides_baly2020/articles_sample.jsonl.gz \
        --map outlet=source --map text=content_original --map published=date \
        --sizes 2000,4000,8000 [--synthetic 100000] --embedder hash --json scale.json

--corpus takes any file `compare ingest` takes, with the same --map options. At each size a fresh
home gets the first SIZE articles of the corpus in publication order (undated ones spread over the
span at random, seeded), so every prefix has the corpus's density of articles per day, as a growing
archive does; then `compare index build --full --json` runs as its own process, timed, its own peak
RSS read with os.wait4 by a small launcher process (so it does not start from this one's). With
`--embedder hash` the home's compare.toml sets `[embed] backend = "hash"`: a deterministic hashing embedder of the model's dimension stands in for the model, so the
other stages can be timed at sizes whose real embedding would take hours; the real model's rate
(sentences per second, this machine) is measured on `--embed-sample` claims of the corpus in the same
run, and the texts each build sent to the embedder are recorded, so embedding time at any size is
texts / rate.

`--synthetic N` grows the corpus to N articles: each synthetic article joins as many paragraphs as a
random real article has (at least 3), drawn from all real ones with a third of their words swapped
for real words of other paragraphs (so redrawn paragraphs are not copies of each other), with a real outlet and the headline of its first paragraph's article, dated
`--per-day` articles per day (default: the real corpus's density) with the real undated share;
`--copy-share` of them (default 0.05) are planted wire copies of an article a few days older
(another outlet, a numbered dateline added, the last paragraph cut sometimes). Generation is deterministic
per article index and runs in batches written as Parquet parts, so its memory does not grow with N.

Writes {"sizes", "seconds": {stage: {size: s}}, "peak_rss_mb": {size: MB}, "exponent": {stage: slope
of log seconds on log size}, "cpu_seconds" and "cpu_exponent" (the same from the build process's CPU
time, steadier on a shared machine), "embed": {"sentences_per_second", ...}, "builds": {size: counts},
"neighbour_search_cpu_seconds": {size: {variant: s}} (with --neighbour-sizes), "step_cpu_seconds" and
"step_cpu_exponent" ({"stage.step": {size: s}}: the CPU seconds of the steps a stage reports, e.g.
stories.tfidf, so a stage that grows too fast says which step does)}.
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
from collections.abc import Iterator, Sequence
from typing import IO
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from compare.ingest import article_id, parse_field_map, read_paths  # noqa: E402
from compare.core.schema import ARTICLE_SCHEMA, conform  # noqa: E402
from compare.core.store import Store  # noqa: E402

BATCH = 20_000  # synthetic articles generated and written per Parquet part
MIN_PARAGRAPH_WORDS = 8
INGESTED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- corpus in publication order


def publication_order(articles: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Articles oldest first; an undated one gets a seeded random place in the dated span, so the
    first N articles keep the corpus's undated share and its articles per day."""
    dated = articles["published"].drop_nulls().sort()
    if dated.is_empty():
        return articles.sample(fraction=1.0, shuffle=True, seed=seed)
    # the 1st and 99th percentiles: one article dated year 4 must not stretch the span to 2,000 years
    low, high = dated[int(0.01 * (len(dated) - 1))], dated[int(0.99 * (len(dated) - 1))]
    rng = random.Random(seed)
    span = (high - low).total_seconds()
    keys = [p if p is not None else low + timedelta(seconds=rng.uniform(0, span)) for p in articles["published"].to_list()]
    return articles.with_columns(pl.Series("_key", keys, dtype=ARTICLE_SCHEMA["published"])).sort("_key", maintain_order=True).drop("_key")


def articles_per_day(articles: pl.DataFrame) -> float:
    dated = articles["published"].drop_nulls().sort()
    if len(dated) < 2:
        return 1.0
    low, high = dated[int(0.01 * (len(dated) - 1))], dated[int(0.99 * (len(dated) - 1))]
    return max(len(dated) * 0.98, 1) / max((high - low).total_seconds() / 86400, 1.0)


# --------------------------------------------------------------------------- synthetic corpus


@dataclass(frozen=True)
class ParagraphPool:
    """Real paragraphs (each with its article's headline) and real outlets to recombine."""

    paragraphs: list[str]
    titles: list[str]
    outlets: list[str]  # one per real article, so outlets keep their real shares
    lengths: list[int]  # paragraphs per real article, so synthetic articles keep the real length spread
    start: datetime
    per_day: float
    undated_share: float

    @classmethod
    def from_articles(cls, articles: pl.DataFrame, per_day: float | None) -> ParagraphPool:
        paragraphs, titles, lengths = [], [], []
        for title, text in articles.select("title", "text").iter_rows():
            kept = [paragraph for paragraph in text.split("\n\n") if len(paragraph.split()) >= MIN_PARAGRAPH_WORDS]
            paragraphs.extend(kept)
            titles.extend([title or ""] * len(kept))
            lengths.append(max(3, len(kept)))
        dated = articles["published"].drop_nulls()
        start = dated.sort()[int(0.01 * (len(dated) - 1))] if len(dated) else datetime(2020, 1, 1, tzinfo=timezone.utc)
        undated = articles["published"].null_count() / max(articles.height, 1)
        return cls(paragraphs, titles, articles["outlet"].to_list(), lengths, start, per_day or articles_per_day(articles), undated)


def _is_copy(index: int, seed: int, copy_share: float) -> bool:
    return index > 0 and random.Random(f"{seed}:{index}:copy").random() < copy_share


def _original(pool: ParagraphPool, index: int, seed: int) -> tuple[str, str, str, datetime | None]:
    """(outlet, title, text, published) of synthetic original `index`: a function of the index only."""
    rng = random.Random(f"{seed}:{index}")
    chosen = [rng.randrange(len(pool.paragraphs)) for _ in range(rng.choice(pool.lengths))]
    text = "\n\n".join(_reworded(pool, pool.paragraphs[row], rng) for row in chosen)
    published = pool.start + timedelta(days=index / pool.per_day + rng.uniform(0, 1))
    return rng.choice(pool.outlets), pool.titles[chosen[0]], text, published


def _reworded(pool: ParagraphPool, paragraph: str, rng: random.Random) -> str:
    """The paragraph with a third of its words swapped for words of other real paragraphs.

    Past a few thousand articles each real paragraph is drawn again and again (9,389 AllSides articles
    hold ~450k); verbatim, every pair of articles drawing one would be a passage copy, which real
    archives do not have (wire copy grew as N^1.4 on them). Swapping 1 word in 3 leaves 13% of word
    5-grams whole, so recombined articles share no passages except the planted copies.
    """
    words = paragraph.split()
    for position in range(len(words)):
        if rng.random() < 1 / 3:
            donor = pool.paragraphs[rng.randrange(len(pool.paragraphs))].split()
            words[position] = donor[rng.randrange(len(donor))]
    return " ".join(words)


def synthetic_article(pool: ParagraphPool, index: int, seed: int, copy_share: float) -> tuple[str, str, str, datetime | None]:
    """Article `index`: an original, or a planted wire copy of an original a few days older."""
    rng = random.Random(f"{seed}:{index}:edit")
    if not _is_copy(index, seed, copy_share):
        outlet, title, text, published = _original(pool, index, seed)
        return outlet, title, text, None if rng.random() < pool.undated_share else published
    source = max(0, index - rng.randint(1, max(1, int(pool.per_day * 3))))
    while _is_copy(source, seed, copy_share):  # a copy of a copy is a copy of its original
        source -= 1
    _, title, text, published = _original(pool, source, seed)
    paragraphs = text.split("\n\n")
    if len(paragraphs) > 3 and rng.random() < 0.5:
        paragraphs = paragraphs[:-1]
    # the dateline carries the index, so two copies of one source by one outlet stay two articles
    text = "\n\n".join([f"(Wire {index}) - {paragraphs[0]}", *paragraphs[1:]])
    return rng.choice(pool.outlets), title, text, published + timedelta(days=rng.uniform(0, 2)) if published else None


def synthetic_frame(pool: ParagraphPool, start: int, stop: int, seed: int, copy_share: float) -> pl.DataFrame:
    rows = []
    for index in range(start, stop):
        outlet, title, text, published = synthetic_article(pool, index, seed, copy_share)
        rows.append({
            "id": article_id(outlet, title, text), "outlet": outlet, "url": f"https://synthetic.invalid/{seed}/{index}",
            "title": title, "published": published, "language": "en", "byline": None, "text": text,
            "wire_credit": None, "source_file": "synthetic", "ingested_at": INGESTED_AT,
        })
    return conform(pl.DataFrame(rows, schema=ARTICLE_SCHEMA), ARTICLE_SCHEMA)


def write_parts(frames: Iterator[pl.DataFrame], folder: Path) -> Path:
    """Write frames as numbered Parquet parts; returns the glob that scans them in order."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, frame in enumerate(frames):
        frame.write_parquet(folder / f"part-{number:06d}.parquet")
    return folder / "part-*.parquet"


# --------------------------------------------------------------------------- builds


def seed_home(home: Path, parts: Path, size: int, embedder: str, *, facts: bool = True) -> None:
    """A fresh home holding the first `size` articles, in the store's own corpus file (written in one
    streaming pass rather than through Store.add_articles, which would hold them all twice)."""
    store = Store(home)
    store.articles_path.parent.mkdir(parents=True, exist_ok=True)
    pl.scan_parquet(parts).head(size).sink_parquet(store.articles_path)
    settings = ['[embed]\nbackend = "hash"'] if embedder == "hash" else []
    if not facts:
        settings.append("[index]\nprecompute_claims_min_outlets = 0")
    if settings:
        (home / "compare.toml").write_text("\n".join(settings) + "\n", encoding="utf-8")


# A child's peak RSS as wait4 (or its own getrusage) reports it starts from its parent's high-water
# mark: Linux carries that across exec, and this process held the generated corpus and the largest
# home's first rows (the 256k build "peaked" at this process's 3.3 GB). So each build is started by
# a small launcher process that forks and execs it: the build's maxrss starts from the launcher's
# few MB, and the launcher hands back the build's own rusage through a pipe.
_LAUNCHER = """
import os, sys
report = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.close(report)
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
os.write(report, f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime} {os.waitstatus_to_exitcode(status)}".encode())
"""


def own_usage(command: Sequence[str], stdout: IO[bytes], stderr: IO[bytes], env: dict[str, str]) -> tuple[float, float, int]:
    """Run `command` (its first item an executable path); (its own peak RSS in MB, its CPU seconds, its exit code)."""
    read, write = os.pipe()
    try:
        process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(write), *command], cwd=REPO, stdout=stdout, stderr=stderr, env=env, pass_fds=(write,))
        os.close(write)
        write = -1
        process.wait()
        with os.fdopen(read, "rb") as pipe:
            read = -1
            fields = pipe.read().decode().split()
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)
    if process.returncode != 0 or len(fields) != 3:
        raise SystemExit(f"the build launcher failed (exit {process.returncode})")
    return int(fields[0]) / 1024, float(fields[1]), int(fields[2])


def timed_build(home: Path) -> dict:
    """One `compare index build --full --json` process: wall seconds, its own peak RSS, its manifest."""
    command = [sys.executable, "-m", "compare", "index", "build", "--home", str(home), "--full", "--json", "--keep", "1"]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        peak_mb, cpu_seconds, code = own_usage(command, stdout, stderr, environment)
        seconds = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read().decode(), stderr.read().decode(errors="replace")
    if code != 0:
        raise SystemExit(f"build in {home} failed: {errors.strip()[-800:]}")
    manifest = json.loads(output.strip().splitlines()[-1])
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mb": peak_mb, "manifest": manifest}


def exponent(sizes: Sequence[int], seconds: Sequence[float]) -> float | None:
    """Least-squares slope of log(seconds) on log(size): 1 is linear, 2 quadratic."""
    points = [(math.log(size), math.log(value)) for size, value in zip(sizes, seconds, strict=True) if value > 0]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return round(sum((x - mean_x) * (y - mean_y) for x, y in points) / spread, 3) if spread else None


def embedding_rate(articles: pl.DataFrame, sample: int, seed: int) -> dict:
    """The configured real model's sentences per second on `sample` claims of the corpus, with the
    claims' backend and the article vectors' (after a warm-up batch, so loading and any one-off
    ONNX export are not counted)."""
    from dataclasses import replace

    from compare.core.config import EmbedConfig, article_backend
    from compare.embed.embedder import make_embedder, resolve_backend
    from compare.text.claims import split_claims

    rng = random.Random(seed)
    rows = rng.sample(range(articles.height), min(articles.height, max(1, sample // 10)))
    sentences = [claim.text for row in rows for claim in split_claims(articles["text"][row])]
    rng.shuffle(sentences)
    sentences = sentences[:sample]
    config = EmbedConfig()
    rates = {}
    # claims on [embed] backend (fp32 ONNX on CPU); article vectors on [embed] article_backend (int8)
    for role, backend in (("", resolve_backend(config)), ("article_", article_backend(config))):
        embedder = make_embedder(replace(config, backend=backend))
        embedder.encode(sentences[:16])
        started, cpu_started = time.perf_counter(), time.process_time()
        embedder.encode(sentences)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        rates[role] = (embedder.name, backend, seconds, cpu_seconds)
    name, backend, seconds, cpu_seconds = rates[""]
    article_name, article, article_seconds, article_cpu = rates["article_"]
    return {
        "sentences_per_second": round(len(sentences) / seconds, 1), "sentences": len(sentences), "seconds": round(seconds, 2),
        "sentences_per_cpu_second": round(len(sentences) / cpu_seconds, 1),
        "model": name, "backend": backend, "threads": os.cpu_count(),
        "article_backend": article, "article_model": article_name,
        "article_sentences_per_second": round(len(sentences) / article_seconds, 1),
        "article_sentences_per_cpu_second": round(len(sentences) / article_cpu, 1),
    }


def neighbour_search(sizes: Sequence[int], *, per_day: float, undated_share: float, seed: int, global_max: int = 64_000) -> dict[str, dict[str, float]]:
    """CPU seconds of story linkage's neighbour search (20 per article, 3-day window) on clustered random
    384-d vectors: vectors.window_search, dated only, with `undated_share` undated, and with those
    given crawl dates ([stories] undated_days = 7), against the one search over all articles it
    replaced (up to `global_max` articles: it grows with the square)."""
    import numpy as np

    from compare.core.vectors import flat_search, window_search

    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(2000, 384)).astype(np.float32)
    result: dict[str, dict[str, float]] = {}
    for size in sizes:
        vectors = topics[rng.integers(0, len(topics), size)] + 0.7 * rng.normal(size=(size, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        stamps = np.arange(size) / per_day * 86400.0
        undated = stamps.copy()
        undated[rng.random(size) < undated_share] = np.nan
        row = {}
        for name, values in (("window, dated", stamps), (f"window, {undated_share:.0%} undated", undated)):
            started = time.process_time()
            window_search(vectors, values, 3.0, 20)
            row[name] = round(time.process_time() - started, 2)
        # [stories] undated_days = 7: an undated article stands in the 7 days before its crawl (here
        # 0-2 days after its real date), uncertain by 3.5 days either way (grouping._neighbours)
        missing = np.isnan(undated)
        crawled = stamps + rng.uniform(0, 2 * 86400.0, size=size)
        stand_in = np.where(missing, crawled - 3.5 * 86400.0, undated)
        started = time.process_time()
        window_search(vectors, stand_in, 3.0, 20, slack=np.where(missing, 3.5 * 86400.0, 0.0))
        row[f"window, {undated_share:.0%} undated with crawl dates"] = round(time.process_time() - started, 2)
        if size <= global_max:
            started = time.process_time()
            flat_search(vectors, vectors, 21)
            row["all against all (before)"] = round(time.process_time() - started, 2)
            # IVF above exact_max: the share of the exact neighbours it finds
            _, approximate = window_search(vectors, undated, 3.0, 20)
            _, exact = window_search(vectors, undated, 3.0, 20, exact_max=size + 1)
            found = sum(len(set(a[a >= 0].tolist()) & set(e[e >= 0].tolist())) for a, e in zip(approximate, exact, strict=True))
            row["recall"] = round(found / max(1, int((exact >= 0).sum())), 4)
        result[str(size)] = row
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="any file `compare ingest` reads")
    parser.add_argument("--map", action="append", default=[], help="field=column, as for compare ingest; repeatable")
    parser.add_argument("--sizes", required=True, help="comma-separated corpus sizes, e.g. 10000,30000,100000")
    parser.add_argument("--synthetic", type=int, default=None, metavar="N", help="grow the corpus to N articles by recombining real paragraphs")
    parser.add_argument("--embedder", choices=("hash", "model"), default="hash", help='"hash" (default): hashing stand-in of the model\'s dimension; "model": the configured model')
    parser.add_argument("--json", type=Path, required=True, help="write the results here")
    parser.add_argument("--per-day", type=float, default=None, help="synthetic articles per day (default: the corpus's own density)")
    parser.add_argument("--copy-share", type=float, default=0.05, help="share of synthetic articles that are planted wire copies")
    parser.add_argument("--embed-sample", type=int, default=512, help="claims embedded with the real model to measure its rate (0: skip)")
    parser.add_argument("--neighbour-sizes", default="", help="also time story linkage's neighbour search alone at these sizes (comma-separated)")
    parser.add_argument("--no-facts", action="store_true", help="builds without claim vectors and facts ([index] precompute_claims_min_outlets = 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="read at most this many records")
    args = parser.parse_args(argv)

    console = Console(stderr=True)
    try:
        field_map = parse_field_map(args.map)
        sizes = sorted({int(size) for size in args.sizes.split(",") if size.strip()})
    except ValueError as error:
        parser.error(str(error))
    real = read_paths([args.corpus], field_map, limit=args.limit).articles
    if real.height < 2:
        raise SystemExit(f"{args.corpus}: only {real.height} readable articles; check --map")
    available = args.synthetic or real.height
    if sizes[-1] > available:
        parser.error(f"size {sizes[-1]} exceeds the corpus ({available} articles); use --synthetic {sizes[-1]}")

    seconds: dict[str, dict[str, float]] = {}
    cpu: dict[str, dict[str, float]] = {}
    peak: dict[str, float] = {}
    steps: dict[str, dict[str, float]] = {}  # "stage.step" -> size -> CPU seconds
    builds: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="compare-scale-") as temporary:
        root = Path(temporary)
        started = time.perf_counter()
        if args.synthetic:
            pool = ParagraphPool.from_articles(real, args.per_day)
            total = sizes[-1]
            frames = (synthetic_frame(pool, start, min(start + BATCH, total), args.seed, args.copy_share) for start in range(0, total, BATCH))
            parts = write_parts(frames, root / "corpus")
            per_day = pool.per_day
        else:
            parts = write_parts(iter([publication_order(real, args.seed)]), root / "corpus")
            per_day = articles_per_day(real)
        console.print(f"corpus of {sizes[-1]} articles ready in {time.perf_counter() - started:.1f} s ({per_day:.1f} per day)")
        # A first small build, not recorded: numba compiles the wire-copy kernels into its cache
        # (~10 s) and the ONNX export is made once, so neither lands on the smallest size.
        seed_home(root / "warm-up", parts, min(sizes[0], 100), args.embedder, facts=not args.no_facts)
        timed_build(root / "warm-up")
        for size in sizes:
            home = root / f"home-{size}"
            seed_home(home, parts, size, args.embedder, facts=not args.no_facts)
            console.print(f"full build of {size} articles ...")
            run = timed_build(home)
            manifest = run["manifest"]
            stages = {**manifest["seconds"], "startup": run["seconds"] - sum(manifest["seconds"].values()), "total": run["seconds"]}
            for stage, value in stages.items():
                seconds.setdefault(stage, {})[str(size)] = round(value, 3)
            stage_cpu = {stage: counts["cpu_seconds"] for stage, counts in manifest.get("stages", {}).items() if "cpu_seconds" in counts}
            for stage, value in {**stage_cpu, "total": run["cpu_seconds"]}.items():
                cpu.setdefault(stage, {})[str(size)] = round(value, 3)
            peak[str(size)] = round(run["peak_rss_mb"], 1)
            stats = manifest.get("stages", {})
            for stage, counts in stats.items():
                for step, value in (counts.get("step_cpu_seconds") or {}).items():
                    steps.setdefault(f"{stage}.{step}", {})[str(size)] = round(value, 3)
            builds[str(size)] = {
                "articles": manifest["articles"], "clusters": manifest["clusters"], "stories": manifest["stories"], "claims": manifest["claims"],
                "article_texts_embedded": manifest["embedded"], "claim_texts_embedded": stats.get("claim_vectors", {}).get("embedded"),
                "model": manifest["model"],
            }
            console.print(f"  {run['seconds']:.1f} s, peak {run['peak_rss_mb']:.0f} MB, {manifest['stories']} stories, {manifest['clusters']} clusters")

    embed = embedding_rate(real, args.embed_sample, args.seed) if args.embed_sample > 0 else {"sentences_per_second": None}
    neighbours = (
        neighbour_search([int(size) for size in args.neighbour_sizes.split(",") if size.strip()], per_day=per_day,
                         undated_share=real["published"].null_count() / real.height, seed=args.seed)
        if args.neighbour_sizes else None
    )
    result = {
        "corpus": str(args.corpus), "synthetic": args.synthetic, "embedder": args.embedder, "facts": not args.no_facts,
        "articles_per_day": round(per_day, 2),
        "sizes": sizes, "seconds": seconds, "peak_rss_mb": peak,
        "exponent": {stage: exponent(sizes, [values[str(size)] for size in sizes]) for stage, values in seconds.items()},
        # CPU seconds of the build process per stage (all threads): steadier than wall seconds on a
        # shared machine, and the per-core cost the plan in docs/scale.md multiplies out
        "cpu_seconds": cpu,
        "cpu_exponent": {stage: exponent(sizes, [values[str(size)] for size in sizes]) for stage, values in cpu.items()},
        "embed": embed, "builds": builds, "neighbour_search_cpu_seconds": neighbours,
        "step_cpu_seconds": steps,
        "step_cpu_exponent": {step: exponent(sizes, [values[str(size)] for size in sizes]) if len(values) == len(sizes) else None
                              for step, values in steps.items()},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    table = Table(title=f"full builds: {args.corpus.name}{f' grown to {args.synthetic}' if args.synthetic else ''} (embedder {args.embedder})")
    table.add_column("stage")
    for size in sizes:
        table.add_column(str(size), justify="right")
    table.add_column("exponent", justify="right")
    for size in sizes:
        table.add_column(f"CPU {size}", justify="right")
    table.add_column("CPU exp.", justify="right")
    for stage, values in seconds.items():
        slope, cpu_slope = result["exponent"][stage], result["cpu_exponent"].get(stage)
        cpu_values = cpu.get(stage, {})
        table.add_row(
            stage, *(f"{values[str(size)]:.2f}" for size in sizes), "" if slope is None else f"{slope:.2f}",
            *(f"{cpu_values[str(size)]:.2f}" if str(size) in cpu_values else "" for size in sizes), "" if cpu_slope is None else f"{cpu_slope:.2f}",
        )
    for step, values in steps.items():
        slope = result["step_cpu_exponent"][step]
        table.add_row(
            f"  {step}", *([""] * (len(sizes) + 1)), *(f"{values[str(size)]:.2f}" if str(size) in values else "" for size in sizes),
            "" if slope is None else f"{slope:.2f}",
        )
    table.add_row("peak RSS MB", *(f"{peak[str(size)]:.0f}" for size in sizes), str(exponent(sizes, [peak[str(size)] for size in sizes])), *([""] * (len(sizes) + 1)))
    Console(width=200).print(table)
    if embed.get("sentences_per_second"):
        Console().print(
            f"{embed['model']} ({embed['backend']}): {embed['sentences_per_second']} sentences/s on {embed['sentences']} claims, "
            f"{embed['article_sentences_per_second']} with {embed['article_backend']} (article vectors); results in {args.json}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
