"""Fine-tuning against retrieval: the test questions answered three ways on one engine.

    fine-tuned, closed-book    the fine-tuned model, the question alone
    base, closed-book          the base model, the question alone
    base + retrieval           the base model, the top-k MiniLM passages before the question

Each way is scored on the same rows: fact accuracy (an answerable question's expected values
all stated, and every number of the answer in its source passages), grounded-answer rate (the
grounding verifier keeps the answer), abstention precision and recall (saying "The documents do
not say" exactly for the questions the documents do not answer), and the mean prompt and answer
tokens and seconds per answer (one batched call per way, so latency is the call's time divided
by its answers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from factory.domains._documents import ABSTAIN, Grounding, Passage
from factory.evaluate.metrics import Mean, Rate
from factory.output import parse_output
from factory.verify.grounding import check_grounding, states_expected, unstated_number

#: The three ways, in the order the report and the model card show them.
WAYS = ("fine-tuned, closed-book", "base, closed-book", "base + retrieval")
TOP_K = 3

Generate = Callable[..., list[str]]


#: The section of eval.json holding the three-way comparison on a grounded Q&A dataset.
REPORT_SECTION = "knowledge"


def compare(
    model: str,
    baseline: str | None,
    frame: pl.DataFrame,
    passages: Sequence[Passage],
    *,
    generate: Generate,
    backend: str,
    max_new_tokens: int,
    engine_args: dict[str, Any] | None,
    top_k: int = TOP_K,
) -> dict[str, Any]:
    """The three ways on `frame`'s rows (a knowledge dataset split); see the module docstring.

    Without a baseline only the fine-tuned way is scored, and the report says why.
    """
    from factory.evaluate.retrieval import Retriever, with_context

    chats = [chat[:-1] for chat in frame["messages"].to_list()]
    rows = frame.to_dicts()
    texts = {p.id: p.text for p in passages}
    groundings = [_grounding(row, texts) for row in rows]
    plans: list[tuple[str, str, list[list[dict[str, str]]]]] = [(WAYS[0], model, chats)]
    if baseline is not None:
        retrieved = Retriever(passages).top_k([chat[-1]["content"] for chat in chats], top_k)
        rag = [with_context(chat, found) for chat, found in zip(chats, retrieved, strict=True)]
        plans += [(WAYS[1], baseline, chats), (WAYS[2], baseline, rag)]
    ways = {}
    for way, name, prompts in plans:
        started = time.perf_counter()
        answers = generate(
            name, prompts, backend=backend, max_new_tokens=max_new_tokens, engine_args=engine_args
        )
        seconds = time.perf_counter() - started
        ways[way] = {
            "model": name,
            **score_answers(answers, groundings),
            **_tokens(name, prompts, answers),
            "seconds_per_answer": seconds / max(len(answers), 1),
        }
    out: dict[str, Any] = {"rows": frame.height, "top_k": top_k, "ways": ways}
    if baseline is None:
        out["note"] = "no base model given (--baseline) or recorded by training: one way scored"
    return out


def _grounding(row: dict[str, Any], texts: dict[str, str]) -> Grounding:
    company = row.get("company") or ""
    return Grounding(
        passages=texts,
        sources=tuple(row["sources"] or ()),
        expected=tuple(row["expected"] or ()),
        absent=tuple(row["absent"] or ()),
        names=(company, company.split()[0]) if company else (),
    )


def score_answers(answers: Sequence[str], groundings: Sequence[Grounding]) -> dict[str, Any]:
    """Fact accuracy, grounded-answer rate and abstention precision/recall of the answers."""
    accurate = grounded = abstained = correct_abstentions = 0
    answerable = sum(g.answerable for g in groundings)
    for text, grounding in zip(answers, groundings, strict=True):
        parsed = parse_output(text)
        answer = parsed.answer if parsed.answer is not None else text
        abstains = ABSTAIN.lower() in answer.lower()
        abstained += abstains
        if not grounding.answerable:
            correct_abstentions += abstains
        elif not abstains and states_expected(answer, grounding.expected):
            source = "\n".join(grounding.passages.get(s, "") for s in grounding.sources)
            accurate += unstated_number(answer, source) is None
        grounded += check_grounding(parsed, grounding) is None
    unanswerable = len(groundings) - answerable
    return {
        "fact_accuracy": Rate.of(accurate, answerable),
        "grounded_answer_rate": Rate.of(grounded, len(groundings)),
        "abstention_precision": Rate.of(correct_abstentions, abstained),
        "abstention_recall": Rate.of(correct_abstentions, unanswerable),
    }


def _tokens(model: str, prompts: list[list[dict[str, str]]], answers: Sequence[str]) -> dict:
    from transformers import AutoTokenizer

    from factory.train.parity import chat_ids

    tokenizer = AutoTokenizer.from_pretrained(model)
    prompt = [len(chat_ids(tokenizer, chat)) for chat in prompts]
    answer = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in answers]
    return {"prompt_tokens": Mean.of(prompt), "answer_tokens": Mean.of(answer)}
