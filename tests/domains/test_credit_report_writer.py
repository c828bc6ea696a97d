"""The credit-report template teacher and prompts: parseable, faithful to the engine, varied."""

from __future__ import annotations

import random
import re
from typing import Any

import jinja2
import pytest

from factory.domains import get_domain
from factory.domains.credit_report import CreditReportDistribution, CreditReportPolicy
from factory.domains.credit_report.phrases import change_line
from factory.output import parse_output

DOMAIN = get_domain("credit_report")
POLICY = CreditReportPolicy()
NUMBER = re.compile(r"\$?(\d[\d,]*(?:\.\d+)?)(%?)")
TASKS = ("summary", "qa")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    profiles = DOMAIN.synthesize(
        2_000,
        seed=11,
        shard=0,
        offset=0,
        locale="en_US",
        distribution=CreditReportDistribution(),
        policy=POLICY,
        boundary_fraction=0.4,
    )
    return DOMAIN.decide(profiles, POLICY).to_dicts()


@pytest.fixture(scope="module")
def outputs(rows) -> dict[str, list[str]]:
    return {
        task: [
            DOMAIN.tasks[task].write(row, POLICY, random.Random(i)) for i, row in enumerate(rows)
        ]
        for task in TASKS
    }


def unmatched_numbers(text: str, facts: dict) -> list[str]:
    """Numbers printed in `text` that equal no fact rounded to the digits shown."""
    missing = []
    for match in NUMBER.finditer(text):
        body, percent = match.group(1).replace(",", ""), match.group(2) == "%"
        digits = len(body.split(".")[1]) if "." in body else 0
        candidates = [f.value * 100 for f in facts.values() if f.percent]
        if not percent:
            candidates += [f.value for f in facts.values()]
        if not any(f"{abs(c):.{digits}f}" == body for c in candidates):
            missing.append(match.group(0))
    return missing


@pytest.mark.parametrize("task", TASKS)
def test_every_output_parses_and_matches_the_engine(task, rows, outputs):
    for row, text in zip(rows, outputs[task], strict=True):
        parsed = parse_output(text)
        assert parsed.ok, (parsed.errors, text)
        assert parsed.decision == row["decision"]
        assert list(parsed.reasons) == row["reason_codes"]
        assert list(parsed.reason_texts) == [DOMAIN.reason_texts[c] for c in row["reason_codes"]]
        if row["decision"] in DOMAIN.adverse_labels:
            assert parsed.reasons
        assert parsed.answer


@pytest.mark.parametrize("task", TASKS)
def test_every_printed_number_is_a_fact(task, rows, outputs):
    for row, text in zip(rows, outputs[task], strict=True):
        parsed = parse_output(text)
        facts = DOMAIN.facts(row, POLICY)
        missing = unmatched_numbers(parsed.reasoning + "\n" + (parsed.answer or ""), facts)
        assert not missing, (missing, text)


def test_the_number_check_catches_a_wrong_number(rows, outputs):
    row, text = rows[0], outputs["summary"][0]
    wrong = text.replace(f"to {row['score_after']}", f"to {row['score_after'] + 7}", 1)
    assert wrong != text
    assert unmatched_numbers(wrong, DOMAIN.facts(row, POLICY))


def test_summary_answer_lists_every_change_with_its_numbers(rows, outputs):
    for row, text in zip(rows, outputs["summary"], strict=True):
        answer = parse_output(text).answer or ""
        lists, _, paragraph = answer.partition("\n\n")
        good, _, bad = lists.partition("\nBad:\n")
        assert good.startswith("Good:\n")
        expected_good = [f"- {change_line(item)}." for item in row["good_changes"]] or ["- None"]
        expected_bad = [f"- {change_line(item)}." for item in row["bad_changes"]] or ["- None"]
        assert good.splitlines()[1:] == expected_good
        assert bad.splitlines() == expected_bad
        assert paragraph and "\n" not in paragraph
        assert not re.search(r"\bNone\b", paragraph)


def test_change_lines_state_before_after_and_change():
    line = change_line({"code": "UTILIZATION_DOWN", "before": 0.45, "after": 0.23, "delta": -0.22})
    assert line == "Credit utilization fell from 45.00% to 23.00% (down 22.00 percentage points)"
    line = change_line(
        {"code": "REVOLVING_BALANCE_UP", "before": 1200.0, "after": 2450.0, "delta": 1250.0}
    )
    assert line == "Revolving balances rose from $1,200 to $2,450 (up $1,250)"
    line = change_line({"code": "NEW_LATE_PAYMENT", "before": 0.0, "after": 2.0, "delta": 2.0})
    assert line == "Late payments rose from 0 to 2 (2 new late payments)"


def test_qa_answers_the_question_with_the_reports_actions(rows, outputs):
    for row, text in zip(rows, outputs["qa"], strict=True):
        answer = parse_output(text).answer or ""
        for code in row["actions"]:
            assert DOMAIN.action_texts[code] in answer
        if row["decision"] == "declined":
            assert "fell" in answer.splitlines()[0]
        elif row["decision"] == "improved":
            assert "rose" in answer.splitlines()[0]
        if row["question_type"] in ("why_drop", "why_rise") and row["reason_codes"]:
            assert "The main reasons:" in answer
        if "PAY_DOWN_REVOLVING" in row["actions"]:
            assert f"${row['paydown_to_target']:,.0f}" in answer


def skeleton(sentence: str) -> str:
    """The phrasing of a sentence with its numbers blanked out."""
    return re.sub(r"\$?\d[\d,]*(?:\.\d+)?%?", "#", sentence)


@pytest.mark.parametrize("task", TASKS)
def test_phrasing_varies_across_rows(task, outputs):
    steps = [parse_output(text).reasoning.splitlines() for text in outputs[task]]
    assert len({len(lines) for lines in steps}) == 1
    openings = {skeleton(lines[0].split(". ")[0]) for lines in steps}
    assert len(openings) >= 3
    for index in range(len(steps[0])):
        assert len({skeleton(lines[index]) for lines in steps}) >= 3, index


@pytest.mark.parametrize("task", TASKS)
def test_outputs_carry_no_identity_or_protected_attributes(task, rows, outputs):
    for row, text in zip(rows[:300], outputs[task][:300], strict=True):
        for value in (row["first_name"], row["last_name"], row["customer_id"]):
            assert value not in text
        assert not re.search(r"\b(female|male|married|divorced|widowed|years old)\b", text)
        assert not re.search(r"\b(age|aged) \d", text)


def test_same_row_and_seed_write_the_same_text(rows):
    for task in TASKS:
        write = DOMAIN.tasks[task].write
        assert write(rows[5], POLICY, random.Random(9)) == write(rows[5], POLICY, random.Random(9))


_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, autoescape=False
)


@pytest.mark.parametrize("task", TASKS)
def test_prompts_render_inputs_but_not_the_engine_answer(task, rows):
    spec = DOMAIN.tasks[task]
    system = _ENV.from_string((DOMAIN.prompt_dir / spec.system_template).read_text())
    user = _ENV.from_string((DOMAIN.prompt_dir / spec.user_template).read_text())
    system_text = system.render(
        policy=CreditReportPolicy(target_utilization=0.25), domain=DOMAIN, task=spec
    )
    assert "25.0%" in system_text and "<reasoning>" in system_text and "<answer>" in system_text
    for row in rows[:50]:
        text = user.render(row=row)
        assert str(row["score_before"]) in text and f"{row['utilization_after'] * 100:.2f}%" in text
        assert (row["question"] in text) == (task == "qa")
        # The question may name the trend (it is consistent with it); the engine's codes never.
        for leaked in (*row["reason_codes"], *row["actions"], "good_changes", "paydown"):
            assert leaked not in text
