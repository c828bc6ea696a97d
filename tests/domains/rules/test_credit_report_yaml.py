"""A credit-report recipe extends the table in YAML: a rule that supports the declined trend and
a disabled change code change the reasons, lists, prompt, teacher text, facts and cards
together, and the template teacher's answers pass every verifier, claims included."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from factory.cards import policy_table
from factory.errors import RecipeError
from factory.pipeline.prompts import prompt_builder
from factory.recipe import parse_recipe
from factory.synth import Shard, labelled_shard
from factory.verify.case import CaseVerifier

RECIPE: dict[str, Any] = {
    "name": "credit-ext",
    "domain": "credit_report",
    "task": "summary",
    "description": "A credit-report table extended in YAML",
    "profiles": {"count": 600, "seed": 3, "shard_size": 600},
    "policy": {
        "params": {"subprime_score": 620},
        "rules": [
            {
                "code": "SCORE_BELOW_SUBPRIME",
                "supports": ["declined"],
                "when": "score_after < subprime_score",
                "points": 30,
                "text": "The latest score is below the subprime line",
            }
        ],
        "disable": ["HARD_INQUIRIES_UP"],
    },
}


@pytest.fixture(scope="module")
def extended():
    recipe = parse_recipe(RECIPE, "r.yaml")
    rows = labelled_shard(recipe, Shard(0, 0, 600)).to_dicts()
    return recipe, rows


def test_a_supporting_yaml_rule_is_a_reason_of_its_tier_only(extended) -> None:
    recipe, rows = extended
    table = recipe.domain_impl.rule_table(recipe.policy)
    rule = table.rule("SCORE_BELOW_SUBPRIME")
    assert rule.supports == ("declined",) and rule.outcome == "stable"
    assert (rule.quantity, rule.op, rule.threshold) == ("score_after", "<", "subprime_score")
    assert "HARD_INQUIRIES_UP" not in {r.code for r in table.rules}
    low = [r for r in rows if r["score_after"] < 620]
    assert low and any(r["decision"] == "declined" for r in low)
    for row in rows:
        named = "SCORE_BELOW_SUBPRIME" in row["reason_codes"]
        if row["decision"] != "declined" or row["score_after"] >= 620:
            assert not named
        else:
            # Ranked by its points among the listed bad changes (at most four reasons).
            assert named or len(row["reason_codes"]) == 4
            assert "MINOR_CHANGES" not in row["reason_codes"]
        assert "HARD_INQUIRIES_UP" not in {item["code"] for item in row["bad_changes"]}


def test_the_yaml_rule_shows_in_prompt_teacher_facts_and_cards(extended) -> None:
    recipe, rows = extended
    builder = prompt_builder(recipe)
    assert (
        "  - Credit score on the latest report below 620 (explains a declined trend; never "
        "decides it)." in builder.system
    )
    assert "SCORE_BELOW_SUBPRIME: The latest score is below the subprime line" in builder.system
    assert "HARD_INQUIRIES_UP" not in builder.system
    row = next(r for r in rows if "SCORE_BELOW_SUBPRIME" in r["reason_codes"])
    text = recipe.domain_impl.tasks[recipe.task].write(row, recipe.policy, random.Random(0))
    assert "SCORE_BELOW_SUBPRIME: The latest score is below the subprime line" in text
    assert "the latest score is below the subprime line" in text  # the driver, by its noun
    facts = recipe.domain_impl.facts(row, recipe.policy)
    assert facts["subprime_score"].value == 620
    assert facts["score_below_subprime_gap"].role == "gap"
    cards = {r["code"]: r for r in policy_table(recipe)}
    assert cards["SCORE_BELOW_SUBPRIME"]["source"] == "recipe"
    assert cards["SCORE_BELOW_SUBPRIME"]["outcome"] == "supports declined (ranked by 30.0)"
    assert cards["NEW_LATE_PAYMENT"]["outcome"].startswith("supports declined (ranked by 20.0 *")
    assert cards["KEEP_PAYING_ON_TIME"]["outcome"] == "listed in actions"
    assert "HARD_INQUIRIES_UP" not in cards


def test_template_answers_of_the_extended_table_pass_every_verifier(extended) -> None:
    recipe, rows = extended
    verifier = CaseVerifier(recipe)
    builder = prompt_builder(recipe)
    task = recipe.domain_impl.tasks[recipe.task]
    for i, row in enumerate(rows):
        text = task.write(row, recipe.policy, random.Random(i))
        verdict = verifier.verdict(text, row, builder.user(row))
        assert verdict.ok, (verdict.reason, verdict.detail, text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"supports": ["dclined"]}, r"policy\.rules\.0\.supports: unknown tier 'dclined'"),
        ({"outcome": "declined"}, r"policy\.rules\.0\.outcome: a rule that supports a tier"),
        ({"supports": [], "points": 3}, r"policy\.rules\.0: give `outcome`"),
        ({"points": "score_aftr * 2"}, r"policy\.rules\.0\.points: unknown name 'score_aftr'"),
    ],
)
def test_a_bad_supporting_rule_is_one_error_naming_its_field(change, message) -> None:
    data = copy.deepcopy(RECIPE)
    data["policy"]["rules"][0].update(change)
    with pytest.raises(RecipeError, match=message):
        parse_recipe(data, "r.yaml")
