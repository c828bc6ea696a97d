"""The claim checks: what each clause of an explanation says about the case, held against it.

A text is read as sentences (split at . ! ? ; and line ends) and clauses (split at "but",
"yet", "while", ...). In each clause:

number      a number bound to a quantity (its name right before it, "DTI of 43.1%", "the
            debt-to-income ratio is 43.1%", or right after it, "a 643 credit score") must be
            that quantity's value, in its unit; a number next to a limit's name ("the 43.0%
            maximum", "the review level of 1") must be the threshold of a rule on the quantity
            the clause is about. Numbers bound to nothing are left to the numbers verifier.
comparison  "X is above / exceeds / below / within / meets / clears / short of T" and their
            negations must hold for X's real value against T (a cited number, or the limit
            named: "below the review threshold"); a stated margin ("by 8.5 percentage points",
            "37 points below") must be the real distance. Where the table has a change
            quantity (`later - earlier`), which way it moved ("rose", "up $179", "higher
            utilization") must be its sign, and "before"/"after", "from X to Y" say which
            reading a number is.
conclusion  a decision word asserted about the case (the clause names the application, the
            decision, a conclusion word, or no quantity at all) must be the engine's decision;
            said of a quantity ("so DTI alone calls for a denial") it must be the tier of a rule
            on that quantity that fires. Negated, hedged and hypothetical mentions, and decision
            words that name a rule or level ("a denial reason", "the review threshold"), are
            not claims.
categorical a present or absent word of a quantity ("a bankruptcy on file", "no new device")
            must agree with its value (true, or above zero).

Every check reads only the table's words (factory.verify.claims.vocab) and the generic English
of factory.verify.claims.lexicon; nothing here knows a domain.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from factory.verify.claims.lexicon import BAND_WORDS
from factory.verify.claims.vocab import COLON, COMMA, NUMBER, PAREN, WORD, Token, Vocabulary
from factory.verify.numbers import _read

_LINKS = frozenset(
    {"is", "of", "at", "was", "stands", "sits", "comes", "to", "are", "were", "be", "now",
     "equals", "totals", "reads", "shows", "a", "an", "the", "its", "just", "about", "around",
     "roughly", "approximately", "only", "came", "in", "with", "being",
     # a value that did not move: "stayed at $7,600", "are unchanged at 9", "still $20,500"
     "stayed", "stays", "remained", "remains", "unchanged", "steady", "held", "holds", "still"}
)  # fmt: skip
_LIMIT_LINKS = frozenset({"of", "is", "at", "was", "set", "the", "("})
_UNIT_SKIP = frozenset(
    {"points", "point", "percentage", "months", "month", "years", "year", "days", "day", "km",
     "standard", "deviations", "deviation", "minutes", "hours", "h", "only", "just", "well",
     "still", "far", "comfortably", "slightly", "about", "roughly", "nearly", "almost"}
)  # fmt: skip
_MARGIN_VERBS = frozenset(
    {
        "is",
        "sits",
        "lands",
        "stands",
        "be",
        "being",
        "was",
        "are",
        "only",
        "just",
        "still",
        "comes",
        "falls",
        "lies",
        "remains",
        "stays",
        "(",
    }
)
#: Sentences end at . ! ? ; (not a decimal point) and line ends.
_STOPS = re.compile(r"([^\n.!?;]*(?:[.!?;]\d[^\n.!?;]*)*)(?:[.!?;](?!\d)|\n|$)")
_MASK = str.maketrans("123456789", "000000000")
_BYTE_MASK = bytes.maketrans(b"123456789", b"000000000")
#: Sentence plans kept per vocabulary before the cache starts over.
_PLAN_CACHE = 50_000
#: Determiners that make a noun generic ("sends a transaction to review").
_GENERIC = frozenset({"a", "an", "any", "every", "each", "such"})
#: Prepositions before a name that make it a complement, not what a clause is about.
_COMPLEMENT = frozenset(
    {"in", "of", "per", "within", "during", "at", "from", "for", "than", "to", "against", "on"}
)
_DEFINES = frozenset({"runs", "starts", "begins", "ends", "spans", "covers", "lasts", "from"})
_ORDERED = frozenset({">", ">=", "<", "<="})
#: Words before a comparison that make it a definition ("new means under 30 days").
_DEFINITION = frozenset({"means", "defined", "counts", "qualifies"})
#: Nouns after a present word that make the phrase a rule's name ("the overnight window").
_RULE_NOUNS = frozenset(
    {"window", "windows", "hours", "period", "range", "rule", "rules", "check", "checks",
     "signal", "signals", "test", "criterion", "criteria", "points", "definition"}
)  # fmt: skip
#: Verbs of a change between two reports, before "from X to Y".
_MOVES = frozenset(
    {"moved", "went", "rose", "fell", "climbed", "dropped", "increased", "decreased", "grew",
     "changed", "jumped", "slipped", "shifted", "moves", "goes", "rises", "falls"}
)  # fmt: skip
_PRONOUNS = frozenset({"that", "it", "this", "which", "these", "those", "they", "its"})


@dataclass(frozen=True, slots=True)
class ClaimFailure:
    """One claim that does not hold.

    Attributes:
        kind: "number", "comparison", "conclusion", "categorical", "reasons", "fairness" or
            "identity" (the verifier is named `claims.<kind>`).
        sentence: the sentence that makes it.
        claim: what it claims and what the engine says instead.
    """

    kind: str
    sentence: str
    claim: str


class _Reader:
    """Reads one text against one case (values of one row)."""

    def __init__(
        self,
        vocab: Vocabulary,
        values: Mapping[str, Any],
        decision: str,
        tolerance: float,
        fires: Callable[[Any], bool | None],
    ) -> None:
        self.vocab = vocab
        self.table = vocab.table
        self.values = values
        self._units = vocab.units
        self._limit_cache: dict[str, list[tuple[Any, Any]]] = {}
        # The limits computed per row (an LTV maximum by purpose): part of every memo key.
        self._row_key = tuple(values.get(name) for name in vocab.row_limits)
        self.decision = decision
        self.tolerance = tolerance
        self.fires = fires
        self.failures: list[ClaimFailure] = []
        # The sentence being checked, as (line, start, end): cut only when a claim fails.
        self._sentence: tuple[str, int, int] = ("", 0, 0)
        # The value the last clause cited for the quantity it named, for a "that" after it.
        self._carried: Token | None = None

    # -- driving --------------------------------------------------------------------------

    def read(self, text: str, numbers: list[Any] | None) -> list[ClaimFailure]:
        if numbers is None:
            numbers = _read(text)
        masked = _mask(text)
        plans = self.vocab.plans
        k = 0
        count = len(numbers)
        pos = 0
        for line in text.split("\n"):
            end = pos + len(line)
            found = []
            while k < count and numbers[k][5] < end:
                found.append(numbers[k])
                k += 1
            if line and not line.isspace():
                # A line's claims depend on its words and the shape of its numbers, not on
                # their digits ("That" never refers back across a line): plan once per
                # shape, then check each case's numbers.
                key = masked[pos:end]
                plan = plans.get(key)
                if plan is None:
                    if len(plans) > _PLAN_CACHE:
                        plans.clear()
                    plan = plans[key] = self._plan_line(line, pos, found)
                for first, last, steps, slots in plan:
                    for token, j in slots:
                        token.number = found[j]
                    self._sentence = (line, first, last)
                    for step, args in steps:
                        step(self, *args)
            pos = end + 1
        return self.failures

    def _plan_line(
        self, line: str, offset: int, numbers: list[Any]
    ) -> list[tuple[int, int, list[Any], list[tuple[Token, int]]]]:
        """The plans of a line's sentences that check something: (start, end, steps, number
        tokens with the index of their number in the line)."""
        out = []
        carry: tuple[str, ...] = ()
        self._carried = None
        j = 0
        for span in _STOPS.finditer(line):
            start, end = span.span(1)
            first = j
            while j < len(numbers) and numbers[j][5] - offset < end:
                j += 1
            sentence = line[start:end]
            if not sentence or sentence.isspace():
                continue
            steps, slots, carry = self._plan(sentence, offset + start, numbers[first:j], carry)
            if steps or (slots and self._carried is not None):
                # A sentence that checks nothing still gets each case's numbers when a later
                # one may compare the value it cites ("... is 75.2%. It does not exceed ...").
                out.append((start, end, steps, [(t, first + i) for t, i in slots]))
        return out

    def _plan(
        self, sentence: str, offset: int, numbers: list[Any], carry: tuple[str, ...]
    ) -> tuple[list[Any], list[tuple[Token, int]], tuple[str, ...]]:
        """The checks a sentence asks for (run later on each case's values), its number
        tokens, and the quantity the next sentence may refer back to."""
        shifted = [(*f[:4], f[4] - offset, f[5] - offset, f[6]) for f in numbers]
        tokens = self.vocab.tokens(sentence, shifted)
        self._steps: list[Any] = []
        for clause in _clauses(tokens):
            carry = self._clause(clause, carry)
        # Each number token with the index of its number (a number inside a quantity's name,
        # "the past 30 days", is no token).
        index = {id(fields): j for j, fields in enumerate(shifted)}
        slots = [(t, index[id(t.number)]) for t in tokens if t.kind == NUMBER]
        return self._steps, slots, carry

    def _step(self, method: Any, *args: Any) -> None:
        self._steps.append((method, args))

    def _fail(self, kind: str, claim: str) -> None:
        line, first, last = self._sentence
        self.failures.append(ClaimFailure(kind, line[first:last].strip(), claim))

    def _clause(self, clause: list[Token], carry: tuple[str, ...]) -> tuple[str, ...]:
        mentions = [
            i
            for i, t in enumerate(clause)
            if t.entry is not None and (t.entry.quantities or t.entry.presence)
        ]
        opens_with_pronoun = bool(clause) and clause[0].text in _PRONOUNS
        roles: dict[int, str] = {}
        for i, token in enumerate(clause):
            if token.kind == NUMBER:
                roles[i] = self._number(clause, i, mentions, carry)
        for i, token in enumerate(clause):
            entry = token.entry
            if entry is None:
                continue
            if entry.comparator is not None:
                self._comparison(clause, i, mentions, carry, roles)
            if entry.tier is not None:
                subject, _ = self._subject(clause, len(clause), mentions, carry, opens_with_pronoun)
                self._conclusion(clause, i, subject)
            if entry.presence:
                self._presence(clause, i)
            if entry.direction:
                self._direction(clause, i, mentions)
            if entry.protected:
                self._protected(clause, i)
            if entry.misnamed:
                self._step(
                    _Reader._fail,
                    "comparison",
                    f'says "{token.text}"; the policy has "{entry.misnamed}"',
                )
        for i in reversed(mentions):
            if not _complement(clause, i):
                entry = clause[i].entry
                assert entry is not None
                names = _names(entry)
                self._carried = self._value_cited(clause, i, roles, names)
                return names
        return carry

    def _value_cited(
        self, clause: list[Token], named: int, roles: dict[int, str], names: tuple[str, ...]
    ) -> Token | None:
        """The value a clause cites for `names` (named at token `named`), for a "that" in the
        next clause to compare: the last number after the name read as a value in one of their
        units ("LTV is $286,000 over a home value of $310,159: 92.2%": not a dollar amount).
        None when the clause speaks of an earlier reading ("25.0% on the earlier report")."""
        if any(t.text in _EARLIER for t in clause):
            return None
        for k in range(len(clause) - 1, named, -1):
            token = clause[k]
            if (
                roles.get(k) == "value"
                and _reading(clause, k) != "earlier"
                and any(self._compatible(token, q) for q in names)
            ):
                return token
        return None

    def _subject(
        self,
        clause: list[Token],
        before: int,
        mentions: list[int],
        carry: tuple[str, ...],
        pronoun: bool,
    ) -> tuple[tuple[str, ...], bool]:
        """The quantities a clause is about up to token `before` (the nearest name), or the
        previous clause's when the clause names none; and whether this clause named them."""
        for i in reversed(mentions):
            if i < before:
                entry = clause[i].entry
                assert entry is not None
                return _names(entry), True
        return (carry if pronoun or not mentions else ()), False

    # -- numbers ----------------------------------------------------------------------------

    def _number(
        self, clause: list[Token], i: int, mentions: list[int], carry: tuple[str, ...]
    ) -> str:
        """Classifies number i (margin, threshold, value, free) and checks the bound ones."""
        token = clause[i]
        if _margin(clause, i):
            return "margin"
        limit = _limit_next_to(clause, i)
        if limit is not None:
            subject, explicit = self._subject(clause, i, mentions, carry, True)
            names = tuple(q for q in subject if self._compatible(token, q))
            if not explicit and (mentions or not any(q in self.vocab.thresholds for q in names)):
                # A clause that names nothing carries the previous one's subject ("... down
                # $526; at or above the $500 threshold") when that subject has limits.
                names = ()
            self._step(_Reader._threshold, token, names, _named_tier(clause, limit))
            return "threshold"
        if _after_comparator(clause, i):
            return "reference"  # "above 900 km/h": what a comparison compares with
        moved = self.vocab.moved
        said = clause[i - 1].entry if i > 0 else None
        if said is not None and said.direction_form == "amount" and moved:
            # "balances moved from $1,328 to $1,507, up $179": the amount of the change
            named = _named_before(clause, i, mentions)
            names = tuple(q for q in named if q in moved and self._compatible(token, q))
            if not names:
                return "free"
            self._step(_Reader._value, token, names)
            token.read_as = names
            return "value"
        bound = _bound(clause, i)
        if bound is None and i >= 2 and clause[i - 1].kind == COMMA and _is_age(clause, i):
            # "One bankruptcy, 3 months ago, ...": an age set off after the name it dates
            dated = clause[i - 2].entry
            bound = i - 2 if dated is not None and dated.quantities else None
        if bound is None:
            return "free"
        entry = clause[bound].entry
        assert entry is not None
        names = tuple(q for q in entry.quantities if self._compatible(token, q))
        if not names:
            names = self._age_of(clause, i, bound)
        if not names:
            return "free"
        levels = tuple(q for q in names if q not in moved)
        if levels and len(levels) < len(names):
            names = levels  # "open accounts at 9": a level, not the change
            side = _reading(clause, i)
            if side is not None:
                # "585 now against 581 before", "from $1,328 to $1,507": which reading
                sides = self.vocab.sides
                names = tuple(q for q in names if sides.get(q) == side) or names
        elif not levels and bound > 0 and _is_negator(clause[bound - 1]) and i > bound:
            # "no change in open accounts, at 8": the number after is the level that stayed
            depends = self.vocab.depends
            stayed = tuple(
                dict.fromkeys(
                    d
                    for q in names
                    for d in sorted(depends.get(q, ()))
                    if d not in moved and self._compatible(token, d)
                )
            )
            names = stayed or names
        before = clause[bound - 1].entry if bound > 0 else None
        if before is not None and before.limit:
            # "the min credit score is 620", "the maximum DTI of 43%": the limit, by its name.
            self._step(_Reader._threshold, token, names, _tier_of_limit(clause[bound - 1]))
            return "threshold"
        if _open_ended(clause, i):
            # "at 6 standard deviations or more": a limit of the quantity, not its value.
            self._step(_Reader._threshold, token, names, None)
            return "threshold"
        self._step(_Reader._value, token, names)
        token.read_as = names
        return "value"

    def _age_of(self, clause: list[Token], i: int, bound: int) -> tuple[str, ...]:
        """For "the bankruptcy was 3 months ago", where the name ("bankruptcy") has no quantity
        in the number's unit: the quantities in that unit whose label names it ("months since
        the most recent bankruptcy"). () when the number is not an age ("... ago")."""
        if not _is_age(clause, i):
            return ()
        phrase = clause[bound].text
        forms = {phrase}
        if phrase.endswith("ies"):
            forms.add(phrase[:-3] + "y")
        elif phrase.endswith("s"):
            forms.add(phrase[:-1])
        token = clause[i]
        return tuple(
            name
            for name, q in self.table.quantities.items()
            if self._compatible(token, name)
            and any(f" {form} " in f" {q.label} " for form in forms)
        )

    def _value(self, token: Token, names: tuple[str, ...]) -> None:
        if not any(self._equals(token, q, self.values.get(q)) for q in names):
            if all(not _is_number(self.values.get(q)) for q in names):
                return
            cited = self._cited(token)
            if len(names) == 1:
                q = names[0]
                said = (
                    f"{self._label(q)} cited as {cited}, engine {self._show(q, self.values.get(q))}"
                )
            else:  # a name several quantities share: say each one's value
                said = f"{cited} cited; engine: " + ", ".join(
                    f"{self._label(q)} {self._show(q, self.values.get(q))}" for q in names
                )
            self._fail("number", said)

    def _threshold(self, token: Token, names: tuple[str, ...], tier: str | None) -> None:
        failure = self._memo(
            ("threshold", _shape(token), names, tier),
            lambda: self._threshold_failure(token, names, tier),
        )
        if failure:
            self._fail("number", failure)

    def _threshold_failure(self, token: Token, names: tuple[str, ...], tier: str | None) -> str:
        """Why number `token`, named as a limit, is no limit of `names` ("" when it is)."""
        candidates = [q for q in names if self._limits(q)]
        if not candidates:
            # The clause names no quantity with limits: the number must still be a limit
            # (some rule's threshold, or a param) in a unit it can be shown in.
            candidates = [q for q in self.vocab.thresholds if self._compatible(token, q)]
            if any(
                self._equals(token, q, value) for q in candidates for _, value in self._limits(q)
            ) or any(
                self._equals(token, p.quantity or "", p.value)
                for p in self.table.params.values()
                if p.quantity is None or self._compatible(token, p.quantity)
            ):
                return ""
            if not candidates:
                return ""
        tier = self._limit_tier(tier)
        for q in candidates:
            for rule, value in self._limits(q):
                if tier is not None and rule is not None and rule.outcome != tier:
                    continue
                if self._equals(token, q, value):
                    return ""
        limits = ", ".join(
            sorted({self._show(q, v) for q in candidates for _, v in self._limits(q)})
        )
        return (
            f"{self._cited(token)} named as a limit of {self._label(candidates[0])}; "
            f"its limits are {limits}"
        )

    # -- comparisons ------------------------------------------------------------------------

    def _comparison(
        self,
        clause: list[Token],
        c: int,
        mentions: list[int],
        carry: tuple[str, ...],
        roles: dict[int, str],
    ) -> None:
        entry = clause[c].entry
        assert entry is not None and entry.comparator is not None
        op = entry.comparator
        ref, limit_token = _reference(clause, c, roles)
        kind = limit_token.entry.limit if limit_token and limit_token.entry else None
        if op in ("pass", "fail"):
            if kind is None:
                return
            passing = {"ceiling": "<=", "floor": ">=", "trigger": ">="}[kind]
            failing = {"ceiling": ">", "floor": "<", "trigger": "<"}[kind]
            op = passing if op == "pass" else failing
        subject, explicit = self._subject(clause, c, mentions, carry, True)
        defined = next(
            (k for k in range(c - 1, max(-1, c - 3), -1) if clause[k].text in _DEFINITION), None
        )
        if (
            defined is not None
            or (not explicit and _modifies_a_noun(clause, c))
            or _hedged(clause, c, conditional=True)
        ):
            # "travel above 900 km/h is impossible", "(new means under 30 days)": the policy in
            # general, not where the case stands; it must still say the policy's direction.
            self._definition(clause, c, op, roles, defined)
            return
        if (
            not explicit
            and c > 0
            and clause[c - 1].kind == NUMBER
            and roles.get(c - 1) != "margin"
            and limit_token is None
        ):
            return  # "amortising $20,100 over 48 months": a span, not a comparison
        at = next(k for k, t in enumerate(clause) if t is limit_token) if limit_token else -1
        labelled = self._labelled_limit(clause, at) if limit_token is not None else None
        if limit_token is not None and not explicit:
            # "over the velocity mark of 3": the limit's own name says whose limit it is
            owner = clause[at - 1].entry if at > 0 else None
            if owner is not None and owner.quantities:
                subject, explicit = owner.quantities, True
            elif labelled is not None:
                # "exceeds the stable band": a param's label, whose quantity it limits
                subject, explicit = (labelled,), True
        if clause[c].text in BAND_WORDS and self.vocab.sizes:
            # In or out of a band is a change's size: the signed change is not compared.
            sizes = self.vocab.sizes
            subject = tuple(dict.fromkeys(sizes.get(q, q) for q in subject))
        ref_token = clause[ref] if ref is not None else None
        if ref_token is None and limit_token is None:
            return
        if not subject and ref_token is None:
            return
        negated = _negated(clause, c, 3)
        margin = _margin_of(clause, c, ref)
        words = ("not " if negated else "") + clause[c].text
        # A param's label names the limit whole: a tier word in it ("the stable band") is
        # part of the name, not the tier of the rule meant.
        tier = _named_tier(clause, at) if labelled is None else None
        limit = (tier, kind) if limit_token is not None else None
        if explicit:
            cited = _cited_value(clause, c, roles, mentions)
        else:
            # "Utilization was 25.0%. That is above the 30.0% target": said of the number
            # the clause referred back to cites.
            # A clause that names its reading ("it is now above") is about that reading.
            timed = any(t.text in _EARLIER or t.text in _LATER for t in clause)
            cited = self._carried if subject and subject == carry and not timed else None
        # What the cited number was read as: None when this clause cites it (of its subject).
        cited_as = None if explicit or cited is None else cited.read_as
        self._step(
            _Reader._compare,
            op,
            negated,
            subject,
            explicit,
            ref_token,
            limit,
            margin,
            words,
            cited,
            cited_as,
        )

    def _labelled_limit(self, clause: list[Token], at: int) -> str | None:
        """The quantity whose param's label ends at limit token `at`, or None."""
        labels = self.vocab.limit_labels
        if not labels:
            return None
        words: tuple[str, ...] = tuple(clause[at].text.split())
        for k in range(at - 1, max(-1, at - 4), -1):
            token = clause[k]
            if token.kind != WORD:
                break
            words = (*token.text.split(), *words)
            found = labels.get(words)
            if found is not None:
                return found
        return None

    def _definition(
        self, clause: list[Token], c: int, op: str, roles: dict[int, str], defined: int | None
    ) -> None:
        """Checks the direction of a definition against the table's boolean quantities: the
        word defined ("new" in "new means under 30 days") or the present word after the
        reference ("travel above 900 km/h is impossible")."""
        if op not in _ORDERED:
            return
        ref, _ = _reference(clause, c, roles)
        if ref is None:
            return
        stated: list[tuple[str, bool]] = []
        if defined is not None and defined > 0:
            stated = self.vocab.word_presence.get(clause[defined - 1].text, [])
        else:
            for k in range(ref + 1, min(len(clause), ref + 5)):
                entry = clause[k].entry
                if entry is not None and entry.presence:
                    negated = _negated(clause, k, 3)
                    stated = [(q, present != negated) for q, present in entry.presence]
                    break
        checks = [
            (q, cmp, threshold, present)
            for boolean, present in stated
            for q, cmp, threshold in self.vocab.conditions.get(boolean, ())
            if self._compatible(clause[ref], q)
            and self._equals(clause[ref], q, self.values.get(threshold))
        ]
        if not checks:
            return
        self._step(_Reader._defines, op, clause[ref], tuple(checks))

    def _defines(self, op: str, ref: Token, checks: tuple[tuple[str, str, str, bool], ...]) -> None:
        up = op in (">", ">=")
        if any((cmp in (">", ">=")) == up if present else (cmp in (">", ">=")) != up
               for _, cmp, _, present in checks):  # fmt: skip
            return
        q, cmp, threshold, _ = checks[0]
        self._fail(
            "comparison",
            f"says the policy applies {op} {self._cited(ref)}; its rule on {self._label(q)} is "
            f"{cmp} {self._show(q, self.values.get(threshold))}",
        )

    def _compare(
        self,
        op: str,
        negated: bool,
        subject: tuple[str, ...],
        explicit: bool,
        ref: Token | None,
        limit: tuple[str | None, str | None] | None,
        margin: Token | None,
        words: str,
        cited: Token | None = None,
        cited_as: tuple[str, ...] | None = None,
    ) -> None:
        pairs = self._pairs(subject, explicit, ref, limit)
        if not pairs:
            return
        if cited is not None:
            # "utilization of 24.7% is above the 30.0% target": the comparison is said of the
            # number cited. Where that is not this quantity's value (it may be another reading
            # of the same name, checked as a value), the number itself must compare so.
            # A number in another unit, or (referred back to) read as another quantity than
            # the one compared ("up 10.57 points. That is over the 30.0% target"), says
            # nothing of it: that pair keeps the engine's value.
            sizes = self.vocab.sizes
            kept: list[tuple[str, float, float, str | None]] = []
            for q, v, t, side in pairs:
                if self._compatible(cited, q) and (
                    cited_as is None or any(q in (n, sizes.get(n)) for n in cited_as)
                ):
                    stated = self._as_value(cited, q)
                    if stated is None:
                        continue
                    if not self._equals(cited, q, v):
                        v = stated
                kept.append((q, v, t, side))
            pairs = kept
        band = words.rsplit(" ", 1)[-1] in BAND_WORDS
        holds = False
        for q, v, t, side in pairs:
            if side is None and v == t:
                side = self._band_edge(q, t)
            if band and v == t and side is not None:
                # On a limit, "within" or "outside" is what the policy makes of it ("48 months
                # ago, within the 48-month lookback" where the lookback counts under 48 only).
                if ((op in (">", ">=")) == (side == "up")) != negated:
                    holds = True
                    break
                continue
            at_limit = v == t and (side is None or (op in (">", ">=")) == (side == "up"))
            if (at_limit or _relation(op, v, t)) != negated and (
                margin is None or self._margin_equals(margin, q, abs(v - t))
            ):
                holds = True
                break
        if not holds and pairs:
            q, v, t, _ = pairs[0]
            shown = self._show(q, v)
            if cited is not None and v != self.values.get(q):
                shown += f" cited; the engine's is {self._show(q, self.values.get(q))}"
            said = f"{self._label(q)} ({shown}) {words} {self._show(q, t)}"
            if margin is not None and _relation(op, v, t) != negated:
                said += f" by {self._cited(margin)}; the distance is {self._show_gap(q, v, t)}"
            self._fail("comparison", said)

    def _band_edge(self, q: str, t: float) -> str | None:
        """For the size `q` of a change, which side of a band of half-width `t` its edge is
        on: "up" (outside) when the change's rule fires at the edge (>= t, <= -t), "down"
        when it does not; None when no rule on the change has that threshold."""
        for change, size in self.vocab.sizes.items():
            if size != q:
                continue
            for rule, value in self._limits(change):
                if rule is not None and abs(float(value)) == t:
                    return "up" if rule.op in (">=", "<=") else "down"
        return None

    def _pairs(
        self,
        subject: tuple[str, ...],
        explicit: bool,
        ref: Token | None,
        limit: tuple[str | None, str | None] | None,
    ) -> list[tuple[str, float, float, str | None]]:
        """(quantity, value, reference, side) a comparison may be about. `side` is where a
        value at the limit stands: "up" when the rule fires from the limit up (>=) or passes
        from it up (a floor, <), "down" otherwise, None when no rule says (a bare param)."""
        limits, names = self._memo(
            ("pairs", _shape(ref), subject, explicit, limit),
            lambda: self._references(subject, explicit, ref, limit),
        )
        pairs: list[tuple[str, float, float, str | None]] = []
        for q, t, side in limits:
            v = self.values.get(q)
            if _is_number(v):
                pairs.append((q, float(v), t, side))
        if pairs or ref is None:
            return pairs
        for q in names:
            v = self.values.get(q)
            if not _is_number(v):
                continue
            t = self._as_value(ref, q)
            if t is None or abs(self._in_shown_units(ref, q, float(v)) - ref.number[0]) <= (  # type: ignore[index]
                0.5 * 10.0 ** -ref.number[1] * ref.number[6]  # type: ignore[index]
            ):
                continue  # equal at the digits shown: either side reads true
            pairs.append((q, float(v), t, None))
        return pairs

    def _references(
        self,
        subject: tuple[str, ...],
        explicit: bool,
        ref: Token | None,
        limit: tuple[str | None, str | None] | None,
    ) -> tuple[list[tuple[str, float, str | None]], list[str]]:
        """The limits a comparison compares with, as (quantity, threshold, side), and the
        quantities a cited reference may be compared as (when it is no limit)."""
        if ref is not None:
            names = [q for q in subject if self._compatible(ref, q)]
            exact = [
                (q, rule, value)
                for q in names
                for rule, value in self._limits(q)
                if self._equals(ref, q, value)
            ]
            if (
                not exact
                and (not names or not explicit)
                and (limit is not None or ref.units is not None)
            ):
                # "A bankruptcy 60 months ago is outside the 48-month lookback", "That is above
                # the 36.0% level", "unremarkable: under 500 km": the limit (or a threshold in
                # its unit) names the quantity the clause does not.
                exact = [
                    (q, rule, value)
                    for q in self.vocab.thresholds
                    if self._compatible(ref, q)
                    for rule, value in self._limits(q)
                    if self._equals(ref, q, value)
                ]
                names = sorted({q for q, _, _ in exact}) or names
            return [(q, float(value), _side(rule)) for q, rule, value in exact], names
        found: list[tuple[str, float, str | None]] = []
        if limit is None:
            return found, []
        tier, kind = limit
        tier = self._limit_tier(tier)
        for q in subject:
            for rule, value in self._limits(q):
                if rule is None:
                    # A bare param: which side passes is not known, but "exceeds the stable
                    # band" still says which side of it the value is.
                    if kind == "trigger" and tier is None:
                        found.append((q, float(value), None))
                    continue
                if tier is not None and rule.outcome != tier:
                    continue
                if kind == "ceiling" and rule.op not in (">", ">="):
                    continue
                if kind == "floor" and rule.op not in ("<", "<="):
                    continue
                found.append((q, float(value), _side(rule)))
        return found, []

    def _memo(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """`compute()`, remembered per vocabulary: it reads the number's shape, the words and
        the limits only (params, and the row's per-row limits, which are in the key), never
        the case's own values."""
        key = (*key, self._row_key)
        memo = self.vocab.memo
        found = memo.get(key, _MISSING)
        if found is _MISSING:
            if len(memo) > _PLAN_CACHE:
                memo.clear()
            found = memo[key] = compute()
        return found

    # -- conclusions ------------------------------------------------------------------------

    def _conclusion(self, clause: list[Token], i: int, subject: tuple[str, ...]) -> None:
        token = clause[i]
        entry = token.entry
        assert entry is not None and entry.tier is not None
        if _hedged(clause, i):
            return
        if not _attributive(clause, i) and (_names_a_rule(clause, i) or _negated(clause, i, 6)):
            return
        if any(t.entry is not None and t.entry.meta for t in clause):
            return  # "Let me review the file", "a review of the case follows"
        case = any(
            t.entry is not None
            and t.entry.marker
            and (k == 0 or clause[k - 1].text not in _GENERIC)
            for k, t in enumerate(clause)
        )
        self._step(_Reader._conclude, token.text, entry.tier, case, subject)

    def _conclude(self, word: str, tier: str, case: bool, subject: tuple[str, ...]) -> None:
        if tier == self.decision:
            return
        if not case and subject:
            depends = self.vocab.depends
            for rule in self.table.rules:
                if (
                    rule.outcome == tier
                    and rule.quantity is not None
                    and not depends.get(rule.quantity, frozenset({rule.quantity})).isdisjoint(
                        subject
                    )
                    and self.fires(rule) is not False
                ):
                    return
            if tier == self.table.default and not any(
                rule.quantity in subject and self.fires(rule) for rule in self.table.rules
            ):
                return
            self._fail(
                "conclusion",
                f'"{word}" ({tier}) said of {self._label(subject[0])}, which no firing '
                f"rule at {tier} is about; the engine decided {self.decision}",
            )
            return
        self._fail("conclusion", f'concludes "{word}" ({tier}); the engine decided {self.decision}')

    # -- directions -------------------------------------------------------------------------

    def _direction(self, clause: list[Token], i: int, mentions: list[int]) -> None:
        """ "revolving balances rose", "up $179", "higher credit utilization": the quantity's
        change (a `later - earlier` quantity of the name) must have that sign."""
        token = clause[i]
        entry = token.entry
        assert entry is not None
        nxt = clause[i + 1] if i + 1 < len(clause) else None
        if entry.direction_form == "adjective":
            named = nxt.entry if nxt is not None else None
            if named is None or not named.quantities:
                return
            subject = named.quantities
        else:
            if entry.direction_form == "amount" and (nxt is None or nxt.kind != NUMBER):
                return  # "pay down balances": advice, not a move
            subject = _named_before(clause, i, mentions)
        changes = tuple(q for q in subject if q in self.vocab.moves)
        if not changes or _hedged(clause, i, conditional=True):
            return
        negated = _negated(clause, i, 3)
        self._step(_Reader._moved, changes, entry.direction, negated, token.text)

    def _moved(self, changes: tuple[str, ...], sign: int, negated: bool, word: str) -> None:
        values = [self.values.get(q) for q in changes]
        # "did not rise" holds when it fell or stayed; "rose" only when it rose.
        if any(not _is_number(v) or (v * sign > 0) != negated for v in values):
            return
        q, v = changes[0], float(values[0])  # type: ignore[arg-type]
        way = "rose" if v > 0 else "fell" if v < 0 else "did not change"
        said = f"not {word}" if negated else word
        self._fail("comparison", f'says "{said}"; {self._label(q)} is {self._show(q, v)} ({way})')

    # -- categorical ------------------------------------------------------------------------

    def _presence(self, clause: list[Token], i: int) -> None:
        token = clause[i]
        entry = token.entry
        assert entry is not None
        if i > 0 and clause[i - 1].kind == NUMBER:
            return  # "2 delinquencies": a count, checked as a number
        if i + 1 < len(clause) and clause[i + 1].kind == NUMBER:
            return  # "late payments 0": a count
        if i + 2 < len(clause) and clause[i + 1].text in _COPULAS and clause[i + 2].kind == NUMBER:
            return  # "the delinquencies 2y is 0": a count, checked as a number
        nxt = clause[i + 1] if i + 1 < len(clause) else None
        if nxt is not None and nxt.entry is not None and nxt.entry.limit is not None:
            return  # "the delinquency review level": names a rule's limit
        if any(
            t.entry is not None and t.entry.comparator is not None and not t.entry.quantities
            for t in clause[:i]
        ) and any(t.kind == NUMBER for t in clause[:i]):
            return  # "travel above 900 km/h is impossible": a rule, not a fact of the case
        if nxt is not None and nxt.text in _DEFINES:
            return  # "the night window runs from midnight": a definition, not a fact
        if _hedged(clause, i, conditional=True):
            return  # "travel that fast would be impossible": not said of the case
        if nxt is not None and nxt.entry is None and nxt.text in _RULE_NOUNS:
            return  # "the overnight window", "night points": the rule's name, not the case
        self._step(_Reader._present, entry.presence, _negated(clause, i, 6))

    def _present(self, presence: tuple[tuple[str, bool], ...], negated: bool) -> None:
        for q, present in presence:
            value = self.values.get(q)
            if q not in self.values:
                continue
            actual = bool(value) if isinstance(value, bool) else _is_number(value) and value > 0
            if value is None:
                actual = False
            stated = present != negated
            if stated != actual:
                self._fail(
                    "categorical",
                    f"states {self._label(q)} {'present' if stated else 'absent'}; "
                    f"the case has {'it' if actual else 'none'} ({value})",
                )
            return

    # -- fair reasoning -------------------------------------------------------------------

    def _protected(self, clause: list[Token], i: int) -> None:
        token = clause[i]
        entry = token.entry
        assert entry is not None
        if entry.person_context and not any(
            t.entry is not None and t.entry.person for t in clause[max(0, i - 3) : i + 4]
        ):
            return  # "a young account", "60 months old"
        if any(t.entry is not None and t.entry.negator for t in clause):
            return  # "regardless of age", "marital status plays no part"
        self._step(
            _Reader._fail,
            "fairness",
            f'uses "{token.text}", a protected basis under ECOA/Reg B, as a factor',
        )

    # -- units and values -------------------------------------------------------------------

    def _limit_tier(self, tier: str | None) -> str | None:
        """The tier whose rules a limit named by `tier` belongs to: "the review threshold" is
        a review rule's; "the approval level" (the default tier's) is where approval stops,
        the least severe other tier's rules."""
        tiers = self.table.tiers
        if tier is None or tier not in tiers:
            return None
        if tier == self.table.default:
            others = [t for t in tiers if t != tier]
            return others[-1] if others else None
        return tier

    def _limits(self, q: str) -> list[tuple[Any, Any]]:
        cached = self._limit_cache.get(q)
        if cached is not None:
            return cached
        out = self._limit_cache[q] = []
        for rule, name in self.vocab.thresholds.get(q, ()):
            if name in self.values:
                value = self.values[name]
            elif name in self.table.params:
                value = self.table.params[name].value
            else:
                continue
            if _is_number(value):
                out.append((rule, value))
        return out

    def _unit(self, q: str) -> str:
        return self._units.get(q, "number")

    def _compatible(self, token: Token, q: str) -> bool:
        fields = token.number
        assert fields is not None
        key = (fields[3], token.units, q)
        known = _COMPATIBLE.get(key)
        if known is None:
            known = _COMPATIBLE[key] = _unit_fits(self._unit(q), bool(fields[3]), token.units)
        return known

    def _candidates(self, token: Token, q: str, v: float) -> tuple[float, ...]:
        unit = self._unit(q)
        fields = token.number
        assert fields is not None
        if unit == "fraction":
            if fields[2] or token.points:
                return (100 * v,)
            return (v, 100 * v)
        return (v,)

    def _in_shown_units(self, token: Token, q: str, v: float) -> float:
        return self._candidates(token, q, v)[-1]

    def _equals(self, token: Token, q: str, value: Any) -> bool:
        if not _is_number(value):
            return False
        fields = token.number
        assert fields is not None
        c = fields[0]
        # One unit of the last digit shown: rounded or truncated, never a neighbouring limit
        # (79.6% is not the 80.0% threshold, though it is within 0.5% of it).
        unit = 10.0 ** -fields[1] * fields[6]
        for v in self._candidates(token, q, float(value)):
            for w in (v, -v):
                if abs(c - w) < unit - 1e-9 * max(abs(w), 1.0) or c == w:
                    return True
        return False

    def _margin_equals(self, token: Token, q: str, distance: float) -> bool:
        return self._equals(token, q, distance)

    def _as_value(self, token: Token, q: str) -> float | None:
        fields = token.number
        assert fields is not None
        c = float(fields[0])
        if self._unit(q) == "fraction" and (fields[2] or token.points or c > 1.5):
            return c / 100
        return c

    def _label(self, q: str) -> str:
        quantity = self.table.quantities.get(q)
        return quantity.label if quantity is not None else q

    def _show(self, q: str, v: Any) -> str:
        if not _is_number(v):
            return str(v)
        unit = self._unit(q)
        if unit == "fraction":
            return f"{float(v) * 100:.2f}%"
        if unit == "money":
            return f"${float(v):,.2f}"
        return f"{float(v):g}"

    def _show_gap(self, q: str, v: float, t: float) -> str:
        if self._unit(q) == "fraction":
            return f"{abs(v - t) * 100:.2f} percentage points"
        return self._show(q, abs(v - t))

    @staticmethod
    def _cited(token: Token) -> str:
        fields = token.number
        assert fields is not None
        return f"{fields[0]:g}{'%' if fields[2] else ''}"


def read_claims(
    text: str,
    vocab: Vocabulary,
    values: Mapping[str, Any],
    decision: str,
    *,
    tolerance: float,
    fires: Callable[[Any], bool | None],
    numbers: list[Any] | None = None,
) -> list[ClaimFailure]:
    """The claims of `text` (reasoning and answer) that do not hold for the case.

    Args:
        text: the explanation.
        vocab: the rule table's vocabulary.
        values: every quantity's and param's value for the case (RuleTable.row_values).
        decision: the engine's decision.
        tolerance: relative tolerance of a cited value, on top of the digits shown.
        fires: whether a rule fires for the case (None when it cannot be told).
        numbers: `numbers._read(text)`, when the caller has it.

    Returns:
        The failing claims, in text order.
    """
    return _Reader(vocab, values, decision, tolerance, fires).read(text, numbers)


def _mask(text: str) -> str:
    """`text` with every digit 0: the shape of its numbers without their values."""
    if text.isascii():
        return text.encode().translate(_BYTE_MASK).decode()
    return text.translate(_MASK)


# -- helpers over a clause's tokens ---------------------------------------------------------


def _clauses(sentence: list[Token]) -> list[list[Token]]:
    out: list[list[Token]] = [[]]
    for token in sentence:
        if token.entry is not None and token.entry.clause:
            out.append([])
            continue
        out[-1].append(token)
    return [clause for clause in out if clause]


#: Words between a quantity's name and its value ("the delinquencies 2y is 0").
_COPULAS = frozenset({"is", "was", "are", "were", "of", "at", "stands", "equals"})


def _names(entry: Any) -> tuple[str, ...]:
    """The quantities a phrase names: its own, or those whose presence it states."""
    return entry.quantities or tuple(dict.fromkeys(q for q, _ in entry.presence))


_MISSING = object()


def _shape(token: Token | None) -> tuple[Any, ...] | None:
    """What a number token is, for the memo: its value, digits, unit and unit words."""
    if token is None:
        return None
    f = token.number
    assert f is not None
    return (f[0], f[1], f[2], f[3], f[6], token.units, token.points)


def _side(rule: Any) -> str | None:
    """Where a value exactly at `rule`'s threshold stands ("up" or "down"; None: unknown)."""
    if rule is None or rule.op is None:
        return None
    return "up" if rule.op in (">=", "<") else "down"


def _relation(op: str, v: float, t: float) -> bool:
    if op == ">":
        return v > t
    if op == ">=":
        return v >= t
    if op == "<":
        return v < t
    return v <= t


def _is_number(value: Any) -> TypeGuard[float]:
    kind = type(value)
    if kind is float:
        return value == value  # not NaN
    if kind is int:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


#: (money, unit words, quantity) -> whether a number so written may cite the quantity.
_COMPATIBLE: dict[tuple[Any, ...], bool] = {}


def _unit_fits(unit: str, money: bool, units: frozenset[str] | None) -> bool:
    """Whether a number (money or not, with the units its unit word allows) may cite a
    quantity of `unit`."""
    if unit in ("boolean", "category"):
        return False
    if money:
        return unit == "money"
    if units is not None:
        return unit in units
    return unit != "money"  # an amount of money is written with its currency sign


def _plain(token: Token) -> bool:
    """A word outside the vocabulary."""
    return token.kind == WORD and token.entry is None


def _margin(clause: list[Token], i: int) -> bool:
    """Number i states a distance: "by 8.5 points", "is 37 points below", "40 short of"."""
    if i > 0 and clause[i - 1].entry is not None and clause[i - 1].entry.by:  # type: ignore[union-attr]
        return True
    j = i + 1
    while (
        j < len(clause) and j <= i + 3 and clause[j].kind == WORD and clause[j].text in _UNIT_SKIP
    ):
        j += 1
    if j >= len(clause):
        return False
    entry = clause[j].entry
    follows = (entry is not None and entry.comparator is not None and not entry.quantities) or (
        clause[j].text in ("short", "more", "less", "higher", "lower")
    )
    if not follows:
        return False
    # "is 37 points below the floor", "sits 2.1% above", "8.5 points over": a distance;
    # "credit score 718 clears", "tenure of 24.0 years satisfies": the value itself.
    if i > 0 and clause[i - 1].text in _MARGIN_VERBS:
        return True
    return j > i + 1 and _bound(clause, i) is None


def _margin_of(clause: list[Token], c: int, ref: int | None) -> Token | None:
    """The margin a comparison states: the number just before it, or "by N" after it."""
    j = c - 1
    while j >= 0 and clause[j].kind == WORD and clause[j].text in _UNIT_SKIP:
        j -= 1
    if j >= 0 and clause[j].kind == NUMBER and _margin(clause, j):
        return clause[j]
    start = (ref if ref is not None else c) + 1
    for k in range(start, min(len(clause), start + 6)):
        token = clause[k]
        if token.entry is not None and token.entry.comparator is not None:
            break
        if token.kind == NUMBER:
            if k > 0 and clause[k - 1].entry is not None and clause[k - 1].entry.by:  # type: ignore[union-attr]
                return token
            break
    return None


_PREPOSITIONS = frozenset(
    {"above", "below", "over", "under", "within", "beyond", "past", "inside", "outside",
     "beneath", "short of", "shy of", "in excess of", "north of", "south of", "faster than",
     "slower than", "more than", "less than", "further than", "farther than", "longer than"}
)  # fmt: skip
_VERBS = frozenset(
    {"is", "are", "was", "were", "be", "been", "being", "sits", "stands", "lands", "falls",
     "comes", "remains", "stays", "lies", "goes", "went", "came", "ends", "ended", "moved",
     "rose", "fell", "and", "or", "but", "well", "just", "still", "now", "both", "either"}
)  # fmt: skip


def _modifies_a_noun(clause: list[Token], c: int) -> bool:
    """Comparison c qualifies a bare noun ("travel above 900 km/h", "amounts over $500")
    rather than stating where the case stands."""
    if clause[c].text not in _PREPOSITIONS or c == 0:
        return False
    before = clause[c - 1]
    return (
        before.kind == WORD
        and before.text not in _VERBS
        and before.text not in _UNIT_SKIP  # "30 points above": a margin, not a noun
        and (before.entry is None or not (before.entry.negator or before.entry.quantities))
    )


_OPEN_ENDS = frozenset(
    {"more", "above", "higher", "greater", "over", "less", "fewer", "below", "lower", "under",
     "beyond", "later", "earlier", "longer"}
)  # fmt: skip


def _open_ended(clause: list[Token], i: int) -> bool:
    """Number i is followed by "or more" / "or less" (after its unit or name)."""
    for j in range(i + 1, min(len(clause) - 1, i + 4)):
        if clause[j].text == "or" and clause[j + 1].text in _OPEN_ENDS:
            return True
        if clause[j].kind != WORD:
            return False
    return False


def _complement(clause: list[Token], i: int) -> bool:
    """Name i follows a preposition ("in the hour", "of monthly income")."""
    for j in range(i - 1, max(-1, i - 4), -1):
        token = clause[j]
        if token.text in _COMPLEMENT:
            return True
        if token.kind != WORD or (token.entry is not None and token.text not in ("the", "a", "an")):
            return False
    return False


def _after_comparator(clause: list[Token], i: int) -> bool:
    """Number i directly follows a comparison word ("above 900 km/h", "under the 2")."""
    j = i - 1
    if j >= 0 and clause[j].text == "the":
        j -= 1
    if j < 0:
        return False
    entry = clause[j].entry
    return entry is not None and entry.comparator is not None and not entry.quantities


def _limit_next_to(clause: list[Token], i: int) -> int | None:
    """Index of a limit's name next to number i ("the 43.0% maximum", "the 680
    automatic-approval level", "maximum of 43.0%")."""
    for j in range(i + 1, min(len(clause), i + 4)):
        token = clause[j]
        if token.entry is not None and token.entry.limit:
            return j
        if token.entry is not None and token.entry.quantities and _names_a_limit(clause, j):
            continue  # "the 500 km distance mark"
        if not (_plain(token) or _is_tier(token)) or token.text in ("of", "in", "for", "a"):
            break
    for j in range(i - 1, max(-1, i - 4), -1):
        token = clause[j]
        if token.entry is not None and token.entry.limit:
            return j
        if not ((_plain(token) and token.text in _LIMIT_LINKS) or token.kind in (PAREN, COLON)):
            break
    return None


def _is_tier(token: Token) -> bool:
    return token.entry is not None and token.entry.tier is not None and not token.entry.quantities


def _bound(clause: list[Token], i: int) -> int | None:
    """Index of the quantity name number i is bound to, or None."""
    if i + 1 < len(clause) and clause[i + 1].entry is not None and clause[i + 1].entry.quantities:  # type: ignore[union-attr]
        return i + 1
    if (
        i + 2 < len(clause)
        and clause[i + 1].text == "of"
        and clause[i + 2].entry is not None
        and clause[i + 2].entry.quantities  # type: ignore[union-attr]
    ):
        return i + 2
    if (
        i >= 3
        and clause[i - 1].text == "to"
        and clause[i - 2].kind == NUMBER
        and clause[i - 3].text == "from"
    ):
        return _bound(clause, i - 2)  # "rose from $873 to $5,544": both are the name's
    if (
        i >= 3
        and (clause[i - 1].kind == COMMA or clause[i - 1].text == "and")
        and clause[i - 2].text == "before"
        and clause[i - 3].kind == NUMBER
    ):
        return _bound(clause, i - 3)  # "balances: $8,914 before, $8,925 after"
    for j in range(i - 1, max(-1, i - 6), -1):
        token = clause[j]
        if token.text == "from" and j > 0 and clause[j - 1].text in _MOVES:
            continue  # "revolving balances moved from $2,052"
        if token.text in _MOVES and clause[j + 1].text == "from":
            continue
        if token.entry is not None and token.entry.quantities:
            # "an equal share of the principal: $497.92": the name is a complement there.
            if j >= 2 and clause[j - 1].text == "the" and clause[j - 2].text == "of":
                return None
            if j >= 1 and clause[j - 1].text == "of":
                return None
            return j
        if (token.kind == PAREN and token.text == "(") or token.kind == COLON:
            continue  # "DTI (43.1%)", "risk score: 45"
        if not (_plain(token) and token.text in _LINKS):
            return None
    return None


def _reference(
    clause: list[Token], c: int, roles: dict[int, str]
) -> tuple[int | None, Token | None]:
    """What comparison c compares with: the number after it (not a margin), and the limit's
    name after it ("the review threshold"), each None when absent."""
    limit: Token | None = None
    limit_at = 0
    for j in range(c + 1, min(len(clause), c + 7)):
        token = clause[j]
        if token.kind == COMMA or (token.kind == PAREN and token.text == ")"):
            break
        if limit is not None and j > limit_at + 2:
            break  # "above the speed limit) adds 40 points": 40 is not the limit
        entry = token.entry
        if entry is not None and entry.limit and limit is None:
            limit, limit_at = token, j
        if token.kind == NUMBER:
            if roles.get(j) == "margin":
                return None, limit
            if limit is None:
                k = _limit_next_to(clause, j)
                limit = clause[k] if k is not None else None
            return j, limit
        if entry is not None and entry.quantities and _names_a_limit(clause, j):
            continue  # "over the velocity mark of 3": the quantity names the limit
        if entry is not None and (entry.comparator is not None or entry.quantities):
            break
    return None, limit


def _names_a_limit(clause: list[Token], j: int) -> bool:
    """Quantity name j is followed by a limit's name ("the 500 km distance mark")."""
    k = j + 1
    return k < len(clause) and clause[k].entry is not None and bool(clause[k].entry.limit)  # type: ignore[union-attr]


def _named_tier(clause: list[Token], at: int) -> str | None:
    """The tier of the limit named at `at`: its own ("review level") or the decision word just
    before it ("the approval level", "the 680 approval level")."""
    tier = _tier_of_limit(clause[at])
    if tier is None and at > 0 and _is_tier(clause[at - 1]):
        tier = _tier_of_limit(clause[at - 1])
    return tier


def _tier_of_limit(limit: Token) -> str | None:
    """The tier a limit's name carries ("review level" -> review), else None."""
    entry = limit.entry
    return entry.tier if entry is not None else None


def _negated(clause: list[Token], i: int, reach: int) -> bool:
    """A negator within `reach` tokens before token i, with no comma between."""
    for j in range(i - 1, max(-1, i - reach - 1), -1):
        token = clause[j]
        if token.kind == COMMA:
            return False
        if token.entry is not None and token.entry.negator:
            return True
    return False


_EARLIER = frozenset({"before", "earlier", "previously", "prior", "originally", "formerly"})
_LATER = frozenset({"after", "now", "later", "currently", "today", "latest"})


def _reading(clause: list[Token], i: int) -> str | None:
    """Which of two readings number i is, by the words around it ("3 before, 4 after", "now
    585", "from 1 to 5"), or None."""
    nxt = clause[i + 1].text if i + 1 < len(clause) else ""
    prev = clause[i - 1].text if i > 0 else ""
    if nxt in _EARLIER or prev == "from":
        return "earlier"
    if nxt in _LATER or prev == "now":
        return "later"
    if prev == "to" and i >= 3 and clause[i - 2].kind == NUMBER and clause[i - 3].text == "from":
        return "later"
    return None


def _named_before(clause: list[Token], i: int, mentions: list[int]) -> tuple[str, ...]:
    """The quantities of the nearest name before token i that is not a complement ("of X"),
    or () when there is none."""
    for k in reversed(mentions):
        if k < i and not _complement(clause, k):
            entry = clause[k].entry
            assert entry is not None
            return entry.quantities
    return ()


def _is_age(clause: list[Token], i: int) -> bool:
    """Number i is an age: "3 months ago" (past its unit word), "3 ago"."""
    after = i + 2 if clause[i].units else i + 1
    return after < len(clause) and clause[after].text == "ago"


def _cited_value(
    clause: list[Token], c: int, roles: dict[int, str], mentions: list[int]
) -> Token | None:
    """The value cited for the subject of comparison word `c`: the last number read as a
    value between the subject's name and the word ("utilization of 39.18% is above ...")."""
    named = max((i for i in mentions if i < c), default=-1)
    for k in range(c - 1, named, -1):
        if roles.get(k) == "value":
            return clause[k]
    return None


def _is_negator(token: Token) -> bool:
    return token.entry is not None and token.entry.negator


def _attributive(clause: list[Token], i: int) -> bool:
    """Decision word i describes the quantity named right after it ("no drivers are named
    for a declined score"): what it says of the case stands whatever an earlier "no" denies,
    unless the "no" is its own ("no declined score")."""
    following = clause[i + 1].entry if i + 1 < len(clause) else None
    if following is None or not following.quantities:
        return False
    before = clause[i - 1] if i > 0 else None
    return before is not None and before.text in _GENERIC


def _hedged(clause: list[Token], i: int, conditional: bool = False) -> bool:
    """A hedge before token i (or, with `conditional`, a conditional such as "would")."""
    return any(
        t.entry is not None and (t.entry.hedge or (conditional and t.entry.conditional))
        for t in clause[:i]
    )


def _names_a_rule(clause: list[Token], i: int) -> bool:
    """Decision word i names a rule or level, not a decision ("denial reason", "hard block",
    "the block at 5")."""
    from factory.verify.claims.lexicon import TIER_NOUN_MODIFIED, TIER_PREMODIFIERS

    if i > 0 and clause[i - 1].text in TIER_PREMODIFIERS:
        return True
    for j in (i + 1, i + 2):
        if j >= len(clause):
            break
        token = clause[j]
        if token.kind == NUMBER or (token.entry is not None and token.entry.limit):
            return True
        if token.text in TIER_NOUN_MODIFIED:
            return True
        if token.kind == PAREN:
            continue
        if j == i + 1 and token.text not in ("at", "of", "("):
            break
    return False


__all__: Sequence[str] = ("ClaimFailure", "read_claims")
