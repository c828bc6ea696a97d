"""The rule table read one row at a time, in plain Python (verifiers, tests).

`compute_values` and `interpret_row` compute everything from a row's inputs alone: the slow
reference the compiled engine is tested against. `row_values` and `applicable_rules` serve the
verifiers: they read the derived values the engine already wrote into a labelled row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from factory.domains.rules.engine import Compiled, QuantityCode, compiled
from factory.domains.rules.expr import evaluate, round_value
from factory.domains.rules.model import Rule, RuleTable
from factory.domains.rules.ranking import listed, outcome


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _quantity_value(code: QuantityCode, values: Mapping[str, Any], helpers: Any) -> Any:
    if code.applies is not None and evaluate(code.applies, values, helpers) is not True:
        return None
    value = evaluate(code.expr, values, helpers)
    if value is not None and code.quantity.round is not None:
        value = round_value(value, code.quantity.round)
    return value


def _values(code: Compiled, row: Mapping[str, Any], trust_row: bool) -> dict[str, Any]:
    table = code.table
    values: dict[str, Any] = table.param_values()
    for name, quantity in table.quantities.items():
        if quantity.expr is None:
            values[name] = _clean(row.get(name))
    for derived in code.derived:
        name = derived.quantity.name
        if trust_row and derived.quantity.output and name in row:
            values[name] = _clean(row[name])
        else:
            values[name] = _quantity_value(derived, values, table.helpers)
    return values


def compute_values(code: Compiled, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every quantity and param value computed from the input columns alone."""
    return _values(code, inputs, trust_row=False)


def row_values(table: RuleTable, row: Mapping[str, Any]) -> dict[str, Any]:
    """Quantity and param values of a labelled row (derived outputs read from the row)."""
    return _values(compiled(table), row, trust_row=True)


def applicable_rules(table: RuleTable, row: Mapping[str, Any]) -> list[Rule]:
    """The rules whose `applies` holds for the row, in severity order."""
    code = compiled(table)
    values = _values(code, row, trust_row=True)
    return [
        r.rule
        for r in code.rules
        if r.applies is None or evaluate(r.applies, values, table.helpers) is True
    ]


def fired_rules(code: Compiled, values: Mapping[str, Any]) -> list[Rule]:
    """The rules that fire on `values` (applies and when both true), in severity order."""
    helpers = code.table.helpers
    fired = []
    for r in code.rules:
        if r.applies is not None and evaluate(r.applies, values, helpers) is not True:
            continue
        if evaluate(r.when, values, helpers) is True:
            fired.append(r.rule)
    return fired


def interpret_row(table: RuleTable, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The slow reference: one row labelled from its inputs alone.

    Returns:
        Every derived output quantity, each list column (Rule.listed), `decision` and
        `reason_codes`, computed without the compiled engine (through
        factory.domains.rules.ranking, as the engine).
    """
    code = compiled(table)
    values = compute_values(code, inputs)
    fired = fired_rules(code, values)
    points = {}
    for rc in code.rules:
        if rc.points is not None:  # a supporting or listed rule's weight, an expression
            points[rc.rule.code] = evaluate(rc.points, values, table.helpers)
        elif rc.rule.points is not None:
            points[rc.rule.code] = values[rc.rule.points]
    decision, reasons = outcome(table, fired, points)
    out = {d.quantity.name: values[d.quantity.name] for d in code.derived if d.quantity.output}
    out.update(listed(table, fired, points))
    out["decision"] = decision
    out["reason_codes"] = reasons
    return out
