"""The answer path shared by the HTTP service and batch prediction.

For each structured case: the policy engine labels it (the decision of record), the task's
prompt is rendered from the labelled row exactly as for the training data, the fine-tuned model
answers, and its answer is parsed and checked with the verifiers of the training data
(`verify_example`). A two-step task then hands the model's extraction to the base model for a
polished paragraph, which is verified in its place in the answer. An answer that does not parse,
fails a verifier, or whose decision token(s) had a probability below `serve.min_confidence` is
not shown: its status is `needs_review` and a person decides.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from factory.output import parse_output, render_output
from factory.pipeline.prompts import PolishPrompt, prompt_builder
from factory.recipe import RecipeBase, ServeConfig
from factory.serve.backends import BackendError, ChatBackend, Completion
from factory.serve.case import case_frame
from factory.verify import Verdict
from factory.verify.case import CaseVerifier

OK = "ok"
NEEDS_REVIEW = "needs_review"
#: Verifiers that need the whole example's token count run over datasets, not answers.
_NOT_AT_INFERENCE = frozenset({"length"})


@dataclass
class Answer:
    """What the answer path made of one case (the response and most of its audit record).

    Attributes:
        status: "ok", or "needs_review" (the explanation is withheld and a ticket is opened).
        decision: the engine's decision: the decision of record.
        reason_codes: the engine's principal reasons, most important first.
        reasons: those codes with their adverse-action texts.
        policy_version: the engine version and policy hash that decided.
        model_decision: the decision the model wrote (None when it did not parse).
        verified: every verifier passed (for two-step tasks, on the polished answer too).
        verdict: the first failing verifier (e.g. "numbers", "polish:pii") or None.
        detail: what failed.
        fallback: why the answer went to review: "parse", "verification", "confidence", or None.
        confidence: probability of the model's decision token(s); None without logprobs.
        reasoning: the model's reasoning, only when shown (status ok).
        summary: the fine-tuned model's customer text (<answer>), only when shown.
        answer: the final customer text (the base model's paragraph in two-step tasks).
        raw: the model outputs, for the audit log and the reviewer (never shown to a customer).
        messages: the chat the fine-tuned model got.
    """

    status: str
    decision: str
    reason_codes: list[str]
    reasons: list[dict[str, str]]
    policy_version: str
    model_decision: str | None
    verified: bool
    verdict: str | None
    detail: str
    fallback: str | None
    confidence: float | None
    reasoning: str | None = None
    summary: str | None = None
    answer: str | None = None
    raw: dict[str, str] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        """The fields a caller gets (a withheld answer keeps only what identifies it)."""
        shown = asdict(self)
        shown.pop("raw")
        shown.pop("messages")
        if self.status != OK:
            for name in ("decision", "reason_codes", "reasons", "reasoning", "summary", "answer"):
                shown[name] = None
        return shown


class AnswerPath:
    """Labels, prompts, asks, verifies and (two-step) polishes one recipe's cases.

    Args:
        recipe: the recipe the model was trained on (domain, task, policy, verifiers).
        model: the fine-tuned model's server.
        base: the base model's server, for a task with a polish step.
        settings: the recipe's serve section.
    """

    def __init__(
        self,
        recipe: RecipeBase,
        model: ChatBackend,
        base: ChatBackend | None = None,
        settings: ServeConfig | None = None,
    ) -> None:
        self.recipe = recipe
        self.domain = recipe.domain_impl
        self.task = self.domain.tasks[recipe.task]
        self.policy = recipe.policy
        self.settings = settings or recipe.serve or ServeConfig()
        self.model = model
        self.base = base
        if self.task.polish is not None and base is None:
            raise ValueError(f"task {self.task.name!r} answers in two steps: it needs a base model")
        self.polish = PolishPrompt(self.domain, self.task) if self.task.polish else None
        self.prompts = prompt_builder(recipe)
        # The same checks, facts, rule table and tolerance the training data was verified with.
        self.verifier = CaseVerifier(
            recipe, [c for c in recipe.filters.verifiers if c not in _NOT_AT_INFERENCE]
        )
        self.reason_texts = self.verifier.reason_texts

    def label(self, cases: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The engine's labelled rows for validated cases (one vectorised call)."""
        frame = case_frame(self.recipe, [dict(c) for c in cases])
        return self.domain.label(frame, self.policy).to_dicts()

    async def answer(self, row: Mapping[str, Any]) -> Answer:
        """The answer to one labelled row.

        Raises:
            BackendError: a model server failed (the caller refuses the request).
        """
        messages = self.prompts.messages(row)
        completion = await self.model.complete(
            messages, max_tokens=self.settings.max_new_tokens, logprobs=True
        )
        confidence = decision_probability(completion)
        verdict = self.verifier.verdict(completion.text, row, prompt=messages[-1]["content"])
        out = self._answer(row, verdict, confidence, completion.text, messages)
        if out.status == OK and self.polish is not None:
            await self._polish(row, out)
        return out

    async def answer_all(self, rows: Sequence[Mapping[str, Any]]) -> list[Answer | BackendError]:
        """Answers to many rows, concurrently; a failed backend call is returned, not raised."""

        async def one(row: Mapping[str, Any]) -> Answer | BackendError:
            try:
                return await self.answer(row)
            except BackendError as error:
                return error

        return list(await asyncio.gather(*(one(row) for row in rows)))

    def _answer(
        self,
        row: Mapping[str, Any],
        verdict: Verdict,
        confidence: float | None,
        text: str,
        messages: list[dict[str, str]],
    ) -> Answer:
        parsed = parse_output(text)
        codes = list(row["reason_codes"] or ())
        minimum = self.settings.min_confidence
        if not parsed.ok:
            fallback: str | None = "parse"
        elif not verdict.ok:
            fallback = "verification"
        elif minimum > 0 and (confidence is None or confidence < minimum):
            fallback = "confidence"
        else:
            fallback = None
        return Answer(
            status=OK if fallback is None else NEEDS_REVIEW,
            decision=row["decision"],
            reason_codes=codes,
            reasons=[{"code": c, "text": self.reason_texts.get(c, "")} for c in codes],
            policy_version=row["policy_version"],
            model_decision=parsed.decision,
            verified=verdict.ok,
            verdict=verdict.reason,
            detail=verdict.detail,
            fallback=fallback,
            confidence=confidence,
            reasoning=parsed.reasoning if fallback is None else None,
            summary=parsed.answer if fallback is None else None,
            answer=parsed.answer if fallback is None else None,
            raw={"model": text},
            messages=messages,
        )

    async def _polish(self, row: Mapping[str, Any], out: Answer) -> None:
        """The second step: the base model's paragraph from the extraction, verified in place."""
        assert self.polish is not None and self.base is not None and self.task.polish is not None
        parsed = parse_output(out.raw["model"])
        extraction = self.task.polish.extract(parsed.answer or "")
        prompt = self.polish.user(
            extraction=extraction,
            decision=row["decision"],
            reasons=[(r["code"], r["text"]) for r in out.reasons],
            row=row,
        )
        completion = await self.base.complete(
            [{"role": "user", "content": prompt}],
            max_tokens=self.settings.max_new_tokens,
            logprobs=False,
        )
        paragraph = completion.text.strip()
        out.raw["base"] = paragraph
        polished = f"{extraction}\n\n{paragraph}" if extraction else paragraph
        combined = render_output(
            parsed.reasoning,
            parsed.decision or row["decision"],
            parsed.reasons,
            dict(zip(parsed.reasons, parsed.reason_texts, strict=True)),
            answer=polished,
        )
        verdict = self.verifier.verdict(combined, row)
        if not paragraph or not verdict.ok:
            out.status, out.fallback, out.verified = NEEDS_REVIEW, "verification", False
            out.verdict = f"polish:{verdict.reason or 'format'}"
            out.detail = verdict.detail or "the base model wrote nothing"
            out.reasoning = out.summary = out.answer = None
            return
        out.answer = paragraph


def decision_probability(completion: Completion) -> float | None:
    """The probability of the tokens that spell the label inside <decision>...</decision>.

    None when the server sent no logprobs or the text has no decision block. Tokens that only
    partly overlap the label count whole: a tokenizer may glue the label to the tags.
    """
    if not completion.tokens:
        return None
    text = "".join(token for token, _ in completion.tokens)
    opening = text.find("<decision>")
    if opening < 0:
        return None
    start = opening + len("<decision>")
    end = text.find("</decision>", start)
    if end < 0:
        return None
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end:
        return None
    total, at = 0.0, 0
    for token, logprob in completion.tokens:
        token_end = at + len(token)
        if token_end > start and at < end:
            total += logprob
        at = token_end
    return math.exp(total)


def rows_frame(answers: Sequence[Answer]) -> pl.DataFrame:
    """Answers as a table (batch prediction's output)."""
    return pl.DataFrame([a.public() for a in answers])


__all__ = ["NEEDS_REVIEW", "OK", "Answer", "AnswerPath", "decision_probability"]
