"""The distilabel steps of a generation run.

    SynthesizeShards -> WriteReasoning (teacher) -> VerifyExamples -> WriteShards

Each batch is one shard (downstream input_batch_size = shard_size), so the per-batch overhead of
distilabel is paid once per few thousand rows rather than once per fifty. WriteShards is the only
step that touches the disk: it writes one Parquet file per finished shard, atomically, which is
what makes a killed run resumable.
"""

# No `from __future__ import annotations` here: distilabel reads the `StepInput` type hint of
# process() at run time to wire the steps.

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
from distilabel.steps import GeneratorStep, Step, StepInput
from distilabel.steps.tasks import Task
from pydantic import PrivateAttr

from factory.domains import Domain, Fact, PolicyBase
from factory.pipeline.prompts import PromptBuilder
from factory.recipe import RecipeBase, parse_recipe
from factory.synth import Shard, labelled_shard
from factory.verify import verify_example
from factory.verify.dedup import exact_key, minhash_signatures
from factory.verify.length import TokenCounter

KEPT = "kept"

#: Columns a shard file holds besides the labelled profile columns.
RESULT_COLUMNS = (
    "_index",
    "generation",
    "messages",
    "facts",
    "teacher",
    "verdict",
    "reject_detail",
    "token_count",
    "_exact_key",
    "_minhash",
)


class _RecipeStep:
    """Mixin: rebuilds the recipe inside the step's own process."""

    recipe: dict[str, Any]
    recipe_dir: str | None

    def _load_recipe(self) -> RecipeBase:
        recipe = parse_recipe(self.recipe, source="<run recipe>")
        return recipe.model_copy(
            update={"source": Path(self.recipe_dir) / "recipe.yaml" if self.recipe_dir else None}
        )


def prompt_builder(recipe: RecipeBase) -> PromptBuilder:
    """The prompt builder of a recipe (overrides resolved against the recipe's folder)."""
    domain = recipe.domain_impl
    return PromptBuilder(
        domain,
        domain.tasks[recipe.task],  # type: ignore[attr-defined]
        recipe.policy,  # type: ignore[attr-defined]
        system_override=recipe.prompts.system,
        user_override=recipe.prompts.user,
    )


class SynthesizeShards(_RecipeStep, GeneratorStep):
    """Yields the labelled profiles of the pending shards, one shard per batch.

    Output columns: every labelled profile column, plus `_index` (row index in the run),
    `_shard`, `facts` (the numbers an explanation may cite) and `prompt` (system + user).
    """

    recipe: dict[str, Any]
    recipe_dir: str | None = None
    #: pending shards as {"index", "offset", "size"} (dicts: distilabel signs its steps' fields)
    shards: list[dict[str, int]]

    @property
    def outputs(self) -> list[str]:  # type: ignore[override]
        return ["_index", "_shard", "facts", "prompt", "decision", "reason_codes"]

    def process(self, offset: int = 0) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        recipe = self._load_recipe()
        domain: Domain = recipe.domain_impl
        policy: PolicyBase = recipe.policy  # type: ignore[attr-defined]
        builder = prompt_builder(recipe)
        facts = domain.facts
        for position, spec in enumerate(self.shards):
            index, start = spec["index"], spec["offset"]
            frame = labelled_shard(recipe, Shard(**spec))
            rows = frame.to_dicts()
            for i, row in enumerate(rows):
                row["_index"] = start + i
                row["_shard"] = index
                # Plain lists, not Fact tuples: distilabel may serialize batches as JSON.
                row["facts"] = {k: [f.value, f.percent] for k, f in facts(row, policy).items()}
                row["prompt"] = builder.messages(row)
            yield rows, position == len(self.shards) - 1


class WriteReasoning(Task):
    """Asks the teacher for the assistant message of each row.

    Input columns: `prompt` (system + user) and the labelled row (the template teacher's
    grounding). Output column: `generation` (None when the teacher failed).
    """

    @property
    def inputs(self) -> list[str]:  # type: ignore[override]
        return ["prompt", "_index"]

    @property
    def outputs(self) -> list[str]:  # type: ignore[override]
        return ["generation", "model_name"]

    def format_input(self, input: dict[str, Any]) -> Any:  # noqa: A002 (distilabel's name)
        return (input["prompt"], {"row": input, "index": input["_index"]})

    def format_output(
        self,
        output: str | None,
        input: dict[str, Any] | None = None,  # noqa: A002
    ) -> dict[str, Any]:
        return {"generation": output}


class VerifyExamples(_RecipeStep, Step):
    """Checks every generation against the policy engine and the recipe's filters.

    Output columns (the profile columns are dropped here; WriteShards re-joins them):
    `_index`, `_shard`, `generation`, `messages`, `facts` (JSON), `teacher`, `verdict` ("kept" or
    the first failing verifier), `reject_detail`, `token_count`, and the dedup keys
    `_exact_key` / `_minhash`.
    """

    recipe: dict[str, Any]
    recipe_dir: str | None = None

    _recipe: RecipeBase | None = PrivateAttr(None)
    _counter: TokenCounter | None = PrivateAttr(None)
    _known: frozenset[str] = PrivateAttr(frozenset())

    @property
    def inputs(self) -> list[str]:  # type: ignore[override]
        return ["generation", "prompt", "facts", "decision", "reason_codes"]

    @property
    def outputs(self) -> list[str]:  # type: ignore[override]
        return list(RESULT_COLUMNS) + ["_shard"]

    def load(self) -> None:
        super().load()
        self._recipe = self._load_recipe()
        self._counter = TokenCounter(self._recipe.filters.tokenizer)
        self._known = frozenset(self._recipe.domain_impl.reason_texts)

    def process(self, inputs: StepInput) -> Iterator[list[dict[str, Any]]]:  # type: ignore[override]
        assert self._recipe is not None and self._counter is not None
        filters = self._recipe.filters
        checks = frozenset(filters.verifiers)
        count_tokens = self._counter.count
        rows = []
        for row in inputs:
            generation = row.get("generation")
            messages = [*row["prompt"], {"role": "assistant", "content": generation or ""}]
            tokens = count_tokens(messages)
            row_facts = {k: Fact(v, p) for k, (v, p) in row["facts"].items()}
            verdict = verify_example(
                generation or "",
                decision=row["decision"],
                reason_codes=row["reason_codes"],
                known_codes=self._known,
                facts=row_facts,
                checks=checks,
                number_tolerance=filters.number_tolerance,
                token_count=tokens,
                max_tokens=filters.max_seq_length,
            )
            if generation is None:
                status, detail = "teacher", "the teacher returned no output"
            elif verdict.ok:
                status, detail = KEPT, ""
            else:
                status, detail = str(verdict.reason), verdict.detail
            rows.append(
                {
                    "_index": row["_index"],
                    "_shard": row["_shard"],
                    "generation": generation,
                    "messages": messages,
                    "facts": json.dumps({k: f.value for k, f in row_facts.items()}),
                    "teacher": row.get("model_name") or "",
                    "verdict": status,
                    "reject_detail": detail,
                    "token_count": tokens,
                }
            )
        texts = [_dedup_text(r["messages"]) for r in rows]
        signatures = minhash_signatures(texts)
        for r, text, signature in zip(rows, texts, signatures, strict=True):
            r["_exact_key"] = exact_key(text)
            r["_minhash"] = signature.tolist()
        yield rows


class WriteShards(_RecipeStep, Step):
    """Writes each finished shard to `<work>/shards/shard-NNNNN.parquet`, atomically.

    A shard file holds the labelled profiles (rebuilt from the seed, so the rows that crossed the
    process boundary stay small) joined with the generation and verification results. Yields one
    summary row per written shard.
    """

    recipe: dict[str, Any]
    recipe_dir: str | None = None
    work_dir: str
    shards: list[dict[str, int]]

    _pending: dict[int, list[dict[str, Any]]] = PrivateAttr(default_factory=dict)

    @property
    def inputs(self) -> list[str]:  # type: ignore[override]
        return list(RESULT_COLUMNS) + ["_shard"]

    @property
    def outputs(self) -> list[str]:  # type: ignore[override]
        return ["shard", "rows", "kept"]

    def process(self, inputs: StepInput) -> Iterator[list[dict[str, Any]]]:  # type: ignore[override]
        sizes = {s["index"]: (s["offset"], s["size"]) for s in self.shards}
        written = []
        for row in inputs:
            self._pending.setdefault(row["_shard"], []).append(row)
        for index in sorted(self._pending):
            start, size = sizes[index]
            if len(self._pending[index]) < size:
                continue
            rows = self._pending.pop(index)
            kept = write_shard(self._load_recipe(), Shard(index, start, size), rows, self.work_dir)
            written.append({"shard": index, "rows": size, "kept": kept})
        yield written or [{"shard": -1, "rows": 0, "kept": 0}]


def shard_path(work_dir: str | Path, index: int) -> Path:
    return Path(work_dir) / "shards" / f"shard-{index:05d}.parquet"


def write_shard(
    recipe: RecipeBase, shard: Shard, rows: list[dict[str, Any]], work_dir: str | Path
) -> int:
    """Joins one shard's results to its labelled profiles and writes it; returns rows kept."""
    results = pl.DataFrame(
        {column: [row[column] for row in rows] for column in RESULT_COLUMNS},
        schema_overrides={
            "_index": pl.Int64,
            "generation": pl.String,
            "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
            "facts": pl.String,
            "teacher": pl.String,
            "verdict": pl.String,
            "reject_detail": pl.String,
            "token_count": pl.Int64,
            "_exact_key": pl.UInt64,
            "_minhash": pl.List(pl.UInt64),
        },
    ).sort("_index")
    profiles = labelled_shard(recipe, shard).with_columns(
        _index=pl.int_range(shard.offset, shard.offset + shard.size, dtype=pl.Int64)
    )
    frame = profiles.join(results, on="_index", how="inner", validate="1:1")
    if frame.height != shard.size:
        raise RuntimeError(f"shard {shard.index}: {frame.height} results for {shard.size} rows")
    path = shard_path(work_dir, shard.index)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    frame.write_parquet(partial, compression="zstd", statistics=False)
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return int((frame["verdict"] == KEPT).sum())


def _dedup_text(messages: list[dict[str, str]]) -> str:
    # The user prompt and the answer: two rows are duplicates when both say the same thing.
    return "\n".join(m["content"] for m in messages if m["role"] != "system")
