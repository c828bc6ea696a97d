"""Hard cases: rows redrawn so that a policy threshold is close.

A chosen share of rows is pulled next to one threshold each: the review or block score (within
ten points), an amount z-score mark, the impossible-travel speed (within ten percent) or a
velocity count (within one). Rows keep their latent fraud flag, so the hard cases include honest
customers who look risky and fraud that looks ordinary.
"""

from __future__ import annotations

import numpy as np

from factory.domains.fraud._patterns import CARD_PRESENT, HIGH_RISK, ONLINE, Txns
from factory.domains.fraud.policy import MAX_SCORE, FraudPolicy, night_hours

#: Which threshold a boundary row is drawn near: review score, block score, an amount z-score
#: mark, the travel speed limit, a velocity count.
_TARGET_SHARES = np.array([0.3, 0.2, 0.2, 0.15, 0.15])
#: Score targets are met by drawing risk signals at random until the score lands in the window.
_SCORE_WINDOW = 10
_SCORE_ROUNDS = 12


def pull_to_thresholds(
    rng: np.random.Generator,
    txns: Txns,
    fraction: float,
    policy: FraudPolicy,
    hist_mean: np.ndarray,
    hist_std: np.ndarray,
    new_account: np.ndarray,
) -> None:
    """Redraws `fraction` of the rows of `txns` (in place) next to a policy threshold.

    Args:
        rng: the boundary stream of the shard.
        txns: the batch to edit.
        fraction: share of rows to redraw.
        policy: the thresholds to aim at.
        hist_mean: the row's customer's mean historical amount.
        hist_std: the row's customer's standard deviation of historical amounts.
        new_account: whether the row's customer's account counts as new under `policy`.
    """
    chosen = np.flatnonzero(rng.random(txns.amount.size) < fraction)
    target = rng.choice(_TARGET_SHARES.size, size=chosen.size, p=_TARGET_SHARES)
    score_rows = chosen[target <= 1]
    goal = np.where(target[target <= 1] == 0, policy.review_score, policy.block_score)
    _near_score(rng, txns, score_rows, goal, policy, hist_mean, hist_std, new_account)
    rows = chosen[target == 2]
    marks = np.array([policy.zscore_elevated, policy.zscore_extreme, policy.review_zscore])
    z = rng.choice(marks, size=rows.size) + rng.uniform(-0.25, 0.25, rows.size)
    txns.amount[rows] = _amount_at(z, hist_mean[rows], hist_std[rows])
    _near_speed(rng, txns, chosen[target == 3], policy)
    _near_velocity(rng, txns, chosen[target == 4], policy)


def _amount_at(z: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.maximum(mean + z * std, 0.01)


def _near_score(
    rng: np.random.Generator,
    txns: Txns,
    rows: np.ndarray,
    goal: np.ndarray,
    p: FraudPolicy,
    hist_mean: np.ndarray,
    hist_std: np.ndarray,
    new_account: np.ndarray,
) -> None:
    m = rows.size
    base = np.where(new_account[rows], p.points_new_account, 0)
    tier_points = np.array([0, p.points_amount_elevated, p.points_amount_extreme])
    names = ("tier", "velocity", "foreign", "device", "risky", "night", "distant")
    pick = {name: np.zeros(m, dtype=np.int64) for name in names}
    done = np.zeros(m, dtype=bool)
    for round_ in range(_SCORE_ROUNDS):
        draw = {
            "tier": rng.choice(3, size=m, p=[0.5, 0.3, 0.2]),
            "velocity": (rng.random(m) < 0.3).astype(np.int64),
            "foreign": (rng.random(m) < 0.35).astype(np.int64),
            "device": (rng.random(m) < 0.35).astype(np.int64),
            "risky": (rng.random(m) < 0.35).astype(np.int64),
            "night": (rng.random(m) < 0.35).astype(np.int64),
            "distant": (rng.random(m) < 0.3).astype(np.int64),
        }
        # A burst within the hour and a long hop at a plausible speed cannot both hold.
        draw["distant"] &= 1 - draw["velocity"]
        score = np.minimum(
            base
            + tier_points[draw["tier"]]
            + draw["velocity"] * p.points_velocity
            + draw["foreign"] * p.points_foreign
            + draw["device"] * p.points_new_device
            + draw["risky"] * p.points_high_risk_category
            + draw["night"] * p.points_night
            + draw["distant"] * p.points_distance,
            MAX_SCORE,
        )
        take = ~done & (np.abs(score - goal) <= _SCORE_WINDOW)
        if round_ == _SCORE_ROUNDS - 1:
            take = ~done
        for name in names:
            pick[name][take] = draw[name][take]
        done |= take
    _apply_signals(rng, txns, rows, pick, p, hist_mean[rows], hist_std[rows])


def _apply_signals(
    rng: np.random.Generator,
    txns: Txns,
    rows: np.ndarray,
    pick: dict[str, np.ndarray],
    p: FraudPolicy,
    mean: np.ndarray,
    std: np.ndarray,
) -> None:
    """Writes features that produce exactly the picked risk signals."""
    m = rows.size
    # z-scores well inside each tier, so rounding the amount to cents cannot change the tier.
    lo = np.array([0.0, p.zscore_elevated + 0.05, p.zscore_extreme + 0.05])
    hi = np.array([p.zscore_elevated - 0.1, p.zscore_extreme - 0.05, p.zscore_extreme + 2.0])
    hi = np.maximum(hi, lo)
    tier = pick["tier"]
    z = lo[tier] + rng.random(m) * (hi[tier] - lo[tier])
    txns.amount[rows] = _amount_at(z, mean, std)

    burst = pick["velocity"] == 1
    count = np.where(
        burst,
        rng.integers(p.velocity_count, p.block_velocity, m),
        rng.integers(0, p.velocity_count, m),
    )
    minutes = np.where(count > 0, rng.integers(1, 61, m), rng.integers(61, 1441, m))
    distant = pick["distant"] == 1
    far = p.far_distance_km * rng.uniform(1.0, 1.5, m)
    # Slow enough for the hop to stay possible travel.
    minutes = np.where(
        distant, np.maximum(minutes, np.ceil(far * 60.0 / (0.8 * p.max_travel_speed_kmh))), minutes
    ).astype(np.int64)
    near = np.minimum(
        rng.lognormal(np.log(5.0), 1.0, m),
        np.minimum(0.5 * p.far_distance_km, 0.5 * p.max_travel_speed_kmh * minutes / 60.0),
    )
    txns.count_1h[rows] = count
    txns.minutes[rows] = minutes
    txns.distance_km[rows] = np.where(distant, far, near)

    txns.foreign[rows] = pick["foreign"] == 1
    device = pick["device"] == 1
    txns.new_device[rows] = device
    channel = txns.channel[rows]
    txns.channel[rows] = np.where(device & (channel == CARD_PRESENT), ONLINE, channel)

    risky_codes, safe_codes = np.flatnonzero(HIGH_RISK), np.flatnonzero(~HIGH_RISK)
    txns.category[rows] = np.where(
        pick["risky"] == 1, rng.choice(risky_codes, size=m), rng.choice(safe_codes, size=m)
    )
    mask = night_hours(p)
    night_codes, day_codes = np.flatnonzero(mask), np.flatnonzero(~mask)
    txns.hour[rows] = np.where(
        pick["night"] == 1, rng.choice(night_codes, size=m), rng.choice(day_codes, size=m)
    )


def _near_speed(rng: np.random.Generator, txns: Txns, rows: np.ndarray, p: FraudPolicy) -> None:
    m = rows.size
    speed = p.max_travel_speed_kmh * rng.uniform(0.9, 1.1, m)
    # Long enough that the hop clears far_distance_km, and over an hour so no burst is implied.
    floor = int(np.ceil(p.far_distance_km * 60.0 / (0.9 * p.max_travel_speed_kmh)))
    minutes = np.maximum(rng.integers(61, 601, m), floor)
    txns.minutes[rows] = minutes
    txns.distance_km[rows] = speed * minutes / 60.0
    txns.count_1h[rows] = 0


def _near_velocity(rng: np.random.Generator, txns: Txns, rows: np.ndarray, p: FraudPolicy) -> None:
    m = rows.size
    mark = rng.choice(np.array([p.velocity_count, p.block_velocity]), size=m)
    minutes = rng.integers(1, 31, m)
    txns.count_1h[rows] = np.maximum(mark + rng.integers(-1, 2, m), 1)
    txns.minutes[rows] = minutes
    txns.distance_km[rows] = np.minimum(rng.lognormal(np.log(3.0), 1.0, m), 0.5 * minutes)
