"""What every teacher receives, and the per-row seed."""

from __future__ import annotations

from typing import Any

#: A chat (list of {"role", "content"}) and its grounding ({"row": labelled row, "index": int}).
TeacherInput = tuple[list[dict[str, str]], dict[str, Any]]


def row_seed(seed: int, index: int) -> int:
    """The seed of row `index` of a run: distinct per row, stable across processes."""
    return (seed << 32) ^ index
