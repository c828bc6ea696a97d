"""The credit-report policy: thresholds, change codes and their texts, actions, impact estimates.

A change between the before and after report is listed (as good or bad) when it clears the
policy's threshold for its field; listed changes are ordered by an estimated score impact, and
the first few in the direction of the score trend are the principal drivers. The rule table
that declares all of it, and from which the engine, facts, prompt and cards are derived, is
factory.domains.credit_report.rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from factory.domains.base import PolicyBase

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

LABELS: tuple[str, ...] = ("improved", "declined", "stable")
ADVERSE_LABELS: frozenset[str] = frozenset({"declined"})


class CreditReportPolicy(PolicyBase):
    """Thresholds of the credit-report engine (the recipe's `policy:` section)."""

    stable_band_points: int = Field(
        5,
        ge=1,
        le=100,
        description="The trend is stable when the score moved by fewer points than this; "
        "improved or declined when it moved by at least this many.",
    )
    min_utilization_change: float = Field(
        0.02,
        gt=0.0,
        le=1.0,
        description="Smallest change in revolving utilization (a fraction: 0.02 = two "
        "percentage points) that is listed as a change.",
    )
    min_balance_change: float = Field(
        500.0,
        gt=0.0,
        le=1_000_000.0,
        description="Smallest change in a revolving or installment balance, in dollars, that is "
        "listed as a change.",
    )
    min_credit_limit_change: float = Field(
        500.0,
        gt=0.0,
        le=1_000_000.0,
        description="Smallest change in total revolving credit limits, in dollars, that is "
        "listed as a change.",
    )
    target_utilization: float = Field(
        0.30,
        gt=0.0,
        lt=1.0,
        description="Utilization above which paying down revolving balances is recommended.",
    )
    inquiry_caution_count: int = Field(
        3,
        ge=1,
        le=50,
        description="Hard inquiries on the after-report at or above which limiting new credit "
        "applications is recommended (also recommended whenever inquiries rose).",
    )


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
ACTION_TEXTS: dict[str, str] = {
    "BRING_ACCOUNTS_CURRENT": "Bring any past-due account current and set up automatic payments "
    "so no payment is missed again",
    "DISPUTE_OR_RESOLVE_COLLECTIONS": "Check each collection account; dispute any that are "
    "inaccurate and pay or settle the ones that are valid",
    "REVIEW_PUBLIC_RECORDS": "Review the public records on the report and dispute any that are "
    "inaccurate or should have been removed",
    "PAY_DOWN_REVOLVING": "Pay down revolving balances so less of the credit limits is in use",
    "LIMIT_NEW_APPLICATIONS": "Hold off on new credit applications so fewer hard inquiries appear",
    "KEEP_OLD_ACCOUNTS_OPEN": "Keep older accounts open, even if rarely used, to preserve "
    "available credit and account age",
    "KEEP_PAYING_ON_TIME": "Keep paying every account on time",
}


def trend_masks(
    score_delta: np.ndarray, policy: CreditReportPolicy
) -> tuple[np.ndarray, np.ndarray]:
    """(improved, declined) per row: the score rose, or fell, by at least the stable band."""
    band = policy.stable_band_points
    return score_delta >= band, score_delta <= -band
