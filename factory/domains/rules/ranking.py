"""A row's outcome from the rules that fired: its decision and its ranked reason codes.

One function serves the compiled engine (called once per distinct combination of fired rules
and points) and the row-by-row interpretation (called per row), so the two cannot drift.

Semantics:

1. codes superseded by a firing rule are dropped; the decision is the most severe tier among
   the remaining rules (the table's `default` when none decided);
2. a row at the default tier gets no reason codes;
3. a table without points lists the remaining rules in severity (table) order;
4. a scored table (some rule carries `points`, e.g. fraud's additive risk score) names every
   rule that decided on its own or scored points, ranked by the tier it decided (most severe
   first; rules that only scored rank last), then by its points, then in table order;
5. rules with `reason=False` (a score's own threshold) decide but are never named;
6. a rule that `supports` the row's decision and fired is named after the deciding rules,
   ranked by its points (largest first), then table order; a `fallback` rule only when nothing
   else is named (the first that fired);
7. at most `max_reasons` codes are kept.

`listed` gives the codes of each list column (Rule.listed): the fired rules of the list that
no firing rule supersedes, ranked by points (largest first), then table order, whatever the
decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from factory.domains.rules.model import Rule, RuleTable


def outcome(
    table: RuleTable, fired: Sequence[Rule], points: Mapping[str, float] | None = None
) -> tuple[str, list[str]]:
    """(decision, reason codes) of one row.

    Args:
        table: the rule table.
        fired: the rules whose `applies` and `when` hold for the row, in table order.
        points: reason code -> the points its rule scored for the row (scored tables).
    """
    superseded = {code for rule in fired for code in rule.supersedes}
    kept = [rule for rule in fired if rule.code not in superseded]
    decided = {rule.code for rule in kept if rule.outcome != table.default}
    decision = next(
        (tier for tier in table.tiers if any(r.outcome == tier for r in kept)), table.default
    )
    if decision == table.default:
        return decision, []
    scores = points or {}
    if not table.scored:
        codes = [r.code for r in kept if r.reason and r.code in decided]
        support = [r for r in kept if r.reason and decision in r.supports]
        codes += [r.code for r in _ranked([r for r in support if not r.fallback], scores)]
        if not codes:
            codes = [r.code for r in support if r.fallback][:1]
        return decision, codes[: table.max_reasons]
    tiers = table.tiers

    def rank(rule: Rule) -> tuple[int, float, int]:
        tier = tiers.index(rule.outcome) if rule.code in decided else len(tiers)
        return (tier, -float(scores.get(rule.code, 0)), rule.severity)

    named = [
        rule
        for rule in table.rules
        if rule.reason
        and rule.code not in superseded
        and (rule.code in decided or float(scores.get(rule.code, 0) or 0) > 0)
    ]
    return decision, [rule.code for rule in sorted(named, key=rank)][: table.max_reasons]


def _ranked(rules: Sequence[Rule], points: Mapping[str, float]) -> list[Rule]:
    """`rules` by points, largest first, then table order."""
    return sorted(rules, key=lambda r: (-float(points.get(r.code, 0) or 0), r.severity))


def listed(
    table: RuleTable, fired: Sequence[Rule], points: Mapping[str, float] | None = None
) -> dict[str, list[str]]:
    """List column -> the codes of one row's fired rules listed in it, ranked (see above).

    Args:
        table: the rule table.
        fired: the rules whose `applies` and `when` hold for the row, in table order.
        points: reason code -> the row's points of each rule that has them.
    """
    superseded = {code for rule in fired for code in rule.supersedes}
    kept = [rule for rule in fired if rule.code not in superseded]
    scores = points or {}
    return {
        name: [r.code for r in _ranked([r for r in kept if r.listed == name], scores)]
        for name in table.lists()
    }
