"""Hostile input through the CLI (issue 17): escapes in every listing and report, safe `-o`, one-line errors.

The corpus is the demo story plus copies of its articles whose titles, outlet names, URLs and text
carry terminal escapes, bidi overrides and Markdown/HTML injection, generated here.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compare.cli import app
from compare.demo import demo_corpus_text

runner = CliRunner()
ENV = {"COMPARE_MODEL": "hashing", "COMPARE_HOME": ""}
ESC = "\x1b"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
EVIL_OUTLET = f"Evil|News {ESC}]0;owned{ESC}\\ \u202eesrever"
EVIL_TITLE = f"{ESC}[2J<script>alert(1)</script> [x](javascript:alert(2)) \x9b31m"
EVIL_URL = "https://evil.example/a) [y](javascript:alert(3)) <img src=x onerror=alert(4)>"
EVIL_PARAGRAPH = f"Officials said the <img src=x onerror=alert(5)> depot {ESC}[31mburned{ESC}[0m for hours | overnight."


def hostile_corpus() -> str:
    """The demo corpus plus, for each demo article, a copy from an outlet with hostile names and text."""
    lines = [line for line in demo_corpus_text().splitlines() if line.strip()]
    copies = []
    for number, line in enumerate(lines[:3]):
        record = json.loads(line)
        record["outlet"] = f"{EVIL_OUTLET} {number}"
        record["title"] = f"{EVIL_TITLE} {record['title']}"
        record["url"] = f"{EVIL_URL}/{number}"
        record["text"] = record["text"] + "\n\n" + EVIL_PARAGRAPH + "\n# injected heading\n\n- injected item"
        copies.append(json.dumps(record))
    return "\n".join(lines + copies) + "\n"


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=ENV)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hostile-home")
    corpus = home.parent / f"corpus {ESC}]0;name{ESC}\\.jsonl"  # a hostile file name too
    corpus.write_text(hostile_corpus() + '{"outlet": "x", "text": "broken\n', encoding="utf-8")
    code, output = invoke("ingest", str(corpus), "--home", str(home))
    assert code == 0, output
    assert "rejected 1" in output and not RAW_CONTROL.search(output.replace("\n", ""))
    code, output = invoke("index", "build", "--home", str(home))
    assert code == 0, output
    return home


@pytest.mark.parametrize(
    "command",
    [
        ["stories"], ["stories", "--format", "csv"], ["stories", "--format", "json"],
        ["dedup"], ["dedup", "--format", "csv"], ["dedup", "--format", "json"],
    ],
    ids=lambda command: "-".join(command),
)
def test_listings_show_no_raw_control_characters(home: Path, command: list[str]) -> None:
    code, output = invoke(*command, "--home", str(home))
    assert code == 0, output
    assert not RAW_CONTROL.search(output), RAW_CONTROL.search(output)
    assert "Evil|News" in output or "Evil" in output
    if "--format" not in command:
        assert "\\x1b" in output  # shown, not sent


def _hostile_article_id(home: Path) -> str:
    _, output = invoke("stories", "--home", str(home), "--format", "json")
    for story in json.loads(output):
        for article in story["articles"]:
            if article["outlet"].startswith("Evil|News"):
                return article["id"]
    raise AssertionError("no hostile article in the stories listing")


def test_terminal_and_json_reports_show_no_raw_control_characters(home: Path) -> None:
    article_id = _hostile_article_id(home)
    for report_format in ("terminal", "json"):
        code, output = invoke("report", article_id, "--home", str(home), "--format", report_format)
        assert code == 0, output
        assert not RAW_CONTROL.search(output)


def test_markdown_report_of_hostile_corpus_renders_inert(home: Path, tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    target = tmp_path / "report.md"
    code, output = invoke("report", _hostile_article_id(home), "--home", str(home), "--format", "markdown", "-o", str(target))
    assert code == 0, output
    markdown = target.read_text(encoding="utf-8")
    assert "Evil" in markdown and not RAW_CONTROL.search(markdown)
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    assert not re.search(r"<(script|img|iframe|svg)\b", html)
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(href.startswith(("https://", "http://")) for href in hrefs)
    assert "injected heading" not in " ".join(re.findall(r"<h\d>(.*?)</h\d>", html))


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory", "device"])
def test_output_refuses_anything_but_a_regular_file(home: Path, tmp_path: Path, kind: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "out"
    if kind == "symlink":
        target.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    else:
        target = Path("/dev/null")
    before = os.lstat(target)
    code, output = invoke("report", _hostile_article_id(home), "--home", str(home), "--format", "markdown", "-o", str(target))
    assert code == 2 and "refusing to write" in output and len(output.strip().splitlines()) == 1
    after = os.lstat(target)
    assert (before.st_ino, stat.S_IFMT(before.st_mode)) == (after.st_ino, stat.S_IFMT(after.st_mode))
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_output_file_gets_the_users_umask(home: Path, tmp_path: Path, umask: int) -> None:
    target = tmp_path / "report.md"
    previous = os.umask(umask)
    try:
        code, output = invoke("report", _hostile_article_id(home), "--home", str(home), "--format", "markdown", "-o", str(target))
    finally:
        os.umask(previous)
    assert code == 0, output
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    target.chmod(0o640)  # an existing file keeps its mode when the report is written again
    code, _ = invoke("report", _hostile_article_id(home), "--home", str(home), "--format", "json", "-o", str(target))
    assert code == 0 and stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize("code_name", ["ENOSPC", "EFBIG", "EIO"])  # EFBIG, EIO: how the embedding cache reports a failed write
def test_disk_full_during_ingest_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code_name: str) -> None:
    import errno

    from compare.core.store import Store

    number = getattr(errno, code_name)

    def full(self: Store, *args: object, **kwargs: object) -> None:
        raise OSError(number, os.strerror(number), str(self.home / "articles.parquet"))

    monkeypatch.setattr(Store, "add_articles", full)
    corpus = tmp_path / "demo.jsonl"
    corpus.write_text(demo_corpus_text(), encoding="utf-8")
    code, output = invoke("ingest", str(corpus), "--home", str(tmp_path / "home"))
    assert code == 3
    assert output.strip().splitlines() == [f"error: {tmp_path / 'home' / 'articles.parquet'}: {os.strerror(number)}"]


@pytest.mark.parametrize("damaged", ["model.onnx", "onnx.json", "tokenizer.json"])
def test_damaged_onnx_export_is_exported_again(tmp_path: Path, damaged: str) -> None:
    pytest.importorskip("onnxruntime")
    import warnings

    import numpy as np

    from compare.core.config import EmbedConfig
    from compare.embed.embedder import make_embedder

    config = EmbedConfig(backend="onnx")
    first = make_embedder(config, cache_dir=tmp_path)
    expected = first.encode(["The depot burned for hours."])
    [file] = list(tmp_path.rglob(damaged))
    file.write_bytes(file.read_bytes()[: max(1, file.stat().st_size // 3)])  # a killed copy, a full disk
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vectors = make_embedder(config, cache_dir=tmp_path).encode(["The depot burned for hours."])
    assert np.allclose(vectors, expected, atol=1e-6)
    assert any("damaged" in str(warning.message) for warning in caught)
    assert make_embedder(config, cache_dir=tmp_path).encode(["The depot burned for hours."]).shape == expected.shape
