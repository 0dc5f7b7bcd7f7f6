"""compare.stories.grouping: articles linked by similarity within the time window, or by wire copy."""

from __future__ import annotations

import gc
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from compare.core.config import StoryConfig
from compare.core.progress import StepClock
from compare.embed.embedder import HashingEmbedder
from compare.core.schema import STORY_SCHEMA, UTC_DATETIME
from compare.stories.grouping import group_stories, story_id, story_text, tfidf_vectors

T0 = datetime(2026, 8, 20, 8, 0, tzinfo=timezone.utc)
CONFIG = StoryConfig(min_similarity=0.8, window_days=3.0, neighbours=20)


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def frame(rows: list[tuple[str, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"id": pl.String(), "published": UTC_DATETIME}, orient="row")


def stories_of(result: pl.DataFrame) -> set[frozenset[str]]:
    return {frozenset(group["article_id"].to_list()) for _, group in result.group_by("story_id")}


# Direction "depot" (x axis) and "heat wave" (y axis); the z component makes near copies not identical.
DEPOT, DEPOT_NEAR, HEAT, OTHER = unit(1, 0, 0.1), unit(1, 0, -0.1), unit(0, 1, 0), unit(0, 0, 1)


def test_similar_articles_within_window_join_and_outside_do_not() -> None:
    articles = frame([("ap", T0), ("bbc", T0 + timedelta(days=1)), ("late", T0 + timedelta(days=10)), ("heat", T0)])
    vectors = np.stack([DEPOT, DEPOT_NEAR, DEPOT, HEAT])
    result = group_stories(articles, vectors, [], CONFIG)
    assert result.schema == pl.Schema(STORY_SCHEMA)
    assert stories_of(result) == {frozenset({"ap", "bbc"}), frozenset({"late"}), frozenset({"heat"})}


def test_window_boundary_is_inclusive() -> None:
    articles = frame([("a", T0), ("b", T0 + timedelta(days=3)), ("c", T0 + timedelta(days=6, seconds=1))])
    result = group_stories(articles, np.stack([DEPOT, DEPOT, DEPOT]), [], CONFIG)
    assert stories_of(result) == {frozenset({"a", "b"}), frozenset({"c"})}


def test_dissimilar_articles_do_not_join_even_on_the_same_day() -> None:
    articles = frame([("a", T0), ("b", T0)])
    below = unit(1, 0.8, 0)  # cosine with DEPOT-like x axis ~0.78 < 0.8
    result = group_stories(articles, np.stack([unit(1, 0, 0), below]), [], CONFIG)
    assert stories_of(result) == {frozenset({"a"}), frozenset({"b"})}
    result = group_stories(articles, np.stack([unit(1, 0, 0), below]), [], StoryConfig(min_similarity=0.7))
    assert stories_of(result) == {frozenset({"a", "b"})}


def test_copy_links_force_a_join() -> None:
    articles = frame([("ap", T0), ("reprint", T0 + timedelta(days=20)), ("heat", T0)])
    vectors = np.stack([DEPOT, OTHER, HEAT])
    assert stories_of(group_stories(articles, vectors, [], CONFIG)) == {frozenset({"ap"}), frozenset({"reprint"}), frozenset({"heat"})}
    linked = group_stories(articles, vectors, [("reprint", "ap"), ("ap", "not-in-corpus")], CONFIG)
    assert stories_of(linked) == {frozenset({"ap", "reprint"}), frozenset({"heat"})}


def test_undated_articles_join_by_similarity() -> None:
    articles = frame([("ap", T0), ("undated", None), ("undated-heat", None), ("heat", T0 + timedelta(days=30))])
    vectors = np.stack([DEPOT, DEPOT_NEAR, HEAT, HEAT])
    result = group_stories(articles, vectors, [], CONFIG)
    assert stories_of(result) == {frozenset({"ap", "undated"}), frozenset({"undated-heat", "heat"})}


def test_story_ids_are_deterministic_and_named_by_smallest_member() -> None:
    articles = frame([("b", T0), ("a", T0 + timedelta(hours=1)), ("c", T0)])
    vectors = np.stack([DEPOT, DEPOT_NEAR, HEAT])
    result = group_stories(articles, vectors, [], CONFIG)
    ids = dict(result.select("article_id", "story_id").iter_rows())
    assert ids == {"a": story_id(["a", "b"]), "b": story_id(["b", "a"]), "c": story_id(["c"])}
    assert ids["a"].startswith("s-") and ids["a"] != ids["c"]
    again = group_stories(articles.reverse(), vectors[::-1].copy(), [], CONFIG)
    assert_frame_equal(result, again, check_row_order=False)
    assert_frame_equal(result, group_stories(articles, vectors, [], CONFIG))


def test_single_article_is_its_own_story() -> None:
    result = group_stories(frame([("only", T0)]), np.stack([DEPOT]), [], CONFIG)
    assert result.rows() == [(story_id(["only"]), "only")]


def test_story_text_and_hashing_embedder_group_a_real_pair() -> None:
    depot_ap = story_text("Blast at militia depot north of Baghdad", "BAGHDAD (AP) — A blast tore through a militia depot on Tuesday. Two fighters died.")
    depot_bbc = story_text("Militia depot blast north of Baghdad", "A blast tore through a militia depot north of Baghdad on Tuesday. Two fighters died.")
    heat = story_text("Heat wave grips the region", "Temperatures passed 45 degrees across the region on Friday. Schools closed early.")
    assert depot_ap == "Blast at militia depot north of Baghdad. A blast tore through a militia depot on Tuesday. Two fighters died"
    assert story_text(None, "A blast tore through a militia depot.") == "A blast tore through a militia depot"
    vectors = HashingEmbedder(512).encode([depot_ap, depot_bbc, heat])
    articles = frame([("ap", T0), ("bbc", T0 + timedelta(hours=2)), ("heat", T0)])
    result = group_stories(articles, vectors, [], StoryConfig(min_similarity=0.55))
    assert stories_of(result) == {frozenset({"ap", "bbc"}), frozenset({"heat"})}


# ---------------------------------------------------------------- average linkage (the default method)


def test_average_linkage_does_not_chain_where_components_do() -> None:
    # a~b and b~c pass the cut, a and c do not: components join all three, average linkage keeps c apart.
    a, b, c = unit(1, 0, 0), unit(1, 1, 0), unit(0, 1, 0)  # cos(a,b) = cos(b,c) = 0.71, cos(a,c) = 0
    articles = frame([("a", T0), ("b", T0), ("c", T0)])
    vectors = np.stack([a, b, c])
    chained = group_stories(articles, vectors, [], StoryConfig(min_similarity=0.6, method="components"))
    assert stories_of(chained) == {frozenset({"a", "b", "c"})}
    average = group_stories(articles, vectors, [], StoryConfig(min_similarity=0.6, method="average"))
    assert len(stories_of(average)) == 2 and frozenset({"a", "b", "c"}) not in stories_of(average)


def test_an_undated_article_does_not_bridge_stories_years_apart_even_in_oversized_blocks() -> None:
    # The same topic covered twice, years apart, and an undated piece like both. Blocks larger than
    # max_block are linked at the cut instead of clustered exactly: a block the undated piece had
    # joined would chain both years into one story.
    early = [(f"early-{n}", T0 + timedelta(hours=n)) for n in range(3)]
    late = [(f"late-{n}", T0 + timedelta(days=700, hours=n)) for n in range(3)]
    articles = frame([*early, *late, ("undated", None)])
    vectors = np.stack([DEPOT, DEPOT_NEAR, DEPOT, DEPOT_NEAR, DEPOT, DEPOT_NEAR, DEPOT])
    result = stories_of(group_stories(articles, vectors, [], StoryConfig(min_similarity=0.35, max_block=4)))
    assert not any(any(i.startswith("early") for i in s) and any(i.startswith("late") for i in s) for s in result)
    assert {frozenset(i for i, _ in early), frozenset(i for i, _ in late)} <= {s - {"undated"} for s in result}


def test_average_linkage_respects_the_time_window() -> None:
    articles = frame([("a", T0), ("b", T0 + timedelta(days=1)), ("late", T0 + timedelta(days=9))])
    result = group_stories(articles, np.stack([DEPOT, DEPOT_NEAR, DEPOT]), [], StoryConfig(min_similarity=0.35))
    assert stories_of(result) == {frozenset({"a", "b"}), frozenset({"late"})}


def _articles_with_text(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(key, outlet, None, text, T0) for key, outlet, text in rows],
        schema={"id": pl.String(), "outlet": pl.String(), "title": pl.String(), "text": pl.String(), "published": UTC_DATETIME},
        orient="row",
    )


def test_full_text_names_join_two_takes_whose_ledes_differ() -> None:
    # Ledes (the embeddings) barely agree (cosine 0.2); the full texts share rare names, which
    # TF-IDF picks up (cosine ~0.5), and each is the other outlet's best match.
    shared = "Kadhimi Balad Hashd warehouse Katyusha Salahuddin Tikrit Samarra drone"
    others = ["Budget talks in Congress stalled over spending caps.", "Heat wave grips Israel as temperatures soar.",
              "Football final ends in penalties after extra time.", "Central bank raises interest rates by a quarter point."]
    articles = _articles_with_text([
        ("report", "AP", f"Explosions overnight. {shared} officials counted."),
        ("opinion", "Fox", f"The administration must answer. {shared} again."),
        *[(f"other{n}", "NYT", text) for n, text in enumerate(others)],
    ])
    vectors = np.zeros((6, 6), dtype=np.float32)
    vectors[0] = unit(1, 0, 0, 0, 0, 0)
    vectors[1] = unit(0.2, 0.98, 0, 0, 0, 0)
    for row in range(2, 6):
        vectors[row, row] = 1.0
    config = StoryConfig(min_similarity=0.35, mutual_floor=0.25)
    result = group_stories(articles, vectors, [], config)
    assert frozenset({"report", "opinion"}) in stories_of(result) and len(stories_of(result)) == 5
    assert len(stories_of(group_stories(articles.drop("text"), vectors, [], config))) == 6


def test_the_clock_gets_each_steps_cpu_seconds_and_the_stories_do_not_change() -> None:
    articles = _articles_with_text([(f"a{n}", f"outlet{n % 3}", f"Storm floods the valley town {n % 2} again and again.") for n in range(8)])
    vectors = np.stack([unit(1, 0.1 * n, 0) if n % 2 else unit(0, 1, 0.1 * n) for n in range(8)])
    clock = StepClock()
    timed = group_stories(articles, vectors, [("a0", "a3")], CONFIG, clock=clock)
    assert_frame_equal(timed, group_stories(articles, vectors, [("a0", "a3")], CONFIG))
    assert set(clock.seconds) == {"tfidf", "neighbours", "candidate_scores", "blocks", "clustering", "components"}
    assert all(value >= 0 for value in clock.seconds.values())
    components = StepClock()
    group_stories(articles, vectors, [], CONFIG, method="components", clock=components)
    assert set(components.seconds) == {"neighbours", "components"}


def test_step_clock_sums_the_cpu_seconds_of_repeated_steps() -> None:
    clock = StepClock()
    for _ in range(2):
        with clock.step("spin"):
            deadline = time.process_time() + 0.02
            while time.process_time() < deadline:
                pass
    assert clock.seconds["spin"] >= 0.04 and set(clock.rounded()) == {"spin"}


def test_tfidf_vectors_are_unit_rows_and_symmetric() -> None:
    vectors = tfidf_vectors(["militia depot Baghdad blast", "Baghdad militia depot explosion", "heat wave Israel"])
    gram = (vectors @ vectors.T).toarray()
    assert np.allclose(np.diag(gram), 1.0, atol=1e-5)
    assert np.allclose(gram, gram.T) and gram[0, 1] > 0.3 and gram[0, 2] == 0


def test_tfidf_weights_match_the_formula_and_engine_batches_give_the_same_rows() -> None:
    import math

    from compare.core.distributed import LocalEngine

    texts = ["militia depot Baghdad blast blast", "Baghdad militia depot explosion", "heat wave Israel", "", "the of and"]
    vectors = tfidf_vectors(texts)
    # the first text by hand: sublinear tf x idf with 20 prior documents, then unit length
    idf = {word: math.log((1 + 5 + 20) / (1 + frequency)) for word, frequency in {"militia": 2, "depot": 2, "baghdad": 2, "blast": 1}.items()}
    expected = {word: (1 + math.log(2 if word == "blast" else 1)) * weight for word, weight in idf.items()}
    norm = math.sqrt(sum(value * value for value in expected.values()))
    assert sorted(vectors[0].data.tolist()) == pytest.approx(sorted(value / norm for value in expected.values()), rel=1e-6)
    assert vectors[3].nnz == 0 and vectors[4].nnz == 0  # no content words: an empty row, not NaN
    batched = tfidf_vectors(texts, engine=LocalEngine(batch_size=2))
    assert (batched != vectors).nnz == 0


def test_tfidf_word_bags_and_rows_spilled_to_disk_give_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.core.distributed import LocalEngine
    from compare.stories import grouping

    texts = [f"militia depot Baghdad blast number {n} in {'Mosul' if n % 3 else 'Basra'} district {n % 7}" for n in range(40)] + ["", "the of"]
    held = tfidf_vectors(texts, engine=LocalEngine(batch_size=4))
    monkeypatch.setattr(grouping, "TFIDF_HELD_WORDS", 10)  # all but the first batch's bags go to disk
    written: list[Path] = []
    original = np.savez

    def recording_savez(path: Path, **arrays: np.ndarray) -> None:
        written.append(Path(path))
        original(path, **arrays)

    monkeypatch.setattr(grouping.np, "savez", recording_savez)
    spilled = grouping.tfidf_rows((texts[at : at + 4] for at in range(0, len(texts), 4)), len(texts), spill_dir=tmp_path)
    assert len(written) >= 9 and all(path.parent.parent == tmp_path for path in written)
    assert isinstance(spilled, grouping.SpilledRows) and spilled.shape == held.shape
    assert [path.name.startswith(".tfidf-rows-") for path in tmp_path.iterdir()] == [True]  # the bags' folder is gone, the rows' is there
    every = np.arange(len(texts))
    assert (spilled[every] != held).nnz == 0
    picked = [41, 3, 40, 3, 17]  # any order, repeats, the empty texts' rows
    assert (spilled[picked] != held[picked]).nnz == 0 and spilled[picked].shape == (5, held.shape[1])
    assert spilled[np.array([], dtype=np.int64)].shape == (0, held.shape[1])
    monkeypatch.setattr(grouping, "_GATHER_GAP", 0)  # rows far apart: every row read on its own
    backwards = every[::-1]
    assert (spilled[backwards] != held[backwards]).nnz == 0 and (spilled[picked] != held[picked]).nnz == 0
    del spilled
    gc.collect()
    assert not list(tmp_path.iterdir())  # the rows' folder goes with them


def test_unknown_method_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="stories.method"):
        group_stories(frame([("a", T0), ("b", T0)]), np.stack([DEPOT, DEPOT]), [], StoryConfig(method="kmeans"))


def test_a_home_of_three_takes_on_one_story_keeps_the_shared_topic_words() -> None:
    # Every article names the same people and places; with IDF from these three texts alone those
    # words would weigh nothing and the takes would look unrelated (TF-IDF cosine near 0).
    takes = [
        "Clinton testified before the Senate about the Benghazi attack and the consulate security cables.",
        "Senators pressed Clinton on Benghazi, asking why requests for more consulate security went unanswered.",
        "At the Benghazi hearing Clinton defended the State Department and the consulate security review.",
    ]
    vectors = tfidf_vectors(takes)
    gram = (vectors @ vectors.T).toarray()
    assert gram[np.triu_indices(3, 1)].min() > 0.2


def test_engine_batches_give_the_same_stories() -> None:
    # Candidate scoring and TF-IDF word counts as engine batches (articles ordered by time, undated
    # last): the same stories as in one pass, on texts that share words across stories.
    from compare.core.distributed import LocalEngine
    from compare.embed.embedder import HashingEmbedder

    topics = ["militia depot blast Baghdad", "heat wave Israel record", "budget talks Congress spending", "football final penalties"]
    rng = np.random.default_rng(2)
    rows = []
    for number in range(60):
        topic = topics[number % 4]
        published = None if number % 7 == 0 else T0 + timedelta(days=int(rng.integers(0, 20)), hours=int(rng.integers(0, 24)))
        rows.append((f"a{number}", f"Outlet {number % 5}", None, f"{topic} report {number}. Officials said {topic} again.", published))
    articles = pl.DataFrame(rows, schema={"id": pl.String(), "outlet": pl.String(), "title": pl.String(), "text": pl.String(), "published": UTC_DATETIME}, orient="row")
    vectors = HashingEmbedder(32).encode(articles["text"].to_list())
    config = StoryConfig(min_similarity=0.35, mutual_floor=0.25)
    alone = group_stories(articles, vectors, [], config)
    batched = group_stories(articles, vectors, [], config, engine=LocalEngine(batch_size=3))
    assert stories_of(batched) == stories_of(alone)
    assert 4 < len(stories_of(alone)) < 60  # some articles joined, not all: the comparison is not vacuous


def test_undated_articles_pair_near_their_ingest_date_when_undated_days_is_set() -> None:
    articles = pl.DataFrame(
        [("dated", T0, T0), ("crawled-next-day", None, T0 + timedelta(days=1)), ("crawled-a-month-later", None, T0 + timedelta(days=30))],
        schema={"id": pl.String(), "published": UTC_DATETIME, "ingested_at": UTC_DATETIME}, orient="row",
    )
    vectors = np.stack([DEPOT, DEPOT_NEAR, DEPOT])
    config = StoryConfig(min_similarity=0.35)
    assert stories_of(group_stories(articles, vectors, [], config)) == {frozenset({"dated", "crawled-next-day", "crawled-a-month-later"})}
    bounded = group_stories(articles, vectors, [], replace(config, undated_days=2.0))
    assert stories_of(bounded) == {frozenset({"dated", "crawled-next-day"}), frozenset({"crawled-a-month-later"})}


def test_components_method_links_exactly_the_pairs_at_the_cut_inside_the_window() -> None:
    """Brute force over all pairs (neighbours > articles, so the search misses none): the stories are
    the connected components of cosine >= min_similarity within the window, undated pairing with all."""
    rng = np.random.default_rng(7)
    count = 60
    centres = rng.normal(size=(6, 16))
    vectors = centres[rng.integers(0, 6, count)] + 0.35 * rng.normal(size=(count, 16))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    dates = [None if rng.random() < 0.1 else T0 + timedelta(hours=float(rng.uniform(0, 240))) for _ in range(count)]
    articles = frame([(f"a{row:02d}", when) for row, when in enumerate(dates)])
    config = StoryConfig(min_similarity=0.8, window_days=3.0, neighbours=count + 5, method="components")
    parent = list(range(count))

    def root(row: int) -> int:
        while parent[row] != row:
            row = parent[row]
        return row

    similarity = vectors @ vectors.T
    for left in range(count):
        for right in range(left + 1, count):
            near = dates[left] is None or dates[right] is None or abs((dates[left] - dates[right]).total_seconds()) <= 3 * 86400
            if near and min(similarity[left, right], similarity[right, left]) >= 0.8:
                parent[root(left)] = root(right)
    expected: dict[int, set[str]] = {}
    for row in range(count):
        expected.setdefault(root(row), set()).add(f"a{row:02d}")
    result = group_stories(articles, vectors, [], config)
    assert stories_of(result) == {frozenset(group) for group in expected.values()}
    assert 1 < result["story_id"].n_unique() < count  # some joined, not all


def test_column_timestamps_are_the_datetimes_timestamps() -> None:
    from compare.core.timewindow import column_timestamps, timestamps

    dates = [T0 + timedelta(microseconds=123_457), None, datetime(1969, 7, 20, 20, 17, tzinfo=timezone.utc)]
    column = pl.Series("published", dates, dtype=UTC_DATETIME)
    assert np.array_equal(column_timestamps(column), timestamps(dates), equal_nan=True)
    assert np.isnan(column_timestamps(pl.Series("published", [None, None]))).all()


def test_outlet_codes_are_equal_for_equal_names_and_a_missing_outlet_is_its_own() -> None:
    from compare.core.schema import outlet_codes

    names = ["Ynet", None, "AP", "Ynet", None, "AP"]
    codes = outlet_codes(names)
    assert codes.tolist() == outlet_codes(pl.Series("outlet", names)).tolist()
    assert codes[0] == codes[3] and codes[1] == codes[4] and codes[2] == codes[5]
    assert len({int(codes[0]), int(codes[1]), int(codes[2])}) == 3
