"""Number formatting shared by the template writers.

Every number a writer prints goes through these helpers, so the numbers verifier
(factory.verify.numbers) can read it back: currency with a leading $ and thousands commas,
percentages with a trailing %, plain numbers with commas. A printed number is the fact rounded
to the digits shown.
"""

from __future__ import annotations


def money(value: float, cents: bool = False) -> str:
    """$84,312 or, with cents, $1,234.56 (negative values as -$120)."""
    sign = "-" if value < 0 else ""
    body = f"{abs(value):,.2f}" if cents else f"{abs(value):,.0f}"
    return f"{sign}${body}"


def pct(fraction: float, digits: int = 1) -> str:
    """A fraction as a percentage: 0.4312 -> 43.1%."""
    return f"{fraction * 100:.{digits}f}%"


def num(value: float, digits: int = 0) -> str:
    """A plain number with thousands commas: 1,234 or 2.5."""
    return f"{value:,.{digits}f}"


def plural(count: float, singular: str, plural_form: str | None = None) -> str:
    """'1 inquiry', '3 inquiries' (the count printed with num())."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{num(count)} {word}"
