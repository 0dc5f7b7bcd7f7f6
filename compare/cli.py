"""The `compare` command: parses options, calls the library, renders. No logic lives here."""

from __future__ import annotations

import io
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from compare.core.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from compare.core.store import Store

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
    from rich.markup import escape

    from compare.core.untrusted import visible

    # messages quote file names and values from the input: no markup, no raw control characters
    err.print(f"[red]error:[/] {escape(visible(message))}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    from compare.embed.embedder import ModelLoadError
    from compare.index import IndexBuildError, IndexMissingError, SnapshotDamagedError
    from compare.report.story import UnknownStoryError
    from compare.embed.rerank import RerankerError
    from compare.core.store import CorpusDamagedError, StoreLockedError

    try:
        yield
    except (ConfigError, UserError, ModelLoadError, RerankerError, IndexMissingError, IndexBuildError, SnapshotDamagedError, UnknownStoryError, StoreLockedError, CorpusDamagedError) as error:
        _fail(str(error))
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError) as error:
        _fail(f"{error.filename}: {error.strerror}")
    except OSError as error:
        import errno

        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO):
            raise
        # disk full, over a size limit, read-only or failing while writing (the embedding cache's
        # failed writes are EFBIG or EIO): one line, exit 3 as a failed build (nothing half-written stays current)
        _fail(f"{error.filename or 'write failed'}: {error.strerror}", code=3)


def _settings(
    home: Path | None, config: Path | None, model: str | None = None, device: str | None = None, **sections: dict[str, object]
) -> Settings:
    """Settings with the common flags (and any other section's flags, e.g. index={...}) over file and environment."""
    return load_settings(home, config_file=config, overrides={"embed": {"model": model, "device": device}, **sections})


def _check_home(home: Path, *, writing: bool = False) -> None:
    """A data home that is a file, lies under a file, or cannot be read (written, for ingest) is one
    line naming it, exit 2, before any command touches it."""
    import os

    probe = home
    while not probe.exists() and probe != probe.parent:  # exists() is False under a file, too
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == home else f"lies under {probe}, which is a file"
        raise UserError(f"data home {home} {where}, not a folder: give --home a folder (it is created if missing)")
    if probe == home:
        if not os.access(home, os.R_OK | os.X_OK | (os.W_OK if writing else 0)):
            raise UserError(f"data home {home}: permission denied (cannot {'write' if writing else 'read'} it)")
    elif not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"data home {home} does not exist and cannot be created: permission denied in {probe}")


def _corpus_store(settings: Settings, *, index_suffices: bool = False) -> Store:
    """The Store of a home that holds articles (or, with `index_suffices`, snapshots: the index
    commands work on a home whose every record was rejected). A missing or empty home is not a
    silent empty listing: it is named, with the command that fills it (exit 1)."""
    from compare.core.store import Store

    home = settings.home
    _check_home(home)
    store = Store(home)
    if not store.articles_path.exists() and not (index_suffices and store.index_dir.is_dir()):
        missing = "" if home.is_dir() else " (no such folder)"
        _notice(f"no articles in {home}{missing}: add some with `compare ingest FILE --home {home}`")
        raise typer.Exit(1)
    return store


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )


def _index_progress(progress: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return update


def _notice(message: str) -> None:
    err.print(message, highlight=False, markup=False)


def _ensure_index(settings: Settings):  # noqa: ANN202
    from compare.index import ensure_index
    from compare.core.store import Store

    with _progress() as progress:
        return ensure_index(Store(settings.home), settings, progress=_index_progress(progress), notice=_notice)


def _emit_listing(frame: pl.DataFrame, list_format: ListFormat, title: str, table_columns: list[str] | None = None) -> None:
    """One shared renderer for every listing command: table on a terminal, JSON or CSV for tools."""

    from compare.core.untrusted import json_safe, visible

    iso = "%Y-%m-%dT%H:%M:%S%z" if list_format is not ListFormat.table else "%Y-%m-%d %H:%M"
    printable = frame.with_columns(pl.col(pl.Datetime).dt.strftime(iso))
    if list_format is ListFormat.json:
        sys.stdout.write(json_safe(json.dumps(printable.to_dicts(), indent=2, ensure_ascii=False)) + "\n")
    elif list_format is ListFormat.csv:
        # titles and outlet names are crawled text: control characters shown as escapes, not sent raw
        joined = printable.with_columns(pl.col(pl.List(pl.String)).list.join("; "))
        sys.stdout.write(joined.with_columns(pl.col(pl.String).map_elements(visible, return_dtype=pl.String)).write_csv())
    else:
        from compare.report.listing import listing_table

        # Ids, dates and numbers whole at any width, one line per row; nothing cut in a pipe.
        table, width = listing_table(frame.select(table_columns) if table_columns else frame, title, out.width if out.is_terminal else None)
        terminal_width, out.width = out.width, width
        try:
            out.print(table, crop=False)
        finally:
            out.width = terminal_width


_REJECTS_SHOWN = 5  # individual reject lines; past this, one line per cause with its count
_REJECT_CAUSES_SHOWN = 10


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: JSONL(.gz), CSV/TSV, Parquet, saved HTML pages, RSS/Atom feeds, WARC(.gz).")],
    field_map: Annotated[list[str] | None, typer.Option("--map", help="field=column for inputs named otherwise; repeatable.")] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
) -> None:
    """Add articles to the corpus; bad records go to a rejects file, never abort the batch.

    Past a few rejects, one line per cause with its count, and a hint for a file none of whose records
    was usable (CSV in a .jsonl file, another separator, columns to --map). Exit codes: 0 ingested,
    1 no usable record (or an empty file or folder), 2 bad option or path.

    Example: compare ingest articles.jsonl.gz --map outlet=source --map text=content_original --map published=date
    """
    from compare.ingest import ingest as ingest_paths
    from compare.ingest import parse_field_map
    from compare.core.store import Store

    with _user_errors():
        settings = _settings(home, config)
        try:
            mapping = parse_field_map(field_map or [])
        except ValueError as error:
            raise UserError(str(error)) from error
        for path in paths:
            if not path.exists():
                raise UserError(f"{path}: no such file or folder")
        _check_home(settings.home, writing=True)
        with _progress() as progress:
            task = progress.add_task("reading records", total=None)
            summary = ingest_paths(Store(settings.home), paths, mapping, progress=lambda n: progress.update(task, completed=n))
    from compare.ingest import summarise_rejects
    from compare.core.untrusted import visible

    if summary.records_read == 0 and not summary.rejected:
        inputs = ", ".join(str(path) for path in paths)
        empty = "no files in it" if summary.files_read == 0 else "empty"
        _notice(visible(f"warning: no records in {inputs} ({empty}): nothing ingested into {settings.home}"))
        out.print("accepted 0, duplicate 0, rejected 0", highlight=False)  # the summary scripts parse (nightly.sh)
        raise typer.Exit(1)
    for reject in summary.rejects[:_REJECTS_SHOWN]:
        _notice(f"rejected {visible(reject.one_line())}")
    if summary.rejected > _REJECTS_SHOWN:
        # thousands of records failing alike (a wrong --map, another format) are one line per cause
        groups = summarise_rejects(summary.rejects)
        _notice(f"{summary.rejected:,} rejects by cause:")
        for group in groups[:_REJECT_CAUSES_SHOWN]:
            _notice(f"  {visible(group.one_line())}")
        if len(groups) > _REJECT_CAUSES_SHOWN:
            _notice(f"  ... and {len(groups) - _REJECT_CAUSES_SHOWN} other causes (all in the rejects file)")
    for hint in summary.hints:
        _notice(f"hint: {visible(hint)}")
    line = f"accepted {summary.accepted}, duplicate {summary.duplicates}, rejected {summary.rejected}"
    if summary.versions:
        line += f"; {summary.versions} of the accepted are new versions of stored URLs (see `compare history URL`)"
    if summary.rejects_path:
        line += f" (rejects written to {summary.rejects_path})"
    out.print(visible(line), highlight=False, markup=False)
    if summary.accepted + summary.duplicates == 0 and summary.rejected:
        raise typer.Exit(1)


@app.command()
def dedup(
    home: HomeOption = None,
    config: ConfigOption = None,
    list_format: ListFormatOption = ListFormat.table,
    min_outlets: Annotated[int, typer.Option(help="Only clusters spanning at least this many outlets (2 = cross-outlet reprints); with --partial, 2 hides reuse within one outlet.")] = 1,
    partial: Annotated[bool, typer.Option("--partial", help="List partial reuse instead: article pairs sharing passages (shared spans with character offsets in both texts).")] = False,
    model: ModelOption = None,
    device: DeviceOption = None,
) -> None:
    """List near-duplicate clusters (wire copy, reprints) or, with --partial, passages reused between articles.

    Clusters: each member with its outlet, Jaccard to the earliest article (the probable source),
    containment both ways, its share of wire text, and a sentence diff against the source.
    Partial reuse: pairs sharing passages of at least min_span_words words, with the spans.

    Example: compare dedup --min-outlets 2 --format json

    Example: compare dedup --partial --format csv
    """
    from compare.dedup.clusters import copy_listing, partial_reuse

    with _user_errors():
        settings = _settings(home, config, model, device)
        store = _corpus_store(settings)
        articles = store.articles()
        if partial:
            with err.status("finding reused passages") if err.is_terminal else nullcontext():
                listing = partial_reuse(articles, settings.minhash)
            if min_outlets >= 2:
                listing = listing.filter(pl.col("left_outlet") != pl.col("right_outlet"))
        else:
            from compare.dedup.clusters import CopyDetail
            from compare.index import current_clusters

            clusters, copies = current_clusters(store, settings, notice=_notice)
            details = {article_id: CopyDetail.from_json(detail) for article_id, detail in copies.select("article_id", "detail").iter_rows()}
            listing = copy_listing(articles, clusters, settings.minhash, details=details).filter(pl.col("outlets") >= min_outlets)
    if partial:
        _emit_listing(
            listing, list_format, f"{listing.height} article pairs sharing passages",
            ["left_outlet", "right_outlet", "shared_words", "left_in_right", "right_in_left", "left_title"],
        )
        return
    _emit_listing(
        listing, list_format, f"{listing['cluster_id'].n_unique()} near-duplicate clusters",
        ["cluster_id", "jaccard_to_source", "copy_in_source", "source_in_copy", "diff", "outlet", "title"],
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
    from compare.report.story import list_stories

    with _user_errors():
        settings = _settings(home, config, model, device)
        store = _corpus_store(settings)
        index = _ensure_index(settings)
        summaries = list_stories(store.articles(), index, min_outlets=min_outlets)
    if list_format is ListFormat.json:
        from compare.report.render import article_record

        records = [
            {"story_id": s.story_id, "title": s.title, "first_published": s.first_published.isoformat() if s.first_published else None,
             "last_published": s.last_published.isoformat() if s.last_published else None,
             "outlets": list(s.outlets), "articles": [article_record(a) for a in s.articles]}
            for s in summaries
        ]
        from compare.core.untrusted import json_safe

        sys.stdout.write(json_safe(json.dumps(records, indent=2, ensure_ascii=False)) + "\n")
        return
    frame = pl.DataFrame(
        {
            "story_id": [s.story_id for s in summaries],
            "first_published": [s.first_published for s in summaries],
            "last_published": [s.last_published for s in summaries],
            "outlets": [len(s.outlets) for s in summaries],
            "title": [s.title for s in summaries],
            "outlet_names": [list(s.outlets) for s in summaries],
        },
        schema={"story_id": pl.String, "first_published": pl.Datetime("us", "UTC"), "last_published": pl.Datetime("us", "UTC"),
                "outlets": pl.Int32, "title": pl.String, "outlet_names": pl.List(pl.String)},
    )
    _emit_listing(
        frame, list_format, f"{len(summaries)} stories", ["story_id", "first_published", "last_published", "outlets", "title", "outlet_names"]
    )


def _write_report(report: Any, report_format: ReportFormat, output: Path | None) -> None:
    from compare.report.render import render_html, render_json, render_markdown, render_terminal

    if report_format is ReportFormat.terminal and output is None:
        render_terminal(report, out)
        return
    if report_format is ReportFormat.terminal:
        console = Console(record=True, width=120, file=io.StringIO())
        render_terminal(report, console)
        text = console.export_text()
    else:
        text = {ReportFormat.markdown: render_markdown, ReportFormat.html: render_html, ReportFormat.json: render_json}[report_format](report)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        _write_output_file(output, text)
        from compare.core.untrusted import visible

        err.print(f"report written to {visible(str(output))}", highlight=False, markup=False)


def _write_output_file(output: Path, text: str) -> None:
    """Write `text` to `output`, a regular file or a new name: never through a symlink, never over a
    FIFO, device or directory (rename would replace that entry). The file gets the mode a plain
    `open()` would give it (0666 less the umask), or keeps the mode of the file it replaces."""
    import os
    import stat

    from compare.core.untrusted import visible
    from compare.core.store import write_atomically

    parent = output.parent
    if not parent.is_dir():
        why = "is not a folder" if parent.exists() or os.path.lexists(parent) else "does not exist"
        raise UserError(f"cannot write {visible(str(output))}: the folder {visible(str(parent))} {why}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {visible(str(output))}: permission denied in the folder {visible(str(parent))}")
    try:
        status = os.lstat(output)
    except FileNotFoundError:
        status = None
    except OSError as error:
        raise UserError(f"cannot write {visible(str(output))}: {error.strerror}") from error
    if status is not None and not stat.S_ISREG(status.st_mode):
        kind = (
            "a symbolic link" if stat.S_ISLNK(status.st_mode) else "a directory" if stat.S_ISDIR(status.st_mode)
            else "a FIFO" if stat.S_ISFIFO(status.st_mode) else "a device" if stat.S_ISCHR(status.st_mode) or stat.S_ISBLK(status.st_mode)
            else "not a regular file"
        )
        raise UserError(f"refusing to write the report to {visible(str(output))}: it is {kind}; give a regular file name")
    if status is not None:
        mode = stat.S_IMODE(status.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, mode)

    write_atomically(output, write)


ReportFormatOption = Annotated[ReportFormat, typer.Option("--format", "-f", help="terminal, markdown, html (self-contained page) or json.")]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file instead of stdout.")]


@app.command()
def report(
    story: Annotated[str | None, typer.Argument(help="A story id from `compare stories`, or the id of any article in it.")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Report the story that best matches this text instead.")] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    report_format: ReportFormatOption = ReportFormat.terminal,
    output: OutputOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
) -> None:
    """Report one story: outlets, wire copy, shared claims, omissions, and claims that disagree.

    Exit codes: 0 written, 1 the data home has no articles, 2 unknown id or bad option or path.

    Example: compare report s-1a2b3c4d5e --format html -o story.html

    Example: compare report --query "militia depot Baghdad explosions" --format markdown
    """
    from compare.report.story import UnknownStoryError, build_report, find_story, resolve_story

    with _user_errors():
        if (story is None) == (query is None):
            raise UserError("give a story id, an article id, or --query TEXT (exactly one)")
        settings = _settings(home, config, model, device)
        store = _corpus_store(settings)
        index = _ensure_index(settings)
        try:
            if query is not None:
                story = find_story(store.articles(), index, query)
                err.print(f"best match for the query: story {story}", highlight=False, markup=False)
            story_id = resolve_story(index, story or "")
        except UnknownStoryError as error:
            # the id may be right and the home wrong (a forgotten --home): say which home was searched
            raise UserError(f"{error}; searched the home {settings.home} (`compare stories --home {settings.home}` lists its ids)") from error
        members = store.articles(index.stories.filter(pl.col("story_id") == story_id)["article_id"].to_list())
        with err.status("aligning claims") if err.is_terminal else nullcontext():
            built = build_report(members, index, story_id, settings)
        _write_report(built, report_format, output)


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
        _check_home(settings.home, writing=True)
        summary, built = run_demo(settings)
        err.print(f"demo corpus: {summary.accepted} articles ingested into {settings.home}", highlight=False)
        _write_report(built, report_format, output)


# --------------------------------------------------------------------------- fetch and sources (compare.fetch)

sources_app = typer.Typer(
    help="The outlets `compare fetch` follows: [[sources]] in compare.toml.\n\nExample: compare sources check --home ./data",
    no_args_is_help=True,
)
app.add_typer(sources_app, name="sources")
SourceNameOption = Annotated[list[str] | None, typer.Option("--source", help="Only this source (its name); repeatable.")]


def _fetch_settings(home: Path | None, config: Path | None, names: list[str] | None):  # noqa: ANN202
    from compare.fetch.sources import load_fetch_settings, select_sources

    settings = _settings(home, config)
    fetch_settings = load_fetch_settings(settings.home, config)
    if not fetch_settings.sources:
        where = fetch_settings.path or (config or settings.home / "compare.toml")
        raise UserError(f"no [[sources]] in {where}: add one table per outlet (example: compare/fetch/sources.example.toml)")
    return settings, fetch_settings, select_sources(fetch_settings.sources, names)


@sources_app.command("list")
def sources_list(home: HomeOption = None, config: ConfigOption = None, list_format: ListFormatOption = ListFormat.table) -> None:
    """The configured sources: name, home page, feeds and sitemaps ("discover" when neither is given:
    found on the home page and in robots.txt at fetch time), language, wire agency or not, per-host delay.

    Example: compare sources list --format json
    """
    with _user_errors():
        _, fetch_settings, sources = _fetch_settings(home, config, None)
    default_delay = fetch_settings.fetch.delay_seconds

    def discover(source: Any) -> list[str]:  # discovery runs only for a source that names neither
        return [] if source.feeds or source.sitemaps else ["discover"]

    rows = [
        {"name": s.name, "home": s.home, "feeds": list(s.feeds) or discover(s), "sitemaps": list(s.sitemaps) or discover(s),
         "language": s.language, "wire": s.wire, "delay_seconds": default_delay if s.delay_seconds is None else s.delay_seconds}
        for s in sources
    ]
    _emit_listing(pl.DataFrame(rows, schema={"name": pl.String, "home": pl.String, "feeds": pl.List(pl.String), "sitemaps": pl.List(pl.String),
                                             "language": pl.String, "wire": pl.Boolean, "delay_seconds": pl.Float64}), list_format, "sources")


@sources_app.command("check")
def sources_check(
    source: SourceNameOption = None, home: HomeOption = None, config: ConfigOption = None, list_format: ListFormatOption = ListFormat.table,
) -> None:
    """Read each source's home page, robots.txt, feeds and sitemaps (politely, no articles, nothing
    written) and show what discovery found and how many article URLs they list (dated within [fetch]
    max_age_days, or undated). Exit 1 when a source yields nothing.

    Example: compare sources check --source "Times of Israel"
    """
    from compare.fetch.run import check_sources

    with _user_errors():
        _, fetch_settings, sources = _fetch_settings(home, config, source)
        if not fetch_settings.fetch.contact.strip():
            raise UserError("set [fetch] contact in compare.toml (an email or URL where site owners can reach you): it is sent in the User-Agent")
        checked = check_sources(sources, fetch_settings.fetch)
    rows = [
        {"name": s.name, "feeds": list(d.feeds), "sitemaps": list(d.sitemaps), "discovered": d.discovered, "listed": listed, "error": d.error}
        for s, d, listed in checked
    ]
    _emit_listing(pl.DataFrame(rows, schema={"name": pl.String, "feeds": pl.List(pl.String), "sitemaps": pl.List(pl.String),
                                             "discovered": pl.Boolean, "listed": pl.Int64, "error": pl.String}), list_format, "sources")
    if any(d.error is not None or listed == 0 for _, d, listed in checked):
        raise typer.Exit(1)


@app.command()
def fetch(
    since: Annotated[str | None, typer.Option("--since", help="Skip articles the feeds and sitemaps date before this (e.g. 2026-11-30); undated ones are fetched.")] = None,
    source: SourceNameOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as one JSON line (for logs).")] = False,
    from_warc: Annotated[
        list[Path] | None,
        typer.Option("--from-warc", help="Backfill instead: the sources' pages in these WARC files (e.g. Common Crawl's CC-NEWS); no request is made. Repeatable."),
    ] = None,
) -> None:
    """Fetch the sources' new articles from their feeds and news sitemaps and ingest them.

    Polite: robots.txt, a pause per host ([fetch] delay_seconds, a source's delay_seconds, Crawl-delay),
    the User-Agent with [fetch] contact, conditional requests, retries that honour Retry-After. Every
    response goes to <home>/warc/fetch-<stamp>.warc.gz; pages go through the same checks as
    `compare ingest` (too little text: a reject). Exit codes: 0 every source fetched, 1 some source
    failed (the others were fetched; see its error), 2 bad option or configuration.

    With --from-warc, past coverage is taken from WARC files instead (CC-NEWS): the 200 HTML responses
    on the sources' sites are copied into <home>/warc/backfill-<stamp>.warc.gz and ingested.

    Example: compare fetch --since 2026-11-30 --source "Ynet News" --home ./data
    """
    from compare.fetch.run import backfill, fetch_sources, result_record
    from compare.ingest import parse_published

    with _user_errors():
        settings, fetch_settings, sources = _fetch_settings(home, config, source)
        try:
            since_time = parse_published(since) if since else None
        except ValueError as error:
            raise UserError(f"--since {since!r}: not a date (e.g. 2026-11-30)") from error
        _check_home(settings.home, writing=True)
        with _progress() as progress:
            tasks: dict[str, Any] = {}

            def advance(name: str, fetched: int) -> None:
                if name not in tasks:
                    tasks[name] = progress.add_task(f"fetching {name}", total=None)
                progress.update(tasks[name], completed=fetched)

            try:
                if from_warc:
                    for path in from_warc:
                        if not path.is_file():
                            raise UserError(f"{path}: no such file")
                    result = backfill(settings.home, sources, list(from_warc), fetch_settings.fetch, since=since_time)
                else:
                    result = fetch_sources(settings.home, sources, fetch_settings.fetch, since=since_time, progress=advance)
            except ValueError as error:
                raise UserError(str(error)) from error
    from compare.core.untrusted import json_safe, visible

    if as_json:
        sys.stdout.write(json_safe(json.dumps(result_record(result), ensure_ascii=False)) + "\n")
    else:
        for item in result.sources:
            state = "ok" if item.ok else f"FAILED: {item.error}"
            line = (f"{item.name}: listed {item.listed}, fetched {item.fetched}, unchanged {item.not_modified}, "
                    f"failed {item.failed}, pending {item.pending} - {state}")
            out.print(visible(line), highlight=False, markup=False)
        line = f"accepted {result.accepted}, duplicate {result.duplicates}, rejected {result.rejected}"
        if result.versions:
            line += f"; {result.versions} of the accepted are new versions of stored URLs"
        if result.rejects_path:
            line += f" (rejects written to {result.rejects_path})"
        out.print(visible(line), highlight=False, markup=False)
        if result.warc:
            _notice(f"raw responses: {result.warc}")
    if result.failed_sources:
        raise typer.Exit(1)


# Exit codes of the index commands, for monitoring (scripts/nightly.sh passes them on).
EXIT_BUILD_FAILED = 3  # corrupt or unreadable corpus, disk full: the previous snapshot stays current
EXIT_VERIFY_FAILED = 4  # a snapshot file is missing, unreadable, or differs from its recorded checksum
EXIT_LOCKED = 75  # another build holds the lock (EX_TEMPFAIL): try again later


@index_app.command("build")
def index_build(
    home: HomeOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch instead of reusing the previous snapshot's vectors.")] = False,
    keep: Annotated[int | None, typer.Option("--keep", min=1, help="Snapshots to keep after the build (default [index] keep_snapshots = 2).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as one JSON line (for logs).")] = False,
    engine: Annotated[
        str | None,
        typer.Option("--engine", help='Where the per-article work (signatures, claim counts, embeddings), story linkage\'s time buckets and the facts of stories run: "local" (default) or "ray" ([index] engine).'),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help='With --engine ray: "" starts a local Ray runtime (default), "auto" joins this machine\'s cluster, "ray://HOST:10001" a remote one ([index] ray_address).'),
    ] = None,
) -> None:
    """Build wire-copy clusters, article vectors and stories as a new snapshot, then switch to it.

    Incremental by default: only articles not in the previous snapshot are embedded. With --engine ray
    the per-article, per-time-bucket and per-story work runs as Ray tasks (pip install -e
    ".[distributed]"); the snapshot is the same. Exit codes: 0 built (or already up to date), 2 bad
    option or ray missing, 3 build failed with the previous snapshot kept, 75 another build is running.

    Example: compare index build --home ./data --keep 3 --engine ray --ray-address auto
    """
    from compare.embed.embedder import ModelLoadError
    from compare.index import BuildLockedError, IndexBuildError, build_index
    from compare.core.store import Store

    with _user_errors():
        settings = _settings(home, config, model, device, index={"engine": engine, "ray_address": ray_address})
        _check_home(settings.home, writing=True)
        try:
            with _progress() as progress:
                built = build_index(Store(settings.home), settings, progress=_index_progress(progress), full=full, keep=keep)
        except BuildLockedError as error:
            _fail(str(error), EXIT_LOCKED)
        except (IndexBuildError, ModelLoadError) as error:  # a model that cannot load fails the build: exit 3
            _fail(f"{error}; previous snapshot kept" if isinstance(error, ModelLoadError) else str(error), EXIT_BUILD_FAILED)
    manifest = built.manifest
    if as_json:
        from dataclasses import asdict

        record = {"snapshot": built.path.name, "reused": built.reused, **asdict(manifest)}
        sys.stdout.write(json.dumps(record) + "\n")
    elif built.reused:
        out.print(f"index up to date: {built.path.name} ({manifest.articles} articles)", highlight=False)
    else:
        out.print(
            f"built {built.path.name} ({manifest.mode}, {manifest.new_articles} new, {manifest.embedded} embedded): "
            f"{manifest.articles} articles, {manifest.clusters} wire-copy clusters, {manifest.stories} stories, "
            f"{manifest.claims} claims in {sum(manifest.seconds.values()):.1f} s",
            highlight=False,
        )


@index_app.command("status")
def index_status(home: HomeOption = None, config: ConfigOption = None, list_format: ListFormatOption = ListFormat.table) -> None:
    """List the snapshots (current marked): age, size, counts, model, build time; and whether the corpus changed since.

    Example: compare index status --format json
    """
    from dataclasses import asdict

    from compare.index import load_index, snapshot_status

    with _user_errors():
        settings = _settings(home, config)
        store = _corpus_store(settings, index_suffices=True)
        index = load_index(store)
        rows = snapshot_status(store)
    stale = "up to date" if index.manifest.corpus_version == store.corpus_version() else "stale: the corpus changed since"
    frame = pl.DataFrame([asdict(row) for row in rows])
    _emit_listing(
        frame, list_format, f"current snapshot {index.path.name} ({stale})",
        ["name", "current", "age_hours", "mode", "articles", "new_articles", "claims", "clusters", "stories", "build_seconds", "size_mb", "model"],
    )


@index_app.command("verify")
def index_verify(
    home: HomeOption = None,
    config: ConfigOption = None,
    all_snapshots: Annotated[bool, typer.Option("--all", help="Verify every kept snapshot, not only the current one.")] = False,
) -> None:
    """Check the current snapshot: checksums recorded at build time, every file readable, counts consistent.

    Exit code 0 when sound, 4 when a problem is found (each printed on one line).

    Example: compare index verify --all
    """
    from compare.index import IndexMissingError, current_path, list_snapshots, verify_snapshot

    with _user_errors():
        settings = _settings(home, config)
        store = _corpus_store(settings, index_suffices=True)
        if not current_path(store).is_symlink() and not list_snapshots(store):
            raise IndexMissingError(f"no index in {store.index_dir}; run `compare index build --home {settings.home}`")
        # The current snapshot itself, damaged or not: verify reads checksums before any file.
        paths = list_snapshots(store) if all_snapshots else [current_path(store).resolve()]
        problems = [problem for path in paths for problem in verify_snapshot(path)]
    for problem in problems:
        from rich.markup import escape

        from compare.core.untrusted import visible

        err.print(f"[red]problem:[/] {escape(visible(str(problem)))}", highlight=False)
    if problems:
        raise typer.Exit(EXIT_VERIFY_FAILED)
    out.print(f"verified {len(paths)} snapshot(s): {', '.join(p.name for p in paths)}", highlight=False)


@index_app.command("diff")
def index_diff(
    home: HomeOption = None,
    config: ConfigOption = None,
    list_format: ListFormatOption = ListFormat.table,
    since: Annotated[str | None, typer.Option("--since", help="Snapshot name to compare with (default: the one before the current).")] = None,
    min_outlets: Annotated[int, typer.Option(help="Only stories and clusters spanning at least this many outlets.")] = 1,
) -> None:
    """New stories, stories that gained outlets, and new wire clusters since the previous snapshot.

    Story and wire-cluster ids are stable across builds, so the same id is the same story.

    Example: compare index diff --min-outlets 2 --format json
    """
    from compare.index import diff_snapshots, list_snapshots, load_index

    with _user_errors():
        settings = _settings(home, config)
        store = _corpus_store(settings, index_suffices=True)
        current = load_index(store).path
        names = [path.name for path in list_snapshots(store)]
        if since is None:
            older = [name for name in names if name < current.name]
            if not older:
                raise UserError("only one snapshot: nothing to compare with (keep more with --keep)")
            since = older[-1]
        elif since not in names:
            raise UserError(f"no snapshot named {since} (kept: {', '.join(names)})")
        changes = diff_snapshots(current.parent / since, current, min_outlets=min_outlets)
    _emit_listing(changes, list_format, f"{changes.height} changes from {since} to {current.name}",
                  ["change", "id", "outlets", "added_outlets", "articles", "title"])


@index_app.command("prune")
def index_prune(
    home: HomeOption = None,
    config: ConfigOption = None,
    keep: Annotated[int | None, typer.Option("--keep", min=1, help="Snapshots to keep (default [index] keep_snapshots = 2).")] = None,
) -> None:
    """Delete old snapshots, keeping the newest ones and always the current one.

    Example: compare index prune --keep 7
    """
    from compare.index import prune_snapshots

    with _user_errors():
        settings = _settings(home, config)
        removed = prune_snapshots(_corpus_store(settings, index_suffices=True), keep or settings.index.keep_snapshots)
    out.print(f"removed {len(removed)} snapshot(s){': ' + ', '.join(removed) if removed else ''}", highlight=False)


@app.command()
def history(
    url: Annotated[str, typer.Argument(help="The article's URL, exactly as ingested.")],
    home: HomeOption = None,
    config: ConfigOption = None,
    list_format: ListFormatOption = ListFormat.table,
) -> None:
    """Versions of a re-crawled article and what changed between them (title, date, sentences), and when.

    Example: compare history https://example.org/news/depot-blast --format json
    """
    from compare.report.history import UnknownArticleError, article_history, version_changes

    with _user_errors():
        settings = _settings(home, config)
        store = _corpus_store(settings)
        try:
            versions = article_history(store, url)
        except UnknownArticleError as error:
            raise UserError(f"{error} in the home {settings.home}") from error
    changes = version_changes(versions)
    if list_format is ListFormat.json:
        from dataclasses import asdict

        def plain(record: dict[str, Any]) -> dict[str, Any]:
            return {k: (v.isoformat() if hasattr(v, "isoformat") else list(v) if isinstance(v, tuple) else v) for k, v in record.items()}

        document = {"url": url, "versions": [plain(asdict(v)) for v in versions], "changes": [plain(asdict(c)) for c in changes]}
        from compare.core.untrusted import json_safe

        sys.stdout.write(json_safe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n")
        return
    from compare.core.untrusted import visible

    rows: list[dict[str, Any]] = [
        {"version": v.version, "crawled": v.ingested_at, "id": v.id, "published": v.published, "title": v.title} for v in versions
    ]
    _emit_listing(pl.DataFrame(rows), list_format, f"{len(versions)} version(s) of {url}")
    if list_format is ListFormat.table:
        for change in changes:
            when = change.at.strftime("%Y-%m-%d %H:%M") if change.at else "unknown time"
            out.print(f"\nversion {change.before} -> {change.after} (crawled {when})", highlight=False, markup=False)
            if change.title_changed:
                out.print(visible(f"  title: {change.title_before!r} -> {change.title_after!r}"), highlight=False, markup=False)
            if change.published_before != change.published_after:
                out.print(f"  published: {change.published_before} -> {change.published_after}", highlight=False, markup=False)
            for sentence in change.removed:
                out.print(f"  - {visible(sentence)}", highlight=False, markup=False)
            for sentence in change.added:
                out.print(f"  + {visible(sentence)}", highlight=False, markup=False)
            if not (change.title_changed or change.removed or change.added):
                out.print("  no change in title or sentences (spacing or page furniture only)", highlight=False, markup=False)


@app.command()
def finetune(
    output: Annotated[Path, typer.Argument(help="Folder to write the fine-tuned model to.")],
    mrpc: Annotated[list[Path] | None, typer.Option("--mrpc", help="MRPC TSV file(s) (e.g. msr_paraphrase_train.txt).")] = None,
    sts: Annotated[list[Path] | None, typer.Option("--sts", help="STS Benchmark TSV file(s) (e.g. sts-train.csv), scores 0-5.")] = None,
    cross_encoder: Annotated[bool, typer.Option("--cross-encoder", help="Train a reranker that reads both claims together (use it with COMPARE_RERANKER).")] = False,
    holdout: Annotated[float, typer.Option("--holdout", min=0.0, max=0.9, help="Cross-encoder: share of MRPC pairs kept out of training and written to OUTPUT/heldout-mrpc.tsv for benchmarks/claims.py.")] = 0.0,
    all_mrpc_rows: Annotated[bool, typer.Option("--all-mrpc-rows", help="Bi-encoder: train on every MRPC row (default: only the 40% fit part; then do not benchmark on that file).")] = False,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the pairs.")] = 1,
    home: HomeOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
) -> None:
    """Adapt the model to news paraphrase with labelled sentence pairs (CPU minutes to tens of minutes).

    Default: fine-tune the embedding model (CoSENT); use it for claims with COMPARE_CLAIM_MODEL=OUTPUT
    (`claim_model` under [align]; story grouping keeps the [embed] model) or for everything with
    COMPARE_MODEL=OUTPUT. With --cross-encoder: train a reranker from the embedding model's weights, its decision
    threshold fitted on 10% of the MRPC pairs it never trains on; use it with COMPARE_RERANKER=OUTPUT
    or `reranker` under [align].

    Example: compare finetune models/news-reranker --cross-encoder --mrpc msr_paraphrase_train.txt --sts sts-train.csv

    Example: compare finetune models/minilm-sts --sts sts-train.csv   (bi-encoder; all STS genres: docs/claims.md)
    """
    from compare.train.finetune import DataError, FinetuneConfig, training_pairs
    from compare.train.finetune import finetune as run_finetune

    with _user_errors():
        settings = _settings(home, config, model)
        try:
            if cross_encoder:
                _finetune_cross_encoder(output, mrpc or [], sts or [], holdout, epochs, settings)
                return
            examples = training_pairs(mrpc or [], sts or [], all_mrpc_rows=all_mrpc_rows)
        except DataError as error:
            raise UserError(str(error)) from error
        err.print(f"fine-tuning {settings.embed.model} on {len(examples)} pairs", highlight=False)
        with _progress() as progress:
            task = progress.add_task("training", total=None)
            written = run_finetune(
                examples, output, base=settings.embed, config=FinetuneConfig(epochs=epochs),
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        out.print(f"model written to {written}; use it for claims with COMPARE_CLAIM_MODEL={written}, or for everything with COMPARE_MODEL={written}", highlight=False)
        # Fine-tuning moves the cosine scale: after an MRPC + STS fine-tune the shipped floor kept 1% of
        # MRPC mining recall (docs/benchmarks.md), so the alignment thresholds must be refitted for the new model.
        err.print(
            f"its cosines are on another scale than {settings.embed.model}'s: refit [align] min_similarity and min_margin "
            f"with `python benchmarks/claims.py --claim-model {written} --reranker none ...`, and set near_similarity "
            "(docs/claims.md: Adapted claims), before using it in reports",
            highlight=False, markup=False,  # "[align]" is not a style tag
        )


def _finetune_cross_encoder(output: Path, mrpc: list[Path], sts: list[Path], holdout: float, epochs: int, settings: Settings) -> None:
    from compare.train.finetune import (
        CALIBRATION_PAIRS_FILE, HELDOUT_FILE, CrossEncoderConfig, DataError, calibrate_cross_encoder, cross_encoder_examples, finetune_cross_encoder,
        load_mrpc, load_sts, split_mrpc, write_mrpc,
    )

    if not mrpc:
        raise DataError("--cross-encoder needs an MRPC file (--mrpc): its calibration part fits the decision threshold")
    train, calibration, heldout = [], [], []
    for path in mrpc:
        parts = split_mrpc(load_mrpc(path), holdout_share=holdout)
        train += parts[0]
        calibration += parts[1]
        heldout += parts[2]
    examples = cross_encoder_examples(train, [pair for path in sts for pair in load_sts(path)])
    err.print(
        f"training a cross-encoder from {settings.embed.model} on {len(examples)} pairs (both orders); "
        f"{len(calibration)} MRPC pairs calibrate it with {settings.claim_embed.model}'s cosines, {len(heldout)} are held out",
        highlight=False,
    )
    with _progress() as progress:
        task = progress.add_task("training", total=None)
        finetune_cross_encoder(
            examples, output, base=settings.embed, config=CrossEncoderConfig(epochs=epochs),
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    fitted_on = ", ".join(f"{path.name} (calibration part)" for path in mrpc)
    # The reranker blends in the cosine of the claim model (what reports hand it), so that model's
    # cosines are the ones its threshold is fitted with; the weights come from [embed] model.
    calibration_result = calibrate_cross_encoder(output, calibration, base=settings.claim_embed, fitted_on=fitted_on)
    write_mrpc(calibration, output / CALIBRATION_PAIRS_FILE)  # so the threshold fit can be reproduced
    if heldout:
        write_mrpc(heldout, output / HELDOUT_FILE)
        err.print(f"held-out MRPC pairs written to {output / HELDOUT_FILE}", highlight=False)
    out.print(
        f"reranker written to {output} (threshold {calibration_result.threshold:.3f}, F1 {calibration_result.f1_on_fit_pairs:.3f} "
        f"on {calibration_result.pairs} calibration pairs); use it with COMPARE_RERANKER={output}",
        highlight=False,
    )


def main() -> None:
    app()
