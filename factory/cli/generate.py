"""`fin-factory generate`: from a recipe to a verified dataset on disk."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from factory.cli._app import err, out, progress
from factory.cli._overrides import Overrides, load
from factory.recipe import TEACHER_BACKENDS

if TYPE_CHECKING:
    from factory.pipeline.run import RunResult


def generate(
    recipe: Annotated[str, typer.Argument(help="Recipe file or shipped recipe name.")],
    overrides: Overrides = None,
    n: Annotated[
        int | None, typer.Option("--n", help="Number of profiles (overrides the recipe).")
    ] = None,
    kept: Annotated[
        int | None,
        typer.Option(
            "--kept",
            help="Keep drawing further shards until this many examples are kept "
            "(profiles.target_kept); fails with exit 1 at the cap, saying how far it got.",
        ),
    ] = None,
    max_profiles: Annotated[
        int | None,
        typer.Option(
            "--max-profiles",
            help="The attempt cap of --kept: most profiles drawn (profiles.max_count) "
            "[default: 4 x --kept].",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Output folder [default: out/RECIPE_NAME].")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (overrides the recipe).")] = None,
    teacher: Annotated[
        str | None,
        typer.Option(
            "--teacher",
            help=f"Teacher backend ({', '.join(TEACHER_BACKENDS)}); overrides the recipe.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Teacher model id or local path (vllm and openai)."),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="OpenAI-compatible server URL (openai teacher)."),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="LLM teacher mode: write or paraphrase."),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="local (one machine) or ray (distilabel's Ray pipeline, on the cluster at "
            "RAY_ADDRESS or a local one); overrides the recipe's execution.",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Delete a previous run in the folder and start over."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="Show distilabel's log (every batch of every step) as it runs."
        ),
    ] = False,
) -> None:
    """Generate a verified chain-of-thought dataset (resumes an interrupted run)."""
    # distilabel and the pipeline load here, not at import: `--help` stays instant.
    from factory.pipeline.run import generate as run_generate

    options = {"profiles.count": n, "profiles.seed": seed, "execution": engine}
    options |= {"profiles.target_kept": kept, "profiles.max_count": max_profiles}
    options |= {"teacher.backend": teacher, "teacher.model": model, "teacher.base_url": base_url}
    loaded = load(recipe, overrides, options | {"teacher.mode": mode})
    folder = output or Path("out") / loaded.name
    with progress() as bar:
        task = bar.add_task(f"{loaded.name}", total=loaded.profiles.count)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_generate(
            loaded, folder, overwrite=overwrite, progress=on_progress, verbose=verbose
        )
    print_summary(result)


def print_summary(result: RunResult) -> None:
    final = result.final
    if result.already_complete:
        err.print(
            f"{result.out_dir} is already complete (pass --overwrite to regenerate)", markup=False
        )
    table = Table(title=f"{result.out_dir}")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    table.add_row("profiles", f"{final.profiles:,}", "")
    table.add_row("kept", f"{final.kept:,}", f"{final.kept / max(final.profiles, 1):.1%}")
    for reason, count in final.rejected.items():
        table.add_row(f"rejected: {reason}", f"{count:,}", f"{count / max(final.profiles, 1):.1%}")
    for teacher, counts in final.teachers.items():
        kept, produced = counts["kept"], counts["rows"]
        share = f"{kept / max(produced, 1):.1%}"
        table.add_row(f"teacher: {teacher}", f"{kept:,} of {produced:,} kept", share)
    for label, count in final.labels.items():
        table.add_row(f"label: {label}", f"{count:,}", f"{count / max(final.kept, 1):.1%}")
    for split, count in final.splits.items():
        table.add_row(f"split: {split}", f"{count:,}", "")
    out.print(table)
    documents = final.manifest.get("documents") or {}
    for path, notes in documents.get("documents", {}).items():
        removed = ", ".join(f"{n} {kind}" for kind, n in notes.get("redacted", {}).items())
        err.print(
            f"document {path}: {notes['passages']} passage(s)"
            + (f"; redacted {removed}" if removed else ""),
            markup=False,
        )
    for skipped in documents.get("skipped", []):
        err.print(f"skipped {skipped['path']}: {skipped['reason']}", markup=False)
    if not result.already_complete:
        reused = f", {result.reused_shards} shard(s) reused" if result.reused_shards else ""
        err.print(
            f"done in {result.seconds:.1f}s ({final.profiles / max(result.seconds, 1e-9):,.0f} "
            f"profiles/s{reused})",
            markup=False,
        )
