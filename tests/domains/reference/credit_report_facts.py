"""Frozen copy of the credit-report facts before rule tables (commit e4163ab): the table-derived
facts must hold every one of these with the same value. Do not edit.

Every number a credit-report explanation may cite.

The writers print only these values (through factory.domains._text), so the numbers verifier
can vouch for each one. Changes are cited as sizes ("down $1,200"), so each field has its signed
`_delta` and its absolute `_change`; utilization changes are also cited in percentage points
("down 22.0 percentage points"), so they have a plain `_points` twin (fraction x 100).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factory.domains.base import Fact
from factory.domains.credit_report.policy import FIELDS, CreditReportPolicy


def credit_report_facts(row: Mapping[str, Any], policy: CreditReportPolicy) -> dict[str, Fact]:
    """The citeable numbers of one labelled row.

    Args:
        row: a row of `decide`'s output (a mapping of column name to value).
        policy: the thresholds the row was labelled with.

    Returns:
        Fact per name: `<field>_before`, `<field>_after`, `<field>_delta`, `<field>_change` for
        every report field; utilization values as percent facts plus `_points` twins for its
        changes; the thresholds; the months between reports; the balance at the target
        utilization and the pay-down that reaches it; the utilization gap to the target; the
        number of listed good and bad changes.
    """
    facts: dict[str, Fact] = {}
    for field in FIELDS:
        percent = field == "utilization"
        delta = float(row[f"{field}_delta"])
        facts[f"{field}_before"] = Fact(float(row[f"{field}_before"]), percent)
        facts[f"{field}_after"] = Fact(float(row[f"{field}_after"]), percent)
        facts[f"{field}_delta"] = Fact(delta, percent)
        facts[f"{field}_change"] = Fact(abs(delta), percent)
    gap = round(float(row["utilization_after"]) - policy.target_utilization, 4)
    facts.update(
        {
            "utilization_change_points": Fact(points(facts["utilization_change"].value)),
            "utilization_gap_to_target": Fact(abs(gap), percent=True),
            "utilization_gap_points": Fact(points(abs(gap))),
            "stable_band_points": Fact(float(policy.stable_band_points)),
            "min_utilization_change": Fact(policy.min_utilization_change, percent=True),
            "min_utilization_change_points": Fact(points(policy.min_utilization_change)),
            "min_balance_change": Fact(policy.min_balance_change),
            "min_credit_limit_change": Fact(policy.min_credit_limit_change),
            "target_utilization": Fact(policy.target_utilization, percent=True),
            "inquiry_caution_count": Fact(float(policy.inquiry_caution_count)),
            "months_between": Fact(float(row["months_between"])),
            "target_revolving_balance": Fact(float(row["target_revolving_balance"])),
            "paydown_to_target": Fact(float(row["paydown_to_target"])),
            "good_change_count": Fact(float(len(row["good_changes"]))),
            "bad_change_count": Fact(float(len(row["bad_changes"]))),
        }
    )
    return facts


def points(fraction: float) -> float:
    """A fraction as percentage points (0.2200 -> 22.0), rounded to drop float noise."""
    return round(fraction * 100, 2)
