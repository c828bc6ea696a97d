"""The template teacher of the credit-report tasks: change summary and customer Q&A.

Both writers reason the same way a careful analyst would: the score change, each report field
before and after against its listing threshold, the tally of good and bad changes, the trend
against the stable band, the principal drivers; the Q&A writer adds the after-report numbers
that call for each recommended action. Every step has several phrasings drawn with the row's
seeded `rng`; the answer keeps one fixed structure per task so reference texts stay consistent.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from factory.domains._text import money, num, pct, plural
from factory.domains.base import PolicyBase
from factory.domains.credit_report.phrases import (
    action_line,
    change_line,
    change_list,
    driver_names,
    join_words,
    pp,
    score_move,
    util,
)
from factory.domains.credit_report.policy import (
    ACTION_TEXTS,
    CHANGE_RULES,
    MINOR_CHANGES,
    NO_NEW_NEGATIVE_ITEMS,
    CreditReportPolicy,
)
from factory.domains.rules.facts import fact_values
from factory.domains.rules.text import fired_codes, quantity_sentences
from factory.output import render_output

Row = Mapping[str, Any]

_LABELS: dict[str, str] = {
    "revolving_balance": "Revolving balances",
    "credit_limit": "Total credit limits",
    "installment_balance": "Installment loan balances",
    "open_accounts": "Open accounts",
    "hard_inquiries": "Hard inquiries",
    "late_payments": "Late payments",
    "collections": "Collection accounts",
    "public_records": "Public records",
}
_DOLLAR_FIELDS = ("revolving_balance", "credit_limit", "installment_balance")
_COUNT_FIELDS = (
    "open_accounts",
    "hard_inquiries",
    "late_payments",
    "collections",
    "public_records",
)


def write_summary(row: Row, policy: PolicyBase, rng: random.Random) -> str:
    """The change summary: reasoning, trend, drivers, and 'Good:' / 'Bad:' lists + paragraph.

    Args:
        row: a labelled row (the output of `decide`).
        policy: the thresholds the row was labelled with.
        rng: the row's seeded generator (phrasing only).
    """
    assert isinstance(policy, CreditReportPolicy)
    words = _Words.of(policy)
    reasoning = _comparison_steps(row, policy, rng, _score_step(row, rng), words)
    answer = "\n".join(
        (
            change_list("Good", row["good_changes"]),
            change_list("Bad", row["bad_changes"]),
            "",
            _summary_paragraph(row, words),
        )
    )
    return render_output(
        reasoning,
        row["decision"],
        reasons=row["reason_codes"],
        reason_texts=words.texts,
        answer=answer,
    )


@dataclass(frozen=True)
class _Words:
    """What the writers read from the rule table: reason texts and driver nouns (a recipe's
    own rules included), and the table for the recipe rules' sentences."""

    table: Any
    texts: Mapping[str, str]
    nouns: Mapping[str, str]

    @classmethod
    def of(cls, policy: CreditReportPolicy) -> _Words:
        from factory.domains import get_domain

        table = get_domain("credit_report").rule_table(policy)
        cached = _WORDS.get(id(table))
        if cached is None or cached.table is not table:
            nouns = {rule.code: rule.noun for rule in table.rules}
            cached = cls(table, table.reason_texts(), nouns)
            _WORDS[id(table)] = cached
        return cached


_WORDS: dict[int, _Words] = {}


def change_lists(answer: str) -> str:
    """The "Good:" and "Bad:" lists of a summary's answer, without the paragraph after them.

    The two-step serving path gives the base model these lists alone, so its paragraph can only
    repeat changes the fine-tuned model listed (and the verifiers checked).
    """
    kept: list[str] = []
    for line in answer.strip().splitlines():
        text = line.strip()
        if text in ("Good:", "Bad:") or (kept and text.startswith("- ")):
            kept.append(text)
        elif kept:
            break  # the paragraph starts after the lists
    return "\n".join(kept)


def write_qa(row: Row, policy: PolicyBase, rng: random.Random) -> str:
    """The answer to the row's customer question, with actions grounded in its report.

    Args:
        row: a labelled row with `question_type` and `question`.
        policy: the thresholds the row was labelled with.
        rng: the row's seeded generator (phrasing only).
    """
    assert isinstance(policy, CreditReportPolicy)
    words = _Words.of(policy)
    focus = _FOCUS[row["question_type"]]
    moved = _MOVED[row["decision"]]
    opening = _pick(rng, _QUESTION_OPENINGS[focus]).format(moved=moved)
    opening += " " + _score_step(row, rng)
    reasoning = _comparison_steps(row, policy, rng, opening, words)
    reasoning += "\n" + _action_step(row, policy, rng)
    return render_output(
        reasoning,
        row["decision"],
        reasons=row["reason_codes"],
        reason_texts=words.texts,
        answer=_ANSWERS[focus](row, policy, words),
    )


# -- reasoning steps ------------------------------------------------------------------------


def _pick(rng: random.Random, phrasings: tuple[str, ...]) -> str:
    return phrasings[int(rng.random() * len(phrasings))]


_SCORE = (
    "Comparing the two reports, the score went from {b} to {a}, {move} over {months}.",
    "Start with the score: {b} on the earlier report and {a} on the latest, {move} in {months}.",
    "The headline number is the score, now {a} against {b} before: {move} across {months}.",
    "Over the {months} between reports, the score changed from {b} to {a} ({move}).",
)


def _score_step(row: Row, rng: random.Random) -> str:
    return _pick(rng, _SCORE).format(
        b=num(row["score_before"]),
        a=num(row["score_after"]),
        move=score_move(row),
        months=plural(row["months_between"], "month"),
    )


def _comparison_steps(
    row: Row, policy: CreditReportPolicy, rng: random.Random, opening: str, words: _Words
) -> str:
    listed = {item["code"] for item in row["good_changes"]}
    listed.update(item["code"] for item in row["bad_changes"])
    thresholds = {
        "utilization": pct(policy.min_utilization_change)[:-1] + "-percentage-point",
        "revolving_balance": money(policy.min_balance_change),
        "installment_balance": money(policy.min_balance_change),
        "credit_limit": money(policy.min_credit_limit_change),
    }
    steps = [
        opening,
        _utilization_step(row, policy, listed, thresholds["utilization"], rng),
        " ".join(
            _field_sentence(row, field, listed, thresholds[field], rng) for field in _DOLLAR_FIELDS
        ),
        _count_step(row, listed, rng),
        *_recipe_step(row, words, rng),
        _tally_step(row, rng),
        _trend_step(row, policy, rng),
        _driver_step(row, rng, words),
    ]
    return "\n".join(steps)


def _recipe_step(row: Row, words: _Words, rng: random.Random) -> list[str]:
    """One sentence per rule the recipe added, derived from the table (none without any)."""
    table = words.table
    added = [rule for rule in table.rules if rule.source == "recipe"]
    if not added:
        return []
    fired = fired_codes(table, row)
    values = fact_values(table, row)
    return [" ".join(quantity_sentences(table, added, values, fired, rng))]


_UTIL_SAME = (
    "Credit utilization is unchanged at {a}.",
    "Utilization stayed at {a}.",
    "Revolving utilization held at {a}.",
)
_UTIL_MOVED = (
    "Credit utilization went from {b} to {a} ({move})",
    "Utilization was {b} before and {a} after ({move})",
    "Revolving utilization moved from {b} to {a}, {move}",
)
_ABOVE_TARGET = (
    " It is above the {target} target by {gap}.",
    " That is {gap} over the {target} target.",
    " The after-report sits {gap} above the {target} target.",
)
_WITHIN_TARGET = (
    " It is at or below the {target} target.",
    " That is within the {target} target.",
    " The after-report is no higher than the {target} target.",
)


def _utilization_step(
    row: Row, policy: CreditReportPolicy, listed: set[str], threshold: str, rng: random.Random
) -> str:
    after = util(row["utilization_after"])
    delta = row["utilization_delta"]
    if delta == 0:
        head = _pick(rng, _UTIL_SAME).format(a=after)
    else:
        move = f"{'up' if delta > 0 else 'down'} {pp(abs(delta))}"
        head = _pick(rng, _UTIL_MOVED).format(b=util(row["utilization_before"]), a=after, move=move)
        head += _verdict("utilization", delta, listed, threshold, rng)
    gap = round(row["utilization_after"] - policy.target_utilization, 4)
    if gap > 0:
        return head + _pick(rng, _ABOVE_TARGET).format(
            target=pct(policy.target_utilization), gap=pp(gap)
        )
    return head + _pick(rng, _WITHIN_TARGET).format(target=pct(policy.target_utilization))


_FIELD_SAME = (
    "{label} stayed at {a}.",
    "{label} are unchanged at {a}.",
    "No change in {lower}, still {a}.",
)
_FIELD_MOVED = (
    "{label} went from {b} to {a} ({move})",
    "{label}: {b} before, {a} after, {move}",
    "{label} moved from {b} to {a}, {move}",
)


def _field_sentence(
    row: Row, field: str, listed: set[str], threshold: str, rng: random.Random
) -> str:
    label = _LABELS[field]
    after = money(row[f"{field}_after"])
    delta = row[f"{field}_delta"]
    if delta == 0:
        return _pick(rng, _FIELD_SAME).format(label=label, lower=label.lower(), a=after)
    move = f"{'up' if delta > 0 else 'down'} {money(abs(delta))}"
    head = _pick(rng, _FIELD_MOVED).format(
        label=label, b=money(row[f"{field}_before"]), a=after, move=move
    )
    return head + _verdict(field, delta, listed, threshold, rng)


_LISTED = (
    ", which clears the {threshold} threshold, so it goes on the {side} list.",
    "; at or above the {threshold} threshold, it counts as a {side} change.",
    ", enough to list as {side} (threshold {threshold}).",
)
_NOT_LISTED = (
    ", under the {threshold} threshold, so it is not listed.",
    "; below the {threshold} threshold, too small to list.",
    ", which does not reach the {threshold} threshold.",
)
_ANY_CHANGE = (
    ", so it goes on the {side} list.",
    "; any change here counts, so it is {side}.",
    ", a {side} change.",
)
#: (field, rose?) -> (change code, list side).
_RULE_OF = {
    (rule.field, rule.direction > 0): (rule.code, "good" if rule.good else "bad")
    for rule in CHANGE_RULES
}


def _verdict(
    field: str, delta: float, listed: set[str], threshold: str | None, rng: random.Random
) -> str:
    """Whether the change of `field` is listed, and on which list."""
    code, side = _RULE_OF[(field, delta > 0)]
    if threshold is None:
        return _pick(rng, _ANY_CHANGE).format(side=side)
    phrasings = _LISTED if code in listed else _NOT_LISTED
    return _pick(rng, phrasings).format(threshold=threshold, side=side)


_UNCHANGED = ("Unchanged: ", "Holding level: ", "Steady: ")


def _count_step(row: Row, listed: set[str], rng: random.Random) -> str:
    sentences = []
    unchanged = []
    for field in _COUNT_FIELDS:
        delta = row[f"{field}_delta"]
        if delta == 0:
            unchanged.append(f"{_LABELS[field].lower()} at {num(row[f'{field}_after'])}")
            continue
        move = f"{'up' if delta > 0 else 'down'} {num(abs(delta))}"
        head = _pick(rng, _FIELD_MOVED).format(
            label=_LABELS[field],
            b=num(row[f"{field}_before"]),
            a=num(row[f"{field}_after"]),
            move=move,
        )
        sentences.append(head + _verdict(field, delta, listed, None, rng))
    if unchanged:
        sentences.append(_pick(rng, _UNCHANGED) + join_words(unchanged) + ".")
    return " ".join(sentences)


_TALLY = (
    "That makes {good} and {bad}.",
    "In total the lists hold {good} and {bad}.",
    "Tallying up: {good} and {bad}.",
)


def _tally_step(row: Row, rng: random.Random) -> str:
    return _pick(rng, _TALLY).format(
        good=plural(len(row["good_changes"]), "good change"),
        bad=plural(len(row["bad_changes"]), "bad change"),
    )


_TREND_STABLE = (
    "A move of {change} is inside the {band} stable band, so the trend is stable.",
    "The score moved {change}, less than the {band} band, so it counts as stable.",
    "With a change of {change} against a {band} band, the trend is stable.",
)
_TREND_MOVED = (
    "A move of {change} is at least the {band} stable band, so the trend is {decision}.",
    "The score moved {change}, outside the {band} band, so it counts as {decision}.",
    "With a change of {change} against a {band} band, the trend is {decision}.",
)


def _trend_step(row: Row, policy: CreditReportPolicy, rng: random.Random) -> str:
    decision = row["decision"]
    phrasings = _TREND_STABLE if decision == "stable" else _TREND_MOVED
    return _pick(rng, phrasings).format(
        change=plural(abs(row["score_delta"]), "point"),
        band=f"{num(policy.stable_band_points)}-point",
        decision=decision,
    )


_NO_DRIVERS = (
    "Because the trend is stable, no principal drivers are named;{tail}",
    "A stable trend needs no principal drivers;{tail}",
    "No drivers are named for a stable score;{tail}",
)
_CLEAN_RECORD = (
    "No favourable change clears its threshold, but no new late payments, collections or "
    "public records appeared, so older items weigh less; that is the driver.",
    "Nothing favourable is large enough to list; the lift comes from a clean record with no new "
    "negative items.",
    "With no listed favourable change, the driver is the absence of new negative items while "
    "older ones age.",
)
_SMALL_CHANGES = (
    "No listed change points this way, so the move comes from small changes across the report.",
    "None of the listed changes explains the move; small changes across the report do.",
    "The driver is a set of small changes across the report, none large enough to list.",
)
_DRIVERS = (
    "Ranked by estimated score impact, the main drivers are {names}.",
    "The changes that moved the score most are {names}.",
    "By estimated impact, the score {verb} mainly because of {names}.",
)


def _driver_step(row: Row, rng: random.Random, words: _Words) -> str:
    codes = list(row["reason_codes"])
    if not codes:
        offset = bool(row["good_changes"]) and bool(row["bad_changes"])
        tail = " the good and bad changes roughly offset." if offset else " nothing moved much."
        return _pick(rng, _NO_DRIVERS).format(tail=tail)
    if codes[0] == NO_NEW_NEGATIVE_ITEMS:
        return _pick(rng, _CLEAN_RECORD)
    if codes[0] == MINOR_CHANGES:
        return _pick(rng, _SMALL_CHANGES)
    verb = "rose" if row["decision"] == "improved" else "fell"
    return _pick(rng, _DRIVERS).format(names=driver_names(codes, words.nouns), verb=verb)


_ACTION_INTRO = (
    "The latest report calls for action because {reasons}.",
    "Grounding the advice in the after-report: {reasons}.",
    "What to recommend follows from the current numbers: {reasons}.",
)


def _action_step(row: Row, policy: CreditReportPolicy, rng: random.Random) -> str:
    reasons = "; ".join(_ACTION_REASONS[code](row, policy) for code in row["actions"])
    return _pick(rng, _ACTION_INTRO).format(reasons=reasons)


_ACTION_REASONS = {
    "BRING_ACCOUNTS_CURRENT": lambda row, policy: (
        f"late payments rose from {num(row['late_payments_before'])} to "
        f"{num(row['late_payments_after'])}, so bringing accounts current comes first"
    ),
    "DISPUTE_OR_RESOLVE_COLLECTIONS": lambda row, policy: (
        f"the report still lists {plural(row['collections_after'], 'collection account')}, "
        "to dispute or resolve"
    ),
    "REVIEW_PUBLIC_RECORDS": lambda row, policy: (
        f"the report still lists {plural(row['public_records_after'], 'public record')}, worth "
        "checking for accuracy"
    ),
    "PAY_DOWN_REVOLVING": lambda row, policy: (
        f"utilization of {util(row['utilization_after'])} is above the "
        f"{pct(policy.target_utilization)} target, so paying down about "
        f"{money(row['paydown_to_target'])} helps"
    ),
    "LIMIT_NEW_APPLICATIONS": lambda row, policy: (
        f"hard inquiries went from {num(row['hard_inquiries_before'])} to "
        f"{num(row['hard_inquiries_after'])} (caution level "
        f"{num(policy.inquiry_caution_count)}), so new applications should wait"
    ),
    "KEEP_OLD_ACCOUNTS_OPEN": lambda row, policy: (
        f"open accounts fell from {num(row['open_accounts_before'])} to "
        f"{num(row['open_accounts_after'])}, so the remaining older accounts should stay open"
    ),
    "KEEP_PAYING_ON_TIME": lambda row, policy: (
        "no new late payments appeared, so on-time payments should continue"
    ),
}


# -- answers -----------------------------------------------------------------------------------


def _headline(row: Row) -> str:
    """'Your score rose 33 points, from 712 to 745' (no final period)."""
    before, after = num(row["score_before"]), num(row["score_after"])
    change = plural(abs(row["score_delta"]), "point")
    if row["decision"] == "improved":
        return f"Your score rose {change}, from {before} to {after}"
    if row["decision"] == "declined":
        return f"Your score fell {change}, from {before} to {after}"
    if row["score_delta"] == 0:
        return f"Your score held steady at {after}"
    return f"Your score held steady at {after}, compared with {before} before"


def _summary_paragraph(row: Row, words: _Words) -> str:
    codes = list(row["reason_codes"])
    decision = row["decision"]
    if decision == "improved":
        text = f"{_headline(row)}, mainly thanks to {driver_names(codes, words.nouns)}."
    elif decision == "declined":
        text = f"{_headline(row)}, mainly because of {driver_names(codes, words.nouns)}."
    elif row["good_changes"] and row["bad_changes"]:
        text = f"{_headline(row)}; the good and bad changes largely balanced out."
    elif row["good_changes"] or row["bad_changes"]:
        text = f"{_headline(row)}; the listed changes were too small to move it much."
    else:
        text = f"{_headline(row)}; nothing on the report changed enough to move it."
    first = ACTION_TEXTS[row["actions"][0]]
    return f"{text} Next step: {first[0].lower()}{first[1:]}."


def _actions_block(row: Row, policy: CreditReportPolicy) -> str:
    return "\n".join(f"- {action_line(code, row, policy)}" for code in row["actions"])


def _driver_lines(row: Row, words: _Words) -> str:
    items = {item["code"]: item for item in (*row["good_changes"], *row["bad_changes"])}
    lines = [
        f"- {change_line(items[code])}." if code in items else f"- {words.texts[code]}."
        for code in row["reason_codes"]
    ]
    return "\n".join(lines)


def _explain_answer(row: Row, policy: CreditReportPolicy, words: _Words) -> str:
    if row["reason_codes"]:
        why = "The main reasons:\n" + _driver_lines(row, words)
    else:
        items = [*row["good_changes"], *row["bad_changes"]]
        why = (
            "What changed:\n" + "\n".join(f"- {change_line(item)}." for item in items)
            if items
            else "No change on your report was large enough to list."
        )
    return f"{_headline(row)}.\n{why}\nWhat you can do next:\n{_actions_block(row, policy)}"


def _improve_answer(row: Row, policy: CreditReportPolicy, words: _Words) -> str:
    return (
        f"{_headline(row)}. Based on your latest report, here is what will help most:\n"
        f"{_actions_block(row, policy)}"
    )


def _changes_answer(row: Row, policy: CreditReportPolicy, words: _Words) -> str:
    # Headers no surname spells: the identity check reads a capitalised "Good" as the name of a
    # customer called Good (the summary's prompt shows its Good:/Bad: headers instead).
    return (
        f"{_headline(row)}.\n{change_list('Changes that help', row['good_changes'])}\n"
        f"{change_list('Changes that hurt', row['bad_changes'])}\n"
        f"What you can do next:\n{_actions_block(row, policy)}"
    )


_FOCUS = {
    "why_drop": "explain",
    "why_rise": "explain",
    "why_stable": "explain",
    "improve": "improve",
    "what_changed": "changes",
}
_MOVED = {"improved": "rose", "declined": "fell", "stable": "barely moved"}
_ANSWERS = {"explain": _explain_answer, "improve": _improve_answer, "changes": _changes_answer}
_QUESTION_OPENINGS = {
    "explain": (
        "The customer wants to know why the score {moved}.",
        "The question asks why the score {moved}, so I need the drivers.",
        "This asks what explains why the score {moved} between the two reports.",
    ),
    "improve": (
        "The customer asks how to raise the score, so the answer should be concrete steps.",
        "The question is about improving the score; the advice must come from this report.",
        "This asks for ways to improve, so I will tie each step to the latest numbers.",
    ),
    "changes": (
        "The customer wants a walk-through of what changed between the reports.",
        "The question asks what is different now, so I compare the reports field by field.",
        "This asks for the changes between reports, good and bad.",
    ),
}
