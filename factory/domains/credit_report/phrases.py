"""Phrases the credit-report writers share: one line per listed change, driver names, actions.

List lines are fixed per change code (one wording each) so reference summaries keep a clean,
consistent structure; variety lives in the reasoning. Every number goes through _text helpers
and is a fact of factory.domains.credit_report.facts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from factory.domains._text import money, num, pct, plural
from factory.domains.credit_report.policy import ACTION_TEXTS, CreditReportPolicy

Item = Mapping[str, Any]
Row = Mapping[str, Any]


def pp(fraction: float, digits: int = 2) -> str:
    """A utilization change in percentage points: 0.2234 -> '22.34 percentage points'."""
    return pct(fraction, digits)[:-1] + " percentage points"


def util(fraction: float) -> str:
    """A utilization as on the report, to two decimals: 0.2234 -> '22.34%'.

    Two decimals keep before, after and change consistent (utilizations are stored to four
    decimals), so a reader can check the arithmetic.
    """
    return pct(fraction, 2)


def _util(item: Item, verb: str, way: str) -> str:
    return (
        f"Credit utilization {verb} from {util(item['before'])} to {util(item['after'])} "
        f"({way} {pp(abs(item['delta']))})"
    )


def _dollars(label: str, verb: str, way: str) -> Callable[[Item], str]:
    def line(item: Item) -> str:
        return (
            f"{label} {verb} from {money(item['before'])} to {money(item['after'])} "
            f"({way} {money(abs(item['delta']))})"
        )

    return line


def _count(label: str, verb: str, note: Callable[[float], str]) -> Callable[[Item], str]:
    def line(item: Item) -> str:
        return (
            f"{label} {verb} from {num(item['before'])} to {num(item['after'])} "
            f"({note(abs(item['delta']))})"
        )

    return line


#: change code -> the list line stating the change with its numbers.
CHANGE_LINES: dict[str, Callable[[Item], str]] = {
    "UTILIZATION_UP": lambda item: _util(item, "rose", "up"),
    "UTILIZATION_DOWN": lambda item: _util(item, "fell", "down"),
    "REVOLVING_BALANCE_UP": _dollars("Revolving balances", "rose", "up"),
    "REVOLVING_BALANCE_DOWN": _dollars("Revolving balances", "fell", "down"),
    "INSTALLMENT_BALANCE_UP": _dollars("Installment loan balances", "rose", "up"),
    "INSTALLMENT_BALANCE_DOWN": _dollars("Installment loan balances", "fell", "down"),
    "CREDIT_LIMIT_UP": _dollars("Total credit limits", "rose", "up"),
    "CREDIT_LIMIT_DOWN": _dollars("Total credit limits", "fell", "down"),
    "HARD_INQUIRIES_UP": _count("Hard inquiries", "rose", lambda c: f"up {num(c)}"),
    "HARD_INQUIRIES_DOWN": _count("Hard inquiries", "fell", lambda c: f"down {num(c)}"),
    "ACCOUNT_OPENED": _count("Open accounts", "rose", lambda c: plural(c, "new account")),
    "ACCOUNT_CLOSED": _count("Open accounts", "fell", lambda c: plural(c, "account") + " closed"),
    "NEW_LATE_PAYMENT": _count("Late payments", "rose", lambda c: plural(c, "new late payment")),
    "LATE_PAYMENT_REMOVED": _count(
        "Late payments", "fell", lambda c: f"{num(c)} no longer reported"
    ),
    "NEW_COLLECTION": _count("Collection accounts", "rose", lambda c: plural(c, "new collection")),
    "COLLECTION_REMOVED": _count("Collection accounts", "fell", lambda c: f"{num(c)} removed"),
    "PUBLIC_RECORD_ADDED": _count(
        "Public records", "rose", lambda c: plural(c, "new public record")
    ),
    "PUBLIC_RECORD_REMOVED": _count("Public records", "fell", lambda c: f"{num(c)} removed"),
}


def change_line(item: Item) -> str:
    """'Credit utilization fell from 45.0% to 23.0% (down 22.0 percentage points)'."""
    return CHANGE_LINES[item["code"]](item)


def change_list(header: str, items: list[Item]) -> str:
    """'Good:\\n- ...' with one line per change, or 'Good:\\n- None' when there are none."""
    if not items:
        return f"{header}:\n- None"
    return header + ":\n" + "\n".join(f"- {change_line(item)}." for item in items)


def join_words(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def driver_names(codes: list[str], nouns: Mapping[str, str]) -> str:
    """The drivers in words: 'higher credit utilization and a new late payment'.

    Args:
        codes: the driver codes.
        nouns: code -> how a sentence names it (the rule table's nouns).
    """
    return join_words([nouns[code] for code in codes])


def score_move(row: Row) -> str:
    """'up 33 points', 'down 12 points' or 'unchanged'."""
    delta = row["score_delta"]
    if delta > 0:
        return f"up {plural(delta, 'point')}"
    if delta < 0:
        return f"down {plural(-delta, 'point')}"
    return "unchanged"


def action_line(code: str, row: Row, policy: CreditReportPolicy) -> str:
    """The action's text followed by the numbers of this report that call for it."""
    return f"{ACTION_TEXTS[code]}. {_ACTION_DETAILS[code](row, policy)}"


def _pay_down(row: Row, policy: CreditReportPolicy) -> str:
    return (
        f"You are using {util(row['utilization_after'])} of your "
        f"{money(row['credit_limit_after'])} in credit limits; paying down about "
        f"{money(row['paydown_to_target'])} would bring that to {pct(policy.target_utilization)}."
    )


def _current(row: Row, policy: CreditReportPolicy) -> str:
    return (
        f"Your report shows {plural(row['late_payments_delta'], 'new late payment')}, "
        f"taking late payments from {num(row['late_payments_before'])} to "
        f"{num(row['late_payments_after'])}."
    )


def _collections(row: Row, policy: CreditReportPolicy) -> str:
    return f"Your report lists {plural(row['collections_after'], 'collection account')}."


def _public_records(row: Row, policy: CreditReportPolicy) -> str:
    return f"Your report lists {plural(row['public_records_after'], 'public record')}."


def _inquiries(row: Row, policy: CreditReportPolicy) -> str:
    after = plural(row["hard_inquiries_after"], "hard inquiry", "hard inquiries")
    if row["hard_inquiries_delta"] > 0:
        return f"You now have {after}, up from {num(row['hard_inquiries_before'])}."
    return (
        f"You have {after}, at or above the caution level of {num(policy.inquiry_caution_count)}."
    )


def _old_accounts(row: Row, policy: CreditReportPolicy) -> str:
    return (
        f"Your open accounts went from {num(row['open_accounts_before'])} to "
        f"{num(row['open_accounts_after'])}."
    )


def _on_time(row: Row, policy: CreditReportPolicy) -> str:
    if row["late_payments_after"] == 0:
        return "Your latest report shows no late payments; keep it that way."
    return (
        "No new late payments were reported since the last report, and the "
        f"{plural(row['late_payments_after'], 'older late payment')} on file will weigh less "
        "over time."
    )


_ACTION_DETAILS: dict[str, Callable[[Row, CreditReportPolicy], str]] = {
    "BRING_ACCOUNTS_CURRENT": _current,
    "DISPUTE_OR_RESOLVE_COLLECTIONS": _collections,
    "REVIEW_PUBLIC_RECORDS": _public_records,
    "PAY_DOWN_REVOLVING": _pay_down,
    "LIMIT_NEW_APPLICATIONS": _inquiries,
    "KEEP_OLD_ACCOUNTS_OPEN": _old_accounts,
    "KEEP_PAYING_ON_TIME": _on_time,
}
