"""`fin-factory run`: one recipe end to end, generate -> train -> evaluate -> cards -> publish.

Every stage leaves a file that says it finished, and a stage whose output is complete and still
matches its input is skipped, so running the same command again resumes where it stopped:

    generate   out/NAME/manifest.json            (generate itself resumes shard by shard)
    train      runs/NAME/train_manifest.json     for this very dataset (manifest sha256)
    evaluate   runs/NAME/eval.json               for these very weights and this dataset
    cards      README.md in both folders         rendered every time (cheap, deterministic)
    publish    only for the repos the recipe names; unchanged content makes no commit

A recipe without a `train:` section stops after the dataset's card (and its publication).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.errors import FactoryError
from factory.recipe import EvaluateConfig, RecipeBase

#: Called with one line of news per stage ("generate: done ...").
Log = Callable[[str], None]
#: Called with (stage, done, total) while a long stage runs.
Progress = Callable[[str, int, int], None]


class GateRefusal(FactoryError):
    """A release failed its publishing gates; the report lists them."""

    exit_code = 1


@dataclass
class RunSummary:
    """What a `fin-factory run` did, stage by stage ("done", "skipped: ...", "published ...")."""

    data_dir: Path
    run_dir: Path | None
    stages: dict[str, str] = field(default_factory=dict)
    gate_lines: dict[str, list[str]] = field(default_factory=dict)


def run_recipe(
    recipe: RecipeBase,
    *,
    data_dir: Path | None = None,
    run_dir: Path | None = None,
    max_steps: int | None = None,
    publish: bool = True,
    log: Log = lambda line: None,
    progress: Progress | None = None,
) -> RunSummary:
    """Runs (or resumes) every stage of a recipe.

    Args:
        recipe: the loaded recipe.
        data_dir: the dataset folder [default: out/NAME].
        run_dir: the training run folder [default: runs/NAME].
        max_steps: cap the training steps (a quick end-to-end check).
        publish: False skips publishing even when the recipe names repos.
        log: receives one line per stage.
        progress: receives (stage, done, total) during generate, train and evaluate.

    Raises:
        GateRefusal: a release failed its gates (nothing of it was sent).
        FactoryError: any stage's own errors.
    """
    from factory.cards import render_dataset_card
    from factory.pipeline.run import generate
    from factory.publish.release import read_dataset_release

    data_dir = data_dir or Path("out") / recipe.name
    summary = RunSummary(data_dir, None)

    def step(stage: str) -> Callable[[int, int], None] | None:
        return None if progress is None else lambda done, total: progress(stage, done, total)

    result = generate(recipe, data_dir, progress=step("generate"))
    summary.stages["generate"] = (
        f"already complete ({result.final.kept:,} examples)"
        if result.already_complete
        else f"done: {result.final.kept:,} of {result.final.profiles:,} kept"
    )
    log(f"generate: {summary.stages['generate']} -> {data_dir}")

    dataset = read_dataset_release(data_dir)
    settings = recipe.publish
    render_dataset_card(dataset, repo_id=settings.dataset_repo if settings else None).write(
        data_dir
    )
    summary.stages["dataset card"] = f"{data_dir / 'README.md'}"
    log(f"dataset card: {data_dir / 'README.md'}")

    if publish and settings and settings.dataset_repo:
        summary.stages["publish dataset"] = _publish_dataset(recipe, data_dir, summary, log)

    if recipe.train is None:
        summary.stages["train"] = "skipped: the recipe has no train: section"
        log("train: skipped (the recipe has no train: section)")
        return summary

    run_dir = run_dir or Path("runs") / recipe.name
    summary.run_dir = run_dir
    summary.stages["train"] = _train(recipe, dataset.manifest_sha256, data_dir, run_dir,
                                     max_steps, step("train"))  # fmt: skip
    log(f"train: {summary.stages['train']} -> {run_dir}")
    summary.stages["evaluate"] = _evaluate(recipe, dataset.manifest_sha256, data_dir, run_dir,
                                           progress)  # fmt: skip
    log(f"evaluate: {summary.stages['evaluate']} -> {run_dir / 'eval.json'}")

    from factory.cards import render_model_card
    from factory.publish.release import read_model_release

    release = read_model_release(run_dir, dataset=data_dir)
    render_model_card(
        release,
        repo_id=settings.model_repo if settings else None,
        dataset_repo=settings.dataset_repo if settings else None,
    ).write(run_dir)
    summary.stages["model card"] = f"{run_dir / 'README.md'}"
    log(f"model card: {run_dir / 'README.md'}")

    if publish and settings and settings.model_repo:
        summary.stages["publish model"] = _publish_model(recipe, data_dir, run_dir, summary, log)
    return summary


def _train(
    recipe: RecipeBase,
    dataset_sha: str,
    data_dir: Path,
    run_dir: Path,
    max_steps: int | None,
    progress: Callable[[int, int], None] | None,
) -> str:
    from factory.train import train

    finished = _read(run_dir / "train_manifest.json")
    if finished is not None and finished["dataset"]["manifest_sha256"] == dataset_sha:
        same = finished.get("recipe", {}).get("train") == _train_settings(recipe)
        if same and finished.get("max_steps") == max_steps:
            return "already complete (same dataset and settings)"
    # No finished run for this dataset and these settings: a partial or stale run is replaced.
    result = train(recipe, data_dir, run_dir, max_steps=max_steps, overwrite=True,
                   progress=progress)  # fmt: skip
    return f"done: {result.metrics['steps']} steps, parity {result.parity.summary()}"


def _train_settings(recipe: RecipeBase) -> dict[str, Any] | None:
    return None if recipe.train is None else recipe.train.model_dump(mode="json")


def _evaluate(
    recipe: RecipeBase, dataset_sha: str, data_dir: Path, run_dir: Path, progress: Progress | None
) -> str:
    from factory.evaluate.run import evaluate, model_identity, write_report

    config = recipe.evaluate or EvaluateConfig()
    merged = run_dir / "merged"
    report_path = run_dir / "eval.json"
    identity = model_identity(str(merged))
    finished = _read(report_path)
    if (
        finished is not None
        and finished.get("dataset", {}).get("manifest_sha256") == dataset_sha
        and finished.get("model", {}).get("identity", {}).get("weights_xxh3_128")
        == identity.get("weights_xxh3_128")
    ):
        return "already complete (these weights, this dataset)"
    report = evaluate(
        str(merged),
        data_dir,
        split=config.split,
        backend=config.backend,
        baseline=config.baseline,
        limit=config.limit,
        max_new_tokens=config.max_new_tokens,
        engine_args=config.engine_args or None,
        progress=progress,
    )
    write_report(report, report_path)
    accuracy = report["model"]["decisions"]["accuracy"]
    return (
        f"done: decision accuracy {accuracy['value']:.3f} on {accuracy['n']:,} {config.split} rows"
    )


def _publish_dataset(recipe: RecipeBase, data_dir: Path, summary: RunSummary, log: Log) -> str:
    from factory.publish import publish_dataset

    settings = recipe.publish
    assert settings is not None and settings.dataset_repo is not None
    publication = publish_dataset(data_dir, settings.dataset_repo, private=settings.private)
    return _outcome("dataset", settings.dataset_repo, publication, summary, log)


def _publish_model(
    recipe: RecipeBase, data_dir: Path, run_dir: Path, summary: RunSummary, log: Log
) -> str:
    from factory.publish import publish_model

    settings = recipe.publish
    assert settings is not None and settings.model_repo is not None
    publication = publish_model(
        run_dir,
        settings.model_repo,
        dataset_dir=data_dir,
        dataset_repo=settings.dataset_repo,
        private=settings.private,
    )
    return _outcome("model", settings.model_repo, publication, summary, log)


def _outcome(kind: str, repo_id: str, publication: Any, summary: RunSummary, log: Log) -> str:
    lines = publication.staged.gates.lines()
    summary.gate_lines[kind] = lines
    for line in lines:
        log(f"  {line}")
    if publication.result is None:
        failed = ", ".join(g.name for g in publication.staged.gates.failed)
        raise GateRefusal(f"refused to publish the {kind} {repo_id}: gates failed ({failed})")
    result = publication.result
    outcome = (
        f"unchanged at {result.commit}"
        if result.unchanged
        else f"commit {result.commit} ({len(result.added)} files)"
    )
    log(f"publish {kind}: {repo_id} {outcome}")
    return outcome


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data
