"""The knowledge domain: grounded Q&A from a company's own documents.

Task `qa`: a question about the company (its products, fees, rates, limits, eligibility,
service, policies, registrations, leadership, history) answered from the documents, citing the
section as [path § heading], or "The documents do not say" when they do not answer it. The
documents are the fabricated company's handbook by default (handbook.py renders it from a
seeded fact base) or the recipe's own (`knowledge.documents`). The label is `answered` or
`not_in_documents`; the grounding verifier checks every answer against its cited passage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import polars as pl
from pydantic import BaseModel

from factory.domains._documents import Corpus, Grounding, Passage
from factory.domains.base import DistributionBase, Domain, Fact, PolicyBase, Task
from factory.domains.knowledge.profiles import (
    cached_corpus,
    load_corpus,
    synthesize,
    with_questions,
)
from factory.domains.knowledge.settings import (
    KnowledgeDistribution,
    KnowledgePolicy,
    KnowledgeSettings,
)
from factory.domains.knowledge.writer import ANSWERED, NOT_IN_DOCUMENTS, write_answer


def knowledge_facts(row: Mapping[str, Any], policy: PolicyBase) -> dict[str, Fact]:
    """The numbers an answer may cite: every number its source passages state."""
    return {f"source_{i}": Fact(float(v)) for i, v in enumerate(row["source_numbers"] or ())}


class KnowledgeDomain(Domain):
    """Questions about a company's documents, answered from them or declined."""

    name: ClassVar[str] = "knowledge"
    title: ClassVar[str] = "Company knowledge Q&A"
    description: ClassVar[str] = (
        "Questions about a company's own documents (products, fees, limits, policies) answered "
        "from the cited section, or declined when the documents do not say."
    )
    engine_version: ClassVar[str] = "1.0.0"
    id_column: ClassVar[str] = "question_id"
    # Phrasings of one fact may fall in different splits (a held-out phrasing tests recall of a
    # trained fact); the very same question text never does.
    subject_column: ClassVar[str] = "question"
    labels: ClassVar[tuple[str, ...]] = (ANSWERED, NOT_IN_DOCUMENTS)
    adverse_labels: ClassVar[frozenset[str]] = frozenset()
    reason_texts: ClassVar[Mapping[str, str]] = {}
    protected_columns: ClassVar[tuple[str, ...]] = ()
    policy_model: ClassVar[type[PolicyBase]] = KnowledgePolicy
    distribution_model: ClassVar[type[DistributionBase]] = KnowledgeDistribution
    settings_section: ClassVar[tuple[str, type[BaseModel]] | None] = (
        "knowledge",
        KnowledgeSettings,
    )
    extra_verifiers: ClassVar[tuple[str, ...]] = ("grounding",)
    tasks: ClassVar[Mapping[str, Task]] = {
        "qa": Task(
            name="qa",
            description="Company knowledge Q&A: answers grounded in the cited section of the "
            "documents, or 'the documents do not say'.",
            system_template="qa.system.jinja2",
            user_template="qa.user.jinja2",
            write=write_answer,
        ),
    }

    synthesizer = staticmethod(synthesize)
    fact_finder = staticmethod(knowledge_facts)

    def decide(self, profiles: pl.DataFrame, policy: PolicyBase) -> pl.DataFrame:
        """The label is whether the documents answer the question (its sources exist)."""
        own = self._own(policy, KnowledgePolicy)
        answered = profiles["sources"].list.len() > 0
        return profiles.with_columns(
            decision=pl.when(answered).then(pl.lit(ANSWERED)).otherwise(pl.lit(NOT_IN_DOCUMENTS)),
            reason_codes=pl.lit([], dtype=pl.List(pl.String)),
            policy_version=pl.lit(self.policy_version(own)),
        )

    def corpus(
        self, settings: BaseModel | None, seed: int, passages: Sequence[Passage] | None = None
    ) -> Corpus | None:
        """The run's corpus; with `passages` (a user's documents, read and redacted by the
        run), the extractive questions on them."""
        own = self._own(settings or KnowledgeSettings(), KnowledgeSettings)
        if passages is not None:
            return with_questions(Corpus(None, {}, tuple(passages), ()))
        return load_corpus(own, seed)

    def grounding(self, row: Mapping[str, Any]) -> Grounding | None:
        """What the grounding verifier checks this row's answer against."""
        corpus = cached_corpus(row["corpus_key"])
        if corpus is None:
            raise RuntimeError("the row's corpus was not built in this process")
        return grounding_of(row, corpus)


def grounding_of(row: Mapping[str, Any], corpus: Corpus) -> Grounding:
    """The Grounding of one row against its corpus."""
    passages = corpus.__dict__.get("_texts")
    if passages is None:
        passages = {p.id: p.text for p in corpus.passages}
        object.__setattr__(corpus, "_texts", passages)
    names: tuple[str, ...] = ()
    if corpus.company:
        names = (corpus.company, corpus.company.split()[0])
    return Grounding(
        passages=passages,
        sources=tuple(row["sources"] or ()),
        expected=tuple(row["expected"] or ()),
        absent=tuple(row["absent"] or ()),
        names=names,
    )


DOMAIN = KnowledgeDomain()

__all__ = [
    "DOMAIN",
    "KnowledgeDistribution",
    "KnowledgeDomain",
    "KnowledgePolicy",
    "KnowledgeSettings",
    "grounding_of",
]
