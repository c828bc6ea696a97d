"""A recipe's YAML extensions: they decide, and every bad input is one error naming its field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from factory.errors import RecipeError
from factory.recipe import parse_recipe
from factory.synth import labelled_shard, recipe_shards

BASE: dict[str, Any] = {
    "name": "ext",
    "domain": "lending",
    "task": "decision_cot",
    "description": "YAML extensions",
    "profiles": {
        "count": 400,
        "seed": 3,
        "shard_size": 200,
        "columns": {
            "years_at_address": {"sampler": "lognormal", "median": 4.0, "sigma": 0.8, "round": 1},
            "region": {"sampler": "categorical", "values": {"north": 1, "south": 2}},
            "revenue": {
                "sampler": "lognormal",
                "by": "loan_purpose",
                "median": {"auto": 50_000, "other": 90_000},
                "sigma": 0.5,
                "round": 0,
            },
        },
    },
    "policy": {
        "params": {"min_years_at_address": 1.0},
        "quantities": {
            "revenue_to_loan": {"expr": "revenue / loan_amount", "unit": "ratio", "round": 2}
        },
        "rules": [
            {
                "code": "SHORT_RESIDENCE",
                "outcome": "refer",
                "when": "years_at_address < min_years_at_address",
                "text": "Length of residence at current address too short",
            }
        ],
        "disable": ["HIGH_CREDIT_UTILIZATION"],
    },
}


def recipe(change: str | None = None, value: Any = None, data: dict | None = None):
    data = copy.deepcopy(data or BASE)
    if change is not None:
        *parents, last = change.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return parse_recipe(data, "r.yaml")


def test_a_yaml_rule_decides_after_the_builtin_rules_of_its_tier() -> None:
    r = recipe()
    table = r.domain_impl.rule_table(r.policy)
    codes = [rule.code for rule in table.rules]
    assert "HIGH_CREDIT_UTILIZATION" not in codes
    assert codes[-1] == "SHORT_RESIDENCE" and table.rule("SHORT_RESIDENCE").severity == 12
    assert table.rule("SHORT_RESIDENCE").quantity == "years_at_address"
    assert table.params["min_years_at_address"].quantity == "years_at_address"
    frame = labelled_shard(r, recipe_shards(r)[0])
    short = frame.filter(frame["years_at_address"] < 1.0)
    assert short.height > 0
    assert all("SHORT_RESIDENCE" in codes for codes in short["reason_codes"])
    assert set(short["decision"]) <= {"refer", "deny"}
    assert not any("HIGH_CREDIT_UTILIZATION" in c for c in frame["reason_codes"])
    assert frame["revenue_to_loan"].to_list() == [
        round(a / b, 2) for a, b in zip(frame["revenue"], frame["loan_amount"], strict=True)
    ]
    # A policy with extensions gets its own version; one without keeps the old one.
    assert frame["policy_version"][0] != "lending-1.0.0+d51bc2f9"
    plain = recipe(data={k: v for k, v in BASE.items() if k not in ("policy", "profiles")})
    assert plain.domain_impl.policy_version(plain.policy) == "lending-1.0.0+d51bc2f9"


def test_the_same_seed_gives_the_same_columns_and_another_column_leaves_them_alone() -> None:
    a = labelled_shard(recipe(), recipe_shards(recipe())[1])
    b = labelled_shard(recipe(), recipe_shards(recipe())[1])
    assert a.equals(b)
    more = copy.deepcopy(BASE)
    more["profiles"]["columns"] = {
        "flag": {"sampler": "bernoulli", "p": 0.5},
        **more["profiles"]["columns"],
    }
    c = labelled_shard(recipe(data=more), recipe_shards(recipe(data=more))[1])
    for name in ("years_at_address", "region", "revenue"):
        assert a[name].equals(c[name])


def test_by_selects_the_parameter_per_category() -> None:
    frame = labelled_shard(recipe(), recipe_shards(recipe())[0])
    auto = frame.filter(frame["loan_purpose"] == "auto")["revenue"].median()
    other = frame.filter(frame["loan_purpose"] != "auto")["revenue"].median()
    assert auto < 70_000 < other


@pytest.mark.parametrize(
    ("change", "value", "field", "message"),
    [
        (
            "policy.rules.0.when",
            "years_at_adress < 1",
            "policy.rules.0.when",
            "unknown name 'years_at_adress' (did you mean 'years_at_address'?) at column 1",
        ),
        (
            "policy.rules.0.when",
            "years_at_address < min_years",
            "policy.rules.0.when",
            "unknown name 'min_years'",
        ),
        (
            "policy.rules.0.when",
            "region > 2",
            "policy.rules.0.when",
            "cannot compare a category (text) with a number at column 10",
        ),
        ("policy.rules.0.when", "loan_purpose == 3", "policy.rules.0.when", "cannot compare"),
        (
            "policy.rules.0.when",
            "years_at_address < (1",
            "policy.rules.0.when",
            "malformed expression at column 20",
        ),
        ("policy.rules.0.when", "region.upper()", "policy.rules.0.when", "attribute access"),
        ("policy.rules.0.when", "__import__('os')", "policy.rules.0.when", "unknown function"),
        (
            "policy.rules.0.when",
            "years_at_address + 1",
            "policy.rules.0.when",
            "expected a true/false",
        ),
        (
            "policy.rules.0.when",
            "abs(" * 30 + "1" + ")" * 30 + " > 0",
            "policy.rules.0.when",
            "deeper",
        ),
        ("policy.rules.0.outcome", "deni", "policy.rules.0.outcome", "did you mean 'deny'?"),
        ("policy.rules.0.text", "Fewer than 2 years", "policy.rules.0.text", "digits"),
        ("policy.rules.0.code", "DTI_ABOVE_MAX", "policy.rules.0.code", "duplicate code"),
        (
            "policy.quantities",
            {"a": {"expr": "b + 1"}, "b": {"expr": "a * 2"}},
            "policy.quantities.a.expr",
            "cycle among derived quantities: a -> b -> a",
        ),
        (
            "policy.quantities",
            {"q": {"expr": "region", "unit": "money"}},
            "policy.quantities.q.expr",
            "needs a number",
        ),
        ("policy.params", {"max_dti": 0.5}, "policy.params.max_dti", "built-in threshold"),
        ("policy.disable", ["NOPE"], "policy.disable.0", "unknown code 'NOPE'"),
        (
            "policy.disable",
            ["HIGH_CREDIT_UTILISATION"],
            "policy.disable.0",
            "did you mean 'HIGH_CREDIT_UTILIZATION'?",
        ),
        (
            "policy.disable",
            ["SHORT_EMPLOYMENT", "SHORT_EMPLOYMENT"],
            "policy.disable.1",
            "listed twice",
        ),
        (
            "profiles.columns.x",
            {"sampler": "lognormall", "median": 1, "sigma": 1},
            "profiles.columns.x",
            "unknown sampler 'lognormall' (did you mean 'lognormal'?)",
        ),
        (
            "profiles.columns.x",
            {"sampler": "normal", "mean": 1, "sd": 1, "sdd": 2},
            "profiles.columns.x.sdd",
            "unknown field",
        ),
        (
            "profiles.columns.x",
            {"sampler": "normal", "mean": 1, "sd": -1},
            "profiles.columns.x.sd",
            "sd must be >= 0",
        ),
        (
            "profiles.columns.x",
            {"sampler": "normal", "by": "region", "mean": {"north": 1}, "sd": 1},
            "profiles.columns.x.mean",
            "no value for region 'south'",
        ),
        (
            "profiles.columns.x",
            {"sampler": "normal", "by": "annual_income", "mean": 1, "sd": 1},
            "profiles.columns.x.by",
            "not a categorical column",
        ),
        (
            "profiles.columns.x",
            {"sampler": "expr", "expr": "revenue * nope"},
            "profiles.columns.x.expr",
            "unknown name 'nope'",
        ),
        (
            "profiles.columns.dti",
            {"sampler": "uniform", "low": 0, "high": 1},
            "profiles.columns.dti",
            "already a column",
        ),
    ],
)
def test_bad_input_is_one_error_naming_the_field(change, value, field, message) -> None:
    with pytest.raises(RecipeError) as caught:
        recipe(change, value)
    assert caught.value.field == field
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_schema_units_are_the_model_units() -> None:
    from typing import get_args

    from factory.domains.rules.model import OPS, UNITS
    from factory.domains.rules.spec import Op, Unit

    assert set(get_args(Unit)) == UNITS
    assert set(get_args(Op)) == OPS
