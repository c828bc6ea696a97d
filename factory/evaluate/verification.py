"""Model answers through the generation verifiers: claim faithfulness per kind, full verification.

The dataset's rows were kept only when every verifier of the recipe passed; a model trained on
them is scored by the same checks, bound the same way (`factory.verify.case.CaseVerifier`: the
recipe's rule table, tolerance and reason texts, the row and the prompt the model saw):

    claim_faithfulness  every claim of each answer read against its case, counted per claim kind
                        (factory.verify.claims.CLAIM_KINDS: number, comparison, conclusion,
                        categorical, reasons, fairness, identity): the share of answers with a
                        failing claim of that kind, and how many such claims there were;
    verification        the share of answers every verifier keeps (what a dataset would keep),
                        and which verifier refused the others first.

Claims are read only in answers that parse: an answer that does not follow the format is the
parse rate's and verification's failure, and its stray text says nothing about the claims a
well-formed answer makes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from factory.evaluate.metrics import Mean, Rate
from factory.output import ParsedOutput
from factory.verify import verifier_of
from factory.verify.case import CaseVerifier
from factory.verify.claims import CLAIM_KINDS

#: Failing claims kept in the report per model, so a reader sees what a failure looks like.
SAMPLE_FAILURES = 20


@dataclass(frozen=True)
class KindFailures:
    """The claims of one kind that did not hold.

    Attributes:
        answers: answers with at least one failing claim of this kind, over the answers read.
        claims: failing claims of this kind over all answers read.
    """

    answers: Rate
    claims: int


@dataclass(frozen=True)
class FailedClaim:
    """One failing claim, as a person auditing the evaluation reads it."""

    id: str
    kind: str
    sentence: str
    claim: str


@dataclass(frozen=True)
class ClaimFaithfulness:
    """Claim checks of the model's answers against the engine, per claim kind.

    Attributes:
        faithful: answers read whose every claim holds.
        kinds: claim kind -> its failures, every kind of CLAIM_KINDS in that order.
        failures_per_answer: mean failing claims per answer read.
        unread: answers left out because they do not parse.
        samples: the first SAMPLE_FAILURES failing claims, in answer order.
    """

    faithful: Rate
    kinds: Mapping[str, KindFailures]
    failures_per_answer: Mean
    unread: int
    samples: tuple[FailedClaim, ...]


def claim_faithfulness(
    verifier: CaseVerifier,
    parsed: Sequence[ParsedOutput],
    rows: Sequence[Mapping[str, Any]],
    prompts: Sequence[str],
    ids: Sequence[str],
) -> ClaimFaithfulness | None:
    """Every claim of every answer that parses, checked by the recipe's claim checks.

    Args:
        verifier: the recipe's case verifier.
        parsed: the parsed model answers.
        rows: the labelled row each answers.
        prompts: the user message the model saw for each (the identity check needs it).
        ids: the example ids.

    Returns:
        The faithfulness, or None when the domain has no rule table (no claims to read).

    Raises:
        ValueError: the sequences differ in length.
    """
    if not len(parsed) == len(rows) == len(prompts) == len(ids):
        raise ValueError(
            f"{len(parsed)} answers, {len(rows)} rows, {len(prompts)} prompts and {len(ids)} "
            "ids: one of each per example expected"
        )
    if verifier.table is None:
        return None
    failing = dict.fromkeys(CLAIM_KINDS, 0)
    claims = dict.fromkeys(CLAIM_KINDS, 0)
    counts: list[float] = []
    samples: list[FailedClaim] = []
    for output, row, prompt, example in zip(parsed, rows, prompts, ids, strict=True):
        if not output.ok:
            continue
        failures = verifier.claim_failures(output, row, prompt) or []
        counts.append(len(failures))
        for kind in {failure.kind for failure in failures}:
            failing[kind] = failing.get(kind, 0) + 1
        for failure in failures:
            claims[failure.kind] = claims.get(failure.kind, 0) + 1
            if len(samples) < SAMPLE_FAILURES:
                samples.append(
                    FailedClaim(str(example), failure.kind, failure.sentence, failure.claim)
                )
    read = len(counts)
    return ClaimFaithfulness(
        faithful=Rate.of(sum(1 for c in counts if c == 0), read),
        kinds={kind: KindFailures(Rate.of(failing[kind], read), claims[kind]) for kind in failing},
        failures_per_answer=Mean.of(counts, bounds=(0.0, float("inf"))),
        unread=len(parsed) - read,
        samples=tuple(samples),
    )


@dataclass(frozen=True)
class Verification:
    """The answers every verifier of the recipe keeps, as the dataset's examples were kept.

    Attributes:
        verified: answers that pass every check, over all answers.
        rejected_by: the verifier that refused an answer first -> answers it refused
            (claims.<kind> counted under claims), in the verifiers' order.
        checks: the verifiers run (the recipe's, without `length`).
    """

    verified: Rate
    rejected_by: Mapping[str, int]
    checks: tuple[str, ...]


def verification(
    verifier: CaseVerifier,
    answers: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    prompts: Sequence[str],
) -> Verification:
    """The verdict of the recipe's verifiers on each raw answer.

    Raises:
        ValueError: the sequences differ in length.
    """
    if not len(answers) == len(rows) == len(prompts):
        raise ValueError(
            f"{len(answers)} answers, {len(rows)} rows and {len(prompts)} prompts: one of each "
            "per example expected"
        )
    refused: dict[str, int] = {}
    kept = 0
    for text, row, prompt in zip(answers, rows, prompts, strict=True):
        verdict = verifier.verdict(text, row, prompt=prompt)
        if verdict.ok:
            kept += 1
        else:
            name = verifier_of(str(verdict.reason))
            refused[name] = refused.get(name, 0) + 1
    order = {name: i for i, name in enumerate(verifier.checks)}
    return Verification(
        verified=Rate.of(kept, len(answers)),
        rejected_by=dict(sorted(refused.items(), key=lambda item: order.get(item[0], len(order)))),
        checks=verifier.checks,
    )
