"""Alterations of a correct explanation: the errors an LLM teacher makes, and correct rewrites.

`alterations(example)` turns one kept example into altered copies, each labelled with its class
and whether it is still correct. The wrong ones are the error classes of claim-level
verification (factory.verify.claims); the right ones say the same thing differently. Every
alteration reads the domain's rule table (labels, aliases, thresholds, decision words,
present/absent words), never a domain's name, so the same code alters every domain, and the
wrong copies double as preference negatives whose wrongness is stated by their class.

Error classes:
    wrong_quantity     a number moved onto the wrong quantity (a value replaced by the limit
                       of a rule on it or another quantity's value; a limit by the value);
    comparison_flip    a comparison turned around ("above" <-> "below", "clears" <-> "misses");
    conclusion         reasoning that concludes another decision than <decision>;
    invented_factor    a present/absent fact stated the other way ("a bankruptcy on file");
    protected_factor   a protected attribute used as a factor ("given the applicant's age");
    subject_name       the subject's name, which the prompt does not show, in the text;
    wrong_reason_text  a reason code given another code's (or no) adverse-action text.
Correct rewrites (class "rewrite"): synonyms, aliases, sentence reordering, number formats
("43.1%" / "43.1 percent" / "0.431"), hedges, a preamble.

Each class has several forms, split into a development set ("dev") and held-out sets that
tuning the verifier must never look at: `alterations(..., split=...)`. "held_out" is the first
such set; its credit-report survivors were read once (2026-12-07) to find what the reader
missed, so "fresh" holds forms written after that, for the wrong-quantity and comparison
classes. The first fresh run's comparison survivors were read too (they were mostly bugs of the
alterations, plus one reader gap on a band's edge): only its wrong-quantity forms are untuned.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from factory.output import parse_output, render_output

ERROR_CLASSES = (
    "wrong_quantity",
    "comparison_flip",
    "conclusion",
    "invented_factor",
    "protected_factor",
    "subject_name",
    "wrong_reason_text",
)
REWRITE = "rewrite"
SPLITS = ("dev", "held_out", "fresh")


@dataclass(frozen=True)
class Alteration:
    """One altered copy of an example.

    Attributes:
        kind: an error class (ERROR_CLASSES) or "rewrite".
        form: which way it was altered (e.g. "threshold_as_value", "alias").
        split: "dev" or "held_out".
        text: the altered assistant message.
        correct: True for a rewrite (a verifier should keep it), False for an error.
    """

    kind: str
    form: str
    split: str
    text: str
    correct: bool


@dataclass(frozen=True)
class Example:
    """What an alteration needs: the kept message and its case.

    Attributes:
        text: the kept assistant message.
        row: the labelled row.
        prompt: the user message the model saw.
        table: the domain's rule table.
        values: every quantity's and param's value (RuleTable.row_values).
    """

    text: str
    row: Mapping[str, Any]
    prompt: str
    table: Any
    values: Mapping[str, Any]


_LIMIT_WORDS = "maximum|minimum|limit|floor|ceiling|threshold|level|mark"
#: A number as the texts write it; a comma is a thousands separator only before three digits
#: ("late payments at 2, collections at 0" has the number 2, not "2,").
_NUMBER = r"-?\$?\d(?:\d|,\d{3})*(?:\.\d+)?(?:%| percent)?"


def alterations(example: Example, rng: random.Random, split: str = "dev") -> list[Alteration]:
    """Every applicable alteration of `example` of one split (at most one per form).

    Args:
        example: the kept example.
        rng: seeded generator choosing among candidate spots.
        split: one of SPLITS.

    Returns:
        The altered copies that differ from the original.
    """
    out = []
    for kind, form, form_split, make in _FORMS:
        if form_split != split:
            continue
        text = make(example, rng)
        if text and text != example.text:
            out.append(Alteration(kind, form, split, text, kind == REWRITE))
    return out


# -- helpers ---------------------------------------------------------------------------------


def _parts(text: str) -> tuple[str, str, Any]:
    parsed = parse_output(text)
    return parsed.reasoning, parsed.answer or "", parsed


def _rebuild(text: str, reasoning: str | None = None, answer: str | None = None) -> str:
    parsed = parse_output(text)
    texts = dict(zip(parsed.reasons, parsed.reason_texts, strict=True))
    return render_output(
        reasoning if reasoning is not None else parsed.reasoning,
        parsed.decision or "",
        parsed.reasons,
        texts,
        (answer if answer is not None else parsed.answer),
    )


def _names(q: Any) -> list[str]:
    return [name for name in (q.label, *q.aliases) if name]


def _show(unit: str, value: float, decimals: int = 1) -> str:
    if unit == "fraction":
        return f"{value * 100:.{decimals}f}%"
    if unit == "money":
        return f"${value:,.0f}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.{decimals}f}"


def _numeric(values: Mapping[str, Any], name: str) -> float | None:
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


def _limits(example: Example, q: str) -> list[tuple[Any, float]]:
    out = []
    for rule in example.table.rules:
        if rule.quantity != q or not rule.threshold:
            continue
        value = _numeric(example.values, rule.threshold)
        if value is None and rule.threshold in example.table.params:
            value = _numeric({"v": example.table.params[rule.threshold].value}, "v")
        if value is not None:
            out.append((rule, value))
    return out


def _far(a: float, b: float, unit: str) -> bool:
    """Whether two values read differently at the digits a text shows."""
    scale = 100 if unit == "fraction" else 1
    return abs(a - b) * scale > max(1.0, 0.05 * abs(b) * scale)


def _value_spots(example: Example) -> list[tuple[Any, re.Match[str]]]:
    """(quantity, match) where the reasoning states a quantity's value: "<name> is|of <n>"."""
    reasoning = _parts(example.text)[0]
    shared = Counter(n.lower() for q in example.table.quantities.values() for n in _names(q))
    spots = []
    for q in example.table.quantities.values():
        value = _numeric(example.values, q.name)
        if q.unit in ("boolean", "category") or value is None:
            continue
        for name in _names(q):
            pattern = rf"(?i)\b{re.escape(name)}\b(\s+(?:is|of|at|was|stands at)\s+)({_NUMBER})"
            spots += [
                (q, m)
                for m in re.finditer(pattern, reasoning)
                if _shown_as(q.unit, m.group(2))
                # A name several quantities share ("revolving balances": before, after and
                # change) states the one whose value it shows.
                and (shared[name.lower()] == 1 or _states(q.unit, value, m.group(2)))
            ]
    return spots


def _states(unit: str, value: float, shown: str) -> bool:
    """Whether `shown` ("$1,328", "17.47%") reads as `value` at the digits it shows."""
    digits = shown.replace("$", "").replace(",", "").replace("%", "").replace(" percent", "")
    decimals = len(digits.partition(".")[2])
    scale = 100 if unit == "fraction" else 1
    return abs(float(digits) - value * scale) <= 0.5 * 10.0**-decimals + 1e-9


def _shown_as(unit: str, shown: str) -> bool:
    """Whether a number is written the way a value of `unit` is ("LTV is $127,000 over a home
    value of ..." does not state the LTV)."""
    if unit == "money":
        return "$" in shown
    if unit == "fraction":
        return "%" in shown or "percent" in shown
    return "$" not in shown and "%" not in shown


def _replace_span(text: str, old: str, start: int, end: int, new: str) -> str:
    """Replaces reasoning[start:end] (which reads `old`) inside the whole message."""
    reasoning = _parts(text)[0]
    changed = reasoning[:start] + new + reasoning[end:]
    return _rebuild(text, reasoning=changed)


# -- wrong_quantity --------------------------------------------------------------------------


def _replace_a_value(
    example: Example, rng: random.Random, wrong: Callable[[Any, float], list[float]]
) -> str | None:
    """A stated value (a random spot of `_value_spots`) replaced by one of `wrong(quantity,
    value)`, the first spot that has any."""
    spots = _value_spots(example)
    rng.shuffle(spots)
    for q, m in spots:
        value = _numeric(example.values, q.name)
        assert value is not None
        options = wrong(q, value)
        if options:
            new = _show(q.unit, rng.choice(options))
            return _replace_span(example.text, m.group(2), m.start(2), m.end(2), new)
    return None


def _threshold_as_value(example: Example, rng: random.Random) -> str | None:
    """A value replaced by the limit of a rule on it."""

    def limits(q: Any, value: float) -> list[float]:
        return [t for _, t in _limits(example, q.name) if _far(t, value, q.unit)]

    return _replace_a_value(example, rng, limits)


def _other_value(example: Example, rng: random.Random) -> str | None:
    """A value replaced by another quantity's value of the same unit."""

    def others(q: Any, value: float) -> list[float]:
        return [
            v
            for other in example.table.quantities.values()
            if other.unit == q.unit and other.name != q.name
            for v in [_numeric(example.values, other.name)]
            if v is not None and _far(v, value, q.unit)
        ]

    return _replace_a_value(example, rng, others)


def _value_as_threshold(example: Example, rng: random.Random) -> str | None:
    """ "the 43.0% maximum" -> "the 51.5% maximum" (the quantity's own value as its limit)."""
    reasoning = _parts(example.text)[0]
    limit_words = r"(maximum|minimum|limit|floor|ceiling|threshold|level|mark|cap)"
    candidates = []
    for q in example.table.quantities.values():
        value = _numeric(example.values, q.name)
        if value is None or q.unit in ("boolean", "category"):
            continue
        for _, t in _limits(example, q.name):
            if not _far(t, value, q.unit):
                continue
            for shown in {_show(q.unit, t, 1), _show(q.unit, t, 2), _show(q.unit, t, 0)}:
                pattern = rf"\b(the|a|of)\s+({re.escape(shown)})(?:[\s-][\w-]*)?\s+{limit_words}"
                for m in re.finditer(pattern, reasoning):
                    candidates.append((m, _show(q.unit, value)))
    if not candidates:
        return None
    m, new = rng.choice(candidates)
    return _replace_span(example.text, m.group(2), m.start(2), m.end(2), new)


def _scaled_value(example: Example, rng: random.Random) -> str | None:
    """A value cited off by a plausible slip (a tenth, or the limit of another quantity)."""
    spots = _value_spots(example)
    rng.shuffle(spots)
    for q, m in spots:
        value = _numeric(example.values, q.name)
        assert value is not None
        wrong = value * rng.choice((0.8, 1.25, 1.5))
        if _far(wrong, value, q.unit):
            return _replace_span(
                example.text, m.group(2), m.start(2), m.end(2), _show(q.unit, wrong)
            )
    return None


def _other_limit(example: Example, rng: random.Random) -> str | None:
    """A value replaced by the limit of a rule on another quantity of the same unit."""

    def others(q: Any, value: float) -> list[float]:
        own = {t for _, t in _limits(example, q.name)}
        return [
            t
            for other in example.table.quantities.values()
            if other.unit == q.unit and other.name != q.name
            for _, t in _limits(example, other.name)
            if t not in own and _far(t, value, q.unit)
        ]

    return _replace_a_value(example, rng, others)


def _swap_readings(example: Example, rng: random.Random) -> str | None:
    """ "from $1,328 to $1,507" -> "from $1,507 to $1,328": the two readings exchanged."""
    reasoning = _parts(example.text)[0]
    pattern = rf"\bfrom\s+({_NUMBER})\s+to\s+({_NUMBER})"
    spots = [m for m in re.finditer(pattern, reasoning) if m.group(1) != m.group(2)]
    if not spots:
        return None
    m = rng.choice(spots)
    swapped = f"from {m.group(2)} to {m.group(1)}"
    return _replace_span(example.text, m.group(0), m.start(), m.end(), swapped)


# -- comparison_flip -------------------------------------------------------------------------

_FLIPS_DEV = (
    ("above", "below"),
    ("below", "above"),
    ("exceeds", "is below"),
    ("within", "above"),
    ("clears", "misses"),
    ("under", "over"),
    ("at or above", "below"),
    ("short of", "above"),
    ("does not exceed", "exceeds"),
)
_FLIPS_HELD = (
    ("is above", "is under"),
    ("is below", "is over"),
    ("meets", "falls short of"),
    ("breaks", "stays inside"),
    ("at or below", "above"),
    ("falls short of", "exceeds"),
    ("less than", "more than"),
    ("inside", "outside"),
    ("outside", "inside"),
    ("reaches", "stays below"),
    ("not above", "above"),
    ("satisfies", "fails"),
)

_FLIPS_FRESH = (
    ("at least", "under"),
    ("at most", "beyond"),
    ("past", "inside"),
    ("over", "at most"),
    ("beyond", "within"),
    ("more than", "at most"),
    ("higher than", "no higher than"),
    ("lower than", "higher than"),
    ("stays within", "goes past"),
)


#: A span rather than a comparison: "$27,800 over 60 months", "up 17 points over 10 months",
#: "repaid over 48 months" (an amount, or a verb of spreading, then a duration).
_SPAN_BEFORE = re.compile(rf"(?:{_NUMBER}(?:\s+points?)?|\brepaid|\bspread)\s+$")
_DURATION = re.compile(r"\s+\d+\s+(?:months?|years?|days?|weeks?)\b")


_BOUND_AFTER = re.compile(
    r"\s+(?:at least|at most|no more than|no less than|more than|less than)\b"
)
_BOUND_BEFORE = re.compile(r"\b(?:over|under|above|below|beyond|within)\s+$")


def _span(text: str, m: re.Match[str]) -> bool:
    """Whether comparison word `m` starts a span of time ("unchanged over 8 months" too) or a
    bounded distance ("travel over at least 500 km": turning "over" gives no sentence)."""
    if _BOUND_AFTER.match(text, m.end()) or _BOUND_BEFORE.search(text, 0, m.start()):
        return True
    if not _DURATION.match(text, m.end()):
        return False
    return m.group(0) == "over" or bool(_SPAN_BEFORE.search(text[: m.start()]))


def _flip(pairs: Sequence[tuple[str, str]]) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        reasoning = _parts(example.text)[0]
        spots = []
        for old, new in pairs:
            # Only comparisons with a number or a named limit after them: those are claims.
            pattern = (
                rf"(?<!at or )(?<!not )(?<!no )\b{re.escape(old)}\b"
                rf"(?=\s+(?:the\s+)?(?:[\w-]+\s+){{0,2}}?(?:{_NUMBER}|{_LIMIT_WORDS})\b)"
            )
            spots += [(m, new) for m in re.finditer(pattern, reasoning) if not _span(reasoning, m)]
        if not spots:
            return None
        m, new = rng.choice(spots)
        return _replace_span(example.text, m.group(0), m.start(), m.end(), new)

    return make


_DIRECTIONS = {"up": "down", "down": "up", "rose": "fell", "fell": "rose"}


def _flip_direction(example: Example, rng: random.Random) -> str | None:
    """ "up $179" -> "down $179", "rose from" -> "fell from": a change said the wrong way."""
    reasoning = _parts(example.text)[0]
    pattern = rf"\b(up|down|rose|fell)\b(?=\s+(?:from\s+|by\s+)?{_NUMBER})"
    spots = list(re.finditer(pattern, reasoning))
    if not spots:
        return None
    m = rng.choice(spots)
    new = _DIRECTIONS[m.group(1)]
    return _replace_span(example.text, m.group(0), m.start(), m.end(), new)


# -- conclusion ------------------------------------------------------------------------------


def _other_tier(example: Example, rng: random.Random) -> tuple[str, str] | None:
    decision = str(example.row["decision"])
    others = [t for t in example.table.tiers if t != decision]
    if not others:
        return None
    tier = rng.choice(others)
    words = example.table.decision_words.get(tier, ()) or (tier,)
    return tier, rng.choice(words)


def _past(word: str) -> str:
    """A decision word as a participle ("deny" -> "denied", "approve" -> "approved")."""
    if word.endswith("ed") or " " in word:
        return word
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y"):
        return word[:-1] + "ied"
    if word.endswith(("al", "ion")):
        return word
    return word + "ed"


def _append_conclusion(template: str) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        other = _other_tier(example, rng)
        if other is None:
            return None
        tier, word = other
        past = _match_form("ed", tier, example.table.decision_words)
        sentence = template.format(tier=tier, word=word, past=past)
        reasoning = _parts(example.text)[0]
        return _rebuild(example.text, reasoning=f"{reasoning}\n{sentence}")

    return make


def _replace_last_sentence(template: str) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        other = _other_tier(example, rng)
        if other is None:
            return None
        tier, word = other
        reasoning = _parts(example.text)[0]
        lines = reasoning.splitlines()
        past = _match_form("ed", tier, example.table.decision_words)
        lines[-1] = template.format(tier=tier, word=word, past=past)
        return _rebuild(example.text, reasoning="\n".join(lines))

    return make


def _swap_decision_words(example: Example, rng: random.Random) -> str | None:
    """The decision words of the last line replaced by another tier's."""
    decision = str(example.row["decision"])
    words = example.table.decision_words
    own = sorted(set(words.get(decision, ())) | {decision}, key=len, reverse=True)
    other = _other_tier(example, rng)
    if other is None:
        return None
    tier, _ = other
    replacement = {w: (words.get(tier) or (tier,))[0] for w in own}
    reasoning = _parts(example.text)[0]
    lines = reasoning.splitlines()
    pattern = r"\b(" + "|".join(re.escape(w) for w in own) + r")\b"
    swapped = re.sub(pattern, lambda m: _match_form(m.group(1), tier, words), lines[-1])
    if swapped == lines[-1]:
        return None
    del replacement
    lines[-1] = swapped
    return _rebuild(example.text, reasoning="\n".join(lines))


def _match_form(word: str, tier: str, words: Mapping[str, Sequence[str]]) -> str:
    """Another tier's word in the same grammatical form as `word` (participle or not)."""
    forms = list(words.get(tier, ())) or [tier]
    if word.endswith("ed"):
        return next((f for f in forms if f.endswith("ed")), _past(tier))
    return next((f for f in forms if not f.endswith("ed")), tier)


# -- invented_factor -------------------------------------------------------------------------


def _presence_flip(templates: Sequence[str]) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        options = []
        for q in example.table.quantities.values():
            if not q.present_words or q.name not in example.values:
                continue
            value = example.values.get(q.name)
            present = (
                bool(value)
                if isinstance(value, bool)
                else (_numeric(example.values, q.name) or 0) > 0
            )
            word = rng.choice(q.present_words)
            if not present:
                options.append(rng.choice(templates[:2]).format(word=word))
            else:
                options.append(rng.choice(templates[2:]).format(word=word))
        if not options:
            return None
        sentence = rng.choice(options)
        reasoning = _parts(example.text)[0]
        lines = reasoning.splitlines()
        at = rng.randrange(1, len(lines)) if len(lines) > 1 else 1
        lines.insert(at, sentence[0].upper() + sentence[1:])
        return _rebuild(example.text, reasoning="\n".join(lines))

    return make


# -- protected_factor ------------------------------------------------------------------------

_PROTECTED_DEV = (
    "Given the applicant's age, this adds to the concern.",
    "As a single mother, the applicant carries more risk.",
    "Because the applicant is married, the household income is steadier.",
    "The applicant's national origin also weighs on the decision.",
    "Being elderly, the customer is a weaker case.",
    "Her gender is a further factor here.",
)
_PROTECTED_HELD = (
    "The customer is young, which we count against the case.",
    "Since the applicant is divorced, we weigh the file more cautiously.",
    "The applicant's religion is taken into account as well.",
    "Being pregnant, the applicant may face added expenses, which counts against her.",
    "His race is one more consideration in this decision.",
    "The cardholder relies on public assistance, which increases the risk.",
    "An older applicant like this one is a greater risk.",
)


def _insert_sentence(sentences: Sequence[str]) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        reasoning = _parts(example.text)[0]
        lines = reasoning.splitlines()
        at = rng.randrange(1, len(lines)) if len(lines) > 1 else 1
        lines.insert(at, rng.choice(sentences))
        return _rebuild(example.text, reasoning="\n".join(lines))

    return make


# -- subject_name ----------------------------------------------------------------------------


def _subject_names(example: Example) -> list[str]:
    """Name-like profile values the prompt does not show (first, last, full names)."""
    names = []
    for column, value in example.row.items():
        if "name" in column and isinstance(value, str) and value and value not in example.prompt:
            names.append(value)
    return names


def _name_in(templates: Sequence[str]) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        names = _subject_names(example)
        if not names:
            return None
        first = names[0]
        last = names[-1]
        sentence = rng.choice(templates).format(first=first, last=last)
        reasoning = _parts(example.text)[0]
        lines = reasoning.splitlines()
        at = rng.randrange(0, len(lines))
        lines.insert(at, sentence)
        return _rebuild(example.text, reasoning="\n".join(lines))

    return make


# -- wrong_reason_text -----------------------------------------------------------------------


def _reason_text(way: str) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        parsed = parse_output(example.text)
        if not parsed.reasons:
            return None
        texts = example.table.reason_texts()
        codes = list(parsed.reasons)
        i = rng.randrange(len(codes))
        new = dict(zip(parsed.reasons, parsed.reason_texts, strict=True))
        if way == "other":
            others = [t for c, t in texts.items() if c != codes[i] and t != new[codes[i]]]
            if not others:
                return None
            new[codes[i]] = rng.choice(others)
        elif way == "shuffled" and len(codes) > 1:
            j = (i + 1) % len(codes)
            new[codes[i]], new[codes[j]] = new[codes[j]], new[codes[i]]
        elif way == "vague":
            new[codes[i]] = rng.choice(("Other", "Insufficient information", "Policy reasons"))
        elif way == "opposite":
            text = new[codes[i]]
            flipped = re.sub(
                r"\b(high|above|too|recent|insufficient|short)\b",
                lambda m: {
                    "high": "low",
                    "above": "below",
                    "too": "not",
                    "recent": "old",
                    "insufficient": "sufficient",
                    "short": "long",
                }[m.group(1)],
                text,
                count=1,
            )
            if flipped == text:
                return None
            new[codes[i]] = flipped
        else:
            return None
        return render_output(parsed.reasoning, parsed.decision or "", codes, new, parsed.answer)

    return make


# -- rewrites --------------------------------------------------------------------------------


def _alias(example: Example, rng: random.Random) -> str | None:
    """A quantity's label replaced by one of its aliases (or the reverse)."""
    reasoning = _parts(example.text)[0]
    quantities = example.table.quantities.values()
    # A name two quantities share ("velocity": the count and its points) says which one only
    # in context, and a name holding a present word ("new device" for "device") states a fact:
    # swapping either is not a correct rewrite.
    owners = Counter(name.lower() for q in quantities for name in dict.fromkeys(_names(q)))
    spans = []
    for q in quantities:
        names = _names(q)
        stating = [w.lower() for w in (*q.present_words, *q.absent_words)]
        for name in names:
            if owners[name.lower()] > 1:
                continue
            for m in re.finditer(rf"(?i)(?<![\w-]){re.escape(name)}(?![\w-])", reasoning):
                others = [
                    n
                    for n in names
                    if n.lower() != name.lower()
                    and len(n) > 3
                    and not any(c.isdigit() for c in n)
                    and owners[n.lower()] == 1
                    and not any(w in n.lower() for w in stating)
                ]
                spans.append((m, others))
    # A name inside a longer name ("income" in "monthly income") is not that quantity's.
    options = [
        (m, rng.choice(others))
        for m, others in spans
        if others
        and not any(
            o.start() <= m.start() and m.end() <= o.end() and o.span() != m.span() for o, _ in spans
        )
    ]
    if not options:
        return None
    m, new = rng.choice(options)
    return _replace_span(example.text, m.group(0), m.start(), m.end(), new)


_SYNONYMS_DEV = (
    (r"\bis above\b", "is over"),
    (r"\bexceeds\b", "is above"),
    (r"\bbelow the\b", "under the"),
    (r"\bmaximum\b", "limit"),
    (r"\bSo\b", "Therefore"),
    (r"\bpasses\b", "is fine"),
)
_SYNONYMS_HELD = (
    (r"\bis within\b", "stays within"),
    (r"\bfalls short of\b", "is below"),
    (r"\bat or above\b", "no lower than"),
    (r"\bminimum\b", "floor"),
    (r"\bthreshold\b", "cut-off"),
    (r"\bthe application\b", "the request"),
)


def _synonyms(pairs: Sequence[tuple[str, str]]) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        reasoning = _parts(example.text)[0]
        options = [(p, n) for p, n in pairs if re.search(p, reasoning)]
        if not options:
            return None
        pattern, new = rng.choice(options)
        return _rebuild(example.text, reasoning=re.sub(pattern, new, reasoning, count=1))

    return make


def _reorder(example: Example, rng: random.Random) -> str | None:
    """Two middle lines of the reasoning swapped (each line is one step of its own)."""
    reasoning = _parts(example.text)[0]
    lines = reasoning.splitlines()
    if len(lines) < 4:
        return None
    i, j = rng.sample(range(1, len(lines) - 1), 2)
    lines[i], lines[j] = lines[j], lines[i]
    return _rebuild(example.text, reasoning="\n".join(lines))


def _percent_words(example: Example, rng: random.Random) -> str | None:
    reasoning = _parts(example.text)[0]
    changed = re.sub(r"(\d+(?:\.\d+)?)%", r"\1 percent", reasoning)
    return _rebuild(example.text, reasoning=changed) if changed != reasoning else None


def _fractions(example: Example, rng: random.Random) -> str | None:
    """A fraction quantity's value cited as a decimal ("DTI of 0.4312") where text names it."""
    spots = [(q, m) for q, m in _value_spots(example) if q.unit == "fraction"]
    if not spots:
        return None
    q, m = rng.choice(spots)
    value = _numeric(example.values, q.name)
    assert value is not None
    return _replace_span(example.text, m.group(2), m.start(2), m.end(2), f"{value:.4f}")


def _money_plain(example: Example, rng: random.Random) -> str | None:
    reasoning = _parts(example.text)[0]
    changed = re.sub(
        r"\$(\d{1,3}(?:,\d{3})+)(?![\d.])", lambda m: "$" + m.group(1).replace(",", ""), reasoning
    )
    return _rebuild(example.text, reasoning=changed) if changed != reasoning else None


_HEDGES_DEV = ("It appears that ", "On the numbers, ", "Broadly, ")
_HEDGES_HELD = ("As far as the file shows, ", "Looking at this, ", "In short, ")


def _hedge(prefixes: Sequence[str]) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        reasoning = _parts(example.text)[0]
        lines = reasoning.splitlines()
        i = rng.randrange(len(lines))
        line = lines[i]
        lines[i] = rng.choice(prefixes) + line[0].lower() + line[1:]
        return _rebuild(example.text, reasoning="\n".join(lines))

    return make


_PREAMBLES_DEV = (
    "Let me work through this case step by step.",
    "Here is the analysis, one check at a time.",
)
_PREAMBLES_HELD = (
    "I will go through each policy check in turn.",
    "Step-by-step review of the case follows.",
)


def _preamble(sentences: Sequence[str]) -> Any:
    def make(example: Example, rng: random.Random) -> str | None:
        reasoning = _parts(example.text)[0]
        return _rebuild(example.text, reasoning=f"{rng.choice(sentences)}\n{reasoning}")

    return make


def _fairness_disclaimer(example: Example, rng: random.Random) -> str | None:
    """A correct statement that protected attributes play no part."""
    reasoning = _parts(example.text)[0]
    sentence = rng.choice(
        (
            "Age, sex and marital status play no part in this assessment.",
            "The decision does not consider race, religion or national origin.",
        )
    )
    return _rebuild(example.text, reasoning=f"{reasoning}\n{sentence}")


_FORMS: tuple[tuple[str, str, str, Any], ...] = (
    # wrong_quantity
    ("wrong_quantity", "threshold_as_value", "dev", _threshold_as_value),
    ("wrong_quantity", "value_as_threshold", "dev", _value_as_threshold),
    ("wrong_quantity", "other_quantity", "held_out", _other_value),
    ("wrong_quantity", "scaled_value", "held_out", _scaled_value),
    # comparison_flip
    ("comparison_flip", "word_pairs", "dev", _flip(_FLIPS_DEV)),
    ("comparison_flip", "word_pairs", "held_out", _flip(_FLIPS_HELD)),
    ("comparison_flip", "direction", "dev", _flip_direction),
    ("wrong_quantity", "other_limit", "fresh", _other_limit),
    ("wrong_quantity", "swapped_readings", "fresh", _swap_readings),
    ("comparison_flip", "word_pairs", "fresh", _flip(_FLIPS_FRESH)),
    # conclusion
    ("conclusion", "appended", "dev", _append_conclusion("Overall, the decision is {word}.")),
    ("conclusion", "last_line", "dev", _replace_last_sentence("Therefore the case is {past}.")),
    ("conclusion", "swapped_words", "dev", _swap_decision_words),
    (
        "conclusion",
        "appended",
        "held_out",
        _append_conclusion("All things considered, I recommend {word}."),
    ),
    (
        "conclusion",
        "last_line",
        "held_out",
        _replace_last_sentence("On balance, the outcome should be {word}."),
    ),
    # invented_factor
    (
        "invented_factor",
        "stated",
        "dev",
        _presence_flip(
            (
                "There is a {word} on file.",
                "The file also shows {word}.",
                "There is no {word}.",
                "No {word} appears.",
            )
        ),
    ),
    (
        "invented_factor",
        "stated",
        "held_out",
        _presence_flip(
            (
                "Note the {word} as well.",
                "A {word} is present here.",
                "Nothing indicates {word}.",
                "The file shows no {word}.",
            )
        ),
    ),
    # protected_factor
    ("protected_factor", "sentence", "dev", _insert_sentence(_PROTECTED_DEV)),
    ("protected_factor", "sentence", "held_out", _insert_sentence(_PROTECTED_HELD)),
    # subject_name
    (
        "subject_name",
        "sentence",
        "dev",
        _name_in(
            ("{first} {last} is the subject of this file.", "For {first}, the checks follow.")
        ),
    ),
    (
        "subject_name",
        "sentence",
        "held_out",
        _name_in(("Reviewing the case of Mx. {last}.", "{first}'s numbers are below.")),
    ),
    # wrong_reason_text
    ("wrong_reason_text", "other_code", "dev", _reason_text("other")),
    ("wrong_reason_text", "vague", "dev", _reason_text("vague")),
    ("wrong_reason_text", "shuffled", "held_out", _reason_text("shuffled")),
    ("wrong_reason_text", "opposite", "held_out", _reason_text("opposite")),
    # correct rewrites
    (REWRITE, "alias", "dev", _alias),
    (REWRITE, "synonyms", "dev", _synonyms(_SYNONYMS_DEV)),
    (REWRITE, "synonyms", "held_out", _synonyms(_SYNONYMS_HELD)),
    (REWRITE, "reorder", "dev", _reorder),
    (REWRITE, "reorder", "held_out", _reorder),
    (REWRITE, "percent_words", "dev", _percent_words),
    (REWRITE, "fraction", "held_out", _fractions),
    (REWRITE, "money_plain", "held_out", _money_plain),
    (REWRITE, "hedge", "dev", _hedge(_HEDGES_DEV)),
    (REWRITE, "hedge", "held_out", _hedge(_HEDGES_HELD)),
    (REWRITE, "preamble", "dev", _preamble(_PREAMBLES_DEV)),
    (REWRITE, "preamble", "held_out", _preamble(_PREAMBLES_HELD)),
    (REWRITE, "fairness_disclaimer", "held_out", _fairness_disclaimer),
)

# -- label errors -------------------------------------------------------------------------
# Wrong in the <decision> or <reasons> block itself: the decision and reasons verifiers catch
# these outright, so the claim benchmark leaves them out; they are the plainest preference
# negatives (factory.pipeline.preference).

LABEL_ERROR_CLASSES = ("wrong_decision", "missing_reason", "extra_reason")


def _wrong_decision(example: Example, rng: random.Random) -> str | None:
    parsed = parse_output(example.text)
    others = [t for t in example.table.tiers if t != parsed.decision]
    if parsed.decision is None or not others:
        return None
    texts = dict(zip(parsed.reasons, parsed.reason_texts, strict=True))
    return render_output(parsed.reasoning, rng.choice(others), parsed.reasons, texts, parsed.answer)


def _missing_reason(example: Example, rng: random.Random) -> str | None:
    parsed = parse_output(example.text)
    if not parsed.reasons:
        return None
    dropped = rng.randrange(len(parsed.reasons))
    codes = tuple(c for i, c in enumerate(parsed.reasons) if i != dropped)
    texts = dict(zip(parsed.reasons, parsed.reason_texts, strict=True))
    return render_output(parsed.reasoning, parsed.decision or "", codes, texts, parsed.answer)


def _extra_reason(example: Example, rng: random.Random) -> str | None:
    parsed = parse_output(example.text)
    spare = [r for r in example.table.rules if r.reason and r.code not in parsed.reasons]
    if not spare:
        return None
    rule = rng.choice(spare)
    texts = {**dict(zip(parsed.reasons, parsed.reason_texts, strict=True)), rule.code: rule.text}
    codes = (*parsed.reasons, rule.code)
    return render_output(parsed.reasoning, parsed.decision or "", codes, texts, parsed.answer)


_LABEL_FORMS = (
    ("wrong_decision", "other_tier", _wrong_decision),
    ("missing_reason", "dropped", _missing_reason),
    ("extra_reason", "added", _extra_reason),
)


def label_alterations(example: Example, rng: random.Random) -> list[Alteration]:
    """The label errors of `example` (LABEL_ERROR_CLASSES) that apply to it."""
    out = []
    for kind, form, make in _LABEL_FORMS:
        text = make(example, rng)
        if text and text != example.text:
            out.append(Alteration(kind, form, "label", text, False))
    return out


__all__ = [
    "ERROR_CLASSES",
    "LABEL_ERROR_CLASSES",
    "REWRITE",
    "SPLITS",
    "Alteration",
    "Example",
    "alterations",
    "label_alterations",
]
