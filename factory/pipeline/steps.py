"""The distilabel steps of a generation run.

    SynthesizeShards -> WriteReasoning (the teacher) -> VerifyShards (replicated)

Each batch is one shard (downstream input_batch_size = shard_size), so distilabel's per-batch
overhead is paid once per few thousand rows rather than once per fifty. distilabel moves every
batch through its main process and a manager process, unpickling it on each hop, so the rows
that cross process boundaries are kept small: the teacher returns only the generation, and
VerifyShards rebuilds the labelled profiles of its shard from the seed (milliseconds) instead of
receiving them. VerifyShards is the only step that touches the disk: it writes one Parquet file
per finished shard, atomically, which is what makes a killed run resumable.
"""

# No `from __future__ import annotations` here: distilabel reads the `StepInput` type hint of
# process() at run time to wire the steps.

import os
import time
from collections.abc import Iterator
from typing import Any

import orjson
import polars as pl
from distilabel.constants import SIGINT_HANDLER_CALLED_ENV_NAME
from distilabel.steps import GeneratorStep, Step, StepInput
from distilabel.steps.tasks import Task
from pydantic import PrivateAttr

from factory._distilabel import freeze_step_heap
from factory.domains import Domain, PolicyBase
from factory.domains._pools import POOL_CACHE_ENV
from factory.pipeline.prompts import PromptBuilder, TeacherPrompts, prompt_builder
from factory.pipeline.shard_files import (
    KEPT,
    failed_path,
    shard_path,
    shard_settled,
    verified_path,
    write_atomically,
)
from factory.recipe import RecipeBase, parse_recipe
from factory.synth import Shard, labelled_shard
from factory.verify import verify_example
from factory.verify.dedup import dedup_keys
from factory.verify.length import TokenCounter

#: MinHash functions per example signature (the dedup verifier's default).
_NUM_PERM = 64

#: How often a generator held back by its window looks for settled shards (seconds).
_WINDOW_POLL_S = 0.05

#: Per-row results VerifyShards adds to the labelled profiles (with `messages` and dedup keys).
_RESULTS = {
    "_index": pl.Int64,
    "generation": pl.String,
    "_user": pl.String,
    "facts": pl.String,
    "teacher": pl.String,
    "verdict": pl.String,
    "reject_detail": pl.String,
    "token_count": pl.Int64,
}


class _RecipeStep:
    """Mixin: rebuilds the recipe inside the step's own process.

    The recipe travels as validated JSON data whose file paths load_recipe already made
    absolute, so the step needs nothing else to find prompt overrides or a tokenizer.
    """

    recipe: dict[str, Any]

    def _load_recipe(self) -> RecipeBase:
        return parse_recipe(self.recipe, source="<run recipe>")


def _use_pool_cache(folder: str | None) -> None:
    """Points this step process's value pools at the run's cache folder (`pool_cache`).

    A step process inherits the environment of the fork server it was forked from, that is of
    the first run in the interpreter, not of this one: without this, a second run would read
    and write its pools in the first run's work folder (recreating it after that run ended).
    """
    if folder is not None:
        os.environ[POOL_CACHE_ENV] = folder


class SynthesizeShards(_RecipeStep, GeneratorStep):
    """Yields the row numbers of the pending shards, one shard per batch.

    Output columns: `_index` (row index in the run) and `_shard`. The labelled profiles
    themselves do not travel: a step that needs them rebuilds its shard from the seed, which
    costs milliseconds, while moving them through distilabel's queues costs far more.
    """

    recipe: dict[str, Any]
    #: pending shards as {"index", "offset", "size"} (dicts: distilabel signs its steps' fields)
    shards: list[dict[str, int]]
    #: the run's work folder, where the verify step settles each shard (see `window`)
    work_dir: str | None = None
    #: at most this many shards handed on and not yet settled by the verify step (None: no
    #: bound). distilabel asks for the next shard as soon as the teacher takes one, and its
    #: queues have no bound: a teacher faster than verify (the template teacher is) piles its
    #: generations up in distilabel's queue process for the whole run (measured: 8.3 GiB at
    #: 10 million rows). Holding the next shard back until verify catches up bounds that.
    window: int | None = None

    @property
    def outputs(self) -> list[str]:
        return ["_index", "_shard"]

    def process(self, offset: int = 0) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        ahead: list[int] = []  # shards handed on that the verify step has not settled
        for position, spec in enumerate(self.shards):
            ahead = self._wait_for_room(ahead)
            index, start = spec["index"], spec["offset"]
            rows = [{"_index": start + i, "_shard": index} for i in range(spec["size"])]
            yield rows, position == len(self.shards) - 1
            ahead.append(index)

    def _wait_for_room(self, ahead: list[int]) -> list[int]:
        """Waits until fewer than `window` of the shards in `ahead` are unsettled; returns
        those still unsettled. A Ctrl-C ends the wait: distilabel then stops the generator."""
        if self.window is None or self.work_dir is None:
            return ahead
        while True:
            ahead = [index for index in ahead if not shard_settled(self.work_dir, index)]
            if len(ahead) < self.window or os.environ.get(SIGINT_HANDLER_CALLED_ENV_NAME):
                return ahead
            time.sleep(_WINDOW_POLL_S)


class WriteReasoning(_RecipeStep, Task):
    """Asks the teacher for the assistant message of each row.

    Input columns: `_index` and `_shard`. The step rebuilds the labelled rows of the batch's
    shards from the seed. The template teacher (`grounded = True`) writes from the labelled row;
    an LLM teacher gets the chat TeacherPrompts builds for the recipe's mode. Output columns:
    `_index`, `_shard`, `generation` (None when the teacher produced nothing usable),
    `model_name` and `teacher_error` (why the teacher failed the row, else None).
    """

    recipe: dict[str, Any]
    #: pending shards as {"index", "offset", "size"}
    shards: list[dict[str, int]]
    #: the run's Faker value-pool cache folder (see factory.domains._pools)
    pool_cache: str | None = None

    _rows: dict[int, dict[str, Any]] = PrivateAttr(default_factory=dict)
    _prompts: TeacherPrompts | None = PrivateAttr(None)

    @property
    def inputs(self) -> list[str]:
        return ["_index", "_shard"]

    @property
    def outputs(self) -> list[str]:
        return ["generation", "model_name", "teacher_error"]

    def load(self) -> None:
        super().load()
        _use_pool_cache(self.pool_cache)
        if not getattr(self.llm, "grounded", False):
            self._prompts = TeacherPrompts(self._load_recipe())
        freeze_step_heap()

    def process(self, inputs: StepInput) -> Iterator[list[dict[str, Any]]]:
        self._rows = self._labelled_rows(inputs)
        error_column = f"llm_{self.name}_error"
        for rows in super().process(inputs):
            yield [
                {
                    "_index": row["_index"],
                    "_shard": row["_shard"],
                    "generation": row.get("generation"),
                    "model_name": row.get("model_name"),
                    "teacher_error": row.get(error_column),
                }
                for row in rows
            ]
        self._rows = {}

    def _labelled_rows(self, inputs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """The labelled rows of the shards this batch touches, by run index."""
        recipe = self._load_recipe()
        specs = {s["index"]: s for s in self.shards}
        rows: dict[int, dict[str, Any]] = {}
        for shard in sorted({row["_shard"] for row in inputs}):
            spec = specs[shard]
            for i, row in enumerate(labelled_shard(recipe, Shard(**spec)).to_dicts()):
                rows[spec["offset"] + i] = row
        return rows

    def format_input(self, input: dict[str, Any]) -> Any:
        # Called once per row. Reading `self._rows` goes through pydantic's __getattr__ for
        # private attributes (1.7 us, more than the rest of this method), so both reads go to
        # the dict pydantic keeps them in.
        private: dict[str, Any] = self.__pydantic_private__
        index = input["_index"]
        row = private["_rows"][index]
        prompts: TeacherPrompts | None = private["_prompts"]
        chat = prompts.chat(row, index) if prompts is not None else []
        return (chat, {"row": row, "index": index})

    def format_output(
        self,
        output: str | None,
        input: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {"generation": output}


class VerifyShards(_RecipeStep, Step):
    """Verifies every generation of a shard against the policy engine and writes the shard.

    Input columns: `_index`, `_shard`, `generation`, `model_name`, `teacher_error`. For each
    complete shard it rebuilds the labelled profiles from the seed, computes the facts and
    prompts, runs the recipe's verifiers on every row, and writes
    `<work>/shards/shard-NNNNN.parquet` atomically (`verified-NNNNN.parquet` when a judge
    follows) with the profiles, `messages`, `facts` (JSON), `teacher`, `verdict` ("kept" or the
    first failing verifier), `reject_detail`, `token_count` and the dedup keys. Yields one
    summary row per written shard. Runs in several replicas: shards are independent, and this is the
    busiest step.
    """

    recipe: dict[str, Any]
    work_dir: str
    #: pending shards as {"index", "offset", "size"}
    shards: list[dict[str, int]]
    #: the recipe has a judge: leave `verified-NNNNN.parquet` for JudgeShards instead.
    judged: bool = False
    #: the run's Faker value-pool cache folder (see factory.domains._pools)
    pool_cache: str | None = None

    _recipe: RecipeBase | None = PrivateAttr(None)
    _counter: TokenCounter | None = PrivateAttr(None)
    _builder: PromptBuilder | None = PrivateAttr(None)
    _pending: dict[int, list[dict[str, Any]]] = PrivateAttr(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        return ["_index", "_shard", "generation", "teacher_error"]

    @property
    def outputs(self) -> list[str]:
        return ["shard", "rows", "kept"]

    def load(self) -> None:
        super().load()
        _use_pool_cache(self.pool_cache)
        self._recipe = self._load_recipe()
        self._counter = TokenCounter(self._recipe.filters.tokenizer)
        self._builder = prompt_builder(self._recipe)
        freeze_step_heap()

    def process(self, inputs: StepInput) -> Iterator[list[dict[str, Any]]]:
        recipe, counter, builder = self._recipe, self._counter, self._builder
        assert recipe is not None and counter is not None and builder is not None
        sizes = {s["index"]: s for s in self.shards}
        written = []
        pending = self._pending  # read once: a private attribute costs a __getattr__ a read
        for row in inputs:
            pending.setdefault(row["_shard"], []).append(row)
        for index in sorted(pending):
            if len(pending[index]) < sizes[index]["size"]:
                continue
            rows = pending.pop(index)
            shard = Shard(**sizes[index])
            try:
                frame = verify_shard(recipe, shard, rows, counter, builder)
            except Exception as err:  # a Ctrl-C is no failure of the shard
                # Settled, though not written: the generator's window must not wait for it,
                # and the run's error names what went wrong.
                marker = failed_path(self.work_dir, index)
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text(f"{type(err).__name__}: {err}"[:500], encoding="utf-8")
                raise
            path = (verified_path if self.judged else shard_path)(self.work_dir, index)
            write_atomically(frame, path)
            kept = int((frame["verdict"] == KEPT).sum())
            written.append({"shard": index, "rows": shard.size, "kept": kept})
        yield written or [{"shard": -1, "rows": 0, "kept": 0}]


def verify_shard(
    recipe: RecipeBase,
    shard: Shard,
    generations: list[dict[str, Any]],
    counter: TokenCounter,
    builder: PromptBuilder | None = None,
) -> pl.DataFrame:
    """Verifies one shard's generations; returns the shard's rows with their verdicts.

    `builder` is the recipe's prompt builder, when the caller keeps one (it reads and compiles
    the prompt templates).
    """
    domain: Domain = recipe.domain_impl
    policy: PolicyBase = recipe.policy
    filters = recipe.filters
    checks = frozenset(filters.verifiers)
    known = frozenset(domain.reason_texts_for(policy))
    table = None
    if "claims" in checks:
        try:
            table = domain.rule_table(policy)
        except NotImplementedError:
            # A domain without a rule table has no claims to read: the other verifiers run.
            checks = checks - {"claims"}
    builder = builder or prompt_builder(recipe)
    system = builder.system
    profiles = labelled_shard(recipe, shard)
    by_index = {row["_index"]: row for row in generations}
    results: dict[str, list[Any]] = {column: [] for column in _RESULTS}
    for i, row in enumerate(profiles.iter_rows(named=True)):
        index = shard.offset + i
        produced = by_index[index]
        generation = produced.get("generation")
        user = builder.user(row)
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
            {"role": "assistant", "content": generation or ""},
        ]
        tokens = counter.count(messages)
        facts = domain.fact_pairs(row, policy)
        if generation is None:
            status = "teacher"
            detail = produced.get("teacher_error") or "the teacher returned no output"
        else:
            verdict = verify_example(
                generation,
                decision=row["decision"],
                reason_codes=row["reason_codes"],
                known_codes=known,
                facts=facts,
                checks=checks,
                number_tolerance=filters.number_tolerance,
                token_count=tokens,
                max_tokens=filters.max_seq_length,
                table=table,
                row=row,
                prompt=user,
                grounding=domain.grounding(row) if "grounding" in checks else None,
            )
            status, detail = (KEPT, "") if verdict.ok else (str(verdict.reason), verdict.detail)
        results["_index"].append(index)
        results["generation"].append(generation)
        results["_user"].append(user)
        results["facts"].append(orjson.dumps({k: f[0] for k, f in facts.items()}).decode())
        results["teacher"].append(produced.get("model_name") or "")
        results["verdict"].append(status)
        results["reject_detail"].append(detail)
        results["token_count"].append(tokens)
    # The user prompt and the answer: two rows are duplicates when both say the same thing.
    texts = [
        f"{user}\n{generation or ''}"
        for user, generation in zip(results["_user"], results["generation"], strict=True)
    ]
    exact, signatures = dedup_keys(texts, num_perm=_NUM_PERM)
    frame = profiles.with_columns(
        *(pl.Series(name, results[name], dtype=dtype) for name, dtype in _RESULTS.items()),
        pl.Series("_exact_key", exact, dtype=pl.UInt64),
        pl.Series("_minhash", signatures, dtype=pl.Array(pl.UInt64, _NUM_PERM)),
    )
    # Built column-wise: constructing the nested column from Python dicts cost ~40 us a row.
    frame = frame.with_columns(
        messages=pl.concat_list(
            pl.struct(role=pl.lit("system"), content=pl.lit(system)),
            pl.struct(role=pl.lit("user"), content=pl.col("_user")),
            pl.struct(role=pl.lit("assistant"), content=pl.col("generation").fill_null("")),
        )
    ).drop("_user")
    return frame
