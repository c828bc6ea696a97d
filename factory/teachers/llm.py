"""What the LLM-backed teachers (and the judge) share: attempts, retries and failure reasons.

A backend only implements `_complete(chats, seeds)`: one attempt for a batch of chats, returning
per chat either the text or the exception that stopped it. `ChatLLM.generate` turns that into
the contract the pipeline relies on:

- each row is tried once, then again (with a new sampling seed) while its request failed or its
  text was empty or unusable, up to `max_retries` more times, with exponential backoff between
  attempts that failed on errors;
- a row that never succeeds comes back with generation None and its reason in the `error`
  column (the verify step rejects it as `teacher`), or, when the last text was merely
  malformed, with that text so the verifiers reject it with the precise reason and the raw
  output lands in rejects.parquet;
- `generate` itself never raises for a row's failure, so a flaky or dead backend cannot stop
  or hang a run.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from typing import Any

import xxhash
from distilabel.models.llms.base import LLM
from pydantic import Field, PrivateAttr

from factory import _distilabel  # noqa: F401  (must run before distilabel is imported)
from factory.output import parse_output
from factory.teachers.base import TeacherInput

#: One attempt's result for one chat: the text, or why there is none.
Attempt = str | BaseException

#: Checks a text; returns why it is unusable, or None when it is fine.
Acceptor = Callable[[str], str | None]

#: Backoff before attempt k (k >= 1) after errors: BACKOFF_S * 2**(k-1), capped.
BACKOFF_S = 0.5
BACKOFF_CAP_S = 8.0


def sampling_seed(seed: int, index: int, attempt: int) -> int:
    """The sampling seed of row `index` at `attempt`: stable, distinct, within 31 bits (every
    server accepts it)."""
    return xxhash.xxh64_intdigest(f"{seed}:{index}:{attempt}".encode()) & 0x7FFF_FFFF


def teacher_output_problem(text: str) -> str | None:
    """Why a teacher's text is unusable (empty, or not in the output format), or None."""
    if not text.strip():
        return "empty output"
    parsed = parse_output(text)
    return None if parsed.ok else "malformed output: " + "; ".join(parsed.errors)


def describe_error(error: BaseException) -> str:
    """One line for an exception: its type and first line, without secrets or tracebacks."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    return f"{name}: {message}"[:300] if message else name


class ChatLLM(LLM, abc.ABC):
    """Base of the LLM backends: generate with retries, per-row failure reasons.

    Attributes:
        model: model id or local path.
        temperature, top_p, max_new_tokens, stop: sampling parameters.
        seed: the run's sampling seed; row i's seed derives from (seed, i, attempt).
        max_retries: further attempts for a row that failed or came back unusable.
        role: "teacher" (a usable text parses in the output format) or "judge" (a usable text
            holds a rubric score).
        mode: the teacher mode this LLM serves ("write" or "paraphrase"), shown in its name.
    """

    model: str
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 768
    stop: list[str] = Field(default_factory=list)
    seed: int = 0
    max_retries: int = 3
    role: str = "teacher"
    mode: str = "write"
    #: LLM teachers read the chat WriteReasoning builds, not the labelled row.
    grounded: bool = False

    _acceptor: Acceptor | None = PrivateAttr(None)
    _sleep: Callable[[float], None] = PrivateAttr(time.sleep)

    #: backend key, e.g. "vllm"; part of the name recorded in every row's `teacher` column.
    backend: str = "llm"

    @property
    def model_name(self) -> str:
        suffix = f" ({self.mode})" if self.role == "teacher" else ""
        return f"{self.backend}:{self.model}{suffix}"

    def load(self) -> None:
        super().load()
        if self.role == "judge":
            from factory.teachers.rubric import judge_output_problem

            self._acceptor = judge_output_problem
        else:
            self._acceptor = teacher_output_problem

    @abc.abstractmethod
    def _complete(self, chats: list[list[dict[str, str]]], seeds: list[int]) -> list[Attempt]:
        """One attempt for each chat (same order); never raises for a single chat's failure."""

    def generate(
        self, inputs: list[TeacherInput], num_generations: int = 1
    ) -> list[dict[str, Any]]:
        """One generation per input, retried as the module docstring describes.

        Output per input: `generations` ([text or None]), `statistics` (attempts) and `error`
        ([reason or None]), which distilabel adds to the row as `llm_<step>_error`.
        """
        if self._acceptor is None:
            self.load()
        assert self._acceptor is not None
        chats = [chat for chat, _ in inputs]
        indexes = [int(grounding["index"]) for _, grounding in inputs]
        texts: list[str | None] = [None] * len(inputs)
        errors: list[str | None] = ["no attempt was made"] * len(inputs)
        attempts = [0] * len(inputs)
        pending = list(range(len(inputs)))
        for attempt in range(self.max_retries + 1):
            if not pending:
                break
            seeds = [sampling_seed(self.seed, indexes[i], attempt) for i in pending]
            results = self._complete([chats[i] for i in pending], seeds)
            failed_on_error = False
            retry = []
            for i, result in zip(pending, results, strict=True):
                attempts[i] += 1
                if isinstance(result, BaseException):
                    errors[i] = describe_error(result)
                    failed_on_error = True
                    retry.append(i)
                    continue
                problem = self._acceptor(result)
                errors[i] = problem
                if problem is None:
                    texts[i] = result
                else:
                    # An empty text is no output; a malformed one is kept for the verifiers.
                    texts[i] = result if result.strip() else None
                    retry.append(i)
            pending = retry
            if pending and failed_on_error and attempt < self.max_retries:
                self._sleep(min(BACKOFF_CAP_S, BACKOFF_S * 2**attempt))
        outputs = []
        for i in range(len(inputs)):
            error = errors[i]
            if error is not None and attempts[i] > 1:
                error = f"{error} (after {attempts[i]} attempts)"
            outputs.append(
                {
                    "generations": [texts[i]] * num_generations,
                    "statistics": {"attempts": [attempts[i]] * num_generations},
                    "error": [error] * num_generations,
                }
            )
        return outputs
