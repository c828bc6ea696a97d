"""Frozen copy of the fraud engine before rule tables (commit 0252033): the reference the
table-compiled engine must equal on decisions, reason codes and every derived number. Do not edit.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from factory.domains._pools import MERCHANT_CATEGORIES
from factory.domains.base import Domain
from factory.domains.fraud.policy import FraudPolicy

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
