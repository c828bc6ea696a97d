"""The numbers an explanation may cite, derived from the rule table for one labelled row.

- every numeric quantity with a value for the row (inputs, derived ones, helper thresholds);
- the params a rule that applies to the row compares with (its threshold, and any other its
  condition names);
- the gap |quantity - threshold| of every applicable rule that names a `gap` fact, rounded
  like its quantity.

Each Fact knows its quantity, unit, the words for it and its role (value, threshold, gap).
The verifiers call this once per example, so the table is turned once into a plan of Python
closures (factory.domains.rules.expr.to_python) and each row only runs the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from factory.domains.fact import Fact
from factory.domains.rules.engine import compiled
from factory.domains.rules.expr import round_value, to_python
from factory.domains.rules.model import Quantity, RuleTable

_Meta = tuple[str, str, tuple[str, ...], str]  # quantity, unit, words, role
_Fn = Callable[[Mapping[str, Any]], Any]


def _words(quantity: Quantity) -> tuple[str, ...]:
    return (quantity.label, *quantity.aliases)


@dataclass(frozen=True)
class _RuleFacts:
    applies: _Fn | None
    params: tuple[tuple[str, Any, _Meta], ...]
    gap: tuple[str, str, int | None, _Fn, _Meta] | None  # name, quantity, round, threshold


@dataclass(frozen=True)
class _Plan:
    inputs: tuple[str, ...]  # read from the row (inputs and derived outputs)
    helpers: tuple[tuple[str, _Fn, _Fn | None, int | None], ...]  # name, expr, applies, round
    values: tuple[tuple[str, _Meta], ...]  # numeric quantities cited as values
    rules: tuple[_RuleFacts, ...]
    params: Mapping[str, Any]


def _plan(table: RuleTable) -> _Plan:
    code = compiled(table)
    helpers = table.helpers
    quantities = table.quantities
    read = tuple(n for n, q in quantities.items() if q.expr is None or q.output)
    inline = tuple(
        (
            d.quantity.name,
            to_python(d.expr, helpers),
            to_python(d.applies, helpers) if d.applies is not None else None,
            d.quantity.round,
        )
        for d in code.derived
        if not d.quantity.output
    )
    values = tuple(
        (n, (n, q.unit, _words(q), "value")) for n, q in quantities.items() if q.kind == "num"
    )
    rules = []
    for rc in code.rules:
        rule = rc.rule
        quantity = quantities.get(rule.quantity) if rule.quantity else None
        params = []
        # The params the rule compares with: its threshold first, then any its condition names.
        names = sorted(
            rc.when.names() & table.params.keys(), key=lambda n: (n != rule.threshold, n)
        )
        for name in names:
            param = table.params[name]
            if param.kind != "num":
                continue
            about = quantities.get(param.quantity or "") or quantity
            unit = about.unit if about is not None else "number"
            words = (param.label, *((f"{about.label} threshold",) if about else ()))
            meta = (about.name if about else name, unit, words, "threshold")
            params.append((name, param.value, meta))
        gap = None
        if rule.gap and quantity is not None and quantity.kind == "num" and rc.threshold:
            words = (f"gap between the {quantity.label} and its threshold",)
            meta = (quantity.name, quantity.unit, words, "gap")
            gap = (rule.gap, quantity.name, quantity.round, to_python(rc.threshold, helpers), meta)
        applies = to_python(rc.applies, helpers) if rc.applies is not None else None
        rules.append(_RuleFacts(applies, tuple(params), gap))
    return _Plan(read, inline, values, tuple(rules), table.param_values())


_PLANS: dict[int, tuple[RuleTable, _Plan]] = {}


def _cached_plan(table: RuleTable) -> _Plan:
    hit = _PLANS.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1]
    plan = _plan(table)
    if len(_PLANS) >= 64:
        _PLANS.pop(next(iter(_PLANS)))
    _PLANS[id(table)] = (table, plan)
    return plan


def _facts(table: RuleTable, row: Mapping[str, Any]) -> dict[str, tuple[Any, _Meta]]:
    plan = _cached_plan(table)
    values: dict[str, Any] = dict(plan.params)
    for name in plan.inputs:
        value = row.get(name)
        values[name] = None if value != value else value  # NaN is missing
    for name, expr, applies, digits in plan.helpers:
        if applies is not None and applies(values) is not True:
            values[name] = None
            continue
        value = expr(values)
        values[name] = value if value is None or digits is None else round_value(value, digits)
    out: dict[str, tuple[Any, _Meta]] = {}
    for name, meta in plan.values:
        value = values.get(name)
        if value is not None:
            out[name] = (value, meta)
    for rule in plan.rules:
        if rule.applies is not None and rule.applies(values) is not True:
            continue
        for name, value, meta in rule.params:
            if name not in out:
                out[name] = (value, meta)
        if rule.gap is None:
            continue
        gap_name, quantity, digits, threshold, meta = rule.gap
        value, limit = values.get(quantity), threshold(values)
        if value is None or limit is None:
            continue
        gap = abs(value - limit)
        out[gap_name] = (gap if digits is None else round(gap, digits), meta)
    return out


def fact_values(table: RuleTable, row: Mapping[str, Any]) -> dict[str, Any]:
    """The values of `table_facts` without the Fact wrappers (the writers' fast path)."""
    return {name: value for name, (value, _) in _facts(table, row).items()}


def fact_pairs(table: RuleTable, row: Mapping[str, Any]) -> dict[str, tuple[Any, bool]]:
    """The facts of `table_facts` as plain (value, percent) pairs, all the numbers verifier
    reads: a Fact's attributes cost a dict per fact (about 2.5 us each, 35 a lending row)."""
    return {
        name: (value, meta[1] == "fraction") for name, (value, meta) in _facts(table, row).items()
    }


def table_facts(table: RuleTable, row: Mapping[str, Any]) -> dict[str, Fact]:
    """Every number the explanation of `row` may cite, as Facts (see the module docstring)."""
    described = Fact.described
    return {
        name: described(value, meta[1] == "fraction", meta)
        for name, (value, meta) in _facts(table, row).items()
    }
