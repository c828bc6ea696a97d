"""The data model of a rule table: quantities, parameters, rules and the table that holds them.

Everything here is plain frozen data. The expression language (factory.domains.rules.expr)
reads the expressions, the compiler (factory.domains.rules.engine) turns a table into the
vectorised engine, and factory.domains.rules.extend applies a recipe's YAML on top of a
domain's built-in table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

#: The closed set of units a quantity may have; the unit says how text shows the value.
UNITS: frozenset[str] = frozenset(
    {
        "money",  # dollars: $84,312 or $1,234.56
        "fraction",  # a share stored as 0.4312, cited as a percent (43.1%) or as 0.43
        "percent",  # already a percent (43.1)
        "score",  # a credit or risk score (integer)
        "count",  # how many of something (integer)
        "years",
        "months",
        "days",
        "hours",
        "minutes",
        "km",
        "kmh",  # a speed in km/h
        "integer",
        "number",
        "ratio",  # a multiple, cited as 1.32x or 1.32
        "boolean",
        "category",
    }
)

#: Comparison operators a simple rule may use between its quantity and its threshold.
OPS: frozenset[str] = frozenset({">", ">=", "<", "<=", "==", "!="})

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def value_kind(unit: str) -> str:
    """The expression type of a unit: "bool", "cat" (a string category) or "num"."""
    if unit == "boolean":
        return "bool"
    if unit == "category":
        return "cat"
    return "num"


@dataclass(frozen=True)
class Quantity:
    """A number (or category, or flag) a rule compares or an explanation may cite.

    Attributes:
        name: the column the engine reads (an input) or writes (a derived quantity).
        label: how text names it ("debt-to-income ratio").
        aliases: other words text may use for it ("DTI", "back-end ratio").
        unit: one of UNITS.
        expr: expression over columns, params and other quantities; None for an input column.
        round: decimals kept for a derived quantity (money 2, ratios 4), applied before any rule
            compares it; also the rounding of its gaps to thresholds.
        applies: applicability expression; where it is false the value is missing (null).
        output: a derived quantity the engine writes to the labelled frame; False for helper
            quantities (a per-row threshold such as the LTV maximum of the loan's purpose),
            which `RuleTable.row_values` still computes.
        present_words: boolean quantities: words a text uses to say it is present/true.
        absent_words: boolean quantities: words a text uses to say it is absent/false.
        value_words: category quantities: value -> words a text uses for it.
        description: one line for prompts and cards.
        source: "builtin" or "recipe".
    """

    name: str
    label: str
    aliases: tuple[str, ...] = ()
    unit: str = "number"
    expr: str | None = None
    round: int | None = None
    applies: str | None = None
    output: bool = True
    present_words: tuple[str, ...] = ()
    absent_words: tuple[str, ...] = ()
    value_words: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    description: str = ""
    source: str = "builtin"

    @property
    def kind(self) -> str:
        """ "num", "bool" or "cat" (see value_kind)."""
        return value_kind(self.unit)

    @property
    def percent(self) -> bool:
        """True when text may show the value as a percentage of a fraction."""
        return self.unit == "fraction"


@dataclass(frozen=True)
class Param:
    """A policy parameter: a threshold or setting a recipe may change.

    Attributes:
        name: "max_dti".
        value: its value in the unit of `quantity` (a fraction for a ratio's threshold).
        quantity: the quantity it is a threshold of, or None.
        label: how text names it ("maximum DTI").
        description: one line (the recipe field's description).
        source: "builtin" or "recipe".
    """

    name: str
    value: float | int | str | bool
    quantity: str | None = None
    label: str = ""
    description: str = ""
    source: str = "builtin"

    @property
    def kind(self) -> str:
        """ "num", "bool" or "cat", from the value's type."""
        if isinstance(self.value, bool):
            return "bool"
        if isinstance(self.value, str):
            return "cat"
        return "num"


def policy_params(policy: Any, meta: Mapping[str, tuple[str | None, str]]) -> dict[str, Param]:
    """A built-in table's params from a recipe's policy model: for each field name in `meta`,
    its value, the quantity it is a threshold of and its label (`meta`: name -> (quantity,
    label)), described by the field's own description."""
    fields = type(policy).model_fields
    return {
        name: Param(
            name=name,
            value=getattr(policy, name),
            quantity=quantity,
            label=label,
            description=fields[name].description or "",
        )
        for name, (quantity, label) in meta.items()
    }


@dataclass(frozen=True)
class Rule:
    """One policy rule: when `when` holds (and `applies`), the row gets `code` at `outcome`.

    Attributes:
        code: reason code ("DTI_ABOVE_MAX").
        outcome: the tier it sends the row to (one of the table's tiers, never its default).
        when: condition expression over quantities, params and columns.
        quantity: the quantity the rule is about; None for a compound rule about no single one.
        op: for a rule that is one comparison `quantity op threshold`: one of OPS.
        threshold: the param or quantity name (or an expression) on the other side of `op`.
        applies: applicability; where false the rule is not considered (neither fires nor
            passes).
        text: adverse-action text (no digits, so the numbers verifier never reads them).
        fires: template-teacher sentence forms when the rule fires; placeholders {value},
            {threshold}, {gap}, {label} and {threshold_label} are filled with formatted values.
        passes: the same when the rule is checked and passes.
        severity: position in the table (lower = more severe): the order of reason codes.
        source: "builtin" or "recipe".
        supersedes: codes this rule replaces when both fire (a deny-level code replaces its
            refer-level twin: DTI_ABOVE_MAX supersedes DTI_ABOVE_REFER).
        gap: name of the fact holding |quantity - threshold| (rounded like the quantity);
            None when the explanation never cites that distance.
        noun: how a conclusion names the rule as a principal reason ("the recent bankruptcy").
        points: the numeric quantity holding the points this rule adds to a score for the row
            (fraud: "pts_new_device"). A table whose rules carry points ranks the reasons of an
            adverse row by points (see factory.domains.rules.ranking); a rule with points may
            have the default tier as its outcome: it then decides nothing on its own and is a
            reason whenever it scored. For a rule that `supports` a tier, any numeric
            expression: the weight (credit report: the estimated score impact) that ranks it
            among the rules supporting the same tier and in its `listed` column.
        supports: the tiers this rule explains without deciding them (its outcome is the
            default tier): where it fires on a row decided one of them, its code is a reason,
            after the deciding rules' reasons, ranked by points (largest first), then table
            order (credit report: a listed bad change supports "declined").
        fallback: a supporting rule named only when no other rule gives the row a reason (the
            score moved and no listed change explains it); the first that fires is named.
        listed: the List(String) column the engine writes this rule's code into wherever it
            fires, ranked like the reasons (points, then table order), whatever the decision
            (credit report: "good_changes", "actions").
        reason: False for a rule that decides but is never named as a reason (a score's own
            threshold: the signals that scored are the reasons).
        prompt: the rule's line in the full system prompt, with {param} placeholders filled
            with the param as the prompt shows it ("DTI above {max_dti}." -> "DTI above
            43.0%."); empty: a line is derived from the condition.
    """

    code: str
    outcome: str
    when: str
    quantity: str | None = None
    op: str | None = None
    threshold: str | None = None
    applies: str | None = None
    text: str = ""
    fires: tuple[str, ...] = ()
    passes: tuple[str, ...] = ()
    severity: int = 0
    source: str = "builtin"
    supersedes: tuple[str, ...] = ()
    gap: str | None = None
    noun: str = ""
    points: str | None = None
    reason: bool = True
    prompt: str = ""
    supports: tuple[str, ...] = ()
    fallback: bool = False
    listed: str | None = None


def _additive(rule: Rule) -> bool:
    """A rule whose points add to a score (fraud), not weights that rank supporting rules."""
    return rule.points is not None and not rule.supports and rule.listed is None


@dataclass(frozen=True)
class Helper:
    """A named function an expression may call (the domain's, e.g. amortized_payment).

    Attributes:
        name: the name expressions use.
        arity: number of arguments (all numeric).
        polars: builds the vectorised expression from the argument expressions.
        python: computes one value from the argument values (the row-by-row interpretation);
            must agree with `polars` to the last bit on the same inputs.
        description: one line for the prompt and the README.
    """

    name: str
    arity: int
    polars: Callable[..., pl.Expr]
    python: Callable[..., float]
    description: str = ""


@dataclass(frozen=True)
class RuleTable:
    """A domain's whole policy as data (see the package docstring).

    Attributes:
        domain: the domain's registry name.
        tiers: decision labels, most severe first ("deny", "refer", "approve").
        default: the label when no rule fires ("approve"); the last tier.
        quantities: name -> Quantity, inputs first, derived quantities in dependency order.
        params: name -> Param.
        rules: in severity order (rule.severity == its index).
        helpers: name -> Helper the expressions may call besides the built-in functions.
        decision_words: tier -> words a text uses for that decision ("deny": "denied", ...).
        version: policy_version stamped on every labelled row.
        max_reasons: reason codes kept per row (ECOA/Reg B: at most four principal reasons).
    """

    domain: str
    tiers: tuple[str, ...]
    default: str
    quantities: Mapping[str, Quantity]
    params: Mapping[str, Param]
    rules: tuple[Rule, ...]
    helpers: Mapping[str, Helper] = field(default_factory=lambda: _EMPTY)
    decision_words: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    version: str = ""
    max_reasons: int = 4

    def rule(self, code: str) -> Rule:
        """The rule with reason code `code` (KeyError when there is none)."""
        for rule in self.rules:
            if rule.code == code:
                return rule
        raise KeyError(code)

    def reason_texts(self) -> dict[str, str]:
        """Reason code -> adverse-action text, in severity order (rules named as reasons)."""
        return {rule.code: rule.text for rule in self.rules if rule.reason}

    @property
    def scored(self) -> bool:
        """True when some rule neither supporting a tier nor listed carries points (an
        additive score): reasons are then ranked by points."""
        return any(_additive(rule) for rule in self.rules)

    @property
    def explained(self) -> bool:
        """True when some rule supports a tier or is listed in a column of its own."""
        return any(rule.supports or rule.listed is not None for rule in self.rules)

    def lists(self) -> tuple[str, ...]:
        """The list columns the rules are `listed` in, in table order."""
        return tuple(dict.fromkeys(r.listed for r in self.rules if r.listed is not None))

    def tier_rules(self, tier: str) -> tuple[Rule, ...]:
        """The rules whose outcome is `tier`, in severity order."""
        return tuple(rule for rule in self.rules if rule.outcome == tier)

    def param_values(self) -> dict[str, Any]:
        """Param name -> value."""
        return {name: param.value for name, param in self.params.items()}
