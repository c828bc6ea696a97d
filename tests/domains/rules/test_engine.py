"""The compiled rule-table engine: equal to today's lending engine, and to the table read row by
row in Python on random profiles."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.domains import get_domain
from factory.domains.lending import LendingDistribution, LendingPolicy
from factory.domains.lending.policy import LOAN_PURPOSES, SECURED_PURPOSES
from factory.domains.rules import Param, Quantity, Rule, RuleTable
from factory.domains.rules.engine import compiled
from factory.domains.rules.expr import RuleError
from factory.domains.rules.interpret import interpret_row
from tests.domains.reference import lending_engine, lending_facts

DOMAIN = get_domain("lending")
DERIVED = (
    "monthly_income",
    "monthly_payment",
    "total_monthly_obligations",
    "dti",
    "ltv",
    "loan_to_income",
)


def _profiles(n: int, seed: int, policy: LendingPolicy) -> pl.DataFrame:
    return DOMAIN.synthesize(
        n,
        seed=seed,
        shard=0,
        offset=0,
        locale="en_US",
        distribution=LendingDistribution(),
        policy=policy,
        boundary_fraction=0.4,
    )


@pytest.mark.parametrize(
    "policy",
    [
        LendingPolicy(),
        LendingPolicy(max_dti=0.5, refer_dti=0.3, min_credit_score=580, refer_credit_score=700),
    ],
)
def test_lending_table_equals_the_frozen_engine_on_100k_rows(policy: LendingPolicy) -> None:
    frame = _profiles(100_000, seed=11, policy=policy)
    version = DOMAIN.policy_version(policy)
    expected = lending_engine.decide(frame, policy, version, DOMAIN.max_principal_reasons)
    got = DOMAIN.decide(frame, policy)
    assert got.columns == expected.columns
    for column in expected.columns:
        assert got[column].equals(expected[column], check_dtypes=True), column
    # Every decision and many codes occur, so the comparison exercises every rule.
    assert set(got["decision"]) == {"approve", "refer", "deny"}
    fired = set(got["reason_codes"].explode().drop_nulls())
    assert fired == set(lending_engine.REASON_ORDER)


def test_lending_facts_equal_the_frozen_facts() -> None:
    policy = LendingPolicy()
    rows = DOMAIN.label(_profiles(3_000, seed=5, policy=policy), policy).to_dicts()
    for row in rows:
        facts = DOMAIN.facts(row, policy)
        expected = lending_facts.lending_facts(row, policy)
        assert {k: (f.value, f.percent) for k, f in facts.items()} == {
            k: (f.value, f.percent) for k, f in expected.items()
        }
        # The verifier's plain pairs are the same numbers with the same percent flags.
        assert DOMAIN.fact_pairs(row, policy) == {
            k: (f.value, f.percent) for k, f in expected.items()
        }


# -- the compiled engine equals the slow row-by-row interpretation ----------------------------

_money = st.floats(0, 2_000_000, allow_nan=False).map(lambda v: round(v, 2))


@st.composite
def _applicant(draw: st.DrawFn) -> dict:
    purpose = draw(st.sampled_from(LOAN_PURPOSES))
    bankruptcies = draw(st.integers(0, 3))
    return {
        "annual_income": float(draw(st.integers(8_000, 2_000_000))),
        "monthly_debt_payments": draw(_money),
        "loan_amount": float(draw(st.integers(500, 3_000_000))),
        "loan_term_months": draw(st.sampled_from([12, 24, 36, 60, 84, 180, 360])),
        "interest_rate": draw(st.sampled_from([0.0, 0.0299, 0.0649, 0.1999, 0.36])),
        "credit_score": draw(st.integers(300, 850)),
        "employment_years": round(draw(st.floats(0, 45, allow_nan=False)), 1),
        "credit_utilization": round(draw(st.floats(0, 1.5, allow_nan=False)), 4),
        "delinquencies_2y": draw(st.integers(0, 8)),
        "bankruptcies": bankruptcies,
        "months_since_bankruptcy": draw(st.integers(0, 240)) if bankruptcies else None,
        "loan_purpose": purpose,
        "collateral_value": float(draw(st.integers(1_000, 4_000_000)))
        if purpose in SECURED_PURPOSES
        else None,
    }


_policies = st.builds(
    lambda dti, score, util: LendingPolicy(
        max_dti=max(dti),
        refer_dti=min(dti),
        min_credit_score=min(score),
        refer_credit_score=max(score),
        refer_credit_utilization=util,
    ),
    st.tuples(st.floats(0.05, 1.0), st.floats(0.05, 1.0)),
    st.tuples(st.integers(300, 850), st.integers(300, 850)),
    st.floats(0.05, 1.5),
)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@settings(max_examples=60, deadline=None)
@given(st.lists(_applicant(), min_size=1, max_size=40), _policies)
def test_compiled_engine_equals_the_row_by_row_interpretation(rows: list, policy) -> None:
    frame = pl.DataFrame(
        rows,
        schema_overrides={"months_since_bankruptcy": pl.Int64, "collateral_value": pl.Float64},
    )
    table = DOMAIN.rule_table(policy)
    labelled = compiled(table).decide(frame).to_dicts()
    for row, got in zip(rows, labelled, strict=True):
        slow = interpret_row(table, row)
        for name, value in slow.items():
            assert _same(got[name], value), (name, got[name], value, row)


def test_a_deny_code_replaces_its_refer_twin() -> None:
    table = DOMAIN.rule_table(LendingPolicy())
    code = compiled(table)
    dti_max = 1 << [r.code for r in table.rules].index("DTI_ABOVE_MAX")
    dti_refer = 1 << [r.code for r in table.rules].index("DTI_ABOVE_REFER")
    util = 1 << [r.code for r in table.rules].index("HIGH_CREDIT_UTILIZATION")
    assert code.outcome(dti_max | dti_refer | util) == (
        0,
        ["DTI_ABOVE_MAX", "HIGH_CREDIT_UTILIZATION"],
    )
    assert code.outcome(dti_refer) == (1, ["DTI_ABOVE_REFER"])
    assert code.outcome(0) == (2, [])


def _table(**changes: object) -> RuleTable:
    base = {
        "domain": "toy",
        "tiers": ("block", "review", "allow"),
        "default": "allow",
        "quantities": {
            "amount": Quantity("amount", "amount", unit="money"),
            "channel": Quantity("channel", "channel", unit="category"),
            "double": Quantity("double", "twice the amount", unit="money", expr="amount * 2"),
        },
        "params": {"limit": Param("limit", 100.0)},
        "rules": (Rule("BIG", "block", "double > limit", "double", ">", "limit"),),
    }
    return RuleTable(**{**base, **changes})  # type: ignore[arg-type]


def test_a_domain_free_table_compiles_and_decides() -> None:
    frame = pl.DataFrame({"amount": [10.0, 60.0], "channel": ["web", "pos"]})
    out = compiled(_table()).decide(frame)
    assert out["decision"].to_list() == ["allow", "block"]
    assert out["double"].to_list() == [20.0, 120.0]


def test_a_cycle_among_derived_quantities_is_named() -> None:
    quantities = {
        "a": Quantity("a", "a", expr="b + 1"),
        "b": Quantity("b", "b", expr="a * 2"),
    }
    with pytest.raises(RuleError, match=r"cycle among derived quantities: a -> b -> a"):
        compiled(_table(quantities=quantities, rules=()))


def test_a_rule_comparing_a_category_with_a_number_is_refused() -> None:
    rules = (Rule("ODD", "review", "channel > limit"),)
    with pytest.raises(RuleError, match=r"rules\.ODD\.when: cannot compare a category"):
        compiled(_table(rules=rules))
