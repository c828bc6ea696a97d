"""Verifiers: pure checks of a generated example against the policy engine that labelled it.

Per example, in VERIFIER_ORDER (the first failure names the rejection):
    format    the output parses (factory.output.parse_output);
    decision  the stated decision equals the engine's (labels.check_decision);
    reasons   the principal reasons named are the engine's (labels.check_reasons);
    pii       no SSN, card, bank account, email or phone in the assistant text (pii.find_pii);
              before numbers, so a planted card number is named as PII, not as a wrong number;
    numbers   every number cited in <reasoning> and <answer> matches a fact within the stated
              tolerance (numbers.check_numbers; the rule is in that module's docstring);
    claims    every claim of the explanation holds for its case, read against the domain's rule
              table (factory.verify.claims): bound numbers, comparisons, the conclusion,
              categorical facts, reason texts, fair reasoning; rejections are named
              claims.<kind> (claims.comparison, ...) and say the sentence and the claim;
    grounding an answer about documents says only what its cited passage says, and abstains
              only when the documents are silent (grounding.check_grounding); runs for rows
              whose domain gives a Grounding;
    length    the example fits max_seq_length tokens (length.TokenCounter counts them).
Over the whole dataset, separately: dedup (exact and near duplicates, dedup.duplicate_mask).

The distilabel steps in factory/pipeline/, evaluation and the publish gates all call these
functions; none of them does I/O or knows a domain's columns.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from factory.domains._documents import Grounding
from factory.output import parse_output
from factory.recipe import DATASET_VERIFIERS, VERIFIER_ORDER
from factory.verify.claims import check_claims
from factory.verify.grounding import check_grounding
from factory.verify.labels import check_decision, check_reasons
from factory.verify.length import check_length
from factory.verify.numbers import FactTable, _cited, _read
from factory.verify.pii import find_pii

# The verifier names (per example, in the order they run, then dataset-wide) belong to the
# recipe schema, which lists them for `filters.verifiers`: factory.recipe.
_CHECKS = frozenset(VERIFIER_ORDER + DATASET_VERIFIERS)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of verifying one example.

    Attributes:
        ok: True when every selected verifier passed.
        reason: the first failing verifier's name (from VERIFIER_ORDER), None when ok.
        detail: what failed, for a person reading rejects.parquet ("" when ok).
    """

    ok: bool
    reason: str | None = None
    detail: str = ""


PASSED = Verdict(ok=True)


def verifier_of(reason: str) -> str:
    """The verifier a verdict's reason belongs to ("claims.comparison" -> "claims")."""
    return reason.split(".", 1)[0]


def verify_example(
    output: str,
    *,
    decision: str,
    reason_codes: Sequence[str] | None,
    known_codes: Collection[str],
    facts: Mapping[str, tuple[Any, bool]],
    checks: Collection[str] = VERIFIER_ORDER,
    number_tolerance: float = 0.005,
    token_count: int | None = None,
    max_tokens: int | None = None,
    table: Any = None,
    row: Mapping[str, Any] | None = None,
    prompt: str | None = None,
    grounding: Grounding | None = None,
) -> Verdict:
    """Runs the selected verifiers on one assistant message; the first failure decides.

    When "format" is selected and the output does not parse, nothing else runs. When it is
    not selected, the other verifiers read whatever `parse_output` could recover (a missing
    <decision> then fails "decision").

    Args:
        output: the assistant message, raw.
        decision: the engine's decision.
        reason_codes: the engine's principal reason codes, most important first.
        known_codes: every reason code of the domain.
        facts: the numbers the explanation may cite (Domain.facts of the row, or the
            plain (value, percent) pairs of Domain.fact_pairs).
        checks: the verifiers to run (names from VERIFIER_ORDER; "dedup" is accepted and
            ignored here because it runs over the whole dataset).
        number_tolerance: relative tolerance of the numbers verifier.
        token_count: tokens of the whole example (system, user and assistant messages); needed
            by "length".
        max_tokens: the recipe's max_seq_length; needed by "length".
        table: the domain's rule table for the recipe's policy (Domain.rule_table); needed by
            "claims".
        row: the labelled row; needed by "claims".
        prompt: the user message; lets "claims" tell the details the prompt showed from those
            it did not (without it, details are not checked).
        grounding: the passages an answer about documents is checked against; "grounding"
            checks nothing without one.

    Returns:
        The verdict: ok, or the failing verifier's name (claims.<kind> for a claim) and a
        detail.

    Raises:
        ValueError: for an unknown check name, "length" without token_count and max_tokens, or
            "claims" without table and row.
    """
    if not _CHECKS.issuperset(checks):
        unknown = set(checks) - _CHECKS
        raise ValueError(f"unknown verifier {sorted(unknown)}; choose from {VERIFIER_ORDER}")
    parsed = parse_output(output)
    if "format" in checks and not parsed.ok:
        return Verdict(False, "format", "; ".join(parsed.errors))
    if "decision" in checks:
        detail = check_decision(parsed, decision)
        if detail:
            return Verdict(False, "decision", detail)
    if "reasons" in checks:
        detail = check_reasons(parsed, reason_codes, known_codes)
        if detail:
            return Verdict(False, "reasons", detail)
    if "pii" in checks:
        hits = find_pii(output)
        if hits:
            kinds = ", ".join(dict.fromkeys(hit.kind for hit in hits))
            return Verdict(False, "pii", f"found {kinds} in the assistant text")
    text = parsed.reasoning if parsed.answer is None else f"{parsed.reasoning}\n{parsed.answer}"
    cited = _read(text) if "numbers" in checks or "claims" in checks else []
    if "numbers" in checks:
        detail = _check_numbers(text, cited, facts, number_tolerance)
        if detail:
            return Verdict(False, "numbers", detail)
    if "claims" in checks:
        if table is None or row is None:
            raise ValueError("the claims verifier needs the rule table and the row")
        failures = check_claims(
            parsed,
            table=table,
            row=row,
            decision=decision.strip().lower(),
            prompt=prompt,
            tolerance=number_tolerance,
            numbers=cited,
        )
        if failures:
            first = failures[0]
            return Verdict(False, f"claims.{first.kind}", f'{first.claim}: "{first.sentence}"')
    if "grounding" in checks and grounding is not None:
        detail = check_grounding(parsed, grounding)
        if detail:
            return Verdict(False, "grounding", detail)
    if "length" in checks:
        if token_count is None or max_tokens is None:
            raise ValueError("the length verifier needs token_count and max_tokens")
        detail = check_length(token_count, max_tokens)
        if detail:
            return Verdict(False, "length", detail)
    return PASSED


def _check_numbers(
    text: str,
    cited: list[Any],
    facts: Mapping[str, tuple[Any, bool]],
    tolerance: float,
) -> str | None:
    missed = FactTable(facts.values())._misses(cited, tolerance) if cited else []
    wrong = [_cited(text, fields).text for fields in missed]
    if not wrong:
        return None
    verb = "matches" if len(wrong) == 1 else "match"
    return f"cited {', '.join(wrong)} {verb} no fact"


__all__ = [
    "DATASET_VERIFIERS",
    "PASSED",
    "VERIFIER_ORDER",
    "Verdict",
    "verifier_of",
    "verify_example",
]
