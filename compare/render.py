"""Renderers of the story report and of listings: terminal (rich), Markdown, HTML and JSON.

All read the same data model (compare.report), so every format shows the same findings.
JSON schema of a story report (version 1):
    {"schema": "compare.story-report/1", "story_id", "title", "first_published", "last_published",
     "outlets": [str], "articles": [ArticleRef], "wire_copies": [{"cluster_id", "source": ArticleRef,
     "copies": [{"article": ArticleRef, "jaccard"}]}], "shared"|"partial"|"unique": [{"group_id",
     "present": [outlet], "missing": [outlet], "claims": [ClaimRef]}], "divergences": [{"kind",
     "group_id", "subject", "sides": [{"value", "outlets", "claims": [ClaimRef]}]}]}
    ArticleRef = {"id", "outlet", "url", "title", "published", "wire_credit"}
    ClaimRef = {"claim_id", "article_id", "outlet", "start", "end", "text"}  (offsets into the article text)
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from compare.diverge import Divergence
from compare.report import ArticleRef, CoverageRow, StoryReport

KIND_LABELS = {
    "number": "Numbers differ",
    "actor": "Named actors differ",
    "attribution": "Attributed vs stated as fact",
    "hedge": "Hedged vs asserted",
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def report_to_dict(report: StoryReport) -> dict[str, Any]:
    def coverage(rows: Sequence[CoverageRow]) -> list[dict[str, Any]]:
        return [{"group_id": r.group_id, "present": list(r.present), "missing": list(r.missing), "claims": _plain(r.claims)} for r in rows]

    return {
        "schema": "compare.story-report/1",
        "story_id": report.story_id,
        "title": report.title,
        "first_published": _plain(report.first_published),
        "last_published": _plain(report.last_published),
        "outlets": list(report.outlets),
        "articles": _plain(report.articles),
        "wire_copies": [
            {
                "cluster_id": copy.cluster_id,
                "source": _plain(copy.source),
                "copies": [{"article": _plain(article), "jaccard": round(score, 4)} for article, score in copy.copies],
            }
            for copy in report.wire_copies
        ],
        "shared": coverage(report.shared),
        "partial": coverage(report.partial),
        "unique": coverage(report.unique),
        "divergences": [
            {
                "kind": d.kind,
                "group_id": d.group_id,
                "subject": d.subject,
                "sides": [{"value": s.value, "outlets": list(s.outlets), "claims": _plain(s.claims)} for s in d.sides],
            }
            for d in report.divergences
        ],
    }


def render_json(report: StoryReport) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "undated"


def outlet_abbreviations(outlets: Sequence[str]) -> dict[str, str]:
    """Short column headers for the coverage matrix ('Times of Israel' -> 'ToI'), unique per report."""
    import re

    result: dict[str, str] = {}
    for outlet in outlets:
        parts = [p for p in re.split(r"[\s\-]+", outlet) if p]
        short = "".join(p[0] if p.lower() not in {"of"} else p[0].lower() for p in parts) or outlet[:3]
        if len(parts) == 1:
            short = outlet[:4]
        candidate, n = short, 2
        while candidate in result.values():
            candidate, n = f"{short}{n}", n + 1
        result[outlet] = candidate
    return result


def _divergence_line(divergence: Divergence) -> list[str]:
    return [f'{", ".join(side.outlets)}: {side.value} — "{side.claims[0].text}"' for side in divergence.sides]


def render_markdown(report: StoryReport) -> str:
    out = io.StringIO()
    write = lambda line="": out.write(line + "\n")  # noqa: E731
    write(f"# {report.title}")
    write()
    write(f"Story `{report.story_id}` · {len(report.outlets)} outlets · {_when(report.first_published)} – {_when(report.last_published)}")
    write()
    write("## Outlets")
    write()
    write("| Outlet | Published | Title | Wire credit |")
    write("|---|---|---|---|")
    for article in report.articles:
        title = (article.title or article.id).replace("|", "\\|")
        link = f"[{title}]({article.url})" if article.url and article.url.startswith(("http://", "https://")) else title
        write(f"| {article.outlet} | {_when(article.published)} | {link} | {article.wire_credit or ''} |")
    write()
    write("## Wire copy")
    write()
    if not report.wire_copies:
        write("No near-duplicate articles in this story.")
    for copy in report.wire_copies:
        write(f"- **{copy.source.outlet}** published first ({_when(copy.source.published)}); copies:")
        for article, score in copy.copies:
            write(f"  - {article.outlet} ({_when(article.published)}), word-shingle Jaccard {score:.2f}")
    write()
    write("## Divergences")
    write()
    if not report.divergences:
        write("No divergences found between aligned claims.")
    for divergence in report.divergences:
        subject = f": {divergence.subject}" if divergence.kind in ("number", "actor") else ""
        write(f"### {KIND_LABELS[divergence.kind]}{subject}")
        write()
        for line in _divergence_line(divergence):
            write(f"- {line}")
        write()
    write("## Claims every outlet carries")
    write()
    for row in report.shared or ():
        write(f"- {row.text}")
    if not report.shared:
        write("None.")
    write()
    write("## Claims only some outlets carry")
    write()
    for row in report.partial:
        write(f"- {row.text}  \n  carried by: {', '.join(row.present)}; **left out by: {', '.join(row.missing)}**")
    for row in report.unique:
        write(f"- {row.text}  \n  only in: {row.present[0]}")
    if not report.partial and not report.unique:
        write("None.")
    return out.getvalue()


def render_terminal(report: StoryReport, console: Console) -> None:
    # Article text, titles and outlet names are untrusted: escaped so "[sic]" or "[/]" print as written.
    console.rule(f"[bold]{escape(report.title)}")
    console.print(f"Story [cyan]{escape(report.story_id)}[/] · {len(report.outlets)} outlets · {_when(report.first_published)} – {_when(report.last_published)}")
    articles = Table(title="Outlets", show_lines=False)
    for column in ("Outlet", "Published", "Title", "Wire"):
        articles.add_column(column)
    for article in report.articles:
        articles.add_row(Text(article.outlet), _when(article.published), Text(article.title or article.id), article.wire_credit or "")
    console.print(articles)

    console.print("[bold]Wire copy[/]")
    if not report.wire_copies:
        console.print("  none")
    for copy in report.wire_copies:
        console.print(f"  [bold]{escape(copy.source.outlet)}[/] published first ({_when(copy.source.published)}), copied by:")
        for article, score in copy.copies:
            console.print(f"    {article.outlet} ({_when(article.published)}), Jaccard {score:.2f}", markup=False)

    short = outlet_abbreviations(report.outlets)
    legend = ", ".join(f"{abbreviation} = {outlet}" for outlet, abbreviation in short.items())
    matrix = Table(title="Coverage: claims (rows) x outlets", caption=escape(legend), show_lines=False)
    matrix.add_column("Claim", overflow="fold")
    for outlet in report.outlets:
        matrix.add_column(Text(short[outlet]), justify="center", no_wrap=True)
    for row in (*report.shared, *report.partial, *report.unique):
        matrix.add_row(Text(row.text), *("●" if outlet in row.present else "·" for outlet in report.outlets))
    console.print(matrix)

    console.print("[bold]Divergences[/]")
    if not report.divergences:
        console.print("  none found between aligned claims")
    for divergence in report.divergences:
        subject = f": {divergence.subject}" if divergence.kind in ("number", "actor") else ""
        console.print(f"  [yellow]{KIND_LABELS[divergence.kind]}[/]{escape(subject)}")
        for line in _divergence_line(divergence):
            console.print(f"    {line}", markup=False, highlight=False)
    if report.partial:
        console.print("[bold]Left out[/]")
        for row in report.partial:
            console.print(f"  {', '.join(row.missing)} left out: {row.text}", markup=False, highlight=False)


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links reach the page: a `javascript:` URL in hostile input stays inert text."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def render_html(report: StoryReport) -> str:
    """One self-contained page (inline CSS, no scripts from anywhere), autoescaped by jinja2."""
    from importlib.resources import files

    from jinja2 import Environment, select_autoescape

    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    environment.filters["when"] = _when
    environment.filters["safe_url"] = _safe_url
    template = environment.from_string(files("compare").joinpath("templates/report.html.j2").read_text(encoding="utf-8"))
    return template.render(report=report, kind_labels=KIND_LABELS)


def article_record(article: ArticleRef) -> dict[str, Any]:
    return {"id": article.id, "outlet": article.outlet, "url": article.url, "title": article.title, "published": _plain(article.published)}
