"""The fraud domain on its rule table: equal to the frozen engine, to the table read row by row,
and the scored-table construct (points, reasons ranked by points) on a domain-free table."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.domains import get_domain
from factory.domains._pools import MERCHANT_CATEGORIES
from factory.domains.fraud import FraudDistribution, FraudPolicy
from factory.domains.fraud.policy import REASON_TEXTS
from factory.domains.rules import Param, Quantity, Rule, RuleTable
from factory.domains.rules.engine import compiled
from factory.domains.rules.expr import RuleError
from factory.domains.rules.interpret import interpret_row
from tests.domains.reference import fraud_engine, fraud_facts

DOMAIN = get_domain("fraud")


def _profiles(n: int, seed: int, policy: FraudPolicy) -> pl.DataFrame:
    return DOMAIN.synthesize(
        n,
        seed=seed,
        shard=0,
        offset=0,
        locale="en_US",
        distribution=FraudDistribution(),
        policy=policy,
        boundary_fraction=0.3,
    )


@pytest.mark.parametrize(
    "policy",
    [
        FraudPolicy(),
        # A wrapping night window, other marks and points, a signal worth nothing.
        FraudPolicy(
            review_score=30,
            block_score=55,
            zscore_elevated=1.5,
            points_night=0,
            points_new_device=20,
            night_start_hour=22,
            night_end_hour=6,
        ),
    ],
)
def test_fraud_table_equals_the_frozen_engine_on_100k_rows(policy: FraudPolicy) -> None:
    frame = _profiles(100_000, seed=11, policy=policy)
    expected = fraud_engine.decide(frame, policy, DOMAIN.policy_version(policy))
    got = DOMAIN.decide(frame, policy)
    assert got.columns == expected.columns
    for column in expected.columns:
        assert got[column].equals(expected[column], check_dtypes=True), column
    assert set(got["decision"]) == {"allow", "review", "block"}
    named = set(got["reason_codes"].explode().drop_nulls())
    assert named == set(REASON_TEXTS) - ({"NIGHT_TIME"} if policy.points_night == 0 else set())


def test_fraud_facts_equal_the_frozen_facts() -> None:
    policy = FraudPolicy()
    rows = DOMAIN.label(_profiles(3_000, seed=5, policy=policy), policy).to_dicts()
    for row in rows:
        facts = DOMAIN.facts(row, policy)
        expected = fraud_facts.facts(row, policy)
        assert {k: (f.value, f.percent) for k, f in facts.items()} == {
            k: (f.value, f.percent) for k, f in expected.items()
        }


def test_the_table_names_the_engine_reasons_and_their_quantities() -> None:
    table = DOMAIN.rule_table(FraudPolicy())
    # The score's own thresholds decide but are never reasons.
    assert table.reason_texts() == REASON_TEXTS
    assert not table.rule("SCORE_AT_BLOCK").reason
    assert table.rule("SCORE_AT_BLOCK").quantity == "risk_score"
    assert table.rule("SCORE_AT_BLOCK").threshold == "block_score"
    for rule in table.rules:
        assert rule.quantity in table.quantities, rule.code
        assert rule.threshold is None or rule.threshold in table.params, rule.code
    for name in ("new_device", "is_foreign", "is_night", "high_risk_category"):
        quantity = table.quantities[name]
        assert quantity.unit == "boolean" and quantity.present_words and quantity.absent_words


# -- the compiled engine equals the slow row-by-row interpretation ----------------------------


@st.composite
def _transaction(draw: st.DrawFn) -> dict:
    return {
        "amount": round(draw(st.floats(0.5, 20_000, allow_nan=False)), 2),
        "hist_mean_amount": round(draw(st.floats(1, 2_000, allow_nan=False)), 2),
        "hist_std_amount": draw(st.sampled_from([0.0, 5.0, 40.0, 300.0])),
        "txn_count_1h": draw(st.integers(0, 12)),
        "distance_km": round(draw(st.floats(0, 15_000, allow_nan=False)), 1),
        "minutes_since_prev_txn": draw(st.integers(0, 5_000)),
        "new_device": draw(st.booleans()),
        "txn_country": draw(st.sampled_from(["US", "GB"])),
        "home_country": "US",
        "merchant_category": draw(st.sampled_from(sorted(MERCHANT_CATEGORIES))),
        "hour": draw(st.integers(0, 23)),
        "account_age_days": draw(st.integers(0, 4_000)),
    }


_policies = st.builds(
    lambda scores, night, points: FraudPolicy(
        review_score=min(scores),
        block_score=max(scores),
        night_start_hour=night[0],
        night_end_hour=night[1],
        points_new_device=points,
    ),
    st.tuples(st.integers(1, 50), st.integers(51, 100)),
    st.sampled_from([(0, 5), (22, 6), (1, 3)]),
    st.integers(0, 40),
)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@settings(max_examples=60, deadline=None)
@given(st.lists(_transaction(), min_size=1, max_size=40), _policies)
def test_compiled_fraud_engine_equals_the_row_by_row_interpretation(rows: list, policy) -> None:
    table = DOMAIN.rule_table(policy)
    labelled = compiled(table).decide(pl.DataFrame(rows)).to_dicts()
    for row, got in zip(rows, labelled, strict=True):
        slow = interpret_row(table, row)
        for name, value in slow.items():
            assert _same(got[name], value), (name, got[name], value, row)


# -- the scored-table construct, domain-free ------------------------------------------------


def _scored(**changes: object) -> RuleTable:
    quantities = {
        "a": Quantity("a", "signal a", unit="number"),
        "b": Quantity("b", "signal b", unit="number"),
        "pts_a": Quantity("pts_a", "points of a", unit="score", expr="where(a > 0, pa, 0)"),
        "pts_b": Quantity("pts_b", "points of b", unit="score", expr="where(b > 0, pb, 0)"),
        "score": Quantity("score", "score", unit="score", expr="pts_a + pts_b"),
    }
    rules = (
        Rule("A", "stop", "a > 10", quantity="a", op=">", threshold="10", points="pts_a"),
        Rule("B", "go", "b > 0", quantity="b", points="pts_b"),
        Rule("HIGH", "hold", "score >= hold_at", quantity="score", reason=False),
        *changes.pop("extra", ()),  # type: ignore[misc]
    )
    return RuleTable(
        domain="toy",
        tiers=("stop", "hold", "go"),
        default="go",
        quantities=quantities,
        params={
            "pa": Param("pa", 5),
            "pb": Param("pb", 8),
            "hold_at": Param("hold_at", 10),
        },
        rules=tuple(Rule(**{**r.__dict__, "severity": i}) for i, r in enumerate(rules)),
        version="toy-1",
    )


def test_a_scored_table_ranks_reasons_by_decisive_tier_then_points() -> None:
    frame = pl.DataFrame({"a": [0.0, 1.0, 11.0, 1.0], "b": [0.0, 1.0, 1.0, 0.0]})
    out = compiled(_scored()).decide(frame)
    assert out["score"].to_list() == [0, 13, 13, 5]
    assert out["score"].dtype == pl.Int64
    assert out["decision"].to_list() == ["go", "hold", "stop", "go"]
    # Row 2: held by the score; B scored more points than A. Row 3: A decided on its own, so
    # it comes first although B scored more. Allowed rows name nothing although they scored.
    assert out["reason_codes"].to_list() == [[], ["B", "A"], ["A", "B"], []]
    assert _scored().reason_texts().keys() == {"A", "B"}


def test_points_must_name_a_derived_numeric_quantity() -> None:
    bad = Rule("C", "go", "a > 1", points="a")
    with pytest.raises(RuleError, match=r"rules\.C\.points.*not a derived numeric"):
        compiled(_scored(extra=(bad,)))


def test_a_rule_without_points_may_not_sit_at_the_default_tier() -> None:
    bad = Rule("C", "go", "a > 1")
    with pytest.raises(RuleError, match=r"rules\.C\.outcome"):
        compiled(_scored(extra=(bad,)))
