"""The vectorised credit-report engine: deltas, listed changes, trend, drivers, actions.

Listed changes are ragged per row (none to a dozen), so they are built as flat numpy entries
(row, change), sorted once, and turned into polars list columns through Arrow offsets; polars'
own concat_list + drop_nulls over structs is ~25x slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from factory.domains.credit_report.policy import (
    ACTIONS,
    BAD_RULES,
    DEROGATORY_FIELDS,
    FIELDS,
    GOOD_RULES,
    MINOR_CHANGES,
    MONEY_FIELDS,
    NO_NEW_NEGATIVE_ITEMS,
    REASON_TEXTS,
    ChangeRule,
    CreditReportPolicy,
    estimated_impacts,
    listing_threshold,
    trend_masks,
)

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
