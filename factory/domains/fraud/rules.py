"""The fraud policy as a rule table: an additive risk score plus a few hard rules.

Each risk signal is a derived quantity worth a documented number of points (`pts_*`, so an
explanation can cite every contribution); `risk_score` is their capped sum. Rules decide:
impossible travel and a burst of transactions block on their own, an extreme amount sends the
transaction to review on its own, and the score blocks or holds at `block_score` and
`review_score`. The signals that only add points are rules at the default tier (`allow`) with
`points`: they name a reason whenever they scored on a held or blocked transaction.

Reason codes (adverse decisions only) are ranked by the table's points ranking: a rule that
decided on its own first (block before review), then by its points, then in table order, so
the table lists the signals in today's tie-break order.
"""

from __future__ import annotations

from factory.domains.fraud.policy import HIGH_RISK_CATEGORIES, MAX_SCORE, REASON_TEXTS, FraudPolicy
from factory.domains.rules import Param, Quantity, Rule, RuleTable, policy_params

_CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "restaurants": ("restaurant", "restaurants"),
    "utilities": ("utility", "utilities"),
    "online_retail": ("online retail",),
    "gift_cards": ("gift card", "gift cards"),
    "money_transfer": ("money transfer",),
    "crypto_exchange": ("crypto exchange", "crypto"),
    "electronics": ("electronics",),
    "jewelry": ("jewelry", "jewellery"),
    "gambling": ("gambling",),
    "grocery": ("grocery",),
    "pharmacy": ("pharmacy",),
    "travel": ("travel",),
    "fuel": ("fuel",),
    "apparel": ("apparel",),
    "entertainment": ("entertainment",),
}

_HIGH_RISK = "merchant_category in [" + ", ".join(f"'{c}'" for c in HIGH_RISK_CATEGORIES) + "]"


def _points_quantity(name: str, label: str, expr: str, description: str) -> Quantity:
    return Quantity(name, label, (f"{label} points",), "score", expr=expr, description=description)


def _quantities(policy: FraudPolicy) -> tuple[Quantity, ...]:
    # The night window wraps past midnight when it ends at a lower hour than it starts.
    joiner = "and" if policy.night_start_hour < policy.night_end_hour else "or"
    night = f"hour >= night_start_hour {joiner} hour < night_end_hour"
    return (
        # Inputs: the transaction and its account's history.
        Quantity("amount", "transaction amount", ("amount", "charge", "purchase"), "money"),
        Quantity(
            "hist_mean_amount",
            "average transaction amount",
            # Not bare "mean"/"average": "2.1 standard deviations above the mean" is a z-score.
            ("usual spending", "typical amount", "mean amount", "average amount"),
            "money",
        ),
        Quantity(
            "hist_std_amount",
            "standard deviation of the account's amounts",
            ("spread of the amounts",),
            "money",
        ),
        Quantity(
            "history_txn_count",
            "transactions in the account's history",
            ("history", "past transactions"),
            "count",
        ),
        Quantity("account_age_days", "account age", ("days open", "age of the account"), "days"),
        Quantity(
            "txn_count_1h",
            "earlier transactions in the past hour",
            ("velocity", "transactions in the past hour", "transactions in the last hour"),
            "count",
        ),
        Quantity(
            "minutes_since_prev_txn",
            "minutes since the previous transaction",
            ("minutes since the last transaction", "time since the previous transaction"),
            "minutes",
        ),
        Quantity(
            "distance_km",
            "distance from the previous transaction",
            ("distance", "km from the previous transaction"),
            "km",
        ),
        Quantity("hour", "local hour of the transaction", ("hour", "time of day"), "integer"),
        Quantity(
            "new_device",
            "new device",
            ("device",),
            "boolean",
            present_words=(
                "new device",
                "unrecognized device",
                "unrecognised device",
                "device not seen before",
                "device never used",
            ),
            absent_words=("known device", "recognized device", "recognised device"),
        ),
        Quantity("txn_country", "transaction country", ("country",), "category"),
        Quantity("home_country", "home country", ("cardholder's country",), "category"),
        Quantity(
            "merchant_category",
            "merchant category",
            ("category", "merchant type"),
            "category",
            value_words=_CATEGORY_WORDS,
        ),
        # Derived, in the order the engine writes them.
        Quantity(
            "amount_zscore",
            "amount z-score",
            ("z-score", "standard deviations"),
            "number",
            expr="where(hist_std_amount > 0, (amount - hist_mean_amount) / hist_std_amount, 0.0)",
            round=2,
            description="(Amount - the account's mean amount) / the standard deviation of its "
            "amounts (0 without spread in the history).",
        ),
        Quantity(
            "implied_speed_kmh",
            "implied travel speed",
            ("speed", "travel speed", "km/h"),
            "kmh",
            expr="distance_km * 60 / max(minutes_since_prev_txn, 1)",
            round=1,
            description="Distance from the previous transaction / the minutes since it "
            "(at least one), in km/h.",
        ),
        Quantity(
            "is_foreign",
            "foreign transaction",
            ("foreign", "abroad"),
            "boolean",
            expr="txn_country != home_country",
            present_words=("foreign", "abroad", "outside the home country", "another country"),
            absent_words=("domestic", "home country", "in the cardholder's country"),
            description="The transaction country differs from the cardholder's home country.",
        ),
        Quantity(
            "high_risk_category",
            "high-risk merchant category",
            ("high-risk merchant", "high-risk category"),
            "boolean",
            expr=_HIGH_RISK,
            present_words=("high-risk merchant", "high-risk category", "elevated fraud risk"),
            absent_words=("not high-risk", "ordinary category", "low-risk"),
            description="Merchant categories the policy treats as high risk: "
            + ", ".join(HIGH_RISK_CATEGORIES)
            + ".",
        ),
        Quantity(
            "is_night",
            "night-time transaction",
            ("night", "overnight"),
            "boolean",
            expr=night,
            present_words=("night", "overnight", "night-time", "night window"),
            absent_words=("daytime", "outside the night window", "normal hours"),
            description="The local hour falls in the night window (night_start_hour to "
            "night_end_hour, wrapping past midnight).",
        ),
        Quantity(
            "is_new_account",
            "new account",
            ("account is new", "recently opened"),
            "boolean",
            expr="account_age_days < new_account_days",
            present_words=("new account", "recently opened", "opened recently"),
            absent_words=("established account", "established"),
            description="The account is younger than new_account_days.",
        ),
        Quantity(
            "rule_impossible_travel",
            "impossible travel",
            ("impossible travel", "could not have travelled"),
            "boolean",
            expr="implied_speed_kmh > max_travel_speed_kmh and distance_km >= far_distance_km",
            present_words=("impossible travel", "impossible", "could not be reached"),
            absent_words=("travel is possible", "plausible travel", "reachable"),
            description="Implied speed above max_travel_speed_kmh over at least far_distance_km "
            "(a jump between two nearby places is GPS or IP jitter, not travel).",
        ),
        Quantity(
            "rule_velocity_block",
            "transaction burst",
            ("burst",),
            "boolean",
            expr="txn_count_1h >= block_velocity",
            present_words=("burst", "blocked outright"),
            description="At least block_velocity earlier transactions in the past hour.",
        ),
        Quantity(
            "rule_amount_review",
            "amount alone requires review",
            ("amount review rule",),
            "boolean",
            expr="amount_zscore >= review_zscore",
            description="The amount z-score reaches review_zscore.",
        ),
        _points_quantity(
            "pts_amount",
            "amount",
            "where(amount_zscore >= zscore_extreme, points_amount_extreme, "
            "where(amount_zscore >= zscore_elevated, points_amount_elevated, 0))",
            "points_amount_extreme at zscore_extreme, points_amount_elevated at "
            "zscore_elevated, else 0.",
        ),
        _points_quantity(
            "pts_velocity",
            "velocity",
            "where(txn_count_1h >= velocity_count, points_velocity, 0)",
            "points_velocity at velocity_count earlier transactions in the past hour.",
        ),
        _points_quantity(
            "pts_impossible_travel",
            "impossible travel",
            "where(rule_impossible_travel, points_impossible_travel, 0)",
            "points_impossible_travel when travel is impossible.",
        ),
        _points_quantity(
            "pts_distance",
            "distance",
            # Distance points only when the stronger impossible-travel signal did not fire.
            "where(distance_km >= far_distance_km and not rule_impossible_travel, "
            "points_distance, 0)",
            "points_distance at far_distance_km when travel is still possible.",
        ),
        _points_quantity(
            "pts_foreign",
            "foreign",
            "where(is_foreign, points_foreign, 0)",
            "points_foreign outside the home country.",
        ),
        _points_quantity(
            "pts_new_device",
            "new device",
            "where(new_device, points_new_device, 0)",
            "points_new_device for a device not seen before on the account.",
        ),
        _points_quantity(
            "pts_high_risk_category",
            "high-risk category",
            "where(high_risk_category, points_high_risk_category, 0)",
            "points_high_risk_category for a high-risk merchant category.",
        ),
        _points_quantity(
            "pts_night",
            "night",
            "where(is_night, points_night, 0)",
            "points_night in the night window.",
        ),
        _points_quantity(
            "pts_new_account",
            "new account",
            "where(is_new_account, points_new_account, 0)",
            "points_new_account for a new account.",
        ),
        Quantity(
            "raw_score",
            "uncapped risk score",
            ("sum of the points", "points in total", "total points"),
            "score",
            expr="pts_amount + pts_velocity + pts_impossible_travel + pts_distance + "
            "pts_foreign + pts_new_device + pts_high_risk_category + pts_night + pts_new_account",
            description="The sum of every signal's points.",
        ),
        Quantity(
            "risk_score",
            "risk score",
            ("score", "fraud score"),
            "score",
            expr="min(raw_score, max_score)",
            description="The sum of the points, capped at max_score.",
        ),
    )


#: param name -> (quantity it thresholds or scores, label).
_PARAM_META: dict[str, tuple[str | None, str]] = {
    "review_score": ("risk_score", "review score"),
    "block_score": ("risk_score", "block score"),
    "zscore_elevated": ("amount_zscore", "elevated-amount mark"),
    "zscore_extreme": ("amount_zscore", "extreme-amount mark"),
    "review_zscore": ("amount_zscore", "amount review mark"),
    "points_amount_elevated": ("pts_amount", "points for an elevated amount"),
    "points_amount_extreme": ("pts_amount", "points for an extreme amount"),
    "velocity_count": ("txn_count_1h", "velocity mark"),
    "points_velocity": ("pts_velocity", "points for high velocity"),
    "block_velocity": ("txn_count_1h", "burst mark"),
    "far_distance_km": ("distance_km", "far-distance mark"),
    "points_distance": ("pts_distance", "points for a distant location"),
    "max_travel_speed_kmh": ("implied_speed_kmh", "maximum travel speed"),
    "points_impossible_travel": ("pts_impossible_travel", "points for impossible travel"),
    "points_foreign": ("pts_foreign", "points for a foreign transaction"),
    "points_new_device": ("pts_new_device", "points for a new device"),
    "points_high_risk_category": ("pts_high_risk_category", "points for a high-risk category"),
    "night_start_hour": ("hour", "start of the night window"),
    "night_end_hour": ("hour", "end of the night window"),
    "points_night": ("pts_night", "points for night time"),
    "new_account_days": ("account_age_days", "new-account age"),
    "points_new_account": ("pts_new_account", "points for a new account"),
}


def _signal(code: str, when: str, points: str, noun: str, quantity: str, **more: object) -> Rule:
    """A risk signal: adds its points; decides on its own only when `more` gives an outcome."""
    return Rule(
        code=code,
        outcome=str(more.pop("outcome", "allow")),
        when=when,
        quantity=quantity,
        op=more.pop("op", None),  # type: ignore[arg-type]
        threshold=more.pop("threshold", None),  # type: ignore[arg-type]
        text=REASON_TEXTS[code],
        points=points,
        noun=noun,
    )


RULES: tuple[Rule, ...] = (
    _signal(
        "IMPOSSIBLE_TRAVEL",
        "rule_impossible_travel",
        "pts_impossible_travel",
        "the impossible travel",
        "implied_speed_kmh",
        outcome="block",
        op=">",
        threshold="max_travel_speed_kmh",
    ),
    _signal(
        "HIGH_VELOCITY",
        "rule_velocity_block",
        "pts_velocity",
        "the burst of transactions",
        "txn_count_1h",
        outcome="block",
        op=">=",
        threshold="block_velocity",
    ),
    _signal(
        "AMOUNT_ABOVE_HISTORY",
        "rule_amount_review",
        "pts_amount",
        "the amount far above the usual spending",
        "amount_zscore",
        outcome="review",
        op=">=",
        threshold="review_zscore",
    ),
    _signal("UNRECOGNIZED_DEVICE", "new_device", "pts_new_device", "the new device", "new_device"),
    _signal("FOREIGN_COUNTRY", "is_foreign", "pts_foreign", "the foreign location", "is_foreign"),
    _signal(
        "HIGH_RISK_MERCHANT",
        "high_risk_category",
        "pts_high_risk_category",
        "the high-risk merchant category",
        "high_risk_category",
    ),
    _signal(
        "DISTANT_LOCATION",
        "distance_km >= far_distance_km and not rule_impossible_travel",
        "pts_distance",
        "the distance from the previous transaction",
        "distance_km",
        op=">=",
        threshold="far_distance_km",
    ),
    _signal(
        "NEW_ACCOUNT",
        "is_new_account",
        "pts_new_account",
        "the new account",
        "account_age_days",
        op="<",
        threshold="new_account_days",
    ),
    _signal("NIGHT_TIME", "is_night", "pts_night", "the night-time hour", "is_night"),
    # The score's own thresholds decide but name no reason: the signals that scored are the
    # reasons.
    Rule(
        code="SCORE_AT_BLOCK",
        outcome="block",
        when="risk_score >= block_score",
        quantity="risk_score",
        op=">=",
        threshold="block_score",
        text="Risk score at or above the block score",
        reason=False,
        noun="the risk score at the block level",
    ),
    Rule(
        code="SCORE_AT_REVIEW",
        outcome="review",
        when="risk_score >= review_score",
        quantity="risk_score",
        op=">=",
        threshold="review_score",
        text="Risk score at or above the review score",
        reason=False,
        noun="the risk score at the review level",
    ),
)

DECISION_WORDS: dict[str, tuple[str, ...]] = {
    "block": ("block", "blocked", "decline", "declined", "stop", "stopped"),
    "review": ("review", "held for review", "hold", "held", "manual review"),
    "allow": ("allow", "allowed", "approve", "approved", "let through"),
}


def builtin_table(policy: FraudPolicy, version: str, max_reasons: int) -> RuleTable:
    """The built-in fraud table with the thresholds and points of `policy`.

    Args:
        policy: the recipe's thresholds and point values.
        version: the policy_version stamped on labelled rows.
        max_reasons: principal reasons kept per row.
    """
    params = policy_params(policy, _PARAM_META)
    params["max_score"] = Param(
        name="max_score",
        value=MAX_SCORE,
        quantity="risk_score",
        label="maximum risk score",
        description="The risk score is capped here.",
    )
    return RuleTable(
        domain="fraud",
        tiers=("block", "review", "allow"),
        default="allow",
        quantities={q.name: q for q in _quantities(policy)},
        params=params,
        rules=tuple(Rule(**{**rule.__dict__, "severity": i}) for i, rule in enumerate(RULES)),
        decision_words=DECISION_WORDS,
        version=version,
        max_reasons=max_reasons,
    )
