"""The lending template teacher and prompts: parseable, faithful to the engine, varied."""

from __future__ import annotations

import random
import re

import polars as pl
import pytest

from factory.domains import get_domain
from factory.domains.lending import LendingDistribution, LendingPolicy
from factory.output import parse_output
from factory.pipeline.prompts import PromptBuilder

DOMAIN = get_domain("lending")
POLICY = LendingPolicy()
TASK = DOMAIN.tasks["decision_cot"]
#: A number, and whether it is a percentage (a gap between two is in percentage points).
NUMBER = re.compile(r"\$?(\d[\d,]*(?:\.\d+)?)(%| percentage points|x)?")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    profiles = DOMAIN.synthesize(
        2_000,
        seed=7,
        shard=0,
        offset=0,
        locale="en_US",
        distribution=LendingDistribution(zero_apr_share=0.3),
        policy=POLICY,
        boundary_fraction=0.4,
    )
    return DOMAIN.decide(profiles, POLICY).to_dicts()


@pytest.fixture(scope="module")
def outputs(rows) -> list[str]:
    rng = random.Random(0)
    return [TASK.write(row, POLICY, rng) for row in rows]


def unmatched_numbers(text: str, facts: dict) -> list[str]:
    """Numbers printed in `text` that equal no fact rounded to the digits shown."""
    missing = []
    for match in NUMBER.finditer(text):
        body = match.group(1).replace(",", "")
        percent = match.group(2) in ("%", " percentage points")
        digits = len(body.split(".")[1]) if "." in body else 0
        candidates = (
            [f.value * 100 for f in facts.values() if f.percent]
            if percent
            else [f.value for f in facts.values()]
        )
        if not any(f"{c:.{digits}f}" == body for c in candidates):
            missing.append(match.group(0))
    return missing


def test_every_output_parses_and_matches_the_engine(rows, outputs):
    for row, text in zip(rows, outputs, strict=True):
        parsed = parse_output(text)
        assert parsed.ok, (parsed.errors, text)
        assert parsed.decision == row["decision"]
        assert list(parsed.reasons) == row["reason_codes"]
        assert list(parsed.reason_texts) == [DOMAIN.reason_texts[c] for c in row["reason_codes"]]
        assert parsed.answer is None


def test_every_printed_number_is_a_fact(rows, outputs):
    for row, text in zip(rows, outputs, strict=True):
        facts = DOMAIN.facts(row, POLICY)
        assert unmatched_numbers(text, facts) == [], text


def test_the_number_check_catches_an_invented_number(rows, outputs):
    facts = DOMAIN.facts(rows[0], POLICY)
    assert unmatched_numbers(outputs[0] + " A DTI of 99.97% here.", facts) == ["99.97%"]


# Stand-ins no real value could contain, so a leak of any identity column is unambiguous.
SENTINELS = {
    "first_name": "Qzfirst",
    "last_name": "Qzlast",
    "employer": "Qzemployer",
    "job_title": "Qzjob",
    "city": "Qzcity",
    "state": "QZ",
    "sex": "qzsex",
    "age": 987,
    "age_band": "qzband",
    "marital_status": "qzmarital",
    "applicant_id": 9_876_543,
}


def test_reasoning_never_leaks_identity_or_protected_attributes(rows):
    rng = random.Random(3)
    for row in rows[:500]:
        text = TASK.write({**row, **SENTINELS}, POLICY, rng)
        assert "Qz" not in text and "qz" not in text
        assert not re.search(r"(?<![\d,.$])987(?![\d,.])|9,?876,?543", text)
        words = set(re.findall(r"[a-z]+", text.lower()))
        assert not words & {"male", "female", "married", "single", "divorced", "widowed", "age"}


def test_reasoning_covers_every_rule_and_cases_of_each_outcome(rows, outputs):
    decisions = {row["decision"] for row in rows}
    assert decisions == set(DOMAIN.labels)
    for row, text in zip(rows, outputs, strict=True):
        reasoning = parse_output(text).reasoning
        assert len(reasoning.splitlines()) == 9
        assert "DTI" in reasoning or "debt-to-income" in reasoning
        assert "credit score" in reasoning.lower()
        assert ("LTV" in reasoning or "loan-to-value" in reasoning) == (row["ltv"] is not None)


def test_zero_rate_loans_are_explained_as_interest_free(rows, outputs):
    zero = [t for r, t in zip(rows, outputs, strict=True) if r["interest_rate"] == 0]
    assert zero
    cues = ("no interest", "zero rate", "APR is zero")
    assert all(any(cue in t for cue in cues) for t in zero)


def test_phrasings_vary_across_rows(outputs):
    openings = {
        re.sub(r"[\d$,.%]+", "#", parse_output(t).reasoning.splitlines()[0]) for t in outputs
    }
    assert len(openings) >= 3
    conclusions = {parse_output(t).reasoning.splitlines()[-1] for t in outputs}
    assert len(conclusions) >= 9


def test_same_seed_same_text_and_other_seeds_vary(rows):
    row = rows[0]
    first = TASK.write(row, POLICY, random.Random(1))
    assert first == TASK.write(row, POLICY, random.Random(1))
    assert len({TASK.write(row, POLICY, random.Random(s)) for s in range(20)}) > 1


def test_a_value_one_basis_point_over_its_limit_is_not_printed_equal_to_it():
    frame = pl.DataFrame(
        {
            "annual_income": [120_000.0],
            "monthly_debt_payments": [4_101.0],
            "loan_amount": [12_000.0],
            "loan_term_months": [60],
            "interest_rate": [0.0],
            "credit_score": [750],
            "employment_years": [5.0],
            "credit_utilization": [0.2],
            "delinquencies_2y": [0],
            "bankruptcies": [0],
            "months_since_bankruptcy": pl.Series([None], dtype=pl.Int64),
            "loan_purpose": ["personal"],
            "collateral_value": pl.Series([None], dtype=pl.Float64),
        }
    )
    row = DOMAIN.decide(frame, POLICY).row(0, named=True)
    text = TASK.write(row, POLICY, random.Random(0))
    assert row["decision"] == "deny"
    assert "43.01%" in text and "43.00%" in text and "0.01 percentage points" in text


def test_system_prompt_states_thresholds_codes_and_format():
    policy = LendingPolicy(max_dti=0.45, min_credit_score=600)
    text = PromptBuilder(DOMAIN, TASK, policy).system
    assert "45.0%" in text and "600" in text
    assert DOMAIN.policy_version(policy) in text
    for code, reason in DOMAIN.reason_texts.items():
        assert f"- {code}: {reason}" in text
    for tag in ("<reasoning>", "</reasoning>", "<decision>", "<reasons>"):
        assert tag in text


def test_user_prompt_shows_inputs_but_not_answers_or_protected_attributes(rows):
    prompts = PromptBuilder(DOMAIN, TASK, POLICY)
    for row in rows[:200]:
        text = prompts.user({**row, **SENTINELS})
        assert f"{row['credit_score']}" in text
        assert f"${row['annual_income']:,.0f}" in text
        assert f"{row['interest_rate'] * 100:.2f}%" in text
        assert ("Collateral value" in text) == (row["collateral_value"] is not None)
        assert "\n\n\n" not in text and "%-" not in text
        for code in DOMAIN.reason_texts:
            assert code not in text
        lowered = text.lower()
        for hidden in ("approve", "refer", "deny", "dti", "monthly payment", "qzf", "qzl", "qzc"):
            assert hidden not in lowered
        assert "qzs" not in lowered and "qzb" not in lowered and "qzm" not in lowered
        assert not re.search(r"(?<![\d,.$])987(?![\d,.])|9,?876,?543", text)
        assert "QZ" not in text
        assert "Qzjob" in text and "Qzemployer" in text
