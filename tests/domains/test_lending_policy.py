"""The lending policy engine: each rule at and around its threshold, ordering, validation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from factory.domains import get_domain
from factory.domains.lending.policy import LendingPolicy, amortized_payment
from factory.domains.lending.rules import DENY_CODES, REASON_ORDER, REASON_TEXTS

DOMAIN = get_domain("lending")
POLICY = LendingPolicy()
SEVERITY = {"approve": 0, "refer": 1, "deny": 2}

# A clean applicant: $10,000 a month, a 0% loan so the payment is exactly loan / term
# ($12,000 / 60 = $200), DTI (1,000 + 200) / 10,000 = 12%, loan-to-income 10%.
CLEAN = {
    "applicant_id": 1,
    "sex": "female",
    "age": 40,
    "age_band": "35-44",
    "marital_status": "married",
    "annual_income": 120_000.0,
    "monthly_debt_payments": 1_000.0,
    "loan_amount": 12_000.0,
    "loan_term_months": 60,
    "interest_rate": 0.0,
    "credit_score": 750,
    "employment_years": 5.0,
    "credit_utilization": 0.2,
    "delinquencies_2y": 0,
    "bankruptcies": 0,
    "months_since_bankruptcy": None,
    "loan_purpose": "personal",
    "collateral_value": None,
}


def applicants(*overrides: dict) -> pl.DataFrame:
    rows = [{**CLEAN, **o} for o in overrides]
    return pl.DataFrame(
        rows,
        schema_overrides={
            "months_since_bankruptcy": pl.Int64,
            "collateral_value": pl.Float64,
            "annual_income": pl.Float64,
            "loan_amount": pl.Float64,
        },
    )


def decide_one(policy: LendingPolicy = POLICY, **override) -> dict:
    return DOMAIN.decide(applicants(override), policy).row(0, named=True)


def test_clean_applicant_is_approved_without_reasons():
    row = decide_one()
    assert row["decision"] == "approve"
    assert row["reason_codes"] == []
    assert row["monthly_payment"] == 200.0
    assert row["dti"] == 0.12
    assert row["loan_to_income"] == 0.1
    assert row["ltv"] is None
    assert row["policy_version"] == DOMAIN.policy_version(POLICY)


@pytest.mark.parametrize(
    ("debts", "dti", "decision", "codes"),
    [
        (4_100.0, 0.43, "refer", ["DTI_ABOVE_REFER"]),  # at max_dti: not denied
        (4_101.0, 0.4301, "deny", ["DTI_ABOVE_MAX"]),
        (3_400.0, 0.36, "approve", []),  # at refer_dti: not referred
        (3_401.0, 0.3601, "refer", ["DTI_ABOVE_REFER"]),
    ],
)
def test_dti_thresholds_are_strict(debts, dti, decision, codes):
    row = decide_one(monthly_debt_payments=debts)
    assert row["dti"] == dti
    assert (row["decision"], row["reason_codes"]) == (decision, codes)


@pytest.mark.parametrize(
    ("score", "decision", "codes"),
    [
        (619, "deny", ["CREDIT_SCORE_BELOW_MIN"]),
        (620, "refer", ["CREDIT_SCORE_BELOW_REFER"]),
        (679, "refer", ["CREDIT_SCORE_BELOW_REFER"]),
        (680, "approve", []),
    ],
)
def test_credit_score_thresholds(score, decision, codes):
    row = decide_one(credit_score=score)
    assert (row["decision"], row["reason_codes"]) == (decision, codes)


@pytest.mark.parametrize(
    ("years", "decision"), [(0.0, "refer"), (1.9, "refer"), (2.0, "approve"), (2.1, "approve")]
)
def test_short_employment_refers(years, decision):
    row = decide_one(employment_years=years)
    assert row["decision"] == decision
    assert row["reason_codes"] == (["SHORT_EMPLOYMENT"] if decision == "refer" else [])


@pytest.mark.parametrize(
    ("count", "decision", "codes"),
    [
        (0, "approve", []),
        (1, "refer", ["RECENT_DELINQUENCY"]),
        (2, "refer", ["RECENT_DELINQUENCY"]),
        (3, "deny", ["DELINQUENCIES_ABOVE_MAX"]),
        (7, "deny", ["DELINQUENCIES_ABOVE_MAX"]),
    ],
)
def test_delinquency_levels(count, decision, codes):
    row = decide_one(delinquencies_2y=count)
    assert (row["decision"], row["reason_codes"]) == (decision, codes)


@pytest.mark.parametrize(
    ("months", "decision"), [(6, "deny"), (47, "deny"), (48, "approve"), (120, "approve")]
)
def test_bankruptcy_lookback(months, decision):
    row = decide_one(bankruptcies=1, months_since_bankruptcy=months)
    assert row["decision"] == decision
    assert row["reason_codes"] == (["RECENT_BANKRUPTCY"] if decision == "deny" else [])


@pytest.mark.parametrize(
    ("utilization", "decision"), [(0.8, "approve"), (0.8001, "refer"), (0.99, "refer")]
)
def test_high_utilization_refers(utilization, decision):
    row = decide_one(credit_utilization=utilization)
    assert row["decision"] == decision


@pytest.mark.parametrize(
    ("purpose", "ltv", "decision", "codes"),
    [
        ("mortgage", 0.90, "approve", []),
        ("mortgage", 0.9001, "refer", ["LTV_ABOVE_REFER"]),
        ("mortgage", 0.95, "refer", ["LTV_ABOVE_REFER"]),
        ("mortgage", 0.9501, "deny", ["LTV_ABOVE_MAX"]),
        ("auto", 1.10, "approve", []),
        ("auto", 1.1001, "refer", ["LTV_ABOVE_REFER"]),
        ("auto", 1.25, "refer", ["LTV_ABOVE_REFER"]),
        ("auto", 1.2501, "deny", ["LTV_ABOVE_MAX"]),
    ],
)
def test_ltv_limits_per_secured_purpose(purpose, ltv, decision, codes):
    # A loan of 1.2x income: far above the unsecured loan-to-income limits, which secured
    # loans are not held to.
    loan = 144_000.0
    row = decide_one(
        loan_purpose=purpose,
        loan_amount=loan,
        loan_term_months=360,
        monthly_debt_payments=0.0,
        collateral_value=loan / ltv,
    )
    assert row["ltv"] == ltv
    assert row["loan_to_income"] == 1.2
    assert (row["decision"], row["reason_codes"]) == (decision, codes)


@pytest.mark.parametrize(
    ("loan", "decision", "codes"),
    [
        (48_000.0, "approve", []),
        (48_012.0, "refer", ["LOAN_TO_INCOME_ABOVE_REFER"]),
        (72_000.0, "refer", ["LOAN_TO_INCOME_ABOVE_REFER"]),
        (72_012.0, "deny", ["LOAN_TO_INCOME_ABOVE_MAX"]),
    ],
)
def test_loan_to_income_limits_for_unsecured_loans(loan, decision, codes):
    row = decide_one(loan_amount=loan, loan_term_months=120, monthly_debt_payments=0.0)
    assert (row["decision"], row["reason_codes"]) == (decision, codes)


def test_reasons_are_ordered_by_severity_and_capped_at_four():
    row = decide_one(
        credit_score=600,
        monthly_debt_payments=5_000.0,
        delinquencies_2y=1,
        credit_utilization=0.95,
        employment_years=0.5,
        bankruptcies=1,
        months_since_bankruptcy=12,
    )
    assert row["decision"] == "deny"
    assert row["reason_codes"] == [
        "RECENT_BANKRUPTCY",
        "CREDIT_SCORE_BELOW_MIN",
        "DTI_ABOVE_MAX",
        "RECENT_DELINQUENCY",
    ]
    assert len(row["reason_codes"]) <= DOMAIN.max_principal_reasons


def test_refer_level_reasons_follow_deny_level_reasons():
    row = decide_one(credit_score=650, monthly_debt_payments=4_500.0)
    assert row["reason_codes"] == ["DTI_ABOVE_MAX", "CREDIT_SCORE_BELOW_REFER"]


def test_zero_rate_spreads_principal_without_dividing_by_zero():
    with np.errstate(divide="raise", invalid="raise"):
        row = decide_one(loan_amount=10_000.0, loan_term_months=36, interest_rate=0.0)
    assert row["monthly_payment"] == round(10_000 / 36, 2)
    assert amortized_payment(np.array([9_000.0]), np.array([0.0]), np.array([36]))[0] == 250.0


def test_amortisation_matches_the_annuity_formula():
    # $10,000 at 6% APR over 36 months is the textbook $304.22 a month.
    row = decide_one(loan_amount=10_000.0, loan_term_months=36, interest_rate=0.06)
    assert row["monthly_payment"] == 304.22
    assert row["total_monthly_obligations"] == 1_304.22


def test_decision_depends_on_thresholds_from_the_policy():
    strict = LendingPolicy(max_dti=0.10, refer_dti=0.05)
    assert decide_one(strict)["reason_codes"] == ["DTI_ABOVE_MAX"]
    assert DOMAIN.policy_version(strict) != DOMAIN.policy_version(POLICY)


def test_reason_codes_are_upper_snake_with_digit_free_texts():
    assert set(REASON_ORDER) == set(DOMAIN.reason_texts)
    assert set(REASON_ORDER[:6]) == DENY_CODES
    for code, text in REASON_TEXTS.items():
        assert code.isupper() and " " not in code
        assert text and not any(ch.isdigit() for ch in text)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"refer_dti": 0.45}, "refer_dti (0.45) must be <= max_dti (0.43)"),
        ({"refer_credit_score": 600}, "refer_credit_score (600) must be >= min_credit_score"),
        ({"refer_delinquencies_2y": 4}, "refer_delinquencies_2y (4) must be <= deny_"),
        ({"refer_ltv_mortgage": 0.99}, "refer_ltv_mortgage (0.99) must be <= max_ltv_mortgage"),
        ({"refer_ltv_auto": 1.3}, "refer_ltv_auto (1.3) must be <= max_ltv_auto"),
        ({"refer_loan_to_income": 0.7}, "must be <= max_loan_to_income"),
    ],
)
def test_refer_levels_must_sit_inside_deny_levels(fields, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LendingPolicy(**fields)


@pytest.mark.parametrize(
    "fields",
    [{"max_dti": 1.5}, {"min_credit_score": 250}, {"refer_credit_score": 900}, {"x": 1}],
)
def test_out_of_range_or_unknown_thresholds_are_rejected(fields):
    with pytest.raises(ValidationError):
        LendingPolicy(**fields)


def test_every_policy_field_is_documented():
    for name, field in LendingPolicy.model_fields.items():
        assert field.description, name


applicant = st.fixed_dictionaries(
    {
        "annual_income": st.integers(15_000, 400_000).map(float),
        "monthly_debt_payments": st.integers(0, 8_000).map(float),
        "loan_amount": st.integers(10, 600).map(lambda k: k * 1_000.0),
        "loan_term_months": st.sampled_from([12, 36, 60, 84, 360]),
        "interest_rate": st.integers(0, 3_500).map(lambda bp: bp / 10_000),
        "credit_score": st.integers(300, 850),
        "employment_years": st.integers(0, 300).map(lambda t: t / 10),
        "credit_utilization": st.integers(0, 10_000).map(lambda u: u / 10_000),
        "delinquencies_2y": st.integers(0, 6),
        "loan_purpose": st.sampled_from(["personal", "debt_consolidation", "auto", "mortgage"]),
        "collateral_ratio": st.floats(0.3, 1.6),
    }
)


def _frame(base: dict, variant: dict) -> pl.DataFrame:
    rows = []
    for fields in (base, {**base, **variant}):
        fields = dict(fields)
        ratio = fields.pop("collateral_ratio")
        secured = fields["loan_purpose"] in ("auto", "mortgage")
        fields["collateral_value"] = round(fields["loan_amount"] / ratio) if secured else None
        rows.append(fields)
    return applicants(*rows)


def _severities(frame: pl.DataFrame) -> list[int]:
    return [SEVERITY[d] for d in DOMAIN.decide(frame, POLICY)["decision"]]


@settings(max_examples=150, deadline=None)
@given(applicant, st.integers(1, 200_000))
def test_more_income_never_worsens_the_decision(base, raise_by):
    before, after = _severities(_frame(base, {"annual_income": base["annual_income"] + raise_by}))
    assert after <= before


@settings(max_examples=150, deadline=None)
@given(applicant, st.integers(1, 300))
def test_higher_score_never_worsens_the_decision(base, points):
    better = min(base["credit_score"] + points, 850)
    before, after = _severities(_frame(base, {"credit_score": better}))
    assert after <= before


@settings(max_examples=150, deadline=None)
@given(applicant, st.integers(0, 8_000), st.integers(0, 6))
def test_less_debt_and_fewer_delinquencies_never_worsen_the_decision(base, debts, lates):
    variant = {
        "monthly_debt_payments": min(base["monthly_debt_payments"], float(debts)),
        "delinquencies_2y": min(base["delinquencies_2y"], lates),
    }
    before, after = _severities(_frame(base, variant))
    assert after <= before


@settings(max_examples=100, deadline=None)
@given(applicant)
def test_adverse_decisions_always_carry_reasons(base):
    row = DOMAIN.decide(_frame(base, {}), POLICY).row(0, named=True)
    assert (row["decision"] == "approve") == (row["reason_codes"] == [])
    assert len(row["reason_codes"]) <= DOMAIN.max_principal_reasons
    assert row["reason_codes"] == sorted(row["reason_codes"], key=REASON_ORDER.index)
