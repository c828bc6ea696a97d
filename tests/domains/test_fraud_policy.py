"""The fraud policy engine: each rule at and around its threshold, reasons, and properties."""

from __future__ import annotations

import re
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from factory.domains import get_domain
from factory.domains.fraud.policy import POINT_COLUMNS, SEVERITY, FraudPolicy

DOMAIN = get_domain("fraud")
POLICY = FraudPolicy()

#: A transaction with every risk signal off: mean 100, std 50, so amount 200 is z = 2.
CLEAN: dict[str, Any] = {
    "transaction_id": "T0000000000",
    "customer_id": "C00000-000000",
    "amount": 80.0,
    "hist_mean_amount": 100.0,
    "hist_std_amount": 50.0,
    "txn_count_1h": 0,
    "distance_km": 3.0,
    "minutes_since_prev_txn": 600,
    "new_device": False,
    "txn_country": "US",
    "home_country": "US",
    "merchant_category": "grocery",
    "hour": 14,
    "account_age_days": 1000,
    "sex": "female",
    "age": 40,
    "age_band": "35-44",
    "marital_status": "married",
    "fraud_pattern": "none",
    "is_fraud_latent": False,
}


def decide(rows: list[dict[str, Any]], policy: FraudPolicy = POLICY) -> pl.DataFrame:
    return DOMAIN.decide(pl.DataFrame(rows), policy)


def one(policy: FraudPolicy = POLICY, **changes: Any) -> dict[str, Any]:
    return decide([{**CLEAN, **changes}], policy).row(0, named=True)


def test_clean_transaction_is_allowed_without_reasons():
    row = one()
    assert row["risk_score"] == 0
    assert row["decision"] == "allow"
    assert row["reason_codes"] == []
    assert row["policy_version"] == DOMAIN.policy_version(POLICY)


@pytest.mark.parametrize(
    ("amount", "zscore", "points"),
    [
        (199.5, 1.99, 0),
        (200.0, 2.0, 15),  # at the elevated mark
        (299.5, 3.99, 15),
        (300.0, 4.0, 30),  # at the extreme mark
        (20.0, -1.6, 0),
    ],
)
def test_amount_points_by_zscore_tier(amount, zscore, points):
    row = one(amount=amount)
    assert row["amount_zscore"] == zscore
    assert row["pts_amount"] == points


def test_zscore_is_rounded_in_the_frame_and_the_rule_reads_the_rounded_value():
    # 199.99 is z = 1.9998, stored as 2.0: the stored value decides, as the text will cite it.
    row = one(amount=199.99)
    assert row["amount_zscore"] == 2.0
    assert row["pts_amount"] == 15


def test_zero_spread_history_gives_zero_zscore():
    assert one(amount=5000.0, hist_std_amount=0.0)["amount_zscore"] == 0.0


def test_extreme_amount_alone_sends_to_review():
    at_mark = one(amount=400.0)  # z = 6.0 = review_zscore, score only 30
    assert at_mark["risk_score"] == 30
    assert at_mark["decision"] == "review"
    assert at_mark["reason_codes"] == ["AMOUNT_ABOVE_HISTORY"]
    assert one(amount=399.5)["decision"] == "allow"  # z = 5.99


@pytest.mark.parametrize(
    ("count", "points", "decision"),
    [(2, 0, "allow"), (3, 20, "allow"), (7, 20, "allow"), (8, 20, "block"), (12, 20, "block")],
)
def test_velocity_points_and_hard_block(count, points, decision):
    row = one(txn_count_1h=count, minutes_since_prev_txn=5)
    assert row["pts_velocity"] == points
    assert row["decision"] == decision
    if decision == "block":
        assert row["reason_codes"][0] == "HIGH_VELOCITY"


@pytest.mark.parametrize(
    ("distance", "minutes", "speed", "impossible", "distance_points"),
    [
        (900.0, 60, 900.0, False, 10),  # at the speed limit: still possible, but distant
        (900.2, 60, 900.2, True, 0),  # just above it
        (499.9, 1, 29994.0, False, 0),  # absurd speed over a short jump is location jitter
        (500.0, 1, 30000.0, True, 0),
        (499.9, 600, 50.0, False, 0),
        (500.0, 600, 50.0, False, 10),  # at the distance mark
    ],
)
def test_impossible_travel_and_distance(distance, minutes, speed, impossible, distance_points):
    row = one(distance_km=distance, minutes_since_prev_txn=minutes)
    assert row["implied_speed_kmh"] == speed
    assert row["rule_impossible_travel"] is impossible
    assert row["pts_impossible_travel"] == (40 if impossible else 0)
    assert row["pts_distance"] == distance_points
    assert row["decision"] == ("block" if impossible else "allow")
    if impossible:
        assert row["reason_codes"] == ["IMPOSSIBLE_TRAVEL"]


def test_zero_minutes_counts_as_one_minute():
    assert one(distance_km=10.0, minutes_since_prev_txn=0)["implied_speed_kmh"] == 600.0


@pytest.mark.parametrize(
    ("changes", "column", "points"),
    [
        ({"txn_country": "FR"}, "pts_foreign", 15),
        ({"new_device": True}, "pts_new_device", 15),
        ({"merchant_category": "crypto_exchange"}, "pts_high_risk_category", 10),
        ({"merchant_category": "not_a_category"}, "pts_high_risk_category", 0),
        ({"hour": 0}, "pts_night", 5),
        ({"hour": 4}, "pts_night", 5),
        ({"hour": 5}, "pts_night", 0),
        ({"hour": 23}, "pts_night", 0),
        ({"account_age_days": 29}, "pts_new_account", 10),
        ({"account_age_days": 30}, "pts_new_account", 0),
    ],
)
def test_single_signal_points(changes, column, points):
    row = one(**changes)
    assert row[column] == points
    assert row["risk_score"] == points
    assert row["decision"] == "allow"


def test_night_window_wraps_past_midnight():
    policy = FraudPolicy(night_start_hour=22, night_end_hour=5)
    hours = {h: one(policy, hour=h)["is_night"] for h in (21, 22, 23, 0, 4, 5)}
    assert hours == {21: False, 22: True, 23: True, 0: True, 4: True, 5: False}


def test_review_score_is_inclusive():
    signals = {"txn_country": "FR", "new_device": True, "merchant_category": "jewelry"}  # 40
    assert one(**signals)["decision"] == "review"
    assert one(FraudPolicy(review_score=41), **signals)["decision"] == "allow"


def test_block_score_is_inclusive():
    signals = {
        "amount": 300.0,
        "txn_country": "FR",
        "new_device": True,
        "merchant_category": "jewelry",
    }  # 30 + 15 + 15 + 10 = 70
    row = one(**signals)
    assert row["risk_score"] == 70
    assert row["decision"] == "block"
    assert one(FraudPolicy(block_score=71), **signals)["decision"] == "review"


def test_score_is_capped_and_reasons_are_ordered_and_at_most_four():
    row = one(
        amount=300.0,
        txn_country="FR",
        new_device=True,
        merchant_category="jewelry",
        hour=2,
        account_age_days=3,
        txn_count_1h=4,
        minutes_since_prev_txn=10,
    )
    assert row["raw_score"] == 30 + 15 + 15 + 10 + 5 + 10 + 20
    assert row["risk_score"] == 100
    # Largest contribution first; ties (15, 15) in the documented order.
    assert row["reason_codes"] == [
        "AMOUNT_ABOVE_HISTORY",
        "HIGH_VELOCITY",
        "UNRECOGNIZED_DEVICE",
        "FOREIGN_COUNTRY",
    ]


def test_decisive_rules_come_before_larger_contributions():
    # Velocity block (20 points) outranks the amount's 30 points because it decides alone.
    row = one(amount=300.0, txn_count_1h=9, minutes_since_prev_txn=3)
    assert row["decision"] == "block"
    assert row["reason_codes"] == ["HIGH_VELOCITY", "AMOUNT_ABOVE_HISTORY"]


def test_policy_version_follows_the_thresholds():
    assert one()["policy_version"] != one(FraudPolicy(block_score=75))["policy_version"]


@pytest.mark.parametrize(
    "fields",
    [
        {"review_score": 70, "block_score": 70},
        {"zscore_elevated": 4.0, "zscore_extreme": 4.0},
        {"review_zscore": 3.0},
        {"points_amount_elevated": 40, "points_amount_extreme": 30},
        {"velocity_count": 8, "block_velocity": 8},
        {"points_distance": 50, "points_impossible_travel": 40},
        {"night_start_hour": 3, "night_end_hour": 3},
        {"review_score": 0},
        {"block_score": 101},
        {"hour": 3},
    ],
)
def test_inconsistent_or_out_of_range_policies_are_rejected(fields):
    with pytest.raises(ValidationError):
        FraudPolicy(**fields)


def test_every_policy_field_is_documented():
    for name, field in FraudPolicy.model_fields.items():
        assert field.description, name


def test_reason_texts_are_specific_and_digit_free():
    assert set(DOMAIN.reason_texts) == set(POINT_COLUMNS)
    for code, text in DOMAIN.reason_texts.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", code)
        assert not re.search(r"\d", text)
        assert len(text.split()) >= 5, code


# Property tests -------------------------------------------------------------------------------

_rows = st.fixed_dictionaries(
    {
        "amount": st.floats(0.01, 20_000.0).map(lambda x: round(x, 2)),
        "hist_mean_amount": st.floats(5.0, 500.0).map(lambda x: round(x, 2)),
        "hist_std_amount": st.floats(1.0, 800.0).map(lambda x: round(x, 2)),
        "txn_count_1h": st.integers(0, 20),
        "distance_km": st.floats(0.0, 12_000.0).map(lambda x: round(x, 1)),
        "minutes_since_prev_txn": st.integers(1, 5000),
        "new_device": st.booleans(),
        "txn_country": st.sampled_from(["US", "FR", "NG"]),
        "merchant_category": st.sampled_from(
            ["grocery", "travel", "electronics", "gambling", "fuel", "gift_cards"]
        ),
        "hour": st.integers(0, 23),
        "account_age_days": st.integers(1, 5000),
    }
)


def _calmer(row: dict[str, Any], which: set[str], data: st.DataObject) -> dict[str, Any]:
    """The same transaction with some risk signals lowered (never raised)."""
    out = dict(row)
    if "amount" in which:
        out["amount"] = round(row["amount"] * data.draw(st.floats(0.0, 1.0)), 2)
    if "velocity" in which:
        out["txn_count_1h"] = data.draw(st.integers(0, row["txn_count_1h"]))
    if "distance" in which:
        out["distance_km"] = round(row["distance_km"] * data.draw(st.floats(0.0, 1.0)), 1)
    if "minutes" in which:
        out["minutes_since_prev_txn"] = row["minutes_since_prev_txn"] + data.draw(
            st.integers(0, 5000)
        )
    if "device" in which:
        out["new_device"] = False
    if "country" in which:
        out["txn_country"] = "US"
    if "category" in which:
        out["merchant_category"] = "grocery"
    if "hour" in which:
        out["hour"] = 14
    if "account" in which:
        out["account_age_days"] = row["account_age_days"] + data.draw(st.integers(0, 3000))
    return out


_SIGNALS = ["amount", "velocity", "distance", "minutes", "device", "country", "category",
            "hour", "account"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(row=_rows, which=st.sets(st.sampled_from(_SIGNALS), min_size=1), data=st.data())
def test_lowering_risk_signals_never_raises_severity(row, which, data):
    base = {**CLEAN, **row}
    calmer = {**CLEAN, **_calmer(row, which, data)}
    out = decide([base, calmer])
    before, after = out["decision"].to_list()
    assert SEVERITY[after] <= SEVERITY[before]
    assert out["risk_score"][1] <= out["risk_score"][0]


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(_rows, min_size=1, max_size=20))
def test_reason_codes_follow_the_decision(rows):
    out = decide([{**CLEAN, **r} for r in rows])
    for decision, codes, score in out.select("decision", "reason_codes", "risk_score").rows():
        assert 0 <= score <= 100
        assert len(codes) <= DOMAIN.max_principal_reasons
        assert len(set(codes)) == len(codes)
        if decision in DOMAIN.adverse_labels:
            assert codes, "an adverse decision needs a principal reason"
        else:
            assert codes == []


def test_decisions_do_not_read_protected_attributes_or_the_latent_flag():
    profiles = DOMAIN.synthesize(
        3000,
        seed=11,
        shard=0,
        offset=0,
        locale="en_US",
        distribution=DOMAIN.distribution_model(),
        policy=POLICY,
        boundary_fraction=0.3,
    )
    hidden = [*DOMAIN.protected_columns, "fraud_pattern", "is_fraud_latent"]
    shuffled = profiles.with_columns(pl.col(c).shuffle(seed=7) for c in hidden)
    assert not shuffled.select(hidden).equals(profiles.select(hidden))
    a, b = DOMAIN.decide(profiles, POLICY), DOMAIN.decide(shuffled, POLICY)
    assert a.select("decision", "reason_codes", "risk_score").equals(
        b.select("decision", "reason_codes", "risk_score")
    )
