"""The policy prompt derived from the table: full equals the hand-written prompt it replaced,
compact states every rule, threshold and code, and a YAML rule shows in both."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from factory.pipeline.prompts import _environment, prompt_builder
from factory.recipe import load_recipe
from factory.synth import Shard, labelled_shard
from tests.domains.rules.test_extend import recipe as extended_recipe

BEFORE = Path(__file__).resolve().parent.parent / "reference" / "lending_system_before.jinja2"


@pytest.fixture(scope="module")
def lending():
    return load_recipe("lending-cot")


def _compact(recipe):
    return recipe.model_copy(
        update={"prompts": recipe.prompts.model_copy(update={"policy": "compact"})}
    )


def test_full_is_byte_equal_to_the_prompt_before_rule_tables(lending) -> None:
    domain = lending.domain_impl
    old = (
        _environment(domain.prompt_dir)
        .from_string(BEFORE.read_text())
        .render(policy=lending.policy, domain=domain, task=domain.tasks[lending.task])
        .strip()
    )
    assert prompt_builder(lending).system == old


def test_compact_states_every_rule_threshold_and_code_in_fewer_characters(lending) -> None:
    full = prompt_builder(lending).system
    compact = prompt_builder(_compact(lending)).system
    assert len(compact) < 0.9 * len(full)
    table = lending.domain_impl.rule_table(lending.policy)
    for rule in table.rules:
        line = next(x for x in compact.splitlines() if x.startswith(f"- {rule.code} "))
        assert line.endswith(f": {rule.text}")
    for shown in ("< 620", "< 680", "> 43.0%", "> 36.0%", "< 48", ">= 3", ">= 1", "> 80.0%"):
        assert shown in compact
    assert "95.0%" in compact and "125.0%" in compact and "90.0%" in compact
    assert "110.0%" in compact and "> 60.0%" in compact and "> 40.0%" in compact


def test_a_yaml_rule_is_in_the_prompts_the_teacher_text_and_the_facts() -> None:
    r = extended_recipe()
    builder = prompt_builder(r)
    assert "- Years at address below 1.0." in builder.system
    assert "HIGH_CREDIT_UTILIZATION" not in builder.system
    assert "- Revenue to loan: revenue / loan_amount (rounded to 2 decimals)." in builder.system
    compact = prompt_builder(_compact(r)).system
    assert "- SHORT_RESIDENCE (years_at_address < 1.0): Length of residence" in compact
    rows = labelled_shard(r, Shard(0, 0, 200)).to_dicts()
    row = next(x for x in rows if "SHORT_RESIDENCE" in x["reason_codes"])
    user = builder.user(row)
    assert re.search(r"- Years at address: \d", user)
    text = r.domain_impl.tasks[r.task].write(row, r.policy, random.Random(0))
    assert "SHORT_RESIDENCE: Length of residence at current address too short" in text
    assert "a reason to refer" in text or "falls short" in text
    facts = r.domain_impl.facts(row, r.policy)
    assert facts["years_at_address"].value == row["years_at_address"]
    assert facts["min_years_at_address"].quantity == "years_at_address"
    assert facts["short_residence_gap"].role == "gap"
