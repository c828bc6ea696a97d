"""Controlled corruptions of a verified answer: wrong in one named way, for preference negatives.

Each error class alters a verified answer the way a model errs, and says what it did; whether
the result is really wrong is for the verifiers to confirm (factory.pipeline.preference keeps a
corruption only when they reject it). The classes:

    wrong_decision         <decision> names another tier
    conclusion_contradicts the reasoning ends on another tier's decision; <decision> is unchanged
    missing_reason         a principal reason is left out of <reasons>
    extra_reason           a reason the engine did not name is added to <reasons>
    wrong_reason_text      a reason code keeps its place but carries another code's text
    number_moved           a cited number is replaced by another fact's value (so it is still
                           *some* fact: only a check of which quantity it belongs to sees it)
    comparison_flipped     a comparison is turned around ("above" -> "below")
    invented_fact          a risk factor the case does not have is stated ("a bankruptcy")
    protected_factor       a protected attribute is used as a factor ("given the age of 61")
    subject_named          the subject's name, which no prompt shows, appears in the text

The words come from the domain's rule table (decision words, present words) and its protected
columns, so every domain gets every class it can have. `corrupt` returns None when a class does
not apply to the answer (no reasons to drop, no number to move, nothing absent to invent).

These corruptions make training negatives. The verifier benchmarks measure the verifiers on
alterations of their own, so the verifiers are never graded on the negatives they were shown.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from factory.domains.base import Fact
from factory.domains.rules import RuleTable
from factory.output import parse_output
from factory.verify.numbers import CitedNumber, FactTable, extract_numbers

class Case:
    """What a corruption may read about the case an answer explains."""

    def __init__(
        self,
        row: Mapping[str, Any],
        table: RuleTable,
        facts: Mapping[str, Fact],
        protected: Sequence[str],
    ) -> None:
        self.row = row
        self.table = table
        self.facts = facts
        self.protected = tuple(protected)


def error_classes(selected: Sequence[str] | None = None) -> tuple[str, ...]:
    """The error classes to draw from: all of them, or `selected` (checked).

    Raises:
        ValueError: an unknown class name.
    """
    if selected is None:
        return tuple(_CLASSES)
    unknown = [name for name in selected if name not in _CLASSES]
    if unknown:
        raise ValueError(f"unknown error class {unknown}; choose from {', '.join(_CLASSES)}")
    return tuple(dict.fromkeys(selected))


def corrupt(answer: str, case: Case, error_class: str, rng: random.Random) -> str | None:
    """`answer` altered by `error_class`, or None when the class does not apply to it."""
    return _CLASSES[error_class](answer, case.row, case, rng)


# -- the blocks of an answer ---------------------------------------------------------------

_BLOCK = {name: re.compile(rf"(<{name}>)(.*?)(</{name}>)", re.DOTALL) for name in ("reasoning", "decision", "reasons")}
_REASON_LINE = re.compile(r"^(\s*[-*]\s*)([A-Z][A-Z0-9_]*)(\s*:\s*)(.*)$", re.MULTILINE)
# A sentence ends at ".", "!" or "?" followed by a space or the end ("12.7" goes on).
_SENTENCE = re.compile(r"[^\n]+?[.!?](?=\s|$)")


def _replace_block(answer: str, name: str, inner: str) -> str:
    match = _BLOCK[name].search(answer)
    assert match is not None
    return answer[: match.start(2)] + inner + answer[match.end(2) :]


def _block(answer: str, name: str) -> str | None:
    match = _BLOCK[name].search(answer)
    return match.group(2) if match else None


def _insert_sentence(answer: str, sentence: str, rng: random.Random) -> str | None:
    """`sentence` placed between two sentences of the reasoning (never last: the conclusion
    stays where it was)."""
    reasoning = _block(answer, "reasoning")
    if reasoning is None:
        return None
    ends = [m.end() for m in _SENTENCE.finditer(reasoning)][:-1]
    at = rng.choice(ends) if ends else 0
    text = reasoning[:at] + (" " if at else "\n") + sentence + reasoning[at:]
    return _replace_block(answer, "reasoning", text)


# -- decision and conclusion ---------------------------------------------------------------


def _wrong_decision(answer: str, row: Mapping[str, Any], case: Case, rng: random.Random) -> str | None:
    decision = _block(answer, "decision")
    if decision is None:
        return None
    others = [t for t in case.table.tiers if t != decision.strip()]
    return _replace_block(answer, "decision", rng.choice(others)) if others else None


_CONCLUSIONS = (
    "Taken together, the file should be {word}.",
    "On balance, the right outcome here is {word}.",
    "All things considered, the decision is {word}.",
    "So the case ends in {word}.",
)


def _conclusion_contradicts(
    answer: str, row: Mapping[str, Any], case: Case, rng: random.Random
) -> str | None:
    reasoning = _block(answer, "reasoning")
    if reasoning is None:
        return None
    others = [t for t in case.table.tiers if t != row["decision"]]
    if not others:
        return None
    tier = rng.choice(others)
    words = case.table.decision_words.get(tier) or (tier,)
    ending = rng.choice(_CONCLUSIONS).format(word=rng.choice(words))
    sentences = [m for m in _SENTENCE.finditer(reasoning)]
    if sentences:  # the last sentence (the conclusion) is replaced
        last = sentences[-1]
        text = reasoning[: last.start()] + " " + ending + reasoning[last.end() :]
    else:
        text = reasoning + " " + ending
    return _replace_block(answer, "reasoning", text)


# -- reasons -------------------------------------------------------------------------------


def _reason_lines(answer: str) -> list[re.Match[str]]:
    reasons = _block(answer, "reasons")
    return list(_REASON_LINE.finditer(reasons)) if reasons is not None else []


def _missing_reason(answer: str, row: Mapping[str, Any], case: Case, rng: random.Random) -> str | None:
    reasons = _block(answer, "reasons")
    lines = _reason_lines(answer)
    if reasons is None or not lines:
        return None
    drop = rng.choice(lines)
    return _replace_block(answer, "reasons", reasons[: drop.start()] + reasons[drop.end() + 1 :])


def _extra_reason(answer: str, row: Mapping[str, Any], case: Case, rng: random.Random) -> str | None:
    named = set(parse_output(answer).reasons)
    spare = [r for r in case.table.rules if r.reason and r.code not in named]
    if not spare:
        return None
    rule = rng.choice(spare)
    line = f"- {rule.code}: {rule.text}\n"
    reasons = _block(answer, "reasons")
    if reasons is None:
        return answer.rstrip() + f"\n<reasons>\n{line}</reasons>"
    return _replace_block(answer, "reasons", reasons.rstrip("\n") + "\n" + line)


def _wrong_reason_text(
    answer: str, row: Mapping[str, Any], case: Case, rng: random.Random
) -> str | None:
    lines = _reason_lines(answer)
    reasons = _block(answer, "reasons")
    if not lines or reasons is None:
        return None
    line = rng.choice(lines)
    texts = [r.text for r in case.table.rules if r.code != line.group(2) and r.text]
    texts = [t for t in texts if t.strip() != line.group(4).strip()]
    if not texts:
        return None
    return _replace_block(
        answer, "reasons", reasons[: line.start(4)] + rng.choice(texts) + reasons[line.end(4) :]
    )


# -- numbers and comparisons ---------------------------------------------------------------


def _number_moved(answer: str, row: Mapping[str, Any], case: Case, rng: random.Random) -> str | None:
    reasoning = _block(answer, "reasoning")
    if reasoning is None:
        return None
    facts = [f for f in case.facts.values() if isinstance(f.value, int | float) and f.value]
    options: list[tuple[CitedNumber, str]] = []
    for cited in extract_numbers(reasoning):
        own = [f for f in facts if FactTable([f]).matches(cited)]
        if len(own) != 1:
            continue  # a number several facts vouch for cannot be "moved" unambiguously
        shown = _shown(own[0], cited)
        for other in facts:
            if other.percent != own[0].percent or other is own[0]:
                continue
            value = _shown(other, cited)
            if value is None or shown is None or not 0.2 <= abs(value / shown) <= 5:
                continue
            text = _format_like(cited, value)
            if text is not None and text != cited.text:
                options.append((cited, text))
    if not options:
        return None
    cited, text = rng.choice(options)
    moved = reasoning[: cited.start] + text + reasoning[cited.start + len(cited.text) :]
    return _replace_block(answer, "reasoning", moved)


def _shown(fact: Fact, cited: CitedNumber) -> float | None:
    """The fact's value in the units `cited` shows (a percent of a fraction is 100x)."""
    value = float(fact.value)
    if cited.is_percent and fact.percent:
        value *= 100
    return value or None


def _format_like(cited: CitedNumber, value: float) -> str | None:
    """`value` written the way `cited` is: sign, currency, grouping, decimals, unit marker."""
    digits = f"{abs(value) / cited.scale:,.{cited.decimals}f}"
    if "," not in cited.text:
        digits = digits.replace(",", "")
    match = re.search(r"\d", cited.text)
    last = max(i for i, ch in enumerate(cited.text) if ch.isdigit())
    if match is None:
        return None
    prefix, suffix = cited.text[: match.start()], cited.text[last + 1 :]
    if value < 0 and "-" not in prefix:
        return None
    return prefix + digits + suffix


_FLIPS = (
    ("at or above", "below"),
    ("at or below", "above"),
    ("above", "below"),
    ("below", "above"),
    ("over", "under"),
    ("under", "over"),
    ("exceeds", "falls below"),
    ("exceed", "fall below"),
    ("within", "above"),
    ("meets", "misses"),
    ("clears", "misses"),
    ("satisfies", "fails"),
    ("short of", "above"),
    ("less than", "more than"),
    ("more than", "less than"),
    ("at least", "under"),
    ("inside", "outside"),
    ("outside", "inside"),
)
_FLIP = re.compile(r"\b(" + "|".join(re.escape(a) for a, _ in _FLIPS) + r")\b")
_FLIPPED = dict(_FLIPS)


def _comparison_flipped(
    answer: str, row: Mapping[str, Any], case: Case, rng: random.Random
) -> str | None:
    reasoning = _block(answer, "reasoning")
    if reasoning is None:
        return None
    spots = [
        m
        for sentence in _SENTENCE.finditer(reasoning)
        if re.search(r"\d", sentence.group())
        for m in _FLIP.finditer(reasoning, sentence.start(), sentence.end())
    ]
    if not spots:
        return None
    spot = rng.choice(spots)
    flipped = reasoning[: spot.start()] + _FLIPPED[spot.group(1)] + reasoning[spot.end() :]
    return _replace_block(answer, "reasoning", flipped)


# -- facts that are not there, and facts that must not be used ---------------------------

_INVENTED = {
    "count": (
        "The file also shows a {word}.",
        "There is also a {word} on record, which weighs against the case.",
        "A {word} appears in the history as well.",
    ),
    "boolean": (
        "It is also flagged: {word}.",
        "One more signal is present: {word}.",
        "The record also shows this: {word}.",
    ),
}


def _invented_fact(answer: str, row: Mapping[str, Any], case: Case, rng: random.Random) -> str | None:
    values = case.table.row_values(row)
    quantities = case.table.quantities
    # A risk factor is a count or flag a rule fires on when it is present.
    risks = {
        r.quantity
        for r in case.table.rules
        if r.quantity in quantities
        and (r.op in (">", ">=") or (r.op is None and quantities[r.quantity].unit == "boolean"))
    }
    absent = [
        quantities[name]
        for name in sorted(risks)
        if quantities[name].present_words
        and quantities[name].unit in _INVENTED
        and values.get(name) in (0, False)
    ]
    if not absent:
        return None
    quantity = rng.choice(absent)
    sentence = rng.choice(_INVENTED[quantity.unit]).format(word=quantity.present_words[0])
    return _insert_sentence(answer, sentence, rng)


_PROTECTED = (
    "Given the person's {label} ({value}), the risk here is higher.",
    "The person's {label}, {value}, also counts against the file.",
    "We also weigh the {label} of the person ({value}) in this decision.",
)


def _protected_factor(
    answer: str, row: Mapping[str, Any], case: Case, rng: random.Random
) -> str | None:
    present = [c for c in case.protected if row.get(c) not in (None, "")]
    if not present:
        return None
    column = rng.choice(present)
    label = column.replace("_", " ")
    sentence = rng.choice(_PROTECTED).format(label=label, value=row[column])
    return _insert_sentence(answer, sentence, rng)


_NAMED = (
    "{name} is the person this file belongs to.",
    "For {name}, the numbers above decide the case.",
    "This is {name}'s request.",
)


def _subject_named(answer: str, row: Mapping[str, Any], case: Case, rng: random.Random) -> str | None:
    first, last = row.get("first_name"), row.get("last_name")
    if not first or not last:
        return None
    return _insert_sentence(answer, rng.choice(_NAMED).format(name=f"{first} {last}"), rng)


_CLASSES: dict[str, Callable[[str, Mapping[str, Any], Case, random.Random], str | None]] = {
    "wrong_decision": _wrong_decision,
    "conclusion_contradicts": _conclusion_contradicts,
    "missing_reason": _missing_reason,
    "extra_reason": _extra_reason,
    "wrong_reason_text": _wrong_reason_text,
    "number_moved": _number_moved,
    "comparison_flipped": _comparison_flipped,
    "invented_fact": _invented_fact,
    "protected_factor": _protected_factor,
    "subject_named": _subject_named,
}

ERROR_CLASSES: tuple[str, ...] = tuple(_CLASSES)
