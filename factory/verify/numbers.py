"""The numbers verifier: every number an explanation cites must be one the engine can vouch for.

`extract_numbers` reads the numbers a text cites, the way the template writers print them
(factory.domains._text): money "$84,312", "$1,234.56", "-$120"; percentages "43.1%",
"43.1 percent", "7.1 percentage points", "a 2.0-percentage-point rise"; plain numbers "712",
"1,250", "0.43", "2.5"; scaled amounts "$84k", "$1.2m", "$1.2 million", "12 thousand";
multipliers "3.2x". A number's unit word ("36 months", "2.5 years") is not read: only its value
is checked.

What is not a citation, and is skipped:
    * digits glued to letters or underscores: identifiers and words such as "APP-000123",
      "H2O", "Q3", "3rd", "W-2";
    * malformed groupings such as "1,2345" or "1.2.3" (a version, not an amount);
    * list markers ("1." or "2)" opening a line) and step numbers ("Step 2").
Clock times and dates get no special reading: a writer never prints them, so "10:30" is two
citations, 10 and 30, that must match facts like any other.

`check_numbers` returns the cited numbers that match no fact. The match rule, which is the
"stated tolerance" of the verifier: a cited number c, shown with d decimals and scale s (1, or
1,000 for "k"/"thousand", 10**6 for "m"/"million", 10**9 for "bn"/"billion"), matches a fact
value v when, for some candidate v' of that fact,

    |c - v'| <= 0.5 * 10**-d * s  +  tolerance * |v'|  +  1e-9 * max(1, |v'|)

The first term is the rounding of the digits shown, the second the recipe's relative tolerance
(`filters.number_tolerance`, 0.005 by default), the third absorbs binary floating point. The
candidates v' of a fact are chosen by how the number is shown:

    ===================  ==========================  =====================================
    shown as             Fact(v) (plain)             Fact(v, percent=True) (a fraction)
    ===================  ==========================  =====================================
    percent "43.1%"      v, |v|                      100*v, 100*|v|
    money "$84,312"      v, |v|                      (none: a fraction is never money)
    plain "0.43", "43"   v, |v|                      v, |v|, 100*v, 100*|v|
    ===================  ==========================  =====================================

So "43.1%" and "0.43" both cite Fact(0.4312, percent=True), and "0.43%" does not (it is a
hundred times too small). A percent may cite a plain fact because domains may keep a rate in
percent units (an APR of 7.5 is cited "7.5%"); the digits must still be the fact's own, so this
leniency can let a unit slip but never a wrong value. A negative fact may be cited by its
magnitude ("a shortfall of $120" for -120), but a positive fact is never cited with a minus sign.

Values derivable from the facts (a gap to a threshold, a monthly amount from a yearly one) are
the domain's business: `Domain.facts` lists them, and this module does no arithmetic of its own.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from factory.domains.base import Fact

#: Relative tolerance used when the recipe does not set `filters.number_tolerance`.
DEFAULT_TOLERANCE = 0.005

# One regex does the reading and the exclusions, so prose costs one scan and a little Python
# per number. Groups: 1 sign, 2 the number without its sign, 3 currency, 4 sign after the
# currency ("$-120"), 5 integer part, 6 fraction, 7 percent marker, 8 scale suffix ("k"; "m",
# "bn" and the like only after a currency sign), 9 scale word. A dash after a digit, ")" or "%"
# is a range ("620-680") and is skipped; digits glued to letters, to an identifier's dash
# ("APP-000123") or to the digits of a malformed number ("1.2.3", "1,2345") never match.
_NUMBER = re.compile(
    r"(?=[-+\u2212$£€.\d])"  # a quick first-character filter for the regex engine
    r"(?:(?<![\w)%])([-+\u2212])|(?<=[\d)%])[-\u2212])?"
    r"((?:([$£€])([-\u2212])?)?"
    r"(?<![A-Za-z0-9_])(?<![A-Za-z_][-+\u2212])(?<!\d[.,])"
    r"(?=\.?\d)(\d{1,3}(?:,\d{3})+(?!\d)|\d*)(\.\d+)?"
    r"(?:([\s-]?(?:%|percent\b|per\s+cent\b|percentage[\s-]points?\b))"
    r"|([kK]|(?(3)(?:mn|MM|bn|BN|[mMbB])|(?!)))"
    r"|\s+(thousand|million|billion)\b"
    r"|[x×])?"
    r"(?!\w|[.,]\d))"
)
_SCALES = {
    "k": 1e3, "K": 1e3, "thousand": 1e3,
    "m": 1e6, "M": 1e6, "mn": 1e6, "MM": 1e6, "million": 1e6,
    "b": 1e9, "B": 1e9, "bn": 1e9, "BN": 1e9, "billion": 1e9,
}  # fmt: skip
_MINUS = ("-", "\u2212")
#: A CitedNumber as `_read` finds it, a plain tuple: its fields in order, except the end offset
#: of its text in place of the text (sliced only for the numbers reported).
_Fields = tuple[float, int, bool, bool, int, int, float]


class CitedNumber(NamedTuple):
    """One number as a text shows it.

    Attributes:
        value: the number shown, signed and scaled ("$1.2m" -> 1200000.0, "-$120" -> -120.0).
        decimals: digits shown after the decimal point ("43.1%" -> 1, "$84,312" -> 0).
        is_percent: shown with "%", "percent" or "percentage points".
        is_money: shown with a currency sign.
        text: the characters that show it, e.g. "$84,312".
        start: offset of `text` in the scanned string.
        scale: the suffix's multiplier (1000 for "k" or "thousand", 1 without a suffix).
    """

    value: float
    decimals: int
    is_percent: bool
    is_money: bool
    text: str
    start: int
    scale: float = 1.0

    @property
    def half_unit(self) -> float:
        """Half of the last digit shown: how far the fact may be from the shown value."""
        return 0.5 * 10.0**-self.decimals * self.scale


def extract_numbers(text: str) -> list[CitedNumber]:
    """Reads every number `text` cites, in order (see the module docstring for the forms).

    Args:
        text: reasoning or answer text.

    Returns:
        The cited numbers; identifiers, list markers and step numbers are left out.
    """
    return [_cited(text, fields) for fields in _read(text)]


def check_numbers(
    text: str, facts: Mapping[str, Fact], tolerance: float = DEFAULT_TOLERANCE
) -> list[CitedNumber]:
    """The numbers `text` cites that match no fact (empty when every number is vouched for).

    Args:
        text: the reasoning and answer text (not the <reasons> block).
        facts: the engine's facts for this example, by name.
        tolerance: relative tolerance on top of the rounding of the digits shown.

    Returns:
        The unmatched cited numbers, in text order.
    """
    cited = _read(text)
    if not cited:
        return []
    missed = FactTable(facts.values())._misses(cited, tolerance)
    return [_cited(text, fields) for fields in missed]


class FactTable:
    """The candidate values of a set of facts, sorted for matching by bisection.

    Build one per example when checking several texts against the same facts. Facts whose value
    is None, NaN or infinite vouch for nothing.
    """

    __slots__ = ("_money", "_percent", "_plain")

    def __init__(self, facts: Iterable[tuple[Any, bool]]) -> None:
        # Facts, or the plain (value, percent) pairs of Domain.fact_pairs: only both are read.
        plain: list[float] = []  # v and |v| of plain facts: cited by every form
        fractions: list[float] = []  # v and |v| of percent facts: cited only as plain numbers
        for raw, percent in facts:
            if raw is not None:
                (fractions if percent else plain).append(float(raw))
        # A missing value vouches for nothing (and NaN would break the sort). A non-negative
        # value is its own magnitude: listing it once matches the same numbers.
        plain = [v for v in plain if math.isfinite(v)]
        plain += [-v for v in plain if v < 0]
        fractions = [v for v in fractions if math.isfinite(v)]
        scaled = [v * 100 for v in fractions]  # 100*v and 100*|v|: cited as % or plain
        scaled += [-v for v in scaled if v < 0]
        fractions += [-v for v in fractions if v < 0]
        self._money = sorted(plain)
        self._percent = sorted(self._money + scaled)
        self._plain = sorted(self._percent + fractions)

    def matches(self, number: CitedNumber, tolerance: float = DEFAULT_TOLERANCE) -> bool:
        """Whether `number` matches a fact under the module's match rule."""
        return not self._misses([number], tolerance)

    def _misses(
        self, cited: Sequence[_Fields] | Sequence[CitedNumber], tolerance: float
    ) -> list[Any]:
        """The cited numbers (`_read` fields or CitedNumbers, in their order) that match no
        fact."""
        missed = []
        money, percents, plain = self._money, self._percent, self._plain
        narrow = tolerance < 0.5
        left, right = bisect.bisect_left, bisect.bisect_right
        for fields in cited:
            c, decimals, is_percent, is_money, _, _, scale = fields
            values = money if is_money else percents if is_percent else plain
            half = 0.5 * 10.0**-decimals * scale
            # Any matching v' has |v'| <= bound and so lies within `slack` of c: bisect to
            # that window, then apply the exact rule to the few values inside it.
            if narrow:
                bound = (abs(c) + half + 1e-9) / (1 - tolerance - 1e-9)
                slack = half + (tolerance + 1e-9) * (bound if bound > 1.0 else 1.0) + 1e-9
                window = values[left(values, c - slack) : right(values, c + slack)]
            else:
                window = values
            for v in window:
                size = abs(v)
                if abs(c - v) <= half + tolerance * size + 1e-9 * (size if size > 1.0 else 1.0):
                    break
            else:
                missed.append(fields)
        return missed


def _read(text: str) -> list[_Fields]:
    """The fields of every CitedNumber in `text`, as plain tuples (cheaper to build)."""
    found: list[_Fields] = []
    for match in _NUMBER.finditer(text):
        sign, _, currency, sign2, integer, frac, percent, suffix, word = match.groups()
        start = match.start() if sign else match.start(2)
        end = match.end()
        if not (sign or currency or percent or frac) and _enumerates(text, start, end):
            continue
        if "," in integer:
            integer = integer.replace(",", "")
        value = float(integer + frac) if frac else float(integer)
        scale = _SCALES[suffix or word] if (suffix or word) else 1.0
        if sign in _MINUS or sign2:
            value = -value
        found.append(
            (
                value * scale,
                len(frac) - 1 if frac else 0,
                percent is not None,
                currency is not None,
                end,
                start,
                scale,
            )
        )
    return found


def _cited(text: str, fields: _Fields) -> CitedNumber:
    value, decimals, is_percent, is_money, end, start, scale = fields
    return CitedNumber(value, decimals, is_percent, is_money, text[start:end], start, scale)


def _enumerates(text: str, start: int, end: int) -> bool:
    """True for a list marker opening a line ("1." / "2)") or a step number ("Step 2")."""
    if text[end : end + 1] in (".", ")") and text[end + 1 : end + 2] in ("", " ", "\n", "\t"):
        line_start = text.rfind("\n", 0, start) + 1
        if not text[line_start:start].strip():
            return True
    return (
        start >= 5
        and text[start - 1] == " "
        and text[start - 5 : start - 1].lower() == "step"
        and (start == 5 or not text[start - 6].isalpha())
    )
