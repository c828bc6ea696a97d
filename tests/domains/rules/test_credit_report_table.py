"""The credit-report domain on its rule table: equal to the frozen engine and facts, to the
table read row by row, and the supporting/listed/fallback constructs on a domain-free table."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.domains import get_domain
from factory.domains.credit_report import CreditReportDistribution, CreditReportPolicy
from factory.domains.credit_report.policy import ACTIONS, REASON_TEXTS
from factory.domains.rules import Param, Quantity, Rule, RuleTable
from factory.domains.rules.engine import compiled
from factory.domains.rules.expr import RuleError
from factory.domains.rules.interpret import interpret_row
from tests.domains.reference import credit_report_engine, credit_report_facts

DOMAIN = get_domain("credit_report")

_POLICIES = [
    CreditReportPolicy(),
    # Another band, every listing threshold, the target and the caution level.
    CreditReportPolicy(
        stable_band_points=12,
        min_utilization_change=0.05,
        min_balance_change=1_200.0,
        min_credit_limit_change=250.0,
        target_utilization=0.1,
        inquiry_caution_count=1,
    ),
]


def _profiles(n: int, seed: int, policy: CreditReportPolicy) -> pl.DataFrame:
    return DOMAIN.synthesize(
        n,
        seed=seed,
        shard=0,
        offset=0,
        locale="en_US",
        distribution=CreditReportDistribution(),
        policy=policy,
        boundary_fraction=0.3,
    )


@pytest.mark.parametrize("policy", _POLICIES)
def test_credit_report_table_equals_the_frozen_engine(policy: CreditReportPolicy) -> None:
    frame = _profiles(5_000, seed=11, policy=policy)
    expected = credit_report_engine.decide(frame, policy, DOMAIN.policy_version(policy))
    got = DOMAIN.decide(frame, policy)
    assert got.columns == expected.columns
    for column in expected.columns:
        assert got[column].equals(expected[column], check_dtypes=True), column
    assert set(got["decision"]) == {"improved", "declined", "stable"}
    named = set(got["reason_codes"].explode().drop_nulls())
    assert len(named) > len(REASON_TEXTS) // 2


def test_credit_report_facts_hold_the_frozen_facts() -> None:
    policy = CreditReportPolicy()
    rows = DOMAIN.label(_profiles(2_000, seed=5, policy=policy), policy).to_dicts()
    for row in rows:
        facts = DOMAIN.facts(row, policy)
        for name, fact in credit_report_facts.credit_report_facts(row, policy).items():
            assert (facts[name].value, facts[name].percent) == (fact.value, fact.percent), name
    # Table facts know their quantity and words.
    fact = DOMAIN.facts(rows[0], policy)["utilization_after"]
    assert fact.unit == "fraction" and "latest credit utilization" in fact.aliases


def test_the_table_holds_the_codes_texts_and_actions() -> None:
    table = DOMAIN.rule_table(CreditReportPolicy())
    assert table.reason_texts() == REASON_TEXTS
    assert table.lists() == ("bad_changes", "good_changes", "actions")
    assert [r.code for r in table.rules if r.listed == "actions"] == list(ACTIONS)
    assert not table.rule("SCORE_DECLINED").reason
    assert table.rule("UTILIZATION_UP").supports == ("declined",)
    assert table.rule("MINOR_CHANGES").fallback


# -- the compiled engine equals the slow row-by-row interpretation ----------------------------

_count = st.integers(0, 5)


@st.composite
def _report(draw: st.DrawFn) -> dict:
    row: dict = {"months_between": draw(st.integers(1, 24))}
    for side in ("before", "after"):
        row[f"score_{side}"] = draw(st.integers(300, 850))
        row[f"utilization_{side}"] = draw(st.integers(0, 10_000)) / 10_000
        for money in ("revolving_balance", "credit_limit", "installment_balance"):
            row[f"{money}_{side}"] = float(draw(st.integers(0, 40_000)))
        for count in ("open_accounts", "hard_inquiries", "late_payments", "collections"):
            row[f"{count}_{side}"] = draw(_count)
        row[f"public_records_{side}"] = draw(st.integers(0, 2))
    return row


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@settings(max_examples=40, deadline=None)
@given(
    st.lists(_report(), min_size=1, max_size=30),
    st.sampled_from(_POLICIES),
)
def test_compiled_credit_engine_equals_the_row_by_row_interpretation(rows: list, policy) -> None:
    table = DOMAIN.rule_table(policy)
    labelled = compiled(table).decide(pl.DataFrame(rows)).to_dicts()
    for row, got in zip(rows, labelled, strict=True):
        slow = interpret_row(table, row)
        for name, value in slow.items():
            assert _same(got[name], value), (name, got[name], value, row)


# -- supporting, listed and fallback rules, domain-free ---------------------------------------


def _explained(*extra: Rule) -> RuleTable:
    quantities = {
        "a": Quantity("a", "signal a", unit="number"),
        "b": Quantity("b", "signal b", unit="number"),
        "move": Quantity("move", "move", unit="number"),
    }
    rules = (
        Rule("DOWN", "down", "move <= -1", reason=False),
        Rule("UP", "up", "move >= 1", reason=False),
        Rule("A", "flat", "a > 0", supports=("down",), points="2 * a", listed="seen"),
        Rule("B", "flat", "b > 0", supports=("down", "up"), points="b", listed="seen"),
        Rule("QUIET", "flat", "true", supports=("down", "up"), fallback=True),
        Rule("ACT", "flat", "a > 5", reason=False, listed="todo"),
        *extra,
    )
    return RuleTable(
        domain="toy",
        tiers=("down", "up", "flat"),
        default="flat",
        quantities=quantities,
        params={"unused": Param("unused", 1)},
        rules=tuple(Rule(**{**r.__dict__, "severity": i}) for i, r in enumerate(rules)),
        version="toy-1",
    )


def test_supporting_rules_are_ranked_by_points_and_fallbacks_fill_in() -> None:
    frame = pl.DataFrame(
        {
            "a": [1.0, 3.0, 0.0, 6.0, 1.0],
            "b": [4.0, 4.0, 0.0, 0.0, 2.0],
            "move": [-2.0, -2.0, 3.0, 0.0, 1.0],
        }
    )
    out = compiled(_explained()).decide(frame)
    assert out["decision"].to_list() == ["down", "down", "up", "flat", "up"]
    # Row 0: B (4) outweighs A (2); row 1: A (6) outweighs B (4); row 2: nothing supports up,
    # so the fallback; row 3: flat names nothing; row 4: A fired but supports only down.
    assert out["reason_codes"].to_list() == [["B", "A"], ["A", "B"], ["QUIET"], [], ["B"]]
    # Lists hold what fired, ranked, whatever the decision (row 4: a tie, in table order).
    assert out["seen"].to_list() == [["B", "A"], ["A", "B"], [], ["A"], ["A", "B"]]
    assert out["todo"].to_list() == [[], [], [], ["ACT"], []]
    assert _explained().reason_texts().keys() == {"A", "B", "QUIET"}
    for row, got in zip(frame.to_dicts(), out.to_dicts(), strict=True):
        slow = interpret_row(_explained(), row)
        assert {k: got[k] for k in slow} == slow


def test_a_supporting_rule_must_name_a_tier_and_decide_nothing() -> None:
    with pytest.raises(RuleError, match=r"rules\.C\.supports.*unknown tier 'dwn'"):
        compiled(_explained(Rule("C", "flat", "a > 1", supports=("dwn",))))
    with pytest.raises(RuleError, match=r"rules\.C\.outcome.*decides nothing"):
        compiled(_explained(Rule("C", "down", "a > 1", supports=("down",))))
    with pytest.raises(RuleError, match=r"rules\.C\.fallback"):
        compiled(_explained(Rule("C", "down", "a > 1", fallback=True)))
