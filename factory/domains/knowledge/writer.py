"""The template teacher of the knowledge domain: an answer that cites its source section.

The reasoning names the section and quotes the lines that hold the answer; the answer states it
and cites the section again as [path § heading]. A question the documents cannot answer gets
"The documents do not say ..." and the decision `not_in_documents`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from factory.domains.base import PolicyBase
from factory.output import render_output

ANSWERED = "answered"
NOT_IN_DOCUMENTS = "not_in_documents"

_INTRO = (
    "The documents cover this in {cite}:",
    "The relevant passage is {cite}:",
    "This is answered by {cite}, which says:",
    "{cite} states:",
)
_CLOSE = (
    "The answer below restates that passage.",
    "So the answer comes straight from that section.",
    "Nothing beyond that passage is needed.",
)
_ABSENT = (
    "I looked for {topic} in the documents. No section mentions it, so there is nothing to "
    "answer from.",
    "No passage of the documents covers {topic}; answering would mean guessing.",
    "The documents have no section on {topic}, so I cannot answer from them.",
)


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return options[int(rng.random() * len(options))]


def cite(sources: list[str] | tuple[str, ...]) -> str:
    """The citation of passages: "[fees.md § Account fees]" (several joined with "and")."""
    return " and ".join(f"[{source}]" for source in sources)


def write_answer(row: Mapping[str, Any], policy: PolicyBase, rng: random.Random) -> str:
    """The grounded answer to the row's question.

    Args:
        row: a labelled row (question, sources, answer, quote, fact).
        policy: the knowledge policy (unused: the format is fixed).
        rng: the row's seeded generator (phrasing only).
    """
    sources = list(row["sources"] or ())
    if not sources:
        topic = str(row["fact"]).removeprefix("absent:")
        reasoning = _pick(rng, _ABSENT).format(topic=topic)
        return render_output(reasoning, NOT_IN_DOCUMENTS, answer=row["answer"])
    citation = cite(sources)
    quoted = "\n".join(f'"{line}"' for line in row["quote"])
    reasoning = f"{_pick(rng, _INTRO).format(cite=citation)}\n{quoted}\n{_pick(rng, _CLOSE)}"
    answer = f"{row['answer']}\n\nSource: {citation}"
    return render_output(reasoning, ANSWERED, answer=answer)
