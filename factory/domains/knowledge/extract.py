"""The extractive template teacher's questions on a user's own documents.

Three kinds of statement are turned into questions whose answer is a line of the passage
itself, so a model is never needed to try one's own files:

    table       a markdown table row: "What is the <column> of <row label>?"
    definition  "Term: text", "Term means ...", "Term is defined as ..."
    statement   a short "X is Y" sentence: "The monthly fee is $5." -> "What is the monthly fee?"

Plus questions on topics no passage mentions, answered "The documents do not say".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from factory.domains._documents import ABSTAIN, Passage, QAItem

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_DEFINITION = re.compile(
    r"^\**(?P<term>[A-Z][\w'&/-]*(?: [\w'&/-]+){0,5}?)\**"
    r"(?:\s*:\s+| means | is defined as | refers to )(?P<body>.{8,})$"
)
_STATEMENT = re.compile(
    r"^(?P<subject>(?:The |An? |Our |Your )?[\w'&/-]+(?: [\w'&/-]+){0,5}?) "
    r"(?P<verb>is|are|costs|pays|lasts|takes) (?P<rest>[^;]{2,120})\.$"
)
#: Short numbers and amounts a statement's answer states ("$5", "4.05%", "30 days").
_VALUE = re.compile(r"[$£€]?\d[\d,]*(?:\.\d+)?%?")
_STOP_SUBJECTS = frozenset({"it", "this", "that", "there", "these", "those", "they", "he", "she"})

#: (topic, absent terms, phrasings) asked of any document set; kept when no passage has a term.
GENERIC_UNANSWERABLE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("mortgages", ("mortgage",), ("What mortgage rates are offered?", "Can I get a mortgage?")),
    ("cryptocurrency", ("crypto",), ("Can I buy cryptocurrency?",)),
    ("safe deposit boxes", ("safe deposit",), ("How much is a safe deposit box?",)),
    ("the CEO's salary", ("salary",), ("What is the CEO's salary?",)),
    ("Sunday opening", ("sunday",), ("Is customer service open on Sundays?",)),
    ("student loans", ("student loan",), ("Are student loans available?",)),
    ("dividends", ("dividend",), ("What dividend was paid last year?",)),
)


def sentences(text: str) -> list[str]:
    """The sentences and lines of a passage (table rows stay whole lines)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("|"):
            out.append(line)
        else:
            out.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return out


def extract_items(passages: Sequence[Passage]) -> tuple[QAItem, ...]:
    """Every table, definition and statement question of the passages, then unanswerables."""
    items: list[QAItem] = []
    for passage in passages:
        items += _table_items(passage)
        for sentence in sentences(passage.text):
            if sentence.startswith("|"):
                continue
            items += _definition_items(passage, sentence) or _statement_items(passage, sentence)
    return tuple(items) + _unanswerable(passages)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table_items(passage: Passage) -> list[QAItem]:
    lines = [line.strip() for line in passage.text.splitlines()]
    items: list[QAItem] = []
    for i in range(len(lines) - 2):
        header, rule = lines[i], lines[i + 1]
        if not (header.startswith("|") and re.fullmatch(r"\|?(\s*:?-{3,}:?\s*\|)+\s*", rule)):
            continue
        columns = _cells(header)
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            cells = _cells(row)
            if len(cells) != len(columns) or not cells[0]:
                continue
            for column, cell in zip(columns[1:], cells[1:], strict=True):
                if not cell or cell in {"-", "none", "n/a"} or not column:
                    continue
                what = column[0].lower() + column[1:]
                items.append(
                    QAItem(
                        question=f"What is the {what} of {cells[0]}?",
                        kind="table",
                        fact=f"{passage.id}:{cells[0]}:{column}",
                        sources=(passage.id,),
                        answer=f"The {what} of {cells[0]} is {cell}.",
                        expected=(cell,),
                        quote=(header, row),
                    )
                )
    return items


def _definition_items(passage: Passage, sentence: str) -> list[QAItem]:
    match = _DEFINITION.match(sentence)
    if match is None:
        return []
    term = match["term"].strip("* ")
    if term.lower() in _STOP_SUBJECTS or len(term) < 3:
        return []
    return [
        QAItem(
            question=question,
            kind="definition",
            fact=f"{passage.id}:{term}",
            sources=(passage.id,),
            answer=sentence.replace("**", ""),
            expected=tuple(_VALUE.findall(sentence)) or (term,),
            quote=(sentence,),
        )
        for question in (f"What does {term} mean?", f"What is meant by {term}?")
    ]


def _statement_items(passage: Passage, sentence: str) -> list[QAItem]:
    match = _STATEMENT.match(sentence)
    if match is None:
        return []
    subject = match["subject"]
    if subject.split()[0].lower() in _STOP_SUBJECTS:
        return []
    values = tuple(_VALUE.findall(match["rest"]))
    if not values:
        return []  # "X is Y" without a value to check is too vague a question
    what = subject[0].lower() + subject[1:]
    verb = match["verb"]
    ask = {"is": "What is", "are": "What are", "costs": "How much does", "pays": "What does",
           "lasts": "How long does", "takes": "How long does"}[verb]  # fmt: skip
    tail = {"costs": " cost", "pays": " pay", "lasts": " last", "takes": " take"}.get(verb, "")
    return [
        QAItem(
            question=question,
            kind="statement",
            fact=f"{passage.id}:{subject}",
            sources=(passage.id,),
            answer=sentence,
            expected=values,
            quote=(sentence,),
        )
        for question in (
            f"{ask} {what}{tail}?",
            f'According to "{passage.heading}", {ask.lower()} {what}{tail}?',
        )
    ]


def _unanswerable(passages: Sequence[Passage]) -> tuple[QAItem, ...]:
    text = "\n".join(p.text for p in passages).lower()
    return tuple(
        QAItem(
            question=phrasing,
            kind="unanswerable",
            fact=f"absent:{topic}",
            answer=f"{ABSTAIN} anything about {topic}.",
            absent=absent,
        )
        for topic, absent, phrasings in GENERIC_UNANSWERABLE
        if not any(term in text for term in absent)
        for phrasing in phrasings
    )
