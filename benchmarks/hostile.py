"""Hostile and broken input through the CLI: no hang, no traceback, bounded memory, inert output.

    python benchmarks/hostile.py --json OUT [--model hashing] [--only NAME ...] [--timeout 600]

Every input is generated here (none is shipped): crafted articles that made text stages quadratic,
values that aborted a batch, gzip bombs, terminal escapes and Markdown/HTML injection. Each case runs
in a fresh data home through `compare` as separate processes, as a user or cron would run it:
`ingest` of the crafted file, then (for article cases) `index build` of the demo corpus plus the crafted
articles and `report` on the crafted story. Each stage is timed against the same stage on the demo
corpus alone (the baseline, measured in the same run), and its peak memory is that process's own
(os.wait4). Writes {"cases": [{"case", "stage", "seconds", "baseline_seconds", "ratio",
"peak_rss_mb", "exit_code", "traceback", "raw_controls", "live_html"}], "worst_ratio", "tracebacks",
"peak_rss_mb", "raw_controls", "live_html"}. Targets (issue 17): every ratio under 20, no traceback,
peak memory under 2 GB, no raw control character in terminal/CSV output, no live HTML in Markdown.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from compare.demo import demo_corpus_text  # noqa: E402
from compare.ingest import article_id, normalise_text  # noqa: E402

TARGET_RATIO = 20.0
TARGET_PEAK_MB = 2048.0
ESC = "\x1b"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
STORY_TITLE = "Crafted story about the depot"


# ------------------------------------------------------------------ generated inputs


def _article(outlet: str, text: str, *, title: str = STORY_TITLE, url: str | None = None, **extra: object) -> dict[str, object]:
    return {"outlet": outlet, "title": title, "url": url or f"https://example.org/{abs(hash((outlet, text[:50]))) % 10**8}",
            "published": "2026-08-20T09:00:00Z", "text": text, **extra}


def _pair(text_a: str, text_b: str) -> list[dict[str, object]]:
    """Two outlets with the crafted text, so the report aligns and diffs their claims."""
    return [_article("Hostile Daily", text_a), _article("Hostile Herald", text_b)]


def _jsonl(records: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def _gzip_members(member: bytes, count: int) -> bytes:
    """`count` gzip members of `member`: a bomb built in milliseconds (each member ~1000x)."""
    packed = gzip.compress(member, compresslevel=9)
    return packed * count


@dataclass(frozen=True)
class Case:
    name: str
    file_name: str
    make: Callable[[], bytes]
    articles: bool = True  # build and report too (False: an ingest-only case, e.g. a bomb or a bad batch)
    notes: str = ""


def _escapes() -> list[dict[str, object]]:
    evil = f"{ESC}]0;owned{ESC}\\ {ESC}[2J \u202eesrever \x9b31m <script>alert(1)</script> [x](javascript:alert(2)) | cell"
    base = "Officials said the depot burned for hours on Tuesday. Residents said they heard two blasts."
    return [
        _article(f"Evil|News {evil}", base + f"\n\n<img src=x onerror=alert(3)> {evil}\n# injected heading",
                 title=f"{STORY_TITLE} {evil}", url="https://evil.example/a) [y](javascript:alert(4))"),
        _article("Hostile Herald", base + " Police said 40 people were hurt."),
    ]


CASES = [
    Case("sentences x20k, one paragraph", "a.jsonl", lambda: _jsonl(_pair("Word one two. " * 20_000, "Word one three. " * 20_000))),
    Case("1 MB single paragraph", "a.jsonl", lambda: _jsonl(_pair(
        "The army said 12 people were hurt in the blast. " * 21_000, "The army says 14 people were hurt in the blast. " * 21_000))),
    Case("nested quotes over 4,000 sentences", "a.jsonl", lambda: _jsonl(_pair(
        "“He said “we said “they said it. " * 4_000, "“She said “we said “they said so. " * 4_000))),
    Case("20k-digit number", "a.jsonl", lambda: _jsonl(_pair(
        "Officials said " + "7" * 20_000 + " people were hurt.", "Officials said " + "8" * 20_000 + " people were hurt."))),
    Case("'said' x100k", "a.jsonl", lambda: _jsonl(_pair("Officials " + "said " * 100_000 + "it.", "Officials " + "says " * 100_000 + "it."))),
    Case("20k-character token", "a.jsonl", lambda: _jsonl(_pair(
        "According to " + "x" * 20_000 + " the depot burned.", "According to " + "y" * 20_000 + " the depot burned."))),
    Case("50 MB article", "a.jsonl", lambda: _jsonl(_pair(
        "The army said 12 people were hurt in the blast near the base. " * 800_000, "Police said the road was closed. " * 10))),
    Case("terminal escapes and Markdown injection", "e.jsonl", lambda: _jsonl(_escapes())),
    Case("400-digit published, 5,000-digit field", "n.jsonl", lambda: (
        '{"outlet": "Hostile Daily", "text": "A normal article body with words.", "published": %s}\n'
        '{"outlet": "Hostile Herald", "text": "Another normal article body here.", "views": %s}\n'
        '{"outlet": "Hostile Times", "text": "A third normal article body here."}\n' % ("9" * 400, "1" * 5000)).encode(),
        articles=False),
    Case("CSV with an unbalanced quote", "q.csv", lambda: (
        'outlet,title,text\nHostile Daily,One,"Never closed.\nHostile Herald,Two,Second row body.\n'
        'Hostile Times,Three,"Third, quoted."\nHostile Post,Four,Fourth row body.\n').encode(), articles=False),
    Case("NUL byte inside one record", "z.jsonl", lambda: _jsonl([_article("Hostile Daily", "Good body one.")])
         + _jsonl([_article("Hostile Herald", "Bad body.")]).replace(b"Bad", b"B\x00ad")
         + _jsonl([_article("Hostile Times", "Good body three.")]), articles=False),
    Case("gzip bomb, no newlines (2.5 GB)", "bomb.jsonl.gz", lambda: _gzip_members(b"a" * (1 << 20), 2_400), articles=False),
    Case("gzip bomb, lines (2.5 GB)", "bomb.jsonl.gz", lambda: _gzip_members((b"a" * 99 + b"\n") * 10_486, 2_400), articles=False),
]


# ------------------------------------------------------------------ running


@dataclass
class Run:
    seconds: float
    exit_code: int
    peak_rss_mb: float
    stdout: str
    stderr: str
    timed_out: bool = False


def run_compare(args: list[str], home: Path, model: str | None, timeout: float) -> Run:
    """One `compare` process with its own peak RSS (os.wait4), killed after `timeout` seconds."""
    command = [sys.executable, "-m", "compare", *args, "--home", str(home)]
    if model and args[0] in ("index", "report"):
        command += ["--model", model]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "COLUMNS": "160"}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        import subprocess

        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, stdout=stdout, stderr=stderr, env=environment, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                os.killpg(process.pid, signal.SIGKILL)
                timed_out = True
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read().decode(errors="replace"), stderr.read().decode(errors="replace")
    return Run(seconds, process.returncode, usage.ru_maxrss / 1024, out, err, timed_out)


def live_html(markdown: str) -> int:
    """Raw HTML tokens and non-http(s) links in `markdown` as CommonMark (+ tables) renders it."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown)
    flat = [t for token in tokens for t in [token, *(token.children or [])]]
    html = sum(t.type in ("html_inline", "html_block") for t in flat)
    links = sum(t.type == "link_open" and not str(t.attrGet("href")).startswith(("http://", "https://")) for t in flat)
    return html + links


@dataclass
class Stage:
    case: str
    stage: str
    run: Run
    baseline: float
    live: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        output = self.run.stdout + self.run.stderr
        return {
            "case": self.case, "stage": self.stage, "seconds": round(self.run.seconds, 3),
            "baseline_seconds": round(self.baseline, 3), "ratio": round(self.run.seconds / self.baseline, 2),
            "peak_rss_mb": round(self.run.peak_rss_mb, 1), "exit_code": self.run.exit_code,
            "traceback": "Traceback (most recent call last)" in output, "timed_out": self.run.timed_out,
            "raw_controls": len(RAW_CONTROL.findall(output.replace("\n", "").replace("\t", ""))),
            "live_html": self.live, "last_line": (output.strip().splitlines() or [""])[-1][-200:], **self.extra,
        }


def story_article_id(records: list[dict[str, object]]) -> str:
    record = records[0]
    return article_id(str(record["outlet"]), str(record["title"]), normalise_text(str(record["text"])))


def report_stages(home: Path, target_id: str, model: str | None, timeout: float) -> tuple[Run, Run, str]:
    """The crafted story's report twice: in the terminal (its text output) and as Markdown (a file)."""
    terminal = run_compare(["report", target_id, "--format", "terminal"], home, model, timeout)
    markdown_file = home / "report.md"
    markdown = run_compare(["report", target_id, "--format", "markdown", "-o", str(markdown_file)], home, model, timeout)
    text = markdown_file.read_text(encoding="utf-8") if markdown_file.exists() else ""
    return terminal, markdown, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="write the results here")
    parser.add_argument("--model", default=None, help="embedding model (default: the bundled one; 'hashing' for a quick run)")
    parser.add_argument("--only", action="append", default=[], help="run only cases whose name contains this (repeatable)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a stage is killed (default 600)")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    cases = [case for case in CASES if not args.only or any(part in case.name for part in args.only)]

    with tempfile.TemporaryDirectory(prefix="compare-hostile-") as scratch:
        root = Path(scratch)
        demo = root / "demo.jsonl"
        demo.write_text(demo_corpus_text(), encoding="utf-8")
        base_home = root / "baseline"
        baseline = {
            "ingest": run_compare(["ingest", str(demo)], base_home, args.model, args.timeout),
            "build": run_compare(["index", "build"], base_home, args.model, args.timeout),
        }
        demo_id = story_article_id([json.loads(demo_corpus_text().splitlines()[0])])
        terminal, markdown, _ = report_stages(base_home, demo_id, args.model, args.timeout)
        baseline |= {"report": terminal, "report-markdown": markdown,
                     "stories-csv": run_compare(["stories", "--format", "csv"], base_home, args.model, args.timeout)}
        for name, run in baseline.items():
            if run.exit_code != 0:
                raise SystemExit(f"baseline {name} failed ({run.exit_code}): {run.stderr.strip()[-500:]}")
        console.print("baseline: " + ", ".join(f"{name} {run.seconds:.1f} s" for name, run in baseline.items()))

        stages: list[Stage] = []
        for number, case in enumerate(cases):
            home = root / f"case-{number}"
            crafted = root / f"case-{number}-{case.file_name}"
            content = case.make()
            crafted.write_bytes(content)
            ingest = run_compare(["ingest", str(crafted)], home, args.model, args.timeout)
            stages.append(Stage(case.name, "ingest", ingest, baseline["ingest"].seconds, extra={"input_mb": round(len(content) / 1e6, 2)}))
            if case.articles:
                run_compare(["ingest", str(demo)], home, args.model, args.timeout)
                stages.append(Stage(case.name, "build", run_compare(["index", "build"], home, args.model, args.timeout), baseline["build"].seconds))
                records = [json.loads(line) for line in content.decode().splitlines() if line.strip()]
                terminal, markdown_run, markdown = report_stages(home, story_article_id(records), args.model, args.timeout)
                stages.append(Stage(case.name, "report", terminal, baseline["report"].seconds))
                stages.append(Stage(case.name, "report-markdown", markdown_run, baseline["report-markdown"].seconds, live=live_html(markdown)))
                listing = run_compare(["stories", "--format", "csv"], home, args.model, args.timeout)
                stages.append(Stage(case.name, "stories-csv", listing, baseline["stories-csv"].seconds))
            for stage in stages[-5:] if case.articles else stages[-1:]:
                record = stage.record()
                console.print(f"{case.name} / {stage.stage}: {record['seconds']} s ({record['ratio']}x), {record['peak_rss_mb']} MB, "
                              f"exit {record['exit_code']}{', TRACEBACK' if record['traceback'] else ''}", markup=False)

    records = [stage.record() for stage in stages]
    summary = {
        "cases": records,
        "baseline_seconds": {name: round(run.seconds, 3) for name, run in baseline.items()},
        "worst_ratio": max(record["ratio"] for record in records),
        "tracebacks": sum(record["traceback"] for record in records),
        "timeouts": sum(record["timed_out"] for record in records),
        "peak_rss_mb": max(record["peak_rss_mb"] for record in records),
        "raw_controls": sum(record["raw_controls"] for record in records),
        "live_html": sum(record["live_html"] for record in records),
        "model": args.model or "bundled",
        "targets": {"ratio": TARGET_RATIO, "peak_rss_mb": TARGET_PEAK_MB},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    table = Table(title="hostile input: each stage against the same stage on the demo corpus")
    for column in ("case", "stage", "seconds", "ratio", "peak MB", "exit", "traceback", "raw ctl", "live html"):
        table.add_column(column)
    for record in records:
        table.add_row(record["case"], record["stage"], f"{record['seconds']:.2f}", f"{record['ratio']:.1f}", f"{record['peak_rss_mb']:.0f}",
                      str(record["exit_code"]), "yes" if record["traceback"] else "", str(record["raw_controls"]), str(record["live_html"]))
    Console(width=160).print(table)
    Console().print(f"worst ratio {summary['worst_ratio']}x (target < {TARGET_RATIO}), tracebacks {summary['tracebacks']}, "
                    f"peak {summary['peak_rss_mb']:.0f} MB (target < {TARGET_PEAK_MB:.0f}), raw control characters {summary['raw_controls']}, "
                    f"live HTML/links {summary['live_html']}", markup=False)
    ok = (summary["worst_ratio"] < TARGET_RATIO and not summary["tracebacks"] and summary["peak_rss_mb"] < TARGET_PEAK_MB
          and not summary["raw_controls"] and not summary["live_html"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
