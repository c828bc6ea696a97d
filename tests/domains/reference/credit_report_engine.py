"""Frozen copy of the credit-report engine before rule tables (commit e4163ab): the reference
the table-compiled engine must equal on decisions, reason codes, listed changes, actions and
every derived number. Do not edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa

from factory.domains.credit_report.policy import CreditReportPolicy

#: Report fields compared before and after (columns `<field>_before`, `<field>_after`).
FIELDS: tuple[str, ...] = (
    "score",
    "utilization",
    "revolving_balance",
    "credit_limit",
    "installment_balance",
    "open_accounts",
    "hard_inquiries",
    "late_payments",
    "collections",
    "public_records",
)
#: Fields stored as whole numbers (counts and the score).
COUNT_FIELDS: frozenset[str] = frozenset(
    {"score", "open_accounts", "hard_inquiries", "late_payments", "collections", "public_records"}
)
MONEY_FIELDS: frozenset[str] = frozenset(
    {"revolving_balance", "credit_limit", "installment_balance"}
)
#: New derogatory items; their absence lets older items age, which lifts a score.
DEROGATORY_FIELDS: tuple[str, ...] = ("late_payments", "collections", "public_records")


@dataclass(frozen=True)
class ChangeRule:
    """One kind of listed change.

    Attributes:
        code: UPPER_SNAKE_CASE change code.
        field: the report field it compares.
        direction: +1 when listed for a rise of the field, -1 for a fall.
        good: True for the "Good:" list, False for the "Bad:" list.
    """

    code: str
    field: str
    direction: Literal[1, -1]
    good: bool


#: Candidate changes, in the order used to break ties of estimated impact.
CHANGE_RULES: tuple[ChangeRule, ...] = (
    ChangeRule("PUBLIC_RECORD_ADDED", "public_records", 1, False),
    ChangeRule("NEW_COLLECTION", "collections", 1, False),
    ChangeRule("NEW_LATE_PAYMENT", "late_payments", 1, False),
    ChangeRule("UTILIZATION_UP", "utilization", 1, False),
    ChangeRule("HARD_INQUIRIES_UP", "hard_inquiries", 1, False),
    ChangeRule("ACCOUNT_OPENED", "open_accounts", 1, False),
    ChangeRule("ACCOUNT_CLOSED", "open_accounts", -1, False),
    ChangeRule("REVOLVING_BALANCE_UP", "revolving_balance", 1, False),
    ChangeRule("CREDIT_LIMIT_DOWN", "credit_limit", -1, False),
    ChangeRule("INSTALLMENT_BALANCE_UP", "installment_balance", 1, False),
    ChangeRule("PUBLIC_RECORD_REMOVED", "public_records", -1, True),
    ChangeRule("COLLECTION_REMOVED", "collections", -1, True),
    ChangeRule("LATE_PAYMENT_REMOVED", "late_payments", -1, True),
    ChangeRule("UTILIZATION_DOWN", "utilization", -1, True),
    ChangeRule("HARD_INQUIRIES_DOWN", "hard_inquiries", -1, True),
    ChangeRule("REVOLVING_BALANCE_DOWN", "revolving_balance", -1, True),
    ChangeRule("CREDIT_LIMIT_UP", "credit_limit", 1, True),
    ChangeRule("INSTALLMENT_BALANCE_DOWN", "installment_balance", -1, True),
)
GOOD_RULES = tuple(rule for rule in CHANGE_RULES if rule.good)
BAD_RULES = tuple(rule for rule in CHANGE_RULES if not rule.good)

#: Driver used when the score improved, no favourable change is listed, and no new derogatory
#: item appeared: older negatives aging is what lifts a score then.
NO_NEW_NEGATIVE_ITEMS = "NO_NEW_NEGATIVE_ITEMS"
#: Driver used when the score moved but no listed change explains it.
MINOR_CHANGES = "MINOR_CHANGES"

#: Reason code -> text a bureau or issuer could send; no digits (the numbers verifier never
#: sees them). Change codes double as driver codes.
REASON_TEXTS: dict[str, str] = {
    "PUBLIC_RECORD_ADDED": "A new public record, such as a bankruptcy or judgment, was reported",
    "NEW_COLLECTION": "A new collection account was reported",
    "NEW_LATE_PAYMENT": "A new late payment was reported on an account",
    "UTILIZATION_UP": "The share of revolving credit limits in use increased",
    "HARD_INQUIRIES_UP": "New hard inquiries from credit applications were reported",
    "ACCOUNT_OPENED": "Newly opened accounts lowered the average age of accounts",
    "ACCOUNT_CLOSED": "Closed accounts reduced the number of open accounts",
    "REVOLVING_BALANCE_UP": "Balances on revolving accounts increased",
    "CREDIT_LIMIT_DOWN": "Total credit limits on revolving accounts decreased",
    "INSTALLMENT_BALANCE_UP": "Balances on installment loans increased",
    "PUBLIC_RECORD_REMOVED": "A public record no longer appears on the report",
    "COLLECTION_REMOVED": "A collection account no longer appears on the report",
    "LATE_PAYMENT_REMOVED": "A late payment no longer appears on the report",
    "UTILIZATION_DOWN": "The share of revolving credit limits in use decreased",
    "HARD_INQUIRIES_DOWN": "Older hard inquiries no longer appear on the report",
    "REVOLVING_BALANCE_DOWN": "Balances on revolving accounts decreased",
    "CREDIT_LIMIT_UP": "Total credit limits on revolving accounts increased",
    "INSTALLMENT_BALANCE_DOWN": "Balances on installment loans decreased",
    NO_NEW_NEGATIVE_ITEMS: "No new late payments, collections or public records were reported, "
    "so older items carry less weight",
    MINOR_CHANGES: "Small changes across the report, none large enough to list on its own, "
    "moved the score",
}

#: Recommended actions, most urgent first.
ACTIONS: tuple[str, ...] = (
    "BRING_ACCOUNTS_CURRENT",
    "DISPUTE_OR_RESOLVE_COLLECTIONS",
    "REVIEW_PUBLIC_RECORDS",
    "PAY_DOWN_REVOLVING",
    "LIMIT_NEW_APPLICATIONS",
    "KEEP_OLD_ACCOUNTS_OPEN",
    "KEEP_PAYING_ON_TIME",
)


def estimated_impacts(rule: ChangeRule, before: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Estimated score points a listed change moved the score by (always > 0 when listed).

    A scorecard-style estimate, used only to order changes and drivers: derogatory items weigh
    most (the first of its kind most of all), then utilization, then inquiries and account
    changes; dollar balances and limits act mainly through utilization and weigh little.

    Args:
        rule: the change.
        before: the field on the before-report.
        change: the absolute size of the change (>= the listing threshold).
    """
    per_unit, first_bonus = _IMPACT[rule.code]
    impact = per_unit * change
    if first_bonus:
        # The first derogatory item of a kind hurts far more than later ones.
        impact = impact + np.where(before == 0, first_bonus, 0.0)
    return impact


#: code -> (points per unit of change, extra points when the before-count was zero).
_IMPACT: dict[str, tuple[float, float]] = {
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


def trend_masks(
    score_delta: np.ndarray, policy: CreditReportPolicy
) -> tuple[np.ndarray, np.ndarray]:
    """(improved, declined) per row: the score rose, or fell, by at least the stable band."""
    band = policy.stable_band_points
    return score_delta >= band, score_delta <= -band


def listing_threshold(field: str, policy: CreditReportPolicy) -> float:
    """Smallest absolute change of `field` that is listed (counts: any change of one or more)."""
    if field == "utilization":
        return policy.min_utilization_change
    if field == "credit_limit":
        return policy.min_credit_limit_change
    if field in MONEY_FIELDS:
        return policy.min_balance_change
    return 1.0


#: ECOA/Reg B style: at most four principal reasons.
MAX_REASONS = 4

_CODES = pl.Series("code", list(REASON_TEXTS), dtype=pl.String)
_CODE_INDEX = {code: i for i, code in enumerate(REASON_TEXTS)}
_ACTION_CODES = pl.Series("action", list(ACTIONS), dtype=pl.String)
_LABELS = pl.Series("decision", ["stable", "improved", "declined"], dtype=pl.String)

_Arrays = dict[str, np.ndarray]


def decide(profiles: pl.DataFrame, policy: CreditReportPolicy, version: str) -> pl.DataFrame:
    """Labels before/after reports with the score trend, listed changes, drivers and actions.

    Adds `<field>_delta` for every field in FIELDS; `good_changes` and `bad_changes`
    (List(Struct{code, before, after, delta}), largest estimated impact first); `decision`
    (improved when the score rose by at least `stable_band_points`, declined when it fell by at
    least that many, stable otherwise); `reason_codes` (at most four drivers in the direction of
    the trend, never empty for improved or declined, empty for stable); `actions`
    (List(String), most urgent first); `target_revolving_balance` and `paydown_to_target`
    (the balance at the target utilization and how far above it the after-balance is); and
    `policy_version`.

    Args:
        profiles: frame with `<field>_before` and `<field>_after` for every field in FIELDS.
        policy: the thresholds.
        version: the policy version string stamped on every row.
    """
    out = profiles.with_columns(_delta_exprs())
    arrays: _Arrays = {
        name: out[name].cast(pl.Float64).to_numpy()
        for field in FIELDS
        for name in (f"{field}_before", f"{field}_after", f"{field}_delta")
    }
    good = _Listed.of(GOOD_RULES, arrays, policy)
    bad = _Listed.of(BAD_RULES, arrays, policy)
    improved, declined = trend_masks(arrays["score_delta"], policy)
    label = np.where(improved, 1, np.where(declined, 2, 0))
    target = np.round(arrays["credit_limit_after"] * policy.target_utilization, 2)
    return out.with_columns(
        good_changes=good.items(arrays),
        bad_changes=bad.items(arrays),
        decision=_LABELS.gather(label),
        reason_codes=_reason_codes(improved, declined, good, bad, arrays),
        actions=_actions(arrays, policy),
        target_revolving_balance=pl.Series(target),
        paydown_to_target=pl.Series(
            np.maximum(np.round(arrays["revolving_balance_after"] - target, 2), 0.0)
        ),
        policy_version=pl.lit(version),
    )


def _delta_exprs() -> list[pl.Expr]:
    exprs = []
    for field in FIELDS:
        delta = pl.col(f"{field}_after") - pl.col(f"{field}_before")
        # Rounded once here so rules, facts and text all see the same stored value.
        if field == "utilization":
            delta = delta.round(4)
        elif field in MONEY_FIELDS:
            delta = delta.round(2)
        exprs.append(delta.alias(f"{field}_delta"))
    return exprs


@dataclass(frozen=True)
class _Listed:
    """The listed changes of one list (good or bad), as flat entries.

    Entry e is rule `rule[e]` of row `row[e]`; entries are grouped by row (ascending) and, within
    a row, ordered by estimated impact (largest first, ties in rule order); `rank[e]` is the
    entry's position within its row and `count[i]` the number of entries of row i.
    """

    rules: tuple[ChangeRule, ...]
    row: np.ndarray
    rule: np.ndarray
    rank: np.ndarray
    count: np.ndarray

    @classmethod
    def of(
        cls, rules: tuple[ChangeRule, ...], arrays: _Arrays, policy: CreditReportPolicy
    ) -> _Listed:
        n = len(arrays["score_delta"])
        rows, kinds, impacts = [], [], []
        for j, rule in enumerate(rules):
            delta = arrays[f"{rule.field}_delta"]
            # A tiny tolerance so a stored change of exactly the threshold counts despite
            # binary floating point (0.25 - 0.23 rounds to 0.02 but 0.02 is not exact).
            listed = delta * rule.direction >= listing_threshold(rule.field, policy) - 1e-9
            index = np.flatnonzero(listed)
            before = arrays[f"{rule.field}_before"][index]
            rows.append(index)
            kinds.append(np.full(len(index), j))
            impacts.append(estimated_impacts(rule, before, np.abs(delta[index])))
        row, kind, impact = (np.concatenate(parts) for parts in (rows, kinds, impacts))
        # One sort of the few listed entries (not n small sorts): by row, then impact
        # descending, then rule order.
        order = np.lexsort((kind, -impact, row))
        row, kind = row[order], kind[order]
        count = np.bincount(row, minlength=n)
        starts = np.cumsum(count) - count
        return cls(
            rules=rules, row=row, rule=kind, rank=np.arange(len(row)) - starts[row], count=count
        )

    def codes(self) -> np.ndarray:
        """Each entry's index into _CODES."""
        return np.array([_CODE_INDEX[rule.code] for rule in self.rules], dtype=np.int64)[self.rule]

    def items(self, arrays: _Arrays) -> pl.Series:
        """List(Struct{code, before, after, delta}): the listed changes, largest first."""
        values = {side: np.empty(len(self.row)) for side in ("before", "after", "delta")}
        for j, rule in enumerate(self.rules):
            pick = self.rule == j
            for side, out in values.items():
                out[pick] = arrays[f"{rule.field}_{side}"][self.row[pick]]
        return _ragged(self.count, _CODES.gather(self.codes()), **values)


def _reason_codes(
    improved: np.ndarray, declined: np.ndarray, good: _Listed, bad: _Listed, arrays: _Arrays
) -> pl.Series:
    """The first listed changes in the direction of the trend; a fallback driver when none."""
    from_good = improved[good.row] & (good.rank < MAX_REASONS)
    from_bad = declined[bad.row] & (bad.rank < MAX_REASONS)
    new_derogatory = np.any([arrays[f"{f}_delta"] > 0 for f in DEROGATORY_FIELDS], axis=0)
    unexplained = np.flatnonzero((improved & (good.count == 0)) | (declined & (bad.count == 0)))
    fallback = np.where(
        improved[unexplained] & ~new_derogatory[unexplained],
        _CODE_INDEX[NO_NEW_NEGATIVE_ITEMS],
        _CODE_INDEX[MINOR_CHANGES],
    )
    row = np.concatenate([good.row[from_good], bad.row[from_bad], unexplained])
    code = np.concatenate([good.codes()[from_good], bad.codes()[from_bad], fallback])
    # Each row takes its entries from one source only, so a stable sort by row keeps the order.
    order = np.argsort(row, kind="stable")
    return _ragged(np.bincount(row, minlength=len(improved)), _CODES.gather(code[order]))


def _actions(arrays: _Arrays, policy: CreditReportPolicy) -> pl.Series:
    """Recommended actions, grounded in the after-report (column order = ACTIONS order)."""
    late_delta = arrays["late_payments_delta"]
    rules = {
        "BRING_ACCOUNTS_CURRENT": late_delta > 0,
        "DISPUTE_OR_RESOLVE_COLLECTIONS": arrays["collections_after"] > 0,
        "REVIEW_PUBLIC_RECORDS": arrays["public_records_after"] > 0,
        "PAY_DOWN_REVOLVING": arrays["utilization_after"] > policy.target_utilization,
        "LIMIT_NEW_APPLICATIONS": (arrays["hard_inquiries_delta"] > 0)
        | (arrays["hard_inquiries_after"] >= policy.inquiry_caution_count),
        "KEEP_OLD_ACCOUNTS_OPEN": arrays["open_accounts_delta"] < 0,
        "KEEP_PAYING_ON_TIME": late_delta <= 0,
    }
    mask = np.column_stack([rules[code] for code in ACTIONS])
    _, action = np.nonzero(mask)  # row-major: grouped by row, in ACTIONS order
    return _ragged(mask.sum(axis=1), _ACTION_CODES.gather(action))


def _ragged(count: np.ndarray, values: pl.Series, **fields: np.ndarray) -> pl.Series:
    """A list column from flat entries grouped by row: row i holds the next count[i] entries.

    Entries are `values`, or, with `fields`, structs of `values` (as `code`) and the fields.
    """
    if fields:
        values = pl.DataFrame(
            [values.alias("code"), *(pl.Series(name, v) for name, v in fields.items())]
        ).to_struct()
    offsets = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=offsets[1:])
    array = pa.LargeListArray.from_arrays(pa.array(offsets), values.to_arrow())
    return pl.Series(array)
