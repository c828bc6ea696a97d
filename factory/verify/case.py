"""One recipe's verifiers, bound to its domain and policy: verify an answer to a labelled row.

The verify step holds its own loop (it counts tokens and builds prompts for a whole shard at
once); everything else that asks "is this answer right for this case?" (preference pairs, RL
rewards, evaluation) asks a `CaseVerifier`, so each of them runs the same checks with the same
facts, rule table and tolerance as the data itself was verified with.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from factory.domains.base import Domain, Fact, PolicyBase
from factory.output import ParsedOutput
from factory.recipe import OPTIONAL_VERIFIERS, RecipeBase
from factory.verify import VERIFIER_ORDER, Verdict, verify_example
from factory.verify.claims import ClaimFailure, check_claims


class CaseVerifier:
    """The per-example verifiers of a recipe, for answers to its labelled rows.

    Args:
        recipe: the recipe whose domain, policy and `filters` apply.
        checks: the verifiers to run; by default the recipe's per-example verifiers except
            `length`, which depends on a tokenizer and is the trainer's business.
    """

    def __init__(self, recipe: RecipeBase, checks: Collection[str] | None = None) -> None:
        self.domain: Domain = recipe.domain_impl
        self.policy: PolicyBase = recipe.policy
        # The rule table's codes: a recipe's own rules included, disabled ones left out.
        self.reason_texts = self.domain.reason_texts_for(self.policy)
        self.known = frozenset(self.reason_texts)
        self.tolerance = recipe.filters.number_tolerance
        chosen = set(checks) if checks is not None else set(recipe.filters.verifiers) - {"length"}
        # An optional verifier checks what only some domains give (grounding: the passages an
        # answer about documents must come from); elsewhere it would always pass.
        chosen -= set(OPTIONAL_VERIFIERS) - set(self.domain.extra_verifiers)
        try:
            self.table: Any = self.domain.rule_table(self.policy)
        except NotImplementedError:
            # A domain without a rule table has no claims to read: the other verifiers run.
            self.table = None
            chosen.discard("claims")
        self.checks = tuple(name for name in VERIFIER_ORDER if name in chosen)

    def facts(self, row: Mapping[str, Any]) -> dict[str, Fact]:
        """The numbers an explanation of `row` may cite."""
        return self.domain.facts(row, self.policy)

    def verdict(
        self,
        text: str,
        row: Mapping[str, Any],
        prompt: str | None = None,
        checks: Collection[str] | None = None,
    ) -> Verdict:
        """The verdict on `text` as the answer to `row` (shown to the model as `prompt`)."""
        selected = self.checks if checks is None else tuple(c for c in checks if c in self.checks)
        return verify_example(
            text,
            decision=row["decision"],
            reason_codes=row["reason_codes"],
            known_codes=self.known,
            facts=self.facts(row),
            checks=selected,
            number_tolerance=self.tolerance,
            table=self.table,
            row=row,
            prompt=prompt,
            grounding=self.domain.grounding(row) if "grounding" in selected else None,
        )

    def claim_failures(
        self, parsed: ParsedOutput, row: Mapping[str, Any], prompt: str | None = None
    ) -> list[ClaimFailure] | None:
        """Every failing claim of `parsed` as the answer to `row`, not just the first (the
        verdict stops at the first; evaluation counts them all, per kind).

        Returns:
            The failures (empty when every claim holds); None when the domain has no rule
            table, so there are no claims to read.
        """
        if self.table is None:
            return None
        return check_claims(
            parsed,
            table=self.table,
            row=row,
            decision=str(row["decision"]).strip().lower(),
            prompt=prompt,
            tolerance=self.tolerance,
        )
