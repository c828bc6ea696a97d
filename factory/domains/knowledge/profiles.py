"""The rows of a knowledge run: one question each, drawn from the run's corpus.

Row r of a run is a fixed function of (seed, r): the unanswerable questions are spread evenly
(`unanswerable_share` of the rows), the others cycle through the answerable questions in a
seeded order, so every shard is rebuilt alone and a run of up to as many rows as there are
questions asks each one once.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from functools import lru_cache
from pathlib import Path

import polars as pl

from factory.domains._documents import Corpus, corpus_from_json
from factory.domains.knowledge.extract import extract_items
from factory.domains.knowledge.handbook import build_company_corpus
from factory.domains.knowledge.settings import KnowledgeDistribution, KnowledgeSettings

#: corpus key -> corpus, for the grounding verifier of rows built in this process.
_BY_KEY: dict[str, Corpus] = {}

SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "question_id": pl.String,
    "question": pl.String,
    "kind": pl.String,
    "fact": pl.String,
    "sources": pl.List(pl.String),
    "answer": pl.String,
    "expected": pl.List(pl.String),
    "quote": pl.List(pl.String),
    "absent": pl.List(pl.String),
    "source_text": pl.String,
    "source_numbers": pl.List(pl.Float64),
    "company": pl.String,
    "corpus_key": pl.String,
}


def corpus_key(settings: KnowledgeSettings, seed: int) -> str:
    blob = json.dumps(
        [seed, settings.documents, settings.corpus_sha256, settings.chunk_words], default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_corpus(settings: KnowledgeSettings, seed: int) -> Corpus:
    """The corpus of a run: the prepared one, else the fabricated company of `seed`.

    Raises:
        ValueError: the recipe names documents that no run has prepared yet.
    """
    return _load(settings, seed)


@lru_cache(maxsize=8)
def _load(settings: KnowledgeSettings, seed: int) -> Corpus:
    if settings.corpus is not None:
        corpus = _read_prepared(Path(settings.corpus))
    elif settings.documents is not None:
        raise ValueError(
            "knowledge.documents are read by `fin-factory generate` (which redacts and splits "
            "them into OUT/documents/); run it to build this recipe's questions"
        )
    else:
        corpus = build_company_corpus(seed)
    _BY_KEY[corpus_key(settings, seed)] = corpus
    return corpus


def _read_prepared(path: Path) -> Corpus:
    return corpus_from_json(json.loads(path.read_text(encoding="utf-8")))


def cached_corpus(key: str) -> Corpus | None:
    return _BY_KEY.get(key)


def with_questions(corpus: Corpus) -> Corpus:
    """A corpus of a user's passages with the extractive questions added."""
    return Corpus(
        corpus.company, corpus.documents, corpus.passages, extract_items(corpus.passages),
        corpus.report,
    )  # fmt: skip


def synthesize(
    n: int,
    *,
    seed: int,
    shard: int,
    offset: int,
    locale: str,
    distribution: KnowledgeDistribution,
    policy: object,
    boundary_fraction: float,
    settings: KnowledgeSettings | None = None,
) -> pl.DataFrame:
    """Rows offset .. offset+n-1 of a run: a question each with its source passages."""
    settings = settings or KnowledgeSettings()
    corpus = load_corpus(settings, seed)
    key = corpus_key(settings, seed)
    answerable = [i for i in corpus.items if i.answerable]
    unanswerable = [i for i in corpus.items if not i.answerable]
    if not answerable:
        raise ValueError("the documents gave no question to ask (no table, definition or fact)")
    order = random.Random(f"knowledge-order:{seed}")
    order.shuffle(answerable)
    order.shuffle(unanswerable)
    share = distribution.unanswerable_share if unanswerable else 0.0
    texts = {p.id: p for p in corpus.passages}
    rows: dict[str, list[object]] = {name: [] for name in SCHEMA}
    for r in range(offset, offset + n):
        before, through = math.floor(r * share), math.floor((r + 1) * share)
        if through > before:
            item = unanswerable[before % len(unanswerable)]
        else:
            item = answerable[(r - through) % len(answerable)]
        cited = [texts[s] for s in item.sources]
        rows["question_id"].append(f"q{r:08d}")
        rows["question"].append(item.question)
        rows["kind"].append(item.kind)
        rows["fact"].append(item.fact)
        rows["sources"].append(list(item.sources))
        rows["answer"].append(item.answer)
        rows["expected"].append(list(item.expected))
        rows["quote"].append(list(item.quote))
        rows["absent"].append(list(item.absent))
        rows["source_text"].append("\n\n".join(f"{p.citation}\n{p.text}" for p in cited))
        rows["source_numbers"].append(
            sorted({*(x for p in cited for x in p.numbers), *item.values})
        )
        rows["company"].append(corpus.company or "")
        rows["corpus_key"].append(key)
    return pl.DataFrame(rows, schema=SCHEMA)
