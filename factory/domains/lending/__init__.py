"""Lending: consumer loan applications, underwritten to approve, refer or deny.

The engine computes the monthly payment (standard amortisation), back-end DTI, LTV for
secured purposes and loan-to-income for unsecured ones, and applies the rules of the table in
factory.domains.lending.rules. The single task, decision_cot, asks for the decision with
step-by-step reasoning and the principal reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import polars as pl

from factory.domains.base import DistributionBase, Domain, PolicyBase, RegulatoryNotes, Task
from factory.domains.lending.policy import LendingPolicy
from factory.domains.lending.profiles import LendingDistribution, synthesize, synthesize_shards
from factory.domains.lending.rules import REASON_TEXTS, builtin_table
from factory.domains.lending.writer import write_decision_cot
from factory.domains.rules.engine import compiled


class LendingDomain(Domain):
    """Consumer loan underwriting (see the package docstring)."""

    name: ClassVar[str] = "lending"
    title: ClassVar[str] = "Consumer loan underwriting"
    description: ClassVar[str] = (
        "Loan applications (personal, debt consolidation, home improvement, medical, auto, "
        "mortgage) decided approve, refer or deny on DTI, credit score, payment history, "
        "bankruptcy, utilisation, employment, LTV and loan-to-income."
    )
    engine_version: ClassVar[str] = "1.0.0"
    id_column: ClassVar[str] = "applicant_id"
    subject_column: ClassVar[str] = "applicant_id"
    labels: ClassVar[tuple[str, ...]] = ("approve", "refer", "deny")
    adverse_labels: ClassVar[frozenset[str]] = frozenset({"refer", "deny"})
    reason_texts: ClassVar[Mapping[str, str]] = REASON_TEXTS
    protected_columns: ClassVar[tuple[str, ...]] = ("sex", "age", "age_band", "marital_status")
    pii_columns: ClassVar[tuple[str, ...]] = ("first_name", "last_name", "city")
    plot_columns: ClassVar[tuple[str, ...]] = (
        "dti",
        "credit_score",
        "annual_income",
        "loan_to_income",
        "credit_utilization",
        "employment_years",
    )
    policy_model: ClassVar[type[PolicyBase]] = LendingPolicy
    distribution_model: ClassVar[type[DistributionBase]] = LendingDistribution
    tasks: ClassVar[Mapping[str, Task]] = {
        "decision_cot": Task(
            name="decision_cot",
            description="Loan decision (approve, refer, deny) with step-by-step reasoning "
            "and principal reasons.",
            system_template="decision_cot.system.jinja2",
            user_template="decision_cot.user.jinja2",
            write=write_decision_cot,  # type: ignore[arg-type]
        )
    }

    synthesizer = staticmethod(synthesize)
    shards_synthesizer = staticmethod(synthesize_shards)
    table_builder = staticmethod(builtin_table)

    def regulatory_notes(self) -> RegulatoryNotes:
        """Credit decisions: high-risk under the AI Act; ECOA / Regulation B reasons."""
        return RegulatoryNotes(
            ai_act="This model supports credit decisions about natural persons: a system that "
            "uses it to\nevaluate creditworthiness or establish a credit score is **high-risk** "
            "under Annex III, point 5(b),\nand its provider must meet the obligations of Chapter "
            "III, Section 2 (risk management, data\ngovernance, technical documentation, logging, "
            "transparency, human oversight, accuracy and\nrobustness) before putting it into "
            "service.",
            reasons="**Adverse-action reasons (ECOA / Regulation B).** A creditor that denies "
            "credit must give the\nspecific principal reasons (12 CFR 1002.9(b)(2)); the official "
            "commentary notes that more than\nfour reasons is unlikely to help the applicant. The "
            f"model names at most {self.max_principal_reasons} reason codes, most\nsevere first, "
            "each with the engine's adverse-action text:",
        )

    def decide(self, profiles: pl.DataFrame, policy: PolicyBase) -> pl.DataFrame:
        """Labels applicants with the compiled rule table (factory.domains.lending.rules)."""
        return compiled(self.rule_table(policy)).decide(profiles)


DOMAIN = LendingDomain()

__all__ = ["DOMAIN", "LendingDistribution", "LendingDomain", "LendingPolicy"]
