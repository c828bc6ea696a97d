"""Synthetic before/after credit reports of one customer, vectorised and seeded.

The before-report is drawn from a latent credit risk (scores left-skewed over 300..850 with a
peak near 790, utilization and derogatory items rising with risk). The after-report is the
before-report plus events over the months between the reports (paying down or running up
balances, new and closed accounts, inquiries, late payments, collections, public records, old
items aging off). The after-score is the before-score plus a noisy function of those events,
so every score change has causes a reader can find in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from factory.domains._pools import value_pools
from factory.domains.base import DistributionBase, shard_rng
from factory.domains.credit_report.policy import (
    FIELDS,
    MONEY_FIELDS,
    CreditReportPolicy,
    trend_masks,
)
from factory.domains.credit_report.questions import draw_questions

SCORE_MIN, SCORE_MAX = 300, 850
PROTECTED_COLUMNS: tuple[str, ...] = ("sex", "age", "age_band", "marital_status")
AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")

# Independent random streams of one shard.
_DEMOGRAPHICS, _RISK, _REPORT, _MONTHS, _EVENTS, _NOISE, _BOUNDARY, _QUESTIONS, _NAMES = range(9)


class CreditReportDistribution(DistributionBase):
    """Distribution knobs of credit-report profiles (the recipe's `profiles.distribution:`)."""

    mean_score: float = Field(
        715.0, ge=450.0, le=820.0, description="Mean credit score on the before-report."
    )
    months_min: int = Field(1, ge=1, le=36, description="Fewest months between the two reports.")
    months_max: int = Field(12, ge=1, le=36, description="Most months between the two reports.")
    paydown_rate: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Share of customers who pay revolving balances down substantially.",
    )
    spend_up_rate: float = Field(
        0.20,
        ge=0.0,
        le=1.0,
        description="Share of customers who run revolving balances up substantially.",
    )
    new_card_rate: float = Field(
        0.12, ge=0.0, le=1.0, description="Share of customers who open a new credit card."
    )
    new_loan_rate: float = Field(
        0.08, ge=0.0, le=1.0, description="Share of customers who take out a new installment loan."
    )
    card_close_rate: float = Field(
        0.06, ge=0.0, le=1.0, description="Share of customers who close a credit card."
    )
    delinquency_multiplier: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="Scales how often new late payments, collections and public records appear.",
    )
    score_noise_points: float = Field(
        4.0,
        ge=0.0,
        le=30.0,
        description="Standard deviation, in points, of score movement no report change explains.",
    )
    why_question_share: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="Q&A: share of questions asking why the score moved (or did not).",
    )
    improve_question_share: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="Q&A: share of questions asking how to improve the score; the rest ask "
        "what changed.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CreditReportDistribution:
        if self.months_min > self.months_max:
            raise ValueError("months_min must be <= months_max")
        if self.paydown_rate + self.spend_up_rate > 1.0:
            raise ValueError("paydown_rate + spend_up_rate must be <= 1")
        if self.why_question_share + self.improve_question_share > 1.0:
            raise ValueError("why_question_share + improve_question_share must be <= 1")
        return self


def synthesize(
    n: int,
    *,
    seed: int,
    shard: int,
    offset: int,
    locale: str,
    distribution: CreditReportDistribution,
    policy: CreditReportPolicy,
    boundary_fraction: float,
) -> pl.DataFrame:
    """Draws `n` before/after report pairs (rows offset .. offset+n-1 of the run).

    Args:
        n: rows to draw.
        seed: the run seed.
        shard: the shard index (selects the random streams).
        offset: index of the first row in the run (ids are offset + row).
        locale: Faker locale of the name pools.
        distribution: the knobs.
        policy: thresholds that boundary rows are drawn close to.
        boundary_fraction: share of rows drawn close to a policy threshold.

    Returns:
        One row per customer: customer_id, name, protected attributes, months_between,
        `<field>_before` / `<field>_after` for every report field, question_type and question.
    """
    demo = _demographics(n, shard_rng(seed, shard, _DEMOGRAPHICS))
    risk = _latent_risk(demo["age"], distribution, shard_rng(seed, shard, _RISK))
    before = _before_report(risk, demo["age"], shard_rng(seed, shard, _REPORT))
    months = shard_rng(seed, shard, _MONTHS).integers(
        distribution.months_min, distribution.months_max + 1, n
    )
    after, events = _after_report(
        before, risk, months, distribution, shard_rng(seed, shard, _EVENTS)
    )
    boundary = _Boundary.draw(n, boundary_fraction, shard_rng(seed, shard, _BOUNDARY))
    after["revolving_balance"] = boundary.balances(before, after, policy)
    after["utilization"] = _utilization(after["revolving_balance"], after["credit_limit"])
    points = _score_points(before, after, events, months)
    points = points + shard_rng(seed, shard, _NOISE).normal(0.0, distribution.score_noise_points, n)
    score_after = np.clip(np.round(before["score"] + points), SCORE_MIN, SCORE_MAX)
    after["score"] = boundary.score(before["score"], score_after, policy)

    improved, declined = trend_masks(after["score"] - before["score"], policy)
    question_type, question = draw_questions(
        improved,
        declined,
        shard_rng(seed, shard, _QUESTIONS),
        distribution.why_question_share,
        distribution.improve_question_share,
    )
    names = _names(demo["female"], locale, seed, shard_rng(seed, shard, _NAMES))
    columns: dict[str, Any] = {
        "customer_id": _customer_ids(offset, n),
        **names,
        "sex": _labels(("male", "female"), demo["female"].astype(np.int64)),
        "age": demo["age"],
        "age_band": demo["age_band"],
        "marital_status": demo["marital_status"],
        "months_between": months.astype(np.int64),
    }
    for field in FIELDS:
        for side, report in (("before", before), ("after", after)):
            columns[f"{field}_{side}"] = _typed(field, report[field])
    columns["question_type"] = question_type
    columns["question"] = question
    return pl.DataFrame(columns)


_FLOAT_FIELDS = MONEY_FIELDS | {"utilization"}


def _customer_ids(offset: int, n: int) -> pl.Series:
    """CUS-0000000042 for row 42 of the run: unique across shards."""
    ids = pl.Series(np.arange(offset, offset + n, dtype=np.int64)).cast(pl.String)
    return pl.select(pl.concat_str(pl.lit("CUS-"), pl.lit(ids).str.zfill(10))).to_series()


def _typed(field: str, values: np.ndarray) -> pl.Series:
    if field in _FLOAT_FIELDS:
        return pl.Series(values.astype(np.float64), dtype=pl.Float64)
    return pl.Series(values.astype(np.int64), dtype=pl.Int64)


def _demographics(n: int, rng: np.random.Generator) -> dict[str, Any]:
    """Audit-only attributes; the engine never reads them."""
    # Adult ages, right-skewed: most customers between their late twenties and sixties.
    age = np.clip(np.round(18 + rng.gamma(2.2, 11.0, n)), 18, 90).astype(np.int64)
    band = np.digitize(age, [25, 35, 45, 55, 65])
    female = rng.random(n) < 0.51
    married = np.clip(0.10 + 0.012 * (age - 18), 0.0, 0.62)
    divorced = np.clip(0.004 * (age - 25), 0.0, 0.15)
    widowed = np.clip(0.006 * (age - 60), 0.0, 0.25)
    u = rng.random(n)
    status = np.select(
        [u < married, u < married + divorced, u < married + divorced + widowed],
        [1, 2, 3],
        0,
    )
    return {
        "age": age,
        "age_band": _labels(AGE_BANDS, band),
        "female": female,
        "marital_status": _labels(("single", "married", "divorced", "widowed"), status),
    }


def _labels(names: tuple[str, ...], index: np.ndarray) -> pl.Series:
    # Gathering from a tiny polars Series beats building numpy string arrays by ~10x.
    return pl.Series(names, dtype=pl.String).gather(index)


def _latent_risk(
    age: np.ndarray, distribution: CreditReportDistribution, rng: np.random.Generator
) -> np.ndarray:
    """Risk in (0, 1): score = 850 - 550 * risk. Beta-shaped, so scores skew left as in
    published score distributions; younger customers (thin files) skew riskier."""
    overall = (SCORE_MAX - distribution.mean_score) / (SCORE_MAX - SCORE_MIN)
    mean = np.clip(overall * np.exp(0.012 * (40 - age)), 0.03, 0.9)
    concentration = 6.5
    return rng.beta(mean * concentration, (1 - mean) * concentration)


def _before_report(
    risk: np.ndarray, age: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    n = len(risk)
    score = np.clip(np.round(SCORE_MAX - (SCORE_MAX - SCORE_MIN) * risk), SCORE_MIN, SCORE_MAX)
    # Lower-risk, older customers hold larger total limits.
    log_limit = np.log(14_000) - 2.2 * (risk - 0.25) + 0.01 * (age - 40) + rng.normal(0, 0.6, n)
    limit = np.clip(np.round(np.exp(log_limit) / 100) * 100, 500, 150_000)
    # Utilization rises steeply with risk; some low-risk customers pay in full (zero balance).
    util = 1 / (1 + np.exp(-(-1.3 + 6.0 * (risk - 0.25) + rng.normal(0, 0.8, n))))
    util = np.where(rng.random(n) < 0.12 * (1 - risk), 0.0, util)
    balance = np.round(util * limit)
    has_loan = rng.random(n) < np.where(age < 60, 0.6, 0.45)
    installment = np.where(
        has_loan, np.clip(np.round(rng.lognormal(np.log(15_000), 0.9, n)), 500, 150_000), 0.0
    )
    return {
        "score": score,
        "credit_limit": limit,
        "revolving_balance": balance,
        "utilization": _utilization(balance, limit),
        "installment_balance": installment,
        "open_accounts": 1 + np.minimum(rng.poisson(3 + 5 * (1 - risk) + 0.05 * (age - 18)), 39),
        "hard_inquiries": rng.poisson(0.6 + 2.5 * risk),
        "late_payments": rng.poisson(6 * risk**2),
        "collections": rng.poisson(4 * risk**3),
        "public_records": (rng.random(n) < np.minimum(0.25 * risk**2, 0.2)).astype(np.int64),
    }


def _utilization(balance: np.ndarray, limit: np.ndarray) -> np.ndarray:
    return np.round(balance / limit, 4)


def _after_report(
    before: dict[str, np.ndarray],
    risk: np.ndarray,
    months: np.ndarray,
    distribution: CreditReportDistribution,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Applies the events of `months` months to the before-report.

    Returns:
        The after-report without score and utilization (the caller adds them) and the event
        counts the score responds to.
    """
    n = len(risk)
    years = months / 12
    d = distribution
    # Revolving balances: pay down, run up, or drift.
    u = rng.random(n)
    factor = np.where(
        u < d.paydown_rate,
        rng.uniform(0.05, 0.75, n),
        np.where(
            u < d.paydown_rate + d.spend_up_rate,
            rng.uniform(1.15, 2.2, n),
            np.exp(rng.normal(0, 0.12, n)),
        ),
    )
    new_spend = (before["revolving_balance"] == 0) & (rng.random(n) < 0.3)
    balance = before["revolving_balance"] * factor + np.where(
        new_spend, rng.lognormal(np.log(600), 0.8, n), 0.0
    )
    # Accounts: a new card adds a limit, an inquiry and an account; a closed card removes some
    # limit; a new loan adds an installment balance; a paid-off loan closes.
    new_card = rng.random(n) < d.new_card_rate * (0.6 + 0.8 * risk)
    closed_card = (rng.random(n) < d.card_close_rate) & (before["open_accounts"] > 1)
    limit = before["credit_limit"] + np.where(
        new_card, np.round(rng.lognormal(np.log(3_000), 0.6, n) / 100) * 100, 0.0
    )
    limit = limit - np.where(
        closed_card, np.round(before["credit_limit"] * rng.uniform(0.1, 0.4, n) / 100) * 100, 0.0
    )
    limit = np.maximum(limit, 500.0)
    balance = np.round(np.minimum(balance, limit * 1.05))
    new_loan = rng.random(n) < d.new_loan_rate
    had_loan = before["installment_balance"] > 0
    paid_off = had_loan & (rng.random(n) < 0.05 * years)
    installment = before["installment_balance"] * np.clip(1 - 0.012 * months, 0.0, 1.0)
    installment = np.where(paid_off, 0.0, installment) + np.where(
        new_loan, np.clip(rng.lognormal(np.log(18_000), 0.7, n), 1_000, 120_000), 0.0
    )
    installment = np.round(installment)
    opened = new_card.astype(np.int64) + new_loan
    closed = closed_card.astype(np.int64) + paid_off
    open_accounts = np.maximum(before["open_accounts"] + opened - closed, 0)
    # Inquiries older than two years drop off; applications add new ones.
    inquiries = (
        before["hard_inquiries"]
        - rng.binomial(before["hard_inquiries"], np.minimum(months / 24, 1.0))
        + opened
        + rng.poisson(years * (0.3 + 1.2 * risk))
    )
    # Derogatory items: new ones arrive with risk; old ones age off (late payments after seven
    # years, public records after about ten); some collections are paid and deleted.
    dm = d.delinquency_multiplier
    new_lates = rng.poisson(dm * years * (0.02 + 1.0 * risk**2))
    aged_lates = rng.binomial(before["late_payments"], np.minimum(months / 84, 1.0))
    new_coll = rng.poisson(dm * years * (0.01 + 0.6 * risk**2))
    gone_coll = rng.binomial(before["collections"], np.minimum(0.15 * years, 1.0))
    new_pr = (rng.random(n) < np.minimum(dm * years * (0.002 + 0.04 * risk**2), 1.0)).astype(
        np.int64
    )
    gone_pr = rng.binomial(before["public_records"], np.minimum(months / 120, 1.0))
    after = {
        "credit_limit": limit,
        "revolving_balance": balance,
        "installment_balance": installment,
        "open_accounts": open_accounts,
        "hard_inquiries": inquiries,
        "late_payments": before["late_payments"] + new_lates - aged_lates,
        "collections": before["collections"] + new_coll - gone_coll,
        "public_records": before["public_records"] + new_pr - gone_pr,
    }
    events = {
        "new_lates": new_lates,
        "aged_lates": aged_lates,
        "new_coll": new_coll,
        "gone_coll": gone_coll,
        "new_pr": new_pr,
        "gone_pr": gone_pr,
        "opened": opened,
        "closed": closed,
    }
    return after, events


def _score_points(
    before: dict[str, np.ndarray],
    after: dict[str, np.ndarray],
    events: dict[str, np.ndarray],
    months: np.ndarray,
) -> np.ndarray:
    """Score points the events are worth: a scorecard-like response, heavier for derogatory
    items, convex in utilization, with gains compressed near the top of the scale."""
    points = _util_penalty(before["utilization"]) - _util_penalty(after["utilization"])
    # A first late payment costs high scorers the most.
    first_late = (before["late_payments"] == 0) & (events["new_lates"] > 0)
    points -= np.where(first_late, 30 + np.clip(0.1 * (before["score"] - 600), 0, 30), 0.0)
    points -= 18 * events["new_lates"]
    points -= np.where((before["collections"] == 0) & (events["new_coll"] > 0), 25, 0.0)
    points -= 18 * events["new_coll"]
    points -= 65 * events["new_pr"]
    inquiry_change = after["hard_inquiries"] - before["hard_inquiries"]
    points -= np.where(inquiry_change > 0, 4.5 * inquiry_change, 2.0 * inquiry_change)
    points -= 5 * events["opened"] + 3 * events["closed"]
    points -= 0.0003 * (after["installment_balance"] - before["installment_balance"])
    points += 14 * events["aged_lates"] + 18 * events["gone_coll"] + 25 * events["gone_pr"]
    # Without new derogatory items, older negatives weigh less every month.
    clean = (events["new_lates"] + events["new_coll"] + events["new_pr"]) == 0
    had_negatives = (before["late_payments"] + before["collections"] + before["public_records"]) > 0
    points += np.where(clean, months * (0.6 + 1.0 * had_negatives), 0.0)
    room = np.clip((SCORE_MAX - before["score"]) / 150, 0.2, 1.0)
    return np.where(points > 0, points * room, points)


def _util_penalty(util: np.ndarray) -> np.ndarray:
    return 120 * util + 60 * np.maximum(util - 0.3, 0.0)


@dataclass(frozen=True)
class _Boundary:
    """Rows drawn close to a policy threshold, a quarter of them per kind: the score change
    near the stable band, utilization near the target, the utilization change near its listing
    threshold, the revolving balance change near its listing threshold."""

    chosen: np.ndarray
    kind: np.ndarray
    sign: np.ndarray
    jitter: np.ndarray
    band_offset: np.ndarray

    @classmethod
    def draw(cls, n: int, fraction: float, rng: np.random.Generator) -> _Boundary:
        return cls(
            chosen=rng.random(n) < fraction,
            kind=rng.integers(0, 4, n),
            sign=np.where(rng.random(n) < 0.5, -1.0, 1.0),
            jitter=rng.uniform(-1.0, 1.0, n),
            band_offset=rng.integers(-2, 3, n),
        )

    def balances(
        self,
        before: dict[str, np.ndarray],
        after: dict[str, np.ndarray],
        policy: CreditReportPolicy,
    ) -> np.ndarray:
        """The after revolving balance, moved near a utilization or balance threshold."""
        limit = after["credit_limit"]
        near_target = np.clip(policy.target_utilization + 0.02 * self.jitter, 0.0, 1.0)
        near_step = np.clip(
            before["utilization"]
            + self.sign * (policy.min_utilization_change + 0.005 * self.jitter),
            0.0,
            1.0,
        )
        near_change = np.maximum(
            before["revolving_balance"]
            + self.sign * (policy.min_balance_change + 50 * self.jitter),
            0.0,
        )
        balance = after["revolving_balance"]
        balance = np.where(self._is(1), np.round(near_target * limit), balance)
        balance = np.where(self._is(2), np.round(near_step * limit), balance)
        return np.where(self._is(3), np.round(near_change), balance)

    def score(
        self, before: np.ndarray, after: np.ndarray, policy: CreditReportPolicy
    ) -> np.ndarray:
        """The after-score, moved within two points of the stable band (same direction)."""
        change = after - before
        direction = np.where(change == 0, self.sign, np.sign(change))
        near_band = before + direction * (policy.stable_band_points + self.band_offset)
        return np.where(self._is(0), np.clip(near_band, SCORE_MIN, SCORE_MAX), after)

    def _is(self, kind: int) -> np.ndarray:
        return self.chosen & (self.kind == kind)


def _names(
    female: np.ndarray, locale: str, seed: int, rng: np.random.Generator
) -> dict[str, pl.Series]:
    pools = value_pools(locale, seed)
    n = len(female)
    women = pools.draw(pools.first_names_female, rng, n)
    men = pools.draw(pools.first_names_male, rng, n)
    first = pl.select(
        pl.when(pl.Series(female)).then(women).otherwise(men).alias("first_name")
    ).to_series()
    return {"first_name": first, "last_name": pools.draw(pools.last_names, rng, n)}
