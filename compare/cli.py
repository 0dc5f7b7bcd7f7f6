"""The `compare` command: parses options, calls the library, renders. No logic lives here."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from compare.config import ConfigError, Settings, load_settings

app = typer.Typer(
    help=(
        "Compare how news outlets cover the same story: wire copy, aligned claims, divergences.\n\n"
        "Example: compare ingest articles.jsonl && compare stories && compare report s-1a2b3c4d5e"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
index_app = typer.Typer(help="Build and inspect the derived indexes.\n\nExample: compare index build --home ./data", no_args_is_help=True)
app.add_typer(index_app, name="index")

# soft_wrap: one-line messages stay one line when piped (rich wraps at 80 columns otherwise).
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class ReportFormat(str, Enum):
    terminal = "terminal"
    markdown = "markdown"
    html = "html"
    json = "json"


HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data home holding the corpus and indexes (env COMPARE_HOME; default ./indexes in a checkout)."),
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML settings file (default <home>/compare.toml).")]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="sentence-transformers model name or path (env COMPARE_MODEL; default: the bundled all-MiniLM-L6-v2)."),
]
DeviceOption = Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:N or auto (env COMPARE_DEVICE; default cpu).")]
ListFormatOption = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    from compare.embed import ModelLoadError
    from compare.index import IndexMissingError
    from compare.report import UnknownStoryError
    from compare.store import StoreLockedError

    try:
        yield
    except (ConfigError, UserError, ModelLoadError, IndexMissingError, UnknownStoryError, StoreLockedError) as error:
        _fail(str(error))
    except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
        _fail(f"{error.filename}: {error.strerror}")


def _settings(home: Path | None, config: Path | None, model: str | None = None, device: str | None = None) -> Settings:
    return load_settings(home, config_file=config, overrides={"embed": {"model": model, "device": device}})


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )


def _index_progress(progress: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return update


def _ensure_index(settings: Settings):  # noqa: ANN202
    from compare.index import ensure_index
    from compare.store import Store

    with _progress() as progress:
        return ensure_index(Store(settings.home), settings, progress=_index_progress(progress))


def _emit_listing(frame: pl.DataFrame, list_format: ListFormat, title: str, table_columns: list[str] | None = None) -> None:
    """One shared renderer for every listing command: table on a terminal, JSON or CSV for tools."""
    iso = "%Y-%m-%dT%H:%M:%S%z" if list_format is not ListFormat.table else "%Y-%m-%d %H:%M"
    printable = frame.with_columns(pl.col(pl.Datetime).dt.strftime(iso))
    if list_format is ListFormat.json:
        sys.stdout.write(json.dumps(printable.to_dicts(), indent=2, ensure_ascii=False) + "\n")
    elif list_format is ListFormat.csv:
        sys.stdout.write(printable.with_columns(pl.col(pl.List(pl.String)).list.join("; ")).write_csv())
    else:
        printable = printable.select(table_columns) if table_columns else printable
        table = Table(title=title)
        for position, column in enumerate(printable.columns):
            last = position == len(printable.columns) - 1
            table.add_column(column, overflow="fold", no_wrap=not last, ratio=1 if last else None)
        for row in printable.iter_rows():
            table.add_row(*("" if v is None else "; ".join(v) if isinstance(v, list) else str(v) for v in row))
        out.print(table)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: JSONL(.gz), CSV/TSV, Parquet, saved HTML pages, RSS/Atom feeds.")],
    field_map: Annotated[list[str] | None, typer.Option("--map", help="field=column for inputs named otherwise; repeatable.")] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
) -> None:
    """Add articles to the corpus; bad records go to a rejects file, never abort the batch.

    Example: compare ingest articles.jsonl.gz --map outlet=source --map text=content_original --map published=date
    """
    from compare.ingest import ingest as ingest_paths
    from compare.ingest import parse_field_map
    from compare.store import Store

    with _user_errors():
        settings = _settings(home, config)
        try:
            mapping = parse_field_map(field_map or [])
        except ValueError as error:
            raise UserError(str(error)) from error
        for path in paths:
            if not path.exists():
                raise UserError(f"{path}: no such file or folder")
        with _progress() as progress:
            task = progress.add_task("reading records", total=None)
            summary = ingest_paths(Store(settings.home), paths, mapping, progress=lambda n: progress.update(task, completed=n))
    for reject in summary.rejects[:10]:
        err.print(f"rejected {reject.one_line()}", highlight=False, markup=False)
    if summary.rejected > 10:
        err.print(f"... and {summary.rejected - 10} more rejects", highlight=False)
    line = f"accepted {summary.accepted}, duplicate {summary.duplicates}, rejected {summary.rejected}"
    if summary.rejects_path:
        line += f" (rejects written to {summary.rejects_path})"
    out.print(line, highlight=False, markup=False)
    if summary.accepted + summary.duplicates == 0 and summary.rejected:
        raise typer.Exit(1)


@app.command()
def dedup(
    home: HomeOption = None,
    config: ConfigOption = None,
    list_format: ListFormatOption = ListFormat.table,
    min_outlets: Annotated[int, typer.Option(help="Only clusters spanning at least this many outlets (2 = cross-outlet reprints).")] = 1,
    model: ModelOption = None,
    device: DeviceOption = None,
) -> None:
    """List near-duplicate clusters (wire copy, reprints): members, outlet, url, Jaccard to the earliest.

    Example: compare dedup --min-outlets 2 --format json
    """
    from compare.dedup import copy_listing
    from compare.store import Store

    with _user_errors():
        settings = _settings(home, config, model, device)
        index = _ensure_index(settings)
        listing = copy_listing(Store(settings.home).articles(), index.clusters).filter(pl.col("outlets") >= min_outlets)
    _emit_listing(
        listing, list_format, f"{listing['cluster_id'].n_unique()} near-duplicate clusters",
        ["cluster_id", "is_source", "jaccard_to_source", "outlet", "published", "title"],
    )


@app.command()
def stories(
    home: HomeOption = None,
    config: ConfigOption = None,
    list_format: ListFormatOption = ListFormat.table,
    min_outlets: Annotated[int, typer.Option(help="Only stories covered by at least this many outlets.")] = 2,
    model: ModelOption = None,
    device: DeviceOption = None,
) -> None:
    """List stories (articles about the same event across outlets), newest first.

    Example: compare stories --min-outlets 3 --format csv
    """
    from compare.report import list_stories
    from compare.store import Store

    with _user_errors():
        settings = _settings(home, config, model, device)
        index = _ensure_index(settings)
        summaries = list_stories(Store(settings.home).articles(), index, min_outlets=min_outlets)
    if list_format is ListFormat.json:
        from compare.render import article_record

        records = [
            {"story_id": s.story_id, "title": s.title, "first_published": s.first_published.isoformat() if s.first_published else None,
             "outlets": list(s.outlets), "articles": [article_record(a) for a in s.articles]}
            for s in summaries
        ]
        sys.stdout.write(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
        return
    frame = pl.DataFrame(
        {
            "story_id": [s.story_id for s in summaries],
            "first_published": [s.first_published for s in summaries],
            "outlets": [len(s.outlets) for s in summaries],
            "title": [s.title for s in summaries],
            "outlet_names": [list(s.outlets) for s in summaries],
        },
        schema={"story_id": pl.String, "first_published": pl.Datetime("us", "UTC"), "outlets": pl.Int32, "title": pl.String, "outlet_names": pl.List(pl.String)},
    )
    _emit_listing(frame, list_format, f"{len(summaries)} stories", ["story_id", "first_published", "outlets", "title"])


def _write_report(report: Any, report_format: ReportFormat, output: Path | None) -> None:
    from compare.render import render_html, render_json, render_markdown, render_terminal

    if report_format is ReportFormat.terminal and output is None:
        render_terminal(report, out)
        return
    if report_format is ReportFormat.terminal:
        console = Console(record=True, width=120, file=open("/dev/null", "w"))  # noqa: SIM115
        render_terminal(report, console)
        text = console.export_text()
    else:
        text = {ReportFormat.markdown: render_markdown, ReportFormat.html: render_html, ReportFormat.json: render_json}[report_format](report)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        from compare.store import write_atomically

        write_atomically(output, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        err.print(f"report written to {output}", highlight=False)


ReportFormatOption = Annotated[ReportFormat, typer.Option("--format", "-f", help="terminal, markdown, html (self-contained page) or json.")]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file instead of stdout.")]


@app.command()
def report(
    story: Annotated[str, typer.Argument(help="A story id from `compare stories`, or the id of any article in it.")],
    home: HomeOption = None,
    config: ConfigOption = None,
    report_format: ReportFormatOption = ReportFormat.terminal,
    output: OutputOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
) -> None:
    """Report one story: outlets, wire copy, shared claims, omissions, and claims that disagree.

    Example: compare report s-1a2b3c4d5e --format html -o story.html
    """
    from compare.report import build_report
    from compare.store import Store

    with _user_errors():
        settings = _settings(home, config, model, device)
        index = _ensure_index(settings)
        with err.status("aligning claims") if err.is_terminal else _null():
            built = build_report(Store(settings.home).articles(), index, story, settings)
        _write_report(built, report_format, output)


@contextmanager
def _null() -> Iterator[None]:
    yield


@app.command()
def demo(
    home: Annotated[Path | None, typer.Option("--home", help="Keep the demo corpus and indexes here (default: a temporary folder).")] = None,
    report_format: ReportFormatOption = ReportFormat.terminal,
    output: OutputOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
) -> None:
    """Run the whole flow on the bundled demo story and print its report.

    Example: compare demo --format markdown
    """
    from compare.demo import run_demo

    with _user_errors(), tempfile.TemporaryDirectory(prefix="compare-demo-") as temporary:
        settings = load_settings(home or Path(temporary), environ={}, overrides={"embed": {"model": model, "device": device}})
        summary, built = run_demo(settings)
        err.print(f"demo corpus: {summary.accepted} articles ingested into {settings.home}", highlight=False)
        _write_report(built, report_format, output)


@index_app.command("build")
def index_build(home: HomeOption = None, config: ConfigOption = None, model: ModelOption = None, device: DeviceOption = None) -> None:
    """Rebuild wire-copy clusters, article vectors and stories as a new snapshot.

    Example: compare index build --home ./data
    """
    from compare.index import build_index
    from compare.store import Store

    with _user_errors():
        settings = _settings(home, config, model, device)
        with _progress() as progress:
            built = build_index(Store(settings.home), settings, progress=_index_progress(progress))
    manifest = built.manifest
    out.print(
        f"built {built.path.name}: {manifest.articles} articles, {manifest.clusters} wire-copy clusters, "
        f"{manifest.stories} stories in {sum(manifest.seconds.values()):.1f} s",
        highlight=False,
    )


@index_app.command("status")
def index_status(home: HomeOption = None, config: ConfigOption = None) -> None:
    """Show the current index snapshot and whether the corpus changed since.

    Example: compare index status
    """
    from compare.index import load_index
    from compare.store import Store

    with _user_errors():
        settings = _settings(home, config)
        store = Store(settings.home)
        index = load_index(store)
    manifest = index.manifest
    stale = "up to date" if manifest.corpus_version == store.corpus_version() else "stale: corpus changed since"
    out.print(
        f"snapshot {index.path.name} ({stale}); built {manifest.built_at}; model {manifest.model}; "
        f"{manifest.articles} articles, {manifest.clusters} clusters, {manifest.stories} stories",
        highlight=False,
    )


def main() -> None:
    app()
