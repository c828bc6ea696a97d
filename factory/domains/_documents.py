"""Documents as data: passages (sections of documents) and the Q&A items drawn on them.

A corpus is what a document-grounded run answers questions about: the knowledge domain's
fabricated handbook (built from its fact base) or a user's own documents (read, redacted and
split by factory.pipeline.documents, which may use the verifiers' detectors; this module is
plain data so that both layers share it). Every item names the passages its answer comes from,
the values the answer must state, and, for a question the documents cannot answer, the terms
that no passage may contain.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: How an answer cites a passage: [fees.md § Monthly fees].
CITATION = re.compile(r"\[([^\[\]§]+?) § ([^\[\]]+?)\]")
#: The abstention every unanswerable question gets (the grounding verifier looks for it).
ABSTAIN = "The documents do not say"
#: Kinds of question, for the dataset card and the evaluation's breakdown.
KINDS = (
    "direct",
    "can_i",
    "comparative",
    "multi_fact",
    "table",
    "definition",
    "statement",
    "unanswerable",
)


@dataclass(frozen=True)
class Passage:
    """One section (or chunk of a long section) of a document.

    Attributes:
        path: the document's path relative to the documents folder, e.g. "fees.md".
        heading: the section heading ("Monthly fees"); chunks of one section add " (part 2)".
        text: the section's text, PII already redacted.
        numbers: every number the text states (the values an answer citing it may repeat).
    """

    path: str
    heading: str
    text: str
    numbers: tuple[float, ...] = ()

    @property
    def id(self) -> str:
        """The citation key: "fees.md § Monthly fees"."""
        return f"{self.path} § {self.heading}"

    @property
    def citation(self) -> str:
        return f"[{self.id}]"


@dataclass(frozen=True)
class QAItem:
    """One question with the answer the documents give (or the fact that they give none).

    Attributes:
        question: the question as a user asks it.
        kind: one of KINDS.
        fact: the fact (or topic) the question is about; phrasings of one fact share it.
        sources: ids of the passages the answer comes from (empty for unanswerable questions).
        answer: the answer text without its citation.
        expected: the values (numbers, names) a correct answer must state, as shown.
        quote: the passage lines that support the answer, for the reasoning.
        absent: for an unanswerable question, terms no passage contains.
        values: numbers of the fact base an answer may state although no cited line shows them.
    """

    question: str
    kind: str
    fact: str
    sources: tuple[str, ...] = ()
    answer: str = ""
    expected: tuple[str, ...] = ()
    quote: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    values: tuple[float, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.sources)


@dataclass(frozen=True)
class Corpus:
    """Passages and Q&A items of one run, plus what reading the documents reported.

    Attributes:
        company: the fabricated company's name, or None for a user's documents.
        documents: path -> document text as written to OUT/documents/.
        passages: every passage, in document order.
        items: the answerable items followed by the unanswerable ones.
        report: per-document notes (PII removed, files skipped and why).
    """

    company: str | None
    documents: dict[str, str]
    passages: tuple[Passage, ...]
    items: tuple[QAItem, ...]
    report: dict[str, Any] = field(default_factory=dict)

    def passage(self, passage_id: str) -> Passage | None:
        return self._by_id().get(passage_id)

    def _by_id(self) -> dict[str, Passage]:
        cached = self.__dict__.get("_index")
        if cached is None:
            cached = {p.id: p for p in self.passages}
            object.__setattr__(self, "_index", cached)
        return cached


def write_passages(passages: tuple[Passage, ...] | list[Passage], path: Path) -> None:
    """Writes passages as JSON lines (what evaluation retrieves from)."""
    lines = [json.dumps(asdict(p), ensure_ascii=False) for p in passages]
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def read_passages(path: Path) -> list[Passage]:
    """Reads passages written by `write_passages`."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            data["numbers"] = tuple(data.get("numbers", ()))
            out.append(Passage(**data))
    return out


def citations(text: str) -> list[str]:
    """The passage ids a text cites, in order, each once."""
    found = (f"{m.group(1).strip()} § {m.group(2).strip()}" for m in CITATION.finditer(text))
    return list(dict.fromkeys(found))


def corpus_to_json(corpus: Corpus) -> dict[str, Any]:
    """The corpus as JSON data (what a run writes to OUT/documents/corpus.json)."""
    return {
        "company": corpus.company,
        "documents": corpus.documents,
        "passages": [asdict(p) for p in corpus.passages],
        "items": [asdict(i) for i in corpus.items],
        "report": corpus.report,
    }


def corpus_from_json(data: dict[str, Any]) -> Corpus:
    """The inverse of `corpus_to_json`."""

    def tupled(row: dict[str, Any]) -> dict[str, Any]:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}

    return Corpus(
        company=data["company"],
        documents=dict(data["documents"]),
        passages=tuple(Passage(**tupled(p)) for p in data["passages"]),
        items=tuple(QAItem(**tupled(i)) for i in data["items"]),
        report=dict(data.get("report", {})),
    )


@dataclass(frozen=True)
class Grounding:
    """What an answer about documents is checked against (factory.verify.grounding).

    Attributes:
        passages: every passage of the corpus by id: a cited id must be one of them.
        sources: the passages the question was drawn from: the answer must cite one of them.
        expected: values a correct answer states, as shown (empty when unknown, e.g. for an
            LLM teacher's own wording they are still the extracted values).
        absent: for an unanswerable question, terms that no passage may contain.
        names: names of the fact base an answer may use although no cited passage shows them
            (the fabricated company's own name).
        values: numbers of the fact base an answer may state although no cited passage shows
            them.
    """

    passages: dict[str, str]
    sources: tuple[str, ...] = ()
    expected: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    values: tuple[float, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.sources)
