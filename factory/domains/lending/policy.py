"""The lending policy's thresholds (LendingPolicy) and the amortisation formula.

The rules themselves, their reason codes and texts, the quantities they compare and the
engine that applies them are one table: factory.domains.lending.rules (compiled by
factory.domains.rules). Input columns the table reads (never the protected attributes):
annual_income, monthly_debt_payments, loan_amount, loan_term_months, interest_rate,
credit_score, employment_years, credit_utilization, delinquencies_2y, bankruptcies,
months_since_bankruptcy, loan_purpose, collateral_value.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from factory.domains.base import PolicyBase

#: Purposes backed by collateral; only these have collateral_value and ltv.
SECURED_PURPOSES: tuple[str, ...] = ("auto", "mortgage")
UNSECURED_PURPOSES: tuple[str, ...] = (
    "debt_consolidation",
    "home_improvement",
    "personal",
    "medical",
)
LOAN_PURPOSES: tuple[str, ...] = UNSECURED_PURPOSES + SECURED_PURPOSES


class LendingPolicy(PolicyBase):
    """Underwriting thresholds of the lending engine (the recipe's `policy:` section)."""

    max_dti: float = Field(
        0.43, gt=0.0, le=1.0, description="Deny when back-end DTI is above this (fraction)."
    )
    refer_dti: float = Field(
        0.36,
        gt=0.0,
        le=1.0,
        description="Refer for manual review when back-end DTI is above this (<= max_dti).",
    )
    min_credit_score: int = Field(
        620, ge=300, le=850, description="Deny when the credit score is below this."
    )
    refer_credit_score: int = Field(
        680,
        ge=300,
        le=850,
        description="Refer when the credit score is below this (>= min_credit_score).",
    )
    min_employment_years: float = Field(
        2.0, ge=0.0, le=40.0, description="Refer when years with the current employer are fewer."
    )
    bankruptcy_lookback_months: int = Field(
        48,
        ge=0,
        le=240,
        description="Deny when a bankruptcy was discharged fewer than this many months ago.",
    )
    refer_delinquencies_2y: int = Field(
        1,
        ge=1,
        le=50,
        description="Refer when 30+ day delinquencies in the past two years reach this count.",
    )
    deny_delinquencies_2y: int = Field(
        3,
        ge=1,
        le=50,
        description="Deny when delinquencies in the past two years reach this count "
        "(>= refer_delinquencies_2y).",
    )
    max_ltv_mortgage: float = Field(
        0.95, gt=0.0, le=1.5, description="Deny a mortgage whose loan-to-value is above this."
    )
    refer_ltv_mortgage: float = Field(
        0.90,
        gt=0.0,
        le=1.5,
        description="Refer a mortgage whose loan-to-value is above this (<= max_ltv_mortgage).",
    )
    max_ltv_auto: float = Field(
        1.25, gt=0.0, le=2.0, description="Deny an auto loan whose loan-to-value is above this."
    )
    refer_ltv_auto: float = Field(
        1.10,
        gt=0.0,
        le=2.0,
        description="Refer an auto loan whose loan-to-value is above this (<= max_ltv_auto).",
    )
    max_loan_to_income: float = Field(
        0.60,
        gt=0.0,
        le=5.0,
        description="Deny an unsecured loan above this share of annual income.",
    )
    refer_loan_to_income: float = Field(
        0.40,
        gt=0.0,
        le=5.0,
        description="Refer an unsecured loan above this share of annual income "
        "(<= max_loan_to_income).",
    )
    refer_credit_utilization: float = Field(
        0.80,
        gt=0.0,
        le=1.5,
        description="Refer when revolving balances are above this share of limits.",
    )

    @model_validator(mode="after")
    def _refer_inside_deny(self) -> LendingPolicy:
        # A refer level outside its deny level would make the refer rule unreachable or make
        # "refer" mean something stricter than "deny"; both are recipe mistakes.
        pairs = (
            ("refer_dti", "max_dti", "<="),
            ("refer_credit_score", "min_credit_score", ">="),
            ("refer_delinquencies_2y", "deny_delinquencies_2y", "<="),
            ("refer_ltv_mortgage", "max_ltv_mortgage", "<="),
            ("refer_ltv_auto", "max_ltv_auto", "<="),
            ("refer_loan_to_income", "max_loan_to_income", "<="),
        )
        for refer, deny, op in pairs:
            a, b = getattr(self, refer), getattr(self, deny)
            if (op == "<=" and a > b) or (op == ">=" and a < b):
                raise ValueError(f"{refer} ({a:g}) must be {op} {deny} ({b:g})")
        return self

    def max_ltv(self, purpose: str) -> float | None:
        """The deny-level LTV for a secured purpose (None for unsecured purposes)."""
        return {"mortgage": self.max_ltv_mortgage, "auto": self.max_ltv_auto}.get(purpose)

    def refer_ltv(self, purpose: str) -> float | None:
        """The refer-level LTV for a secured purpose (None for unsecured purposes)."""
        return {"mortgage": self.refer_ltv_mortgage, "auto": self.refer_ltv_auto}.get(purpose)


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
