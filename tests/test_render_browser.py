"""The HTML report in a real browser (headless Chromium): the page renders, the filter script runs
under the CSP, hostile text injects nothing, and a screenshot is taken.

Skips when Chromium is not installed (Debian: `apt-get install -y chromium`; .ci/run installs it).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from compare.diverge import Divergence, DivergenceSide
from compare.report.render import render_html
from tests.test_render import make_report, ref

CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="optional: no Chromium on PATH (chromium, chromium-browser or google-chrome); get it with `apt-get install chromium` (Debian/Ubuntu)",
)

HOSTILE = '"><img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


def _chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,1800", *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = make_report(title=HOSTILE, url_b="javascript:document.title='pwned'")
    claim = ref("b1:9", "Asharq", f"{HOSTILE} The militia fired rockets.")
    report = dataclasses.replace(report, divergences=(*report.divergences, Divergence("framing", "g-f", "armed group", (
        DivergenceSide("militia", (ref("ap1:9", "AP", "The militia fired rockets."),)), DivergenceSide(HOSTILE, (claim,)),
    ))))
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def test_dom_after_scripts_ran_has_no_injected_elements(page: Path, tmp_path: Path) -> None:
    result = _chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = result.stdout
    assert "<body" in dom, result.stderr[-2000:]
    assert "<title>pwned</title>" not in dom  # no injected script or handler ran
    assert "compare</title>" in dom
    assert "<img" not in dom
    # The filter script ran (allowed by its CSP hash): it un-hides the filter bar.
    assert '<div id="filters">' in dom or 'id="filters" hidden' not in dom


def test_screenshot(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a rendered page, not a blank one
