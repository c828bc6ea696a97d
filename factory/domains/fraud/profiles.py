"""Synthetic card transactions with their account history (vectorised, seeded, sharded).

Each shard has its own customers (home country, spend level, account age, history statistics),
so a customer never spans shards. Every row is one transaction by one of them, drawn from a
latent mixture: mostly legitimate spending, a `fraud_rate` share of fraud patterns.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from factory.domains._pools import Pools, value_pools
from factory.domains.base import DistributionBase, shard_rng
from factory.domains.fraud import _patterns as pat
from factory.domains.fraud._boundary import pull_to_thresholds
from factory.domains.fraud.policy import FraudPolicy

AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_EDGES = np.array([25, 35, 45, 55, 65])
MARITAL_STATUSES: tuple[str, ...] = ("single", "married", "divorced", "widowed")

# Independent random streams of a shard.
_CUSTOMERS, _NAMES, _MIXTURE, _BOUNDARY, _PLACES, _PATTERN_BASE = range(6)


class FraudDistribution(DistributionBase):
    """Distribution knobs of fraud profiles (the recipe's `profiles.distribution:`)."""

    fraud_rate: float = Field(
        0.025,
        ge=0.0,
        le=0.5,
        description="Share of transactions drawn from a fraud pattern "
        "(the simulator's ground truth, kept in is_fraud_latent).",
    )
    txns_per_customer: float = Field(
        20.0,
        ge=1.0,
        le=10_000.0,
        description="Average number of transactions per customer within a shard.",
    )
    legit_foreign_rate: float = Field(
        0.03,
        ge=0.0,
        le=0.5,
        description="Share of legitimate transactions made abroad (customers travelling).",
    )
    legit_new_device_rate: float = Field(
        0.05,
        ge=0.0,
        le=0.5,
        description="Share of legitimate online or contactless transactions "
        "made from a device not seen before (a new phone or browser).",
    )
    new_account_share: float = Field(
        0.03,
        ge=0.0,
        le=1.0,
        description="Share of customers whose account is under two months old.",
    )
    card_testing_weight: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Relative weight of card testing (bursts of tiny online charges) among fraud.",
    )
    account_takeover_weight: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="Relative weight of account takeover (new device, "
        "often abroad, large amounts in resellable categories) among fraud.",
    )
    impossible_travel_weight: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description="Relative weight of cloned cards used in person far "
        "from the previous transaction among fraud.",
    )
    high_risk_merchant_weight: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Relative weight of cash-out at gambling, crypto and "
        "money-transfer merchants among fraud.",
    )

    @model_validator(mode="after")
    def _some_pattern(self) -> FraudDistribution:
        if self.fraud_rate > 0 and sum(self.pattern_weights()) <= 0:
            raise ValueError("at least one fraud pattern weight must be > 0 when fraud_rate > 0")
        return self

    def pattern_weights(self) -> tuple[float, float, float, float]:
        """The fraud pattern weights, in the order of _patterns.FRAUD_DRAWS."""
        return (
            self.card_testing_weight,
            self.account_takeover_weight,
            self.impossible_travel_weight,
            self.high_risk_merchant_weight,
        )


def synthesize(
    n: int,
    *,
    seed: int,
    shard: int,
    offset: int,
    locale: str,
    distribution: FraudDistribution,
    policy: FraudPolicy,
    boundary_fraction: float,
) -> pl.DataFrame:
    """Draws `n` transactions (rows offset .. offset+n-1 of the run) for one shard.

    Returns:
        One row per transaction: transaction_id, customer_id, the cardholder's name and
        protected attributes (sex, age, age_band, marital_status), home_city, home_country,
        account_age_days, history_txn_count, hist_mean_amount, hist_std_amount, merchant,
        merchant_category, channel, amount, hour, txn_country, distance_km,
        minutes_since_prev_txn, txn_count_1h, new_device, and the simulator's fraud_pattern and
        is_fraud_latent (ground truth for evaluation; the policy never reads them).
    """
    d = distribution
    pools = value_pools(locale, seed)
    home = home_country(locale)
    n_customers = max(1, math.ceil(n / d.txns_per_customer))
    customers = _customers(seed, shard, n_customers, d, pools, home)

    rng = shard_rng(seed, shard, _MIXTURE)
    owner = rng.integers(0, n_customers, n)
    pattern = _draw_patterns(rng, n, d)
    level = customers["level"].to_numpy()[owner]
    txns = pat.Txns.empty(n)
    for code in range(len(pat.PATTERNS)):
        rows = np.flatnonzero(pattern == code)
        if rows.size == 0:
            continue
        stream = shard_rng(seed, shard, _PATTERN_BASE + code)
        part = (
            pat.legit(stream, level[rows], d.legit_foreign_rate, d.legit_new_device_rate)
            if code == 0
            else pat.FRAUD_DRAWS[code - 1](stream, level[rows])
        )
        txns.put(rows, part)

    mean = customers["hist_mean_amount"].to_numpy()[owner]
    std = customers["hist_std_amount"].to_numpy()[owner]
    new_account = customers["account_age_days"].to_numpy()[owner] < policy.new_account_days
    pull_to_thresholds(
        shard_rng(seed, shard, _BOUNDARY), txns, boundary_fraction, policy, mean, std, new_account
    )

    places = shard_rng(seed, shard, _PLACES)
    abroad = pools.countries.filter(pools.countries != home)
    txn_country = pl.select(
        pl.when(pl.Series(txns.foreign))
        .then(pools.take(abroad, places.integers(0, abroad.len(), n)))
        .otherwise(pl.lit(home))
    ).to_series()
    ids = pl.Series(np.arange(offset, offset + n, dtype=np.int64)).cast(pl.String)
    frame = pl.DataFrame(
        {
            "transaction_id": ("T" + ids.str.zfill(10)),
            "merchant": pools.draw(pools.merchants, places, n),
            "merchant_category": _labels(pat.CATEGORIES, txns.category),
            "channel": _labels(pat.CHANNELS, txns.channel),
            "amount": np.maximum(np.round(txns.amount, 2), 0.01),
            "hour": txns.hour,
            "txn_country": txn_country,
            "distance_km": np.round(txns.distance_km, 1),
            "minutes_since_prev_txn": txns.minutes,
            "txn_count_1h": txns.count_1h,
            "new_device": txns.new_device,
            "fraud_pattern": _labels(pat.PATTERNS, pattern),
            "is_fraud_latent": pattern > 0,
        }
    )
    owners = customers.drop("level").select(pl.all().gather(pl.Series(owner, dtype=pl.UInt32)))
    return pl.concat(
        [frame.select("transaction_id"), owners, frame.drop("transaction_id")], how="horizontal"
    )


def home_country(locale: str) -> str:
    """The cardholders' home country: the locale's region (en_GB -> GB), US when it has none."""
    region = locale.rsplit("_", 1)[-1] if "_" in locale else ""
    return region.upper() if len(region) == 2 and region.isalpha() else "US"


def _draw_patterns(rng: np.random.Generator, n: int, d: FraudDistribution) -> np.ndarray:
    """0 for legitimate rows, 1.. for the fraud pattern of the row (see _patterns.PATTERNS)."""
    fraud = rng.random(n) < d.fraud_rate
    weights = np.array(d.pattern_weights())
    if weights.sum() <= 0:
        return np.zeros(n, dtype=np.int64)
    kind = 1 + rng.choice(weights.size, size=n, p=weights / weights.sum())
    return np.where(fraud, kind, 0)


def _customers(
    seed: int, shard: int, k: int, d: FraudDistribution, pools: Pools, home: str
) -> pl.DataFrame:
    """The shard's customers, one row each, with their history statistics."""
    rng = shard_rng(seed, shard, _CUSTOMERS)
    female = rng.random(k) < 0.5
    age = np.clip(np.rint(rng.normal(44.0, 15.0, k)), 18, 90).astype(np.int64)
    marital = _marital(rng, age)
    new = rng.random(k) < d.new_account_share
    # Nobody has held an account since before they turned eighteen.
    longest = (age - 18) * 365 + 61
    account_age = np.where(
        new,
        rng.integers(1, 61, k),
        np.clip(np.rint(rng.lognormal(np.log(1500.0), 0.8, k)), 61, longest),
    ).astype(np.int64)
    daily = rng.lognormal(np.log(0.7), 0.5, k)
    history = np.clip(np.rint(account_age * daily), 3, 50_000).astype(np.int64)
    level = rng.normal(0.0, 0.4, k)
    m1, sd1 = pat.history_moments()
    # A short history estimates the customer's habits with more noise than a long one.
    noise = 0.5 / np.sqrt(history)
    mean = np.exp(level) * m1 * np.exp(noise * rng.standard_normal(k))
    std = np.maximum(np.exp(level) * sd1 * np.exp(noise * rng.standard_normal(k)), 1.0)

    names = shard_rng(seed, shard, _NAMES)
    first = pl.select(
        pl.when(pl.Series(female))
        .then(pools.draw(pools.first_names_female, names, k))
        .otherwise(pools.draw(pools.first_names_male, names, k))
    ).to_series()
    local = pl.Series(np.arange(k, dtype=np.int64)).cast(pl.String).str.zfill(6)
    return pl.DataFrame(
        {
            "customer_id": f"C{shard:05d}-" + local,
            "first_name": first,
            "last_name": pools.draw(pools.last_names, names, k),
            "sex": np.where(female, "female", "male"),
            "age": age,
            "age_band": _labels(AGE_BANDS, np.searchsorted(_AGE_EDGES, age, side="right")),
            "marital_status": _labels(MARITAL_STATUSES, marital),
            "home_city": pools.draw(pools.cities, names, k),
            "home_country": pl.repeat(home, k, dtype=pl.String, eager=True),
            "account_age_days": account_age,
            "history_txn_count": history,
            "hist_mean_amount": np.round(mean, 2),
            "hist_std_amount": np.round(std, 2),
            "level": level,
        }
    )


def _marital(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Marital status codes (see MARITAL_STATUSES): single falls and widowed rises with age."""
    single = np.clip(0.85 - 0.02 * (age - 18), 0.1, 0.85)
    divorced = np.where(age > 30, 0.12, 0.02)
    widowed = np.clip(0.01 * (age - 55), 0.0, 0.35)
    u = rng.random(age.size)
    return np.select(
        [u < single, u < single + divorced, u < single + divorced + widowed], [0, 2, 3], default=1
    )


def _labels(names: tuple[str, ...], codes: np.ndarray) -> pl.Series:
    return pl.Series(names, dtype=pl.String).gather(pl.Series(codes, dtype=pl.UInt32))
