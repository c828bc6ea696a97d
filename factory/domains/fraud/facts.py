"""The numbers an explanation of a fraud decision may cite."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factory.domains.base import Fact
from factory.domains.fraud.policy import MAX_SCORE, POINT_COLUMNS, FraudPolicy
from factory.domains.rules.extend import EXTENSION_FIELDS

#: Row values an explanation may quote as they are.
_ROW_NUMBERS = (
    "amount",
    "hist_mean_amount",
    "hist_std_amount",
    "history_txn_count",
    "account_age_days",
    "amount_zscore",
    "txn_count_1h",
    "minutes_since_prev_txn",
    "distance_km",
    "implied_speed_kmh",
    "hour",
    "raw_score",
    "risk_score",
    *POINT_COLUMNS.values(),
)

#: Policy values an explanation may quote (thresholds and point values).
# The thresholds, not the YAML extension fields every policy has (PolicyBase).
_POLICY_NUMBERS = tuple(n for n in FraudPolicy.model_fields if n not in EXTENSION_FIELDS)


def clock_hour(hour: int) -> int:
    """The hour on a twelve-hour clock face (0 and 12 read as midnight and noon)."""
    return hour % 12


def facts(row: Mapping[str, Any], policy: FraudPolicy) -> dict[str, Fact]:
    """Every number the decision_cot explanation of `row` may cite.

    Args:
        row: a labelled transaction (the output of `decide`, as a dict).
        policy: the thresholds it was labelled with.
    """
    out = dict(_policy_facts(policy))
    for name in _ROW_NUMBERS:
        out[name] = Fact(float(row[name]))
    score = int(row["risk_score"])
    out["amount_zscore_abs"] = Fact(abs(float(row["amount_zscore"])))
    out["hour_12h"] = Fact(float(clock_hour(int(row["hour"]))))
    out["review_gap"] = Fact(float(abs(score - policy.review_score)))
    out["block_gap"] = Fact(float(abs(score - policy.block_score)))
    return out


#: id(policy) -> (the policy, its facts): policies hold dicts (the YAML extensions), so they
#: cannot be hashed into an lru_cache; keeping the policy keeps its id from being reused.
_POLICY_FACTS: dict[int, tuple[FraudPolicy, dict[str, Fact]]] = {}


def _policy_facts(policy: FraudPolicy) -> dict[str, Fact]:
    """The facts that depend only on the policy (computed once per policy, not per row)."""
    hit = _POLICY_FACTS.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    if len(_POLICY_FACTS) >= 16:
        _POLICY_FACTS.pop(next(iter(_POLICY_FACTS)))
    out = {name: Fact(float(getattr(policy, name))) for name in _POLICY_NUMBERS}
    out["max_score"] = Fact(float(MAX_SCORE))
    out["night_start_hour_12h"] = Fact(float(clock_hour(policy.night_start_hour)))
    out["night_end_hour_12h"] = Fact(float(clock_hour(policy.night_end_hour)))
    _POLICY_FACTS[id(policy)] = (policy, out)
    return out
