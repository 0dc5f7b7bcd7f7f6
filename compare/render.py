"""Renderers of the story report and of listings: terminal (rich), Markdown, HTML and JSON.

All read the same data model (compare.report), so every format shows the same findings.
JSON schema of a story report (version 1):
    {"schema": "compare.story-report/1", "story_id", "title", "first_published", "last_published",
     "outlets": [str], "articles": [ArticleRef], "wire_copies": [{"cluster_id", "source": ArticleRef,
     "copies": [{"article": ArticleRef, "jaccard"}]}], "shared"|"partial"|"unique": [{"group_id",
     "present": [outlet], "near": [outlet], "missing": [outlet], "claims": [ClaimRef]}], "divergences": [{"kind",
     "group_id", "subject", "sides": [{"value", "outlets", "claims": [ClaimRef]}]}]}
    ArticleRef = {"id", "outlet", "url", "title", "published", "wire_credit"}
    ClaimRef = {"claim_id", "article_id", "outlet", "start", "end", "text"}  (offsets into the article text)
    kind: "number" (subject: unit or counted noun, e.g. "distance (km)", "people", "age"), "actor" ("named
    actor"), "attribution" ("attributed vs stated as fact" | "attributed to different sources"), "hedge"
    ("hedged vs asserted"), "intensifier" ("stressed vs plain"), "framing" ("word choice" from the token
    diff of aligned claims, or a lexicon class such as "armed group"). A side's "value" is what its claims
    say ("80 kilometres", "attributed to Western diplomatic sources", "stated as fact", "militia").
    A coverage row's "near" outlets have a loosely similar sentence (cosine >= 0.6) that alignment did not
    pair: not counted as leaving the claim out. Each coverage row and each side lists every claim that carries it, so every finding points at its
    exact source sentences (article id and character offsets).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from compare.diverge import KINDS, ClaimRef, Divergence, differing_spans
from compare.report import ArticleRef, CoverageRow, StoryReport
from compare.untrusted import json_safe, visible

KIND_LABELS = {
    "number": "Numbers differ",
    "actor": "Named actors differ",
    "attribution": "Attributed vs stated as fact",
    "hedge": "Hedged vs asserted",
    "intensifier": "Stressed vs plain",
    "framing": "Different terms for the same thing",
}
# Kinds whose subject adds to the label ("Numbers differ: distance (km)"); the others' label says it all,
# except attribution to different sources, which is shown by its subject.
_SUBJECT_SHOWN = ("number", "actor", "framing")


# Inline Markdown syntax (CommonMark + GFM tables and strikethrough) escaped anywhere in a text;
# "#", list markers, "=" and ">" only matter at the start of a line, handled by _MD_LINE_START.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d{1,9}[.)])")
_URL_SAFE = "/:?#@!$&*+,;=%~-._"


def md_text(text: str | None) -> str:
    """Untrusted text as literal Markdown: on one line, every construct escaped, so no raw HTML, link,
    emphasis, table cell break or heading can be made from it."""
    text = visible(" ".join((text or "").split()))
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2) if len(m.group(2)) == 1 else m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)


def md_url(url: str | None) -> str | None:
    """An http(s) URL as a Markdown link destination that cannot break out of "(...)", else None."""
    from urllib.parse import quote

    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    # percent-encode everything outside the URL alphabet: spaces, quotes, brackets, parentheses,
    # angle brackets, backslashes and control characters
    return quote(url, safe=_URL_SAFE)


def _visible_value(value: Any) -> Any:
    """A copy of a report (dataclasses, tuples, lists, strings) with every string passed through visible()."""
    if isinstance(value, str):
        return visible(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {field.name: _visible_value(getattr(value, field.name)) for field in dataclasses.fields(value) if field.init}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(_visible_value(item) for item in value)
    if isinstance(value, list):
        return [_visible_value(item) for item in value]
    return value


def divergence_heading(divergence: Divergence) -> str:
    """'Numbers differ: distance (km)', 'Hedged vs asserted', 'Attributed to different sources'."""
    if divergence.kind == "attribution" and divergence.subject != "attributed vs stated as fact":
        return divergence.subject[:1].upper() + divergence.subject[1:]
    label = KIND_LABELS.get(divergence.kind, divergence.kind)
    return f"{label}: {divergence.subject}" if divergence.kind in _SUBJECT_SHOWN else label


def by_kind(divergences: Sequence[Divergence]) -> list[tuple[str, list[Divergence]]]:
    """Findings grouped by kind, kinds in KINDS order (unknown kinds last), each group in report order."""
    order = {kind: position for position, kind in enumerate(KINDS)}
    groups: dict[str, list[Divergence]] = {}
    for divergence in divergences:
        groups.setdefault(divergence.kind, []).append(divergence)
    return sorted(groups.items(), key=lambda item: order.get(item[0], len(order)))


def claim_pointer(claim: ClaimRef) -> str:
    """Where a claim sits: 'article a1b2 chars 120-188'."""
    return f"article {claim.article_id} chars {claim.start}-{claim.end}"


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
        return [
            {"group_id": r.group_id, "present": list(r.present), "near": list(r.near), "missing": list(r.missing), "claims": _plain(r.claims)}
            for r in rows
        ]

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
            | (_wire_details(copy) if copy.details else {})
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


def _wire_details(copy: Any) -> dict[str, Any]:
    """Evidence per copy, present when the report computed it: scores, wire share, own text, diff."""
    copies = []
    for (article, score), detail in zip(copy.copies, copy.details, strict=True):
        copies.append(
            {
                "article": _plain(article), "jaccard": round(score, 4),
                "copy_in_source": round(detail.copy_in_source, 4), "source_in_copy": round(detail.source_in_copy, 4),
                "wire_share": round(detail.wire_share, 4), "own_ranges": [list(r) for r in detail.own],
                "shared_spans": [{"copy_chars": list(s.left_chars), "source_chars": list(s.right_chars)} for s in detail.spans],
                "diff": {"kept": detail.diff.kept, "added": list(detail.diff.added), "removed": list(detail.diff.removed),
                         "changed": [list(pair) for pair in detail.diff.changed]},
            }
        )
    return {"wire_credit": copy.wire_credit, "copies": copies}


def _wire_line(copy: Any, index: int, article: ArticleRef, score: float) -> str:
    if not copy.details:
        return f"{article.outlet} ({_when(article.published)}), word-shingle Jaccard {score:.2f}"
    detail = copy.details[index]
    return (
        f"{article.outlet} ({_when(article.published)}): {detail.wire_share:.0%} of its text is wire copy; "
        f"Jaccard {score:.2f}, containment {detail.copy_in_source:.2f} in source / {detail.source_in_copy:.2f} of source; "
        f"sentences {detail.diff.summary()}"
    )


def render_json(report: StoryReport) -> str:
    return json_safe(json.dumps(report_to_dict(report), indent=2, ensure_ascii=False))


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
    return [
        f'{", ".join(side.outlets)}: {side.value} — "{side.claims[0].text}" ({claim_pointer(side.claims[0])})'
        for side in divergence.sides
    ]


def _md_divergence_line(divergence: Divergence) -> list[str]:
    return [
        f'{md_text(", ".join(side.outlets))}: {md_text(side.value)} — "{md_text(side.claims[0].text)}" ({md_text(claim_pointer(side.claims[0]))})'
        for side in divergence.sides
    ]


def _md_wire_line(copy: Any, index: int, article: ArticleRef, score: float) -> str:
    outlet = md_text(article.outlet)
    if not copy.details:
        return f"{outlet} ({_when(article.published)}), word-shingle Jaccard {score:.2f}"
    detail = copy.details[index]
    return (
        f"{outlet} ({_when(article.published)}): {detail.wire_share:.0%} of its text is wire copy; "
        f"Jaccard {score:.2f}, containment {detail.copy_in_source:.2f} in source / {detail.source_in_copy:.2f} of source; "
        f"sentences {md_text(detail.diff.summary())}"
    )


def render_markdown(report: StoryReport) -> str:
    """The report as CommonMark (+ GFM table). Every text from the articles goes through md_text and
    every link through md_url: rendered, the page has no HTML, link or structure the input made."""
    out = io.StringIO()
    write = lambda line="": out.write(line + "\n")  # noqa: E731
    outlets = lambda names: md_text(", ".join(names))  # noqa: E731
    write(f"# {md_text(report.title)}")
    write()
    write(f"Story `{report.story_id.replace('`', '')}` · {len(report.outlets)} outlets · {_when(report.first_published)} – {_when(report.last_published)}")
    write()
    write("## Outlets")
    write()
    write("| Outlet | Published | Title | Wire credit |")
    write("|---|---|---|---|")
    for article in report.articles:
        title = md_text(article.title or article.id)
        url = md_url(article.url)
        link = f"[{title}]({url})" if url else title
        write(f"| {md_text(article.outlet)} | {_when(article.published)} | {link} | {md_text(article.wire_credit)} |")
    write()
    write("## Wire copy")
    write()
    if not report.wire_copies:
        write("No near-duplicate articles in this story.")
    for copy in report.wire_copies:
        credit = f", credited to {md_text(copy.wire_credit)}" if copy.wire_credit else ""
        write(f"- **{md_text(copy.source.outlet)}** published first ({_when(copy.source.published)}{credit}); copies:")
        for position, (article, score) in enumerate(copy.copies):
            write(f"  - {_md_wire_line(copy, position, article, score)}")
    write()
    write("## Divergences")
    write()
    if not report.divergences:
        write("No divergences found between aligned claims.")
    for kind, found in by_kind(report.divergences):
        for divergence in found:
            write(f"### {md_text(divergence_heading(divergence))}")
            write()
            for line in _md_divergence_line(divergence):
                write(f"- {line}")
            write()
    write("## Claims every outlet carries")
    write()
    for row in report.shared or ():
        write(f"- {md_text(row.text)}")
    if not report.shared:
        write("None.")
    write()
    write("## Claims only some outlets carry")
    write()
    for row in report.partial:
        parts = [f"carried by: {outlets(row.present)}"]
        if row.near:
            parts.append(f"similar wording in: {outlets(row.near)}")
        if row.missing:
            parts.append(f"**left out by: {outlets(row.missing)}**")
        write(f"- {md_text(row.text)}  \n  {'; '.join(parts)}")
    for row in report.unique:
        write(f"- {md_text(row.text)}  \n  only in: {md_text(row.present[0])}")
    if not report.partial and not report.unique:
        write("None.")
    return out.getvalue()


def render_terminal(report: StoryReport, console: Console) -> None:
    # Article text, titles and outlet names are untrusted: escaped so "[sic]" or "[/]" print as written,
    # and control characters shown as escapes (visible) so none reaches the terminal raw.
    report = _visible_value(report)
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
        credit = f", credited to {escape(copy.wire_credit)}" if copy.wire_credit else ""
        console.print(f"  [bold]{escape(copy.source.outlet)}[/] published first ({_when(copy.source.published)}{credit}), copied by:")
        for position, (article, score) in enumerate(copy.copies):
            console.print(f"    {_wire_line(copy, position, article, score)}", markup=False)

    short = outlet_abbreviations(report.outlets)
    legend = ", ".join(f"{abbreviation} = {outlet}" for outlet, abbreviation in short.items())
    matrix = Table(title="Coverage: claims (rows) x outlets", caption=escape(legend), show_lines=False)
    matrix.add_column("Claim", overflow="fold")
    for outlet in report.outlets:
        matrix.add_column(Text(short[outlet]), justify="center", no_wrap=True)
    for row in (*report.shared, *report.partial, *report.unique):
        matrix.add_row(Text(row.text), *("●" if outlet in row.present else "◐" if outlet in row.near else "·" for outlet in report.outlets))
    console.print(matrix)

    console.print("[bold]Divergences[/]")
    if not report.divergences:
        console.print("  none found between aligned claims")
    for kind, found in by_kind(report.divergences):
        console.print(f"  [bold yellow]{escape(KIND_LABELS.get(kind, kind))}[/] ({len(found)})")
        for divergence in found:
            console.print(f"    [yellow]{escape(divergence_heading(divergence))}[/]")
            for line in _divergence_line(divergence):
                console.print(f"      {line}", markup=False, highlight=False)
    if report.partial:
        console.print("[bold]Left out[/]")
        for row in report.partial:
            if row.missing:
                console.print(f"  {', '.join(row.missing)} left out: {row.text}", markup=False, highlight=False)


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links reach the page: a `javascript:` URL in hostile input stays inert text."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


# The page's one script: filters by outlet and finding kind. It reads only data-* attributes the
# renderer wrote (outlet numbers, kind names), never article text; the CSP allows exactly this
# script by its hash, so any script smuggled in through hostile text would not run.
FILTER_SCRIPT = """
(function () {
  var boxes = document.querySelectorAll('input[data-filter]');
  function apply() {
    var kinds = {}, outlets = {};
    boxes.forEach(function (box) {
      if (box.checked) { (box.dataset.filter === 'kind' ? kinds : outlets)[box.value] = true; }
    });
    document.querySelectorAll('[data-kind]').forEach(function (el) {
      var shown = kinds[el.dataset.kind] && el.dataset.outlets.split(' ').some(function (o) { return outlets[o]; });
      el.hidden = !shown;
    });
    document.querySelectorAll('tr[data-present]').forEach(function (row) {
      row.hidden = !row.dataset.present.split(' ').some(function (o) { return outlets[o]; });
    });
    document.querySelectorAll('[data-col]').forEach(function (cell) { cell.hidden = !outlets[cell.dataset.col]; });
  }
  boxes.forEach(function (box) { box.addEventListener('change', apply); });
  document.getElementById('filters').hidden = false;
})();
"""


def _script_hash(script: str) -> str:
    import base64
    import hashlib

    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def _segments(text: str, other: str | None) -> list[tuple[str, bool]]:
    """`text` cut into (piece, differs) runs: words not in `other` are marked for highlighting."""
    if other is None:
        return [(text, False)]
    pieces, position = [], 0
    for start, end in differing_spans(text, other):
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((text[start:end], True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def _html_findings(report: StoryReport, outlet_numbers: dict[str, str]) -> list[dict[str, Any]]:
    """What the template shows per finding: sides side by side, each claim's differing words marked."""
    findings = []
    for kind, found in by_kind(report.divergences):
        for divergence in found:
            sides = []
            for position, side in enumerate(divergence.sides):
                other = divergence.sides[1 if position == 0 else 0].claims[0].text if len(divergence.sides) > 1 else None
                sides.append({
                    "value": side.value, "outlets": side.outlets,
                    "segments": _segments(side.claims[0].text, other),
                    "claims": [{"outlet": c.outlet, "pointer": claim_pointer(c), "text": c.text} for c in side.claims],
                })
            outlets = sorted({outlet for side in divergence.sides for outlet in side.outlets})
            findings.append({
                "kind": kind, "heading": divergence_heading(divergence), "group_id": divergence.group_id,
                "outlets": " ".join(outlet_numbers[o] for o in outlets if o in outlet_numbers), "sides": sides,
            })
    return findings


def render_html(report: StoryReport) -> str:
    """One self-contained page: inline CSS and one inline filter script allowed by its hash in the CSP.

    Autoescaped by jinja2; article text reaches the page only as escaped text, links only as http(s),
    attributes only as renderer-made numbers and kind names. Without the script every finding shows.
    """
    from importlib.resources import files

    from jinja2 import Environment, select_autoescape

    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    environment.filters["when"] = _when
    environment.filters["safe_url"] = _safe_url
    template = environment.from_string(files("compare").joinpath("templates/report.html.j2").read_text(encoding="utf-8"))
    outlet_numbers = {outlet: f"o{position}" for position, outlet in enumerate(report.outlets)}
    rows = [(row, "shared") for row in report.shared] + [(row, "partial") for row in report.partial] + [(row, "unique") for row in report.unique]
    kinds_present = [kind for kind, _ in by_kind(report.divergences)]
    return template.render(
        report=report, kind_labels=KIND_LABELS, findings=_html_findings(report, outlet_numbers), outlet_numbers=outlet_numbers,
        coverage_rows=rows, kinds_present=kinds_present, script=FILTER_SCRIPT, script_hash=_script_hash(FILTER_SCRIPT),
        short=outlet_abbreviations(report.outlets),
    )


def article_record(article: ArticleRef) -> dict[str, Any]:
    return {"id": article.id, "outlet": article.outlet, "url": article.url, "title": article.title, "published": _plain(article.published)}
