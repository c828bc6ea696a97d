"""The template teacher for lending: writes the decision_cot assistant message.

The reasoning walks the file the way an underwriter does (the request and its payment,
affordability, credit score, payment history, utilisation, employment, collateral or loan
size, the recipe's own rules, conclusion). Each step has several phrasings picked with the
seeded rng; every number printed is a fact of the rule table (factory.domains.rules.facts),
formatted with factory.domains._text so the numbers verifier reads back exactly what was
written. A step whose built-in rules a recipe disabled, and every rule a recipe added, is
written from the table (factory.domains.rules.text). No names, ids, places or protected
attributes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from factory.domains._text import money, num, pct, plural
from factory.domains.lending.policy import LendingPolicy
from factory.domains.rules import RuleTable
from factory.domains.rules.facts import fact_values
from factory.domains.rules.interpret import applicable_rules
from factory.domains.rules.text import article, fired_codes, quantity_sentences, show_gap
from factory.output import render_output

_PURPOSES = {
    "debt_consolidation": "debt consolidation",
    "home_improvement": "home improvements",
    "personal": "personal expenses",
    "medical": "medical expenses",
    "auto": "a vehicle purchase",
    "mortgage": "a home purchase",
}
_COLLATERAL = {"auto": "vehicle", "mortgage": "home"}

_OPENING = (
    "The applicant is asking for {loan} for {purpose}, repaid over {term} months at {apr} APR.",
    "This application requests {loan} for {purpose} on a {term}-month term at an APR of {apr}.",
    "Requested credit: {loan} for {purpose}, {term} months, priced at {apr} APR.",
    "We are asked to underwrite a {term}-month loan of {loan} for {purpose} at {apr} APR.",
)
_PAYMENT = (
    "Amortising {loan} over {term} months at that rate gives a level payment of {payment} a month.",
    "On standard amortisation the new monthly payment is {payment}.",
    "The level monthly instalment that repays the loan on schedule comes to {payment}.",
)
_PAYMENT_ZERO_RATE = (
    "With no interest charged, the payment is the principal spread evenly over the term: "
    "{payment} a month.",
    "At a zero rate the monthly payment is simply {loan} divided over {term} months, or {payment}.",
    "Because the APR is zero, each monthly payment is an equal share of the principal: {payment}.",
)
_DTI = (
    "Annual income of {income} is {monthly} a month. Existing debt payments of {debts} plus "
    "the new {payment} make {total} of monthly obligations, a back-end DTI of {dti}.",
    "Monthly income is {monthly} ({income} a year); adding the new {payment} to current "
    "obligations of {debts} gives {total}, so the debt-to-income ratio is {dti}.",
    "Against {monthly} of monthly income, total monthly debt would be {total} ({debts} "
    "existing plus {payment} new), which is a DTI of {dti}.",
)
_DTI_DENY = (
    "That is above the {max} maximum by {gap}, so DTI alone calls for a denial.",
    "DTI breaks the {max} ceiling by {gap}; this is a denial reason.",
    "At {dti} the ratio exceeds the policy maximum of {max} by {gap}, which requires denial.",
)
_DTI_REFER = (
    "That is within the {max} maximum but {gap} above the {refer} level for automatic "
    "approval, so DTI needs a manual review.",
    "DTI clears the {max} ceiling yet sits {gap} over the {refer} automatic-approval level, "
    "a referral reason.",
    "The ratio is above {refer} (by {gap}) but not above {max}, so DTI is a referral rather "
    "than a denial.",
)
_DTI_PASS = (
    "That is within the {refer} automatic-approval level and the {max} maximum, so DTI passes.",
    "DTI does not exceed {refer}, the level for automatic approval, so the debt load is "
    "acceptable.",
    "With DTI at or below {refer} (the maximum is {max}), affordability passes.",
)
_SCORE_DENY = (
    "The credit score of {score} is {gap} below the minimum of {min}, a denial reason.",
    "{A} {score} credit score falls short of the {min} floor by {gap}, which requires denial.",
    "Credit score {score} is under the {min} minimum ({gap} short), so the score rule denies.",
)
_SCORE_REFER = (
    "The credit score of {score} meets the {min} minimum but is {gap} short of the {refer} "
    "needed for automatic approval.",
    "{A} {score} credit score clears the {min} floor, yet it is below the {refer} "
    "automatic-approval level by {gap}, so it is a referral reason.",
    "Credit score {score} sits between the {min} minimum and the {refer} approval level "
    "({gap} below it), which calls for review.",
)
_SCORE_PASS = (
    "The credit score of {score} is at or above the {refer} automatic-approval level, so it "
    "passes.",
    "{A} {score} credit score meets the {refer} approval level (the minimum is {min}).",
    "Credit score {score} clears both the {min} minimum and the {refer} automatic-approval level.",
)
_LATE_DENY = (
    "The file shows {count} in the past two years, at or above the denial level of {deny}.",
    "With {count} in the last two years, payment history reaches the denial level of {deny}.",
    "Recent payment history is poor: {count} in two years meets the denial level of {deny}.",
)
_LATE_REFER = (
    "The file shows {count} in the past two years: below the denial level of {deny} but at "
    "or above the review level of {refer}, a referral reason.",
    "Payment history shows {count} in the last two years, which does not reach the denial "
    "level of {deny} but meets the review level of {refer}.",
    "The file has {count} in two years, which triggers review (level {refer}) but not "
    "denial (level {deny}).",
)
_LATE_MINOR = (
    "The file shows {count} in the past two years, below the review level of {refer}.",
    "Payment history has {count} in the last two years, under the review level of {refer}.",
    "With {count} in two years, late payments stay below the review level of {refer}.",
)
_LATE_NONE = (
    "There are no delinquencies in the past two years.",
    "Payment history is clean, with no late payments in the past two years.",
    "No delinquencies appear in the last two years.",
)
_BANKRUPTCY_RECENT = (
    "A bankruptcy {months} ago is inside the {lookback}-month lookback, which requires denial.",
    "The most recent bankruptcy, {months} ago, falls within the {lookback}-month lookback "
    "period, a denial reason.",
    "There is a bankruptcy only {months} old, less than the {lookback} months the policy "
    "requires, so the application must be denied.",
)
_BANKRUPTCY_OLD = (
    "A bankruptcy {months} ago is outside the {lookback}-month lookback, so it does not "
    "block the loan.",
    "The most recent bankruptcy was {months} ago, beyond the {lookback}-month lookback, so "
    "it is not held against the application.",
    "There is a bankruptcy on file, but at {months} old it is past the {lookback}-month lookback.",
)
_BANKRUPTCY_NONE = (
    "No bankruptcy is on record.",
    "There is no bankruptcy on file.",
    "The credit file has no bankruptcies.",
)
_UTILIZATION_HIGH = (
    "Revolving utilisation of {util} is above the {limit} review level, a referral reason.",
    "Card balances use {util} of available limits, more than the {limit} the policy accepts "
    "without review.",
    "At {util}, revolving utilisation exceeds the {limit} review threshold by {gap}.",
)
_UTILIZATION_OK = (
    "Revolving utilisation of {util} is within the {limit} review level.",
    "Card balances use {util} of available limits, not above the {limit} review threshold.",
    "Utilisation at {util} does not exceed the {limit} review level.",
)
_TENURE_SHORT = (
    "{years} years with the current employer is short of the {min}-year minimum for "
    "automatic approval, a referral reason.",
    "Employment tenure of {years} years is below the {min} years the policy asks for, so it "
    "needs review.",
    "The applicant has been in the current job for {years} years, less than the {min}-year "
    "minimum.",
)
_TENURE_OK = (
    "{years} years with the current employer meets the {min}-year minimum.",
    "Employment tenure of {years} years satisfies the {min}-year requirement.",
    "The applicant has held the current job for {years} years, at least the {min} years required.",
)
_LTV = (
    "The {asset} is valued at {value}, so the loan-to-value ratio is {ltv}.",
    "Against a {asset} worth {value}, the {loan} loan is an LTV of {ltv}.",
    "LTV is {loan} over a {asset} value of {value}: {ltv}.",
)
_LTI = (
    "The {loan} requested is {lti} of annual income.",
    "Loan-to-income is {lti} ({loan} against {income} a year).",
    "Relative to annual income of {income}, the loan amount is {lti}.",
)
_SIZE_DENY = (
    "That is above the {max} maximum by {gap}, a denial reason.",
    "It exceeds the {max} limit by {gap}, which requires denial.",
    "The policy caps this at {max}; being {gap} over it calls for denial.",
)
_SIZE_REFER = (
    "That is within the {max} maximum but {gap} above the {refer} review level, a referral reason.",
    "It stays under the {max} cap yet exceeds the {refer} review level by {gap}.",
    "Above {refer} (by {gap}) but not above {max}, this needs review rather than denial.",
)
_SIZE_PASS = (
    "That is within the {refer} review level, so the loan size is acceptable.",
    "It does not exceed the {refer} review level (maximum {max}).",
    "This is inside the {refer} review level, so it passes.",
)
_APPROVE = (
    "Every rule passes, so the application is approved.",
    "No rule calls for denial or review, so the loan can be approved automatically.",
    "All checks are within policy; the decision is approve.",
)
_REFER = (
    "Nothing requires a denial, but {reason} means an underwriter must review the file, so "
    "the application is referred.",
    "No denial rule is triggered; the leading concern is {reason}, so the decision is refer.",
    "The application is not denied, but it cannot be approved automatically because of "
    "{reason}; refer it for manual review.",
)
_DENY = (
    "The application is denied; the principal reason is {reason}.",
    "Because of {reason}, among the failures above, the decision is deny.",
    "At least one denial rule is triggered, led by {reason}, so the loan is declined.",
)


#: The built-in steps and the rules each is written for: a step is written by hand only while
#: the recipe keeps all of its rules (otherwise from the table, for the rules it kept).
_STEPS: dict[str, tuple[str, ...]] = {
    "affordability": ("DTI_ABOVE_MAX", "DTI_ABOVE_REFER"),
    "credit_score": ("CREDIT_SCORE_BELOW_MIN", "CREDIT_SCORE_BELOW_REFER"),
    "history": ("DELINQUENCIES_ABOVE_MAX", "RECENT_DELINQUENCY", "RECENT_BANKRUPTCY"),
    "utilization": ("HIGH_CREDIT_UTILIZATION",),
    "tenure": ("SHORT_EMPLOYMENT",),
    "loan_size": (
        "LTV_ABOVE_MAX",
        "LTV_ABOVE_REFER",
        "LOAN_TO_INCOME_ABOVE_MAX",
        "LOAN_TO_INCOME_ABOVE_REFER",
    ),
}


def write_decision_cot(row: Mapping[str, Any], policy: LendingPolicy, rng: random.Random) -> str:
    """Writes the assistant message for one labelled applicant.

    Args:
        row: the profile labelled by `decide` (as a dict).
        policy: the thresholds (and YAML extensions) it was labelled with.
        rng: seeded generator choosing the phrasings.

    Returns:
        Reasoning, decision and reasons in the format of factory.output.
    """
    from factory.domains import get_domain

    table = get_domain("lending").rule_table(policy)
    v = fact_values(table, row)
    loan, term = money(v["loan_amount"]), num(v["loan_term_months"])
    steps = [
        rng.choice(_OPENING).format(
            loan=loan,
            term=term,
            apr=pct(v["interest_rate"], 2),
            purpose=_PURPOSES.get(row["loan_purpose"], row["loan_purpose"].replace("_", " ")),
        ),
        rng.choice(_PAYMENT_ZERO_RATE if v["interest_rate"] == 0 else _PAYMENT).format(
            loan=loan, term=term, payment=money(v["monthly_payment"], cents=True)
        ),
    ]
    codes = {rule.code for rule in table.rules}
    fired: set[str] | None = None
    writers = {
        "affordability": lambda: _affordability(v, rng),
        "credit_score": lambda: _credit_score(v, rng),
        "history": lambda: _history(v, rng),
        "utilization": lambda: _utilization(v, rng),
        "tenure": lambda: _tenure(v, rng),
        "loan_size": lambda: _loan_size(row["loan_purpose"], v, rng),
    }
    for step, step_codes in _STEPS.items():
        if codes.issuperset(step_codes):
            steps.append(writers[step]())
            continue
        kept = [table.rule(c) for c in step_codes if c in codes]
        kept = [r for r in kept if r.code in _applicable(table, row)]
        if kept:
            fired = fired if fired is not None else fired_codes(table, row)
            steps.append(" ".join(quantity_sentences(table, kept, v, fired, rng)))
    added = [r for r in table.rules if r.source == "recipe" and r.code in _applicable(table, row)]
    if added:
        fired = fired if fired is not None else fired_codes(table, row)
        steps.extend(quantity_sentences(table, added, v, fired, rng))
    steps.append(_conclusion(table, row["decision"], row["reason_codes"], rng))
    return render_output(
        "\n".join(steps),
        row["decision"],
        reasons=row["reason_codes"],
        reason_texts=table.reason_texts(),
    )


def _applicable(table: RuleTable, row: Mapping[str, Any]) -> set[str]:
    return {rule.code for rule in applicable_rules(table, row)}


def _affordability(v: dict[str, float], rng: random.Random) -> str:
    dti, refer, maximum = _pcts(v["dti"], v["refer_dti"], v["max_dti"])
    computed = rng.choice(_DTI).format(
        income=money(v["annual_income"]),
        monthly=money(v["monthly_income"]),
        debts=money(v["monthly_debt_payments"], cents=True),
        payment=money(v["monthly_payment"], cents=True),
        total=money(v["total_monthly_obligations"], cents=True),
        dti=dti,
    )
    if v["dti"] > v["max_dti"]:
        outcome, gap = _DTI_DENY, v["dti_gap_to_max"]
    elif v["dti"] > v["refer_dti"]:
        outcome, gap = _DTI_REFER, v["dti_gap_to_refer"]
    else:
        outcome, gap = _DTI_PASS, 0.0
    verdict = rng.choice(outcome).format(dti=dti, refer=refer, max=maximum, gap=_gap(gap))
    return f"{computed} {verdict}"


def _credit_score(v: dict[str, float], rng: random.Random) -> str:
    score = v["credit_score"]
    if score < v["min_credit_score"]:
        phrases, gap = _SCORE_DENY, v["score_gap_to_min"]
    elif score < v["refer_credit_score"]:
        phrases, gap = _SCORE_REFER, v["score_gap_to_refer"]
    else:
        phrases, gap = _SCORE_PASS, 0
    return rng.choice(phrases).format(
        A=article(num(score)).capitalize(),
        score=num(score),
        min=num(v["min_credit_score"]),
        refer=num(v["refer_credit_score"]),
        gap=plural(gap, "point"),
    )


def _history(v: dict[str, float], rng: random.Random) -> str:
    late = v["delinquencies_2y"]
    if late >= v["deny_delinquencies_2y"]:
        phrases = _LATE_DENY
    elif late >= v["refer_delinquencies_2y"]:
        phrases = _LATE_REFER
    elif late > 0:
        phrases = _LATE_MINOR
    else:
        phrases = _LATE_NONE
    lates = rng.choice(phrases).format(
        count=plural(late, "delinquency", "delinquencies"),
        refer=num(v["refer_delinquencies_2y"]),
        deny=num(v["deny_delinquencies_2y"]),
    )
    months = v.get("months_since_bankruptcy")
    if v["bankruptcies"] <= 0 or months is None:
        return f"{lates} {rng.choice(_BANKRUPTCY_NONE)}"
    lookback = v["bankruptcy_lookback_months"]
    phrases = _BANKRUPTCY_RECENT if months < lookback else _BANKRUPTCY_OLD
    filing = rng.choice(phrases).format(months=plural(months, "month"), lookback=num(lookback))
    return f"{lates} {filing}"


def _utilization(v: dict[str, float], rng: random.Random) -> str:
    util, limit = _pcts(v["credit_utilization"], v["refer_credit_utilization"])
    high = v["credit_utilization"] > v["refer_credit_utilization"]
    return rng.choice(_UTILIZATION_HIGH if high else _UTILIZATION_OK).format(
        util=util, limit=limit, gap=_gap(v["utilization_gap"])
    )


def _tenure(v: dict[str, float], rng: random.Random) -> str:
    years, minimum = _nums(v["employment_years"], v["min_employment_years"])
    short = v["employment_years"] < v["min_employment_years"]
    return rng.choice(_TENURE_SHORT if short else _TENURE_OK).format(years=years, min=minimum)


def _loan_size(purpose: str, v: dict[str, float], rng: random.Random) -> str:
    if "ltv" in v:
        ratio, refer, maximum = _pcts(v["ltv"], v["refer_ltv"], v["max_ltv"])
        computed = rng.choice(_LTV).format(
            asset=_COLLATERAL.get(purpose, "collateral"),
            value=money(v["collateral_value"]),
            loan=money(v["loan_amount"]),
            ltv=ratio,
        )
        value, gaps = v["ltv"], (v["ltv_gap_to_max"], v["ltv_gap_to_refer"])
        limits = (v["max_ltv"], v["refer_ltv"])
    else:
        ratio, refer, maximum = _pcts(
            v["loan_to_income"], v["refer_loan_to_income"], v["max_loan_to_income"]
        )
        computed = rng.choice(_LTI).format(
            loan=money(v["loan_amount"]), income=money(v["annual_income"]), lti=ratio
        )
        value, gaps = v["loan_to_income"], (v["lti_gap_to_max"], v["lti_gap_to_refer"])
        limits = (v["max_loan_to_income"], v["refer_loan_to_income"])
    if value > limits[0]:
        outcome, gap = _SIZE_DENY, gaps[0]
    elif value > limits[1]:
        outcome, gap = _SIZE_REFER, gaps[1]
    else:
        outcome, gap = _SIZE_PASS, 0.0
    verdict = rng.choice(outcome).format(max=maximum, refer=refer, gap=_gap(gap))
    return f"{computed} {verdict}"


def _conclusion(table: RuleTable, decision: str, reasons: list[str], rng: random.Random) -> str:
    if decision == "approve" or not reasons:
        return rng.choice(_APPROVE)
    phrases = _DENY if decision == "deny" else _REFER
    return rng.choice(phrases).format(reason=table.rule(reasons[0]).noun)


def _pcts(*fractions: float) -> list[str]:
    """Percentages with one decimal, or two when one decimal would make distinct values look
    equal (43.04% against a 43.0% limit); ratios are stored to four decimals, so two is exact."""
    shown = [pct(f, 1) for f in fractions]
    digits = 2 if len(set(shown)) < len(set(fractions)) else 1
    return shown if digits == 1 else [pct(f, 2) for f in fractions]


def _nums(*values: float) -> list[str]:
    """Plain numbers with one decimal, or two when one would make distinct values look equal."""
    shown = [num(value, 1) for value in values]
    if len(set(shown)) < len(set(values)):
        return [num(value, 2) for value in values]
    return shown


def _gap(fraction: float) -> str:
    """A gap between two ratios, in percentage points (never a misleading 0.0)."""
    return show_gap(fraction, "fraction")
