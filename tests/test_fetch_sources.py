"""[[sources]] and [fetch] in compare.toml (compare.fetch.sources)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from compare.core.config import ConfigError, load_settings
from compare.fetch.sources import FetchConfig, load_fetch_settings, select_sources

EXAMPLE = Path(__file__).resolve().parents[1] / "compare" / "fetch" / "sources.example.toml"


def write(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "compare.toml").write_text(text, encoding="utf-8")
    return home


def test_sources_and_fetch_sections_are_read_and_the_rest_of_the_settings_still_load(tmp_path: Path) -> None:
    home = write(tmp_path / "home", """
[index]
keep_snapshots = 3

[fetch]
contact = "mailto:ops@example.org"
delay_seconds = 2.5

[[sources]]
name = "Ynet News"
home = "https://www.ynetnews.com/"
language = "en"

[[sources]]
name = "AP"
home = "https://apnews.com/"
feeds = ["https://apnews.com/feed.xml"]
sitemaps = ["https://apnews.com/news-sitemap.xml"]
wire = true
delay_seconds = 10
""")
    settings = load_fetch_settings(home)
    assert [source.name for source in settings.sources] == ["Ynet News", "AP"]
    ynet, ap = settings.sources
    assert ynet.feeds == () and ynet.sitemaps == () and ynet.language == "en" and not ynet.wire and ynet.delay_seconds is None
    assert ap.wire and ap.delay_seconds == 10.0 and ap.feeds == ("https://apnews.com/feed.xml",) and ap.host == "apnews.com"
    assert settings.fetch.delay_seconds == 2.5 and settings.fetch.contact == "mailto:ops@example.org"
    assert settings.fetch.user_agent_header == "compare-news/0.1 (+mailto:ops@example.org)"
    assert settings.fetch.robots_token == "compare-news"
    assert load_settings(home, environ={}).index.keep_snapshots == 3  # the other sections are unaffected


def test_flags_override_the_file(tmp_path: Path) -> None:
    home = write(tmp_path / "home", "[fetch]\ndelay_seconds = 2.0\n")
    assert load_fetch_settings(home, overrides={"delay_seconds": 0.5, "contact": None}).fetch.delay_seconds == 0.5


def test_a_home_without_compare_toml_has_no_sources_and_default_manners(tmp_path: Path) -> None:
    settings = load_fetch_settings(tmp_path)
    assert settings.sources == () and settings.fetch == FetchConfig() and settings.path is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[sources]]\nhome = "https://a.example/"\n', "'name' (the outlet) is required"),
        ('[[sources]]\nname = "A"\nhome = "ftp://a.example/"\n', "home: expected an http(s) URL"),
        ('[[sources]]\nname = "A"\nhome = "https://a.example/"\nfeeds = "https://a.example/rss"\n', "feeds: expected a list of URLs"),
        ('[[sources]]\nname = "A"\nhome = "https://a.example/"\nfeed = ["https://a.example/rss"]\n', "unknown key 'feed'"),
        ('[[sources]]\nname = "A"\nhome = "https://a.example/"\ndelay_seconds = -1\n', "delay_seconds: expected seconds >= 0"),
        ('[[sources]]\nname = "A"\nhome = "https://a.example/"\nwire = "yes"\n', "wire: expected true or false"),
        ('[[sources]]\nname = "A"\nhome = "https://a.example/"\n[[sources]]\nname = "a"\nhome = "https://b.example/"\n', "two [[sources]] are named 'a'"),
        ('[fetch]\ndelay = 3\n', "unknown key 'delay'"),
        ('sources = "x"\n', "must be [[sources]] tables"),
    ],
)
def test_bad_sources_are_one_error_naming_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    home = write(tmp_path / "home", text)
    with pytest.raises(ConfigError, match=None) as caught:
        load_fetch_settings(home)
    assert message in str(caught.value) and str(home / "compare.toml") in str(caught.value)


def test_select_sources_by_name_case_insensitively(tmp_path: Path) -> None:
    home = write(tmp_path / "home", '[[sources]]\nname = "BBC"\nhome = "https://www.bbc.com/news"\n[[sources]]\nname = "AP"\nhome = "https://apnews.com/"\n')
    sources = load_fetch_settings(home).sources
    assert [s.name for s in select_sources(sources, ["bbc"])] == ["BBC"]
    assert select_sources(sources, None) == sources
    with pytest.raises(ConfigError, match="unknown source 'reuters' .configured: BBC, AP."):
        select_sources(sources, ["Reuters"])


def test_the_example_file_names_the_outlets_of_the_issue_and_says_it_was_not_fetched(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "NOT\n# fetched" in text or "not fetched" in text.lower() or "were not" in text.lower()
    tomllib.loads(text)
    home = write(tmp_path / "home", text)
    names = [source.name for source in load_fetch_settings(home).sources]
    for outlet in ("Times of Israel", "Ynet News", "Israel Hayom", "Al Jazeera", "Asharq Al-Awsat", "AP", "Reuters", "BBC"):
        assert outlet in names
    wires = {source.name for source in load_fetch_settings(home).sources if source.wire}
    assert wires == {"AP", "Reuters"}


def test_docs_fetch_page_names_every_fetch_setting() -> None:
    from dataclasses import fields

    page = (Path(__file__).resolve().parents[1] / "docs" / "fetch.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(FetchConfig) if f"`{f.name}`" not in page]
    assert not missing, f"docs/fetch.md does not document [fetch] {missing}"
