"""Identifying details: a profile's own words (a name above all) that the prompt did not show.

An explanation may repeat what the prompt shows (an employer, a city, a merchant) but nothing
else that identifies the subject: the name, an id, an address the profile holds and the prompt
left out. A candidate is every string value of the row that has a capital letter or a digit
and three characters or more; it is found in the text as a whole word, case-sensitively.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def identifying_details(text: str, row: Mapping[str, Any], prompt: str) -> list[tuple[str, str]]:
    """(column, value) of each identifying detail of `row` found in `text` but not in `prompt`.

    Args:
        text: the explanation (reasoning and answer).
        row: the labelled profile.
        prompt: the user message the model saw.

    Returns:
        The details, in column order.
    """
    found = []
    for column, value in row.items():
        if not isinstance(value, str) or len(value) < 3 or value in prompt:
            continue
        if value.islower() and not any(ch.isdigit() for ch in value):
            continue  # a category ("debt_consolidation"), not a detail
        parts = _parts(value)
        if not any(part in text for part in parts):
            continue
        for part in parts:
            if part in prompt:
                continue
            if any(
                not _heading(text, m.start(), m.end())
                for m in re.finditer(rf"(?<![\w]){re.escape(part)}(?![\w])", text)
            ):
                found.append((column, value))
                break
    return found


def _parts(value: str) -> tuple[str, ...]:
    """The value, and for a multi-word value its words of three letters or more."""
    words = tuple(w for w in value.split() if len(w) >= 3 and w[0].isupper())
    return (value, *words) if len(words) > 1 else (value,)


def _heading(text: str, start: int, end: int) -> bool:
    """A word that opens a line and ends in a colon ("Good: ..." in a list of changes) is a
    heading, not a surname that happens to be the same word."""
    line = text.rfind("\n", 0, start) + 1
    return text[end : end + 1] == ":" and not text[line:start].strip(" -*\t")
