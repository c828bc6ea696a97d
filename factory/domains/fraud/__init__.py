"""The fraud domain: card transactions with account history, scored by a transparent engine.

Profiles are transactions of a shard's customers drawn from a latent mixture of everyday
spending and four fraud patterns; the policy adds up documented risk points (amount against
the customer's history, velocity, geography and travel speed, device, merchant category, time
of day, account age) and allows, reviews or blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import polars as pl

from factory.domains.base import Domain, PolicyBase, Task
from factory.domains.fraud import facts as _facts
from factory.domains.fraud import profiles as _profiles
from factory.domains.fraud import writer as _writer
from factory.domains.fraud.policy import HIGH_RISK_CATEGORIES, REASON_TEXTS, FraudPolicy, decide
from factory.domains.fraud.profiles import FraudDistribution


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

    def decide(self, profiles: pl.DataFrame, policy: PolicyBase) -> pl.DataFrame:
        """Scores and labels transactions; see factory.domains.fraud.policy.decide."""
        fraud = self._own(policy, FraudPolicy)
        return decide(profiles, fraud, self.policy_version(fraud))


DOMAIN = FraudDomain()

__all__ = ["DOMAIN", "FraudDistribution", "FraudDomain", "FraudPolicy"]
