"""`Domain.fact_pairs`, the verifier's cheap facts, are `Domain.facts` as (value, percent) pairs in
every shipped recipe's domain, including those that find or add facts of their own."""

from __future__ import annotations

import pytest

from factory.recipe import load_recipe
from factory.synth import Shard, labelled_shard

RECIPES = (
    "lending-cot",
    "small-business-loan",
    "fraud-cot",
    "aml-structuring-triage",
    "credit-report-summary",
)


@pytest.mark.parametrize("name", RECIPES)
def test_fact_pairs_are_the_facts_values_and_percent_flags(name):
    recipe = load_recipe(name)
    domain, policy = recipe.domain_impl, recipe.policy
    rows = labelled_shard(recipe, Shard(0, 0, 300)).to_dicts()
    for row in rows:
        expected = {k: (f.value, f.percent) for k, f in domain.facts(row, policy).items()}
        assert expected
        assert dict(domain.fact_pairs(row, policy)) == expected
