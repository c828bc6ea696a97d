"""verify_example runs the verifiers in order and names the first that fails."""

from __future__ import annotations

import pytest

from factory.domains._text import money, num, pct
from factory.domains.base import Fact
from factory.output import render_output
from factory.verify import VERIFIER_ORDER, Verdict, verify_example

FACTS = {
    "income": Fact(84_312.0),
    "debt": Fact(2_450.0),
    "dti": Fact(0.3487, percent=True),
    "dti_max": Fact(0.43, percent=True),
    "score": Fact(712),
    "score_min": Fact(720),
    "term": Fact(36),
}
KNOWN = {"SCORE_BELOW_MIN", "DTI_ABOVE_MAX"}
TEXTS = {"SCORE_BELOW_MIN": "Credit score below our minimum"}


def reasoning(dti: float = 0.3487, extra: str = "") -> str:
    return (
        f"Annual income is {money(84_312)} with monthly debts of {money(2_450)}, so the "
        f"debt-to-income ratio is {pct(dti)}, under the {pct(0.43)} limit. The credit score of "
        f"{num(712)} is below the minimum of {num(720)} for a {num(36)}-month loan.{extra}"
    )


def output(
    decision: str = "deny",
    reasons: tuple[str, ...] = ("SCORE_BELOW_MIN",),
    text: str | None = None,
    answer: str | None = None,
) -> str:
    return render_output(text or reasoning(), decision, reasons, TEXTS, answer)


def verify(generation: str, **overrides) -> Verdict:
    arguments = {
        "decision": "deny",
        "reason_codes": ["SCORE_BELOW_MIN"],
        "known_codes": KNOWN,
        "facts": FACTS,
        # claims reads a rule table and its row; tests/verify/test_claims.py covers it.
        "checks": tuple(v for v in VERIFIER_ORDER if v != "claims"),
        "number_tolerance": 0.005,
        "token_count": 300,
        "max_tokens": 2048,
    }
    arguments.update(overrides)
    return verify_example(generation, **arguments)


def test_a_faithful_example_passes():
    assert verify(output()) == Verdict(ok=True, reason=None, detail="")


def test_unparseable_output_fails_format_and_nothing_else_runs():
    verdict = verify("deny, because the score is 999")
    assert (verdict.ok, verdict.reason) == (False, "format")
    assert "missing <reasoning>" in verdict.detail


def test_a_flipped_decision_fails_decision():
    assert verify(output(decision="approve", reasons=())) == Verdict(
        False, "decision", "stated approve, engine deny"
    )


def test_a_missing_reason_fails_reasons():
    verdict = verify(output(reasons=()))
    assert (verdict.reason, verdict.detail) == (
        "reasons",
        "no reasons named, engine names SCORE_BELOW_MIN",
    )


def test_an_extra_reason_fails_reasons():
    verdict = verify(output(reasons=("SCORE_BELOW_MIN", "DTI_ABOVE_MAX")))
    assert (verdict.reason, verdict.detail) == ("reasons", "extra DTI_ABOVE_MAX")


def test_a_wrong_dti_fails_numbers_naming_the_number():
    verdict = verify(output(text=reasoning(dti=0.44)))
    assert verdict == Verdict(False, "numbers", "cited 44.0% matches no fact")


def test_numbers_in_the_answer_are_checked_too():
    verdict = verify(output(answer=f"Your score is {num(712)}; we need {num(750)}."))
    assert verdict == Verdict(False, "numbers", "cited 750 matches no fact")


def test_numbers_in_the_reasons_block_are_not_checked():
    texts = {"SCORE_BELOW_MIN": "Credit score below 750"}
    generation = render_output(reasoning(), "deny", ["SCORE_BELOW_MIN"], texts)
    assert verify(generation).ok


def test_a_planted_card_number_fails_pii_without_echoing_it():
    generation = output(text=reasoning(extra=" Card 4111 1111 1111 1111 is on file."))
    verdict = verify(generation)
    # pii runs before numbers, so the card is named as what it is, not as a wrong number.
    assert (verdict.reason, verdict.detail) == ("pii", "found card in the assistant text")
    no_pii = set(VERIFIER_ORDER) - {"pii", "claims"}
    assert verify(generation, checks=no_pii).reason == "numbers"  # its digits match no fact


def test_a_planted_email_fails_pii():
    verdict = verify(output(text=reasoning(extra=" Write to jane.doe@example.com.")))
    assert (verdict.reason, verdict.detail) == ("pii", "found email in the assistant text")


def test_a_long_example_fails_length():
    verdict = verify(output(), token_count=2049)
    assert verdict == Verdict(False, "length", "2,049 tokens, max_seq_length 2,048")


def test_the_first_failing_verifier_in_order_names_the_rejection():
    # Wrong decision, missing reason and a wrong number at once: decision comes first.
    generation = output(decision="approve", reasons=(), text=reasoning(dti=0.44))
    assert verify(generation).reason == "decision"
    assert verify(generation, checks={"reasons", "numbers"}).reason == "reasons"
    assert verify(generation, checks={"numbers"}).reason == "numbers"


def test_unselected_verifiers_do_not_run():
    generation = output(text=reasoning(dti=0.44, extra=" Mail jane@example.com."))
    assert verify(generation, checks=("format", "decision", "reasons")).ok


def test_without_format_the_other_checks_read_what_parses():
    verdict = verify("<reasoning>Score 712.</reasoning>", checks={"decision"})
    assert (verdict.reason, verdict.detail) == ("decision", "no decision stated, engine deny")


def test_dedup_is_accepted_and_left_to_the_dataset_pass():
    assert verify(output(), checks=(*(v for v in VERIFIER_ORDER if v != "claims"), "dedup")).ok


def test_an_unknown_check_is_an_error():
    with pytest.raises(ValueError, match="unknown verifier"):
        verify(output(), checks={"spelling"})


def test_length_needs_the_token_count():
    with pytest.raises(ValueError, match="token_count and max_tokens"):
        verify(output(), token_count=None)


def test_an_approval_needs_no_reasons_block():
    generation = render_output(reasoning(), "approve")
    assert verify(generation, decision="approve", reason_codes=[]).ok
