"""Synthetic loan applicants: the distribution knobs and the vectorised `synthesize`.

One latent credit-quality value per applicant drives the correlated credit fields (score,
utilisation, delinquencies, bankruptcy, and through utilisation the existing debt load).
Income is log-normal with a premium for the job title (pools.job_pay_premium, same index as
the title) and an age profile that peaks in mid-career. Protected attributes (sex, age,
age_band, marital_status) are drawn for fairness audits only: sex never shifts income or
credit, age does (as in real credit files), and the policy reads neither.

Output columns: applicant_id, first_name, last_name, sex, age, age_band, marital_status,
employer, job_title, city, state, employment_years, annual_income, monthly_debt_payments,
credit_score, credit_utilization, delinquencies_2y, bankruptcies, months_since_bankruptcy,
loan_purpose, loan_amount, loan_term_months, interest_rate, collateral_value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from factory.domains import _pools
from factory.domains._streams import ShardLike, ShardStreams
from factory.domains.base import DistributionBase, shard_rng
from factory.domains.lending import _draws
from factory.domains.lending.policy import LOAN_PURPOSES, LendingPolicy, amortized_payment

AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
MARITAL_STATUSES: tuple[str, ...] = ("single", "married", "divorced", "widowed")

# One independent stream of draws per concern, so adding a draw to one concern leaves the
# others' values unchanged.
_PERSON, _JOB, _INCOME, _CREDIT, _HISTORY, _LOAN, _COLLATERAL, _PRICING, _DEBTS, _HARD, _NAMES = (
    range(1, 12)
)
# Centres the age and tenure effects so income_median stays the population median.
_INCOME_CENTRE = 0.065


class PurposeWeights(DistributionBase):
    """Relative frequency of each loan purpose (weights need not sum to one)."""

    debt_consolidation: float = Field(
        0.30, ge=0.0, le=1000.0, description="Debt consolidation loans."
    )
    home_improvement: float = Field(0.12, ge=0.0, le=1000.0, description="Home improvement loans.")
    personal: float = Field(0.14, ge=0.0, le=1000.0, description="Personal loans.")
    medical: float = Field(0.04, ge=0.0, le=1000.0, description="Medical expense loans.")
    auto: float = Field(0.25, ge=0.0, le=1000.0, description="Auto loans (secured by the vehicle).")
    mortgage: float = Field(
        0.15, ge=0.0, le=1000.0, description="Purchase mortgages (secured by the home)."
    )

    @model_validator(mode="after")
    def _some_purpose(self) -> PurposeWeights:
        if sum(self.model_dump().values()) <= 0:
            raise ValueError("at least one loan purpose needs a weight above 0")
        return self


class LendingDistribution(DistributionBase):
    """Shape of the synthetic applicant population (the recipe's `profiles.distribution:`)."""

    income_median: float = Field(
        62_000.0, ge=10_000.0, le=1_000_000.0, description="Median annual income in dollars."
    )
    income_sigma: float = Field(
        0.5,
        ge=0.05,
        le=1.5,
        description="Log-scale spread of income not explained by job title or age.",
    )
    credit_score_median: int = Field(
        715, ge=500, le=820, description="Median credit score (scores span 300-850)."
    )
    existing_dti_median: float = Field(
        0.14,
        ge=0.0,
        le=0.6,
        description="Median share of monthly income already committed to debt payments "
        "(halved for mortgage applicants, whose housing payment is the new loan).",
    )
    delinquency_rate: float = Field(
        0.09,
        ge=0.0,
        le=3.0,
        description="Mean 30+ day delinquencies in two years for a median-credit applicant.",
    )
    bankruptcy_rate: float = Field(
        0.035,
        ge=0.0,
        le=0.5,
        description="Share of median-credit applicants with a bankruptcy on file.",
    )
    zero_apr_share: float = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description="Share of auto loans to applicants scoring 700+ at a promotional 0% APR.",
    )
    # A shared default instance is safe: the knobs are frozen.
    purpose_weights: PurposeWeights = Field(
        PurposeWeights(),
        description="Relative frequency of each loan purpose.",
    )


def synthesize(
    n: int,
    *,
    seed: int,
    shard: int,
    offset: int,
    locale: str,
    distribution: LendingDistribution,
    policy: LendingPolicy,
    boundary_fraction: float,
) -> pl.DataFrame:
    """Draws `n` loan applicants (rows offset .. offset+n-1 of the run) for one shard.

    Args:
        n: rows to draw.
        seed: run seed; with `shard` it fixes every draw.
        shard: shard index.
        offset: index of the first row in the run (ids are offset + 0 .. n-1).
        locale: Faker locale of the name, employer and place pools.
        distribution: population knobs.
        policy: the thresholds that hard cases are drawn close to.
        boundary_fraction: share of rows drawn near a threshold: credit score within 10
            points, DTI within 2 points, tenure within half a year, LTV or loan-to-income
            within 2 points of a deny or refer level.

    Returns:
        One row per applicant with the columns in the module docstring.
    """
    return _synthesize(
        n,
        lambda stream: shard_rng(seed, shard, stream),
        np.arange(offset, offset + n, dtype=np.int64),
        locale=locale,
        seed=seed,
        distribution=distribution,
        policy=policy,
        boundary_fraction=boundary_fraction,
    )


def synthesize_shards(
    shards: Sequence[ShardLike],
    *,
    seed: int,
    locale: str,
    distribution: LendingDistribution,
    policy: LendingPolicy,
    boundary_fraction: float,
) -> pl.DataFrame:
    """The rows `synthesize` draws for each of `shards`, in order, drawn in one vectorised pass
    (each shard's values from its own generators: see factory.domains._streams)."""
    sizes = [shard.size for shard in shards]

    def streams(stream: int) -> ShardStreams:
        return ShardStreams([shard_rng(seed, shard.index, stream) for shard in shards], sizes)

    ids = np.concatenate(
        [np.arange(shard.offset, shard.offset + shard.size, dtype=np.int64) for shard in shards]
    )
    return _synthesize(
        sum(sizes),
        streams,
        ids,
        locale=locale,
        seed=seed,
        distribution=distribution,
        policy=policy,
        boundary_fraction=boundary_fraction,
    )


def _synthesize(
    n: int,
    rng: Callable[[int], Any],
    ids: np.ndarray,
    *,
    locale: str,
    seed: int,
    distribution: LendingDistribution,
    policy: LendingPolicy,
    boundary_fraction: float,
) -> pl.DataFrame:
    """`n` applicants with ids `ids`; `rng(stream)` is the generator of one stream of draws.

    Every draw is one value per row and every computation reads a row alone, so that
    `synthesize_shards` gives each shard the values `synthesize` gives it.
    """
    pools = _pools.value_pools(locale, seed)
    d = distribution

    r = rng(_PERSON)
    is_male = r.random(n) < 0.5
    # Applicant ages: 18 plus a right-skewed gamma (mean ~40), as in consumer credit files.
    age = np.minimum(18 + np.floor(r.gamma(2.6, 8.5, n)), 85).astype(np.int64)
    marital = _draws.marital_status(age, r.random(n))

    r = rng(_JOB)
    job_index = r.integers(0, pools.job_titles.len(), n)
    employer_index = r.integers(0, pools.employers.len(), n)
    place_index = r.integers(0, pools.cities.len(), n)
    employment_years = np.round((age - 17.5) * r.beta(1.5, 2.2, n), 1)

    r = rng(_INCOME)
    income_noise = r.standard_normal(n)
    # Earnings rise to a peak around fifty and fall after it; tenure adds a little.
    log_income = (
        np.log(d.income_median)
        + pools.job_pay_premium[job_index]
        - 0.0007 * (age - 50.0) ** 2
        + 0.02 * np.minimum(employment_years, 10.0)
        + _INCOME_CENTRE
        + d.income_sigma * income_noise
    )
    annual_income = np.round(np.clip(np.exp(log_income), 8_000.0, 5_000_000.0))

    plan = _draws.boundary_plan(rng(_HARD), n, boundary_fraction)

    r = rng(_CREDIT)
    # Credit quality rises with income and age; the rest is idiosyncratic (variance ~1).
    age_z = np.clip((age - 40.0) / 13.0, -2.0, 2.0)
    latent = 0.3 * income_noise + 0.3 * age_z + 0.9 * r.standard_normal(n)
    credit_score = _draws.score_from_latent(latent, d.credit_score_median)
    hard = plan.kind == _draws.SCORE
    forced = np.round(plan.near(policy.min_credit_score, policy.refer_credit_score, 10.0))
    credit_score[hard] = np.clip(forced[hard], 300, 850).astype(np.int64)
    latent[hard] = _draws.latent_from_score(credit_score[hard], d.credit_score_median)
    utilization_logit = -0.9 - 0.8 * latent + 0.8 * r.standard_normal(n)
    credit_utilization = np.round(1.0 / (1.0 + np.exp(-utilization_logit)), 4)

    r = rng(_HISTORY)
    delinquencies = r.poisson(d.delinquency_rate * np.exp(-1.2 * latent)).astype(np.int64)
    bankrupt = r.random(n) < np.minimum(d.bankruptcy_rate * np.exp(-latent), 1.0)
    bankruptcies = np.where(bankrupt, 1 + (r.random(n) < 0.1), 0).astype(np.int64)
    months_since = np.where(bankrupt, r.integers(6, 121, n), -1)

    purpose, loan_amount, loan_term = _draws.loans(
        rng(_LOAN), annual_income, d.purpose_weights.model_dump()
    )
    is_mortgage = purpose == LOAN_PURPOSES.index("mortgage")
    secured = is_mortgage | (purpose == LOAN_PURPOSES.index("auto"))

    ltv = _draws.collateral_ltv(rng(_COLLATERAL), purpose)
    hard = plan.kind == _draws.SIZE
    near_ltv = np.where(
        is_mortgage,
        plan.near(policy.max_ltv_mortgage, policy.refer_ltv_mortgage, 0.02),
        plan.near(policy.max_ltv_auto, policy.refer_ltv_auto, 0.02),
    )
    ltv = np.where(hard & secured, np.maximum(near_ltv, 0.05), ltv)
    near_lti = plan.near(policy.max_loan_to_income, policy.refer_loan_to_income, 0.02)
    loan_amount = np.where(
        hard & ~secured, np.maximum(np.round(near_lti * annual_income), 500.0), loan_amount
    )
    collateral_value = np.where(secured, np.round(loan_amount / ltv), np.nan)
    interest_rate = _draws.price(rng(_PRICING), purpose, credit_score, loan_term, d.zero_apr_share)

    r = rng(_DEBTS)
    share = d.existing_dti_median * np.exp(
        0.25 * (utilization_logit + 0.9) + 0.5 * r.standard_normal(n)
    )
    monthly_debt = np.where(is_mortgage, 0.5, 1.0) * share * annual_income / 12.0
    hard = plan.kind == _draws.DTI
    if hard.any():
        monthly_debt, annual_income = _aim_dti(
            hard,
            plan.near(policy.max_dti, policy.refer_dti, 0.02),
            monthly_debt,
            annual_income,
            amortized_payment(loan_amount, interest_rate, loan_term),
        )
    hard = plan.kind == _draws.TENURE
    near_tenure = plan.near(policy.min_employment_years, policy.min_employment_years, 0.5)
    employment_years = np.where(
        hard, np.round(np.clip(near_tenure, 0.0, age - 17.5), 1), employment_years
    )

    r = rng(_NAMES)
    half = pools.first_names_female.len()
    first_names = pl.concat([pools.first_names_female, pools.first_names_male])
    return pl.DataFrame(
        {
            "applicant_id": ids,
            "first_name": pools.take(first_names, r.integers(0, half, n) + half * is_male),
            "last_name": pools.draw(pools.last_names, r, n),
            "sex": _labels(("female", "male"), is_male),
            "age": age,
            "age_band": _labels(AGE_BANDS, np.searchsorted([25, 35, 45, 55, 65], age, "right")),
            "marital_status": _labels(MARITAL_STATUSES, marital),
            "employer": pools.take(pools.employers, employer_index),
            "job_title": pools.take(pools.job_titles, job_index),
            "city": pools.take(pools.cities, place_index),
            "state": pools.take(pools.states, place_index),
            "employment_years": employment_years,
            "annual_income": annual_income,
            "monthly_debt_payments": np.round(monthly_debt, 2),
            "credit_score": credit_score,
            "credit_utilization": credit_utilization,
            "delinquencies_2y": delinquencies,
            "bankruptcies": bankruptcies,
            "months_since_bankruptcy": pl.Series(months_since, dtype=pl.Int64).replace(-1, None),
            "loan_purpose": _labels(LOAN_PURPOSES, purpose),
            "loan_amount": loan_amount,
            "loan_term_months": loan_term,
            "interest_rate": interest_rate,
            "collateral_value": pl.Series(collateral_value, nan_to_null=True),
        }
    )


def _aim_dti(
    rows: np.ndarray,
    target: np.ndarray,
    monthly_debt: np.ndarray,
    annual_income: np.ndarray,
    payment: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Sets existing debts (or, failing that, income) so DTI lands on `target` in `rows`."""
    # Tiny policy thresholds can put a window below zero; no real DTI is.
    target = np.maximum(target, 0.01)
    monthly_income = annual_income / 12.0
    debts = target * monthly_income - payment
    # When the new payment alone nearly reaches the target, keep a modest debt load and
    # solve for the income that puts DTI on target instead.
    short = debts < 0.02 * monthly_income
    kept = 0.05 * monthly_income
    solved_income = np.round(12.0 * (kept + payment) / target)
    debt_out = np.where(rows, np.where(short, kept, debts), monthly_debt)
    income_out = np.where(rows & short, solved_income, annual_income)
    return debt_out, income_out


def _labels(values: tuple[str, ...], index: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(index.astype(np.int64))
