"""Frozen copy of the lending facts before rule tables (commit d1aa74c): the reference the
table-derived facts must equal. Do not edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factory.domains.base import Fact
from factory.domains.lending.policy import LendingPolicy

_new = tuple.__new__

#: Facts that are fractions a text may show as percentages.
PERCENT_FACTS: frozenset[str] = frozenset(
    {
        "interest_rate",
        "dti",
        "max_dti",
        "refer_dti",
        "dti_gap_to_max",
        "dti_gap_to_refer",
        "credit_utilization",
        "refer_credit_utilization",
        "utilization_gap",
        "loan_to_income",
        "ltv",
        "max_ltv",
        "refer_ltv",
        "ltv_gap_to_max",
        "ltv_gap_to_refer",
        "max_loan_to_income",
        "refer_loan_to_income",
        "lti_gap_to_max",
        "lti_gap_to_refer",
    }
)


def lending_facts(row: Mapping[str, Any], policy: LendingPolicy) -> dict[str, Fact]:
    """Every number the explanation of `row` may cite.

    Args:
        row: a profile labelled by `decide` (inputs plus derived columns).
        policy: the thresholds it was labelled with.

    Returns:
        Fact per name: inputs, derived values, the thresholds that apply to this loan, and the
        gaps between each compared value and its thresholds.
    """
    # tuple.__new__ builds the same Fact without the generated __new__'s Python frame: a third
    # of this function's time, once per fact of every example the verifiers check.
    return {
        name: _new(Fact, (value, name in PERCENT_FACTS))
        for name, value in fact_values(row, policy).items()
    }


def fact_values(row: Mapping[str, Any], policy: LendingPolicy) -> dict[str, float]:
    """The values of `lending_facts` without the Fact wrappers (the writer's fast path)."""
    dti = row["dti"]
    score = row["credit_score"]
    years = row["employment_years"]
    utilization = row["credit_utilization"]
    values: dict[str, Any] = {
        "annual_income": row["annual_income"],
        "monthly_income": row["monthly_income"],
        "monthly_debt_payments": row["monthly_debt_payments"],
        "loan_amount": row["loan_amount"],
        "loan_term_months": row["loan_term_months"],
        "interest_rate": row["interest_rate"],
        "monthly_payment": row["monthly_payment"],
        "total_monthly_obligations": row["total_monthly_obligations"],
        "dti": dti,
        "max_dti": policy.max_dti,
        "refer_dti": policy.refer_dti,
        "dti_gap_to_max": _ratio_gap(dti, policy.max_dti),
        "dti_gap_to_refer": _ratio_gap(dti, policy.refer_dti),
        "credit_score": score,
        "min_credit_score": policy.min_credit_score,
        "refer_credit_score": policy.refer_credit_score,
        "score_gap_to_min": abs(score - policy.min_credit_score),
        "score_gap_to_refer": abs(score - policy.refer_credit_score),
        "employment_years": years,
        "min_employment_years": policy.min_employment_years,
        "employment_gap": round(abs(years - policy.min_employment_years), 1),
        "credit_utilization": utilization,
        "refer_credit_utilization": policy.refer_credit_utilization,
        "utilization_gap": _ratio_gap(utilization, policy.refer_credit_utilization),
        "delinquencies_2y": row["delinquencies_2y"],
        "refer_delinquencies_2y": policy.refer_delinquencies_2y,
        "deny_delinquencies_2y": policy.deny_delinquencies_2y,
        "bankruptcies": row["bankruptcies"],
        "bankruptcy_lookback_months": policy.bankruptcy_lookback_months,
        "loan_to_income": row["loan_to_income"],
    }
    months = row.get("months_since_bankruptcy")
    if months is not None:
        values["months_since_bankruptcy"] = months
        values["bankruptcy_gap_months"] = abs(months - policy.bankruptcy_lookback_months)
    purpose = row["loan_purpose"]
    max_ltv, refer_ltv = policy.max_ltv(purpose), policy.refer_ltv(purpose)
    ltv = row.get("ltv")
    if max_ltv is not None and refer_ltv is not None and ltv is not None:
        values["collateral_value"] = row["collateral_value"]
        values["ltv"] = ltv
        values["max_ltv"] = max_ltv
        values["refer_ltv"] = refer_ltv
        values["ltv_gap_to_max"] = _ratio_gap(ltv, max_ltv)
        values["ltv_gap_to_refer"] = _ratio_gap(ltv, refer_ltv)
    else:
        lti = row["loan_to_income"]
        values["max_loan_to_income"] = policy.max_loan_to_income
        values["refer_loan_to_income"] = policy.refer_loan_to_income
        values["lti_gap_to_max"] = _ratio_gap(lti, policy.max_loan_to_income)
        values["lti_gap_to_refer"] = _ratio_gap(lti, policy.refer_loan_to_income)
    return values


def _ratio_gap(value: float, threshold: float) -> float:
    return round(abs(value - threshold), 4)
