"""`fin-factory profiles`: the labelled profile table many data teams want as is."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from factory.cli._app import err, out, progress
from factory.cli._overrides import Overrides, load

if TYPE_CHECKING:
    from factory.tabular import TableSummary


#: Rows synthesized and labelled per call (the per-call costs paid once per group), and the
#: rows of each Parquet row group.
_GROUP_ROWS = 50_000


def profiles(
    recipe: Annotated[str, typer.Argument(help="Recipe file or shipped recipe name.")],
    overrides: Overrides = None,
    n: Annotated[
        int | None, typer.Option("--n", help="Number of profiles (overrides the recipe).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (overrides the recipe).")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output file, .parquet or .csv [default: out/NAME/profiles.parquet]."
        ),
    ] = None,
) -> None:
    """Synthesize profiles and label them with the recipe's policy engine."""
    from factory.synth import labelled_shards, recipe_shards, shard_groups
    from factory.tabular import table_format, write_table

    loaded = load(recipe, overrides, {"profiles.count": n, "profiles.seed": seed})
    path = output or Path("out") / loaded.name / "profiles.parquet"
    table_format(path)
    shards = recipe_shards(loaded)
    total = loaded.profiles.count
    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"{loaded.name} profiles", total=total)

        def frames():
            for group in shard_groups(shards, _GROUP_ROWS):
                frame = labelled_shards(loaded, group)
                bar.advance(task, frame.height)
                yield frame  # one Parquet row group per group, not per shard: fewer, cheaper writes

        summary = write_table(frames(), path)
    elapsed = time.perf_counter() - started
    _print_summary(summary, loaded.domain_impl.labels)
    err.print(
        f"wrote {summary.rows:,} profiles to {path} in {elapsed:.1f}s "
        f"({summary.rows / max(elapsed, 1e-9):,.0f} rows/s)",
        markup=False,
    )


def _print_summary(summary: TableSummary, labels: tuple[str, ...]) -> None:
    decisions = Table(title="decisions")
    decisions.add_column("decision")
    decisions.add_column("rows", justify="right")
    decisions.add_column("share", justify="right")
    for label in labels:
        count = summary.decisions.get(label, 0)
        decisions.add_row(label, f"{count:,}", f"{count / max(summary.rows, 1):.1%}")
    out.print(decisions)
    if summary.reasons:
        reasons = Table(title="reason codes (rows naming each)")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for code, count in summary.reasons.most_common():
            reasons.add_row(code, f"{count:,}")
        out.print(reasons)
