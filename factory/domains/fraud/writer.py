"""The template teacher of the fraud domain: a fraud analyst's step-by-step reasoning.

The analyst compares the amount with the customer's usual spending, then checks velocity,
geography and travel speed, the device, the merchant category, the time of day and the age of
the account, adds up the risk points and compares the score with the thresholds. Each step has
several phrasings chosen with the seeded rng; every printed number is a fact (see facts.py),
printed at the precision stored in the frame.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from factory.domains._text import money, num, plural
from factory.domains.fraud.facts import clock_hour
from factory.domains.fraud.policy import MAX_SCORE, REASON_TEXTS, FraudPolicy
from factory.domains.rules.facts import fact_values
from factory.domains.rules.model import Rule, RuleTable
from factory.domains.rules.text import fired_codes, quantity_sentences
from factory.output import render_output

_CATEGORY_WORDS = {
    "restaurants": "restaurant",
    "utilities": "utility",
    "online_retail": "online retail",
    "gift_cards": "gift card",
    "money_transfer": "money transfer",
    "crypto_exchange": "crypto exchange",
}

_CHANNEL_WORDS = {
    "card_present": "in person with the physical card",
    "contactless": "by contactless tap",
    "online": "online with the card not present",
}

# Phrase bank. Each step has at least three phrasings; fields are filled from _values().
_OPEN = (
    "The transaction to assess is {amount} at {a_category} merchant, made {channel}.",
    "A card charge of {amount} came in from {a_category} merchant, made {channel}.",
    "We have {a_category} purchase of {amount}, made {channel}.",
    "Reviewing a {amount} {category} transaction made {channel}.",
    "This is a {amount} payment to {a_category} merchant, made {channel}.",
)
_HISTORY = (
    "Over {history} the account averages {mean} per transaction, with a standard deviation "
    "of {std}.",
    "The account's history of {history} has a mean of {mean} and a standard deviation of {std}.",
    "Usual spending on this account is {mean} per transaction (standard deviation {std}, "
    "from {history}).",
)
_ZSCORE = (
    "This amount is {z} standard deviations {side} the customer's mean",
    "Against that history the amount lands {z} standard deviations {side} average",
    "Measured against the history, the amount sits {z} standard deviations {side} the mean",
)
_AMOUNT_EXTREME = (
    ", at or beyond the extreme mark of {zex}: {pts_amount} points.",
    ", which reaches the extreme mark of {zex} and adds {pts_amount} points.",
    "; that is past the extreme mark of {zex}, worth {pts_amount} points.",
)
_AMOUNT_ELEVATED = (
    ", past the elevated mark of {zel} but short of the extreme mark of {zex}: "
    "{pts_amount} points.",
    ", which reaches the elevated mark of {zel} (extreme starts at {zex}) and adds "
    "{pts_amount} points.",
    "; elevated (the mark is {zel}) though not extreme (the mark is {zex}), worth "
    "{pts_amount} points.",
)
_AMOUNT_NORMAL = (
    ", below the elevated mark of {zel}, so the amount adds no points.",
    ", well within normal spending (elevated starts at {zel}); no amount points.",
    "; under the elevated mark of {zel}, the amount is unremarkable.",
)
_AMOUNT_RULE = (
    " It also reaches {rz} standard deviations, where the amount alone requires review.",
    " At {rz} standard deviations or more the amount by itself sends a transaction to review, "
    "and this one qualifies.",
    " The amount is also past the review mark of {rz} standard deviations, a rule of its own.",
)
_VELOCITY = (
    "Velocity: {count_1h} in the past hour, the previous one {minutes} ago.",
    "The card shows {count_1h} in the hour before this one; the last came {minutes} earlier.",
    "On velocity, there were {count_1h} in the preceding hour, and {minutes} have passed since "
    "the previous one.",
)
_VELOCITY_BLOCK = (
    " That reaches the hard block at {block_velocity} in an hour and adds {pts_velocity} points.",
    " At {block_velocity} or more in an hour the card is blocked outright; this burst also adds "
    "{pts_velocity} points.",
    " That is a burst at or above the block mark of {block_velocity}, plus {pts_velocity} points.",
)
_VELOCITY_HIGH = (
    " That is at or above the velocity mark of {velocity_count}: {pts_velocity} points, though "
    "under the hard block at {block_velocity}.",
    " Reaching the velocity mark of {velocity_count} adds {pts_velocity} points; the hard block "
    "starts at {block_velocity}.",
    " High velocity (mark {velocity_count}) adds {pts_velocity} points, short of the block at "
    "{block_velocity}.",
)
_VELOCITY_LOW = (
    " That is under the velocity mark of {velocity_count}, so no velocity points.",
    " Below the velocity mark of {velocity_count}; nothing to add.",
    " The pace is normal (the velocity mark is {velocity_count}).",
)
_FOREIGN = (
    "The card was used in {country}, outside the home country {home}: {pts_foreign} points.",
    "Geography: the transaction is in {country} while the cardholder lives in {home}, adding "
    "{pts_foreign} points.",
    "It was made abroad, in {country} rather than {home}, worth {pts_foreign} points.",
)
_DOMESTIC = (
    "The card was used in the home country {home}, so no foreign-country points.",
    "Geography: the transaction is in {home}, the cardholder's home country.",
    "It was made at home in {home}; nothing foreign about it.",
)
_DISTANCE = (
    " It happened {distance} km from the previous transaction, an implied speed of {speed} km/h "
    "against a limit of {max_speed} km/h.",
    " The previous transaction was {distance} km away, so the card moved at {speed} km/h; "
    "travel above {max_speed} km/h is impossible.",
    " Distance from the previous transaction is {distance} km, which implies {speed} km/h "
    "(the ceiling is {max_speed} km/h).",
)
_IMPOSSIBLE = (
    " That is impossible travel over at least {far} km: {pts_travel} points and a hard block.",
    " Nobody covers {far} km or more at that speed, so this is impossible travel, worth "
    "{pts_travel} points and a block on its own.",
    " Impossible travel (a jump of {far} km or more above the speed limit) adds {pts_travel} "
    "points and blocks the card.",
)
_FAR = (
    " The trip is possible, but at {far} km or more it counts as distant: {pts_distance} points.",
    " The speed is plausible; the distance, at or beyond {far} km, still adds {pts_distance} "
    "points.",
    " Travel that far is possible, yet the distance mark of {far} km is reached, worth "
    "{pts_distance} points.",
)
_SHORT_JUMP = (
    " The jump is under {far} km, too short to count as travel, so location adds nothing.",
    " Below {far} km the speed test does not apply (location jitter), and no points follow.",
    " With less than {far} km between the two, the speed means nothing; no location points.",
)
_NEAR = (
    " Location is unremarkable: under {far} km and a possible speed.",
    " Nothing unusual there: the distance is under {far} km.",
    " That is ordinary movement, well under the {far} km distance mark.",
)
_NEW_DEVICE = (
    "The device is new to this account, adding {pts_device} points.",
    "An unrecognized device made the transaction: {pts_device} points.",
    "The account has never used this device before, worth {pts_device} points.",
)
_KNOWN_DEVICE = (
    "No unrecognized device is involved.",
    "The device raises no concern.",
    "There is no new device on the account.",
)
_RISKY_CATEGORY = (
    "{Category} is a high-risk merchant category: {pts_category} points.",
    "Fraud teams treat {category} merchants as high risk, adding {pts_category} points.",
    "The merchant category ({category}) is high risk, worth {pts_category} points.",
)
_SAFE_CATEGORY = (
    "{Category} is not a high-risk merchant category.",
    "The merchant category ({category}) carries no extra risk.",
    "Fraud teams do not flag {category} merchants as high risk.",
)
_NIGHT = (
    "It was made around {clock}, inside the night window from {night_start} to {night_end}: "
    "{pts_night} points.",
    "The time, around {clock}, falls in the night window ({night_start} to {night_end}), adding "
    "{pts_night} points.",
    "Around {clock} is overnight by the policy ({night_start} to {night_end}), worth "
    "{pts_night} points.",
)
_DAY = (
    "It was made around {clock}, outside the night window from {night_start} to {night_end}.",
    "The time, around {clock}, is outside the night window ({night_start} to {night_end}).",
    "Around {clock} is ordinary spending time; the night window runs {night_start} to {night_end}.",
)
_NEW_ACCOUNT = (
    "The account is only {age_days} old, under the {new_days}-day new-account mark: "
    "{pts_account} points.",
    "This is a young account ({age_days}), below {new_days} days, adding {pts_account} points.",
    "At {age_days} the account is new (the mark is {new_days} days), worth {pts_account} points.",
)
_OLD_ACCOUNT = (
    "The account is {age_days} old, past the {new_days}-day new-account mark.",
    "An established account ({age_days}, beyond {new_days} days).",
    "At {age_days} the account is well established (new means under {new_days} days).",
)
_SUM = (
    "Adding the contributions ({terms}) gives {raw}",
    "The points add up as {terms}, for {raw}",
    "Summing {terms} makes {raw}",
)
_NO_POINTS = (
    "No signal adds points, so the risk score is {score}.",
    "Nothing contributes, leaving the risk score at {score}.",
    "The risk score stays at {score}: no signal fired.",
)
_SCORE_BLOCK = (
    " The risk score of {score} is at or above the block threshold of {block_score}.",
    " A score of {score} reaches the block threshold of {block_score}.",
    " At {score}, the score clears the block threshold ({block_score}) by {block_gap}.",
)
_SCORE_REVIEW = (
    " The risk score of {score} is at or above the review threshold of {review_score} and "
    "under the block threshold of {block_score}.",
    " A score of {score} sits between review ({review_score}) and block ({block_score}).",
    " At {score}, the score is {block_gap} short of blocking ({block_score}) but reaches review "
    "({review_score}).",
)
_SCORE_LOW = (
    " The risk score of {score} is below the review threshold of {review_score}.",
    " A score of {score} stays under the review threshold ({review_score}).",
    " At {score}, the score is {review_gap} short of review ({review_score}).",
)
_CONCLUDE = {
    "block": (
        "Conclusion: {why}; the transaction is blocked.",
        "Decision: block, because {why}.",
        "The transaction should be blocked: {why}.",
    ),
    "review": (
        "Conclusion: {why}; hold the transaction for review.",
        "Decision: review, because {why}.",
        "An analyst should review this transaction: {why}.",
    ),
    "allow": (
        "Conclusion: {why}; the transaction is allowed.",
        "Decision: allow, because {why}.",
        "The transaction can go through: {why}.",
    ),
}

_TERM_NAMES = (
    ("pts_amount", "amount"),
    ("pts_velocity", "velocity"),
    ("pts_impossible_travel", "impossible travel"),
    ("pts_distance", "distance"),
    ("pts_foreign", "foreign country"),
    ("pts_new_device", "new device"),
    ("pts_high_risk_category", "high-risk category"),
    ("pts_night", "night"),
    ("pts_new_account", "new account"),
)


def write_decision_cot(row: Mapping[str, Any], policy: FraudPolicy, rng: random.Random) -> str:
    """Writes the assistant message for one labelled transaction.

    Args:
        row: the transaction after `decide` (a dict of its columns).
        policy: the thresholds it was labelled with.
        rng: seeded generator choosing among phrasings.

    Returns:
        The message in the format of factory.output, with the engine's decision and reasons.
    """
    v = _values(row, policy)
    table = _table(policy)
    recipe = [rule for rule in table.rules if rule.source == "recipe"]
    fired: set[str] = fired_codes(table, row) if recipe else set()
    lines = [
        _pick(rng, _OPEN).format_map(v),
        _amount(row, policy, v, rng),
        _velocity(row, policy, v, rng),
        _geography(row, policy, v, rng),
        _pick(rng, _NEW_DEVICE if row["new_device"] else _KNOWN_DEVICE).format_map(v),
        _pick(rng, _RISKY_CATEGORY if row["high_risk_category"] else _SAFE_CATEGORY).format_map(v),
        # A clock reading such as "5 a.m." already ends the sentence.
        _pick(rng, _NIGHT if row["is_night"] else _DAY).format_map(v).replace(".m..", ".m."),
        _pick(rng, _NEW_ACCOUNT if row["is_new_account"] else _OLD_ACCOUNT).format_map(v),
    ]
    if recipe:
        # The recipe's own rules, in sentences derived from the table.
        values = fact_values(table, row)
        lines += quantity_sentences(table, recipe, values, fired, rng)
    decided = [r for r in recipe if r.code in fired and r.outcome == row["decision"]]
    lines += [
        _score(row, policy, v, rng),
        _pick(rng, _CONCLUDE[row["decision"]]).format(why=_why(row, policy, decided)),
    ]
    return render_output(
        "\n".join(lines),
        row["decision"],
        reasons=row["reason_codes"],
        reason_texts=table.reason_texts() if recipe else REASON_TEXTS,
    )


def _table(policy: FraudPolicy) -> RuleTable:
    """The fraud rule table of `policy` (the recipe's rules included), cached on the policy."""
    from factory.domains import get_domain

    return get_domain("fraud").rule_table(policy)


def _pick(rng: random.Random, options: Sequence[str]) -> str:
    return options[int(rng.random() * len(options))]


def _mark(value: float) -> str:
    """A threshold at up to two decimals, without trailing zeros (2.0 -> 2, 2.25 -> 2.25)."""
    return num(value, 2).rstrip("0").rstrip(".")


def _clock(hour: int) -> str:
    if hour == 0:
        return "midnight"
    if hour == 12:
        return "noon"
    return f"{clock_hour(hour)} {'a.m.' if hour < 12 else 'p.m.'}"


@lru_cache(maxsize=16)
def _policy_values(p: FraudPolicy) -> dict[str, str]:
    """Printed thresholds: they depend only on the policy, so they are formatted once."""
    return {
        "zel": _mark(p.zscore_elevated),
        "zex": _mark(p.zscore_extreme),
        "rz": _mark(p.review_zscore),
        "velocity_count": num(p.velocity_count),
        "block_velocity": num(p.block_velocity),
        "max_speed": _mark(p.max_travel_speed_kmh),
        "far": _mark(p.far_distance_km),
        "night_start": _clock(p.night_start_hour),
        "night_end": _clock(p.night_end_hour),
        "new_days": num(p.new_account_days),
        "review_score": num(p.review_score),
        "block_score": num(p.block_score),
    }


def _values(row: Mapping[str, Any], p: FraudPolicy) -> dict[str, str]:
    raw = row["merchant_category"]
    category = _CATEGORY_WORDS.get(raw, raw.replace("_", " "))
    article = "an" if category[0] in "aeiou" else "a"
    z = float(row["amount_zscore"])
    count_1h = row["txn_count_1h"]
    score = row["risk_score"]
    values = dict(_policy_values(p))
    values.update(
        amount=money(row["amount"], cents=True),
        category=category,
        Category=category[0].upper() + category[1:],
        a_category=f"{article} {category}",
        channel=_CHANNEL_WORDS.get(row["channel"], row["channel"].replace("_", " ")),
        history=plural(row["history_txn_count"], "past transaction"),
        mean=money(row["hist_mean_amount"], cents=True),
        std=money(row["hist_std_amount"], cents=True),
        z=num(abs(z), 2),
        side="below" if z < 0 else "above",
        pts_amount=num(row["pts_amount"]),
        count_1h=plural(count_1h, "earlier transaction") if count_1h else "no earlier transactions",
        minutes=plural(row["minutes_since_prev_txn"], "minute"),
        pts_velocity=num(row["pts_velocity"]),
        country=row["txn_country"],
        home=row["home_country"],
        pts_foreign=num(row["pts_foreign"]),
        distance=num(row["distance_km"], 1),
        speed=num(row["implied_speed_kmh"], 1),
        pts_travel=num(row["pts_impossible_travel"]),
        pts_distance=num(row["pts_distance"]),
        pts_device=num(row["pts_new_device"]),
        pts_category=num(row["pts_high_risk_category"]),
        clock=_clock(row["hour"]),
        pts_night=num(row["pts_night"]),
        age_days=plural(row["account_age_days"], "day"),
        pts_account=num(row["pts_new_account"]),
        score=num(score),
        raw=num(row["raw_score"]),
        review_gap=num(abs(score - p.review_score)),
        block_gap=num(abs(score - p.block_score)),
    )
    return values


def _amount(row: Mapping[str, Any], p: FraudPolicy, v: dict[str, str], rng: random.Random) -> str:
    z = row["amount_zscore"]
    if z >= p.zscore_extreme:
        outcome = _AMOUNT_EXTREME
    elif z >= p.zscore_elevated:
        outcome = _AMOUNT_ELEVATED
    else:
        outcome = _AMOUNT_NORMAL
    text = " ".join((_pick(rng, _HISTORY), _pick(rng, _ZSCORE) + _pick(rng, outcome)))
    if row["rule_amount_review"]:
        text += _pick(rng, _AMOUNT_RULE)
    return text.format_map(v)


def _velocity(row: Mapping[str, Any], p: FraudPolicy, v: dict[str, str], rng: random.Random) -> str:
    if row["rule_velocity_block"]:
        outcome = _VELOCITY_BLOCK
    elif row["txn_count_1h"] >= p.velocity_count:
        outcome = _VELOCITY_HIGH
    else:
        outcome = _VELOCITY_LOW
    return (_pick(rng, _VELOCITY) + _pick(rng, outcome)).format_map(v)


def _geography(
    row: Mapping[str, Any], p: FraudPolicy, v: dict[str, str], rng: random.Random
) -> str:
    far = row["distance_km"] >= p.far_distance_km
    if row["rule_impossible_travel"]:
        outcome = _IMPOSSIBLE
    elif far:
        outcome = _FAR
    elif row["implied_speed_kmh"] > p.max_travel_speed_kmh:
        outcome = _SHORT_JUMP
    else:
        outcome = _NEAR
    country = _pick(rng, _FOREIGN if row["is_foreign"] else _DOMESTIC)
    return (country + _pick(rng, _DISTANCE) + _pick(rng, outcome)).format_map(v)


def _score(row: Mapping[str, Any], p: FraudPolicy, v: dict[str, str], rng: random.Random) -> str:
    terms = [f"{name} {num(row[column])}" for column, name in _TERM_NAMES if row[column] > 0]
    if not terms:
        text = _pick(rng, _NO_POINTS)
    else:
        text = _pick(rng, _SUM).format(terms=", ".join(terms), raw="{raw}")
        if row["raw_score"] > MAX_SCORE:
            text += f", capped at {MAX_SCORE}."
        else:
            text += "."
    score = row["risk_score"]
    if score >= p.block_score:
        text += _pick(rng, _SCORE_BLOCK)
    elif score >= p.review_score:
        text += _pick(rng, _SCORE_REVIEW)
    else:
        text += _pick(rng, _SCORE_LOW)
    return text.format_map(v)


def _why(row: Mapping[str, Any], p: FraudPolicy, decided: Sequence[Rule] = ()) -> str:
    """The decisive rules, in words consistent with the decision (`decided`: the recipe's rules
    that fired at the decision's tier)."""
    decision = row["decision"]
    recipe = [f"{_noun(rule)} decides it on its own" for rule in decided]
    if decision == "block":
        rules = []
        if row["rule_impossible_travel"]:
            rules.append("the card cannot have travelled that far that fast")
        if row["rule_velocity_block"]:
            rules.append("the burst of transactions reaches the hard velocity block")
        if row["risk_score"] >= p.block_score:
            rules.append("the risk score reaches the block threshold")
        return " and ".join(rules + recipe)
    if decision == "review":
        if row["risk_score"] >= p.review_score:
            rules = ["the risk score reaches the review threshold but not the block threshold"]
        elif row["rule_amount_review"]:
            rules = ["the amount alone is extreme enough for review, although the score stays low"]
        else:
            rules = []
        return " and ".join(rules + recipe)
    return "the risk score stays below the review threshold and no hard rule fires"


def _noun(rule: Rule) -> str:
    text = rule.noun or rule.text
    return text[:1].lower() + text[1:]
