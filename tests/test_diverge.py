"""compare.diverge: each detector on small invented claim groups (must flag / must not flag), with and
without the spaCy model, and the time each stage takes on crafted input relative to a normal claim."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.diverge import (
    KINDS,
    LEGACY_KINDS,
    NLP_MISSING_NOTE,
    ClaimRef,
    DivergeConfig,
    Divergence,
    actor_divergences,
    attribution_divergences,
    attribution_of,
    certainty_divergences,
    contradiction_divergences,
    differing_spans,
    extract_quantities,
    find_divergences,
    framing_divergences,
    hedges_of,
    misquote,
    nlp_available,
    nlp_note,
    number_divergences,
    same_quantity,
    same_source,
    story_label_divergences,
)

PATTERNS = DivergeConfig(use_nlp=False)
needs_model = pytest.mark.skipif(
    not nlp_available(), reason="spaCy English model not installed (pip install compare-news[nlp]); parse-based detectors are off"
)
# Every detector that works without the model runs in both modes.
both_modes = pytest.mark.parametrize(
    "config", [PATTERNS, pytest.param(DivergeConfig(use_nlp=True), marks=needs_model)], ids=["patterns", "parse"]
)


def claim(outlet: str, text: str, n: int = 0) -> ClaimRef:
    return ClaimRef(claim_id=f"{outlet}-art:{n}", article_id=f"{outlet}-art", outlet=outlet, start=10 * n, end=10 * n + len(text), text=text)


def group(*items: tuple[str, str]) -> list[ClaimRef]:
    return [claim(outlet, text, n) for n, (outlet, text) in enumerate(items)]


def sides(divergence: Divergence) -> list[tuple[str, tuple[str, ...]]]:
    return [(side.value, side.outlets) for side in divergence.sides]


# --- model ---------------------------------------------------------------------------------------

def test_kinds_and_confidence_default() -> None:
    assert {"certainty", "contradiction", "number", "actor", "attribution", "framing"} == set(KINDS)
    assert LEGACY_KINDS == {"hedge": "certainty", "intensifier": "certainty"}
    assert Divergence("number", "g", "x", ()).confidence == 0.5  # old call sites still construct it


def test_single_outlet_groups_never_diverge() -> None:
    claims = group(("a", "Ten people died, police said."), ("a", "Forty people died."))
    assert find_divergences("g", claims, config=PATTERNS) == []


def test_findings_carry_a_confidence_and_come_best_first() -> None:
    claims = group(("a", "The senator reportedly resigned on Friday after the vote."), ("b", "The senator resigned on Friday after the vote."))
    found = find_divergences("g", claims, config=PATTERNS)
    assert found and all(0.0 <= d.confidence <= 1.0 for d in found)
    assert [d.confidence for d in found] == sorted((d.confidence for d in found), reverse=True)


def test_nlp_note_says_what_to_install_when_the_model_is_absent() -> None:
    assert nlp_note() == (None if nlp_available() else NLP_MISSING_NOTE)
    assert "compare-news[nlp]" in NLP_MISSING_NOTE


# --- numbers -------------------------------------------------------------------------------------

def test_same_quantity_different_figures_is_flagged() -> None:
    claims = group(("a", "The storm destroyed 40 homes in the valley."), ("b", "The storm destroyed 12 homes in the valley."))
    [divergence] = number_divergences("g", claims)
    assert divergence.subject == "homes"
    assert sides(divergence) == [("40 homes", ("a",)), ("12 homes", ("b",))]


def test_different_quantities_with_one_unit_are_not_compared() -> None:
    # a victory margin and a polling lead are two quantities, both in points
    claims = group(("a", "The mayor won by more than 20 points in the final count."), ("b", "The mayor held a lead in surveys by nearly 7 points."))
    assert number_divergences("g", claims) == []


def test_a_sentences_own_figures_are_not_a_divergence() -> None:
    claims = group(
        ("a", "In the new survey 64% backed the plan and 30% opposed it."),
        ("b", "The survey found 64% backed the plan."),
    )
    assert number_divergences("g", claims) == []


def test_bounds_and_units_agree() -> None:
    [more_than] = extract_quantities("He won by more than 20 points.")
    [exact] = extract_quantities("He won by 25 points.")
    assert same_quantity(more_than, exact)
    [km] = extract_quantities("The convoy travelled 80 km north.")
    [miles] = extract_quantities("The convoy travelled some 50 miles north.")
    assert same_quantity(km, miles)
    assert extract_quantities("The F-35 flew in 2019 and MH17 fell.") == []


# --- attribution ---------------------------------------------------------------------------------

@both_modes
def test_attributed_to_a_paper_vs_stated_as_fact(config: DivergeConfig) -> None:
    claims = group(
        ("a", "The mayor quietly sold his stake in the stadium deal, the Daily Ledger is reporting."),
        ("b", "The mayor quietly sold his stake in the stadium deal last spring."),
    )
    [divergence] = attribution_divergences("g", claims, config=config)
    assert divergence.subject == "attributed vs stated as fact"
    assert sides(divergence)[1] == ("stated as fact", ("b",))
    assert "Ledger" in sides(divergence)[0][0]


@both_modes
def test_a_neighbouring_fact_stated_is_a_weak_attribution_finding(config: DivergeConfig) -> None:
    same = group(("a", "The mayor quietly sold his stake in the stadium deal, the Daily Ledger is reporting."),
                 ("b", "The mayor quietly sold his stake in the stadium deal last spring."))
    other = group(("a", "The mayor quietly sold his stake in the stadium deal, the Daily Ledger is reporting."),
                  ("b", "The council approved the stadium deal by a party-line vote after the mayor spoke."))
    [strong] = attribution_divergences("g", same, config=config)
    [weak] = attribution_divergences("g", other, config=config)
    assert weak.subject == strong.subject == "attributed vs stated as fact"
    assert weak.confidence < 0.5 <= strong.confidence


@both_modes
def test_different_sources_are_flagged(config: DivergeConfig) -> None:
    claims = group(
        ("a", "Campaign aides say the governor will focus his bid on rural voters."),
        ("b", "Governor Alden Marsh said he will focus his bid on rural voters."),
    )
    found = attribution_divergences("g", claims, config=config)
    assert [d.subject for d in found] == ["attributed to different sources"]


@both_modes
@pytest.mark.parametrize("text", [
    "Needless to say, the council approved the budget on Monday.",
    "The council will say little as it approved the budget on Monday.",
    "Voters who personally heard Lindqvist say it approved the budget on Monday were surprised.",
])
def test_first_words_and_non_speakers_are_not_sources(text: str, config: DivergeConfig) -> None:
    source = attribution_of(text, config=config)
    # the small English parser reads "Voters ... say" as the main clause; the source is never the
    # words before the verb ("personally heard Lindqvist", "Needless to", "will")
    assert source in (None, "claimed") or (config.use_nlp and source == "Voters")
    claims = group(("a", text), ("b", "The council approved the budget on Monday."))
    assert all(d.subject != "attributed to different sources" for d in attribution_divergences("g", claims, config=config))


@both_modes
def test_one_speaker_named_two_ways_is_one_source(config: DivergeConfig) -> None:
    assert same_source("Gov. Alden Marsh", "Alden Marsh")
    assert not same_source("the army", "a militia commander")
    claims = group(
        ("a", "Gov. Alden Marsh said the bridge will reopen in May."),
        ("b", "Alden Marsh said the bridge will reopen in May."),
    )
    assert attribution_divergences("g", claims, config=config) == []


@both_modes
def test_quotations_are_not_stated_as_fact(config: DivergeConfig) -> None:
    claims = group(
        ("a", "The bridge will reopen in May, the transport ministry said."),
        ("b", "“The bridge will reopen in May,” she told reporters."),
    )
    assert [d for d in attribution_divergences("g", claims, config=config) if d.subject == "attributed vs stated as fact"] == []


# --- certainty -----------------------------------------------------------------------------------

@both_modes
def test_hedged_vs_asserted(config: DivergeConfig) -> None:
    claims = group(
        ("a", "The minister reportedly signed the order late on Tuesday."),
        ("b", "The minister signed the order late on Tuesday."),
    )
    [divergence] = certainty_divergences("g", claims, config=config)
    assert divergence.kind == "certainty"
    assert sides(divergence) == [("hedged: reportedly", ("a",)), ("asserted", ("b",))]
    assert divergence.confidence >= 0.6


@both_modes
def test_likely_as_an_adjective_is_not_a_hedge(config: DivergeConfig) -> None:
    assert hedges_of("She is the most likely candidate to lead the party.", config=config) == ()
    assert hedges_of("She is likely to lead the party.", config=config) == (("likely",) if config.use_nlp else ("is likely to",))
    claims = group(("a", "She is the most likely candidate to lead the party."), ("b", "She is the candidate to lead the party."))
    assert certainty_divergences("g", claims, config=config) == []


@both_modes
def test_expected_to_and_may_have_are_hedges(config: DivergeConfig) -> None:
    assert hedges_of("The senate is expected to pass the bill.", config=config)
    assert hedges_of("The fire may have started in the kitchen.", config=config)


@both_modes
def test_hedges_inside_quotations_are_the_speakers_not_the_outlets(config: DivergeConfig) -> None:
    claims = group(
        ("a", "“The plant possibly leaked for weeks,” the inspector said."),
        ("b", "“The plant leaked for weeks,” the inspector said."),
    )
    assert certainty_divergences("g", claims, config=config) == []


@both_modes
def test_both_hedged_agree(config: DivergeConfig) -> None:
    claims = group(("a", "The suspect allegedly fled to the coast."), ("b", "The suspect reportedly fled to the coast."))
    assert certainty_divergences("g", claims, config=config) == []


# --- framing -------------------------------------------------------------------------------------

def test_loaded_vs_neutral_label_for_one_referent() -> None:
    claims = group(
        ("a", "The ruling lets homosexual couples file jointly."),
        ("b", "The ruling lets gay couples file jointly."),
    )
    [divergence] = [d for d in framing_divergences("g", claims) if d.subject != "word choice"]
    assert divergence.subject == "same-sex couples"
    assert sides(divergence) == [("homosexual couples", ("a",)), ("gay couples", ("b",))]


def test_two_neutral_labels_and_quoted_labels_are_not_framing() -> None:
    neutral = group(("a", "He opposes same-sex marriage."), ("b", "He opposes gay marriage."))
    assert [d for d in framing_divergences("g", neutral) if d.subject != "word choice"] == []
    quoted = group(("a", "He called it “the death tax” on Monday."), ("b", "He criticised the estate tax on Monday."))
    assert [d for d in framing_divergences("g", quoted) if d.subject != "word choice"] == []


# --- contradiction -------------------------------------------------------------------------------

def test_misquote_needs_a_replaced_word_not_an_elision() -> None:
    said = "we cannot let them beat the department for ignoring warnings so why do we want that"
    assert misquote(said, "we cannot let them beat the department for ignoring warnings so why would we want that")
    assert misquote(said, "we cannot let them beat the department for ignoring warnings") is None  # cut short
    assert misquote(said, "we can’t let them beat the department".replace("can’t", "cannot")) is None
    assert misquote("it is a two in three chance that we lose", "it is a 2-in-3 chance that we lose") is None


def test_a_misquote_between_outlets_is_a_contradiction() -> None:
    claims = group(
        ("a", "She wrote: “we cannot let them beat the department for ignoring warnings so why do we want that.”"),
        ("b", "She wrote that “we cannot let them beat the department for ignoring warnings so why would we want that.”"),
    )
    [divergence] = contradiction_divergences("g", claims, config=PATTERNS)
    assert divergence.subject == "quotation worded differently"


@needs_model
def test_negation_of_the_same_act_is_a_contradiction() -> None:
    claims = group(
        ("a", "The governor signed the water bill on Friday."),
        ("b", "The governor did not sign the water bill on Friday."),
    )
    found = contradiction_divergences("g", claims)
    assert [d.kind for d in found] == ["contradiction"]


@needs_model
def test_a_denial_of_the_past_does_not_contradict_the_future() -> None:
    # Before the ruling the agency did not recognise the marriages; after it, it will: two times, one story.
    claims = group(
        ("a", "Until this spring the tax agency did not recognize the marriages of those couples."),
        ("b", "The tax agency will recognize the marriages of those couples from now on."),
    )
    assert [d for d in contradiction_divergences("g", claims) if "asserted or denied" in d.subject] == []


@needs_model
def test_a_different_name_for_one_committee_is_a_contradiction() -> None:
    claims = group(
        ("a", "She testified before the Senate Armed Services Committee about the contract."),
        ("b", "She testified before the Senate Foreign Services Committee about the contract."),
    )
    assert any(d.subject == "name of the same body" for d in contradiction_divergences("g", claims))


def test_a_loaded_label_is_compared_across_the_whole_story() -> None:
    # Each outlet names the couples once, in sentences that report different facts.
    claims = [
        claim("Fox", "The ruling allows homosexual couples to file joint tax returns.", 0),
        claim("Fox", "The Treasury announced the rules on Thursday.", 1),
        claim("NYT", "The government is moving quickly to treat gay couples as it treats straight couples.", 2),
        claim("HuffPost", "The agency said the “homosexual couples” wording came from a lawmaker.", 3),
    ]
    group_of = {c.claim_id: f"g{n}" for n, c in enumerate(claims)}
    [divergence] = story_label_divergences(claims, group_of)
    assert divergence.kind == "framing" and divergence.subject == "same-sex couples"
    assert sides(divergence) == [("homosexual couples", ("Fox",)), ("gay couples", ("NYT",))]  # HuffPost only quotes it
    assert divergence.group_id == "g0"
    # Generic words may name different events in one story: compared per fact only.
    killings = [claim("A", "Gunmen murdered two guards at the gate.", 0), claim("B", "A storm killed a farmer in the north.", 1)]
    assert story_label_divergences(killings, {}) == []
    # Two neutral labels are a style difference.
    neutral = [claim("A", "Gay couples may file jointly.", 0), claim("B", "Same-sex couples may file jointly.", 1)]
    assert story_label_divergences(neutral, {}) == []


@needs_model
def test_a_share_of_poll_respondents_is_not_a_source() -> None:
    assert attribution_of("Over three-quarters of those questioned said they would back the plan.") is None
    assert attribution_of("A majority of voters said the economy mattered most.") is None
    assert attribution_of("Two officials said the depot was hit.") == "officials"


@needs_model
def test_the_named_apposition_is_the_source() -> None:
    # "One Democrat, Rep. X, said" and "Only Y and X said" credit the same person
    one = attribution_of("One Democrat, Rep. Jeff Vandermolen of Ohio, announced he would vote against the bill.")
    both = attribution_of("Only Peterson and Vandermolen said they were opposed to the bill altogether.")
    assert one == "Rep. Jeff Vandermolen" and both is not None and same_source(one, both)
    assert attribution_of("Liz Cheney, a Senate candidate, said she opposes it.") == "Liz Cheney"


@needs_model
def test_a_claim_that_hedges_in_a_relative_clause_is_not_an_assertion() -> None:
    claims = group(("a", "Rep. Jeff Vandermolen announced he would vote against it and he might switch parties."),
                   ("b", "The other was Rep. Jeff Vandermolen, who is expected to switch parties and join the Republicans."))
    assert certainty_divergences("g", claims) == []


# --- actors --------------------------------------------------------------------------------------

@needs_model
def test_swapped_agent_of_one_act_is_an_actor_divergence() -> None:
    claims = group(("a", "Halvorsen defeated Okafor in the runoff on Tuesday."), ("b", "Okafor defeated Halvorsen in the runoff on Tuesday."))
    found = actor_divergences("g", claims)
    assert found and found[0].kind == "actor"


@needs_model
def test_first_words_of_questions_are_not_actors() -> None:
    claims = group(("a", "Just how much did the council spend on the stadium?"), ("b", "When did the council spend that much on the stadium?"))
    assert actor_divergences("g", claims) == []


def test_actors_are_off_without_the_parse() -> None:
    claims = group(("a", "Halvorsen defeated Okafor in the runoff."), ("b", "Okafor defeated Halvorsen in the runoff."))
    assert actor_divergences("g", claims, config=PATTERNS) == []


# --- bounded, linear work (issue 17) -------------------------------------------------------------

def _seconds(function: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


# A normal claim of a news story: one long-ish sentence (~40 words; the median is ~25).
NORMAL = (
    "County officials said on Tuesday that the storm, which moved inland overnight, destroyed 40 homes along the river "
    "and left about 1,200 people without power, according to a statement that also warned of more flooding this week."
)
_FRESH = iter(range(10**9))


@pytest.mark.parametrize("crafted", [
    "1" * 20_000,
    "1,2" * 7_000,
    "said " * 100_000,
    "x" * 20_000,
    "according to " + "a" * 20_000,
    '"ab cd" ' * 3_000,
    "He ran and said and told and wrote and " * 500,
], ids=["20k-digits", "digit-commas", "said-x100k", "20k-char-token", "according-to-long-token", "many-quotes", "many-verbs"])
def test_crafted_claims_cost_about_what_a_normal_claim_costs(crafted: str) -> None:
    """Every stage reads a bounded prefix of a claim, so a crafted claim is within 20x a normal one."""
    def stages(text: str) -> Callable[[], object]:
        other = claim("b", NORMAL)
        def run() -> object:
            extract_quantities(text)
            attribution_of(f"{next(_FRESH)} {text}", config=PATTERNS)  # a fresh prefix each time: no cache hit
            hedges_of(f"{next(_FRESH)} {text}", config=PATTERNS)
            differing_spans(text, NORMAL)
            return find_divergences("g", [claim("a", f"{next(_FRESH)} {text}"), other], config=PATTERNS)
        return run
    baseline = _seconds(stages(NORMAL))
    assert _seconds(stages(crafted)) < 20 * max(baseline, 1e-3)


def test_word_diff_reads_a_bounded_number_of_tokens() -> None:
    long_text = "said " * 100_000
    baseline = _seconds(lambda: differing_spans(NORMAL, NORMAL))
    assert _seconds(lambda: differing_spans(long_text, long_text[:-5] + "told")) < 20 * max(baseline, 1e-3)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_detectors_never_raise_on_arbitrary_text(text: str) -> None:
    claims = group(("a", text), ("b", "The council approved 12 new homes on Monday, officials said."))
    for divergence in find_divergences("g", claims, config=PATTERNS):
        assert 0.0 <= divergence.confidence <= 1.0
        assert len({o for side in divergence.sides for o in side.outlets}) >= 2


@needs_model
def test_a_forecast_against_an_outcome_is_said_to_be_one() -> None:
    claims = group(("a", "The council is expected to approve the harbour plan on Thursday."), ("b", "The council approved the harbour plan on Thursday."))
    [divergence] = certainty_divergences("g", claims)
    assert divergence.subject == "forecast vs outcome"
    assert sides(divergence) == [("forecast (before the event)", ("a",)), ("outcome (after it)", ("b",))]


@needs_model
def test_a_past_expectation_is_background_not_a_hedge() -> None:
    assert hedges_of("The incumbent was expected to win the primary easily.") == ()


@needs_model
def test_a_different_target_with_a_different_agent_is_another_act() -> None:
    claims = group(
        ("a", "Marsh promised to protect pensions and raise wages."),
        ("b", "He promised to protect Medicare for older voters."),
    )
    assert actor_divergences("g", claims) == []


def test_two_figures_one_claim_states_together_are_two_quantities() -> None:
    claims = group(
        ("a", "The incumbent had raised $5.4 million for the race."),
        ("b", "The challenger raised $200,000 for the race."),
        ("c", "The incumbent outraised the challenger, $5.4 million to $200,000, in the race."),
    )
    assert number_divergences("g", claims) == []


def test_large_groups_keep_every_outlet() -> None:
    from compare.diverge.pairs import MAX_CLAIMS_PER_GROUP, bounded
    claims = [claim("a", f"Filler sentence number {i}.", i) for i in range(40)] + [claim("b", "The last outlet's claim.", 99)]
    kept = bounded(claims)
    assert len(kept) == MAX_CLAIMS_PER_GROUP and {c.outlet for c in kept} == {"a", "b"}


@needs_model
@settings(max_examples=25, deadline=None)
@given(st.text(max_size=300))
def test_parse_based_detectors_never_raise_on_arbitrary_text(text: str) -> None:
    claims = group(("a", text), ("b", "The council approved 12 new homes on Monday, officials said."))
    for divergence in find_divergences("g", claims):
        assert 0.0 <= divergence.confidence <= 1.0


@needs_model
def test_crafted_claims_are_bounded_with_the_parse_too() -> None:
    def run(text: str) -> Callable[[], object]:
        return lambda: find_divergences("g", [claim("a", f"{next(_FRESH)} {text}"), claim("b", NORMAL)])
    baseline = _seconds(run(NORMAL))
    for crafted in ("1" * 20_000, "said " * 100_000, "x" * 20_000, '"ab cd" ' * 3_000, "He ran and said and told and wrote and " * 500):
        assert _seconds(run(crafted)) < 20 * max(baseline, 1e-3)


def test_default_settings_work_with_or_without_the_model() -> None:
    claims = group(("a", "The minister reportedly signed the order late on Tuesday."), ("b", "The minister signed the order late on Tuesday."))
    assert [d.kind for d in find_divergences("g", claims)] == ["certainty"]


def test_a_spelling_variant_inside_a_quotation_is_not_a_misquote() -> None:
    assert misquote("this behavior is not in keeping with who I am today", "this behaviour is not in keeping with who I am today") is None


@needs_model
@pytest.mark.parametrize("text", [
    "If the mayor appeared in the photograph, he should resign.",
    "The mayor has indicated that he is a loyal employee.",
])
def test_lexical_appear_and_a_persons_indicate_are_not_hedges(text: str) -> None:
    assert hedges_of(text) == ()


@needs_model
def test_epistemic_appear_and_suggest_are_hedges() -> None:
    assert hedges_of("The mayor appears to have resigned.") == ("appears",)
    assert hedges_of("The records suggest that the mayor resigned.") == ("suggest",)


@needs_model
def test_a_hedge_on_another_part_of_the_sentence_is_not_a_divergence() -> None:
    claims = group(
        ("a", "The officer was charged with assault and reportedly has been moved to a prison upstate."),
        ("b", "The officer, who was filmed at the scene, was fired and charged with assault."),
    )
    assert certainty_divergences("g", claims) == []


@needs_model
def test_a_hedge_sharing_only_the_subject_is_not_a_divergence() -> None:
    # "might" hedges leaving the party; the other outlet reports her vote, naming her too
    claims = group(
        ("a", "One Republican, Senator Jane Roe of Ohio, said she would back the bill and she might leave the party."),
        ("b", "Senator Jane Roe of Ohio and two other Republicans voted for the bill on Tuesday."),
    )
    assert certainty_divergences("g", claims) == []
    hedged_same_act = group(
        ("a", "Senator Jane Roe of Ohio reportedly voted for the bill on Tuesday."),
        ("b", "Senator Jane Roe of Ohio and two other Republicans voted for the bill on Tuesday."),
    )
    assert [d.kind for d in certainty_divergences("g", hedged_same_act)] == ["certainty"]


@needs_model
def test_a_prospect_is_not_the_asserted_side_of_a_hedge() -> None:
    # "would soon leave" is a prospect too: it does not assert what "might leave" hedges
    prospect = group(
        ("a", "Senator Jane Roe of Ohio said she would back the bill and she might leave the party."),
        ("b", "Only Jane Roe, who signaled she would soon leave the party, voted for the bill."),
    )
    assert certainty_divergences("g", prospect) == []
    considering = group(
        ("a", "Senator Jane Roe of Ohio said she would back the bill and she might leave the party."),
        ("b", "Jane Roe, who is considering leaving the party, voted for the bill."),
    )
    assert certainty_divergences("g", considering) == []
    name_only = group(
        ("a", "The sudden resignation of the whole committee staff seemed to embolden Senator Roe."),
        ("b", "The whole committee staff resigned on Tuesday after a dispute with Senator Roe."),
    )
    assert certainty_divergences("g", name_only) == []
    done = group(
        ("a", "Senator Jane Roe of Ohio said she might resign from the committee."),
        ("b", "Senator Jane Roe of Ohio resigned from the committee on Thursday."),
    )
    assert [d.kind for d in certainty_divergences("g", done)] == ["certainty"]
