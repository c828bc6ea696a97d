"""A rule table's words, compiled for reading: which phrase names which quantity, limit or tier.

`Vocabulary.of(table)` builds (once per table object) a phrase dictionary keyed by first word:
the table's quantity labels and aliases, present/absent and category words, decision words, and
the generic English of factory.verify.claims.lexicon. `Vocabulary.tokens(text)` reads a text as
a list of `Token`s (phrases, numbers, punctuation) in order, longest phrase first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from factory.verify.claims import lexicon
from factory.verify.numbers import _read

# Words (letters and apostrophes; a hyphen or slash splits them) and the punctuation that
# bounds sentences, clauses and negation scopes.
_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019]*|[.!?;](?!\d)|\n|,|[()]|:(?!\d)")
_UNIT_AFTER = re.compile(
    r"[\s-]*(percentage[\s-]points?|standard deviations?|km/h|kmh|km|kilomet(?:re|er)s?|"
    r"months?|years?|days?|hours?|minutes?|points?)\b",
    re.IGNORECASE,
)
_SENTENCE_END = frozenset({".", "!", "?", ";", "\n"})

# Token kinds.
WORD, NUMBER, STOP, COMMA, PAREN, COLON = range(6)


@dataclass(slots=True)
class Entry:
    """What one phrase means (a phrase may mean several things: "bankruptcy" is a quantity's
    alias and its present word)."""

    quantities: tuple[str, ...] = ()
    presence: tuple[tuple[str, bool], ...] = ()
    category: tuple[tuple[str, str], ...] = ()
    comparator: str | None = None
    limit: str | None = None
    tier: str | None = None
    negator: bool = False
    hedge: bool = False
    conditional: bool = False
    numbered: bool = False
    misnamed: str = ""
    meta: bool = False
    marker: bool = False
    clause: bool = False
    protected: bool = False
    person_context: bool = False
    person: bool = False
    by: bool = False
    #: +1 / -1: a word saying which way a quantity moved (lexicon.DIRECTION_*), and its form
    #: ("verb", "amount" or "adjective").
    direction: int = 0
    direction_form: str = ""


@dataclass(slots=True)
class Token:
    """One reading of the text: a phrase (with its Entry), a number, or punctuation.

    Attributes:
        kind: WORD (a phrase of the vocabulary, or any other word), NUMBER, STOP (ends a
            sentence), COMMA, PAREN, COLON.
        start, end: character offsets.
        word: the token's position in words (numbers count as one word).
        text: lower-cased phrase ("" for numbers).
        entry: the phrase's meaning (None for words outside the vocabulary).
        number: `numbers._read` fields of a number.
        units: the quantity units a number's unit word allows (None: no unit word).
        points: the number is in percentage points.
        read_as: the quantities a number was read as the value of (set while planning).
    """

    kind: int
    start: int
    end: int
    word: int
    text: str = ""
    entry: Entry | None = None
    number: tuple[Any, ...] | None = None
    units: frozenset[str] | None = None
    points: bool = False
    read_as: tuple[str, ...] = ()


def _number_forms(phrase: str) -> tuple[str, ...]:
    """A name and its other grammatical number ("delinquencies" / "delinquency")."""
    if not phrase or not phrase[-1].isalpha() or phrase.isupper():
        return (phrase,)
    if phrase.endswith("ies"):
        return (phrase, phrase[:-3] + "y")
    if phrase.endswith("s") and not phrase.endswith("ss"):
        return (phrase, phrase[:-1])
    if phrase.endswith("y"):
        return (phrase, phrase[:-1] + "ies")
    return (phrase, phrase + "s")


def _split(phrase: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(phrase) if w[0].isalpha())


@dataclass
class Vocabulary:
    """The compiled words of one rule table (see the module docstring)."""

    table: Any
    phrases: dict[str, list[tuple[tuple[str, ...], Entry]]] = field(default_factory=dict)
    #: quantity -> (rule, threshold name) of every simple rule on it, and (None, param name)
    #: of the params declared as its thresholds.
    thresholds: dict[str, list[tuple[Any, str]]] = field(default_factory=dict)
    tier_words: dict[str, str] = field(default_factory=dict)
    #: sentence plans of factory.verify.claims.checks, by sentence shape.
    plans: dict[Any, Any] = field(default_factory=dict)
    #: quantity -> itself and the quantities it is computed from.
    depends: dict[str, frozenset[str]] = field(default_factory=dict)
    #: boolean quantity -> (quantity, op, threshold name) of each comparison its expression
    #: requires ("implied_speed_kmh > max_travel_speed_kmh and ..."): what a definition
    #: ("travel above 900 km/h is impossible") must agree with.
    conditions: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    #: a word of a present/absent phrase -> (boolean quantity, present) ("new" -> the new
    #: account, present), for the word a definition defines.
    word_presence: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    #: results of the checks that read only the table's params (factory.verify.claims.checks).
    memo: dict[Any, Any] = field(default_factory=dict)
    #: limits computed per row (helper quantities, not params): part of every memo key.
    row_limits: tuple[str, ...] = ()
    #: quantity -> its unit.
    units: dict[str, str] = field(default_factory=dict)
    #: change quantities: those whose expression is `later - earlier` of two quantities; the
    #: sign of one says which way its quantity moved ("balances rose").
    moves: frozenset[str] = frozenset()
    #: a param's label, as words, ending in a limit noun -> the quantity it is a threshold of
    #: ("stable band" -> the size of the score's change): the limit names its quantity.
    limit_labels: dict[tuple[str, ...], str] = field(default_factory=dict)
    #: quantity -> "earlier" or "later": the two readings a change quantity subtracts
    #: (`later - earlier`), for the words that say which reading a number is ("585 now").
    sides: dict[str, str] = field(default_factory=dict)
    #: the change quantities and those computed from them (the size of a change): a number a
    #: text states as a level ("open accounts at 9") is none of these.
    moved: frozenset[str] = frozenset()
    #: change quantity -> the quantity that is its size (`abs(change)`): what a band word
    #: ("inside the 5-point band") compares, whichever way the change went.
    sizes: dict[str, str] = field(default_factory=dict)
    _params: dict[str, Any] = field(default_factory=dict)
    _helpers: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, table: Any) -> Vocabulary:
        """The vocabulary of `table`, built once per table object."""
        cached = _CACHE.get(id(table))
        if cached is not None and cached.table is table:
            return cached
        vocab = cls(table)
        vocab._build()
        _CACHE[id(table)] = vocab
        return vocab

    def values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Every quantity's and param's value for a labelled row (as RuleTable.row_values):
        the row's own columns, the params, and the helper quantities the engine does not
        write (a per-row threshold), computed here."""
        values = dict(row)
        values.update(self._params)
        for code in self._helpers:
            values[code.quantity.name] = _helper_value(code, values, self.table.helpers)
        return values

    def _entry(self, phrase: str) -> Entry:
        words = _split(phrase)
        if not words:
            raise ValueError(f"phrase {phrase!r} has no words")
        bucket = self.phrases.setdefault(words[0], [])
        for known, entry in bucket:
            if known == words:
                return entry
        entry = Entry()
        bucket.append((words, entry))
        return entry

    def _build(self) -> None:
        table = self.table
        from factory.domains.rules.engine import compiled

        self._params = table.param_values()
        self.units = {name: q.unit for name, q in table.quantities.items()}
        code = compiled(table)
        self._helpers = [c for c in code.derived if not c.quantity.output]
        # What each quantity is computed from, transitively: a rule on the amount's z-score is
        # a rule about the amount too ("the amount alone sends it to review").
        inputs: dict[str, set[str]] = {}
        for derived in code.derived:
            names = derived.expr.names() & set(table.quantities)
            for name in list(names):
                names |= inputs.get(name, set())
            inputs[derived.quantity.name] = names
        self.depends = {name: frozenset(found | {name}) for name, found in inputs.items()}
        moves = []
        for derived in code.derived:
            args = derived.expr.args
            of_two = len(args) == 2 and all(
                a.op == "ref" and a.value in table.quantities for a in args
            )
            if derived.expr.op == "-" and of_two:
                moves.append(derived.quantity.name)
                self.sides[args[0].value] = "later"
                self.sides[args[1].value] = "earlier"
        self.moves = frozenset(moves)
        for derived in code.derived:
            node = derived.expr
            arg = node.args[0] if node.args else None
            if node.value == "abs" and arg is not None and arg.value in self.moves:
                self.sizes[arg.value] = derived.quantity.name
        self.moved = frozenset(
            name for name, found in self.depends.items() if not found.isdisjoint(self.moves)
        )
        for derived in code.derived:
            if derived.quantity.unit == "boolean":
                found = _conditions(derived.expr, table)
                if found:
                    self.conditions[derived.quantity.name] = found
        for name in self.conditions:
            q = table.quantities[name]
            for phrases, present in ((q.present_words, True), (q.absent_words, False)):
                for phrase in phrases:
                    for word in _split(phrase):
                        seen = self.word_presence.setdefault(word, [])
                        if (name, present) not in seen:
                            seen.append((name, present))
        for q in table.quantities.values():
            for phrase in dict.fromkeys(
                # The quantity's own name, spaced, too: a teacher shown "months_since_bankruptcy"
                # writes "months since bankruptcy" (the longest phrase wins over "bankruptcy").
                v
                for name in (q.label, *q.aliases, q.name.replace("_", " "))
                for v in _number_forms(name)
            ):
                if _split(phrase):
                    e = self._entry(phrase)
                    if q.name not in e.quantities:
                        e.quantities = (*e.quantities, q.name)
                    # "... in the past 30 days": the number is part of the name
                    e.numbered = e.numbered or any(c.isdigit() for c in phrase)
            for phrase in q.present_words:
                e = self._entry(phrase)
                e.presence = (*e.presence, (q.name, True))
            for phrase in q.absent_words:
                e = self._entry(phrase)
                e.presence = (*e.presence, (q.name, False))
            for value, words in q.value_words.items():
                for phrase in words:
                    e = self._entry(phrase)
                    e.category = (*e.category, (q.name, value))
        # The other names of the facts a teacher is shown (a gap, "score_gap_to_min"; a
        # threshold, "deny_delinquencies_2y"), spaced:
        # a number after one is that fact, which the numbers check vouches for; without the
        # phrase, "min" alone would read the gap as a limit of the credit score.
        # A reason's adverse-action text quoted in the reasoning ("... many cash deposits just
        # under the currency transaction reporting threshold decides it on its own") names the
        # rule; its words ("under") are not a comparison of the case's numbers.
        for text in table.reason_texts().values():
            if len(_split(text)) > 1:
                self._entry(text)
        # A name or reason text with its comparison word turned around ("deposits just over
        # the reporting threshold" for the rule's "just under") names nothing the policy has.
        for phrase in (
            *(p for q in table.quantities.values() for p in (q.label, *q.aliases)),
            *table.reason_texts().values(),
        ):
            words = _split(phrase)
            for i, word in enumerate(words):
                turned = lexicon.TURNED.get(word)
                if turned is None or len(words) < 3:
                    continue
                variant = " ".join((*words[:i], turned, *words[i + 1 :]))
                e = self._entry(variant)
                if not (e.quantities or e.presence or e.tier):
                    e.misnamed = e.misnamed or phrase
        for name in (*(rule.gap for rule in table.rules if rule.gap), *table.params):
            if _split(name.replace("_", " ")):
                self._entry(name.replace("_", " "))
        # A quantity's limits: the thresholds of the rules on it, and the params declared as
        # its thresholds (a points mark no rule compares with directly).
        for rule in table.rules:
            if rule.quantity and rule.op and rule.threshold:
                self.thresholds.setdefault(rule.quantity, []).append((rule, rule.threshold))
        for param in table.params.values():
            if param.quantity and param.quantity in table.quantities:
                known = self.thresholds.setdefault(param.quantity, [])
                if all(name != param.name for _, name in known):
                    known.append((None, param.name))
        self.row_limits = tuple(
            dict.fromkeys(
                name
                for known in self.thresholds.values()
                for _, name in known
                if name not in table.params
            )
        )
        decision_words: Mapping[str, tuple[str, ...]] = table.decision_words or {
            tier: (tier,) for tier in table.tiers
        }
        for tier, phrases in decision_words.items():
            for phrase in (tier, *phrases):
                self.tier_words[" ".join(_split(phrase))] = tier
                self._entry(phrase).tier = tier
        # A decision word's participle ("the transaction is reviewed") says the decision too;
        # a participle the table already gives another tier keeps that tier.
        for tier, phrases in decision_words.items():
            for phrase in (tier, *phrases):
                for form in _participles(phrase):
                    if form not in self.tier_words:
                        self.tier_words[form] = tier
                        self._entry(form).tier = tier
        for phrase, op in lexicon.COMPARATORS.items():
            self._entry(phrase).comparator = op
        for phrase, kind in lexicon.LIMIT_NOUNS.items():
            self._entry(phrase).limit = kind
        for phrase in lexicon.NEGATORS:
            self._entry(phrase).negator = True
        for phrase in lexicon.HEDGES:
            self._entry(phrase).hedge = True
        for phrase in lexicon.META:
            self._entry(phrase).meta = True
        for phrase in lexicon.CONDITIONALS:
            self._entry(phrase).conditional = True
        for phrase in lexicon.CASE_MARKERS:
            self._entry(phrase).marker = True
        for phrase in lexicon.CLAUSE_WORDS:
            self._entry(phrase).clause = True
        for phrase in lexicon.PROTECTED_WORDS:
            e = self._entry(phrase)
            e.protected = True
            e.person_context = phrase in lexicon.PERSON_CONTEXT_WORDS
        for phrase in lexicon.PERSON_NOUNS:
            self._entry(phrase).person = True
        self._entry("by").by = True
        if self.moves:
            for form, words in (
                ("verb", lexicon.DIRECTION_VERBS),
                ("amount", lexicon.DIRECTION_AMOUNTS),
                ("adjective", lexicon.DIRECTION_ADJECTIVES),
            ):
                for phrase, sign in words.items():
                    e = self._entry(phrase)
                    e.direction, e.direction_form = sign, form
        # A name that holds a present word states presence too ("bankruptcies on file").
        for bucket in self.phrases.values():
            for words, entry in bucket:
                for name in entry.quantities:
                    q = table.quantities[name]
                    for phrase, present in (
                        *((w, True) for w in q.present_words),
                        *((w, False) for w in q.absent_words),
                    ):
                        part = _split(phrase)
                        if any(words[i : i + len(part)] == part for i in range(len(words))):
                            if (name, present) not in entry.presence:
                                entry.presence = (*entry.presence, (name, present))
                            break
        for bucket in self.phrases.values():
            bucket.sort(key=lambda item: -len(item[0]))
        for param in table.params.values():
            words = _split(param.label)
            named = param.quantity in table.quantities and len(words) > 1
            if named and words[-1] in lexicon.LIMIT_NOUNS:
                self.limit_labels[words] = str(param.quantity)

    def tokens(self, text: str, numbers: list[Any] | None = None) -> list[Token]:
        """`text` as tokens in order: phrases (longest match), other words, numbers, stops.

        `numbers` are `numbers._read(text)`, when the caller has them.
        """
        raw = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        if numbers is None:
            numbers = _read(text)
        out: list[Token] = []
        phrases = self.phrases
        n = len(raw)
        lowered = [w.lower() for _, _, w in raw]
        i = 0
        k = 0
        position = 0
        while i < n or k < len(numbers):
            if k < len(numbers) and (i >= n or numbers[k][5] < raw[i][0]):
                fields = numbers[k]
                k += 1
                end = fields[4]
                units, points = _unit(text, fields[5], end, bool(fields[2]))
                out.append(
                    Token(
                        NUMBER, fields[5], end, position, number=fields, units=units, points=points
                    )
                )
                position += 1
                # Words inside the number's own text (none today) would be skipped here.
                while i < n and raw[i][0] < end:
                    i += 1
                continue
            start, end, word = raw[i]
            low = lowered[i]
            if low in _SENTENCE_END or word in _SENTENCE_END:
                out.append(Token(STOP, start, end, position))
                i += 1
                continue
            if word == ",":
                out.append(Token(COMMA, start, end, position))
                i += 1
                continue
            if word in "()":
                out.append(Token(PAREN, start, end, position, text=word))
                i += 1
                continue
            if word == ":":
                out.append(Token(COLON, start, end, position, text=word))
                i += 1
                continue
            matched = None
            for words, entry in phrases.get(low, ()):
                size = len(words)
                if tuple(lowered[i : i + size]) == words:
                    inside = k < len(numbers) and numbers[k][5] < raw[i + size - 1][0]
                    if inside and not entry.numbered:
                        continue  # "risk score 45 points" is a score and a number
                    matched = (words, entry)
                    break
            if matched is None:
                out.append(Token(WORD, start, end, position, text=low))
                i += 1
                position += 1
                continue
            words, entry = matched
            last = i + len(words) - 1
            while k < len(numbers) and numbers[k][5] < raw[last][1]:
                k += 1  # a number inside a name ("the past 30 days") is part of it
            out.append(Token(WORD, start, raw[last][1], position, " ".join(words), entry))
            position += len(words)
            i = last + 1
        return out


_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">="}


def _conditions(node: Any, table: Any) -> list[tuple[str, str, str]]:
    """The (quantity, op, threshold) comparisons a boolean expression's conjunction requires."""
    if node.op == "and":
        return [c for arg in node.args for c in _conditions(arg, table)]
    if node.op not in _FLIPPED or len(node.args) != 2:
        return []
    left, right = node.args
    if left.op != "ref" or right.op != "ref":
        return []
    if left.value in table.quantities and right.value not in table.quantities:
        return [(left.value, node.op, right.value)]
    if right.value in table.quantities and left.value not in table.quantities:
        return [(right.value, _FLIPPED[node.op], left.value)]
    return []


def _participles(phrase: str) -> tuple[str, ...]:
    """The past participles of a one-word decision verb ("review" -> "reviewed"; "refer" ->
    "referred"). Nouns and participles give none; a wrong guess never matches a text."""
    if " " in phrase or not phrase.isalpha() or phrase.endswith(("ed", "al", "ion", "ing")):
        return ()
    if phrase.endswith("e"):
        return (phrase + "d",)
    if phrase.endswith("y") and phrase[-2:-1] not in "aeiou":
        return (phrase[:-1] + "ied",)
    forms = [phrase + "ed"]
    if phrase[-1] not in "aeiouwxy" and phrase[-2:-1] in "aeiou" and phrase[-3:-2] not in "aeiou":
        forms.append(phrase + phrase[-1] + "ed")  # "stop" -> "stopped", "refer" -> "referred"
    return tuple(forms)


def _helper_value(code: Any, values: Mapping[str, Any], helpers: Any) -> Any:
    from factory.domains.rules.expr import evaluate, round_value

    if code.applies is not None and evaluate(code.applies, values, helpers) is not True:
        return None
    value = evaluate(code.expr, values, helpers)
    if value is not None and code.quantity.round is not None:
        value = round_value(value, code.quantity.round)
    return value


def _unit(text: str, start: int, end: int, is_percent: bool) -> tuple[frozenset[str] | None, bool]:
    """The units a number's unit word allows, and whether it is in percentage points."""
    if is_percent:
        return frozenset({"fraction", "percent"}), "point" in text[start:end]
    match = _UNIT_AFTER.match(text, end)
    if match is None:
        return None, False
    word = re.sub(r"[\s-]+", " ", match.group(1).lower())
    if word.startswith("kilomet"):
        word = "km"
    if word.startswith("percentage"):
        return frozenset({"fraction", "percent"}), True
    return lexicon.UNIT_WORDS.get(word), False


_CACHE: dict[int, Vocabulary] = {}
