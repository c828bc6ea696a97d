"""The optional judge (`filters: judge:`): an LLM scores each verified example against a rubric.

The rubric (factory/teachers/prompts/judge.user.jinja2, overridable with `prompts.judge`) asks
for clarity, correctness of the explanation, and tone for a customer, each 1-5, as one JSON
object. An example is kept when the mean score reaches `threshold`; otherwise it is rejected as
`judge` with its scores. A judge that never returns a readable score (after its retries) rejects
the example too: fin-factory keeps only what something vouched for.

In the pipeline, VerifyShards writes each shard as `verified-NNNNN.parquet` and JudgeShards turns
it into the final `shard-NNNNN.parquet`, so a shard counts as done (for resume) only once judged.
"""

# No `from __future__ import annotations` here: distilabel reads the `StepInput` type hint of
# process() at run time to wire the steps.

import json
import os
from collections.abc import Iterator
from typing import Any

import polars as pl
from distilabel.steps import StepInput
from distilabel.steps.tasks import Task
from pydantic import PrivateAttr

from factory._distilabel import freeze_step_heap
from factory.pipeline.prompts import JudgePrompts
from factory.pipeline.shard_files import KEPT, shard_path, verified_path, write_atomically
from factory.recipe import parse_recipe
from factory.teachers.rubric import parse_scores


class JudgeShards(Task):
    """Scores the kept rows of each verified shard and writes the final shard file.

    Input: the per-shard summaries of VerifyShards (`shard`, `rows`, `kept`). For each shard it
    reads `verified-NNNNN.parquet`, asks the judge about every kept row in one batch, sets
    `judge_score` (mean, null for rows it did not judge) and `judge_scores` (JSON), turns rows
    under the threshold into `judge` rejects, and writes `shard-NNNNN.parquet` atomically.
    """

    recipe: dict[str, Any]
    work_dir: str

    _prompts: JudgePrompts | None = PrivateAttr(None)
    _threshold: float = PrivateAttr(0.0)

    @property
    def inputs(self) -> list[str]:
        return ["shard", "rows", "kept"]

    @property
    def outputs(self) -> list[str]:
        return ["shard", "rows", "kept"]

    def load(self) -> None:
        super().load()
        recipe = parse_recipe(self.recipe, source="<run recipe>")
        assert recipe.filters.judge is not None
        self._threshold = recipe.filters.judge.threshold
        self._prompts = JudgePrompts(recipe)
        freeze_step_heap()

    def format_input(self, input: dict[str, Any]) -> Any:
        assert self._prompts is not None
        return (self._prompts.chat(input["user"], input["answer"]), {"index": input["_index"]})

    def format_output(
        self, output: str | None, input: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {"scores": parse_scores(output)}

    def process(self, inputs: StepInput) -> Iterator[list[dict[str, Any]]]:
        written = []
        for summary in inputs:
            if summary["shard"] < 0:
                continue  # VerifyShards' "nothing finished in this batch" marker
            kept = self._judge_shard(summary["shard"])
            written.append({"shard": summary["shard"], "rows": summary["rows"], "kept": kept})
        yield written or [{"shard": -1, "rows": 0, "kept": 0}]

    def _judge_shard(self, index: int) -> int:

        source = verified_path(self.work_dir, index)
        frame = pl.read_parquet(source)
        todo = frame.filter(pl.col("verdict") == KEPT)
        rows = [
            {"_index": i, "user": m[1]["content"], "answer": m[2]["content"]}
            for i, m in zip(todo["_index"], todo["messages"], strict=True)
        ]
        verdicts: dict[int, tuple[str, str, float | None, str | None]] = {}
        if rows:
            outputs = self.llm.generate_outputs(
                inputs=[self.format_input(row) for row in rows], num_generations=1
            )
            for row, output in zip(rows, outputs, strict=True):
                text = output["generations"][0]
                scores = parse_scores(text)
                if scores is None:
                    reason = (output.get("error") or [None])[0] or "no rubric score"
                    verdicts[row["_index"]] = ("judge", f"judge failed: {reason}", None, None)
                    continue
                mean = round(sum(scores.values()) / len(scores), 4)
                shown = json.dumps(scores, sort_keys=True)
                if mean >= self._threshold:
                    verdicts[row["_index"]] = (KEPT, "", mean, shown)
                else:
                    detail = f"mean rubric score {mean:g} < {self._threshold:g}: {shown}"
                    verdicts[row["_index"]] = ("judge", detail, mean, shown)
        judged = pl.DataFrame(
            {
                "_index": list(verdicts),
                "_verdict": [v[0] for v in verdicts.values()],
                "_detail": [v[1] for v in verdicts.values()],
                "judge_score": [v[2] for v in verdicts.values()],
                "judge_scores": [v[3] for v in verdicts.values()],
            },
            schema={
                "_index": pl.Int64,
                "_verdict": pl.String,
                "_detail": pl.String,
                "judge_score": pl.Float64,
                "judge_scores": pl.String,
            },
        )
        out = (
            frame.join(judged, on="_index", how="left")
            .with_columns(
                verdict=pl.coalesce("_verdict", "verdict"),
                reject_detail=pl.coalesce("_detail", "reject_detail"),
            )
            .drop("_verdict", "_detail")
        )
        write_atomically(out, shard_path(self.work_dir, index))
        os.remove(source)
        return int((out["verdict"] == KEPT).sum())
