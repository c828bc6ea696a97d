"""Claim-level verification against the lending rule table: each kind of claim, true and false."""

from __future__ import annotations

import pytest

from factory.domains.lending import DOMAIN, LendingPolicy
from factory.output import parse_output, render_output
from factory.verify import verify_example
from factory.verify.claims import check_claims

POLICY = LendingPolicy()
TABLE = DOMAIN.rule_table(POLICY)
TEXTS = TABLE.reason_texts()

#: A denied applicant: DTI 51.5% (max 43%), score 655 (refer level 680), no bankruptcy.
ROW = {
    "applicant_id": "APP-000042",
    "first_name": "Maribel",
    "last_name": "Okafor",
    "employer": "Acme Logistics",
    "job_title": "Dispatcher",
    "city": "Springfield",
    "annual_income": 60_000.0,
    "monthly_income": 5_000.0,
    "monthly_debt_payments": 2_200.0,
    "monthly_payment": 375.0,
    "total_monthly_obligations": 2_575.0,
    "loan_amount": 15_000.0,
    "loan_term_months": 48,
    "interest_rate": 0.09,
    "credit_score": 655,
    "employment_years": 6.5,
    "credit_utilization": 0.35,
    "delinquencies_2y": 0,
    "bankruptcies": 0,
    "months_since_bankruptcy": None,
    "loan_purpose": "personal",
    "collateral_value": None,
    "dti": 0.515,
    "ltv": None,
    "loan_to_income": 0.25,
    "decision": "deny",
    "reason_codes": ["DTI_ABOVE_MAX", "CREDIT_SCORE_BELOW_REFER"],
}
PROMPT = "Loan application\n- Employer: Acme Logistics\n- Job title: Dispatcher"
REASONS = ("DTI_ABOVE_MAX", "CREDIT_SCORE_BELOW_REFER")


def failures(reasoning: str, decision: str = "deny", texts: dict[str, str] | None = None):
    text = render_output(reasoning, decision, REASONS, texts or TEXTS)
    return check_claims(parse_output(text), table=TABLE, row=ROW, decision="deny", prompt=PROMPT)


def kinds(reasoning: str, **kwargs) -> list[str]:
    return [f.kind for f in failures(reasoning, **kwargs)]


CORRECT = (
    "The debt-to-income ratio is 51.5%, above the 43.0% maximum by 8.5 percentage points.",
    "DTI of 51.5% exceeds the maximum of 43.0%, so DTI alone calls for a denial.",
    "At 51.5 percent, the back-end DTI breaks the 43% ceiling.",
    "DTI (0.515) is not below the 43.0% maximum.",
    "A 655 credit score clears the 620 floor but is 25 points short of the 680 approval level.",
    "The credit score of 655 is below the automatic-approval level of 680.",
    "There is no bankruptcy on file, and there are no late payments in the past two years.",
    "Utilisation of 35.0% is within the 80.0% review level.",
    "Employment tenure of 6.5 years satisfies the 2.0-year minimum.",
    "Nothing here calls for an approval; the application is denied.",
    "Because of the debt-to-income ratio above the maximum, the decision is deny.",
    "Age, sex and marital status play no part in this decision.",
    "The applicant works as a Dispatcher at Acme Logistics.",
    "Let me work through each check in turn before deciding whether to approve.",
    "Amortising $15,000 over 48 months at that rate gives a level payment of $375.00 a month.",
    "The credit score of 655 is below the approval level, which alone would mean a referral.",
)


@pytest.mark.parametrize("sentence", CORRECT)
def test_true_claims_pass(sentence):
    assert failures(sentence) == []


WRONG = (
    # a number moved onto the wrong quantity
    ("The debt-to-income ratio is 43.0%, above the limit.", "number"),
    ("DTI is 51.5%, above the 51.5% maximum.", "number"),
    ("A 620 credit score clears the floor.", "number"),
    # comparisons turned around, and margins
    ("The debt-to-income ratio is 51.5%. That is below the 43.0% maximum.", "comparison"),
    ("DTI of 51.5% is within the 43.0% maximum.", "comparison"),
    ("The credit score of 655 meets the 680 approval level.", "comparison"),
    ("DTI of 51.5% exceeds the 43.0% maximum by 3.1 percentage points.", "comparison"),
    ("The credit score of 655 misses the 620 floor.", "comparison"),
    ("The credit score is above the approval level.", "comparison"),
    ("A level payment of $2,575 a month.", "number"),
    # conclusions
    ("Every rule passes, so the application is approved.", "conclusion"),
    ("Overall, the decision is refer.", "conclusion"),
    # categorical facts
    ("There is a bankruptcy on file.", "categorical"),
    ("The file shows a recent late payment.", "categorical"),
    # fair reasoning and identifying details
    ("Given the applicant's age, the risk is higher.", "fairness"),
    ("As a single mother, the applicant carries more risk.", "fairness"),
    ("Because the applicant is married, income is steadier.", "fairness"),
    ("Maribel Okafor is asking for a loan.", "identity"),
    ("The file of APP-000042 follows.", "identity"),
)


@pytest.mark.parametrize(("sentence", "kind"), WRONG)
def test_false_claims_fail_with_their_kind(sentence, kind):
    found = failures(sentence)
    assert [f.kind for f in found][:1] == [kind], found
    assert found[0].sentence and found[0].claim


def test_a_reason_line_with_another_codes_text_fails():
    texts = dict(TEXTS)
    texts["DTI_ABOVE_MAX"] = TEXTS["SHORT_EMPLOYMENT"]
    found = failures("DTI of 51.5% is above the 43.0% maximum.", texts=texts)
    assert [f.kind for f in found] == ["reasons"]
    assert "DTI_ABOVE_MAX" in found[0].sentence


def test_a_young_account_is_not_a_protected_basis():
    assert kinds("The loan is 60 months old at most; a young account is no concern.") == []


def test_verify_example_names_the_claim_verifier_and_the_sentence():
    text = render_output("DTI of 51.5% is below the 43.0% maximum.", "deny", REASONS, TEXTS)
    verdict = verify_example(
        text,
        decision="deny",
        reason_codes=list(REASONS),
        known_codes=TEXTS,
        facts=DOMAIN.facts(ROW, POLICY),
        checks=("format", "decision", "reasons", "claims"),
        table=TABLE,
        row=ROW,
        prompt=PROMPT,
    )
    assert verdict.reason == "claims.comparison"
    assert "DTI of 51.5% is below the 43.0% maximum" in verdict.detail
    assert "51.50%" in verdict.detail


def test_claims_need_the_table_and_the_row():
    with pytest.raises(ValueError, match="rule table"):
        verify_example(
            render_output("x", "deny", REASONS, TEXTS),
            decision="deny",
            reason_codes=list(REASONS),
            known_codes=TEXTS,
            facts={},
            checks=("claims",),
        )


def test_sentence_plans_are_reused_across_cases_with_other_numbers():
    first = failures("The debt-to-income ratio is 51.5%.")
    second = failures("The debt-to-income ratio is 47.2%.")
    assert first == [] and [f.kind for f in second] == ["number"]


@pytest.mark.parametrize(
    ("sentence", "kept"),
    [
        ("The most recent bankruptcy was 60 months ago, beyond the 48-month lookback.", True),
        ("The bankruptcy was 60 months ago.", True),
        # "bankruptcy" names a count; "N months ago" is the age its label names.
        ("The bankruptcy was 3 months ago.", False),
        ("The most recent bankruptcy was 3 months ago, beyond the 48-month lookback.", False),
        ("One bankruptcy, 60 months ago, outside the 48-month lookback.", True),
        ("One bankruptcy, 3 months ago, outside the 48-month lookback.", False),
    ],
)
def test_an_age_is_read_as_the_quantity_whose_label_names_it(sentence, kept):
    row = dict(ROW, bankruptcies=1, months_since_bankruptcy=60)
    text = f"<reasoning>\n{sentence}\n</reasoning>\n<decision>deny</decision>"
    found = check_claims(parse_output(text), table=TABLE, row=row, decision="deny", prompt=PROMPT)
    assert (found == []) is kept, found


def test_a_line_heading_that_is_also_the_surname_is_no_identity():
    row = dict(ROW, last_name="Good")
    text = render_output("{}", "deny", REASONS, TEXTS)

    def kinds(reasoning: str) -> list[str]:
        parsed = parse_output(text.replace("{}", reasoning))
        found = check_claims(parsed, table=TABLE, row=row, decision="deny", prompt=PROMPT)
        return [f.kind for f in found]

    assert kinds("Good: no late payments in the past two years.") == []
    assert kinds("- Good: no late payments in the past two years.") == []
    assert kinds("Ms. Good has no late payments in the past two years.") == ["identity"]
    assert kinds("Good has no late payments; Good: is not a heading here.") == ["identity"]
