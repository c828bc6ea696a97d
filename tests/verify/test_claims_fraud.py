"""Claim-level verification on the fraud table and the AML recipe's YAML rules: limits named by
their quantity, definitions of the policy, conditionals, values at a limit, decision verbs, and a
number inside a quantity's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.output import parse_output
from factory.recipe import load_recipe
from factory.synth import Shard, labelled_shard
from factory.verify.claims import check_claims

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def _setup(name: str):
    recipe = load_recipe(RECIPES / f"{name}.yaml")
    table = recipe.domain_impl.rule_table(recipe.policy)
    rows = labelled_shard(recipe, Shard(0, 0, 400)).to_dicts()
    return table, rows


@pytest.fixture(scope="module")
def fraud():
    return _setup("fraud-cot")


@pytest.fixture(scope="module")
def aml():
    return _setup("aml-structuring-triage")


def _quiet(rows):
    """An allowed transaction with no signal: no velocity, close by, old account."""
    return next(
        r
        for r in rows
        if r["decision"] == "allow"
        and r["txn_count_1h"] == 0
        and r["distance_km"] < 100
        and r["account_age_days"] > 60
        and r["risk_score"] == 0
    )


def _kinds(table, row, reasoning: str) -> list[str]:
    text = f"<reasoning>\n{reasoning}\n</reasoning>\n<decision>{row['decision']}</decision>"
    found = check_claims(parse_output(text), table=table, row=row, decision=row["decision"])
    return [f.kind for f in found]


QUIET_TRUE = (
    "That is under the velocity mark of 3, so no velocity points.",
    "That is ordinary movement, well under the 500 km distance mark.",
    "Location is unremarkable: under 500 km and a possible speed.",
    "At {account_age_days} days the account is well established (new means under 30 days).",
    "Travel above 900 km/h is impossible.",
    "Travel faster than 900 km/h would be impossible.",
    "Around noon is ordinary spending time; the overnight window runs midnight to 5 a.m.",
    "The time is outside the night-time transaction window.",
    "A score of 0 stays under the review threshold (40).",
    "Conclusion: nothing fires, so the transaction is allowed.",
    "Step-by-step review of the case follows.",
)
QUIET_FALSE = (
    ("That is over the velocity mark of 3, so no velocity points.", "comparison"),
    ("That is ordinary movement, well over the 500 km distance mark.", "comparison"),
    ("Location is unremarkable: over 500 km and a possible speed.", "comparison"),
    ("At {account_age_days} days the account is well established (new means over 30 days).",
     "comparison"),
    ("Travel below 900 km/h is impossible.", "comparison"),
    ("Therefore the case is reviewed.", "conclusion"),
    ("The risk score of 0 reaches the review threshold of 40.", "comparison"),
)  # fmt: skip


@pytest.mark.parametrize("sentence", QUIET_TRUE)
def test_true_fraud_claims_pass(fraud, sentence):
    table, rows = fraud
    row = _quiet(rows)
    assert _kinds(table, row, sentence.format(**row)) == []


@pytest.mark.parametrize(("sentence", "kind"), QUIET_FALSE)
def test_false_fraud_claims_fail(fraud, sentence, kind):
    table, rows = fraud
    row = _quiet(rows)
    assert _kinds(table, row, sentence.format(**row))[:1] == [kind]


def test_a_value_exactly_at_a_limit_stands_on_the_side_its_rule_puts_it(fraud):
    table, rows = fraud
    row = next(r for r in rows if r["risk_score"] == 40)  # the review rule is ">= 40"
    assert _kinds(table, row, "The risk score of 40 reaches the review threshold of 40.") == []
    assert _kinds(table, row, "The risk score of 40 is above the review threshold of 40.") == []
    assert _kinds(table, row, "The risk score of 40 is below the review threshold of 40.") == [
        "comparison"
    ]


def test_a_number_inside_a_quantitys_name_is_part_of_the_name(aml):
    table, rows = aml
    row = next(r for r in rows if r["near_threshold_deposits_30d"] >= 1)
    count = row["near_threshold_deposits_30d"]
    name = "Cash deposits just under the reporting threshold in the past 30 days"
    assert _kinds(table, row, f"{name} of {count} is at {count}.") == []
    assert _kinds(table, row, f"{name} of {count + 5} is high.") == ["number"]
    turned = name.replace("just under", "just over")
    assert _kinds(table, row, f"{turned} of {count} is at {count}.") == ["comparison"]
