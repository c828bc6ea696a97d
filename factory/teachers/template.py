"""The template teacher: the embedded default, which needs no model.

It is a distilabel LLM like the other teachers, so it plugs into the same Task. Every teacher
receives `(chat, grounding)` pairs: the chat is the prompt a student model sees; the grounding holds
the labelled row, which only the template teacher reads: it writes the reasoning from the engine's
facts with the domain's phrase bank, one seeded draw per row.
"""

from __future__ import annotations

import random
from typing import Any

from distilabel.models.llms.base import LLM
from pydantic import PrivateAttr

from factory import _distilabel  # noqa: F401  (must run before distilabel is imported)
from factory.domains import PolicyBase, Task, get_domain
from factory.teachers.base import TeacherInput, row_seed


class TemplateTeacher(LLM):
    """Writes reasoning and decision from the policy facts, with seeded phrasing.

    Attributes:
        domain: domain registry key.
        task: task name within the domain.
        policy: the recipe's policy thresholds (as plain data, so the step serializes).
        seed: the run seed; row i's phrasing is drawn from (seed, i).
    """

    domain: str
    task: str
    policy: dict[str, Any]
    seed: int = 0
    #: writes from the labelled row (the grounding), not from the prompt.
    grounded: bool = True

    _task: Task | None = PrivateAttr(None)
    _policy: PolicyBase | None = PrivateAttr(None)

    def load(self) -> None:
        super().load()
        impl = get_domain(self.domain)
        self._task = impl.tasks[self.task]
        self._policy = impl.policy_model.model_validate(self.policy)

    @property
    def model_name(self) -> str:
        return f"template:{self.domain}/{self.task}"

    def generate(
        self, inputs: list[TeacherInput], num_generations: int = 1
    ) -> list[dict[str, Any]]:
        """One generation per input (the template teacher is deterministic per row)."""
        if self._task is None:
            self.load()
        assert self._task is not None and self._policy is not None
        write = self._task.write
        policy = self._policy
        outputs = []
        for _chat, grounding in inputs:
            row = grounding["row"]
            rng = random.Random(row_seed(self.seed, grounding["index"]))
            text = write(row, policy, rng)
            outputs.append({"generations": [text] * num_generations, "statistics": {}})
        return outputs
