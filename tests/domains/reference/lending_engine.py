"""Frozen copy of the lending engine before rule tables (commit d1aa74c): the reference the
table-compiled engine must equal on decisions, reason codes and every derived number. Do not edit.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from factory.domains.lending.policy import LendingPolicy

#: Purposes backed by collateral; only these have collateral_value and ltv.
SECURED_PURPOSES: tuple[str, ...] = ("auto", "mortgage")
UNSECURED_PURPOSES: tuple[str, ...] = (
    "debt_consolidation",
    "home_improvement",
    "personal",
    "medical",
)
LOAN_PURPOSES: tuple[str, ...] = UNSECURED_PURPOSES + SECURED_PURPOSES

#: Reason code -> adverse-action text (no digits, so the numbers verifier never reads them).
REASON_TEXTS: dict[str, str] = {
    "RECENT_BANKRUPTCY": "Bankruptcy filed within the lookback period our policy requires",
    "CREDIT_SCORE_BELOW_MIN": "Credit score below the minimum we require for this loan",
    "DTI_ABOVE_MAX": "Total monthly debt obligations too high in relation to income",
    "DELINQUENCIES_ABOVE_MAX": "Serious delinquency: too many late payments on credit "
    "obligations in the past two years",
    "LTV_ABOVE_MAX": "Value of collateral not sufficient for the amount of credit requested",
    "LOAN_TO_INCOME_ABOVE_MAX": "Income insufficient for the amount of credit requested",
    "DTI_ABOVE_REFER": "Debt-to-income ratio above the level we can approve without further review",
    "CREDIT_SCORE_BELOW_REFER": "Credit score below the level we can approve without "
    "further review",
    "RECENT_DELINQUENCY": "Late payment on a credit obligation in the past two years",
    "LTV_ABOVE_REFER": "Loan amount high in relation to the value of the collateral",
    "LOAN_TO_INCOME_ABOVE_REFER": "Amount of credit requested high in relation to income",
    "HIGH_CREDIT_UTILIZATION": "Proportion of revolving credit balances to limits too high",
    "SHORT_EMPLOYMENT": "Length of employment with current employer too short",
}

#: Codes in severity order; the position is the bit in the rule mask.
REASON_ORDER: tuple[str, ...] = tuple(REASON_TEXTS)
DENY_CODES: frozenset[str] = frozenset(REASON_ORDER[:6])


def amortized_payment(principal: np.ndarray, apr: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Level monthly payment of a fully amortising loan.

    Args:
        principal: amount borrowed.
        apr: annual rate as a fraction (0.0649); 0 means the principal is simply spread evenly.
        months: number of monthly payments (> 0).

    Returns:
        The unrounded payment, same shape as the inputs.
    """
    principal = np.asarray(principal, dtype=np.float64)
    months = np.asarray(months, dtype=np.float64)
    rate = np.asarray(apr, dtype=np.float64) / 12.0
    zero = rate == 0.0
    # Substitute a harmless rate where it is zero so the annuity formula never divides by zero.
    safe = np.where(zero, 1.0, rate)
    growth = (1.0 + safe) ** months
    return np.where(zero, principal / months, principal * safe * growth / (growth - 1.0))


def decide(
    profiles: pl.DataFrame, policy: LendingPolicy, policy_version: str, max_reasons: int = 4
) -> pl.DataFrame:
    """Labels lending profiles (see the module docstring for the columns and rules).

    Derived numbers are rounded in the frame (money to cents, ratios to four decimals) before
    the rules compare them, so the rules, the facts and the text all see the same values.

    Args:
        profiles: frame with the input columns listed in the module docstring.
        policy: the thresholds.
        policy_version: stamped on every row.
        max_reasons: principal reasons kept per row (ECOA/Reg B asks for at most four).

    Returns:
        `profiles` with the derived columns, `decision`, `reason_codes` and `policy_version`.
    """

    def col(name: str) -> np.ndarray:
        return profiles[name].cast(pl.Float64).to_numpy()

    income = col("annual_income")
    debts = col("monthly_debt_payments")
    loan = col("loan_amount")
    purpose = profiles["loan_purpose"]
    payment = np.round(amortized_payment(loan, col("interest_rate"), col("loan_term_months")), 2)
    obligations = np.round(debts + payment, 2)
    dti = np.round((debts + payment) / (income / 12.0), 4)
    # Nulls (unsecured loans, no collateral) become NaN, and every comparison with NaN is False.
    ltv = np.round(
        loan / profiles["collateral_value"].cast(pl.Float64).fill_null(np.nan).to_numpy(), 4
    )
    lti = np.round(loan / income, 4)
    score = col("credit_score")
    delinquencies = col("delinquencies_2y")
    months_since = profiles["months_since_bankruptcy"].cast(pl.Float64).fill_null(np.inf).to_numpy()
    is_mortgage = (purpose == "mortgage").to_numpy()
    is_auto = (purpose == "auto").to_numpy()
    unsecured = ~(is_mortgage | is_auto)
    max_ltv = np.where(is_mortgage, policy.max_ltv_mortgage, policy.max_ltv_auto)
    refer_ltv = np.where(is_mortgage, policy.refer_ltv_mortgage, policy.refer_ltv_auto)

    deny = {
        "RECENT_BANKRUPTCY": (col("bankruptcies") > 0)
        & (months_since < policy.bankruptcy_lookback_months),
        "CREDIT_SCORE_BELOW_MIN": score < policy.min_credit_score,
        "DTI_ABOVE_MAX": dti > policy.max_dti,
        "DELINQUENCIES_ABOVE_MAX": delinquencies >= policy.deny_delinquencies_2y,
        "LTV_ABOVE_MAX": ~unsecured & (ltv > max_ltv),
        "LOAN_TO_INCOME_ABOVE_MAX": unsecured & (lti > policy.max_loan_to_income),
    }
    refer = {
        "DTI_ABOVE_REFER": (dti > policy.refer_dti) & ~deny["DTI_ABOVE_MAX"],
        "CREDIT_SCORE_BELOW_REFER": (score < policy.refer_credit_score)
        & ~deny["CREDIT_SCORE_BELOW_MIN"],
        "RECENT_DELINQUENCY": (delinquencies >= policy.refer_delinquencies_2y)
        & ~deny["DELINQUENCIES_ABOVE_MAX"],
        "LTV_ABOVE_REFER": ~unsecured & (ltv > refer_ltv) & ~deny["LTV_ABOVE_MAX"],
        "LOAN_TO_INCOME_ABOVE_REFER": unsecured
        & (lti > policy.refer_loan_to_income)
        & ~deny["LOAN_TO_INCOME_ABOVE_MAX"],
        "HIGH_CREDIT_UTILIZATION": col("credit_utilization") > policy.refer_credit_utilization,
        "SHORT_EMPLOYMENT": col("employment_years") < policy.min_employment_years,
    }
    flags = {**deny, **refer}
    mask = np.zeros(profiles.height, dtype=np.int64)
    for bit, code in enumerate(REASON_ORDER):
        mask |= flags[code].astype(np.int64) << bit
    denied = (mask & ((1 << len(deny)) - 1)) != 0
    decision = np.where(denied, 2, np.where(mask != 0, 1, 0))
    return profiles.with_columns(
        monthly_income=pl.Series(np.round(income / 12.0, 2)),
        monthly_payment=pl.Series(payment),
        total_monthly_obligations=pl.Series(obligations),
        dti=pl.Series(dti),
        ltv=pl.Series(ltv, nan_to_null=True),
        loan_to_income=pl.Series(lti),
        decision=pl.Series(["approve", "refer", "deny"], dtype=pl.String).gather(decision),
        reason_codes=_reason_lists(mask, max_reasons),
        policy_version=pl.lit(policy_version, dtype=pl.String),
    )


def _reason_lists(mask: np.ndarray, limit: int) -> pl.Series:
    """Turns rule bitmasks into lists of the first `limit` codes, in severity order.

    Building one list per row is slow in polars (concat_list over 13 columns runs ~5 s per
    million rows); a row's list depends only on its mask, so build each distinct mask's list
    once and gather (a few thousand masks at most).
    """
    present = np.flatnonzero(np.bincount(mask, minlength=1))
    position = np.zeros(int(present[-1]) + 1 if present.size else 1, dtype=np.int64)
    position[present] = np.arange(present.size)
    table = pl.Series(
        [[c for bit, c in enumerate(REASON_ORDER) if m >> bit & 1][:limit] for m in present],
        dtype=pl.List(pl.String),
    )
    return table.gather(position[mask])
