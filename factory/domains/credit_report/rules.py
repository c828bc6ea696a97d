"""The credit-report policy as a rule table: trend tiers, listed changes, drivers and actions.

- Quantities: each report field before and after (inputs), its signed `_delta` (written, rounded
  like the field: utilization to four decimals, dollars to cents) and its size `_change` (not
  written; the facts and sentences cite it), the balance at the target utilization and the
  pay-down that reaches it.
- Trend: SCORE_DECLINED and SCORE_IMPROVED decide the tier from the score delta against the
  stable band (never named as reasons); no rule firing leaves the report "stable".
- Changes: one rule per listed change (policy.CHANGE_RULES), firing when the field moved in its
  direction by at least its listing threshold. It decides nothing: it is `listed` in
  `good_changes` or `bad_changes` and `supports` the trend it explains (good: improved, bad:
  declined), ranked by its `points`, an estimated score impact (a scorecard-style weight per
  unit of change, plus a bonus for the first derogatory item of a kind). The first four in the
  direction of the trend are the principal drivers; NO_NEW_NEGATIVE_ITEMS and MINOR_CHANGES are
  `fallback` drivers when no listed change explains the move.
- Actions: rules `listed` in `actions` (never reasons), most urgent first.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

from factory.domains.credit_report.policy import (
    ACTION_TEXTS,
    CHANGE_RULES,
    FIELDS,
    MINOR_CHANGES,
    MONEY_FIELDS,
    NO_NEW_NEGATIVE_ITEMS,
    REASON_TEXTS,
    CreditReportPolicy,
)
from factory.domains.rules import Param, Quantity, Rule, RuleTable, policy_params
from factory.domains.rules.engine import ragged

#: field -> (unit, how text names it on one report, other words for it).
_FIELD_WORDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "score": ("score", "credit score", ("score",)),
    "utilization": ("fraction", "credit utilization", ("utilization", "revolving utilization")),
    "revolving_balance": ("money", "revolving balances", ("revolving balance",)),
    "credit_limit": ("money", "total credit limits", ("credit limits", "total credit limit")),
    "installment_balance": (
        "money",
        "installment loan balances",
        ("installment balances", "installment loan balance"),
    ),
    "open_accounts": ("count", "open accounts", ()),
    "hard_inquiries": ("count", "hard inquiries", ()),
    "late_payments": ("count", "late payments", ()),
    "collections": ("count", "collection accounts", ("collections",)),
    "public_records": ("count", "public records", ()),
}

#: change code -> (estimated score points per unit of change, extra points when the field was
#: zero on the earlier report). Derogatory items weigh most (the first of its kind most of all),
#: then utilization, then inquiries and account changes; dollar balances and limits act mainly
#: through utilization and weigh little. Used only to order changes and drivers.
IMPACT: dict[str, tuple[float, float]] = {
    "PUBLIC_RECORD_ADDED": (70.0, 0.0),
    "NEW_COLLECTION": (20.0, 25.0),
    "NEW_LATE_PAYMENT": (20.0, 35.0),
    "UTILIZATION_UP": (150.0, 0.0),
    "HARD_INQUIRIES_UP": (5.0, 0.0),
    "ACCOUNT_OPENED": (6.0, 0.0),
    "ACCOUNT_CLOSED": (4.0, 0.0),
    "REVOLVING_BALANCE_UP": (0.0005, 0.0),
    "CREDIT_LIMIT_DOWN": (0.0003, 0.0),
    "INSTALLMENT_BALANCE_UP": (0.0003, 0.0),
    "PUBLIC_RECORD_REMOVED": (25.0, 0.0),
    "COLLECTION_REMOVED": (20.0, 0.0),
    "LATE_PAYMENT_REMOVED": (15.0, 0.0),
    "UTILIZATION_DOWN": (150.0, 0.0),
    "HARD_INQUIRIES_DOWN": (2.0, 0.0),
    "REVOLVING_BALANCE_DOWN": (0.0005, 0.0),
    "CREDIT_LIMIT_UP": (0.0003, 0.0),
    "INSTALLMENT_BALANCE_DOWN": (0.0003, 0.0),
}

#: field -> the param holding its listing threshold (counts: any change of one or more).
LISTING_PARAMS: dict[str, str] = {
    "utilization": "min_utilization_change",
    "revolving_balance": "min_balance_change",
    "installment_balance": "min_balance_change",
    "credit_limit": "min_credit_limit_change",
}

#: change code -> how a sentence names it as a driver (no digits).
DRIVER_NOUNS: dict[str, str] = {
    "PUBLIC_RECORD_ADDED": "a new public record",
    "NEW_COLLECTION": "a new collection account",
    "NEW_LATE_PAYMENT": "a new late payment",
    "UTILIZATION_UP": "higher credit utilization",
    "HARD_INQUIRIES_UP": "new hard inquiries",
    "ACCOUNT_OPENED": "newly opened accounts",
    "ACCOUNT_CLOSED": "closed accounts",
    "REVOLVING_BALANCE_UP": "higher revolving balances",
    "CREDIT_LIMIT_DOWN": "lower credit limits",
    "INSTALLMENT_BALANCE_UP": "higher installment loan balances",
    "PUBLIC_RECORD_REMOVED": "a public record coming off the report",
    "COLLECTION_REMOVED": "a collection account coming off the report",
    "LATE_PAYMENT_REMOVED": "a late payment coming off the report",
    "UTILIZATION_DOWN": "lower credit utilization",
    "HARD_INQUIRIES_DOWN": "older hard inquiries dropping off",
    "REVOLVING_BALANCE_DOWN": "lower revolving balances",
    "CREDIT_LIMIT_UP": "higher credit limits",
    "INSTALLMENT_BALANCE_DOWN": "paying down installment loans",
    NO_NEW_NEGATIVE_ITEMS: "a clean record with no new negative items",
    MINOR_CHANGES: "small changes across the report",
}


def _field_quantities(field: str) -> tuple[Quantity, ...]:
    unit, label, aliases = _FIELD_WORDS[field]
    digits = 4 if field == "utilization" else 2 if field in MONEY_FIELDS else None
    # Rounded like the stored values: the gaps and sentences then agree with them.
    shown = 4 if field == "utilization" else None
    # The field's bare name ("revolving balances moved from $2,052 to $1,688, down $364") is a
    # name of each of its four quantities: a number after it is one of them, and a limit named
    # with it is a limit of the one that has it (the size of the change has the listing
    # threshold). "change in <field>" is the signed change or its size.
    bare = (label, *aliases)
    changes = tuple(f"change in {name}" for name in bare)
    return (
        Quantity(
            f"{field}_before",
            f"{label} on the earlier report",
            (f"earlier {label}", f"previous {label}", *bare),
            unit,
            round=shown,
        ),
        Quantity(
            f"{field}_after",
            f"{label} on the latest report",
            (f"latest {label}", f"current {label}", *bare),
            unit,
            round=shown,
        ),
        Quantity(
            f"{field}_delta",
            f"change in {label}",
            (*changes[1:], *bare),
            unit,
            expr=f"{field}_after - {field}_before",
            round=digits,
            description=f"The latest {label} minus the earlier.",
        ),
        Quantity(
            f"{field}_change",
            f"size of the change in {label}",
            (*changes, *bare),
            unit,
            expr=f"abs({field}_delta)",
            output=False,
            description=f"How far {label} moved, either way.",
        ),
    )


def _quantities() -> tuple[Quantity, ...]:
    return (
        Quantity(
            "months_between", "months between the reports", ("months between reports",), "months"
        ),
        *(q for field in FIELDS for q in _field_quantities(field)),
        Quantity(
            "target_revolving_balance",
            "revolving balance at the target utilization",
            ("balance at the target",),
            "money",
            expr="credit_limit_after * target_utilization",
            round=2,
            description="Total credit limits on the latest report x the target utilization.",
        ),
        Quantity(
            "paydown_to_target",
            "pay-down to the target utilization",
            ("pay-down to the target",),
            "money",
            expr="max(round(revolving_balance_after - target_revolving_balance, 2), 0.0)",
            description="How far the latest revolving balances are above the balance at the "
            "target utilization (0 when at or below it).",
        ),
    )


#: param name -> (quantity it thresholds, label).
_PARAM_META: dict[str, tuple[str | None, str]] = {
    "stable_band_points": ("score_change", "stable band"),
    "min_utilization_change": ("utilization_change", "utilization listing threshold"),
    "min_balance_change": ("revolving_balance_change", "balance listing threshold"),
    "min_credit_limit_change": ("credit_limit_change", "credit limit listing threshold"),
    "target_utilization": ("utilization_after", "target utilization"),
    "inquiry_caution_count": ("hard_inquiries_after", "inquiry caution level"),
}


def _change_rule(code: str, field: str, direction: int, good: bool) -> Rule:
    signed = f"{field}_delta" if direction > 0 else f"-{field}_delta"
    param = LISTING_PARAMS.get(field)
    # A tiny tolerance so a stored change of exactly the threshold counts despite binary
    # floating point (0.25 - 0.23 rounds to 0.02, but 0.02 is not exact); counts are whole.
    when = f"{signed} >= {param} - listing_tolerance" if param else f"{signed} >= 1"
    per_unit, first = IMPACT[code]
    points = f"{per_unit!r} * {field}_change"
    if first:
        points += f" + where({field}_before == 0, {first!r}, 0.0)"
    return Rule(
        code=code,
        outcome="stable",
        when=when,
        quantity=f"{field}_change",
        op=">=",
        threshold=param or "1",
        text=REASON_TEXTS[code],
        noun=DRIVER_NOUNS[code],
        points=points,
        supports=("improved",) if good else ("declined",),
        listed="good_changes" if good else "bad_changes",
    )


def _action(code: str, when: str, **more: object) -> Rule:
    return Rule(
        code=code,
        outcome="stable",
        when=when,
        text=ACTION_TEXTS[code],
        reason=False,
        listed="actions",
        **more,  # type: ignore[arg-type]
    )


RULES: tuple[Rule, ...] = (
    Rule(
        code="SCORE_DECLINED",
        outcome="declined",
        when="score_delta <= -stable_band_points",
        quantity="score_delta",
        op="<=",
        threshold="-stable_band_points",
        text="The score fell by at least the stable band",
        reason=False,
        noun="the score falling by at least the stable band",
        prompt="Declined: the score fell by at least {stable_band_points} points.",
    ),
    Rule(
        code="SCORE_IMPROVED",
        outcome="improved",
        when="score_delta >= stable_band_points",
        quantity="score_delta",
        op=">=",
        threshold="stable_band_points",
        text="The score rose by at least the stable band",
        reason=False,
        noun="the score rising by at least the stable band",
        prompt="Improved: the score rose by at least {stable_band_points} points.",
    ),
    *(_change_rule(r.code, r.field, r.direction, r.good) for r in CHANGE_RULES),
    Rule(
        code=NO_NEW_NEGATIVE_ITEMS,
        outcome="stable",
        when="late_payments_delta <= 0 and collections_delta <= 0 and public_records_delta <= 0",
        text=REASON_TEXTS[NO_NEW_NEGATIVE_ITEMS],
        noun=DRIVER_NOUNS[NO_NEW_NEGATIVE_ITEMS],
        supports=("improved",),
        fallback=True,
    ),
    Rule(
        code=MINOR_CHANGES,
        outcome="stable",
        when="true",
        text=REASON_TEXTS[MINOR_CHANGES],
        noun=DRIVER_NOUNS[MINOR_CHANGES],
        supports=("improved", "declined"),
        fallback=True,
    ),
    _action("BRING_ACCOUNTS_CURRENT", "late_payments_delta > 0"),
    _action("DISPUTE_OR_RESOLVE_COLLECTIONS", "collections_after > 0"),
    _action("REVIEW_PUBLIC_RECORDS", "public_records_after > 0"),
    _action(
        "PAY_DOWN_REVOLVING",
        "utilization_after > target_utilization",
        quantity="utilization_after",
        op=">",
        threshold="target_utilization",
        gap="utilization_gap_to_target",
    ),
    _action(
        "LIMIT_NEW_APPLICATIONS",
        "hard_inquiries_delta > 0 or hard_inquiries_after >= inquiry_caution_count",
    ),
    _action("KEEP_OLD_ACCOUNTS_OPEN", "open_accounts_delta < 0"),
    _action("KEEP_PAYING_ON_TIME", "late_payments_delta <= 0"),
)

DECISION_WORDS: dict[str, tuple[str, ...]] = {
    "improved": ("improved",),
    "declined": ("declined",),
    "stable": ("stable",),
}


def builtin_table(policy: CreditReportPolicy, version: str, max_reasons: int) -> RuleTable:
    """The built-in credit-report table with the thresholds of `policy`.

    Args:
        policy: the recipe's thresholds.
        version: the policy_version stamped on labelled rows.
        max_reasons: principal drivers kept per row.
    """
    params = policy_params(policy, _PARAM_META)
    params["listing_tolerance"] = Param(
        name="listing_tolerance",
        value=1e-9,
        label="listing tolerance",
        description="Floating-point slack: a stored change of exactly the threshold is listed.",
    )
    return RuleTable(
        domain="credit_report",
        tiers=("declined", "improved", "stable"),
        default="stable",
        quantities={q.name: q for q in _quantities()},
        params=params,
        rules=tuple(dataclasses.replace(rule, severity=i) for i, rule in enumerate(RULES)),
        decision_words=DECISION_WORDS,
        version=version,
        max_reasons=max_reasons,
    )


def change_items(labelled: pl.DataFrame, column: str, table: RuleTable) -> pl.Series:
    """A listed-codes column of the compiled engine (List(String), largest impact first) as the
    report's List(Struct{code, before, after, delta}), each change with its field's numbers."""
    codes = labelled[column]
    count = codes.list.len().to_numpy()
    flat = pl.Series(codes.to_arrow().flatten(), dtype=pl.String) if len(codes) else codes.explode()
    fields = {
        r.code: str(r.quantity).removesuffix("_change") for r in table.rules if r.listed == column
    }
    rows = np.repeat(np.arange(len(codes)), count)
    values = {side: np.empty(len(rows)) for side in ("before", "after", "delta")}
    by_field: dict[str, np.ndarray] = {}
    for code, field in fields.items():
        by_field.setdefault(field, np.zeros(len(rows), dtype=bool))
        by_field[field] |= (flat == code).to_numpy()
    for field, pick in by_field.items():
        for side, out in values.items():
            out[pick] = labelled[f"{field}_{side}"].cast(pl.Float64).to_numpy()[rows[pick]]
    items = pl.DataFrame(
        [flat.alias("code"), *(pl.Series(side, v) for side, v in values.items())]
    ).to_struct()
    return ragged(count, items)
