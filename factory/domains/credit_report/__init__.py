"""The credit_report domain: the before/after credit report of one customer.

Tasks: `summary` (the "Good:" / "Bad:" lists of what changed, with the numbers, and a short
plain-language paragraph) and `qa` (a customer question such as "How can I improve my score?"
answered with actions grounded in the report). The label is the score trend: improved,
declined or stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import polars as pl

from factory.domains.base import (
    DistributionBase,
    Domain,
    Fact,
    PolicyBase,
    Polish,
    RegulatoryNotes,
    Task,
)
from factory.domains.credit_report.facts import extra_facts
from factory.domains.credit_report.policy import (
    ACTION_TEXTS,
    ADVERSE_LABELS,
    LABELS,
    REASON_TEXTS,
    CreditReportPolicy,
)
from factory.domains.credit_report.profiles import PROTECTED_COLUMNS, CreditReportDistribution
from factory.domains.credit_report.profiles import synthesize as synthesize_reports
from factory.domains.credit_report.rules import builtin_table, change_items
from factory.domains.credit_report.writer import change_lists, write_qa, write_summary
from factory.domains.rules.engine import compiled
from factory.domains.rules.facts import table_facts

#: The columns decide adds, in the order it writes them.
_LABEL_COLUMNS = (
    "good_changes",
    "bad_changes",
    "decision",
    "reason_codes",
    "actions",
    "target_revolving_balance",
    "paydown_to_target",
    "policy_version",
)


class CreditReportDomain(Domain):
    """Before/after credit reports: score trend, listed changes, drivers and actions."""

    name: ClassVar[str] = "credit_report"
    title: ClassVar[str] = "Credit report changes"
    description: ClassVar[str] = (
        "Before/after credit report of one customer: what changed, why the score moved, and "
        "what to do next."
    )
    engine_version: ClassVar[str] = "1.0.0"
    id_column: ClassVar[str] = "customer_id"
    subject_column: ClassVar[str] = "customer_id"
    labels: ClassVar[tuple[str, ...]] = LABELS
    adverse_labels: ClassVar[frozenset[str]] = ADVERSE_LABELS
    reason_texts: ClassVar[Mapping[str, str]] = REASON_TEXTS
    action_texts: ClassVar[Mapping[str, str]] = ACTION_TEXTS
    protected_columns: ClassVar[tuple[str, ...]] = PROTECTED_COLUMNS
    pii_columns: ClassVar[tuple[str, ...]] = ("first_name", "last_name")
    plot_columns: ClassVar[tuple[str, ...]] = (
        "score_before",
        "score_delta",
        "utilization_after",
        "utilization_delta",
        "revolving_balance_after",
        "months_between",
    )
    policy_model: ClassVar[type[PolicyBase]] = CreditReportPolicy
    distribution_model: ClassVar[type[DistributionBase]] = CreditReportDistribution
    tasks: ClassVar[Mapping[str, Task]] = {
        "summary": Task(
            name="summary",
            description="Credit-report change summary: Good/Bad lists with the numbers and a "
            "plain-language paragraph.",
            system_template="summary.system.jinja2",
            user_template="summary.user.jinja2",
            write=write_summary,
            has_answer=True,
            # Serving: the fine-tuned model lists the changes, the base model writes the
            # paragraph from those lists alone.
            polish=Polish(template="summary.polish.jinja2", extract=change_lists),
        ),
        "qa": Task(
            name="qa",
            description="Credit-report Q&A: a customer question answered with actions grounded "
            "in the report.",
            system_template="qa.system.jinja2",
            user_template="qa.user.jinja2",
            write=write_qa,
            has_answer=True,
        ),
    }

    synthesizer = staticmethod(synthesize_reports)
    table_builder = staticmethod(builtin_table)

    def regulatory_notes(self) -> RegulatoryNotes:
        """Explains reports, decides nothing; key factors the way score disclosures list them."""
        return RegulatoryNotes(
            ai_act="This model explains changes in a consumer's credit report and answers "
            "questions about it. It\ndoes not decide on credit; but a system that uses it to "
            "evaluate creditworthiness or establish a\ncredit score would be **high-risk** under "
            "Annex III, point 5(b). The deployer must classify its\nown use.",
            reasons="**Key factors.** The model names the changes that moved the score (at most "
            f"{self.max_principal_reasons}), the way score\ndisclosures list key factors; the "
            "codes and texts:",
        )

    def facts(self, row: Mapping[str, Any], policy: PolicyBase) -> dict[str, Fact]:
        """The rule table's facts (factory.domains.rules.facts: every quantity, threshold and
        gap, with its unit and words) plus the percentage-point twins and list counts the
        writers cite (factory.domains.credit_report.facts)."""
        report = self._own(policy, CreditReportPolicy)
        facts = table_facts(self.rule_table(report), row)
        facts.update(extra_facts(row, report, facts))
        return facts

    def decide(self, profiles: pl.DataFrame, policy: PolicyBase) -> pl.DataFrame:
        """Labels before/after reports with the compiled rule table
        (factory.domains.credit_report.rules).

        Adds `<field>_delta` for every report field; `good_changes` and `bad_changes`
        (List(Struct{code, before, after, delta}), largest estimated impact first);
        `decision` (improved when the score rose by at least `stable_band_points`, declined
        when it fell by at least that many, stable otherwise); `reason_codes` (at most four
        drivers in the direction of the trend, never empty for improved or declined, empty for
        stable); `actions` (List(String), most urgent first); `target_revolving_balance` and
        `paydown_to_target`; and `policy_version`.
        """
        table = self.rule_table(policy)
        out = compiled(table).decide(profiles)
        out = out.with_columns(
            good_changes=change_items(out, "good_changes", table),
            bad_changes=change_items(out, "bad_changes", table),
        )
        # The recipe's own derived quantities (after the built-in columns) keep their place.
        added = [c for c in out.columns if c not in profiles.columns and c not in _LABEL_COLUMNS]
        return out.select(*profiles.columns, *added, *_LABEL_COLUMNS)


DOMAIN = CreditReportDomain()

__all__ = ["DOMAIN", "CreditReportDistribution", "CreditReportDomain", "CreditReportPolicy"]
