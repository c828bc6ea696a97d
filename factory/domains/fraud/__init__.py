"""The fraud domain: card transactions with account history, scored by a transparent engine.

Profiles are transactions of a shard's customers drawn from a latent mixture of everyday
spending and four fraud patterns; the policy adds up documented risk points (amount against
the customer's history, velocity, geography and travel speed, device, merchant category, time
of day, account age) and allows, reviews or blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import polars as pl

from factory.domains.base import Domain, Fact, PolicyBase, RegulatoryNotes, ScreeningMetrics, Task
from factory.domains.fraud import facts as _facts
from factory.domains.fraud import profiles as _profiles
from factory.domains.fraud import writer as _writer
from factory.domains.fraud.policy import HIGH_RISK_CATEGORIES, REASON_TEXTS, FraudPolicy
from factory.domains.fraud.profiles import FraudDistribution
from factory.domains.fraud.rules import builtin_table
from factory.domains.rules.engine import compiled
from factory.domains.rules.facts import table_facts


class FraudDomain(Domain):
    """Card transactions with account history: allow, review or block."""

    name = "fraud"
    title = "Card transaction fraud decisions"
    description = (
        "Card transactions with the account's history (amount against usual spending, velocity, "
        "travel speed, device, merchant category, time of day): allow, review or block."
    )
    engine_version = "1.0.0"
    id_column = "transaction_id"
    subject_column = "customer_id"
    labels = ("allow", "review", "block")
    adverse_labels = frozenset({"review", "block"})
    reason_texts: ClassVar[Mapping[str, str]] = REASON_TEXTS
    protected_columns = ("sex", "age", "age_band", "marital_status")
    pii_columns: ClassVar[tuple[str, ...]] = ("first_name", "last_name", "home_city")
    #: the simulation's hidden truth: which fraud pattern drew the row (never a case input).
    latent_columns: ClassVar[tuple[str, ...]] = ("fraud_pattern", "is_fraud_latent")
    policy_model = FraudPolicy
    plot_columns = ("amount", "amount_zscore", "risk_score", "implied_speed_kmh")
    screening: ClassVar[ScreeningMetrics | None] = ScreeningMetrics(
        key="fraud_errors",
        legitimate="allow",
        false_positive="false positive rate (legitimate blocked or held)",
        false_negative="false negative rate (fraud allowed)",
    )
    #: merchant categories the policy treats as high risk (the system prompt lists them).
    high_risk_categories: ClassVar[tuple[str, ...]] = HIGH_RISK_CATEGORIES
    distribution_model = FraudDistribution
    tasks: ClassVar[Mapping[str, Task]] = {
        "decision_cot": Task(
            name="decision_cot",
            description="Allow, review or block a card transaction, reasoning like a fraud "
            "analyst from the account's history.",
            system_template="decision_cot.system.jinja2",
            user_template="decision_cot.user.jinja2",
            write=_writer.write_decision_cot,  # type: ignore[arg-type]
        )
    }

    synthesizer = staticmethod(_profiles.synthesize)
    fact_finder = staticmethod(_facts.facts)
    table_builder = staticmethod(builtin_table)

    def regulatory_notes(self) -> RegulatoryNotes:
        """Fraud detection: outside the AI Act's creditworthiness category; analyst reasons."""
        return RegulatoryNotes(
            ai_act="This model supports card-fraud detection. Annex III, point 5(b) excludes AI "
            "systems used for\nthe purpose of detecting financial fraud from the "
            "creditworthiness high-risk category, so a fraud\nscreening system built on it is "
            "**not high-risk under 5(b)**. Other law still applies (GDPR\nArticle 22 on solely "
            "automated decisions, payment-services rules), and using it to assess\n"
            "creditworthiness would change the classification.",
            reasons="**Reason codes.** The model names the rules behind a review or block for "
            "the analyst who acts on\nit; they are not adverse-action notices on a credit "
            "application. The codes and texts:",
        )

    def facts(self, row: Mapping[str, Any], policy: PolicyBase) -> dict[str, Fact]:
        """The built-in facts (factory.domains.fraud.facts) plus, for a recipe that extends the
        table, its quantities, params and gaps (factory.domains.rules.facts)."""
        fraud = self._own(policy, FraudPolicy)
        out = _facts.facts(row, fraud)
        table = self.rule_table(fraud)
        extended = any(r.source == "recipe" for r in table.rules) or any(
            q.source == "recipe" for q in table.quantities.values()
        )
        if extended:
            for name, fact in table_facts(table, row).items():
                out.setdefault(name, fact)
        return out

    def decide(self, profiles: pl.DataFrame, policy: PolicyBase) -> pl.DataFrame:
        """Scores and labels transactions with the compiled rule table
        (factory.domains.fraud.rules)."""
        return compiled(self.rule_table(policy)).decide(profiles)


DOMAIN = FraudDomain()

__all__ = ["DOMAIN", "FraudDistribution", "FraudDomain", "FraudPolicy"]
