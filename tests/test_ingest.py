"""Tests for compare.ingest: every input format, field mapping, rejects, dedup, dates and wire credits.

The fixtures under tests/fixtures/ingest are a tiny made-up story (a city council votes for a harbor
bridge) told by made-up outlets; files with broken bytes are generated in tmp_path so the damage is
visible in the test itself.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compare.ingest import (
    article_id,
    detect_wire_credit,
    ingest,
    parse_field_map,
    parse_published,
    read_paths,
)
from compare.core.schema import ARTICLE_SCHEMA
from compare.core.store import Store
from compare.text.normalize import normalize_text

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
BALY = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "allsides_baly2020" / "articles_sample.jsonl.gz"
BALY_MAP = {"outlet": "source", "text": "content_original", "published": "date", "byline": "authors"}

UTC = timezone.utc


def by_title(frame: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["title"]: row for row in frame.iter_rows(named=True)}


def where(rejects: list, file: Path) -> list[tuple[int | None, str | None]]:
    return [(r.line, r.field) for r in rejects if r.file == str(file)]


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def story(n: int, outlet: str = "The Daily Planet") -> dict[str, object]:
    return {"outlet": outlet, "title": f"Story {n}", "published": "2024-03-05", "text": f"Paragraph of story {n}."}


# --------------------------------------------------------------------------- field map


def test_parse_field_map_reads_pairs() -> None:
    assert parse_field_map(["outlet=source", " text = content_original "]) == {
        "outlet": "source",
        "text": "content_original",
    }


@pytest.mark.parametrize("pair", ["outlet", "outlet=", "=source"])
def test_parse_field_map_rejects_pair_without_both_sides(pair: str) -> None:
    with pytest.raises(ValueError, match="field=column"):
        parse_field_map([pair])


def test_parse_field_map_names_the_valid_fields() -> None:
    with pytest.raises(ValueError) as error:
        parse_field_map(["headline=title"])
    message = str(error.value)
    assert "\n" not in message
    assert "'headline'" in message and "outlet, url, title, published, language, byline, text" in message


# --------------------------------------------------------------------------- formats


def test_jsonl_fields_and_aliases() -> None:
    path = FIXTURES / "articles.jsonl"
    batch = read_paths([path])
    assert batch.rejects == [] and batch.records_read == 4
    assert batch.articles.schema == pl.Schema(ARTICLE_SCHEMA)
    rows = by_title(batch.articles)

    planet = rows["Harbor bridge vote passes"]
    assert planet["outlet"] == "The Daily Planet"
    assert planet["url"] == "https://dailyplanet.example/bridge"
    assert planet["published"] == datetime(2024, 3, 5, 13, 30, tzinfo=UTC)  # +01:00 moved to UTC
    assert planet["language"] == "en"
    assert planet["byline"] == "Lois Lane"
    assert planet["text"].startswith("METROPOLIS (AP) — The city council") and "\n\nConstruction" in planet["text"]
    assert planet["wire_credit"] == "AP"
    assert planet["source_file"] == str(path)
    assert planet["id"] == article_id("The Daily Planet", "Harbor bridge vote passes", planet["text"])

    # source/headline/date/authors/body/lang/link are accepted when the fields are not mapped
    gazette = rows["Council backs bridge"]
    assert gazette["outlet"] == "Gotham Gazette"
    assert gazette["published"] == datetime(2024, 3, 5, tzinfo=UTC)
    assert gazette["byline"] == "Vicki Vale, Jack Ryder"
    assert gazette["language"] == "en" and gazette["url"] == "https://gotham.example/bridge"
    assert gazette["text"] == "The council approved the bridge on Tuesday.\n\nReuters reported that the vote was close."
    assert gazette["wire_credit"] is None

    courier = rows["Bridge gets green light"]
    assert courier["published"] == datetime(2024, 3, 5, 14, 0, tzinfo=UTC)  # RFC 822, -0500
    assert courier["wire_credit"] == "Reuters"  # from the byline "By Reuters"
    assert rows["Bridge vote"]["published"] == datetime(2024, 3, 5, 15, 0, tzinfo=UTC)  # epoch seconds
    assert batch.articles["ingested_at"].n_unique() == 1


def test_csv_rows_and_line_numbers() -> None:
    path = FIXTURES / "articles.csv"
    batch = read_paths([path])
    assert batch.records_read == 3
    rows = by_title(batch.articles)
    assert rows["Bridge vote"]["text"] == "First paragraph of the story.\n\nSecond paragraph, after a blank line."
    assert rows["Second story"]["published"] == datetime(2024, 3, 6, 8, tzinfo=UTC)
    assert rows["Second story"]["byline"] is None  # empty cell
    # the quoted first row spans three physical lines, but lines count rows: header 1, rows 2, 3, 4
    [reject] = batch.rejects
    assert (reject.file, reject.line, reject.field) == (str(path), 3, "published")
    assert "'not a date'" in reject.reason


def test_tsv_with_field_map() -> None:
    path = FIXTURES / "articles.tsv"
    unmapped = read_paths([path])
    assert where(unmapped.rejects, path) == [(2, "outlet"), (3, "outlet")]
    assert "outlet=COLUMN" in unmapped.rejects[0].reason

    batch = read_paths([path], parse_field_map(["outlet=site_name", "text=body", "published=when"]))
    assert batch.rejects == []
    rows = by_title(batch.articles)
    assert rows["Bridge approved"]["outlet"] == "Keystone Ledger"
    assert rows["Bridge approved"]["published"] == datetime(2024, 3, 5, 10, tzinfo=UTC)  # naive -> UTC
    assert rows["Brücke beschlossen"]["text"] == "Der Rat stimmte zu."
    assert rows["Brücke beschlossen"]["published"] == datetime(2024, 3, 5, tzinfo=UTC)


def test_mapped_column_is_the_only_place_looked() -> None:
    batch = read_paths([FIXTURES / "articles.jsonl"], {"outlet": "publisher"})
    assert [r.field for r in batch.rejects] == ["outlet"] * 4
    assert "mapped from column 'publisher'" in batch.rejects[0].reason


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "articles.parquet"
    pl.DataFrame(
        {
            "source": ["Gotham Gazette", "Gotham Gazette", ""],
            "title": ["One", "Two", "Three"],
            "when": [datetime(2024, 3, 5, 9, tzinfo=UTC), None, None],
            "authors": [["Vicki Vale", "Jack Ryder"], [], None],
            "content_original": ["By Reuters\n\nFirst story.", "Second story.", "Third story."],
        }
    ).write_parquet(path)
    batch = read_paths([path], {"published": "when", "text": "content_original"})
    rows = by_title(batch.articles)
    assert rows["One"]["published"] == datetime(2024, 3, 5, 9, tzinfo=UTC)
    assert rows["One"]["byline"] == "Vicki Vale, Jack Ryder"
    assert rows["One"]["wire_credit"] == "Reuters"
    assert rows["Two"]["published"] is None and rows["Two"]["byline"] is None
    assert where(batch.rejects, path) == [(3, "outlet")]


def test_json_array_and_single_object() -> None:
    array, single = FIXTURES / "array.json", FIXTURES / "single.json"
    batch = read_paths([array, single])
    assert sorted(batch.articles["title"]) == ["Bridge", "Bridge 2", "Single"]
    assert where(batch.rejects, array) == [(2, None)]
    assert batch.records_read == 4


def test_json_file_holding_json_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "lines.json", [story(1), story(2)])
    assert read_paths([path]).articles.height == 2


def test_html_pages_directory() -> None:
    pages = FIXTURES / "pages"
    batch = read_paths([pages])
    rows = by_title(batch.articles)
    planet = rows["Harbor bridge vote passes after long debate"]
    assert planet["outlet"] == "The Daily Planet"  # og:site_name
    assert planet["byline"] == "Lois Lane"
    assert planet["published"] == datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert planet["url"] == "https://www.dailyplanet.example/news/harbor-bridge-vote"
    assert planet["language"] == "en"
    assert planet["text"].startswith("METROPOLIS (AP) —")  # the repeated headline is dropped
    assert planet["text"].count("\n\n") == 2 and planet["wire_credit"] == "AP"
    hafen = rows["Neue Brücke über den Hafen beschlossen"]
    assert hafen["outlet"] == "hafenbote.example"  # no site name: the hostname of og:url
    assert hafen["language"] == "de" and hafen["published"] is None
    assert where(batch.rejects, pages / "empty.html") == [(None, "text")]


def test_html_page_without_any_outlet_is_rejected(tmp_path: Path) -> None:
    page = tmp_path / "anonymous.html"
    paragraph = "<p>" + "The council met again to discuss the harbor bridge and its budget. " * 4 + "</p>"
    page.write_text(f"<html><body><article>{paragraph * 2}</article></body></html>", encoding="utf-8")
    [reject] = read_paths([page]).rejects
    assert (reject.file, reject.line, reject.field) == (str(page), None, "outlet")
    assert "site name" in reject.reason


def test_rss_feed() -> None:
    path = FIXTURES / "feed.rss"
    batch = read_paths([path])
    assert batch.rejects == []
    rows = by_title(batch.articles)
    vote = rows["Council funds harbor bridge"]
    assert vote["outlet"] == "Central City Chronicle"
    assert vote["published"] == datetime(2024, 3, 5, 14, tzinfo=UTC)
    assert vote["byline"] == "Iris West"
    assert vote["url"] == "https://chronicle.example/2024/03/05/bridge"
    assert vote["text"] == "The council voted seven to two to fund the bridge.\n\nWork starts next spring."
    appeal = rows["Bridge opponents plan appeal"]
    assert appeal["text"].startswith("Opponents said they would appeal.\nA hearing is set for April.\n\nCost:")
    assert appeal["wire_credit"] == "Reuters"  # trailing "— Reuters"


def test_atom_feed() -> None:
    [row] = read_paths([FIXTURES / "feed.atom"]).articles.iter_rows(named=True)
    assert row["outlet"] == "Keystone Ledger"
    assert row["byline"] == "Wally West"
    assert row["published"] == datetime(2024, 3, 5, 17, 45, tzinfo=UTC)
    assert row["text"] == "Keystone officials welcomed the vote.\n\nTraffic relief is expected by 2028."
    assert row["language"] == "en"


def test_xml_is_read_as_a_feed_only_when_it_is_one(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes((FIXTURES / "feed.rss").read_bytes())
    other = tmp_path / "other.xml"
    other.write_text("<?xml version='1.0'?><catalog><book>Dune</book></catalog>", encoding="utf-8")
    batch = read_paths([feed, other])
    assert batch.articles.height == 2
    [reject] = batch.rejects
    assert reject.file == str(other) and "not an RSS or Atom feed" in reject.reason


def test_unsupported_extension_and_missing_path(tmp_path: Path) -> None:
    doc = tmp_path / "notes.docx"
    doc.write_bytes(b"PK\x03\x04")
    missing = tmp_path / "nowhere.jsonl"
    batch = read_paths([doc, missing])
    assert batch.records_read == 0
    unsupported, absent = batch.rejects
    assert unsupported.file == str(doc) and unsupported.line is None
    assert ".jsonl" in unsupported.reason and ".parquet" in unsupported.reason and ".rss" in unsupported.reason
    assert absent.file == str(missing) and "No such file" in absent.reason


def test_directory_walk_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".cache").mkdir()
    write_jsonl(tmp_path / "b" / "2.jsonl", [story(2)])
    write_jsonl(tmp_path / "a.jsonl", [story(1)])
    write_jsonl(tmp_path / ".cache" / "old.jsonl", [story(9)])
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    batch = read_paths([tmp_path])
    assert batch.rejects == []
    assert batch.articles["title"].to_list() == ["Story 1", "Story 2"]
    assert batch.articles["source_file"].to_list() == [str(tmp_path / "a.jsonl"), str(tmp_path / "b" / "2.jsonl")]


# --------------------------------------------------------------------------- bad input


def test_bad_records_are_rejected_and_the_rest_ingested(tmp_path: Path) -> None:
    good = [json.dumps(story(n)).encode() for n in (1, 2, 3)]
    lines = [
        good[0],
        b'{"outlet": "The Daily Planet", "title": "Cut", "text": "trunc',  # 2: truncated JSON
        '{"outlet": "Caf\u00e9", "text": "bad bytes'.encode() + b"\xff\xfe" + b'"}',  # 3: invalid UTF-8
        b"",  # 4: blank lines are not records
        json.dumps({"outlet": "The Daily Planet", "title": "Empty", "text": "   \n "}).encode(),  # 5
        json.dumps({"title": "No outlet", "text": "Some text."}).encode(),  # 6
        json.dumps({"outlet": "X", "title": "Bad date", "published": "the 31st of Smarch", "text": "t"}).encode(),  # 7
        b"[1, 2, 3]",  # 8: not an object
        good[1],
        good[2],
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    batch = read_paths([path])
    assert batch.articles["title"].to_list() == ["Story 1", "Story 2", "Story 3"]
    assert batch.records_read == 9
    assert [(r.file, r.line, r.field) for r in batch.rejects] == [
        (str(path), 2, None),
        (str(path), 3, None),
        (str(path), 5, "text"),
        (str(path), 6, "outlet"),
        (str(path), 7, "published"),
        (str(path), 8, None),
    ]
    reasons = [r.reason for r in batch.rejects]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "not valid UTF-8 (byte 0xff at byte 39 of the line)"
    assert "'the 31st of Smarch'" in reasons[4]
    assert "not an object" in reasons[5]


def test_long_bad_date_is_quoted_truncated(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{**story(1), "published": "x" * 500}])
    [reject] = read_paths([path]).rejects
    assert reject.field == "published" and len(reject.reason) < 100 and "..." in reject.reason


def test_binary_file_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "image.jsonl"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    batch = read_paths([path])
    assert batch.records_read == 0 and batch.articles.height == 0
    [reject] = batch.rejects
    assert (reject.file, reject.line, reject.field, reject.reason) == (str(path), None, None, "binary file, not JSONL")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.parquet", b"PAR1 not really parquet PAR1", "unreadable Parquet file"),
        ("empty.rss", b"<rss><channel><title>Nothing</title></channel></rss>", "no feed entries found"),
        ("photo.csv", b"outlet,text\n\x00\x01\x02", "binary file, not CSV"),
        ("photo.html", b"<html>\x00\x00", "binary file, not HTML"),
    ],
)
def test_whole_file_problems_are_one_reject(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    batch = read_paths([path])
    assert batch.records_read == 0
    [reject] = batch.rejects
    assert reject.file == str(path) and reject.line is None and reject.reason.startswith(reason)


def test_csv_row_with_too_many_fields(tmp_path: Path) -> None:
    path = tmp_path / "shifted.csv"
    path.write_text("outlet,text\nGotham Gazette,Fine.\nGotham Gazette,Shifted,extra\n", encoding="utf-8")
    batch = read_paths([path])
    assert batch.articles.height == 1
    assert [(r.line, r.reason) for r in batch.rejects] == [(3, "row has 3 fields but the header has 2")]


def test_csv_with_undecodable_bytes_rejects_only_that_row(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"outlet,text\nGotham Gazette,Fine row.\nCaf\xe9 Times,Latin-1 row.\nGotham Gazette,Also fine.\n")
    batch = read_paths([path])
    assert batch.articles["text"].to_list() == ["Fine row.", "Also fine."]
    [reject] = batch.rejects
    assert reject.line == 3 and "UTF-8" in reject.reason


def test_lone_surrogate_escape_does_not_break_the_frame(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"outlet": "O", "title": "T \\ud800", "text": "broken \\udc00 pair"}\n', encoding="utf-8")
    [row] = read_paths([path]).articles.iter_rows(named=True)
    assert row["text"] == "broken \ufffd pair" and row["title"] == "T \ufffd"


# --------------------------------------------------------------------------- gzip


def test_jsonl_gz(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(json.dumps(story(n)).encode() + b"\n" for n in range(5))))
    batch = read_paths([path])
    assert batch.articles.height == 5 and batch.rejects == []


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    records = [json.dumps({**story(n), "text": f"Story {n}. " + "filler words " * 40}).encode() for n in range(400)]
    whole = gzip.compress(b"\n".join(records) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    batch = read_paths([path])
    kept = batch.articles.height
    assert 0 < kept < 400
    assert batch.articles["title"].to_list() == [f"Story {n}" for n in range(kept)]
    stream = [r for r in batch.rejects if "truncated" in r.reason]
    assert len(stream) == 1 and stream[0].file == str(path) and stream[0].line is not None
    assert stream[0].line > kept


def test_file_named_gz_that_is_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl.gz"
    path.write_text(json.dumps(story(1)) + "\n", encoding="utf-8")
    [reject] = read_paths([path]).rejects
    assert reject.reason == "not a gzip file"


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps(story(1)).encode() + b"\n") + gzip.compress(json.dumps(story(2)).encode()))
    batch = read_paths([path])
    assert batch.articles.height == 2 and batch.rejects == []


# --------------------------------------------------------------------------- store, ids, rejects file


def test_ingesting_twice_adds_nothing_the_second_time(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    path = write_jsonl(tmp_path / "a.jsonl", [story(1), story(2), story(1)])  # story 1 repeated
    first = ingest(store, [path])
    assert (first.accepted, first.duplicates, first.rejected) == (2, 1, 0)
    assert first.rejects_path is None
    second = ingest(store, [path])
    assert (second.accepted, second.duplicates) == (0, 3)
    assert store.articles().height == 2


def test_rejects_file_has_one_json_object_per_reject(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(story(1)) + "\n{oops\n" + json.dumps({"text": "no outlet"}) + "\n", encoding="utf-8")
    summary = ingest(store, [path])
    assert summary.accepted == 1 and summary.rejected == 2
    assert summary.rejects_path is not None and summary.rejects_path.parent == store.rejects_dir
    lines = [json.loads(line) for line in summary.rejects_path.read_text(encoding="utf-8").splitlines()]
    assert [sorted(line) for line in lines] == [["field", "file", "line", "reason"]] * 2
    assert [(line["file"], line["line"], line["field"]) for line in lines] == [(str(path), 2, None), (str(path), 3, "outlet")]
    assert summary.rejects[1].one_line().startswith(f"{path}:3: field 'outlet':")


def test_ids_are_stable_across_runs() -> None:
    first = read_paths([FIXTURES]).articles
    second = read_paths([FIXTURES]).articles
    assert first["id"].to_list() == second["id"].to_list()
    # pinned: changing the hash silently would orphan every stored corpus
    assert article_id("The Daily Planet", "Harbor bridge", "The council voted.") == "616a853336fb23d7e76a"


def test_article_id_ignores_spacing_and_outlet_case() -> None:
    base = article_id("The Daily Planet", "Harbor bridge", "The council voted.\n\nWork starts soon.")
    assert article_id(" the daily PLANET ", "Harbor  bridge", "The council  voted.\nWork starts soon. ") == base
    assert len(base) == 20 and int(base, 16) >= 0
    assert article_id("Gotham Gazette", "Harbor bridge", "The council voted.\n\nWork starts soon.") != base
    assert article_id("The Daily Planet", None, "x") == article_id("The Daily Planet", "", "x")


def test_progress_is_cumulative_and_limit_stops_early(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [story(n) for n in range(2500)])
    seen: list[int] = []
    batch = read_paths([path], progress=seen.append)
    assert seen == [1000, 2000, 2500] and batch.records_read == 2500
    limited = read_paths([path, FIXTURES / "articles.jsonl"], limit=30)
    assert limited.records_read == 30 and limited.articles.height == 30


# --------------------------------------------------------------------------- text and dates


def test_normalise_text_keeps_paragraphs() -> None:
    raw = "  First\u00a0 line\r\nsame paragraph\r\n\r\n\r\n\t Second   paragraph \u2028third line  "
    assert normalize_text(raw) == "First line\nsame paragraph\n\nSecond paragraph\nthird line"


@given(st.text())
def test_normalise_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2016-09-20", datetime(2016, 9, 20, tzinfo=UTC)),
        ("2016-09-20T10:11:12", datetime(2016, 9, 20, 10, 11, 12, tzinfo=UTC)),
        ("2016-09-20T10:11:12Z", datetime(2016, 9, 20, 10, 11, 12, tzinfo=UTC)),
        ("2016-09-20T12:11:12+02:00", datetime(2016, 9, 20, 10, 11, 12, tzinfo=UTC)),
        ("Tue, 20 Sep 2016 10:11:12 GMT", datetime(2016, 9, 20, 10, 11, 12, tzinfo=UTC)),
        ("Tue, 20 Sep 2016 06:11:12 EDT", datetime(2016, 9, 20, 10, 11, 12, tzinfo=UTC)),
        ("1474366272", datetime(2016, 9, 20, 10, 11, 12, tzinfo=UTC)),
        (1474366272, datetime(2016, 9, 20, 10, 11, 12, tzinfo=UTC)),
        (1474366272000, datetime(2016, 9, 20, 10, 11, 12, tzinfo=UTC)),  # milliseconds
        ("7/23/17", datetime(2017, 7, 23, tzinfo=UTC)),  # month first, as in the AllSides data
        ("September 20, 2016", datetime(2016, 9, 20, tzinfo=UTC)),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_parse_published_formats(value: object, expected: datetime | None) -> None:
    assert parse_published(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2016", 2016, "September 2016", "2016-13-45", "32/13/2016", True, ["2016"]])
def test_parse_published_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_published(value)


@given(
    st.datetimes(
        min_value=datetime(1000, 1, 2),
        max_value=datetime(9999, 12, 30),
        # Real UTC offsets are whole minutes; ISO 8601 cannot carry sub-minute offsets reliably.
            timezones=st.integers(-23 * 60, 23 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
    )
)
def test_iso_datetimes_round_trip(moment: datetime) -> None:
    parsed = parse_published(moment.isoformat())
    assert parsed == moment and parsed.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------- wire credits


@pytest.mark.parametrize(
    ("text", "byline", "wire"),
    [
        ("BAGHDAD (AP) — Officials said on Monday ...", None, "AP"),
        ("WASHINGTON (AP) _ The Senate voted ...", None, "AP"),
        ("JERUSALEM (Reuters) - Israel said ...", None, "Reuters"),
        ("(Reuters) - Auto companies and suppliers ...", None, "Reuters"),
        ("PARIS (AFP) - France on Tuesday ...", None, "AFP"),
        ("BEIJING, Jan. 5 (Xinhua) -- China will ...", None, "Xinhua"),
        ("WASHINGTON, March 5 (UPI) -- The Senate ...", None, "UPI"),
        ("Berlin (dpa) - Die Regierung ...", None, "dpa"),
        ("(Bloomberg) -- Stocks fell ...", None, "Bloomberg"),
        ("New Delhi [India], March 5 (ANI): The government ...", None, "ANI"),
        ("Jerusalem, 5 March, 2024 (TPS) -- Police said ...", None, "TPS"),
        ("(March 5, 2024 / JNS) Israel's cabinet ...", None, "JNS"),
        ("Caption of the photo. (AP Photo/Evan Vucci)\n\nWASHINGTON (AP) — The president ...", None, "AP"),
        ("The council voted.", "Associated Press", "AP"),
        ("The council voted.", "By Reuters", "Reuters"),
        ("The council voted.", "Jane Doe, Associated Press", "AP"),
        ("The council voted.", "Agence France-Presse", "AFP"),
        ("The council voted.", "Jewish News Syndicate", "JNS"),
        ("The council voted.", "Tazpit Press Service", "TPS"),
        ("The council voted.", "Reuters In Washington", "Reuters"),
        ("Associated Press\n\nThe council voted.", None, "AP"),
        ("The council voted on Tuesday. — AP", None, "AP"),
        ("The council voted.\n\n(Reporting by Jane Doe; Editing by John Roe)", None, "Reuters"),
        ("The council voted, he said. (Editing by John Roe)", None, "Reuters"),
        ("The council voted.\n\nThe Associated Press contributed to this report.", None, "AP"),
        ("The council voted.\n\nCopyright 2013 The Associated Press. All rights reserved.", None, "AP"),
        ("The council voted.\n\n(Material from Reuters was used in this report.)", None, "Reuters"),
    ],
)
def test_wire_credit_found(text: str, byline: str | None, wire: str) -> None:
    assert detect_wire_credit(text, byline) == wire


@pytest.mark.parametrize(
    ("text", "byline"),
    [
        ("The council voted.\n\nReuters reported that the vote was close. (Reuters) said more.", None),
        ("Officials, speaking to AFP, said the vote was close.\n\nMore later.", None),
        ("WASHINGTON (CNN) — The president said ...", None),
        ("A crowd gathered. (AP Photo/Evan Vucci)\n\nThe council voted.", None),
        ("The rally in 1989 (Reuters)\n\nThe council voted.", None),
        ("The council voted, according to AFP.", None),
        ("Bloomberg said he would run.\n\n\"I will win,\" Bloomberg said.", None),
        ("Enlarge this image toggle caption Mike Groll/AP Mike Groll/AP\n\nThe council voted.", None),
        ("AP\n\nThe council voted.", None),  # a bare acronym line is usually a photo credit
        ("The council voted.\n\nImage copyright Reuters Image caption The mayor", None),
        ("Holders of TPS (TPS) status waited.", None),
        ("The council voted.", "Michael Bloomberg"),
        ("The council voted.", "Jesse Jackson, Sun-Times Staff, Mark Brown, Associated Press, Tom Schuba"),
        ("The council voted.\n\nReporting by Mariana Simoes.", None),
        ("The council voted.\n\nMaggie Haberman contributed to this report.", None),
    ],
)
def test_wire_mentions_are_not_credits(text: str, byline: str | None) -> None:
    assert detect_wire_credit(text, byline) is None


# --------------------------------------------------------------------------- real data (optional)


@pytest.mark.skipif(
    not BALY.exists(),
    reason=f"optional real-data check: the folder {BALY.parent} (the AllSides sample, beside the checkout) is missing; nothing else needs it",
)
def test_allsides_sample_first_records() -> None:
    batch = read_paths([BALY], BALY_MAP, limit=300)
    assert batch.records_read == 300
    assert batch.articles.height + len(batch.rejects) + batch.duplicates == 300
    assert batch.articles.height >= 290
    assert batch.articles["outlet"].n_unique() > 20
    assert batch.articles["published"].null_count() < 100
    credits = batch.articles["wire_credit"].drop_nulls().value_counts()
    assert set(credits["wire_credit"]) >= {"AP", "Reuters"}
    assert credits["count"].sum() >= 10


# --------------------------------------------------------------------------- hostile input (issue 17)
# A bad value is one reject line and the rest of the batch is read; nothing is silently merged.


def good(n: int) -> str:
    return json.dumps({"outlet": "Gotham Gazette", "title": f"Story {n}", "text": f"Body of story number {n} here."})


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("1" * 5_000, "views"),  # more digits than Python converts: kept as text, record accepted
        ("1" * 5_000, "published"),
        ("1" * 400, "published"),  # OverflowError in the epoch conversion before issue 17
        ("-" + "9" * 400, "published"),
        ("1e999", "published"),
        ("NaN", "published"),
        ("-Infinity", "published"),
        ("1e-999", "published"),
        ("-0", "views"),
        ("12345678901234567890123", "title"),
    ],
)
def test_any_json_number_is_at_most_one_reject(tmp_path: Path, value: str, field: str) -> None:
    path = tmp_path / "numbers.jsonl"
    record = '{"outlet": "Gotham Gazette", "text": "The bridge vote passed on Tuesday.", "%s": %s}' % (field, value)
    path.write_text("\n".join([good(1), record, good(2)]) + "\n", encoding="utf-8")
    batch = read_paths([path])
    assert batch.records_read == 3
    assert batch.articles.height + len(batch.rejects) == 3
    assert {"Story 1", "Story 2"} <= set(batch.articles["title"].to_list())
    for reject in batch.rejects:
        assert reject.line == 2 and reject.field == "published" and "date" in reject.reason


def test_big_numbers_in_a_json_array_and_a_single_object(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text('[%s, {"outlet": "O", "text": "Words in the body.", "published": %s}]' % (good(1), "7" * 5000))
    batch = read_paths([array])
    assert batch.articles.height == 1 and [(r.line, r.field) for r in batch.rejects] == [(2, "published")]


def test_deeply_nested_json_line_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join([good(1), '{"outlet": ' + "[" * 100_000 + "]" * 100_000 + "}", good(2)]) + "\n")
    batch = read_paths([path])
    assert batch.articles.height == 2 and [r.line for r in batch.rejects] == [2]


def test_csv_unbalanced_quote_is_a_reject_and_the_rows_after_it_are_read(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text(
        'outlet,title,text\n'
        'Gotham Gazette,One,"First body.\n'  # the quote never closes
        'Gotham Gazette,Two,Second body.\n'
        'Gotham Gazette,Three,"Third body, quoted."\n'
        'Gotham Gazette,Four,Fourth body.\n',
        encoding="utf-8",
    )
    batch = read_paths([path])
    assert sorted(batch.articles["title"].to_list()) == ["Four", "Three", "Two"]
    [reject] = batch.rejects
    assert reject.line == 2 and "quoting" in reject.reason and "physical line 2" in reject.reason


def test_csv_unbalanced_quote_at_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('outlet,title,text\nGotham Gazette,One,Fine.\nGotham Gazette,Two,"Never closed.\nGotham Gazette,Three,Fine too.\n')
    batch = read_paths([path])
    assert sorted(batch.articles["title"].to_list()) == ["One", "Three"]
    assert [r.line for r in batch.rejects] == [3]


def test_csv_multiline_quoted_field_is_still_one_record() -> None:
    batch = read_paths([FIXTURES / "articles.csv"])
    assert batch.records_read == 3 and batch.articles.height == 2


def test_many_unbalanced_quotes_stay_linear(tmp_path: Path) -> None:
    import time

    rows = ['Gotham Gazette,T%d,"Body %d with no closing quote.' % (n, n) for n in range(3000)]
    bad, fine = tmp_path / "bad.csv", tmp_path / "fine.csv"
    bad.write_text("outlet,title,text\n" + "\n".join(rows) + "\n")
    fine.write_text("outlet,title,text\n" + "\n".join(row.replace('"', "") for row in rows) + "\n")
    started = time.perf_counter()
    batch = read_paths([bad])
    bad_seconds = time.perf_counter() - started
    started = time.perf_counter()
    read_paths([fine])
    fine_seconds = time.perf_counter() - started
    assert len(batch.rejects) == 3000
    assert bad_seconds < 10 * fine_seconds


@pytest.mark.parametrize("name", ["nul.jsonl", "nul.csv"])
def test_nul_byte_inside_one_record_rejects_only_that_record(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".jsonl"):
        content = "\n".join([good(1), good(2).replace("Body", "Bo\x00dy"), good(3)]) + "\n"
    else:
        content = "outlet,title,text\nGotham Gazette,One,First.\nGotham Gazette,Two,Sec\x00ond.\nGotham Gazette,Three,Third.\n"
    path.write_bytes(content.encode())
    batch = read_paths([path])
    assert batch.articles.height == 2
    [reject] = batch.rejects
    assert reject.line == 2 if name.endswith(".jsonl") else reject.line == 3


def _gzip_stream(path: Path, piece: bytes, total: int) -> None:
    with gzip.open(path, "wb", compresslevel=9) as handle:
        for _ in range(total // len(piece)):
            handle.write(piece)


@pytest.mark.parametrize(
    "piece", [b"a" * (1 << 20), ((good(1) + "\n") * 10_000).encode(), (b"a" * 1023 + b"\n") * 1024],
    ids=["no newlines", "repeated records", "garbage lines"],
)
def test_gzip_bomb_is_one_clear_reject(tmp_path: Path, piece: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    import compare.ingest.readers as ingest_module

    monkeypatch.setattr(ingest_module, "_BOMB_MIN_BYTES", 4 << 20)  # the ratio check starts sooner: a faster test
    path = tmp_path / "bomb.jsonl.gz"
    _gzip_stream(path, piece, 64 << 20)  # 64 MiB of output from well under 1 MiB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    batch = read_paths([path])
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert batch.articles.height <= 1
    # garbage lines hit the per-file reject cap first; either way one line says why reading stopped
    assert "decompression bomb" in batch.rejects[-1].reason or "not a usable file" in batch.rejects[-1].reason
    assert len(batch.rejects) <= 10_001
    assert grown_mib < 150  # the output is never held whole


def test_decompressed_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import compare.ingest.readers as ingest_module

    monkeypatch.setattr(ingest_module, "_MAX_DECOMPRESSED_BYTES", 1 << 20)
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join((good(n) + "\n").encode() for n in range(40_000))))
    batch = read_paths([path])
    assert 0 < batch.articles.height < 40_000
    assert "decompresses to more than" in batch.rejects[-1].reason


def test_normal_gzip_with_repetitive_text_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "normal.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join((good(n) + "\n").encode() for n in range(5_000))))
    batch = read_paths([path])
    assert batch.articles.height == 5_000 and not batch.rejects


def test_overlong_line_is_one_reject_and_the_next_line_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import compare.ingest.readers as ingest_module

    monkeypatch.setattr(ingest_module, "_MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(ingest_module, "_CHUNK_BYTES", 256)
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join([good(1), '{"outlet": "' + "x" * 5000 + '"}', good(2)]) + "\n")
    batch = read_paths([path])
    assert batch.articles.height == 2
    assert [(r.line, r.reason) for r in batch.rejects] == [(2, "line longer than 0 MiB")]


def test_a_file_of_garbage_stops_after_many_rejects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import compare.ingest.pipeline as ingest_module

    monkeypatch.setattr(ingest_module, "_MAX_REJECTS_PER_FILE", 50)
    garbage, fine = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    garbage.write_text("not json\n" * 1000)
    fine.write_text(good(1) + "\n")
    batch = read_paths([garbage, fine])
    assert batch.articles.height == 1
    assert len(batch.rejects) == 51 and "not read" in batch.rejects[-1].reason


@pytest.mark.parametrize("name", ["big.json", "big.html", "big.rss"])
def test_whole_file_formats_past_the_size_limit_are_one_reject(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import compare.ingest.readers as ingest_module

    monkeypatch.setattr(ingest_module, "_MAX_WHOLE_FILE_BYTES", 100)
    path = tmp_path / name
    path.write_text("[" + ", ".join([good(n) for n in range(10)]) + "]" if name.endswith(".json") else "<html>" + "x" * 200)
    batch = read_paths([path])
    [reject] = batch.rejects
    assert batch.records_read == 0 and "too big" in reject.reason
