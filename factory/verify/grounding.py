"""The grounding verifier: an answer about documents must say only what its cited passage says.

`check_grounding` reads a parsed answer against a `Grounding` (factory.domains._documents) and
returns None when the answer is grounded, else the claim that failed:

    * an answerable question: the answer does not abstain; it cites a section as
      [path § heading], every cited section is a passage of the documents, and one of them is
      the passage the question was drawn from; it states the expected values;
    * every number, amount, percentage and date in the reasoning and answer appears in the
      cited passages (or is a value of the fact base), and every proper noun and product name
      of the answer appears in them (or is a name of the fact base);
    * bound claims: a number the answer ties to a name (and, in a table, to a column) is the
      number the passage states for that name and column; two names the answer puts in one
      clause share a sentence or row of the passage ("X is the Chief Executive Officer");
    * no contradiction: a clause that matches a sentence of the passage has the same polarity
      (both negated or neither: "does not sell" against "sells");
    * an unanswerable question: the answer says "The documents do not say", states no number,
      cites nothing, and no passage of the documents mentions the question's topic.

Everything is compared case-insensitively; numbers by value (the numbers verifier's reader,
with no tolerance beyond the digits shown).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from factory.domains._documents import ABSTAIN, CITATION, Grounding, citations
from factory.domains.base import Fact
from factory.output import ParsedOutput
from factory.verify.numbers import CitedNumber, FactTable, extract_numbers

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
# A clause: what "and", ";" and ", against" join in one sentence.
_CLAUSE = re.compile(r";\s+|,?\s+and\s+(?=(?:an?|the)?\s*[\w$])|\s+against\s+", re.IGNORECASE)
_PROPER = re.compile(r"\b[A-Z][\w'&-]*(?:\s+[A-Z][\w'&-]*)*")
_DATE = re.compile(
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}\b"
    r"|\b\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{4}\b"
    r"|\b\d{4}-\d{2}-\d{2}\b"
)
_WORD = re.compile(r"[a-z][a-z'-]+")
#: Capitalised words that open a sentence without naming anything.
_OPENERS = frozenset((
    "the", "a", "an", "yes", "no", "it", "its", "this", "that", "these", "those", "there", "you",
    "your", "we", "our", "they", "their", "he", "she", "source", "applicants", "customers",
    "records", "report", "download", "freeze", "up", "so", "please", "chat", "deposits",
    "overdraft", "complaints", "nothing", "i", "in", "on", "at", "for", "from", "with", "when",
    "if"
))  # fmt: skip
_NEGATIONS = frozenset((
    "not", "no", "never", "cannot", "can't", "don't", "doesn't", "won't", "isn't", "aren't",
    "without", "none", "nor"
))  # fmt: skip
_STOPWORDS = frozenset((
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "and", "or", "is", "are", "be", "by",
    "with", "from", "as", "it", "its", "this", "that", "per", "any", "each", "every", "up", "can",
    "you", "your", "i", "my", "me", "do", "does", "did", "has", "have", "had", "will", "would",
    "may", "must", "than", "which", "who", "what", "when", "how", "there", "so", "yes", "no",
    "not"
))  # fmt: skip


def check_grounding(parsed: ParsedOutput, grounding: Grounding) -> str | None:
    """Checks one parsed answer against its grounding (see the module docstring).

    Args:
        parsed: the parsed assistant message.
        grounding: the row's passages, sources, expected values and absent terms.

    Returns:
        None when the answer is grounded, else the failing claim, e.g.
        "$30 is not what [fees.md § Account fees] states for Everyday Checking".
    """
    answer = parsed.answer or ""
    abstains = ABSTAIN.lower() in answer.lower()
    if not grounding.answerable:
        return _check_abstention(answer, abstains, grounding)
    if abstains:
        return f"abstains, but [{grounding.sources[0]}] answers the question"
    cited = citations(f"{parsed.reasoning}\n{answer}")
    unknown = [c for c in cited if c not in grounding.passages]
    if unknown:
        return f"cites [{unknown[0]}], which is no passage of the documents"
    in_answer = citations(answer)
    if not in_answer:
        return "the answer cites no section of the documents"
    if not set(in_answer) & set(grounding.sources):
        return f"cites [{in_answer[0]}], but the question is answered by [{grounding.sources[0]}]"
    # A section's heading is part of what it says ("## Everyday Checking" names the account).
    sections = [(c.split(" § ", 1)[1], grounding.passages[c]) for c in cited]
    passage = "\n".join(f"{heading}\n{text}" for heading, text in sections)
    units, headers = _units(sections)
    where = " and ".join(f"[{c}]" for c in in_answer)
    plain = _without_citations(answer)
    for check in (
        _expected(plain, grounding, where),
        _numbers(_without_citations(f"{parsed.reasoning}\n{answer}"), passage, grounding, where),
        _dates(plain, passage, where),
        _names(plain, passage, units, grounding, where),
        _bindings(plain, units, headers, grounding, where),
    ):
        if check:
            return check
    return None


def _check_abstention(answer: str, abstains: bool, grounding: Grounding) -> str | None:
    if not abstains:
        return f'the documents do not answer this question, but the answer does not say "{ABSTAIN}"'
    for term in grounding.absent:
        for passage_id, text in grounding.passages.items():
            if term.lower() in text.lower():
                return f"abstains, but [{passage_id}] mentions {term!r}"
    stated = extract_numbers(answer)
    if stated:
        return f"an abstention states {stated[0].text}"
    if citations(answer):
        return f"an abstention cites [{citations(answer)[0]}]"
    return None


def _without_citations(text: str) -> str:
    return re.sub(r"\bSource:\s*", "", CITATION.sub("", text))


def _expected(answer: str, grounding: Grounding, where: str) -> str | None:
    missing = _missing(answer, grounding.expected)
    return None if missing is None else f"the answer does not state {missing} (from {where})"


def _missing(answer: str, expected: Iterable[str]) -> str | None:
    lowered = " ".join(answer.lower().split())
    table = FactTable(Fact(n.value) for n in extract_numbers(answer))
    for value in expected:
        numbers = extract_numbers(value)
        if numbers and all(_matches(table, n) for n in numbers):
            continue
        if not numbers and " ".join(value.lower().split()) in lowered:
            continue
        return value
    return None


def states_expected(answer: str, expected: Iterable[str]) -> bool:
    """Whether `answer` states every expected value (numbers by value, words as written)."""
    return _missing(answer, expected) is None


def unstated_number(text: str, passage: str) -> str | None:
    """The first number of `text` that `passage` does not state, None when there is none."""
    table = FactTable(Fact(n.value) for n in extract_numbers(passage))
    for number in extract_numbers(_without_citations(text)):
        if not _matches(table, number):
            return number.text
    return None


def _matches(table: FactTable, number: CitedNumber) -> bool:
    return table.matches(number, 0.0)


def _numbers(text: str, passage: str, grounding: Grounding, where: str) -> str | None:
    facts = [Fact(n.value) for n in extract_numbers(passage)]
    table = FactTable([*facts, *(Fact(v) for v in grounding.values)])
    for number in extract_numbers(text):
        if not _matches(table, number):
            return f"{number.text} is not in {where}"
    return None


def _dates(answer: str, passage: str, where: str) -> str | None:
    shown = {_squash(d) for d in _DATE.findall(passage)}
    for date in _DATE.findall(answer):
        if _squash(date) not in shown:
            return f"the date {date} is not in {where}"
    return None


def _squash(text: str) -> str:
    return re.sub(r"[\s,.]+", " ", text.lower()).strip()


def proper_nouns(text: str) -> list[str]:
    """The names a text uses: runs of capitalised words, less a sentence's opening word."""
    found = []
    for sentence in _SENTENCE.split(text):
        for match in _PROPER.finditer(sentence):
            words = match.group().split()
            opening = match.start() == len(sentence) - len(sentence.lstrip())
            while words and words[0].lower() in _OPENERS:
                words, opening = words[1:], False
            if not words or (opening and len(words) == 1):
                continue  # a sentence's first word is capitalised whatever it is
            found.append(" ".join(words))
    return list(dict.fromkeys(found))


def _names(
    answer: str, passage: str, units: list[_Unit], grounding: Grounding, where: str
) -> str | None:
    lowered = passage.lower()
    allowed = [n.lower() for n in grounding.names]
    for name in proper_nouns(answer):
        if name.lower() in lowered or name.lower() in allowed:
            continue
        # "Auto Loan APRs" for a section "Auto Loan" that says "APRs range ...": every word of
        # the name in one sentence of the passage (its heading included).
        words = _content(name)
        if words and any(words <= u.words for u in units):
            continue
        return f"{name!r} is not in {where}"
    return None


def _stem(word: str) -> str:
    for suffix in ("ly", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)]
    return word


def _content(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


class _Unit:
    """A sentence of a passage, or one cell of a table with its row label and column."""

    __slots__ = ("header", "negated", "row", "text", "values", "words")

    def __init__(self, text: str, heading: str, header: str = "", row: bool = False) -> None:
        #: a whole table row: it puts names together, but a number is bound through its cell.
        self.row = row
        self.text = f"{heading}\n{text}".lower()
        self.header = _content(header)
        self.words = _content(self.text)
        self.values = FactTable(Fact(n.value) for n in extract_numbers(text))
        self.negated = _negated(text)


def _units(sections: Iterable[tuple[str, str]]) -> tuple[list[_Unit], set[str]]:
    """The units of the cited (heading, text) sections and the words of their table headers."""
    units: list[_Unit] = []
    headers: set[str] = set()
    for heading, passage in sections:
        lines = [line.strip() for line in passage.splitlines() if line.strip()]
        columns: list[str] = []
        for line in lines:
            if line.startswith("|"):
                cells = [c.strip() for c in line.strip("|").split("|")]
                if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                    continue
                if not columns:
                    columns = cells
                    headers |= set().union(*(_content(c) for c in cells[1:]))
                    continue
                units.append(_Unit(" ".join(cells), heading, row=True))
                for column, cell in zip(columns[1:], cells[1:], strict=False):
                    units.append(_Unit(f"{cells[0]} {column} {cell}", heading, header=column))
            else:
                columns = []
                units += [_Unit(s, heading) for s in _SENTENCE.split(line) if s.strip()]
    return units, headers


def _negated(text: str) -> bool:
    """Whether a clause is negated: an odd number of negations ("not no fee" is a fee)."""
    return sum(w in _NEGATIONS for w in re.findall(r"[a-z']+", text.lower())) % 2 == 1


def _bindings(
    answer: str, units: list[_Unit], headers: set[str], grounding: Grounding, where: str
) -> str | None:
    allowed = {n.lower() for n in grounding.names}
    for sentence in _SENTENCE.split(answer):
        sentence = re.sub(r"^(?:Yes|No)[.,]\s*", "", sentence.strip())
        if not sentence:
            continue
        names_in_sentence = [n for n in proper_nouns(sentence) if n.lower() not in allowed]
        for clause in _CLAUSE.split(sentence):
            names = [n for n in proper_nouns(clause) if n.lower() not in allowed]
            names = names or names_in_sentence
            lowered = [n.lower() for n in names]
            columns = _content(clause) & headers
            for number in extract_numbers(clause):
                holders = [u for u in units if not u.row and u.values.matches(number, 0.0)]
                if not any(
                    all(_content(n) <= u.words for n in lowered)
                    and (not u.header or columns <= u.words)
                    for u in holders
                ):
                    subject = " and ".join(names) if names else "this"
                    return f"{number.text} is not what {where} states for {subject}"
            own = [_content(n) for n in proper_nouns(clause) if n.lower() not in allowed]
            if len(own) > 1 and not any(all(n <= u.words for n in own) for u in units):
                together = " and ".join(
                    repr(n) for n in proper_nouns(clause) if n.lower() not in allowed
                )
                return f"{where} never puts {together} together"
            contradiction = _contradicts(clause, units)
            if contradiction:
                return f"contradicts {where}: {contradiction!r}"
    return None


def _contradicts(clause: str, units: list[_Unit]) -> str | None:
    """The clause, when the sentences or rows of the passage closest to it (sharing the most
    content words, at least 60% of the clause's) all have the other polarity."""
    words = _content(clause)
    if len(words) < 2 or not units:
        return None
    negated = _negated(clause)
    shared = [len(words & u.words) for u in units]
    best = max(shared)
    similar = [u for u, n in zip(units, shared, strict=True) if n == best]
    if best >= 0.6 * len(words) and all(u.negated != negated for u in similar):
        return clause.strip()
    return None
