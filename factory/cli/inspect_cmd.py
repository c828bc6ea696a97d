"""`fin-factory inspect`: look at a generated dataset before training on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from factory.cli._app import err, out


def inspect(
    dataset: Annotated[Path, typer.Argument(help="A generated dataset folder (out/NAME).")],
    examples: Annotated[int, typer.Option("--examples", help="Examples to print.")] = 2,
    plots: Annotated[
        Path | None, typer.Option("--plots", help="Folder for PNG plots [default: OUT/plots].")
    ] = None,
) -> None:
    """Counts per split and label, reject reasons, examples, and distribution plots."""
    from factory.dataset import read_manifest
    from factory.inspect import available_splits, sample_examples, save_histograms

    manifest = read_manifest(dataset)
    labels = list(manifest["labels"]["all"])
    table = Table(
        title=f"{dataset}: {manifest['domain']}/{manifest['task']}, "
        f"policy {manifest['policy_version']}"
    )
    table.add_column("split")
    table.add_column("examples", justify="right")
    for label in labels:
        table.add_column(label, justify="right")
    for split, count in manifest["splits"].items():
        per_label = manifest["labels"].get(split, {})
        table.add_row(split, f"{count:,}", *(f"{per_label.get(label, 0):,}" for label in labels))
    out.print(table)

    counts = manifest["counts"]
    rejects = Table(
        title=f"verification: {counts['kept']:,} of {counts['profiles']:,} kept "
        f"({counts['pass_rate']:.1%})"
    )
    rejects.add_column("reject reason")
    rejects.add_column("rows", justify="right")
    for reason, count in manifest["rejects_by_reason"].items():
        rejects.add_row(reason, f"{count:,}")
    if not manifest["rejects_by_reason"]:
        rejects.add_row("(none)", "0")
    out.print(rejects)

    splits = available_splits(dataset)
    if examples > 0 and splits:
        for row in sample_examples(dataset, splits[0], examples):
            body = "\n\n".join(
                f"[{m['role']}]\n{m['content']}" for m in row["messages"] if m["role"] != "system"
            )
            # Text(), not a markup string: "[user]" must print as written.
            out.print(
                Panel(Text(body), title=Text(f"{row['id']} ({row['decision']})"), expand=False),
                soft_wrap=False,  # wrap long lines inside the panel rather than crop them
            )
    if splits:
        written = save_histograms(dataset, plots or dataset / "plots", splits[0])
        for path in written:
            err.print(f"plot: {path}", markup=False)
