"""Vectorised draws behind lending `synthesize`: loans, pricing, scores and hard cases.

Every function takes its numpy Generator from the caller (one stream per concern) and draws a
fixed number of values whatever the data, so a shard's frame depends only on its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factory.domains.lending.policy import LOAN_PURPOSES

# Per purpose, in LOAN_PURPOSES order: median loan in dollars at $62,000 of income, log-sigma,
# smallest and largest amount, rounding step, and how strongly the amount scales with income.
# Mortgages are sized as a multiple of income instead (see loans()).
_AMOUNT = np.array(
    [
        # median, sigma, low, high, step, elasticity
        [12_000, 0.6, 1_000, 100_000, 100, 0.6],  # debt_consolidation
        [15_000, 0.6, 2_000, 100_000, 100, 0.6],  # home_improvement
        [8_000, 0.7, 1_000, 50_000, 100, 0.5],  # personal
        [6_000, 0.7, 1_000, 40_000, 100, 0.4],  # medical
        [30_000, 0.4, 5_000, 120_000, 100, 0.5],  # auto
        [0, 0.3, 50_000, 3_000_000, 1_000, 1.0],  # mortgage (median from _MORTGAGE_LTI)
    ]
)
_MORTGAGE_LTI = 2.6
# Terms offered per purpose (months) and how often each is chosen; rows padded with zeros.
_TERMS = np.array(
    [
        [36, 60, 0, 0, 0],
        [36, 60, 84, 120, 0],
        [12, 24, 36, 60, 0],
        [12, 24, 36, 0, 0],
        [36, 48, 60, 72, 84],
        [180, 360, 0, 0, 0],
    ]
)
_TERM_P = np.array(
    [
        [0.55, 0.45, 0, 0, 0],
        [0.3, 0.4, 0.2, 0.1, 0],
        [0.1, 0.3, 0.4, 0.2, 0],
        [0.3, 0.4, 0.3, 0, 0],
        [0.1, 0.15, 0.35, 0.3, 0.1],
        [0.15, 0.85, 0, 0, 0],
    ]
)
# Snapped to exactly 1.0 at the end so a uniform draw never runs past the last real term.
_TERM_CDF = np.where(np.isclose(np.cumsum(_TERM_P, axis=1), 1.0), 1.0, np.cumsum(_TERM_P, axis=1))
# Risk-based pricing, per purpose: APR at a prime score and the reference term, APR added per
# score point below _PRIME_SCORE, APR added per month of term beyond the reference term.
_PRICING = np.array(
    [
        # base, per point, per month, reference term
        [0.105, 0.0009, 0.0005, 36],
        [0.095, 0.0009, 0.0005, 36],
        [0.110, 0.0009, 0.0005, 36],
        [0.115, 0.0009, 0.0005, 36],
        [0.068, 0.00035, 0.0004, 48],
        [0.062, 0.00012, 0.00004, 360],
    ]
)
_PRIME_SCORE = 780
#: Most US states cap consumer loan APR at or below 36%.
_MAX_APR = 0.3599
_MIN_APR = 0.015
_AUTO = LOAN_PURPOSES.index("auto")
_MORTGAGE = LOAN_PURPOSES.index("mortgage")

# Credit scores: a two-piece normal around the median, wider below it, so the shape has the
# long left tail of real score distributions (few 850s, a thin tail down to 300).
_SCORE_SD_UP = 70.0
_SCORE_SD_DOWN = 90.0

# Kinds of hard case a boundary row is drawn as (0 = an ordinary row).
NONE, SCORE, DTI, TENURE, SIZE = 0, 1, 2, 3, 4
_KIND_P = (0.35, 0.35, 0.15, 0.15)


@dataclass(frozen=True)
class BoundaryPlan:
    """Which rows are hard cases, near which threshold, and where.

    Attributes:
        kind: per row, NONE or the metric drawn near a threshold (SCORE, DTI, TENURE, SIZE).
        upper: per row, True to aim at the refer-level threshold, False for the deny level.
        shift: per row, uniform in [-1, 1]: the offset from the threshold in units of the
            metric's window.
    """

    kind: np.ndarray
    upper: np.ndarray
    shift: np.ndarray

    def near(self, deny_level: float, refer_level: float, window: float) -> np.ndarray:
        """Per-row targets within +-window of one of the two thresholds."""
        return np.where(self.upper, refer_level, deny_level) + window * self.shift


def boundary_plan(rng: np.random.Generator, n: int, fraction: float) -> BoundaryPlan:
    """Picks the `fraction` of rows that are drawn near a policy threshold."""
    hard = rng.random(n) < fraction
    kind = np.where(hard, 1 + rng.choice(len(_KIND_P), size=n, p=_KIND_P), NONE)
    return BoundaryPlan(kind=kind, upper=rng.random(n) < 0.5, shift=rng.uniform(-1.0, 1.0, n))


def score_from_latent(latent: np.ndarray, median: int) -> np.ndarray:
    """Credit scores (int64, 300-850) from a standard-normal credit-quality latent."""
    spread = np.where(latent >= 0, _SCORE_SD_UP, _SCORE_SD_DOWN)
    return np.clip(np.round(median + spread * latent), 300, 850).astype(np.int64)


def latent_from_score(score: np.ndarray, median: int) -> np.ndarray:
    """Inverse of score_from_latent, so a forced score keeps its correlated fields consistent."""
    gap = score - float(median)
    return gap / np.where(gap >= 0, _SCORE_SD_UP, _SCORE_SD_DOWN)


def marital_status(age: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Indices into ("single", "married", "divorced", "widowed"), by age."""
    married = np.clip(0.05 + 0.02 * (age - 18), 0.0, 0.6)
    divorced = np.clip(0.005 * (age - 22), 0.0, 0.15)
    widowed = np.clip(0.01 * (age - 55), 0.0, 0.25)
    return np.select(
        [u < married, u < married + divorced, u < married + divorced + widowed],
        [1, 2, 3],
        default=0,
    )


def loans(
    rng: np.random.Generator, income: np.ndarray, weights: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws purpose (index into LOAN_PURPOSES), amount and term for each applicant.

    Amounts are log-normal around a per-purpose median that scales with income; mortgages
    are a log-normal multiple of income.
    """
    n = income.shape[0]
    p = np.array([weights.get(name, 0.0) for name in LOAN_PURPOSES])
    purpose = np.asarray(rng.choice(len(LOAN_PURPOSES), size=n, p=p / p.sum()))
    # Gathering one small column at a time is ~10x faster than gathering (n, 6) rows.
    median, sigma, low, high, step, elasticity = (column[purpose] for column in _AMOUNT.T)
    z = rng.standard_normal(n)
    amount = median * (income / 62_000.0) ** elasticity * np.exp(sigma * z)
    mortgage = purpose == _MORTGAGE
    amount = np.where(
        mortgage, income * np.clip(_MORTGAGE_LTI * np.exp(sigma * z), 1.0, 6.0), amount
    )
    amount = np.round(np.clip(amount, low, high) / step) * step
    u = rng.random(n)
    choice = np.zeros(n, dtype=np.int64)
    for column in _TERM_CDF.T[:-1]:
        choice += u > column[purpose]
    return purpose, amount, _TERMS[purpose, choice].astype(np.int64)


def collateral_ltv(rng: np.random.Generator, purpose: np.ndarray) -> np.ndarray:
    """Loan-to-value each secured loan is drawn at (ignored for unsecured loans).

    Mortgages cluster at 80% (the no-mortgage-insurance point) with a high-LTV tail up to
    97%; auto loans centre near 95% with negative equity common.
    """
    n = purpose.shape[0]
    u = rng.random(n)
    mortgage = np.select(
        [u < 0.45, u < 0.7],
        [rng.uniform(0.78, 0.80, n), rng.uniform(0.85, 0.97, n)],
        default=rng.uniform(0.35, 0.78, n),
    )
    auto = np.clip(rng.normal(0.95, 0.15, n), 0.5, 1.4)
    return np.where(purpose == _MORTGAGE, mortgage, auto)


def price(
    rng: np.random.Generator,
    purpose: np.ndarray,
    score: np.ndarray,
    term: np.ndarray,
    zero_apr_share: float,
) -> np.ndarray:
    """Risk-based APR (fraction, 4 decimals) by purpose, credit score and term.

    A share of well-scored auto applicants get a manufacturer's promotional 0% APR.
    """
    n = purpose.shape[0]
    base, per_point, per_month, reference = (column[purpose] for column in _PRICING.T)
    apr = (
        base
        + per_point * np.maximum(_PRIME_SCORE - score, 0)
        + per_month * (term - reference)
        + rng.normal(0.0, 0.003, n)
    )
    apr = np.round(np.clip(apr, _MIN_APR, _MAX_APR), 4)
    promo = (purpose == _AUTO) & (score >= 700) & (rng.random(n) < zero_apr_share)
    return np.where(promo, 0.0, apr)
