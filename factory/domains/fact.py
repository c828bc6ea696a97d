"""A number an explanation may cite (Fact), apart from the domain interface so that the rule
tables' fact finder (factory.domains.rules.facts) and the interface (factory.domains.base) both
import it without importing each other."""

from __future__ import annotations

from typing import NamedTuple


class _FactValue(NamedTuple):
    value: float
    percent: bool = False


class Fact(_FactValue):
    """A number an explanation may cite.

    A (value, percent) pair, as before rule tables: code that unpacks, compares or builds it
    from two values keeps working. A fact from a rule table also knows what it is a number of
    (read-only attributes beside the tuple; None / () when unknown).

    Attributes:
        value: the exact value the engine computed.
        percent: True when the value is a fraction that text may show as a percentage
            (0.4312 may be cited as 43.1% or 0.43).
        quantity: the quantity it is the value of, the threshold of, or the gap of ("dti").
        unit: that quantity's unit ("fraction", "money", ...).
        aliases: the words a text may use for it (label first).
        role: "value", "threshold" or "gap".
    """

    # (quantity, unit, aliases, role), shared between the facts of one table entry.
    _meta: tuple[str | None, str | None, tuple[str, ...], str | None] = (None, None, (), None)

    def __new__(
        cls,
        value: float,
        percent: bool = False,
        quantity: str | None = None,
        unit: str | None = None,
        aliases: tuple[str, ...] = (),
        role: str | None = None,
    ) -> Fact:
        fact = tuple.__new__(cls, (value, percent))
        if quantity is not None:
            fact._meta = (quantity, unit, tuple(aliases), role)
        return fact

    @classmethod
    def described(
        cls, value: float, percent: bool, meta: tuple[str, str, tuple[str, ...], str]
    ) -> Fact:
        """A fact with its (quantity, unit, aliases, role) tuple (the facts' fast path)."""
        fact = tuple.__new__(cls, (value, percent))
        fact._meta = meta
        return fact

    @property
    def quantity(self) -> str | None:
        return self._meta[0]

    @property
    def unit(self) -> str | None:
        return self._meta[1]

    @property
    def aliases(self) -> tuple[str, ...]:
        return self._meta[2]

    @property
    def role(self) -> str | None:
        return self._meta[3]
