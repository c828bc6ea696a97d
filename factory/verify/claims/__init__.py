"""Claim-level verification: every sentence of an explanation is true of its case.

An explanation is read as claims about the quantities of the domain's rule table
(factory.domains.rules), each checked against the row the engine labelled:

    claims.number       a number bound to a quantity's name is its value (or, next to a limit's
                        name, the threshold of a rule on it), in the quantity's unit;
    claims.comparison   "above / below / within / meets / clears / short of" and their
                        negations hold, and a stated margin is the real distance;
    claims.conclusion   decision words asserted about the case are the engine's decision, and
                        said of a quantity, the tier of a rule on it that fires;
    claims.categorical  present / absent words (a bankruptcy, a new device) agree with the case;
    claims.reasons      each <reasons> line's text is the engine's adverse-action text;
    claims.fairness     no protected basis under ECOA/Reg B (sex, age, marital status, race,
                        colour, religion, national origin, public assistance, and their everyday
                        words) appears as a factor;
    claims.identity     no detail of the subject's profile that the prompt did not show (a
                        name above all) appears at all.

How each is read is in factory.verify.claims.checks; the words come from the table
(labels, aliases, present/absent words, decision words) and factory.verify.claims.lexicon.
Numbers bound to no quantity are the numbers verifier's (factory.verify.numbers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from factory.output import ParsedOutput
from factory.verify.claims.checks import ClaimFailure, read_claims
from factory.verify.claims.identity import identifying_details
from factory.verify.claims.vocab import Vocabulary

#: The kinds of claim, in the order a rejection reports them; `claims.<kind>` names the verifier.
CLAIM_KINDS = (
    "number",
    "comparison",
    "conclusion",
    "categorical",
    "reasons",
    "fairness",
    "identity",
)

_SPACE = re.compile(r"\s+")


def check_claims(
    parsed: ParsedOutput,
    *,
    table: Any,
    row: Mapping[str, Any],
    decision: str,
    prompt: str | None = None,
    tolerance: float = 0.005,
    numbers: list[Any] | None = None,
) -> list[ClaimFailure]:
    """Every claim of one explanation that does not hold for its case.

    Args:
        parsed: the parsed assistant message.
        table: the domain's RuleTable for the recipe's policy (Domain.rule_table).
        row: the labelled row (inputs and the engine's derived columns).
        decision: the engine's decision.
        prompt: the user message the model saw; without it the identity check is skipped.
        tolerance: relative tolerance of a cited value (the recipe's number_tolerance).
        numbers: the text's numbers as `factory.verify.numbers.read_numbers` gives them, when
            the caller has read them already (the text is reasoning, a line end, answer).

    Returns:
        The failing claims: text claims in text order, then reasons, then identity.
    """
    vocab = Vocabulary.of(table)
    values = vocab.values(row)
    text = parsed.reasoning if parsed.answer is None else f"{parsed.reasoning}\n{parsed.answer}"
    fired: list[set[str]] = []

    def fires(rule: Any) -> bool | None:
        if not fired:
            fired.append(_fired_codes(table, values))
        return rule.code in fired[0]

    failures = read_claims(
        text, vocab, values, decision, tolerance=tolerance, fires=fires, numbers=numbers
    )
    failures += _reason_texts(parsed, table)
    if prompt is not None:
        for column, value in identifying_details(text, row, prompt):
            failures.append(
                ClaimFailure(
                    "identity",
                    _sentence_with(text, value),
                    f"names {value!r} (the profile's {column}), which the prompt does not show",
                )
            )
    return failures


def _fired_codes(table: Any, values: Mapping[str, Any]) -> set[str]:
    from factory.domains.rules.engine import compiled
    from factory.domains.rules.interpret import fired_rules

    return {rule.code for rule in fired_rules(compiled(table), values)}


def _reason_texts(parsed: ParsedOutput, table: Any) -> list[ClaimFailure]:
    texts = table.reason_texts()
    failures = []
    for code, stated in zip(parsed.reasons, parsed.reason_texts, strict=True):
        expected = texts.get(code)
        if expected is None:
            continue  # an unknown code is the reasons verifier's
        if _normal(stated) != _normal(expected):
            failures.append(
                ClaimFailure(
                    "reasons",
                    f"- {code}: {stated}",
                    f"{code}'s adverse-action text is {expected!r}",
                )
            )
    return failures


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().rstrip(".").lower()


def _sentence_with(text: str, value: str) -> str:
    at = text.find(value)
    if at < 0:
        return value
    start = max(text.rfind(".", 0, at), text.rfind("\n", 0, at)) + 1
    ends = [e for e in (text.find(".", at + len(value)), text.find("\n", at)) if e >= 0]
    end = min(ends) + 1 if ends else len(text)
    return text[start:end].strip()


__all__ = ["CLAIM_KINDS", "ClaimFailure", "check_claims"]
