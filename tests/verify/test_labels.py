"""The decision and reasons verifiers accept exactly the engine's labels."""

from __future__ import annotations

import pytest

from factory.output import parse_output, render_output
from factory.verify.labels import check_decision, check_reasons

KNOWN = {"DTI_ABOVE_MAX", "SCORE_BELOW_MIN", "EMPLOYMENT_SHORT", "LTV_ABOVE_MAX"}


def stated(decision: str = "deny", reasons: tuple[str, ...] = ()):
    return parse_output(render_output("The numbers are as follows.", decision, reasons))


def test_the_engines_decision_passes_in_any_case():
    assert check_decision(stated("deny"), "deny") is None
    assert check_decision(stated("DENY"), "deny") is None
    assert check_decision(stated("deny"), "Deny") is None


def test_a_flipped_decision_fails_naming_both():
    assert check_decision(stated("approve"), "deny") == "stated approve, engine deny"


def test_a_missing_decision_fails():
    parsed = parse_output("<reasoning>Only reasoning.</reasoning>")
    assert check_decision(parsed, "deny") == "no decision stated, engine deny"


def test_the_engines_reasons_pass_with_the_principal_reason_first():
    engine = ["DTI_ABOVE_MAX", "SCORE_BELOW_MIN", "EMPLOYMENT_SHORT"]
    assert check_reasons(stated(reasons=tuple(engine)), engine, KNOWN) is None
    shuffled = ("DTI_ABOVE_MAX", "EMPLOYMENT_SHORT", "SCORE_BELOW_MIN")
    assert check_reasons(stated(reasons=shuffled), engine, KNOWN) is None


def test_a_missing_reason_fails():
    engine = ["DTI_ABOVE_MAX", "SCORE_BELOW_MIN"]
    detail = check_reasons(stated(reasons=("DTI_ABOVE_MAX",)), engine, KNOWN)
    assert detail == "missing SCORE_BELOW_MIN"


def test_an_extra_reason_fails():
    engine = ["DTI_ABOVE_MAX"]
    detail = check_reasons(stated(reasons=("DTI_ABOVE_MAX", "LTV_ABOVE_MAX")), engine, KNOWN)
    assert detail == "extra LTV_ABOVE_MAX"


def test_a_wrong_principal_reason_fails():
    engine = ["DTI_ABOVE_MAX", "SCORE_BELOW_MIN"]
    detail = check_reasons(stated(reasons=("SCORE_BELOW_MIN", "DTI_ABOVE_MAX")), engine, KNOWN)
    assert detail == "first reason SCORE_BELOW_MIN, engine's principal reason DTI_ABOVE_MAX"


def test_no_reasons_block_when_the_engine_names_none():
    assert check_reasons(stated("approve"), [], KNOWN) is None
    assert check_reasons(stated("approve"), None, KNOWN) is None


def test_reasons_named_when_the_engine_names_none_fail():
    detail = check_reasons(stated("approve", ("DTI_ABOVE_MAX",)), [], KNOWN)
    assert detail == "named DTI_ABOVE_MAX, engine names no reason"


def test_an_adverse_decision_without_reasons_fails():
    detail = check_reasons(stated("deny"), ["DTI_ABOVE_MAX"], KNOWN)
    assert detail == "no reasons named, engine names DTI_ABOVE_MAX"


def test_unknown_codes_fail_with_their_names():
    detail = check_reasons(stated(reasons=("DTI_ABOVE_MAX", "MADE_UP")), ["DTI_ABOVE_MAX"], KNOWN)
    assert detail == "unknown reason code MADE_UP"


def test_a_code_named_twice_fails():
    engine = ["DTI_ABOVE_MAX"]
    detail = check_reasons(stated(reasons=("DTI_ABOVE_MAX", "DTI_ABOVE_MAX")), engine, KNOWN)
    assert detail == "reason DTI_ABOVE_MAX named more than once"


@pytest.mark.parametrize("engine", [("DTI_ABOVE_MAX",), ["DTI_ABOVE_MAX"]])
def test_engine_codes_may_be_any_sequence(engine):
    assert check_reasons(stated(reasons=("DTI_ABOVE_MAX",)), engine, KNOWN) is None
