"""`fin-factory train`: from a generated dataset to a merged model that passed the parity gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from factory.cli._app import err, out, progress
from factory.cli._overrides import Overrides, load


def train(
    recipe: Annotated[str, typer.Argument(help="Recipe file or shipped recipe name.")],
    overrides: Overrides = None,
    dataset: Annotated[
        Path | None,
        typer.Option("--dataset", help="Generated dataset folder [default: out/RECIPE_NAME]."),
    ] = None,
    base_model: Annotated[
        str | None,
        typer.Option("--base-model", help="Base model id or local path (overrides the recipe)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Run folder [default: runs/RECIPE_NAME]."),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option("--max-steps", min=1, help="Stop after N optimizer steps (a quick check)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a previous run in the folder.")
    ] = False,
) -> None:
    """Fine-tune the recipe's base model with LoRA, merge it, and check merge parity."""
    from factory.train import train as run_train

    loaded = load(recipe, overrides)
    folder = output or Path("runs") / loaded.name
    with progress() as bar:
        task = bar.add_task(f"train {loaded.name}", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_train(
            loaded,
            dataset or Path("out") / loaded.name,
            folder,
            base_model=base_model,
            max_steps=max_steps,
            overwrite=overwrite,
            progress=on_progress,
        )
    metrics = result.metrics
    final = metrics["final"]
    method = loaded.train.method if loaded.train else "sft"
    table = Table(title=f"{folder} ({method}, {result.backend} backend)")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row(
        "steps", f"{metrics['steps']:,}" + (" (stopped early)" if metrics["stopped_early"] else "")
    )
    table.add_row("final train loss", f"{final['train_loss']:.4f}")
    if final["eval_loss"] is not None:
        table.add_row("validation loss", f"{final['eval_loss']:.4f}")
        table.add_row("validation perplexity", f"{final['perplexity']:.2f}")
    last = metrics["train"][-1] if metrics["train"] else {}
    if "reward" in last:
        table.add_row("mean reward (last step)", f"{last['reward']:.3f}")
    table.add_row("tokens/s", f"{metrics['tokens_per_s'] or 0:,.0f}")
    table.add_row("parity", "passed: " + result.parity.summary())
    out.print(table)
    err.print(f"merged model: {folder / 'merged'}", markup=False)
