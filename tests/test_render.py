"""compare.report.render: JSON follows the documented schema, Markdown lists every finding, HTML is inert with hostile text."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from rich.console import Console

from compare.diverge import ClaimRef, Divergence, DivergenceSide
from compare.report.findings import rank_findings
from compare.report.render import FILTER_SCRIPT, render_html, render_json, render_markdown, render_terminal
from compare.report.story import ArticleRef, CoverageRow, StoryReport, WireCopy

T0 = datetime(2026, 8, 20, 7, 40, tzinfo=timezone.utc)

ARTICLE_KEYS = {"id", "outlet", "url", "title", "published", "wire_credit"}
CLAIM_KEYS = {"claim_id", "article_id", "outlet", "start", "end", "text"}
COVERAGE_KEYS = {"group_id", "present", "near", "missing", "claims"}


def ref(claim_id: str, outlet: str, text: str) -> ClaimRef:
    article_id = claim_id.split(":")[0]
    return ClaimRef(claim_id, article_id, outlet, 15, 15 + len(text), text)


def make_report(*, title: str = "Blast at militia depot north of Baghdad", outlet_b: str = "Asharq", url_b: str | None = "https://aawsat.example/2") -> StoryReport:
    """A hand-made report; its findings ranked by compare.report.findings as report_for_articles does."""
    return with_findings(_hand_made_report(title=title, outlet_b=outlet_b, url_b=url_b))


def with_findings(report: StoryReport) -> StoryReport:
    findings = rank_findings(
        (*report.shared, *report.partial, *report.unique), report.divergences, report.outlets,
        {a.id: a.title for a in report.articles}, {a.id: a.published for a in report.articles},
    )
    return dataclasses.replace(report, findings=findings)


def _hand_made_report(*, title: str, outlet_b: str, url_b: str | None) -> StoryReport:
    ap = ArticleRef("ap1", "AP", "https://apnews.example/1", title, T0, "AP")
    toi = ArticleRef("toi1", "TOI", "https://toi.example/1", "Reprint: " + title, T0 + timedelta(hours=1), "AP")
    other = ArticleRef("b1", outlet_b, url_b, "Depot strike", T0 + timedelta(hours=5), None)
    undated = ArticleRef("u1", "Blog", None, None, None, None)
    distance_ap = ref("ap1:1", "AP", "The depot lies 80 kilometres north of Baghdad.")
    distance_toi = ref("toi1:1", "TOI", "The depot lies 80 kilometres north of Baghdad.")
    distance_b = ref("b1:2", outlet_b, "The depot lies 100 kilometres north of Baghdad.")
    fact = ref("ap1:3", "AP", "Israel carried out the strike.")
    attributed = ref("b1:4", outlet_b, "Israel carried out the strike, according to Western diplomatic sources.")
    shared = ref("ap1:0", "AP", "A powerful explosion tore through a militia depot.")
    only_b = ref("b1:5", outlet_b, "Residents said they heard two blasts.")
    return StoryReport(
        story_id="s-0123456789",
        title=title,
        first_published=T0,
        last_published=T0 + timedelta(hours=5),
        outlets=tuple(sorted(("AP", "TOI", outlet_b, "Blog"))),
        articles=(ap, toi, other, undated),
        wire_copies=(WireCopy("w-abc", ap, ((toi, 0.64625),)),),
        shared=(CoverageRow("g-shared", (shared,), ("AP", "Blog", "TOI", outlet_b), ()),),
        partial=(CoverageRow("g-dist", (distance_ap, distance_toi, distance_b), ("AP", "TOI", outlet_b), ("Blog",)),),
        unique=(CoverageRow("g-only", (only_b,), (outlet_b,), ("AP", "Blog", "TOI")),),
        divergences=(
            Divergence("number", "g-dist", "distance (km)", (
                DivergenceSide("80 kilometres", (distance_ap, distance_toi)),
                DivergenceSide("100 kilometres", (distance_b,)),
            )),
            Divergence("attribution", "g-attr", "attributed vs stated as fact", (
                DivergenceSide("attributed to Western diplomatic sources", (attributed,)),
                DivergenceSide("stated as fact", (fact,)),
            )),
        ),
    )


# ---------------------------------------------------------------- JSON


def test_render_json_follows_the_documented_schema() -> None:
    report = make_report()
    document = json.loads(render_json(report))
    assert set(document) == {
        "schema", "story_id", "title", "first_published", "last_published", "outlets", "articles", "wire_copies",
        "shared", "partial", "unique", "divergences", "findings", "notes",
    }
    assert document["schema"] == "compare.story-report/2"
    assert document["story_id"] == "s-0123456789"
    assert document["first_published"] == "2026-08-20T07:40:00+00:00"
    assert document["outlets"] == ["AP", "Asharq", "Blog", "TOI"]
    assert [set(a) for a in document["articles"]] == [ARTICLE_KEYS] * 4
    assert document["articles"][3] == {"id": "u1", "outlet": "Blog", "url": None, "title": None, "published": None, "wire_credit": None}

    [wire] = document["wire_copies"]
    assert set(wire) == {"cluster_id", "source", "copies"}
    assert wire["source"]["id"] == "ap1" and set(wire["source"]) == ARTICLE_KEYS
    assert wire["copies"] == [{"article": document["articles"][1], "jaccard": 0.6462}]

    for section, group_id in (("shared", "g-shared"), ("partial", "g-dist"), ("unique", "g-only")):
        [row] = document[section]
        assert set(row) == COVERAGE_KEYS and row["group_id"] == group_id
        assert all(set(claim) == CLAIM_KEYS for claim in row["claims"])
    assert document["partial"][0]["missing"] == ["Blog"]

    number, attribution = document["divergences"]
    assert set(number) == {"kind", "group_id", "subject", "confidence", "sides"}
    assert (number["kind"], number["group_id"], number["subject"]) == ("number", "g-dist", "distance (km)")
    assert [(s["value"], s["outlets"]) for s in number["sides"]] == [("80 kilometres", ["AP", "TOI"]), ("100 kilometres", ["Asharq"])]
    assert all(set(side) == {"value", "outlets", "claims"} for side in number["sides"])
    assert number["sides"][1]["claims"] == [
        {"claim_id": "b1:2", "article_id": "b1", "outlet": "Asharq", "start": 15, "end": 62, "text": "The depot lies 100 kilometres north of Baghdad."}
    ]
    assert attribution["kind"] == "attribution"
    findings = document["findings"]
    assert [f["rank"] for f in findings] == list(range(1, len(findings) + 1))
    assert {f["kind"] for f in findings} == {"number", "attribution", "omission"}
    assert all({"rank", "kind", "headline", "confidence", "importance", "score", "group_id", "timing", "sides", "missing", "fact"} == set(f) for f in findings)
    assert [f["score"] for f in findings] == sorted((f["score"] for f in findings), reverse=True)


def test_render_json_keeps_unicode_and_is_deterministic() -> None:
    report = make_report(title="Explosión en un depósito — “Baghdad”")
    assert render_json(report) == render_json(report)
    assert "Explosión en un depósito — “Baghdad”" in render_json(report)


# ---------------------------------------------------------------- Markdown


def test_render_markdown_contains_each_divergence_and_coverage() -> None:
    report = make_report()
    markdown = render_markdown(report)
    assert markdown.startswith("# Blast at militia depot north of Baghdad\n")
    assert markdown.index("## Top findings") < markdown.index("## Outlets")  # best first
    for finding in report.findings:
        assert f"### {finding.rank}. " in markdown
    for divergence in report.divergences:
        for side in divergence.sides:
            assert f'{", ".join(side.outlets)} (' in markdown and f': {side.value} — "{side.claims[0].text}"' in markdown
    assert "Numbers differ: distance (km)" in markdown
    assert "[Blast at militia depot north of Baghdad](https://apnews.example/1)" in markdown
    assert "| Blog | undated | u1 |  |" in markdown
    assert "TOI (2026-08-20 08:40 UTC), word-shingle Jaccard 0.65" in markdown
    assert "- A powerful explosion tore through a militia depot." in markdown
    assert "not found in: Blog" in markdown and "Left out by Blog" in markdown
    assert "Sentences only one outlet carries (background): Asharq 1." in markdown


def test_render_markdown_without_findings_says_so() -> None:
    report = make_report()
    empty = StoryReport(report.story_id, report.title, None, None, ("AP",), report.articles[:1], (), (), (), (), ())
    markdown = render_markdown(empty)
    assert "No divergences or omissions found between outlets reporting the same facts." in markdown
    assert "No near-duplicate articles in this story." in markdown
    assert "undated – undated" in markdown


def test_render_markdown_does_not_link_javascript_urls() -> None:
    markdown = render_markdown(make_report(url_b="javascript:alert(1)"))
    assert "](javascript:" not in markdown
    assert "| Depot strike |" in markdown


# ---------------------------------------------------------------- HTML


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector


HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_OUTLET = '" onmouseover="x'


def _scripts(page: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)


def test_render_html_is_inert_with_hostile_text() -> None:
    report = make_report(title=HOSTILE_TITLE, outlet_b=HOSTILE_OUTLET, url_b="javascript:alert(1)")
    page = render_html(report)
    assert "<script>alert" not in page
    assert page.lower().count("<script") == 1, "only the renderer's own filter script"
    assert _scripts(page) == [FILTER_SCRIPT]
    assert 'href="javascript:' not in page.lower()
    assert 'onmouseover="x' not in page
    assert 'src="http' not in page and "<link" not in page.lower()

    parsed = parse(page)
    tags = [tag for tag, _ in parsed.tags]
    assert tags.count("script") == 1 and "link" not in tags and "iframe" not in tags
    for tag, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "src" not in attrs
        if "href" in attrs:
            assert attrs["href"].startswith("https://"), attrs
        for name in ("data-outlets", "data-present", "data-col"):
            if name in attrs:
                assert re.fullmatch(r"[o0-9 ]*", attrs[name] or ""), attrs  # renderer-made numbers only
    # The hostile strings survive as visible text, not as markup.
    text = "".join(parsed.text)
    assert HOSTILE_TITLE in text
    assert HOSTILE_OUTLET in text


@pytest.mark.parametrize(
    "hostile",
    ['"><img src=x onerror=alert(1)>', "</title><script>alert(1)</script>", "' autofocus onfocus='alert(1)", "</script><script>alert(1)//"],
)
def test_render_html_hostile_text_everywhere_stays_text(hostile: str) -> None:
    report = make_report(title=hostile, outlet_b=hostile, url_b=f"javascript:{hostile}")
    hostile_claim = ref("b1:9", hostile, f"{hostile} The depot lies 100 kilometres north of Baghdad.")
    report = dataclasses.replace(
        report,
        divergences=(*report.divergences, Divergence("framing", "g-x", hostile, (
            DivergenceSide(hostile, (hostile_claim,)), DivergenceSide("plain", (ref("ap1:9", "AP", "The depot lies north of Baghdad."),)),
        ))),
    )
    page = render_html(report)
    assert _scripts(page) == [FILTER_SCRIPT]
    parsed = parse(page)
    assert [tag for tag, _ in parsed.tags].count("script") == 1
    assert not any(tag == "img" for tag, _ in parsed.tags)
    for _tag, attrs in parsed.tags:
        assert not any(name.startswith("on") or name == "autofocus" for name in attrs)
    assert hostile in "".join(parsed.text)


def test_render_html_csp_allows_only_the_filter_script_by_hash() -> None:
    page = render_html(make_report())
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    digest = base64.b64encode(hashlib.sha256(FILTER_SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "http" not in csp


def test_render_html_highlights_differing_words_side_by_side() -> None:
    page = render_html(make_report())
    assert "<mark>80</mark>" in page and "<mark>100</mark>" in page
    report = make_report()
    # every finding twice (top findings and all findings), two sides each
    assert page.count('class="side"') == 2 * 2 * len(report.findings)
    assert 'data-kind="number"' in page and 'data-kind="attribution"' in page
    assert "article b1 chars 15-62" in page  # every claim points at its source span


def test_render_html_has_filters_and_heatmap() -> None:
    page = render_html(make_report())
    assert page.count('data-filter="outlet"') == 4 and page.count('data-filter="kind"') == 3  # number, attribution, omission
    # only facts several outlets carry are rows; one outlet's background is collapsed apart
    assert 'class="heat"' in page and page.count('class="cell yes"') + page.count('class="cell no"') == 2 * 4
    assert "not found in Blog" in page and "1 sentences only one outlet carries (background): Asharq 1" in page


def test_render_html_shows_findings_and_links_only_http() -> None:
    page = render_html(make_report(url_b="javascript:alert(1)"))
    parsed = parse(page)
    hrefs = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    assert hrefs == ["https://apnews.example/1", "https://toi.example/1"]
    text = "".join(parsed.text)
    assert "Numbers differ" in text and "100 kilometres" in text and "Attributed vs stated as fact" in text
    assert "The depot lies 100 kilometres north of Baghdad." in text
    assert "Content-Security-Policy" in page


# ---------------------------------------------------------------- terminal


def terminal_text(report: StoryReport) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None, record=True)
    render_terminal(report, console)
    return console.export_text()


def test_render_terminal_lists_outlets_and_divergences() -> None:
    text = terminal_text(make_report())
    assert "Blast at militia depot north of Baghdad" in text
    assert "Numbers differ: distance (km)" in text
    assert 'Asharq (2026-08-20 12:40 UTC): 100 kilometres — "The depot lies 100 kilometres north of Baghdad."' in text
    assert text.index("Top findings") < text.index("Outlets")
    assert "Left out by Blog" in text and "not reported by Blog" in text
    assert "Sentences only one outlet carries (background): Asharq 1" in text


@pytest.mark.parametrize(
    ("title", "outlet"), [("He said [sic] the depot was empty", "AP"), ("Blast [/] depot", "AP"), ("Blast", "[/x] Wire")], ids=["sic", "close", "outlet"]
)
def test_render_terminal_shows_bracketed_text_verbatim(title: str, outlet: str) -> None:
    report = make_report(title=title, outlet_b=outlet)
    text = terminal_text(report)
    assert title in text
    assert outlet in text


def test_near_outlets_are_shown_apart_from_those_that_left_a_claim_out() -> None:
    report = make_report()
    row = dataclasses.replace(report.partial[0], missing=(), near=("Blog",))
    report = dataclasses.replace(report, partial=(row,))
    assert "similar wording in: Blog" in render_markdown(report) and "not found in: Blog" not in render_markdown(report)
    assert json.loads(render_json(report))["partial"][0]["near"] == ["Blog"]
    page = render_html(report)
    assert 'class="cell near"' in page and "similar wording in Blog" in page
    assert "Blog left out" not in terminal_text(report)


# ---------------------------------------------------------------- hostile text (issue 17)

ESC = "\x1b"
HOSTILE_STRINGS = [
    f"{ESC}]0;owned{ESC}\\",  # OSC: sets the window title
    f"{ESC}[2J{ESC}[H",  # clears the screen
    "\x9b31m",  # C1 CSI
    "rev\u202eersed\u2066x\u2069",  # bidi overrides and isolates
    "back\rspace\x08\x07\x00",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "[click](javascript:alert(3))",
    "<https://evil.example>",
    "&lt;script&gt; &#x3C;b&#x3E;",
    "line one\n# injected heading\n\n<script>alert(4)</script>",
    "1. looks like a list",
    "- also a list",
    "> a quote",
    "| a | table | row |",
    "`code` *em* __strong__ ~~gone~~",
    "trailing backslash \\",
]
_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def hostile_report() -> StoryReport:
    """Every untrusted field of a report (title, outlet names, URLs, claims, values) set to hostile text."""
    evil = " / ".join(HOSTILE_STRINGS)
    report = make_report(
        title="Title " + evil,
        outlet_b="Out|let " + HOSTILE_STRINGS[0] + HOSTILE_STRINGS[6],
        url_b="https://x.example/a) [y](javascript:alert(5)) <script>",
    )
    def poison(claim: ClaimRef) -> ClaimRef:
        return dataclasses.replace(claim, text=claim.text + " " + evil)

    partial = tuple(dataclasses.replace(row, claims=tuple(poison(c) for c in row.claims)) for row in report.partial)
    divergences = tuple(
        dataclasses.replace(
            d, subject=d.subject + " " + HOSTILE_STRINGS[5],
            sides=tuple(dataclasses.replace(s, value=s.value + HOSTILE_STRINGS[10], claims=tuple(poison(c) for c in s.claims)) for s in d.sides),
        )
        for d in report.divergences
    )
    articles = report.articles + (ArticleRef("js1", "JS outlet", "javascript:alert(6)", "js " + evil, T0, HOSTILE_STRINGS[1]),)
    return with_findings(dataclasses.replace(report, partial=partial, divergences=divergences, articles=articles))


def test_markdown_of_hostile_text_renders_to_no_html_links_or_structure() -> None:
    from markdown_it import MarkdownIt

    markdown = render_markdown(hostile_report())
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = parser.parse(markdown)
    flat = [t for token in tokens for t in [token, *(token.children or [])]]
    assert not [t for t in flat if t.type in ("html_inline", "html_block")]
    hrefs = [t.attrGet("href") for t in flat if t.type == "link_open"]
    assert hrefs and all(str(href).startswith(("https://", "http://")) for href in hrefs)
    assert not [t.type for t in flat if t.type in ("image", "code_block", "fence", "blockquote_open", "ordered_list_open", "s_open", "em_open", "hr")]
    report = hostile_report()
    assert [t.content for t in flat if t.type == "code_inline"] == ["s-0123456789"]  # the renderer's own story id
    # structure is exactly what the renderer wrote: its headings, one table of 5 articles, 4 columns
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    sections = ["Top findings", "Outlets", "Wire copy", "Facts reported by several outlets"] + (["More findings"] if len(report.findings) > 5 else [])
    assert headings[0].startswith("Title ") and len(headings) == 1 + len(sections) + len(report.findings)
    assert set(sections) <= set(headings)
    assert sum(t.type == "table_open" for t in tokens) == 1
    rows = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
    assert len(rows) == 1 + 5
    for i in rows:
        cells = 0
        for t in tokens[i + 1 :]:
            if t.type == "tr_close":
                break
            cells += t.type in ("td_open", "th_open")
        assert cells == 4
    html = parser.render(markdown)
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))
    assert tags <= {"h1", "h2", "h3", "p", "code", "table", "thead", "tbody", "tr", "th", "td", "a", "ul", "li", "strong", "br"}
    assert all(href.startswith(("https://", "http://")) for href in re.findall(r'href="([^"]*)"', html))
    assert "javascript:alert(6)" not in re.findall(r'href="([^"]*)"', html)
    assert not _RAW_CONTROL.search(markdown)


def test_markdown_escaping_keeps_the_text_readable() -> None:
    from markdown_it import MarkdownIt

    markdown = render_markdown(hostile_report())
    text = MarkdownIt("commonmark").enable(["table"]).render(markdown)
    # what a reader sees is the hostile text itself, as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "[click](javascript:alert(3))" in text
    assert "| a | table | row |" in text
    assert "\\x1b]0;owned" in text


def test_markdown_url_cannot_break_out_of_the_link() -> None:
    from compare.report.render import md_url

    assert md_url("https://x.example/a) [y](javascript:alert(5))") == "https://x.example/a%29%20%5By%5D%28javascript:alert%285%29%29"
    assert md_url("javascript:alert(1)") is None and md_url("data:text/html,x") is None and md_url(None) is None
    assert md_url("https://apnews.example/1?a=b&c=d#x") == "https://apnews.example/1?a=b&c=d#x"


def test_terminal_report_shows_control_characters_as_escapes() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None, force_terminal=False)
    render_terminal(hostile_report(), console)
    output = console.file.getvalue()
    assert not _RAW_CONTROL.search(output)
    assert "\\x1b]0;owned" in output and "\\u202e" in output and "\\x9b31m" in output


def test_json_report_escapes_c1_and_bidi_controls() -> None:
    rendered = render_json(hostile_report())
    assert not _RAW_CONTROL.search(rendered)
    document = json.loads(rendered)
    assert "\u202e" in document["title"] and ESC in document["title"]  # the same text, only escaped


def test_visible_keeps_ordinary_text_and_escapes_controls() -> None:
    from compare.report.render import visible

    assert visible("Explosión — “Baghdad”\tand\nmore") == "Explosión — “Baghdad”\tand\nmore"
    assert visible(f"{ESC}[2J\r\x85\u202e") == "\\x1b[2J\\x0d\\x85\\u202e"


def test_differently_worded_sides_mark_only_the_disputed_detail() -> None:
    from compare.report.render import _segments

    politico = "The withdrawal of the whole team seemed to embolden the president."
    vox = "This became evident on Tuesday when the entire team prosecuting the case withdrew."
    marked = [piece for piece, on in _segments(politico, vox, "hedged: seemed") if on]
    assert marked == ["seemed"]  # not the whole differently worded sentence
    near_copy = [piece for piece, on in _segments("The depot lies 80 kilometres north.", "The depot lies 100 kilometres north.", "80 kilometres") if on]
    assert near_copy == ["80"]  # sentences that mostly agree keep the word diff
