"""Which build stage sets the peak memory: peak RSS of one full build as each stage starts.

    python benchmarks/stage_memory.py --corpus ../shared/datasets/allsides_baly2020/articles_sample.jsonl.gz \
        --map outlet=source --map text=content_original --map published=date --size 8000 --json stage-memory.json
    # grown past the real corpus, as benchmarks/scale.py --synthetic makes it
    python benchmarks/stage_memory.py ... --size 32000 --synthetic 32000 --json stage-memory-32k.json

A fresh home gets the oldest `--size` articles (or the first of the synthetic corpus) and
`build_index(full=True)` runs in a child process with the hash embedder and no facts (as
benchmarks/scale.py --embedder hash --no-facts), or with `--facts` the claim vectors and facts of a
default build. The child reads its own ru_maxrss (the peak so far)
whenever the progress callback names a new stage, so the rise from one figure to the next is the
peak the stage in between reached above all earlier ones; a stage that stays under an earlier peak
shows no rise. The corpus is written to Parquet before the child starts, so the child holds only
what the build holds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.forkserver
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import BATCH, ParagraphPool, publication_order, seed_home, synthetic_frame, write_parts  # noqa: E402

from compare.ingest import parse_field_map, read_paths  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_peaks(home: Path) -> list[tuple[str, float]]:
    """(stage label, peak RSS MB so far when it started) of one full build in this process."""
    from compare.core.config import load_settings
    from compare.core.store import Store
    from compare.index import build_index

    marks = [("start", _peak_mb())]

    def progress(label: str, done: int, total: int) -> None:
        if marks[-1][0] != label:
            marks.append((label, _peak_mb()))

    build_index(Store(home), load_settings(home, environ={}), progress=progress, full=True)
    marks.append(("end", _peak_mb()))
    return marks


def _child(home: Path, queue: multiprocessing.Queue) -> None:
    queue.put(stage_peaks(home))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="any file `compare ingest` reads")
    parser.add_argument("--map", action="append", default=[], help="field=column, as for compare ingest; repeatable")
    parser.add_argument("--size", type=int, required=True, help="articles in the build")
    parser.add_argument("--synthetic", type=int, default=None, metavar="N", help="grow the corpus to N articles (benchmarks/scale.py)")
    parser.add_argument("--json", type=Path, required=True, help="write the results here")
    parser.add_argument("--facts", action="store_true", help="also the claim-vector and facts stages (a default build's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    # The build runs in a child forked from a fork server started now, while this process is small:
    # a child forked (or spawned: the peak survives exec) after the corpus is read would inherit its peak.
    context = multiprocessing.get_context("forkserver")
    multiprocessing.forkserver.ensure_running()
    real = read_paths([args.corpus], parse_field_map(args.map)).articles
    with tempfile.TemporaryDirectory(prefix="compare-stage-memory-") as temporary:
        root = Path(temporary)
        if args.synthetic:
            pool = ParagraphPool.from_articles(real, None)
            frames = (synthetic_frame(pool, start, min(start + BATCH, args.synthetic), args.seed, 0.05) for start in range(0, args.synthetic, BATCH))
        else:
            frames = iter([publication_order(real, args.seed)])
        parts = write_parts(frames, root / "corpus")
        del real
        seed_home(root / "home", parts, args.size, "hash", facts=args.facts)
        queue: multiprocessing.Queue = context.Queue()
        child = context.Process(target=_child, args=(root / "home", queue))
        child.start()
        marks = queue.get()
        child.join()
    # what each stage added to the peak of all before it (0: it stayed under an earlier peak)
    rises = {label: round(after - before, 1) for (label, before), (_, after) in zip(marks, marks[1:], strict=False)}
    result = {"size": args.size, "synthetic": args.synthetic, "facts": args.facts, "peak_mb_at_stage_start": dict(marks), "peak_rise_mb_during": rises}
    args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(" | ".join(f"{label}: {mb:.0f}" for label, mb in marks), "(MB peak so far when each stage starts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
