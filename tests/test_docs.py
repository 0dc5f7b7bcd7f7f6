"""The docs stay true: generated pages are fresh, links resolve, the README's test command is CI's,
and every help example sits on its own line."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("generate_docs", REPO / "scripts" / "generate_docs.py")
assert _spec is not None and _spec.loader is not None
generate_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate_docs)


def test_generated_pages_are_fresh() -> None:
    stale = generate_docs.stale_pages()
    assert not stale, f"docs/{', docs/'.join(stale)} stale: run `{generate_docs.COMMAND}` and commit the result"


def test_check_mode_names_the_command_for_a_stale_page(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setattr(generate_docs, "DOCS", tmp_path)
    assert generate_docs.main(["--check"]) == 1
    assert f"docs/cli.md is stale: run `{generate_docs.COMMAND}`" in capsys.readouterr().err
    assert generate_docs.main([]) == 0 and generate_docs.main(["--check"]) == 0


def test_configuration_page_lists_every_setting_with_its_default() -> None:
    import dataclasses

    from compare.core import config

    page = generate_docs.configuration_reference()
    for section, cls in config._SECTIONS.items():
        assert f"## [{section}]" in page
        for item in dataclasses.fields(cls):
            assert f"| `{item.name}` | `" in page, (section, item.name)
    assert '| `window_days` | `14.0` | Candidates only between articles published' in page


def test_cli_page_has_every_command() -> None:
    page = generate_docs.cli_reference()
    for command in ("ingest", "dedup", "stories", "report", "demo", "history", "finetune", "index build", "index status",
                    "index verify", "index diff", "index prune"):
        assert f"## compare {command}\n" in page


def test_every_help_example_is_on_its_own_line() -> None:
    for name, text in generate_docs._help_pages():
        lines = text.splitlines()
        assert all(line.count("Example:") <= 1 for line in lines), name
        assert all(line.strip().startswith("Example:") for line in lines if "Example:" in line), name


def _readme_test_command() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    return next(block for block in blocks if "pytest" in block and "[dev]" in block).strip()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1].strip() == _readme_test_command()
    pytest_arguments = shlex.split(_readme_test_command().rsplit("-m pytest", 1)[1])
    assert "-m" not in pytest_arguments  # the README's command runs everything, slow tests too


def test_readme_is_a_front_page() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme) < 12_000, "keep the README a few screens; details belong in docs/"
    assert 'pytest -q -m "not slow"' in readme


def test_links_between_pages_resolve() -> None:
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://")):
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(REPO)} links to missing {target}"
