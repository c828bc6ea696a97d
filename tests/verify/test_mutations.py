"""The mutation benchmark's alterations are what they say: wrong copies are wrong, spans and
negated comparisons are left alone, numbers keep the punctuation around them."""

from __future__ import annotations

import random

import pytest

from factory.domains.rules.interpret import row_values
from factory.output import render_output
from factory.recipe import load_recipe
from factory.verify.mutations import SPLITS, Example, alterations
from tests.verify.test_claims_credit import RECIPES, ROW


@pytest.fixture(scope="module")
def table():
    recipe = load_recipe(RECIPES / "credit-report-summary.yaml")
    return recipe.domain_impl.rule_table(recipe.policy)


def _all(table, reasoning: str) -> list:
    text = render_output(reasoning, "stable", [])
    example = Example(text, ROW, "", table, row_values(table, ROW))
    return [alt for split in SPLITS for alt in alterations(example, random.Random(0), split)]


def test_swapped_readings_exchange_the_two_numbers(table):
    found = [
        a.text
        for a in _all(table, "Revolving balances moved from $1,328 to $1,507, up $179.")
        if a.form == "swapped_readings"
    ]
    assert len(found) == 1 and "from $1,507 to $1,328" in found[0]


def test_a_span_is_no_comparison_to_turn_around(table):
    for reasoning in (
        "Comparing the two reports, the score went from 601 to 604, up 3 points over 12 months.",
        "Comparing the two reports, the score went from 604 to 604, unchanged over 12 months.",
    ):
        flipped = [a.text for a in _all(table, reasoning) if a.kind == "comparison_flip"]
        assert all("over 12 months" in text for text in flipped), flipped


def test_a_bounded_distance_is_no_comparison_to_turn_around(table):
    reasoning = "Utilization is 19.83%, over at least the 2.0-point threshold of a change."
    flipped = [a.text for a in _all(table, reasoning) if a.kind == "comparison_flip"]
    assert all("over at least" in text for text in flipped), flipped


def test_a_negated_comparison_is_not_negated_twice(table):
    reasoning = "Utilization is 19.83%. The after-report is no higher than the 30.0% target."
    flipped = [a.text for a in _all(table, reasoning) if a.kind == "comparison_flip"]
    assert not any("no no" in text for text in flipped), flipped


def test_a_replaced_number_keeps_the_comma_after_it(table):
    reasoning = "Steady: late payments at 0, collection accounts at 1 and public records at 0."
    changed = [a.text for a in _all(table, reasoning) if a.kind == "wrong_quantity"]
    assert changed, "no wrong-quantity alteration applies"
    assert all(", collection accounts at" in text for text in changed), changed
