"""Renderers of the story report and of listings: terminal (rich), Markdown, HTML and JSON.

All read the same data model (compare.report.story), so every format shows the same findings, best first.
JSON schema of a story report (version 2; docs/report-schema.md):
    {"schema": "compare.story-report/2", "story_id", "title", "first_published", "last_published",
     "outlets": [str], "articles": [ArticleRef], "wire_copies": [{"cluster_id", "source": ArticleRef,
     "copies": [{"article": ArticleRef, "jaccard"}]}], "shared"|"partial"|"unique": [{"group_id",
     "present": [outlet], "near": [outlet], "missing": [outlet], "claims": [ClaimRef]}],
     "divergences": [{"kind", "group_id", "subject", "confidence", "sides": [{"value", "outlets", "claims": [ClaimRef]}]}],
     "findings": [{"rank", "kind", "headline", "confidence", "importance", "score", "group_id", "timing",
                   "sides" (a divergence's, else null), "missing": [outlet], "fact": [ClaimRef]}],
     "notes": [str]}
    ArticleRef = {"id", "outlet", "url", "title", "published", "wire_credit"}
    ClaimRef = {"claim_id", "article_id", "outlet", "start", "end", "text"}  (offsets into the article text)
    kind: compare.diverge.KINDS ("contradiction", "number", "actor", "attribution", "certainty",
    "framing") or, for a finding, "omission". Each coverage row and each side lists every claim that
    carries it, so every finding points at its exact source sentences.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from compare.diverge import KINDS, ClaimRef, Divergence, differing_spans
from compare.report.findings import Finding
from compare.report.story import ArticleRef, CoverageRow, StoryReport
from compare.core.untrusted import json_safe, visible

KIND_LABELS = {
    "contradiction": "Contradiction",
    "number": "Numbers differ",
    "actor": "Actors differ",
    "attribution": "Attributed vs stated as fact",
    "certainty": "Hedged vs asserted",
    "framing": "Different terms for the same thing",
    "omission": "Left out",
    # kinds of reports written before certainty replaced them
    "hedge": "Hedged vs asserted",
    "intensifier": "Stressed vs plain",
}
# Kinds whose subject adds to the label ("Numbers differ: distance (km)"); the others' label says it all,
# except attribution to different sources and certainty's "forecast vs outcome", shown by their subject.
_SUBJECT_SHOWN = ("contradiction", "number", "actor", "framing")
# The report's first screen: this many findings, best first, with their evidence.
TOP_FINDINGS = 5
# Differing words are highlighted only when the detector is at least this sure the two sentences
# report the same fact differently; below it the marks would cover whole unrelated sentences.
HIGHLIGHT_MIN_CONFIDENCE = 0.5


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
    if (divergence.kind == "attribution" and divergence.subject != "attributed vs stated as fact") or (
        divergence.kind == "certainty" and divergence.subject != "hedged vs asserted"
    ):
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
        "schema": "compare.story-report/2",
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
        "divergences": [_divergence_record(d) for d in report.divergences],
        "findings": [
            {
                "rank": f.rank, "kind": f.kind, "headline": f.headline, "confidence": f.confidence, "importance": f.importance,
                "score": f.score, "group_id": f.group_id, "timing": f.timing,
                "sides": _divergence_record(f.divergence)["sides"] if f.divergence else None,
                "missing": list(f.missing), "fact": _plain(f.fact),
            }
            for f in report.findings
        ],
        "notes": list(report.notes),
    }


def _divergence_record(divergence: Divergence) -> dict[str, Any]:
    return {
        "kind": divergence.kind,
        "group_id": divergence.group_id,
        "subject": divergence.subject,
        "confidence": divergence.confidence,
        "sides": [{"value": s.value, "outlets": list(s.outlets), "claims": _plain(s.claims)} for s in divergence.sides],
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


def _wire_line(copy: Any, index: int, article: ArticleRef, score: float, escape: Callable[[str], str] = str) -> str:
    """One copy of a wire cluster; `escape` is applied to the article-derived parts (md_text for Markdown)."""
    outlet = escape(article.outlet)
    if not copy.details:
        return f"{outlet} ({_when(article.published)}), word-shingle Jaccard {score:.2f}"
    detail = copy.details[index]
    return (
        f"{outlet} ({_when(article.published)}): {detail.wire_share:.0%} of its text is wire copy; "
        f"Jaccard {score:.2f}, containment {detail.copy_in_source:.2f} in source / {detail.source_in_copy:.2f} of source; "
        f"sentences {escape(detail.diff.summary())}"
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


def finding_heading(finding: Finding) -> str:
    """'Numbers differ: killed' for a divergence, 'Left out by Fox News, HuffPost' for an omission."""
    if finding.divergence is not None:
        return divergence_heading(finding.divergence)
    return f"Left out by {', '.join(finding.missing)}"


def multi_outlet_facts(report: StoryReport) -> list[CoverageRow]:
    """Coverage rows two or more outlets carry (aligned facts), in story order; what the coverage
    section lists. Rows one outlet alone carries are that outlet's background, shown as counts."""
    return [row for row in (*report.shared, *report.partial) if len(row.present) + len(row.near) >= 2]


def background_counts(report: StoryReport) -> dict[str, int]:
    """Per outlet: how many of its sentences no other outlet carries."""
    counts: dict[str, int] = {}
    for row in (*report.unique, *(r for r in report.partial if len(r.present) + len(r.near) < 2)):
        for outlet in row.present:
            counts[outlet] = counts.get(outlet, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _published_of(report: StoryReport) -> dict[str, datetime | None]:
    return {article.id: article.published for article in report.articles}


def _side_when(claims: Sequence[ClaimRef], published: dict[str, datetime | None]) -> str:
    times = [published.get(claim.article_id) for claim in claims]
    dated = [time for time in times if time is not None]
    return _when(min(dated)) if dated else "undated"


def _finding_lines(finding: Finding, published: dict[str, datetime | None]) -> list[str]:
    """The evidence of one finding, one line each, plain text (renderers escape it)."""
    lines = []
    if finding.divergence is not None:
        for side in finding.divergence.sides:
            lines.append(f'{", ".join(side.outlets)} ({_side_when(side.claims, published)}): {side.value} — "{side.claims[0].text}"')
    else:
        carriers = sorted({claim.outlet for claim in finding.fact})
        lines.append(f'{", ".join(carriers)} ({_side_when(finding.fact, published)}): "{finding.fact[0].text}"')
        lines.append(f"not reported by {', '.join(finding.missing)} (no sentence with the same fact found)")
    if finding.timing:
        lines.append(f"note: {finding.timing}")
    return lines


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


def render_markdown(report: StoryReport) -> str:
    """The report as CommonMark (+ GFM table), best findings first. Every text from the articles goes
    through md_text and every link through md_url: rendered, the page has no HTML, link or structure
    the input made."""
    out = io.StringIO()
    write = lambda line="": out.write(line + "\n")  # noqa: E731
    outlets = lambda names: md_text(", ".join(names))  # noqa: E731
    published = _published_of(report)
    write(f"# {md_text(report.title)}")
    write()
    write(f"Story `{report.story_id.replace('`', '')}` · {len(report.outlets)} outlets · {_when(report.first_published)} – {_when(report.last_published)}")
    for note in report.notes:
        write()
        write(f"Note: {md_text(note)}")
    write()
    write("## Top findings")
    write()
    if not report.findings:
        write("No divergences or omissions found between outlets reporting the same facts.")
        write()
    for finding in report.findings[:TOP_FINDINGS]:
        _md_finding(write, finding, published)
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
            write(f"  - {_wire_line(copy, position, article, score, md_text)}")
    write()
    rest = report.findings[TOP_FINDINGS:]
    if rest:
        write("## More findings")
        write()
        for finding in rest:
            _md_finding(write, finding, published)
    write("## Facts reported by several outlets")
    write()
    facts = multi_outlet_facts(report)
    for row in facts:
        parts = [f"carried by: {outlets(row.present)}"]
        if row.near:
            parts.append(f"similar wording in: {outlets(row.near)}")
        if row.missing:
            parts.append(f"not found in: {outlets(row.missing)}")
        write(f"- {md_text(row.text)}  \n  {'; '.join(parts)}")
    if not facts:
        write("None.")
    background = background_counts(report)
    if background:
        write()
        write("Sentences only one outlet carries (background): " + md_text("; ".join(f"{outlet} {count}" for outlet, count in background.items())) + ".")
    return out.getvalue()


def _md_finding(write: Callable[..., None], finding: Finding, published: dict[str, datetime | None]) -> None:
    write(f"### {finding.rank}. {md_text(finding_heading(finding))}")
    write()
    write(f"confidence {finding.confidence:.2f} · importance {finding.importance:.2f}")
    write()
    for line in _finding_lines(finding, published):
        write(f"- {md_text(line)}")
    write()


def render_terminal(report: StoryReport, console: Console) -> None:
    """Best findings first, then outlets, wire copy, the remaining findings and the facts several
    outlets carry (one outlet's background only counted), so a 10-outlet story stays readable."""
    # Article text, titles and outlet names are untrusted: printed as Text or with markup off, so
    # "[sic]" or "[/]" print as written, and control characters shown as escapes (visible).
    report = _visible_value(report)
    published = _published_of(report)
    console.rule(f"[bold]{escape(report.title)}")
    console.print(f"Story [cyan]{escape(report.story_id)}[/] · {len(report.outlets)} outlets · {_when(report.first_published)} – {_when(report.last_published)}")
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False, style="dim")

    console.print("[bold]Top findings[/]")
    if not report.findings:
        console.print("  no divergences or omissions found between outlets reporting the same facts")
    for finding in report.findings[:TOP_FINDINGS]:
        _print_finding(console, finding, published)

    articles = Table(title="Outlets", show_lines=False)
    for column in ("Outlet", "Published", "Title", "Wire"):
        articles.add_column(column)
    for article in report.articles:
        articles.add_row(Text(article.outlet), _when(article.published), Text(article.title or article.id), Text(article.wire_credit or ""))
    console.print(articles)

    console.print("[bold]Wire copy[/]")
    if not report.wire_copies:
        console.print("  none")
    for copy in report.wire_copies:
        credit = f", credited to {escape(copy.wire_credit)}" if copy.wire_credit else ""
        console.print(f"  [bold]{escape(copy.source.outlet)}[/] published first ({_when(copy.source.published)}{credit}), copied by:")
        for position, (article, score) in enumerate(copy.copies):
            console.print(f"    {_wire_line(copy, position, article, score)}", markup=False)

    if report.findings[TOP_FINDINGS:]:
        console.print("[bold]More findings[/]")
        for finding in report.findings[TOP_FINDINGS:]:
            _print_finding(console, finding, published)

    short = outlet_abbreviations(report.outlets)
    legend = ", ".join(f"{abbreviation} = {outlet}" for outlet, abbreviation in short.items())
    facts = multi_outlet_facts(report)
    matrix = Table(title="Facts reported by several outlets (● reports it, ◐ similar wording, · not found)", caption=Text(legend), show_lines=False)
    matrix.add_column("Fact (first outlet's wording)", overflow="fold")
    for outlet in report.outlets:
        matrix.add_column(Text(short[outlet]), justify="center", no_wrap=True)
    for row in facts:
        matrix.add_row(Text(row.text), *("●" if outlet in row.present else "◐" if outlet in row.near else "·" for outlet in report.outlets))
    if facts:
        console.print(matrix)
    else:
        console.print("[bold]Facts reported by several outlets[/]: none")
    background = background_counts(report)
    if background:
        counts = "; ".join(f"{outlet} {count}" for outlet, count in background.items())
        console.print(f"Sentences only one outlet carries (background): {counts}", markup=False, highlight=False)


def _print_finding(console: Console, finding: Finding, published: dict[str, datetime | None]) -> None:
    console.print(
        f"  {finding.rank}. [bold yellow]{escape(finding_heading(finding))}[/] "
        f"[dim](confidence {finding.confidence:.2f}, importance {finding.importance:.2f})[/]"
    )
    for line in _finding_lines(finding, published):
        console.print(f"     {line}", markup=False, highlight=False)


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


# Words of a side's value that name its kind rather than the disputed detail ("hedged: seemed").
_VALUE_LABEL_WORDS = frozenset("hedged asserted attributed to stated as fact forecast outcome before after the event it".split())
# A word diff is shown when the two sentences mostly agree (a wire copy with edits); past this share of
# differing characters they are different wordings, and only the disputed detail is marked.
DIFF_MAX_SHARE = 0.4


def _segments(text: str, other: str | None, value: str = "") -> list[tuple[str, bool]]:
    """`text` cut into (piece, marked) runs: the words not in `other` when the two sentences mostly
    agree, else the words of the side's `value` (the disputed detail: "80 kilometres", "seemed")."""
    if other is None:
        return [(text, False)]
    spans = differing_spans(text, other)
    if sum(end - start for start, end in spans) > DIFF_MAX_SHARE * max(1, len(text)):
        wanted = {word.casefold() for word in re.findall(r"\w+", value) if word.casefold() not in _VALUE_LABEL_WORDS}
        spans = [(m.start(), m.end()) for m in re.finditer(r"\w+", text) if m.group().casefold() in wanted]
    pieces, position = [], 0
    for start, end in spans:
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((text[start:end], True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def _html_findings(report: StoryReport, outlet_numbers: dict[str, str]) -> list[dict[str, Any]]:
    """What the template shows per finding, best first: sides side by side (differing words marked
    only when the detector is sure they report the same fact), or the fact and who left it out."""
    published = _published_of(report)
    findings = []
    for finding in report.findings:
        sides = []
        if finding.divergence is not None:
            divergence = finding.divergence
            highlight = divergence.confidence >= HIGHLIGHT_MIN_CONFIDENCE
            for position, side in enumerate(divergence.sides):
                other = divergence.sides[1 if position == 0 else 0].claims[0].text if len(divergence.sides) > 1 and highlight else None
                sides.append({
                    "value": side.value, "outlets": side.outlets, "when": _side_when(side.claims, published),
                    "segments": _segments(side.claims[0].text, other, side.value),
                    "claims": [{"outlet": c.outlet, "pointer": claim_pointer(c), "text": c.text} for c in side.claims],
                })
            outlets = sorted({outlet for side in divergence.sides for outlet in side.outlets})
        else:
            carriers = tuple(sorted({claim.outlet for claim in finding.fact}))
            sides.append({
                "value": "reports it", "outlets": carriers, "when": _side_when(finding.fact, published),
                "segments": [(finding.fact[0].text, False)],
                "claims": [{"outlet": c.outlet, "pointer": claim_pointer(c), "text": c.text} for c in finding.fact],
            })
            sides.append({"value": "not found", "outlets": finding.missing, "when": "", "segments": [], "claims": []})
            outlets = sorted({*carriers, *finding.missing})
        findings.append({
            "rank": finding.rank, "kind": finding.kind, "heading": finding_heading(finding), "group_id": finding.group_id,
            "confidence": finding.confidence, "importance": finding.importance, "timing": finding.timing,
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
    template = environment.from_string(files("compare.report").joinpath("templates/report.html.j2").read_text(encoding="utf-8"))
    outlet_numbers = {outlet: f"o{position}" for position, outlet in enumerate(report.outlets)}
    facts = multi_outlet_facts(report)
    rows = [(row, "shared" if not row.missing and not row.near else "partial") for row in facts]
    background = [row for row in (*report.shared, *report.partial, *report.unique) if row not in facts]
    findings = _html_findings(report, outlet_numbers)
    kinds_present = list(dict.fromkeys(finding["kind"] for finding in findings))
    return template.render(
        report=report, kind_labels=KIND_LABELS, findings=findings, top=findings[:TOP_FINDINGS], outlet_numbers=outlet_numbers,
        coverage_rows=rows, background=background, background_counts=background_counts(report), kinds_present=kinds_present,
        script=FILTER_SCRIPT, script_hash=_script_hash(FILTER_SCRIPT), short=outlet_abbreviations(report.outlets),
    )


def article_record(article: ArticleRef) -> dict[str, Any]:
    return {"id": article.id, "outlet": article.outlet, "url": article.url, "title": article.title, "published": _plain(article.published)}
