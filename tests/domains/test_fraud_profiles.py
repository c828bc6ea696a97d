"""Synthetic card transactions: determinism, shards, customers, distributions, hard cases."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from factory.domains import get_domain
from factory.domains._pools import MERCHANT_CATEGORIES, value_pools
from factory.domains.fraud import FraudDistribution, FraudPolicy

DOMAIN = get_domain("fraud")
POLICY = FraudPolicy()
KNOBS = FraudDistribution()


def synth(
    n: int = 2000,
    *,
    seed: int = 1,
    shard: int = 0,
    offset: int = 0,
    boundary: float = 0.0,
    locale: str = "en_US",
    knobs: FraudDistribution = KNOBS,
    policy: FraudPolicy = POLICY,
) -> pl.DataFrame:
    return DOMAIN.synthesize(
        n,
        seed=seed,
        shard=shard,
        offset=offset,
        locale=locale,
        distribution=knobs,
        policy=policy,
        boundary_fraction=boundary,
    )


@pytest.fixture(scope="module")
def big() -> pl.DataFrame:
    """A labelled shard at the default knobs and no boundary rows (the realistic mix)."""
    return DOMAIN.decide(synth(40_000, seed=1, shard=2, offset=80_000), POLICY)


def test_same_inputs_give_identical_frames():
    a = synth(1500, seed=1, shard=1, offset=1500, boundary=0.3)
    b = synth(1500, seed=1, shard=1, offset=1500, boundary=0.3)
    assert a.equals(b)


def test_different_seed_or_knobs_give_different_frames():
    base = synth(500, seed=1)
    assert not base.equals(synth(500, seed=2))
    assert not base.equals(synth(500, seed=1, knobs=FraudDistribution(fraud_rate=0.2)))


def test_a_shard_does_not_depend_on_the_shards_before_it():
    alone = synth(800, seed=1, shard=3, offset=2400, boundary=0.2)
    for shard in range(3):
        synth(800, seed=1, shard=shard, offset=800 * shard, boundary=0.2)
    after = synth(800, seed=1, shard=3, offset=2400, boundary=0.2)
    assert alone.equals(after)


def test_ids_are_unique_across_shards_and_customers_never_span_shards():
    shards = [synth(1000, seed=1, shard=s, offset=1000 * s) for s in range(3)]
    frame = pl.concat(shards)
    assert frame["transaction_id"].n_unique() == 3000
    assert frame["transaction_id"][0] == "T0000000000"
    owners = [set(s["customer_id"]) for s in shards]
    assert not (owners[0] & owners[1] or owners[0] & owners[2] or owners[1] & owners[2])
    for shard, part in enumerate(shards):
        assert part["customer_id"].str.starts_with(f"C{shard:05d}-").all()


def test_customers_have_several_transactions_and_one_profile(big):
    per_customer = big.group_by("customer_id").len()["len"]
    assert per_customer.median() >= 5
    stable = [
        "first_name", "last_name", "sex", "age", "marital_status", "home_country",
        "account_age_days", "history_txn_count", "hist_mean_amount", "hist_std_amount",
    ]  # fmt: skip
    counts = big.group_by("customer_id").agg(pl.col(c).n_unique() for c in stable)
    assert (counts.select(stable).max_horizontal() == 1).all()


def test_value_ranges_and_internal_consistency(big):
    assert (big["amount"] > 0).all()
    assert big["hour"].is_between(0, 23).all()
    assert (big["minutes_since_prev_txn"] >= 1).all()
    assert (big["distance_km"] >= 0).all()
    assert (big["hist_std_amount"] > 0).all()
    assert (big["history_txn_count"] >= 1).all()
    # The previous transaction was within the hour exactly when some earlier one is counted.
    recent = big["minutes_since_prev_txn"] <= 60
    assert ((big["txn_count_1h"] >= 1) == recent).all()
    # Device fingerprints only exist for online and contactless (wallet) payments.
    assert not big.filter(pl.col("channel") == "card_present")["new_device"].any()
    assert set(big["merchant_category"]) <= set(MERCHANT_CATEGORIES)
    assert set(big["channel"]) == {"card_present", "contactless", "online"}
    assert (big["is_foreign"] == (big["txn_country"] != "US")).all()


def test_protected_attributes_are_plausible_and_names_match_sex(big):
    assert set(big["sex"]) == {"female", "male"}
    assert big["age"].is_between(18, 90).all()
    bands = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
    for age, band in big.select("age", "age_band").unique().rows():
        assert band == bands[min(max((age - 15) // 10, 0), 5)], (age, band)
    assert set(big["marital_status"]) == {"single", "married", "divorced", "widowed"}
    pools = value_pools("en_US", 1)
    women = big.filter(pl.col("sex") == "female")["first_name"]
    assert women.is_in(pools.first_names_female.implode()).all()


def test_realistic_base_rates(big):
    rates = dict(big["decision"].value_counts(normalize=True).rows())
    assert 0.93 <= rates["allow"] <= 0.98
    assert 0.005 <= rates["block"] <= 0.03
    assert 0.005 <= rates["review"] <= 0.04
    assert big["is_fraud_latent"].mean() == pytest.approx(KNOBS.fraud_rate, abs=0.005)


def test_typical_amounts_and_history(big):
    legit = big.filter(~pl.col("is_fraud_latent"))
    assert 20 <= legit["amount"].median() <= 90
    assert 40 <= big["hist_mean_amount"].median() <= 200
    assert 0.6 <= big["age"].median() / 44 <= 1.4
    # Most honest purchases sit within a standard deviation of the customer's mean.
    assert (legit["amount_zscore"].abs() < 1).mean() > 0.8


def test_fraud_looks_riskier_than_legitimate_spending(big):
    means = dict(big.group_by("is_fraud_latent").agg(pl.col("risk_score").mean()).rows())
    assert means[True] > means[False] + 30
    caught = big.filter(pl.col("is_fraud_latent"))["decision"].is_in(["review", "block"]).mean()
    false_alarms = big.filter(~pl.col("is_fraud_latent"))["decision"].ne("allow").mean()
    assert caught > 0.5
    assert false_alarms < 0.03


def test_amounts_follow_the_merchant_category(big):
    ticket = {name: mu for name, (mu, _, _) in MERCHANT_CATEGORIES.items()}
    for fraud in (False, True):
        part = big.filter(pl.col("is_fraud_latent") == fraud)
        typical = part["merchant_category"].replace_strict(ticket, return_dtype=pl.Float64)
        corr = np.corrcoef(np.log(part["amount"].to_numpy()), typical.to_numpy())[0, 1]
        assert corr > 0.3, (fraud, corr)


def test_fraud_rate_knob_moves_the_latent_share():
    low = synth(5000, knobs=FraudDistribution(fraud_rate=0.0))
    high = synth(5000, knobs=FraudDistribution(fraud_rate=0.3))
    assert not low["is_fraud_latent"].any()
    assert set(low["fraud_pattern"]) == {"none"}
    assert 0.25 <= high["is_fraud_latent"].mean() <= 0.35
    only = FraudDistribution(
        fraud_rate=0.3,
        card_testing_weight=1.0,
        account_takeover_weight=0.0,
        impossible_travel_weight=0.0,
        high_risk_merchant_weight=0.0,
    )
    patterns = set(synth(2000, knobs=only)["fraud_pattern"])
    assert patterns == {"none", "card_testing"}


def test_other_locales_use_their_home_country():
    frame = DOMAIN.decide(synth(3000, locale="de_DE"), POLICY)
    assert set(frame["home_country"]) == {"DE"}
    assert (frame["is_foreign"] == (frame["txn_country"] != "DE")).all()
    assert frame["is_foreign"].any()


def _near_share(frame: pl.DataFrame, p: FraudPolicy) -> float:
    score, z = pl.col("risk_score"), pl.col("amount_zscore")
    near = ((score - p.review_score).abs() <= 10) | ((score - p.block_score).abs() <= 10)
    for mark in (p.zscore_elevated, p.zscore_extreme, p.review_zscore):
        near |= (z - mark).abs() <= 0.25
    speed_ratio = pl.col("implied_speed_kmh") / p.max_travel_speed_kmh
    near |= ((speed_ratio - 1).abs() <= 0.1) & (pl.col("distance_km") >= p.far_distance_km)
    for mark in (p.velocity_count, p.block_velocity):
        near |= (pl.col("txn_count_1h") - mark).abs() <= 1
    return frame.select(near.mean()).item()


@pytest.mark.parametrize("policy", [POLICY, FraudPolicy(review_score=30, block_score=85)])
def test_boundary_fraction_draws_rows_near_the_thresholds(policy):
    shares = [
        _near_share(DOMAIN.decide(synth(6000, boundary=b, policy=policy), policy), policy)
        for b in (0.0, 0.4, 0.8)
    ]
    assert shares[0] < 0.15
    assert shares[1] > shares[0] + 0.25
    assert shares[2] > shares[1] + 0.25


def test_every_knob_is_documented_and_validated():
    for name, field in FraudDistribution.model_fields.items():
        assert field.description, name
    with pytest.raises(ValueError, match="pattern weight"):
        FraudDistribution(
            card_testing_weight=0.0,
            account_takeover_weight=0.0,
            impossible_travel_weight=0.0,
            high_risk_merchant_weight=0.0,
        )
    with pytest.raises(ValueError):
        FraudDistribution(fraud_rate=0.9)


def test_tiny_shards_work():
    frame = DOMAIN.decide(synth(1, offset=41), POLICY)
    assert frame.height == 1
    assert frame["transaction_id"][0] == "T0000000041"
