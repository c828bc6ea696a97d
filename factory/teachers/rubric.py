"""The judge's rubric reply: its criteria, and reading the scores out of a reply.

The judge's LLM retries a reply with no readable score (`judge_output_problem`), and the judge
step keeps or rejects an example by the scores (`parse_scores`).
"""

from __future__ import annotations

import json
import re

CRITERIA = ("clarity", "correctness", "tone")
_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)


def parse_scores(text: str | None) -> dict[str, float] | None:
    """The rubric scores in a judge's reply (the first JSON object holding all criteria, each
    1-5), or None."""
    if not text:
        return None
    for match in _OBJECT.finditer(text):
        try:
            data = json.loads(match.group(0))
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        scores = {}
        for name in CRITERIA:
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                break
            if not 1 <= value <= 5:
                break
            scores[name] = float(value)
        else:
            return scores
    return None


def judge_output_problem(text: str) -> str | None:
    """Why a judge's reply is unusable, or None (ChatLLM retries unusable replies)."""
    if parse_scores(text) is None:
        return "no rubric score (" + ", ".join(CRITERIA) + " each 1-5) in the judge's reply"
    return None
