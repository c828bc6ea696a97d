"""The fraud policy engine: a transparent additive risk score plus a few hard rules.

Each risk signal adds a documented number of points (its own `pts_*` column, so an explanation
can cite every contribution); the capped sum is the risk score in [0, 100]. A transaction is
blocked when the score reaches `block_score` or a hard rule fires (impossible travel, a burst of
transactions), held for review when the score reaches `review_score` or the amount alone is
extreme, and allowed otherwise. The engine reads only the transaction and its account history:
never the protected attributes and never the simulator's latent fraud flag.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import Field, model_validator

from factory.domains._pools import MERCHANT_CATEGORIES
from factory.domains.base import Domain, PolicyBase

#: The risk score is capped here.
MAX_SCORE = 100

HIGH_RISK_CATEGORIES: tuple[str, ...] = tuple(
    name for name, (_, _, high_risk) in MERCHANT_CATEGORIES.items() if high_risk
)

#: Reason code -> adverse-action text, in tie-break order (earlier wins on equal points).
REASON_TEXTS: dict[str, str] = {
    "IMPOSSIBLE_TRAVEL": "Transaction location could not be reached from the previous "
    "transaction's location in the time elapsed",
    "HIGH_VELOCITY": "Unusually many transactions on this card within the past hour",
    "AMOUNT_ABOVE_HISTORY": "Transaction amount far above this account's usual spending",
    "UNRECOGNIZED_DEVICE": "Transaction made from a device not previously used with this account",
    "FOREIGN_COUNTRY": "Transaction made outside the cardholder's home country",
    "HIGH_RISK_MERCHANT": "Merchant category associated with elevated fraud risk",
    "DISTANT_LOCATION": "Transaction made far from the location of the previous transaction",
    "NEW_ACCOUNT": "Account opened too recently to have an established spending pattern",
    "NIGHT_TIME": "Transaction made during overnight hours, unusual for card spending",
}

#: Reason code -> the column holding its contribution to the risk score.
POINT_COLUMNS: dict[str, str] = {
    "IMPOSSIBLE_TRAVEL": "pts_impossible_travel",
    "HIGH_VELOCITY": "pts_velocity",
    "AMOUNT_ABOVE_HISTORY": "pts_amount",
    "UNRECOGNIZED_DEVICE": "pts_new_device",
    "FOREIGN_COUNTRY": "pts_foreign",
    "HIGH_RISK_MERCHANT": "pts_high_risk_category",
    "DISTANT_LOCATION": "pts_distance",
    "NEW_ACCOUNT": "pts_new_account",
    "NIGHT_TIME": "pts_night",
}

#: Reason code -> the rule column that decides on its own (block rules outrank the review rule).
DECISIVE_RULES: dict[str, tuple[str, int]] = {
    "IMPOSSIBLE_TRAVEL": ("rule_impossible_travel", 2),
    "HIGH_VELOCITY": ("rule_velocity_block", 2),
    "AMOUNT_ABOVE_HISTORY": ("rule_amount_review", 1),
}

SEVERITY: dict[str, int] = {"allow": 0, "review": 1, "block": 2}


def _points(description: str, default: int) -> int:
    return Field(default, ge=0, le=MAX_SCORE, description=description)


class FraudPolicy(PolicyBase):
    """Thresholds and point values of the fraud engine (the recipe's `policy:` section)."""

    review_score: int = Field(
        40,
        ge=1,
        le=MAX_SCORE,
        description="Risk score at or above which a transaction is held for review.",
    )
    block_score: int = Field(
        70,
        ge=1,
        le=MAX_SCORE,
        description="Risk score at or above which a transaction is blocked "
        "(must exceed review_score).",
    )
    zscore_elevated: float = Field(
        2.0,
        ge=0.5,
        le=50.0,
        description="Amount z-score against the customer's history at or "
        "above which the amount is elevated.",
    )
    zscore_extreme: float = Field(
        4.0,
        ge=0.5,
        le=50.0,
        description="Amount z-score at or above which the amount is extreme "
        "(must exceed zscore_elevated).",
    )
    review_zscore: float = Field(
        6.0,
        ge=0.5,
        le=100.0,
        description="Amount z-score at or above which the amount alone "
        "sends the transaction to review (at least zscore_extreme).",
    )
    points_amount_elevated: int = _points("Points for an elevated amount.", 15)
    points_amount_extreme: int = _points(
        "Points for an extreme amount (at least points_amount_elevated).", 30
    )
    velocity_count: int = Field(
        3,
        ge=1,
        le=1000,
        description="Earlier transactions in the past hour at or above which velocity adds points.",
    )
    points_velocity: int = _points("Points for high velocity.", 20)
    block_velocity: int = Field(
        8,
        ge=2,
        le=1000,
        description="Earlier transactions in the past hour at or above which the "
        "transaction is blocked outright (must exceed velocity_count).",
    )
    far_distance_km: float = Field(
        500.0,
        gt=0.0,
        le=20_000.0,
        description="Distance from the previous transaction, in km, at "
        "or above which the location adds points; impossible travel also needs this distance.",
    )
    points_distance: int = _points("Points for a distant location (travel still possible).", 10)
    max_travel_speed_kmh: float = Field(
        900.0,
        gt=0.0,
        le=100_000.0,
        description="Implied speed from the previous transaction, in "
        "km/h, above which travel is impossible and the transaction is blocked.",
    )
    points_impossible_travel: int = _points(
        "Points for impossible travel (at least points_distance).", 40
    )
    points_foreign: int = _points("Points for a transaction outside the home country.", 15)
    points_new_device: int = _points("Points for a device not seen before on the account.", 15)
    points_high_risk_category: int = _points("Points for a high-risk merchant category.", 10)
    night_start_hour: int = Field(
        0, ge=0, le=23, description="First hour (0-23, local time) of the night window."
    )
    night_end_hour: int = Field(
        5,
        ge=0,
        le=23,
        description="Hour at which the night window ends (exclusive; the window "
        "wraps past midnight when it is below night_start_hour).",
    )
    points_night: int = _points("Points for a transaction in the night window.", 5)
    new_account_days: int = Field(
        30, ge=1, le=3650, description="Account age in days below which the account is new."
    )
    points_new_account: int = _points("Points for a new account.", 10)

    @model_validator(mode="after")
    def _consistent(self) -> FraudPolicy:
        pairs = (
            (self.review_score < self.block_score, "review_score must be below block_score"),
            (
                self.zscore_elevated < self.zscore_extreme,
                "zscore_elevated must be below zscore_extreme",
            ),
            (
                self.zscore_extreme <= self.review_zscore,
                "review_zscore must be at least zscore_extreme",
            ),
            (
                self.points_amount_elevated <= self.points_amount_extreme,
                "points_amount_extreme must be at least points_amount_elevated",
            ),
            (
                self.velocity_count < self.block_velocity,
                "velocity_count must be below block_velocity",
            ),
            (
                self.points_distance <= self.points_impossible_travel,
                "points_impossible_travel must be at least points_distance",
            ),
            (
                self.night_start_hour != self.night_end_hour,
                "night_start_hour and night_end_hour must differ",
            ),
        )
        for ok, message in pairs:
            if not ok:
                raise ValueError(message)
        return self


def night_hours(policy: FraudPolicy) -> np.ndarray:
    """A boolean mask over the hours 0-23: True inside the policy's night window."""
    hours = np.arange(24)
    start, end = policy.night_start_hour, policy.night_end_hour
    if start < end:
        return (hours >= start) & (hours < end)
    return (hours >= start) | (hours < end)


def decide(profiles: pl.DataFrame, policy: FraudPolicy, version: str) -> pl.DataFrame:
    """Scores and labels transactions.

    Args:
        profiles: transactions as made by `synthesize` (or hand-built with the same input
            columns: amount, hist_mean_amount, hist_std_amount, txn_count_1h, distance_km,
            minutes_since_prev_txn, new_device, txn_country, home_country, merchant_category,
            hour, account_age_days).
        policy: the thresholds.
        version: the policy version string written to every row.

    Returns:
        The frame with amount_zscore, implied_speed_kmh, is_foreign, high_risk_category,
        is_night, is_new_account, the rule flags, one `pts_*` column per signal, risk_score,
        decision, reason_codes and policy_version added.
    """
    p = policy
    std = pl.col("hist_std_amount").cast(pl.Float64)
    # Without spread in the history there is nothing to compare the amount against.
    zscore = (
        pl.when(std > 0)
        .then((pl.col("amount").cast(pl.Float64) - pl.col("hist_mean_amount")) / std)
        .otherwise(0.0)
        .round(2)
    )
    minutes = pl.col("minutes_since_prev_txn").cast(pl.Float64).clip(lower_bound=1.0)
    night = pl.col("hour").is_in(np.flatnonzero(night_hours(p)).tolist())
    out = profiles.with_columns(
        amount_zscore=zscore,
        implied_speed_kmh=(pl.col("distance_km").cast(pl.Float64) * 60.0 / minutes).round(1),
        is_foreign=pl.col("txn_country") != pl.col("home_country"),
        high_risk_category=pl.col("merchant_category").is_in(HIGH_RISK_CATEGORIES),
        is_night=night,
        is_new_account=pl.col("account_age_days") < p.new_account_days,
    )
    far = pl.col("distance_km") >= p.far_distance_km
    z = pl.col("amount_zscore")
    out = out.with_columns(
        # A jump between two nearby places (GPS or IP jitter) is not travel at all.
        rule_impossible_travel=(pl.col("implied_speed_kmh") > p.max_travel_speed_kmh) & far,
        rule_velocity_block=pl.col("txn_count_1h") >= p.block_velocity,
        rule_amount_review=z >= p.review_zscore,
    )
    out = out.with_columns(
        pts_amount=pl.when(z >= p.zscore_extreme)
        .then(p.points_amount_extreme)
        .when(z >= p.zscore_elevated)
        .then(p.points_amount_elevated)
        .otherwise(0)
        .cast(pl.Int64),
        pts_velocity=_pts(pl.col("txn_count_1h") >= p.velocity_count, p.points_velocity),
        pts_impossible_travel=_pts(pl.col("rule_impossible_travel"), p.points_impossible_travel),
        # Distance points only when the stronger impossible-travel signal did not fire.
        pts_distance=_pts(far & ~pl.col("rule_impossible_travel"), p.points_distance),
        pts_foreign=_pts(pl.col("is_foreign"), p.points_foreign),
        pts_new_device=_pts(pl.col("new_device"), p.points_new_device),
        pts_high_risk_category=_pts(pl.col("high_risk_category"), p.points_high_risk_category),
        pts_night=_pts(pl.col("is_night"), p.points_night),
        pts_new_account=_pts(pl.col("is_new_account"), p.points_new_account),
    )
    raw = pl.sum_horizontal(*POINT_COLUMNS.values())
    out = out.with_columns(raw_score=raw, risk_score=raw.clip(upper_bound=MAX_SCORE))
    score = pl.col("risk_score")
    out = out.with_columns(
        decision=pl.when(
            pl.col("rule_impossible_travel")
            | pl.col("rule_velocity_block")
            | (score >= p.block_score)
        )
        .then(pl.lit("block"))
        .when((score >= p.review_score) | pl.col("rule_amount_review"))
        .then(pl.lit("review"))
        .otherwise(pl.lit("allow"))
    )
    return out.with_columns(
        reason_codes=_reason_codes(out), policy_version=pl.lit(version, dtype=pl.String)
    )


def _pts(condition: pl.Expr, points: int) -> pl.Expr:
    return pl.when(condition).then(points).otherwise(0).cast(pl.Int64)


def _reason_codes(out: pl.DataFrame) -> pl.Series:
    """Principal reasons of adverse decisions: decisive rules first, then by points."""
    codes = list(POINT_COLUMNS)
    n_codes = len(codes)
    # Allowed transactions get no reasons, so only the (few) adverse rows are ranked.
    adverse = np.flatnonzero((out["decision"] != "allow").to_numpy())
    keys = np.empty((adverse.size, n_codes), dtype=np.int64)
    for j, code in enumerate(codes):
        points = out[POINT_COLUMNS[code]].to_numpy()[adverse].astype(np.int64)
        rank = np.zeros(adverse.size, dtype=np.int64)
        if code in DECISIVE_RULES:
            column, weight = DECISIVE_RULES[code]
            rank = np.where(out[column].to_numpy()[adverse], weight, 0)
        active = (points > 0) | (rank > 0)
        # Rank, then points, then the fixed tie-break order, folded into one sortable integer.
        key = rank * 1_000_000 + points * 100 + (n_codes - j)
        keys[:, j] = np.where(active, key, -1)
    order = np.argsort(-keys, axis=1, kind="stable")[:, : Domain.max_principal_reasons]
    picked = np.take_along_axis(keys, order, axis=1) >= 0
    # Active codes sort first, so each row's reasons are a prefix of `order`: build the list
    # column straight from flat values and row offsets.
    counts = np.zeros(out.height, dtype=np.int32)
    counts[adverse] = picked.sum(axis=1)
    offsets = np.zeros(out.height + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    values = pa.array(codes, pa.string()).take(pa.array(order[picked]))
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    return pl.Series("reason_codes", lists, dtype=pl.List(pl.String))
