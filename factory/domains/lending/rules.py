"""The lending policy as a rule table: quantities, thresholds and rules, declared once.

The engine (`decide`), the reason texts, the facts and the YAML extension points are derived
from `builtin_table`; the thresholds are the recipe's `policy:` values (LendingPolicy).
"""

from __future__ import annotations

import dataclasses

import polars as pl

from factory.domains.lending.policy import SECURED_PURPOSES, LendingPolicy
from factory.domains.rules import Helper, Quantity, Rule, RuleTable, policy_params
from factory.domains.rules.expr import exact_divisor

_SECURED = "loan_purpose in [" + ", ".join(f"'{p}'" for p in SECURED_PURPOSES) + "]"


def _amortized_payment_expr(principal: pl.Expr, apr: pl.Expr, months: pl.Expr) -> pl.Expr:
    # The same float operations, in the same order, as policy.amortized_payment, so the
    # compiled engine's payments equal the numpy engine's to the last bit.
    rate = apr / exact_divisor(pl.lit(12.0))
    zero = rate == 0.0
    safe = pl.when(zero).then(1.0).otherwise(rate)
    growth = (1.0 + safe).pow(months)
    return (
        pl.when(zero).then(principal / months).otherwise(principal * safe * growth / (growth - 1.0))
    )


def _amortized_payment(principal: float, apr: float, months: float) -> float:
    rate = float(apr) / 12.0
    if rate == 0.0:
        return float(principal) / float(months)
    growth = (1.0 + rate) ** float(months)
    return float(principal) * rate * growth / (growth - 1.0)


HELPERS: dict[str, Helper] = {
    "amortized_payment": Helper(
        name="amortized_payment",
        arity=3,
        polars=_amortized_payment_expr,
        python=_amortized_payment,
        description="amortized_payment(principal, apr, months): level monthly payment of a "
        "fully amortising loan (APR as a fraction; 0 spreads the principal evenly).",
    )
}

_PURPOSE_WORDS = {
    "debt_consolidation": ("debt consolidation",),
    "home_improvement": ("home improvement", "home improvements"),
    "personal": ("personal", "personal expenses"),
    "medical": ("medical", "medical expenses"),
    "auto": ("auto", "vehicle", "car"),
    "mortgage": ("mortgage", "home purchase"),
}

QUANTITIES: tuple[Quantity, ...] = (
    # Inputs: columns of the synthesized profile.
    Quantity("annual_income", "annual income", ("income", "yearly income"), "money"),
    Quantity(
        "monthly_debt_payments",
        "existing monthly debt payments",
        ("existing debt payments", "current obligations", "existing obligations"),
        "money",
    ),
    Quantity("loan_amount", "loan amount", ("amount requested", "principal"), "money"),
    Quantity("loan_term_months", "loan term", ("term",), "months"),
    Quantity("interest_rate", "APR", ("interest rate", "annual percentage rate"), "fraction"),
    Quantity("credit_score", "credit score", ("score", "FICO"), "score"),
    Quantity(
        "employment_years",
        "years with the current employer",
        ("employment tenure", "tenure", "time in the current job"),
        "years",
        round=1,
    ),
    Quantity(
        "credit_utilization",
        "revolving credit utilisation",
        ("utilisation", "utilization", "credit utilization", "revolving utilisation"),
        "fraction",
        round=4,
    ),
    Quantity(
        "delinquencies_2y",
        "30+ day delinquencies in the past two years",
        ("delinquencies", "late payments"),
        "count",
        present_words=("delinquency", "delinquencies", "late payment", "late payments"),
        absent_words=("no delinquencies", "no late payments", "clean"),
    ),
    Quantity(
        "bankruptcies",
        "bankruptcies on file",
        ("bankruptcy",),
        "count",
        present_words=("bankruptcy", "bankruptcies"),
        absent_words=("no bankruptcy", "no bankruptcies"),
    ),
    Quantity(
        "months_since_bankruptcy",
        "months since the most recent bankruptcy",
        ("bankruptcy age",),
        "months",
    ),
    Quantity("loan_purpose", "loan purpose", ("purpose",), "category", value_words=_PURPOSE_WORDS),
    Quantity(
        "collateral_value",
        "collateral value",
        ("home value", "vehicle value", "value of the collateral"),
        "money",
    ),
    # Derived, in dependency order.
    Quantity(
        "secured",
        "secured loan",
        ("secured",),
        "boolean",
        expr=_SECURED,
        output=False,
        present_words=("secured", "collateral", "auto", "mortgage"),
        absent_words=("unsecured",),
        description="Auto loans and mortgages are secured by the vehicle or the home.",
    ),
    Quantity(
        "monthly_income",
        "monthly income",
        ("income a month",),
        "money",
        expr="annual_income / 12",
        round=2,
        description="Annual income / 12.",
    ),
    Quantity(
        "monthly_payment",
        "new monthly payment",
        ("monthly payment", "level payment", "payment", "instalment", "installment"),
        "money",
        expr="amortized_payment(loan_amount, interest_rate, loan_term_months)",
        round=2,
        description="Standard amortisation of the loan amount over the term at APR / 12 per "
        "month (with a 0% APR, the amount divided by the number of months).",
    ),
    Quantity(
        "total_monthly_obligations",
        "total monthly obligations",
        ("total monthly debt", "monthly obligations"),
        "money",
        expr="monthly_debt_payments + monthly_payment",
        round=2,
        description="Existing monthly debt payments + the new monthly payment.",
    ),
    Quantity(
        "dti",
        "debt-to-income ratio",
        ("DTI", "back-end DTI", "back-end ratio", "debt-to-income"),
        "fraction",
        # Today's engine divides the unrounded sum by the unrounded monthly income.
        expr="(monthly_debt_payments + monthly_payment) / (annual_income / 12)",
        round=4,
        description="(Existing monthly debt payments + new monthly payment) / monthly income.",
    ),
    Quantity(
        "ltv",
        "loan-to-value ratio",
        ("LTV", "loan-to-value"),
        "fraction",
        expr="loan_amount / collateral_value",
        round=4,
        applies="secured",
        description="Loan amount / collateral value (auto and mortgage loans).",
    ),
    Quantity(
        "loan_to_income",
        "loan-to-income ratio",
        ("loan-to-income", "LTI", "loan size relative to income"),
        "fraction",
        expr="loan_amount / annual_income",
        round=4,
        description="Loan amount / annual income (the size check of unsecured loans).",
    ),
    Quantity(
        "max_ltv",
        "maximum loan-to-value",
        ("LTV maximum", "LTV limit"),
        "fraction",
        expr="where(loan_purpose == 'mortgage', max_ltv_mortgage, max_ltv_auto)",
        applies="secured",
        output=False,
        description="The deny-level LTV of the loan's secured purpose.",
    ),
    Quantity(
        "refer_ltv",
        "loan-to-value review level",
        ("LTV review level",),
        "fraction",
        expr="where(loan_purpose == 'mortgage', refer_ltv_mortgage, refer_ltv_auto)",
        applies="secured",
        output=False,
        description="The refer-level LTV of the loan's secured purpose.",
    ),
)

#: param name -> (quantity it thresholds, label).
_PARAM_META: dict[str, tuple[str | None, str]] = {
    "max_dti": ("dti", "maximum DTI"),
    "refer_dti": ("dti", "DTI automatic-approval level"),
    "min_credit_score": ("credit_score", "minimum credit score"),
    "refer_credit_score": ("credit_score", "credit score automatic-approval level"),
    "min_employment_years": ("employment_years", "minimum years with the current employer"),
    "bankruptcy_lookback_months": ("months_since_bankruptcy", "bankruptcy lookback"),
    "refer_delinquencies_2y": ("delinquencies_2y", "delinquency review level"),
    "deny_delinquencies_2y": ("delinquencies_2y", "delinquency denial level"),
    "max_ltv_mortgage": ("ltv", "maximum mortgage LTV"),
    "refer_ltv_mortgage": ("ltv", "mortgage LTV review level"),
    "max_ltv_auto": ("ltv", "maximum auto LTV"),
    "refer_ltv_auto": ("ltv", "auto LTV review level"),
    "max_loan_to_income": ("loan_to_income", "maximum loan-to-income"),
    "refer_loan_to_income": ("loan_to_income", "loan-to-income review level"),
    "refer_credit_utilization": ("credit_utilization", "utilisation review level"),
}


def _rule(
    code: str,
    outcome: str,
    quantity: str,
    op: str,
    threshold: str,
    text: str,
    noun: str,
    **more: object,
) -> Rule:
    when = str(more.pop("when", f"{quantity} {op} {threshold}"))
    return Rule(
        code=code,
        outcome=outcome,
        when=when,
        quantity=quantity,
        op=op,
        threshold=threshold,
        text=text,
        noun=noun,
        **more,  # type: ignore[arg-type]
    )


RULES: tuple[Rule, ...] = (
    _rule(
        "RECENT_BANKRUPTCY",
        "deny",
        "months_since_bankruptcy",
        "<",
        "bankruptcy_lookback_months",
        "Bankruptcy filed within the lookback period our policy requires",
        "the recent bankruptcy",
        when="bankruptcies > 0 and months_since_bankruptcy < bankruptcy_lookback_months",
        gap="bankruptcy_gap_months",
        prompt="A bankruptcy fewer than {bankruptcy_lookback_months} months ago.",
    ),
    _rule(
        "CREDIT_SCORE_BELOW_MIN",
        "deny",
        "credit_score",
        "<",
        "min_credit_score",
        "Credit score below the minimum we require for this loan",
        "the credit score below the minimum",
        gap="score_gap_to_min",
        supersedes=("CREDIT_SCORE_BELOW_REFER",),
        prompt="Credit score below {min_credit_score}.",
    ),
    _rule(
        "DTI_ABOVE_MAX",
        "deny",
        "dti",
        ">",
        "max_dti",
        "Total monthly debt obligations too high in relation to income",
        "the debt-to-income ratio above the maximum",
        gap="dti_gap_to_max",
        supersedes=("DTI_ABOVE_REFER",),
        prompt="DTI above {max_dti}.",
    ),
    _rule(
        "DELINQUENCIES_ABOVE_MAX",
        "deny",
        "delinquencies_2y",
        ">=",
        "deny_delinquencies_2y",
        "Serious delinquency: too many late payments on credit obligations in the past two years",
        "the number of recent delinquencies",
        supersedes=("RECENT_DELINQUENCY",),
        prompt="{deny_delinquencies_2y} or more 30+ day delinquencies in the past two years.",
    ),
    _rule(
        "LTV_ABOVE_MAX",
        "deny",
        "ltv",
        ">",
        "max_ltv",
        "Value of collateral not sufficient for the amount of credit requested",
        "the loan-to-value ratio above the maximum",
        applies="secured",
        gap="ltv_gap_to_max",
        supersedes=("LTV_ABOVE_REFER",),
        prompt="Loan-to-value above {max_ltv_mortgage} for a mortgage or {max_ltv_auto} for an "
        "auto loan.",
    ),
    _rule(
        "LOAN_TO_INCOME_ABOVE_MAX",
        "deny",
        "loan_to_income",
        ">",
        "max_loan_to_income",
        "Income insufficient for the amount of credit requested",
        "the loan size relative to income",
        applies="not secured",
        gap="lti_gap_to_max",
        supersedes=("LOAN_TO_INCOME_ABOVE_REFER",),
        prompt="Loan-to-income above {max_loan_to_income} for an unsecured loan.",
    ),
    _rule(
        "DTI_ABOVE_REFER",
        "refer",
        "dti",
        ">",
        "refer_dti",
        "Debt-to-income ratio above the level we can approve without further review",
        "the debt-to-income ratio above the approval level",
        gap="dti_gap_to_refer",
        prompt="DTI above {refer_dti}.",
    ),
    _rule(
        "CREDIT_SCORE_BELOW_REFER",
        "refer",
        "credit_score",
        "<",
        "refer_credit_score",
        "Credit score below the level we can approve without further review",
        "the credit score below the approval level",
        gap="score_gap_to_refer",
        prompt="Credit score below {refer_credit_score}.",
    ),
    _rule(
        "RECENT_DELINQUENCY",
        "refer",
        "delinquencies_2y",
        ">=",
        "refer_delinquencies_2y",
        "Late payment on a credit obligation in the past two years",
        "the recent late payment history",
        prompt="{refer_delinquencies_2y} or more 30+ day delinquencies in the past two years.",
    ),
    _rule(
        "LTV_ABOVE_REFER",
        "refer",
        "ltv",
        ">",
        "refer_ltv",
        "Loan amount high in relation to the value of the collateral",
        "the high loan-to-value ratio",
        applies="secured",
        gap="ltv_gap_to_refer",
        prompt="Loan-to-value above {refer_ltv_mortgage} for a mortgage or {refer_ltv_auto} for "
        "an auto loan.",
    ),
    _rule(
        "LOAN_TO_INCOME_ABOVE_REFER",
        "refer",
        "loan_to_income",
        ">",
        "refer_loan_to_income",
        "Amount of credit requested high in relation to income",
        "the loan size relative to income",
        applies="not secured",
        gap="lti_gap_to_refer",
        prompt="Loan-to-income above {refer_loan_to_income} for an unsecured loan.",
    ),
    _rule(
        "HIGH_CREDIT_UTILIZATION",
        "refer",
        "credit_utilization",
        ">",
        "refer_credit_utilization",
        "Proportion of revolving credit balances to limits too high",
        "the high revolving utilisation",
        gap="utilization_gap",
        prompt="Revolving credit utilisation above {refer_credit_utilization}.",
    ),
    _rule(
        "SHORT_EMPLOYMENT",
        "refer",
        "employment_years",
        "<",
        "min_employment_years",
        "Length of employment with current employer too short",
        "the short time with the current employer",
        gap="employment_gap",
        prompt="Fewer than {min_employment_years} years with the current employer.",
    ),
)

DECISION_WORDS: dict[str, tuple[str, ...]] = {
    "deny": ("deny", "denied", "denial", "decline", "declined"),
    "refer": ("refer", "referred", "referral", "manual review"),
    "approve": ("approve", "approved", "approval"),
}


def builtin_table(policy: LendingPolicy, version: str, max_reasons: int) -> RuleTable:
    """The built-in lending table with the thresholds of `policy` (no YAML extensions).

    Args:
        policy: the recipe's thresholds.
        version: the policy_version stamped on labelled rows.
        max_reasons: principal reasons kept per row.
    """
    params = policy_params(policy, _PARAM_META)
    return RuleTable(
        domain="lending",
        tiers=("deny", "refer", "approve"),
        default="approve",
        quantities={q.name: q for q in QUANTITIES},
        params=params,
        rules=tuple(dataclasses.replace(rule, severity=i) for i, rule in enumerate(RULES)),
        helpers=HELPERS,
        decision_words=DECISION_WORDS,
        version=version,
        max_reasons=max_reasons,
    )


#: Reason code -> adverse-action text, in severity order (no digits, so the numbers verifier
#: never reads them).
REASON_TEXTS: dict[str, str] = {rule.code: rule.text for rule in RULES}
REASON_ORDER: tuple[str, ...] = tuple(REASON_TEXTS)
DENY_CODES: frozenset[str] = frozenset(rule.code for rule in RULES if rule.outcome == "deny")
