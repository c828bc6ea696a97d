"""Rule tables: a domain's policy declared once, as data, and everything else derived from it.

A domain builds its `RuleTable` (factory.domains.rules.model) in its own package (lending:
factory/domains/lending/rules.py) and names the builder on its Domain class:

    class LendingDomain(Domain):
        table_builder = staticmethod(builtin_table)   # (policy, policy_version, max_reasons)

`Domain.rule_table(policy)` then returns the built-in table with the policy's thresholds plus
the recipe's YAML extensions (factory.domains.rules.extend), validated, cached per policy object.

The pieces of a table:

- `Quantity`: every number (or flag, or category) a rule compares or a text may cite. An input
  column has `expr=None`; a derived quantity has an expression over inputs, params and earlier
  quantities, a `round` (decimals kept before any rule compares it) and an optional `applies`
  (null where it does not apply, e.g. LTV of an unsecured loan). `output=False` marks a helper
  quantity the engine computes but does not write (a per-row threshold).
- `Param`: a threshold or setting (the recipe's `policy:` values and `policy.params`).
- `Rule`: a reason code at an outcome tier, with a `when` condition, an optional `applies`,
  and for a single comparison its (quantity, op, threshold), which the facts (gaps), the
  prompt and the template teacher read. `supersedes` lists codes the rule replaces when both
  fire (a deny-level code replaces its refer-level twin). Severity is the table order.
- `Helper`: a domain function expressions may call (lending: amortized_payment), given once
  as a polars builder and once as a Python function that agree to the last bit.

Semantics (the compiled engine, factory.domains.rules.engine, and the row-by-row
interpretation, factory.domains.rules.interpret, implement the same):

1. derived quantities are computed in table order, rounded half-to-even to `round` decimals
   (numpy's rule), and set to null where `applies` is false;
2. a rule fires where `applies` and `when` are both true; a missing value (null) makes a
   comparison unknown and an unknown rule does not fire;
3. codes superseded by a firing rule are dropped; the decision is the most severe tier among
   the remaining codes (the table's `default` when none fired);
4. reason_codes are the remaining codes in severity order, at most `max_reasons`.

Expressions (factory.domains.rules.expr) are parsed with Python's `ast` in eval mode against a
node whitelist and compiled to polars expressions once: numbers, 'strings', true/false,
+ - * / ** , comparisons, and/or/not, `x in [...]`, round/min/max/abs/log/exp/where and the
table's helpers. Never eval, no attribute access, bounded length and depth. Errors are
`RuleError`s naming the field path and the column where the expression breaks.
"""

from factory.domains.rules.model import (
    OPS,
    UNITS,
    Helper,
    Param,
    Quantity,
    Rule,
    RuleTable,
    policy_params,
    value_kind,
)

__all__ = [
    "OPS",
    "UNITS",
    "Helper",
    "Param",
    "Quantity",
    "Rule",
    "RuleTable",
    "policy_params",
    "value_kind",
]
