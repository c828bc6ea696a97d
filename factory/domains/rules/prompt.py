"""The policy section of a system prompt, derived from the rule table, in two renderings.

`PolicyPrompt` is what a domain's system template reads (as `policy_prompt`):

- full: `lines(tier)` gives each rule's sentence (its `prompt`, or one derived from its
  condition for a recipe rule) and `recipe_quantities()` the recipe's derived quantities, for
  the template to lay out in prose (today's wording for the built-in rules);
- compact: `compact()` states every derived quantity, rule, threshold and reason code as
  tersely as stays unambiguous: conditions written as expressions with the thresholds filled in.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from factory.domains.rules.engine import compiled
from factory.domains.rules.expr import Node
from factory.domains.rules.model import Param, Quantity, Rule, RuleTable

_OP_WORDS = {
    ">": "above",
    ">=": "at or above",
    "<": "below",
    "<=": "at or below",
    "==": "equal to",
    "!=": "other than",
}
_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "in": 4, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6}


def param_text(param: Param, quantities: Mapping[str, Quantity]) -> str:
    """A param as a prompt shows it: a fraction's as a percentage with up to two decimals
    (43.0%), a ratio's as 1.25x, a float to two decimals (a tiny one, a tolerance, as 1e-09),
    a whole number as it is."""
    value = param.value
    quantity = quantities.get(param.quantity or "")
    unit = quantity.unit if quantity is not None else None
    if isinstance(value, bool | str):
        return str(value).lower() if isinstance(value, bool) else repr(value)
    if unit == "fraction":
        return f"{round(value * 100, 2)}%"
    if unit == "ratio":
        return f"{round(float(value), 2)}x"
    if isinstance(value, float):
        return str(round(value, 2)) if round(value, 2) or not value else f"{value:g}"
    return str(value)


class PolicyPrompt:
    """The policy of one rule table, as a system prompt states it (see the module docstring).

    Args:
        table: the rule table (built-in rules and the recipe's extensions).
        style: "full" or "compact".
    """

    def __init__(self, table: RuleTable, style: str = "full") -> None:
        self.table = table
        self.style = style
        self._code = compiled(table)

    @property
    def version(self) -> str:
        return self.table.version

    def params(self) -> dict[str, str]:
        """Param name -> the param as the prompt shows it."""
        quantities = self.table.quantities
        return {name: param_text(p, quantities) for name, p in self.table.params.items()}

    def lines(self, tier: str) -> list[str]:
        """The full prompt's sentence for each rule of `tier`, in severity order."""
        return [self.rule_line(rule) for rule in self.table.tier_rules(tier)]

    def rule_line(self, rule: Rule) -> str:
        """One rule's sentence: its `prompt` filled in, or derived from its condition."""
        shown = self.params()
        if rule.prompt:
            names = [f for _, f, _, _ in string.Formatter().parse(rule.prompt) if f]
            return rule.prompt.format(**{n: shown[n] for n in names})
        quantity = self.table.quantities.get(rule.quantity or "")
        if quantity is not None and rule.op is not None and rule.threshold is not None:
            threshold = shown.get(rule.threshold)
            if threshold is None:
                threshold = self.expression(self._threshold_node(rule))
            text = f"{quantity.label[:1].upper()}{quantity.label[1:]} {_OP_WORDS[rule.op]} "
            text += f"{threshold}"
        else:
            text = f"{self.expression(self._when(rule))}"
        if rule.applies is not None:
            text += f" (only when {self.expression(self._applies(rule))})"
        if rule.supports:
            text += f" (explains a {' or '.join(rule.supports)} trend; never decides it)"
        return text + "."

    def view(self) -> dict[str, Any]:
        """Everything a system prompt template reads, as plain data (templates are sandboxed
        and get no objects): style, version, the compact text, each tier's rule sentences (all
        rules, and the recipe's own), the recipe's derived quantities, the points-only rules
        and the reason texts."""
        table = self.table
        tiers = [*table.tiers]
        return {
            "style": self.style,
            "version": self.version,
            "compact": self.compact(),
            "lines": {tier: self.lines(tier) for tier in tiers},
            "recipe_lines": {
                tier: [self.rule_line(r) for r in table.tier_rules(tier) if r.source == "recipe"]
                for tier in tiers
            },
            "has_recipe_rules": any(rule.source == "recipe" for rule in table.rules),
            "recipe_quantities": self.recipe_quantities(),
            "points_rules": [
                (rule.code, rule.points, rule.text)
                for rule in table.rules
                if rule.outcome == table.default
            ],
            "reason_texts": table.reason_texts(),
        }

    def recipe_quantities(self) -> list[tuple[str, str]]:
        """(label, how it is computed) of each derived quantity the recipe added."""
        out = []
        for code in self._code.derived:
            quantity = code.quantity
            if quantity.source != "recipe":
                continue
            how = quantity.description or self.expression(code.expr)
            if quantity.round is not None:
                how += f" (rounded to {quantity.round} decimals)"
            out.append((quantity.label[:1].upper() + quantity.label[1:], how))
        return out

    def recipe_inputs(self) -> list[Quantity]:
        """The input columns the recipe added (shown in the user message)."""
        return [
            q for q in self.table.quantities.values() if q.source == "recipe" and q.expr is None
        ]

    def shown_inputs(self, row: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(label, value as text) of the recipe's input columns for one row."""
        from factory.domains.rules.text import show

        out = []
        for q in self.recipe_inputs():
            value = row.get(q.name)
            if value is None:
                text = "not available"
            elif q.kind == "bool":
                text = "yes" if value else "no"
            elif q.kind == "cat":
                text = str(value).replace("_", " ")
            else:
                text = show([value], q.unit)[0]
            out.append((q.label[:1].upper() + q.label[1:], text))
        return out

    def compact(self) -> str:
        """Every derived quantity, rule, threshold and code, tersely (the compact rendering)."""
        table = self.table
        parts = []
        derived = []
        for code in self._code.derived:
            q = code.quantity
            text = f"{q.name} = {self.expression(code.expr)}"
            if code.applies is not None:
                text += f" [if {self.expression(code.applies)}]"
            if q.round is not None:
                text += f" ~{q.round}dp"
            derived.append(text)
        parts.append("Compute: " + "; ".join(derived) + ".")
        others = [t for t in table.tiers if t != table.default]
        texts = table.reason_texts()
        for i, tier in enumerate(others):
            parts.append(f"{tier} if any:" if i == 0 else f"else {tier} if any:")
            for rc in self._code.rules:
                if rc.rule.outcome != tier:
                    continue
                condition = self.expression(rc.when)
                if rc.applies is not None:
                    condition = f"{self.expression(rc.applies)}: {condition}"
                reason = texts.get(rc.rule.code)
                line = f"- {rc.rule.code} ({condition})"
                parts.append(f"{line}: {reason}" if reason else line)
        parts.append(
            f"else {table.default}. Comparisons strict as written; ~N: rounded to N decimals "
            "first; a missing value fails."
        )
        parts += self._compact_explained()
        return "\n".join(parts)

    def _compact_explained(self) -> list[str]:
        """Supporting rules (reasons of the tiers they support, ranked by points) and listed
        rules (the columns they are written to), for a table that has them."""
        parts = []
        supporting = [rc for rc in self._code.rules if rc.rule.supports]
        if supporting:
            tiers = [t for t in self.table.tiers if any(t in rc.rule.supports for rc in supporting)]
            parts.append(
                f"Reasons of {' or '.join(tiers)}"
                f" (at most {self.table.max_reasons}): the rules below that support the decision, "
                "most points first; a fallback only when none applies:"
            )
            for rc in supporting:
                tags = [f"supports {'/'.join(rc.rule.supports)}"]
                if rc.points is not None:
                    tags.append(f"points {self.expression(rc.points)}")
                if rc.rule.fallback:
                    tags.append("fallback")
                if rc.rule.listed:
                    tags.append(f"listed in {rc.rule.listed}")
                line = f"- {rc.rule.code} [{'; '.join(tags)}] ({self.expression(rc.when)})"
                parts.append(f"{line}: {rc.rule.text}" if rc.rule.text else line)
        for name in self.table.lists():
            others = [
                rc for rc in self._code.rules if rc.rule.listed == name and not rc.rule.supports
            ]
            if others:
                parts.append(f"{name}, in this order, each that applies:")
                parts += [
                    f"- {rc.rule.code} ({self.expression(rc.when)}): {rc.rule.text}"
                    for rc in others
                ]
        return parts

    # -- expressions as text ------------------------------------------------------------------

    def _when(self, rule: Rule) -> Node:
        return next(rc.when for rc in self._code.rules if rc.rule.code == rule.code)

    def _applies(self, rule: Rule) -> Node:
        node = next(rc.applies for rc in self._code.rules if rc.rule.code == rule.code)
        assert node is not None
        return node

    def _threshold_node(self, rule: Rule) -> Node:
        node = next(rc.threshold for rc in self._code.rules if rc.rule.code == rule.code)
        assert node is not None
        return node

    def expression(self, node: Node) -> str:
        """An expression as text, params replaced by their values as the prompt shows them."""
        return _text(node, self.params(), 0)


def _text(node: Node, params: Mapping[str, str], outer: int) -> str:
    op, a = node.op, node.args
    if op == "const":
        value: Any = node.value
        if isinstance(value, bool):
            return str(value).lower()
        return repr(value) if isinstance(value, str) else f"{value:g}"
    if op == "ref":
        return params.get(node.value, node.value)
    if op == "call":
        return f"{node.value}(" + ", ".join(_text(x, params, 0) for x in a) + ")"
    if op == "neg":
        return "-" + _text(a[0], params, 7)
    if op == "not":
        inner = a[0]
        if inner.op == "in":
            return _wrap(_in(inner, params, "not in"), _PRECEDENCE["in"], outer)
        return _wrap("not " + _text(inner, params, 3), 3, outer)
    if op == "in":
        return _wrap(_in(node, params, "in"), _PRECEDENCE["in"], outer)
    if op in ("and", "or"):
        level = _PRECEDENCE[op]
        return _wrap(f" {op} ".join(_text(x, params, level + 1) for x in a), level, outer)
    level = _PRECEDENCE.get(op, 4)
    if op == "**":
        level = 7
    left, right = _text(a[0], params, level), _text(a[1], params, level + 1)
    return _wrap(f"{left} {op} {right}", level, outer)


def _in(node: Node, params: Mapping[str, str], word: str) -> str:
    values = ", ".join(repr(v) for v in node.value)
    return f"{_text(node.args[0], params, 5)} {word} [{values}]"


def _wrap(text: str, level: int, outer: int) -> str:
    return f"({text})" if level < outer else text
