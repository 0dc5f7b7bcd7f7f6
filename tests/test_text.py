"""compare.text: claim splitting (offsets, abbreviations, quotes, datelines, boilerplate) and normalisation."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.schema import CLAIM_SCHEMA
from compare.text import claims_frame, lede, normalize_for_matching, split_claims, words


def claim_texts(article: str) -> list[str]:
    return [claim.text for claim in split_claims(article)]


# ---------------------------------------------------------------- offsets (property)

_WORDS = st.sampled_from(
    [
        "the", "army", "said", "Gen.", "U.S.", "Mr.", "Lt.-Col.", "Dr.", "Baghdad", "officials", "29", "3.5",
        "killed", "\"We", "will", "not", "leave.\"", "“They", "came.”", "(AP)", "—", "-", "Aug.", "e.g.",
        "km", "Israel", "reportedly", "BAGHDAD", "It", "A.", "and", "'quote'", "no.", "42%", "Ωmega", "naïve",
    ]
)
_SENTENCE = st.builds(
    lambda tokens, end: " ".join(tokens) + end,
    st.lists(_WORDS, min_size=1, max_size=12),
    st.sampled_from([".", "!", "?", "", ".\"", "?”", "..."]),
)
_PARAGRAPH = st.builds(lambda sentences, gap: gap.join(sentences), st.lists(_SENTENCE, min_size=1, max_size=5), st.sampled_from([" ", "  ", "\t", " \n"]))
_ARTICLE = st.builds(
    lambda paragraphs, separator, lead, tail: lead + separator.join(paragraphs) + tail,
    st.lists(_PARAGRAPH, min_size=1, max_size=5),
    st.sampled_from(["\n\n", "\n", "\n \n", "\r\n\r\n"]),
    st.sampled_from(["", "  ", "\n", "BAGHDAD (AP) — ", "JERUSALEM, Aug. 20 (Reuters) - ", "Sign up for our newsletter\n\n"]),
    st.sampled_from(["", "\n", "  \n\nRead more: other things here"]),
)


def assert_offsets_exact(article: str) -> None:
    claims = split_claims(article)
    assert [claim.position for claim in claims] == list(range(len(claims)))
    previous_end = 0
    for claim in claims:
        assert article[claim.start : claim.end] == claim.text
        assert previous_end <= claim.start < claim.end <= len(article)
        assert claim.text == claim.text.strip()
        assert len(claim.text.split()) >= 3
        previous_end = claim.end


@settings(max_examples=300, deadline=None)
@given(_ARTICLE)
def test_split_claims_offsets_are_exact_on_generated_articles(article: str) -> None:
    assert_offsets_exact(article)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcXYZ .!?\"“”'’()—-\n\t,0123456789")), max_size=300))
def test_split_claims_offsets_are_exact_on_arbitrary_text(article: str) -> None:
    assert_offsets_exact(article)


# ---------------------------------------------------------------- sentence rules


def test_two_plain_sentences_are_two_claims_with_offsets() -> None:
    article = "The army said three soldiers were hurt. Officials closed the road overnight."
    claims = split_claims(article)
    assert [(c.start, c.end) for c in claims] == [(0, 39), (40, len(article))]
    assert claim_texts(article) == ["The army said three soldiers were hurt.", "Officials closed the road overnight."]


@pytest.mark.parametrize(
    "article",
    [
        "Gen. Smith met the envoy in Baghdad on Monday.",
        "The talks with the U.S. Secretary of State ended late on Monday.",
        "Lt.-Col. Jones said the convoy was hit twice.",
        "Mr. Brown told Dr. Green that the road was closed.",
        "He met officials from the U.N. Security Council on Monday.",
    ],
)
def test_abbreviations_do_not_split(article: str) -> None:
    assert claim_texts(article) == [article]


def test_abbreviation_then_real_boundary_splits_once() -> None:
    article = "Gen. Smith met U.S. officials on Monday. Lt.-Col. Jones said Mr. Brown was absent."
    assert claim_texts(article) == ["Gen. Smith met U.S. officials on Monday.", "Lt.-Col. Jones said Mr. Brown was absent."]


@pytest.mark.parametrize(
    ("article", "quoted"),
    [
        (
            'The minister said "We will not back down. The strike was legal." He then left the room.',
            'The minister said "We will not back down. The strike was legal."',
        ),
        (
            "The minister said “We will not back down. The strike was legal.” He then left the room.",
            "The minister said “We will not back down. The strike was legal.”",
        ),
    ],
)
def test_quote_with_two_sentences_stays_one_claim(article: str, quoted: str) -> None:
    assert claim_texts(article) == [quoted, "He then left the room."]


@pytest.mark.parametrize(
    ("article", "first"),
    [
        ("BAGHDAD (AP) — A powerful explosion tore through a depot on Tuesday. Officials said it was huge.",
         "A powerful explosion tore through a depot on Tuesday."),
        ("JERUSALEM, Aug. 20 (Reuters) - Israel said on Sunday it had struck targets. Nobody was hurt.",
         "Israel said on Sunday it had struck targets."),
        ("GAZA CITY — Three people died in the strike. Rescuers searched the rubble.", "Three people died in the strike."),
    ],
)
def test_dateline_is_stripped_from_first_claim(article: str, first: str) -> None:
    claims = split_claims(article)
    assert claims[0].text == first
    assert article[claims[0].start : claims[0].end] == first
    assert "(AP)" not in claims[0].text and "Reuters" not in claims[0].text


def test_dateline_is_stripped_only_from_the_first_claim() -> None:
    article = "Officials said the depot burned for hours.\n\nBAGHDAD — Residents said they heard two blasts."
    assert claim_texts(article)[1] == "BAGHDAD — Residents said they heard two blasts."


@pytest.mark.parametrize(
    "prefix", ["\n", "  ", "Sign up for our newsletter\n\n", "Updated.\n\n"], ids=["newline", "spaces", "boilerplate", "fragment"]
)
def test_dateline_is_stripped_when_first_claim_is_not_at_offset_zero(prefix: str) -> None:
    article = prefix + "BAGHDAD (AP) — A depot exploded on Tuesday night."
    assert claim_texts(article) == ["A depot exploded on Tuesday night."]


@pytest.mark.parametrize(
    "boilerplate",
    [
        "Sign up for our newsletter to get the news first.",
        "Subscribe to our daily briefing now.",
        "Read more: Israel strikes targets in Syria",
        "Reporting by Jane Doe; editing by John Roe",
        "Copyright 2026 The Associated Press. All rights reserved.",
        "(AP Photo/John Roe) Smoke rises over the depot.",
    ],
)
def test_boilerplate_lines_are_dropped(boilerplate: str) -> None:
    article = f"The army said three soldiers were hurt.\n\n{boilerplate}\n\nOfficials closed the road overnight."
    assert claim_texts(article) == ["The army said three soldiers were hurt.", "Officials closed the road overnight."]


def test_fragments_under_three_words_are_dropped() -> None:
    assert claim_texts("Breaking news.\n\nThe depot exploded on Tuesday.\n\nUpdated.") == ["The depot exploded on Tuesday."]


def test_empty_and_whitespace_articles_have_no_claims() -> None:
    assert split_claims("") == []
    assert split_claims(" \n\n\t ") == []


def test_claims_frame_follows_schema_and_ids() -> None:
    articles = pl.DataFrame(
        {"id": ["a1", "a2"], "outlet": ["AP", "BBC"], "text": ["One two three four. Five six seven eight.", "Nine ten eleven twelve."]}
    )
    frame = claims_frame(articles)
    assert frame.schema == pl.Schema(CLAIM_SCHEMA)
    assert frame["claim_id"].to_list() == ["a1:0", "a1:1", "a2:0"]
    assert frame["outlet"].to_list() == ["AP", "AP", "BBC"]
    assert frame["start"].to_list() == [0, 20, 0]


def test_lede_is_first_two_claims() -> None:
    article = "BAGHDAD (AP) — A depot exploded on Tuesday. Two fighters were killed. The cause is unknown."
    assert lede(article) == "A depot exploded on Tuesday. Two fighters were killed."
    assert lede(article, 1) == "A depot exploded on Tuesday."


# ---------------------------------------------------------------- normalisation


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_normalize_for_matching_is_idempotent(text: str) -> None:
    once = normalize_for_matching(text)
    assert normalize_for_matching(once) == once


def test_normalize_for_matching_ignores_quotes_case_and_punctuation() -> None:
    assert normalize_for_matching("“Hello,” he SAID — ‘twice’!") == normalize_for_matching('"hello," He said - \'twice\'')
    assert normalize_for_matching("“Hello,” he SAID — ‘twice’!") == "hello he said twice"


def test_normalize_for_matching_folds_width_and_spaces() -> None:
    assert normalize_for_matching("ＢＡＧＨＤＡＤ\t  strike\n") == "baghdad strike"
    assert normalize_for_matching("Straße") == normalize_for_matching("STRASSE")


def test_normalize_keeps_distinct_words_distinct() -> None:
    assert normalize_for_matching("80 km north") != normalize_for_matching("100 km north")
    assert words("The U.S. Army's base") == ["the", "u", "s", "army", "s", "base"]


# ---------------------------------------------------------------- news furniture (issue 4)


@pytest.mark.parametrize(
    ("article", "first"),
    [
        ("BAGHDAD (Reuters) - Iraq's prime minister ordered an inquiry. Nobody was hurt.", "Iraq's prime minister ordered an inquiry."),
        ("BAGHDAD, Iraq (AP) — A depot exploded north of the capital. Fire crews came.", "A depot exploded north of the capital."),
        ("(Reuters) - Israel said on Sunday it had struck targets. Nobody was hurt.", "Israel said on Sunday it had struck targets."),
        ("RIYADH: Saudi Arabia welcomed the truce on Monday. Talks resume soon.", "Saudi Arabia welcomed the truce on Monday."),
        ("DUBAI, UAE: Flights resumed at the airport after the storm. Delays remain.", "Flights resumed at the airport after the storm."),
    ],
)
def test_more_dateline_forms_are_stripped(article: str, first: str) -> None:
    claims = split_claims(article)
    assert claims[0].text == first
    assert article[claims[0].start : claims[0].end] == first


def test_mixed_case_label_is_not_taken_for_a_dateline() -> None:
    assert claim_texts("Update: the depot fire is out, officials said.") == ["Update: the depot fire is out, officials said."]


@pytest.mark.parametrize(
    "byline",
    ["By JANE DOE", "By Jane Doe and John Roe, Associated Press", "By TOI staff", "by Jane Doe & John Roe"],
)
def test_byline_paragraphs_are_dropped(byline: str) -> None:
    article = f"{byline}\n\nBAGHDAD (AP) — A depot exploded on Tuesday night. Officials closed the road."
    assert claim_texts(article) == ["A depot exploded on Tuesday night.", "Officials closed the road."]


def test_a_sentence_starting_with_by_is_kept() -> None:
    article = "By Tuesday night the fire had spread to a second depot, officials said."
    assert claim_texts(article) == [article]


@pytest.mark.parametrize(
    "caption",
    [
        "Smoke rises over the depot north of Baghdad on Tuesday. (AP Photo/John Roe)",
        "Firefighters work at the scene of the blast. (Photo: Reuters)",
        "Rescuers search the rubble, August 20, 2026. Credit: Getty Images",
        "Iraqi soldiers guard the entrance to the base (John Roe/AFP)",
        "An aerial view of the damaged depot (File photo)",
    ],
)
def test_photo_captions_are_dropped(caption: str) -> None:
    article = f"The army said three soldiers were hurt.\n\n{caption}\n\nOfficials closed the road overnight."
    assert claim_texts(article) == ["The army said three soldiers were hurt.", "Officials closed the road overnight."]


@pytest.mark.parametrize(
    "boilerplate",
    [
        "Sign up for our newsletter",
        "Also read: Strikes hit Syria overnight",
        "Listen to this article",
        "Download the app for the latest news.",
        "(Additional reporting by Jane Doe in Baghdad; Editing by John Roe)",
        "© 2026 Example Media. All rights reserved.",
        "We use cookies to improve your experience on our site.",
        "Join our WhatsApp channel for updates.",
    ],
)
def test_more_boilerplate_is_dropped(boilerplate: str) -> None:
    article = f"The army said three soldiers were hurt.\n\n{boilerplate}\n\nOfficials closed the road overnight."
    assert claim_texts(article) == ["The army said three soldiers were hurt.", "Officials closed the road overnight."]


def test_news_sentences_about_apps_and_photos_are_kept() -> None:
    article = "WhatsApp said on Monday that its service was restored. The photo was taken by a resident on Tuesday."
    assert claim_texts(article) == ["WhatsApp said on Monday that its service was restored.", "The photo was taken by a resident on Tuesday."]


@pytest.mark.parametrize(
    "article",
    [
        "Brig.-Gen. Hagari said the strike hit a U.S.-made launcher.",
        "The meeting starts at 10 a.m. Tuesday in the capital.",
        "Lt.Col. Cohen told reporters the road was reopened.",
        "Sens. Smith and Jones asked the U.S.A. envoy for a briefing.",
    ],
)
def test_more_abbreviations_do_not_split(article: str) -> None:
    assert claim_texts(article) == [article]


def test_quote_spanning_three_sentences_is_one_claim() -> None:
    article = '“We were asleep. Then the windows blew in. Everyone ran,” a resident said. Police arrived later.'
    assert claim_texts(article) == ['“We were asleep. Then the windows blew in. Everyone ran,” a resident said.', "Police arrived later."]


def test_quote_running_into_next_paragraph_keeps_paragraphs_apart() -> None:
    # News style: an open quote continues in the next paragraph, which reopens it.
    article = '"We will rebuild the depot. It will take a year.\n\n"We ask for patience," the mayor said. Police left the area.'
    assert claim_texts(article) == [
        '"We will rebuild the depot. It will take a year.',
        '"We ask for patience," the mayor said.',
        "Police left the area.",
    ]


def test_stray_quote_mark_does_not_swallow_a_long_paragraph() -> None:
    sentence = "Officials said the convoy was hit twice near the border crossing on Monday night."
    article = 'He said " the strike was legal. ' + " ".join([sentence] * 20)
    assert len(split_claims(article)) > 8
    assert_offsets_exact(article)


def test_normalize_for_embedding_keeps_case_and_punctuation_but_folds_quotes_and_spaces() -> None:
    from compare.text import normalize_for_embedding

    assert normalize_for_embedding("  “Hello,”\n he SAID ") == '"Hello," he SAID'
    assert normalize_for_embedding(normalize_for_embedding("ＡＢ  c")) == normalize_for_embedding("ＡＢ  c") == "AB c"


def test_short_sentence_starting_with_by_is_not_a_byline() -> None:
    assert claim_texts("By then the crowd had swelled to hundreds.") == ["By then the crowd had swelled to hundreds."]
    assert claim_texts("By the BBC's Anthony Zurcher in Washington\n\nThe talks ended on Monday night.") == ["The talks ended on Monday night."]


def test_split_fact_units_keeps_offsets_and_short_pieces() -> None:
    from compare.text import split_fact_units

    text = (
        "The council voted 7-2 to close the bridge; repairs will cost $4 million over the coming year.\n\n"
        "Roe said it was needed, but critics said the vote was rushed through without any debate."
    )
    units = split_fact_units(text)
    assert [u.text for u in units] == [
        "The council voted 7-2 to close the bridge",
        "repairs will cost $4 million over the coming year.",
        "Roe said it was needed, but critics said the vote was rushed through without any debate.",
    ]
    assert all(text[u.start:u.end] == u.text for u in units) and [u.position for u in units] == [0, 1, 2]
