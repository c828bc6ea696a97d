"""Every number a credit-report explanation may cite.

The writers print only these values (through factory.domains._text), so the numbers verifier
can vouch for each one. Most come from the rule table (factory.domains.rules.facts): each
report field before and after, its signed `_delta` and its size `_change` (changes are cited as
sizes: "down $1,200"), the thresholds, the balance at the target utilization, the pay-down that
reaches it and the utilization gap to the target. This module adds the ones that are not a
quantity of the table: utilization changes cited in percentage points ("down 22.0 percentage
points") as plain `_points` twins (fraction x 100), and the number of listed changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factory.domains.base import Fact
from factory.domains.credit_report.policy import CreditReportPolicy


def extra_facts(
    row: Mapping[str, Any], policy: CreditReportPolicy, facts: Mapping[str, Fact]
) -> dict[str, Fact]:
    """The citeable numbers of one labelled row that the rule table's facts do not hold.

    Args:
        row: a row of `decide`'s output (a mapping of column name to value).
        policy: the thresholds the row was labelled with.
        facts: the table's facts of the row.
    """
    gap = abs(round(float(row["utilization_after"]) - policy.target_utilization, 4))
    return {
        "utilization_change_points": Fact(points(facts["utilization_change"].value)),
        "utilization_gap_points": Fact(points(gap)),
        "min_utilization_change_points": Fact(points(policy.min_utilization_change)),
        "good_change_count": Fact(float(len(row["good_changes"]))),
        "bad_change_count": Fact(float(len(row["bad_changes"]))),
    }


def points(fraction: float) -> float:
    """A fraction as percentage points (0.2200 -> 22.0), rounded to drop float noise."""
    return round(fraction * 100, 2)
