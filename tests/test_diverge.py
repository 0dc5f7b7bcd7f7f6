"""compare.diverge: quantity parsing and the four detectors on hand-made claim groups."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.diverge import (
    ClaimRef,
    Divergence,
    actor_divergences,
    actor_swaps,
    attribution_divergences,
    attribution_of,
    differing_spans,
    extract_quantities,
    find_divergences,
    framing_divergences,
    hedge_divergences,
    hedges_of,
    intensifier_divergences,
    intensifiers_of,
    number_divergences,
    same_source,
)


def claim(outlet: str, text: str, n: int = 0) -> ClaimRef:
    return ClaimRef(claim_id=f"{outlet}-art:{n}", article_id=f"{outlet}-art", outlet=outlet, start=10 * n, end=10 * n + len(text), text=text)


def group(*items: tuple[str, str]) -> list[ClaimRef]:
    return [claim(outlet, text, n) for n, (outlet, text) in enumerate(items)]


def sides(divergence: Divergence) -> list[tuple[str, tuple[str, ...]]]:
    return [(side.value, side.outlets) for side in divergence.sides]


def quantities(text: str) -> list[tuple[str, float]]:
    return [(q.key, q.value) for q in extract_quantities(text)]


# ---------------------------------------------------------------- extract_quantities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The blasts killed two militia fighters and wounded 29 people.", [("fighters", 2.0), ("people", 29.0)]),
        ("Police arrested 12 men.", [("men", 12.0)]),
        ("Twelve soldiers were wounded.", [("soldiers", 12.0)]),
        ("A dozen soldiers were wounded.", [("soldiers", 12.0)]),
        ("More than 1,200 people were evacuated.", [("people", 1200.0)]),
        ("The strike killed 3 people, including 2 children.", [("people", 3.0), ("children", 2.0)]),
        ("The depot lies 80 km north of Baghdad.", [("distance (km)", 80.0)]),
        ("The depot lies 80 kilometres north of Baghdad.", [("distance (km)", 80.0)]),
        ("The depot lies some 50 miles north of Baghdad.", [("distance (km)", pytest.approx(80.45))]),
        ("The crater was 300 metres wide.", [("distance (km)", pytest.approx(0.3))]),
        ("The aid package is worth $2.5 million, officials said.", [("money (USD)", 2.5e6)]),
        ("He paid $400 for it.", [("money (USD)", 400.0)]),
        ("Unemployment rose to 7.5% in March.", [("percent", 7.5)]),
        ("Unemployment rose to 7.5 per cent in March.", [("percent", 7.5)]),
        ("Prices rose 4 percent last year.", [("percent", 4.0)]),
        ("He was sentenced to 12 years in prison.", [("years", 12.0)]),
        ("The fire burned for 2 days.", [("days", 2.0)]),
    ],
)
def test_extract_quantities(text: str, expected: list[tuple[str, float]]) -> None:
    assert quantities(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "In 2024 the jets flew over the city.",
        "The war began in 1948 and ended later.",
        "The F-35 flew over the city.",
        "COVID-19 spread in the city.",
        "Flight MH17 crashed in the east.",
        "The officials met again on Monday.",
    ],
)
def test_years_and_names_are_not_quantities(text: str) -> None:
    assert extract_quantities(text) == []


def test_surface_keeps_the_words_as_written() -> None:
    surfaces = [q.surface for q in extract_quantities("The blasts killed two militia fighters and wounded 29 people.")]
    assert surfaces == ["two militia fighters", "29 people"]
    assert [q.surface for q in extract_quantities("The depot lies some 50 miles north.")] == ["50 miles"]


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["people", "soldiers", "km", "miles", "percent"]))
def test_number_parsing_round_trips(value: int, unit: str) -> None:
    factor = {"miles": 1.609}.get(unit, 1.0)
    for written in (str(value), f"{value:,}"):
        if written.isdigit() and 1900 <= value <= 2100:
            continue  # read as a year on purpose ("In 2000 soldiers ..."); with a unit it is a measure
        found = extract_quantities(f"Officials counted {written} {unit} there.")
        assert len(found) == 1
        assert found[0].value == pytest.approx(value * factor)


@pytest.mark.parametrize(
    ("text", "key"),
    [("The pipeline runs 2000 km to the coast.", "distance (km)"), ("The aid was $2000 per family.", "money (USD)"),
     ("Prices rose 2000% in a year.", "percent")],
    ids=["km", "dollars", "percent"],
)
def test_year_range_numbers_with_units_are_quantities(text: str, key: str) -> None:
    assert quantities(text) == [(key, 2000.0)]


def test_year_range_number_before_a_noun_is_a_year() -> None:
    assert extract_quantities("In 2000 soldiers entered the city.") == []


def test_written_hundreds_are_multiplied() -> None:
    assert quantities("Five hundred people were evacuated.") == [("people", 500.0)]


def test_counted_noun_is_not_the_following_verb() -> None:
    assert quantities("Two soldiers died in the attack.") == [("soldiers", 2.0)]
    assert quantities("Over 2,000 people fled.") == [("people", 2000.0)]


@pytest.mark.parametrize(
    "text", ["In 2024 three soldiers were killed.", "The F-16 crashed and two soldiers were killed."], ids=["year", "name"]
)
def test_number_after_a_skipped_year_or_name_is_found(text: str) -> None:
    assert [q.key for q in extract_quantities(text)] == ["soldiers"]


def test_day_of_month_is_not_a_count() -> None:
    assert quantities("On March 3 two people were killed.") == [("people", 2.0)]


# ---------------------------------------------------------------- number divergences


def test_km_and_miles_within_ten_percent_agree() -> None:
    claims = group(("AP", "The depot lies 80 km north of Baghdad."), ("BBC", "The depot lies some 50 miles north of Baghdad."))
    assert number_divergences("g1", claims) == []


def test_different_distances_diverge() -> None:
    claims = group(("AP", "The depot lies 80 km north of Baghdad."), ("BBC", "The depot lies 100 km north of Baghdad."))
    [divergence] = number_divergences("g1", claims)
    assert (divergence.kind, divergence.group_id, divergence.subject) == ("number", "g1", "distance (km)")
    assert sides(divergence) == [("80 km", ("AP",)), ("100 km", ("BBC",))]
    assert divergence.sides[1].claims == (claims[1],)


def test_written_death_toll_diverges_but_shared_count_does_not() -> None:
    claims = group(
        ("AP", "The blasts killed two militia fighters and wounded 29 people."),
        ("TOI", "The blasts killed two militia fighters and wounded 29 people."),
        ("Ynet", "The blasts killed five militia fighters and wounded 29 people."),
    )
    [divergence] = number_divergences("g", claims)
    assert divergence.subject == "fighters"
    assert sides(divergence) == [("two militia fighters", ("AP", "TOI")), ("five militia fighters", ("Ynet",))]


def test_money_and_percent_divergences() -> None:
    money = group(("AP", "The package is worth $2.5 million."), ("BBC", "The package is worth $4 million."))
    assert [d.subject for d in number_divergences("g", money)] == ["money (USD)"]
    percent = group(("AP", "Turnout was 40% this year."), ("BBC", "Turnout was 40 per cent this year."))
    assert number_divergences("g", percent) == []
    percent_diff = group(("AP", "Turnout was 40% this year."), ("BBC", "Turnout was 55 percent this year."))
    assert [d.subject for d in number_divergences("g", percent_diff)] == ["percent"]


def test_years_and_model_names_do_not_diverge() -> None:
    claims = group(("AP", "In 2024 the F-35 jets struck the depot."), ("BBC", "In 2023 the F-16 jets struck the depot."))
    assert number_divergences("g", claims) == []


def test_numbers_within_one_outlet_do_not_diverge() -> None:
    claims = group(("AP", "The depot lies 80 km north of Baghdad."), ("AP", "The depot lies 100 km north of Baghdad."))
    assert number_divergences("g", claims) == []


# ---------------------------------------------------------------- actors


def test_blamed_united_states_vs_israel_is_an_actor_divergence() -> None:
    claims = group(
        ("AP", "The minister blamed the United States for the attack on the depot."),
        ("BBC", "The minister blamed Israel for the attack on the depot."),
    )
    [divergence] = actor_divergences("g", claims)
    assert divergence.kind == "actor"
    assert sides(divergence) == [("the United States", ("AP",)), ("Israel", ("BBC",))]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Iraq officials said the depot was hit by a drone overnight.", "Iraqi officials said the depot was hit by a drone overnight."),
        ("Shiite militia leaders vowed revenge for the strike on Tuesday.", "Shia militia leaders vowed revenge for the strike on Tuesday."),
        ("The depot was hit by a drone on Tuesday night.", "The depot was hit by a drone on Wednesday night."),
        ("Officials said the depot was hit.", "Witnesses said the depot was hit."),
    ],
)
def test_variants_and_non_actor_changes_are_not_actor_swaps(left: str, right: str) -> None:
    assert actor_divergences("g", group(("AP", left), ("BBC", right))) == []


def test_loose_paraphrase_is_not_compared_for_actors() -> None:
    assert actor_swaps("Israel struck a depot north of Baghdad.", "Officials in Tehran condemned what they called aggression by Washington.") == []


def test_actor_swap_within_one_outlet_is_ignored() -> None:
    claims = group(
        ("AP", "The minister blamed the United States for the attack on the depot."),
        ("AP", "The minister blamed Israel for the attack on the depot."),
    )
    assert actor_divergences("g", claims) == []


# ---------------------------------------------------------------- attribution and hedging


def test_attributed_vs_stated_as_fact() -> None:
    claims = group(
        ("Asharq", "Israel carried out the strike, according to Western diplomatic sources."),
        ("Hayom", "Israel carried out the strike."),
    )
    [divergence] = attribution_divergences("g", claims)
    assert sides(divergence) == [("attributed to Western diplomatic sources", ("Asharq",)), ("stated as fact", ("Hayom",))]


def test_both_outlets_attributing_to_different_sources_names_both() -> None:
    claims = group(
        ("AP", "Israel carried out the strike, according to Western diplomatic sources."),
        ("BBC", "Israel carried out the strike, officials told Reuters."),
    )
    [divergence] = attribution_divergences("g", claims)  # no "stated as fact" side: both attribute
    assert divergence.subject == "attributed to different sources"
    assert sides(divergence) == [("attributed to Western diplomatic sources", ("AP",)), ("attributed to officials", ("BBC",))]


def test_same_source_in_different_words_is_not_a_divergence() -> None:
    claims = group(
        ("AP", "The blasts were caused by a drone, Iraqi officials said."),
        ("BBC", "The blasts were caused by a drone, according to officials."),
        ("TOI", "The blasts were caused by a drone, he said."),
    )
    assert attribution_divergences("g", claims) == []


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [("officials", "Iraqi officials", True), ("the army", "army", True), ("army", "militia commander", False),
     ("Western diplomatic sources", "diplomatic sources", True), ("police", "witnesses", False)],
)
def test_same_source(left: str, right: str, same: bool) -> None:
    assert same_source(left, right) is same


def test_outlet_with_both_forms_is_not_counted_as_stating_fact() -> None:
    claims = group(
        ("AP", "Israel carried out the strike, officials said."),
        ("AP", "Israel carried out the strike."),
        ("BBC", "Israel carried out the strike, according to officials."),
    )
    assert attribution_divergences("g", claims) == []


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("Israel carried out the strike, according to Western diplomatic sources.", "Western diplomatic sources"),
        ("Israel carried out the strike, the army said.", "army"),
        ("The depot was hit, citing two officials.", "citing two officials"),
        ("Israel carried out the strike.", None),
    ],
)
def test_attribution_of(text: str, who: str | None) -> None:
    assert attribution_of(text) == who


def test_hedged_vs_asserted() -> None:
    claims = group(("AP", "Israel reportedly carried out the strike."), ("BBC", "Israel carried out the strike."))
    [divergence] = hedge_divergences("g", claims)
    assert divergence.kind == "hedge"
    assert sides(divergence) == [("reportedly", ("AP",)), ("no hedge", ("BBC",))]


def test_two_different_hedges_are_not_a_hedge_divergence() -> None:
    claims = group(("AP", "Israel reportedly carried out the strike."), ("BBC", "Israel allegedly carried out the strike."))
    assert hedge_divergences("g", claims) == []
    assert hedges_of("It is unclear who likely may have fired.") == ("it is unclear", "likely", "may have")


# ---------------------------------------------------------------- all detectors


def test_find_divergences_single_outlet_group_is_empty() -> None:
    claims = group(
        ("AP", "The depot lies 80 km north of Baghdad."),
        ("AP", "Israel reportedly carried out the strike, officials said."),
        ("AP", "The depot lies 100 km north of Baghdad."),
    )
    assert find_divergences("g", claims) == []


def test_find_divergences_reports_each_kind_once() -> None:
    claims = group(
        ("AP", "Israel reportedly struck the depot 80 km north of Baghdad, according to officials."),
        ("BBC", "Israel struck the depot 100 km north of Baghdad."),
    )
    assert sorted(d.kind for d in find_divergences("g7", claims)) == ["attribution", "hedge", "number"]
    assert {d.group_id for d in find_divergences("g7", claims)} == {"g7"}


def test_find_divergences_identical_claims_is_empty() -> None:
    text = "Israel struck the depot 80 km north of Baghdad, killing two militia fighters."
    assert find_divergences("g", group(("AP", text), ("BBC", text), ("TOI", text))) == []


# ---------------------------------------------------------------- vague amounts and ages


@pytest.mark.parametrize(
    ("left", "right", "diverge"),
    [
        ("Dozens of people were wounded in the blast.", "12 people were wounded in the blast.", True),
        ("Dozens of people were wounded in the blast.", "30 people were wounded in the blast.", False),
        ("Hundreds of people fled the town.", "50 people fled the town.", True),
        ("Hundreds of people fled the town.", "Some 400 people fled the town.", False),
        ("A dozen people were wounded.", "12 people were wounded.", False),
        ("Several soldiers were hurt.", "Five soldiers were hurt.", False),
    ],
)
def test_vague_amounts_are_ranges(left: str, right: str, diverge: bool) -> None:
    found = number_divergences("g", group(("AP", left), ("BBC", right)))
    assert bool(found) is diverge
    if found:
        assert found[0].subject == "people"


def test_dozens_of_counts_the_noun() -> None:
    [quantity] = extract_quantities("Dozens of people were wounded.")
    assert (quantity.key, quantity.value, quantity.high, quantity.surface) == ("people", 24.0, 99.0, "Dozens of people")


def test_ages_differ() -> None:
    claims = group(("AP", "The driver, a 45-year-old man, was arrested."), ("BBC", "The driver, aged 54, was arrested."))
    [divergence] = number_divergences("g", claims)
    assert divergence.subject == "age"
    assert sides(divergence) == [("45-year-old", ("AP",)), ("aged 54", ("BBC",))]


# ---------------------------------------------------------------- certainty


def test_mysterious_is_a_hedge_and_confirmed_an_intensifier() -> None:
    assert hedges_of("A mysterious explosion hit the depot.") == ("mysterious",)
    assert intensifiers_of("Officials confirmed that Israel clearly struck the depot.") == ("clearly", "confirmed")
    claims = group(("AP", "A mysterious explosion hit the depot."), ("BBC", "An explosion hit the depot."))
    [divergence] = hedge_divergences("g", claims)
    assert sides(divergence) == [("mysterious", ("AP",)), ("no hedge", ("BBC",))]


def test_intensified_vs_plain() -> None:
    claims = group(("AP", "Israel clearly carried out the strike."), ("BBC", "Israel carried out the strike."))
    [divergence] = intensifier_divergences("g", claims)
    assert (divergence.kind, divergence.subject) == ("intensifier", "stressed vs plain")
    assert sides(divergence) == [("clearly", ("AP",)), ("no intensifier", ("BBC",))]
    assert intensifier_divergences("g", group(("AP", "Israel clearly struck."), ("BBC", "Israel undoubtedly struck."))) == []


# ---------------------------------------------------------------- framing


def test_term_swap_found_from_aligned_pair_not_in_lexicon() -> None:
    claims = group(
        ("AP", "Settlers torched three cars in the village overnight, residents said."),
        ("BBC", "Colonists torched three cars in the village overnight, residents said."),
    )
    [divergence] = framing_divergences("g", claims)
    assert (divergence.kind, divergence.subject) == ("framing", "word choice")
    assert sides(divergence) == [("Settlers", ("AP",)), ("Colonists", ("BBC",))]


def test_three_outlets_three_terms_for_one_group() -> None:
    claims = group(
        ("AP", "The militia fired rockets at the border town on Tuesday."),
        ("AJ", "The resistance group fired rockets at the border town on Tuesday."),
        ("TOI", "The terrorist organisation fired rockets at the border town on Tuesday."),
    )
    [divergence] = framing_divergences("g", claims)
    assert {side.value: side.outlets for side in divergence.sides} == {
        "militia": ("AP",), "resistance group": ("AJ",), "terrorist organisation": ("TOI",),
    }


def test_lexicon_catches_loose_paraphrase() -> None:
    claims = group(
        ("AP", "Israel said its jets hit the depot."),
        ("AJ", "Warplanes of the Zionist entity struck a weapons store, the group said."),
    )
    [divergence] = framing_divergences("g", claims)
    assert divergence.subject == "Israel"
    assert {side.value: side.outlets for side in divergence.sides} == {"Israel": ("AP",), "the Zionist entity": ("AJ",)}


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Shiite militias control the area north of the city.", "Shia militias control the area north of the city."),
        ("The explosion destroyed the depot near the base.", "The explosions destroyed the depot near the base."),
        ("The depot lies 80 km north of Baghdad.", "The depot lies 100 km north of Baghdad."),
        ("Israel reportedly struck the depot.", "Israel allegedly struck the depot."),
        ("Officials said the depot was hit.", "Witnesses told reporters the depot was hit."),
        ("The minister blamed the United States for the attack.", "The minister blamed Israel for the attack."),
    ],
    ids=["spelling", "inflection", "number", "hedge", "speaker", "actor"],
)
def test_non_framing_differences_are_ignored(left: str, right: str) -> None:
    assert framing_divergences("g", group(("AP", left), ("BBC", right))) == []


def test_same_terms_everywhere_is_not_framing() -> None:
    text = "The militia fired rockets at the town."
    assert framing_divergences("g", group(("AP", text), ("BBC", text))) == []


def test_differing_spans_point_at_the_changed_words() -> None:
    left = "A senior militia commander blamed the United States for the attack."
    right = "A senior militia commander blamed Israel for the attack."
    [(start, end)] = differing_spans(left, right)
    assert left[start:end] == "the United States"
    [(start, end)] = differing_spans(right, left)
    assert right[start:end] == "Israel"
    assert differing_spans(left, left) == []


def test_jewish_state_vs_israel_is_framing_not_an_actor_swap() -> None:
    claims = group(
        ("AP", "Rockets were fired at Israel from the north on Monday night."),
        ("AJ", "Rockets were fired at the Jewish state from the north on Monday night."),
    )
    assert actor_divergences("g", claims) == []
    [divergence] = framing_divergences("g", claims)
    assert {side.value for side in divergence.sides} == {"Israel", "the Jewish state"}


def test_reported_speech_with_an_unfound_speaker_is_not_stated_as_fact() -> None:
    claims = group(
        ("AP", "Trump, who placed second in a recent poll of likely Republican voters, said he would decide by June."),
        ("BBC", "Trump will decide by June, according to his spokesman."),
    )
    assert attribution_divergences("g", claims) == []
    quoted = group(("AP", '"I will decide by June," Trump wrote.'), ("BBC", "Trump will decide by June, his aides claimed."))
    assert [d.subject for d in attribution_divergences("g", quoted)] != ["attributed vs stated as fact"]


def test_transliteration_variants_are_not_actor_swaps() -> None:
    claims = group(
        ("AP", "Trump accused Obama of mishandling the war against Muammar Gaddafi in Libya."),
        ("BBC", "Trump accused Obama of mishandling the war against Moammar Gadhafi in Libya."),
    )
    assert actor_divergences("g", claims) == []


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ('"I am not pro-gay marriage," Liz Cheney reportedly said.', "Liz Cheney"),
        ("Their father supports it, and the younger Cheney echoed some of his language on the issue when she added it.", "claimed"),
        ("The depot was hit, the former vice president said.", "former vice president"),
    ],
)
def test_speaker_is_cleaned(text: str, who: str) -> None:
    assert attribution_of(text) == who


def test_several_values_in_one_shared_sentence_are_not_a_divergence() -> None:
    text = "Romney leads with 21 percent, followed by Trump and Huckabee at 17 percent each."
    assert number_divergences("g", group(("Fox", text), ("HuffPost", text))) == []
    other = "Romney leads with 21 percent, followed by Trump and Huckabee at 19 percent each."
    assert [d.subject for d in number_divergences("g", group(("Fox", text), ("HuffPost", other)))] == ["percent"]
