"""The recipe's YAML extensions of a rule table, as pydantic models (documented in the schema).

`policy:` gains `params`, `quantities`, `rules` and `disable` (PolicyBase declares them for
every domain); `profiles.columns` holds extra sampled columns (factory.domains.rules.columns).
factory.domains.rules.extend turns these into table entries and checks them against the
domain's built-in table.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The closed set of units (model.UNITS, spelled out so type checkers see the literal).
Unit = Literal[
    "boolean",
    "category",
    "count",
    "days",
    "fraction",
    "hours",
    "integer",
    "km",
    "kmh",
    "minutes",
    "money",
    "months",
    "number",
    "percent",
    "ratio",
    "score",
    "years",
]
Op = Literal["!=", "<", "<=", "==", ">", ">="]

_NAME = r"^[a-z][a-z0-9_]{0,63}$"
_CODE = r"^[A-Z][A-Z0-9_]{1,63}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class QuantitySpec(_Spec):
    """A derived quantity: computed by an expression, compared by rules, cited as a fact."""

    expr: str = Field(
        ...,
        min_length=1,
        max_length=500,
        description="Expression over columns, params and other quantities, e.g. "
        "'net_operating_income / (12 * monthly_payment)'.",
    )
    unit: Unit = Field(
        "number",
        description="How text shows the value: money, fraction (cited as a percent), ratio "
        "(1.32x), count, years, months, score, boolean, category, ...",
    )
    round: int | None = Field(
        None, ge=0, le=10, description="Decimals kept before any rule compares the value."
    )
    label: str | None = Field(
        None, max_length=120, description="How text names it (default: the name, spaced)."
    )
    aliases: list[str] = Field(
        default_factory=list, description="Other words a text may use for it ('DSCR')."
    )
    applies: str | None = Field(
        None,
        max_length=500,
        description="Applicability: where this condition is false the value is missing.",
    )
    description: str = Field(
        "", max_length=300, description="One line: how it is computed (shown in the prompt)."
    )


class RuleSpec(_Spec):
    """A rule added by the recipe, after the built-in rules of the same tier."""

    code: str = Field(..., pattern=_CODE, description="Reason code, upper case (SHORT_RESIDENCE).")
    outcome: str | None = Field(
        None,
        description="The tier it sends the row to (lending: deny or refer; fraud: block "
        "or review); leave it out for a rule that only `supports` a tier.",
    )
    supports: list[str] = Field(
        default_factory=list,
        description="Tiers the rule explains without deciding them (credit_report: declined "
        "or improved): where it fires on a row of such a tier its code is a reason, ranked "
        "by `points` among the others that do.",
    )
    points: str | float | None = Field(
        None,
        description="For a rule that supports a tier: its weight among the reasons, a number "
        "or an expression (credit_report: the estimated score impact, e.g. '30').",
    )
    when: str | None = Field(
        None,
        max_length=500,
        description="Condition expression; may be left out when quantity, op and threshold "
        "are given (it is then `quantity op threshold`).",
    )
    quantity: str | None = Field(
        None,
        description="The quantity the rule is about (its number is cited, its gap to the "
        "threshold becomes a fact); inferred from a `when` that is one comparison.",
    )
    op: Op | None = Field(
        None, description="Comparison of quantity with threshold: > >= < <= == !=."
    )
    threshold: str | float | None = Field(
        None, description="A param name, a number or an expression on the other side of op."
    )
    applies: str | None = Field(
        None,
        max_length=500,
        description="Applicability: the rule is only considered where this holds.",
    )
    text: str = Field(
        ...,
        min_length=1,
        max_length=200,
        description="Adverse-action text sent with the code (no digits).",
    )
    noun: str | None = Field(
        None,
        max_length=120,
        description="How a conclusion names it as the principal reason (default: from text).",
    )
    fires: list[str] = Field(
        default_factory=list,
        description="Sentences the template teacher may write when the rule fires; "
        "placeholders {label}, {value}, {threshold}, {gap}.",
    )
    passes: list[str] = Field(
        default_factory=list,
        description="Sentences the template teacher may write when the rule is checked and "
        "passes (same placeholders).",
    )
    supersedes: list[str] = Field(
        default_factory=list,
        description="Codes this rule replaces when both fire (a deny rule replacing its "
        "refer-level twin).",
    )

    @field_validator("text")
    @classmethod
    def _no_digits(cls, text: str) -> str:
        if any(ch.isdigit() for ch in text):
            raise ValueError("the adverse-action text may not contain digits")
        return text

    @model_validator(mode="after")
    def _condition(self) -> RuleSpec:
        if self.when is None and (
            self.quantity is None or self.op is None or self.threshold is None
        ):
            raise ValueError("give `when`, or all of `quantity`, `op` and `threshold`")
        if self.outcome is None and not self.supports:
            raise ValueError("give `outcome` (the tier it decides) or `supports`")
        if self.points is not None and not self.supports:
            raise ValueError("`points` ranks a rule that `supports` a tier; give `supports`")
        return self


class InputSpec(_Spec):
    """An extra input column the rules may read (filled in from profiles.columns)."""

    unit: Unit = Field("number", description="Unit of the column.")
    label: str = Field("", description="How text names it.")
    aliases: list[str] = Field(default_factory=list, description="Other words for it.")
    values: list[str] = Field(default_factory=list, description="A categorical column's values.")
