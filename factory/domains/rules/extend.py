"""A recipe's YAML extensions applied on top of a domain's built-in rule table.

The policy of every domain (PolicyBase) carries the extension fields:

- `inputs`: extra input columns (filled in from `profiles.columns` when the recipe loads);
- `params`: new parameters (a built-in threshold is set by its own field, e.g. `max_dti`);
- `quantities`: derived quantities (an expression, a unit, rounding, words);
- `rules`: rules added after the built-in rules of the same tier;
- `disable`: built-in (or recipe) codes switched off.

`extend_table` builds the extended table and checks it with the compiler, so every error names
the recipe field it comes from (`policy.rules.0.when: unknown name 'dtii' at column 1 (did you
mean 'dti'?)`).
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from typing import Any

from factory.domains.rules.expr import RuleError, suggest
from factory.domains.rules.model import OPS, Param, Quantity, Rule, RuleTable

#: The PolicyBase fields that extend the table (empty by default).
EXTENSION_FIELDS: tuple[str, ...] = ("inputs", "params", "quantities", "rules", "disable")

_AST_OPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def spaced(name: str) -> str:
    """'years_in_business' -> 'years in business' (the default label of a recipe name)."""
    return name.replace("_", " ")


def has_extensions(policy: Any) -> bool:
    """True when the policy extends its domain's table."""
    return any(getattr(policy, field, None) for field in EXTENSION_FIELDS)


def extend_table(table: RuleTable, policy: Any) -> RuleTable:
    """`table` with the recipe's inputs, params, quantities, rules and disabled codes applied.

    Raises:
        RuleError: naming the recipe field (policy.rules.N.when, profiles.columns.NAME, ...).
    """
    if not has_extensions(policy):
        return table
    quantities = dict(table.quantities)
    paths: dict[tuple[str, str], str] = {}
    for name, spec in (policy.inputs or {}).items():
        at = f"profiles.columns.{name}"
        if name in quantities or name in table.params:
            raise RuleError(at, f"{name!r} is already a column, quantity or param of the domain")
        quantities[name] = Quantity(
            name=name,
            label=spec.label or spaced(name),
            aliases=tuple(spec.aliases),
            unit=spec.unit,
            value_words={v: (spaced(v),) for v in spec.values},
            source="recipe",
        )
        paths[("quantities", name)] = at
    params = dict(table.params)
    for name, value in (policy.params or {}).items():
        at = f"policy.params.{name}"
        if name in table.params:
            raise RuleError(at, f"{name!r} is a built-in threshold: set it as policy.{name}")
        if name in quantities:
            raise RuleError(at, f"{name!r} is already a column or quantity")
        params[name] = Param(name=name, value=value, label=spaced(name), source="recipe")
    for name, spec in (policy.quantities or {}).items():
        at = f"policy.quantities.{name}"
        if name in quantities or name in params:
            raise RuleError(at, f"{name!r} is already a column, quantity or param")
        quantities[name] = Quantity(
            name=name,
            label=spec.label or spaced(name),
            aliases=tuple(spec.aliases),
            unit=spec.unit,
            expr=spec.expr,
            round=spec.round,
            applies=spec.applies,
            description=spec.description,
            source="recipe",
        )
        paths[("quantities", name)] = at
    added = [_rule(spec, i, quantities, table) for i, spec in enumerate(policy.rules or ())]
    for i, rule in enumerate(added):
        paths[("rules", rule.code)] = f"policy.rules.{i}"
        if rule.threshold in params and params[rule.threshold].source == "recipe":
            param = params[rule.threshold]
            if param.quantity is None:
                params[rule.threshold] = dataclasses.replace(param, quantity=rule.quantity)
    rules = _ordered(table, added, list(policy.disable or ()))
    extended = dataclasses.replace(table, quantities=quantities, params=params, rules=rules)

    def path_of(kind: str, name: str, field: str) -> str:
        base = paths.get((kind, name))
        if base is None:
            return f"{kind}.{name}.{field}"
        return base if base.startswith("profiles.") else f"{base}.{field}"

    from factory.domains.rules.engine import Compiled

    Compiled(extended, path_of)  # checks names, types, cycles; raises RuleError
    return extended


def _rule(spec: Any, index: int, quantities: Mapping[str, Quantity], table: RuleTable) -> Rule:
    quantity, op, threshold = spec.quantity, spec.op, spec.threshold
    when = spec.when
    if when is None:
        when = f"{quantity} {op} {threshold}"
    elif op is None and threshold is None:
        inferred = _comparison(when)
        if inferred is not None and (quantity is None or quantity == inferred[0]):
            quantity, op, threshold = inferred
    if threshold is not None and not isinstance(threshold, str):
        threshold = repr(threshold)
    numeric = quantity in quantities and quantities[quantity].kind == "num"
    gap = f"{spec.code.lower()}_gap" if numeric and threshold is not None and op in OPS else None
    text = spec.text
    points = spec.points
    if points is not None and not isinstance(points, str):
        points = repr(points)
    return Rule(
        code=spec.code,
        # A rule that only supports a tier decides nothing: it sits at the default tier.
        outcome=spec.outcome if spec.outcome is not None else table.default,
        supports=tuple(spec.supports),
        points=points,
        when=when,
        quantity=quantity,
        op=op,
        threshold=threshold,
        applies=spec.applies,
        text=text,
        fires=tuple(spec.fires),
        passes=tuple(spec.passes),
        source="recipe",
        supersedes=tuple(spec.supersedes),
        gap=gap,
        noun=spec.noun or text[:1].lower() + text[1:],
    )


def _comparison(when: str) -> tuple[str, str, str] | None:
    """(quantity, op, threshold) of a condition that is one comparison `name op other`."""
    try:
        tree = ast.parse(when.strip(), mode="eval").body
    except SyntaxError:
        return None  # the compiler reports it, with the column
    if not (
        isinstance(tree, ast.Compare)
        and len(tree.ops) == 1
        and type(tree.ops[0]) in _AST_OPS
        and isinstance(tree.left, ast.Name)
    ):
        return None
    right = ast.get_source_segment(when.strip(), tree.comparators[0])
    return tree.left.id, _AST_OPS[type(tree.ops[0])], str(right)


def _ordered(table: RuleTable, added: list[Rule], disable: list[str]) -> tuple[Rule, ...]:
    """Built-in rules then the recipe's, tier by tier, without the disabled ones."""
    builtin = {r.code for r in table.rules}
    seen: set[str] = set()
    for i, rule in enumerate(added):
        if rule.code in builtin or rule.code in seen:
            where = (
                "a built-in rule (disable it to replace it)" if rule.code in builtin else "above"
            )
            raise RuleError(f"policy.rules.{i}.code", f"duplicate code {rule.code!r}: {where}")
        seen.add(rule.code)
    known = [*builtin, *seen]
    for i, code in enumerate(disable):
        if code in disable[:i]:
            raise RuleError(f"policy.disable.{i}", f"{code!r} is listed twice")
        if code not in known:
            raise RuleError(f"policy.disable.{i}", f"unknown code {code!r}{suggest(code, known)}")
    off = set(disable)
    tiers = {t: i for i, t in enumerate(table.tiers)}
    for i, rule in enumerate(added):
        if rule.supports and rule.outcome == table.default:
            continue  # the compiler checks the tiers it supports
        if rule.outcome not in tiers or rule.outcome == table.default:
            choices = [t for t in table.tiers if t != table.default]
            raise RuleError(
                f"policy.rules.{i}.outcome",
                f"unknown outcome {rule.outcome!r}{suggest(rule.outcome, choices)}; "
                f"expected one of {', '.join(choices)}",
            )
    merged = [r for r in table.rules if r.code not in off]
    for rule in added:
        if rule.code in off:
            continue
        # After the last kept rule of the same tier (or of a more severe one).
        at = max(
            (i + 1 for i, r in enumerate(merged) if tiers.get(r.outcome, 0) <= tiers[rule.outcome]),
            default=0,
        )
        merged.insert(at, rule)
    return tuple(
        dataclasses.replace(
            r, severity=i, supersedes=tuple(c for c in r.supersedes if c not in off)
        )
        for i, r in enumerate(merged)
    )
