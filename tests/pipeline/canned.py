"""A teacher for tests: a distilabel LLM that answers from the prompt alone, badly on purpose."""

from __future__ import annotations

from typing import Any

from distilabel.models.llms.base import LLM


class CannedTeacher(LLM):
    """Returns no output for every third row and unparseable text for the others."""

    @property
    def model_name(self) -> str:
        return "canned"

    def generate(  # type: ignore[override]
        self, inputs: list[Any], num_generations: int = 1
    ) -> list[dict[str, Any]]:
        outputs = []
        for chat, grounding in inputs:
            if grounding["index"] % 3 == 0:
                text = None
            else:
                text = f"no tags here; the prompt had {len(chat)} messages: {chat[-1]['role']}"
            outputs.append({"generations": [text] * num_generations, "statistics": {}})
        return outputs


class ApprovingTeacher(LLM):
    """Approves every case in a well-formed answer that cites nothing: right for the cases the
    engine approves, wrong (a `decision` reject) for every other."""

    @property
    def model_name(self) -> str:
        return "approving"

    def generate(  # type: ignore[override]
        self, inputs: list[Any], num_generations: int = 1
    ) -> list[dict[str, Any]]:
        text = (
            "<reasoning>\nEvery check in the policy is satisfied.\n</reasoning>\n"
            "<decision>approve</decision>"
        )
        return [{"generations": [text] * num_generations, "statistics": {}} for _ in inputs]
