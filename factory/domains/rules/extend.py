"""A recipe's YAML extensions applied on top of a domain's built-in rule table."""

from __future__ import annotations

from typing import Any

from factory.domains.rules.model import RuleTable


def extend_table(table: RuleTable, policy: Any) -> RuleTable:
    """`table` with the recipe's params, quantities, rules and disabled codes applied."""
    return table
