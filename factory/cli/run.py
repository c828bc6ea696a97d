"""`fin-factory run`: a recipe end to end (generate -> train -> evaluate -> cards -> publish)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from factory.cli._app import err, out, progress
from factory.cli._overrides import Overrides, load


def run(
    recipe: Annotated[str, typer.Argument(help="Recipe file or shipped recipe name.")],
    overrides: Overrides = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data", help="Dataset folder [default: out/RECIPE_NAME].")
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", help="Training run folder [default: runs/NAME].")
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option("--max-steps", min=1, help="Stop training after N steps (a quick check)."),
    ] = None,
    no_publish: Annotated[
        bool, typer.Option("--no-publish", help="Skip publishing even if the recipe names repos.")
    ] = False,
) -> None:
    """Run every stage of a recipe, resuming finished ones; publish the repos the recipe names."""
    from factory.workflow import run_recipe

    loaded = load(recipe, overrides)
    with progress(transient=True) as bar:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        def log(line: str) -> None:
            bar.console.print(line, markup=False, highlight=False)

        summary = run_recipe(
            loaded,
            data_dir=data_dir,
            run_dir=run_dir,
            max_steps=max_steps,
            publish=not no_publish,
            log=log,
            progress=on_progress,
        )
    for stage, outcome in summary.stages.items():
        out.print(f"{stage}: {outcome}", markup=False)
    err.print(
        f"dataset: {summary.data_dir}" + (f", run: {summary.run_dir}" if summary.run_dir else ""),
        markup=False,
    )
