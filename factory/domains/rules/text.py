"""Sentences about rules, derived from the table: what the template teachers write about a rule
that has no hand-written step (every recipe rule, and built-in ones whose step no longer fits).

Numbers are shown by unit with the helpers of factory.domains._text, so the numbers verifier
reads back exactly the facts (factory.domains.rules.facts): money as $1,234.56, a fraction as a
percentage (a gap between two percentages in percentage points), a ratio as 1.32x, counts and
scores as whole numbers, anything else with the decimals it needs.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from factory.domains._text import money, num, pct
from factory.domains.rules.model import Quantity, Rule, RuleTable

#: Default sentence forms by operator: (when the rule fires, when it passes).
_FIRES: dict[str, tuple[str, ...]] = {
    "<": (
        "{Label} of {value} is below the {threshold} minimum by {gap}, a reason to {outcome}.",
        "At {value}, {label} falls short of the {threshold} the policy requires ({gap} "
        "below it), a reason to {outcome}.",
    ),
    "<=": (
        "{Label} of {value} is at or below the {threshold} level, a reason to {outcome}.",
        "At {value}, {label} does not exceed {threshold}, which is a reason to {outcome}.",
    ),
    ">": (
        "{Label} of {value} is above the {threshold} maximum by {gap}, a reason to {outcome}.",
        "At {value}, {label} exceeds the {threshold} limit by {gap}, a reason to {outcome}.",
    ),
    ">=": (
        "{Label} of {value} reaches the {threshold} level, a reason to {outcome}.",
        "At {value}, {label} is at or above {threshold}, which is a reason to {outcome}.",
    ),
    "==": ("{Label} is {value}, a reason to {outcome}.",),
    "!=": ("{Label} of {value} differs from {threshold}, a reason to {outcome}.",),
}
_PASSES: dict[str, tuple[str, ...]] = {
    "<": (
        "{Label} of {value} meets the {threshold} minimum.",
        "At {value}, {label} is not below the {threshold} the policy requires.",
    ),
    "<=": ("{Label} of {value} is above the {threshold} level, so it passes.",),
    ">": (
        "{Label} of {value} is within the {threshold} maximum.",
        "At {value}, {label} does not exceed the {threshold} limit.",
    ),
    ">=": ("{Label} of {value} is below the {threshold} level, so it passes.",),
    "==": ("{Label} is {value}, so this rule does not apply.",),
    "!=": ("{Label} of {value} equals {threshold}, so it passes.",),
}
_COMPOUND_FIRES = ("The {code} rule applies ({text}), a reason to {outcome}.",)
_COMPOUND_PASSES = ("The {code} rule does not apply.",)

_WHOLE_UNITS = frozenset({"score", "count", "integer"})


def show(values: Sequence[float], unit: str) -> list[str]:
    """`values` of one unit as text, with enough decimals that distinct values look distinct."""
    if unit == "money":
        cents = any(round(v, 2) != round(v) for v in values)
        return [money(v, cents=cents) for v in values]
    if unit == "fraction":
        return _distinct(values, lambda v, d: pct(v, d), 1, 4)
    if unit == "ratio":
        return _distinct(values, lambda v, d: f"{num(v, d)}x", 2, 4)
    if unit == "percent":
        return _distinct(values, lambda v, d: f"{num(v, d)}%", 1, 4)
    if unit in _WHOLE_UNITS:
        return [num(v) for v in values]
    # As many decimals as the values have (up to four): 1.95 years is not shown as 1.9.
    least = next((d for d in range(4) if all(round(v, d) == v for v in values)), 4)
    return _distinct(values, lambda v, d: num(v, d), least, 4)


def show_gap(gap: float, unit: str) -> str:
    """A distance between a value and its threshold; a fraction's in percentage points."""
    if unit == "fraction":
        points = gap * 100
        digits = 1 if round(points, 1) != 0 or points == 0 else 2
        return f"{num(points, digits)} percentage points"
    return show([gap], unit)[0]


def _distinct(values: Sequence[float], fmt: Any, least: int, most: int) -> list[str]:
    shown = [fmt(v, least) for v in values]
    for digits in range(least + 1, most + 1):
        if len(set(shown)) == len(set(values)):
            break
        shown = [fmt(v, digits) for v in values]
    return shown


def article(number_text: str) -> str:
    """'an' before a number said with a vowel sound (an 811, an 18, an 11,400), else 'a'."""
    digits = number_text.lstrip("$").split(".")[0]
    lead = digits.split(",")[0]
    if lead.startswith("8") or lead in ("11", "18"):
        return "an"
    return "a"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def rule_sentence(
    table: RuleTable,
    rule: Rule,
    values: Mapping[str, Any],
    fired: bool,
    rng: random.Random,
) -> str:
    """One sentence saying whether `rule` fired for the row, citing its numbers.

    Args:
        table: the rule table.
        rule: the rule to write about.
        values: the row's fact values (factory.domains.rules.facts.fact_values).
        fired: whether the rule fired for the row.
        rng: seeded generator choosing the form.
    """
    quantity: Quantity | None = table.quantities.get(rule.quantity or "")
    forms = rule.fires if fired else rule.passes
    value = values.get(rule.quantity or "")
    limit = _threshold(table, rule, values)
    simple = quantity is not None and rule.op is not None and value is not None
    if not forms:
        if simple and limit is not None:
            forms = (_FIRES if fired else _PASSES)[str(rule.op)]
        else:
            forms = _COMPOUND_FIRES if fired else _COMPOUND_PASSES
    fields: dict[str, str] = {
        "code": rule.code,
        "text": rule.text[:1].lower() + rule.text[1:],
        # A supporting rule decides nothing: it may be named as a driver of its tiers.
        "outcome": rule.outcome if not rule.supports else "name it as a driver",
        "label": quantity.label if quantity else rule.code,
        "Label": _capital(quantity.label if quantity else rule.code),
        "value": "",
        "threshold": "",
        "gap": "",
        "threshold_label": "",
    }
    if quantity is not None and value is not None:
        shown = [value] if limit is None else [value, limit]
        texts = show(shown, quantity.unit) if quantity.kind == "num" else [str(v) for v in shown]
        fields["value"] = texts[0]
        if limit is not None:
            fields["threshold"] = texts[1]
        gap = values.get(rule.gap or "")
        if gap is not None:
            fields["gap"] = show_gap(gap, quantity.unit)
        elif limit is not None and quantity.kind == "num":
            fields["gap"] = show_gap(abs(value - limit), quantity.unit)
    param = table.params.get(rule.threshold or "")
    if param is not None:
        fields["threshold_label"] = param.label
    form = rng.choice(forms)
    if not fields["gap"]:
        # A form that cites the gap cannot be used without one.
        plain = [f for f in forms if "{gap}" not in f]
        form = rng.choice(plain) if plain else form
    return form.format(**fields)


def _threshold(table: RuleTable, rule: Rule, values: Mapping[str, Any]) -> Any:
    if rule.threshold is None:
        return None
    if rule.threshold in values:
        return values[rule.threshold]
    try:
        return float(rule.threshold)
    except ValueError:
        return None


def quantity_sentences(
    table: RuleTable,
    rules: Sequence[Rule],
    values: Mapping[str, Any],
    fired: set[str],
    rng: random.Random,
) -> list[str]:
    """One sentence per quantity the `rules` compare (and one per compound rule): the most
    severe rule that fired on it, else the strictest that passed."""
    groups: dict[str, list[Rule]] = {}
    for rule in rules:
        groups.setdefault(rule.quantity or f"#{rule.code}", []).append(rule)
    sentences = []
    for group in groups.values():
        hit = next((r for r in group if r.code in fired), None)
        chosen, did_fire = (hit, True) if hit is not None else (group[-1], False)
        sentences.append(rule_sentence(table, chosen, values, did_fire, rng))
    return sentences


def fired_codes(table: RuleTable, row: Mapping[str, Any]) -> set[str]:
    """The codes of every rule that fired for a labelled row (before supersedes and the reason
    limit, which the row's reason_codes reflect)."""
    from factory.domains.rules.engine import compiled
    from factory.domains.rules.interpret import fired_rules, row_values

    return {r.code for r in fired_rules(compiled(table), row_values(table, row))}
