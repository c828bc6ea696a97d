"""The fraud policy's thresholds and point values, and its reason texts.

Each risk signal adds a documented number of points (its own `pts_*` column, so an explanation
can cite every contribution); the capped sum is the risk score in [0, 100]. A transaction is
blocked when the score reaches `block_score` or a hard rule fires (impossible travel, a burst of
transactions), held for review when the score reaches `review_score` or the amount alone is
extreme, and allowed otherwise. The rules themselves are a table (factory.domains.fraud.rules),
compiled into the vectorised engine; it reads only the transaction and its account history:
never the protected attributes and never the simulator's latent fraud flag.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from factory.domains._pools import MERCHANT_CATEGORIES
from factory.domains.base import PolicyBase

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
