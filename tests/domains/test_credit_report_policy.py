"""The credit-report engine: trend band, listing thresholds, driver order, fallbacks, actions."""

from __future__ import annotations

import re
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.domains import get_domain
from factory.domains.credit_report import CreditReportPolicy
from factory.domains.credit_report.policy import (
    ACTION_TEXTS,
    ACTIONS,
    CHANGE_RULES,
    MINOR_CHANGES,
    NO_NEW_NEGATIVE_ITEMS,
    REASON_TEXTS,
)
from factory.domains.rules.engine import compiled
from factory.domains.rules.expr import evaluate

DOMAIN = get_domain("credit_report")
POLICY = CreditReportPolicy()
TREND_ORDER = {"declined": 0, "stable": 1, "improved": 2}

#: A quiet report: nothing changes, nothing derogatory, utilization well under the target.
BASE: dict[str, Any] = {
    "customer_id": "CUS-0000000001",
    "months_between": 6,
    "score_before": 720,
    "score_after": 720,
    "utilization_before": 0.20,
    "utilization_after": 0.20,
    "revolving_balance_before": 2_000.0,
    "revolving_balance_after": 2_000.0,
    "credit_limit_before": 10_000.0,
    "credit_limit_after": 10_000.0,
    "installment_balance_before": 8_000.0,
    "installment_balance_after": 8_000.0,
    "open_accounts_before": 8,
    "open_accounts_after": 8,
    "hard_inquiries_before": 1,
    "hard_inquiries_after": 1,
    "late_payments_before": 0,
    "late_payments_after": 0,
    "collections_before": 0,
    "collections_after": 0,
    "public_records_before": 0,
    "public_records_after": 0,
}


def decide(*rows: dict[str, Any], policy: CreditReportPolicy = POLICY) -> list[dict[str, Any]]:
    frame = pl.DataFrame([{**BASE, **row} for row in rows])
    return DOMAIN.decide(frame, policy).to_dicts()


def one(policy: CreditReportPolicy = POLICY, **row: Any) -> dict[str, Any]:
    return decide(row, policy=policy)[0]


def codes(items: list[dict[str, Any]]) -> list[str]:
    return [item["code"] for item in items]


# -- the trend --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score_after", "trend"),
    [(725, "improved"), (724, "stable"), (716, "stable"), (715, "declined"), (800, "improved")],
)
def test_trend_is_improved_or_declined_at_exactly_the_band(score_after, trend):
    assert one(score_after=score_after)["decision"] == trend


def test_the_band_comes_from_the_policy():
    wide = CreditReportPolicy(stable_band_points=10)
    assert one(wide, score_after=729)["decision"] == "stable"
    assert one(wide, score_after=730)["decision"] == "improved"
    assert one(wide, score_after=710)["decision"] == "declined"


# -- listing thresholds -----------------------------------------------------------------------


def test_utilization_change_is_listed_from_exactly_the_threshold():
    at = one(utilization_before=0.23, utilization_after=0.25)
    below = one(utilization_before=0.23, utilization_after=0.2499)
    down = one(utilization_before=0.25, utilization_after=0.23)
    assert at["utilization_delta"] == pytest.approx(0.02)
    assert codes(at["bad_changes"]) == ["UTILIZATION_UP"]
    assert below["bad_changes"] == []
    assert codes(down["good_changes"]) == ["UTILIZATION_DOWN"]
    assert down["good_changes"][0] == {
        "code": "UTILIZATION_DOWN",
        "before": 0.25,
        "after": 0.23,
        "delta": pytest.approx(-0.02),
    }


@pytest.mark.parametrize(
    ("field", "up", "down"),
    [
        ("revolving_balance", "REVOLVING_BALANCE_UP", "REVOLVING_BALANCE_DOWN"),
        ("installment_balance", "INSTALLMENT_BALANCE_UP", "INSTALLMENT_BALANCE_DOWN"),
        ("credit_limit", "CREDIT_LIMIT_UP", "CREDIT_LIMIT_DOWN"),
    ],
)
def test_dollar_changes_are_listed_from_exactly_the_threshold(field, up, down):
    start = BASE[f"{field}_before"]
    rows = decide(
        {f"{field}_after": start + 500},
        {f"{field}_after": start + 499.99},
        {f"{field}_after": start - 500},
        {f"{field}_after": start - 499.99},
    )
    listed = [codes(row["good_changes"]) + codes(row["bad_changes"]) for row in rows]
    assert listed == [[up], [], [down], []]


def test_dollar_thresholds_come_from_the_policy():
    strict = CreditReportPolicy(min_balance_change=1_000, min_credit_limit_change=2_000)
    row = one(strict, revolving_balance_after=2_999.0, credit_limit_after=11_999.0)
    assert row["good_changes"] == [] and row["bad_changes"] == []
    row = one(strict, revolving_balance_after=3_000.0, credit_limit_after=12_000.0)
    assert codes(row["bad_changes"]) == ["REVOLVING_BALANCE_UP"]
    assert codes(row["good_changes"]) == ["CREDIT_LIMIT_UP"]


@pytest.mark.parametrize(
    ("field", "delta", "code", "good"),
    [
        ("open_accounts", 1, "ACCOUNT_OPENED", False),
        ("open_accounts", -1, "ACCOUNT_CLOSED", False),
        ("hard_inquiries", 1, "HARD_INQUIRIES_UP", False),
        ("hard_inquiries", -1, "HARD_INQUIRIES_DOWN", True),
        ("late_payments", 1, "NEW_LATE_PAYMENT", False),
        ("collections", 1, "NEW_COLLECTION", False),
        ("public_records", 1, "PUBLIC_RECORD_ADDED", False),
    ],
)
def test_any_change_in_a_count_is_listed(field, delta, code, good):
    row = one(**{f"{field}_after": BASE[f"{field}_before"] + delta})
    assert codes(row["good_changes" if good else "bad_changes"]) == [code]
    assert row["good_changes" if not good else "bad_changes"] == []


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("late_payments", "LATE_PAYMENT_REMOVED"),
        ("collections", "COLLECTION_REMOVED"),
        ("public_records", "PUBLIC_RECORD_REMOVED"),
    ],
)
def test_derogatory_items_coming_off_are_good_changes(field, code):
    row = one(**{f"{field}_before": 2, f"{field}_after": 1})
    assert codes(row["good_changes"]) == [code]
    assert row["good_changes"][0]["delta"] == -1.0


def test_quiet_report_has_no_changes_no_reasons_and_stamps_the_version():
    row = one()
    assert row["good_changes"] == [] and row["bad_changes"] == []
    assert row["decision"] == "stable" and row["reason_codes"] == []
    assert row["policy_version"] == DOMAIN.policy_version(POLICY)
    assert (
        DOMAIN.policy_version(CreditReportPolicy(target_utilization=0.1)) != row["policy_version"]
    )


# -- drivers ----------------------------------------------------------------------------------


def test_a_first_late_payment_outweighs_a_moderate_utilization_rise():
    row = one(
        score_after=660,
        late_payments_after=1,
        utilization_after=0.30,
        revolving_balance_after=3_000.0,
    )
    assert row["decision"] == "declined"
    assert row["reason_codes"] == ["NEW_LATE_PAYMENT", "UTILIZATION_UP", "REVOLVING_BALANCE_UP"]
    assert codes(row["bad_changes"]) == row["reason_codes"]


def test_a_large_utilization_rise_outweighs_a_first_late_payment():
    row = one(score_after=600, late_payments_after=1, utilization_after=0.60)
    assert row["reason_codes"][:2] == ["UTILIZATION_UP", "NEW_LATE_PAYMENT"]


def test_at_most_four_principal_reasons_but_every_bad_change_is_listed():
    row = one(
        score_after=560,
        public_records_after=1,
        collections_after=1,
        late_payments_after=1,
        utilization_after=0.45,
        hard_inquiries_after=3,
        open_accounts_after=9,
    )
    assert row["reason_codes"] == [
        "PUBLIC_RECORD_ADDED",
        "NEW_LATE_PAYMENT",
        "NEW_COLLECTION",
        "UTILIZATION_UP",
    ]
    assert codes(row["bad_changes"])[4:] == ["HARD_INQUIRIES_UP", "ACCOUNT_OPENED"]


def test_improved_names_favourable_drivers_only():
    row = one(
        score_after=760,
        utilization_after=0.05,
        revolving_balance_after=500.0,
        hard_inquiries_after=2,
    )
    assert row["decision"] == "improved"
    assert row["reason_codes"] == ["UTILIZATION_DOWN", "REVOLVING_BALANCE_DOWN"]
    assert codes(row["bad_changes"]) == ["HARD_INQUIRIES_UP"]


def test_stable_names_no_drivers_even_with_offsetting_changes():
    row = one(score_after=722, utilization_after=0.05, hard_inquiries_after=2)
    assert row["decision"] == "stable"
    assert row["reason_codes"] == []
    assert row["good_changes"] and row["bad_changes"]


def test_fallback_drivers_when_no_listed_change_explains_the_move():
    clean = one(score_after=730)
    assert clean["reason_codes"] == [NO_NEW_NEGATIVE_ITEMS]
    after_a_late = one(score_after=730, late_payments_after=1)
    assert after_a_late["reason_codes"] == [MINOR_CHANGES]
    unexplained_drop = one(score_after=700, utilization_after=0.10)
    assert unexplained_drop["decision"] == "declined"
    assert unexplained_drop["reason_codes"] == [MINOR_CHANGES]


# -- actions ----------------------------------------------------------------------------------


def test_pay_down_is_recommended_only_above_the_target_utilization():
    at, above = decide(
        {"utilization_after": 0.30, "revolving_balance_after": 3_000.0},
        {"utilization_after": 0.3001, "revolving_balance_after": 3_001.0},
    )
    assert "PAY_DOWN_REVOLVING" not in at["actions"]
    assert "PAY_DOWN_REVOLVING" in above["actions"]
    assert above["target_revolving_balance"] == 3_000.0
    assert above["paydown_to_target"] == 1.0
    assert at["paydown_to_target"] == 0.0


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({}, ["KEEP_PAYING_ON_TIME"]),
        ({"late_payments_after": 1}, ["BRING_ACCOUNTS_CURRENT"]),
        (
            {"late_payments_before": 2, "late_payments_after": 1},
            ["KEEP_PAYING_ON_TIME"],
        ),
        (
            {"collections_before": 1, "collections_after": 1},
            ["DISPUTE_OR_RESOLVE_COLLECTIONS", "KEEP_PAYING_ON_TIME"],
        ),
        ({"public_records_after": 1}, ["REVIEW_PUBLIC_RECORDS", "KEEP_PAYING_ON_TIME"]),
        ({"hard_inquiries_after": 2}, ["LIMIT_NEW_APPLICATIONS", "KEEP_PAYING_ON_TIME"]),
        (
            {"hard_inquiries_before": 3, "hard_inquiries_after": 3},
            ["LIMIT_NEW_APPLICATIONS", "KEEP_PAYING_ON_TIME"],
        ),
        ({"hard_inquiries_before": 2, "hard_inquiries_after": 2}, ["KEEP_PAYING_ON_TIME"]),
        ({"open_accounts_after": 7}, ["KEEP_OLD_ACCOUNTS_OPEN", "KEEP_PAYING_ON_TIME"]),
    ],
)
def test_actions_follow_the_after_report(row, expected):
    assert one(**row)["actions"] == expected


def test_actions_come_most_urgent_first():
    row = one(
        late_payments_after=1,
        collections_after=1,
        public_records_after=1,
        utilization_after=0.9,
        hard_inquiries_after=4,
        open_accounts_after=7,
    )
    assert row["actions"] == [code for code in ACTIONS if code != "KEEP_PAYING_ON_TIME"]


# -- texts ------------------------------------------------------------------------------------


def test_every_code_has_a_digit_free_text():
    for code in {rule.code for rule in CHANGE_RULES} | {NO_NEW_NEGATIVE_ITEMS, MINOR_CHANGES}:
        assert re.fullmatch(r"[A-Z][A-Z_]*", code)
        assert REASON_TEXTS[code] and not re.search(r"\d", REASON_TEXTS[code])
    for code in ACTIONS:
        assert ACTION_TEXTS[code] and not re.search(r"\d", ACTION_TEXTS[code])
    assert set(DOMAIN.reason_texts) == set(REASON_TEXTS)


def test_an_empty_frame_decides_to_an_empty_frame():
    out = DOMAIN.decide(pl.DataFrame([BASE]).clear(), POLICY)
    assert out.height == 0
    assert out.schema["good_changes"] == pl.List(
        pl.Struct(
            {"code": pl.String, "before": pl.Float64, "after": pl.Float64, "delta": pl.Float64}
        )
    )
    assert out.schema["reason_codes"] == pl.List(pl.String)


# -- properties -------------------------------------------------------------------------------

_counts = st.integers(0, 6)
_report = st.fixed_dictionaries(
    {
        "score_before": st.integers(300, 850),
        "score_after": st.integers(300, 850),
        "utilization_before": st.integers(0, 10_000).map(lambda v: v / 10_000),
        "utilization_after": st.integers(0, 10_000).map(lambda v: v / 10_000),
        "revolving_balance_before": st.integers(0, 20_000).map(float),
        "revolving_balance_after": st.integers(0, 20_000).map(float),
        "credit_limit_before": st.integers(500, 40_000).map(float),
        "credit_limit_after": st.integers(500, 40_000).map(float),
        "installment_balance_before": st.integers(0, 50_000).map(float),
        "installment_balance_after": st.integers(0, 50_000).map(float),
        "open_accounts_before": st.integers(1, 20),
        "open_accounts_after": st.integers(1, 20),
        "hard_inquiries_before": _counts,
        "hard_inquiries_after": _counts,
        "late_payments_before": _counts,
        "late_payments_after": _counts,
        "collections_before": _counts,
        "collections_after": _counts,
        "public_records_before": st.integers(0, 2),
        "public_records_after": st.integers(0, 2),
    }
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_report, min_size=1, max_size=30))
def test_engine_invariants(reports):
    for row in decide(*reports):
        reasons = row["reason_codes"]
        good, bad = codes(row["good_changes"]), codes(row["bad_changes"])
        assert len(reasons) <= DOMAIN.max_principal_reasons
        if row["decision"] == "declined":
            assert reasons == bad[:4] or reasons == [MINOR_CHANGES]
        elif row["decision"] == "improved":
            assert reasons == good[:4] or (
                not good and reasons in ([NO_NEW_NEGATIVE_ITEMS], [MINOR_CHANGES])
            )
        else:
            assert reasons == []
        # A field moves one way, so it is never both a good and a bad change.
        fields = {rule.code: rule.field for rule in CHANGE_RULES}
        assert not {fields[c] for c in good} & {fields[c] for c in bad}
        # Lists are ordered by estimated impact, largest first.
        for items in (row["good_changes"], row["bad_changes"]):
            impacts = [_impact(item) for item in items]
            assert impacts == sorted(impacts, reverse=True)
        assert ("BRING_ACCOUNTS_CURRENT" in row["actions"]) != (
            "KEEP_PAYING_ON_TIME" in row["actions"]
        )


def _impact(item: dict[str, Any]) -> float:
    """The table's estimated impact (the rule's points) of one listed change."""
    rule = next(rule for rule in CHANGE_RULES if rule.code == item["code"])
    points = next(
        rc.points for rc in compiled(DOMAIN.rule_table(POLICY)).rules if rc.rule.code == rule.code
    )
    assert points is not None
    values = {f"{rule.field}_before": item["before"], f"{rule.field}_change": abs(item["delta"])}
    return float(evaluate(points, values))


@settings(max_examples=40, deadline=None)
@given(_report, st.integers(1, 200))
def test_a_higher_after_score_never_lowers_the_trend(report, bump):
    low, high = decide(report, {**report, "score_after": min(report["score_after"] + bump, 850)})
    assert TREND_ORDER[high["decision"]] >= TREND_ORDER[low["decision"]]


@settings(max_examples=40, deadline=None)
@given(_report, st.integers(1, 5000))
def test_lower_after_utilization_never_adds_a_utilization_problem(report, drop):
    lower = {**report, "utilization_after": max(report["utilization_after"] - drop / 10_000, 0)}
    high, low = decide(report, lower)
    if "PAY_DOWN_REVOLVING" in low["actions"]:
        assert "PAY_DOWN_REVOLVING" in high["actions"]
    if "UTILIZATION_UP" in codes(low["bad_changes"]):
        assert "UTILIZATION_UP" in codes(high["bad_changes"])


@settings(max_examples=40, deadline=None)
@given(_report, st.integers(1, 3))
def test_a_new_late_payment_is_always_listed_and_acted_on(report, new):
    row = one(**{**report, "late_payments_after": report["late_payments_before"] + new})
    assert "NEW_LATE_PAYMENT" in codes(row["bad_changes"])
    assert row["actions"][0] == "BRING_ACCOUNTS_CURRENT"
