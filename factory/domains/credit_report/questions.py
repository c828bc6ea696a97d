"""Customer questions for the Q&A task, drawn per row and consistent with the score trend.

A question never contradicts the report: "why did my score drop?" is only asked when the score
declined, "what helped?" only when it improved. Phrasings contain no digits, so the numbers the
answer cites come from the report alone.
"""

from __future__ import annotations

import numpy as np
import polars as pl

#: question_type -> phrasings (several per type so a model does not learn one sentence).
QUESTION_PHRASES: dict[str, tuple[str, ...]] = {
    "why_drop": (
        "Why did my score drop?",
        "My credit score went down since my last report. What happened?",
        "What caused my score to fall?",
        "Can you explain why my credit score is lower now?",
        "I was surprised my score dropped. Why did that happen?",
    ),
    "why_rise": (
        "Why did my score go up?",
        "My credit score improved since last time. What helped?",
        "What made my score rise?",
        "Can you explain why my credit score is higher now?",
        "Nice to see my score up. What did I do right?",
    ),
    "why_stable": (
        "Why didn't my score change much?",
        "My credit score barely moved. Why is that?",
        "I expected my score to move more. What happened?",
        "Can you explain why my score stayed about the same?",
    ),
    "improve": (
        "How can I improve my score?",
        "What should I do to raise my credit score?",
        "What are the most useful steps I can take to boost my score?",
        "Where should I focus to get a better credit score?",
        "Based on my report, how do I improve my credit?",
    ),
    "what_changed": (
        "What changed on my credit report?",
        "Can you walk me through what is different since my last report?",
        "What are the main changes between my two reports?",
        "Summarize what moved on my credit report, please.",
    ),
}
QUESTION_TYPES: tuple[str, ...] = tuple(QUESTION_PHRASES)
#: trend -> the question type that asks about that trend.
TREND_QUESTION: dict[str, str] = {
    "improved": "why_rise",
    "declined": "why_drop",
    "stable": "why_stable",
}

_FLAT = pl.Series([p for phrases in QUESTION_PHRASES.values() for p in phrases], dtype=pl.String)
_COUNTS = np.array([len(p) for p in QUESTION_PHRASES.values()])
_STARTS = np.concatenate([[0], np.cumsum(_COUNTS)[:-1]])
_TYPE_INDEX = {name: i for i, name in enumerate(QUESTION_TYPES)}


def draw_questions(
    improved: np.ndarray,
    declined: np.ndarray,
    rng: np.random.Generator,
    why_share: float,
    improve_share: float,
) -> tuple[pl.Series, pl.Series]:
    """Draws a question type and phrasing per row.

    Args:
        improved: rows whose score trend is improved.
        declined: rows whose score trend is declined (the rest are stable).
        rng: the generator for these draws.
        why_share: share of questions asking why the score moved (or did not).
        improve_share: share asking how to improve; the rest ask what changed.

    Returns:
        (question_type, question) as String series.
    """
    n = len(improved)
    trend_type = np.select(
        [improved, declined],
        [_TYPE_INDEX[TREND_QUESTION["improved"]], _TYPE_INDEX[TREND_QUESTION["declined"]]],
        _TYPE_INDEX[TREND_QUESTION["stable"]],
    )
    u = rng.random(n)
    kind = np.where(
        u < why_share,
        trend_type,
        np.where(
            u < why_share + improve_share, _TYPE_INDEX["improve"], _TYPE_INDEX["what_changed"]
        ),
    )
    pick = _STARTS[kind] + rng.integers(0, 1 << 30, n) % _COUNTS[kind]
    types = pl.Series(list(QUESTION_TYPES), dtype=pl.String)
    return (
        types.gather(pl.Series(kind, dtype=pl.UInt32)).alias("question_type"),
        _FLAT.gather(pl.Series(pick, dtype=pl.UInt32)).alias("question"),
    )
