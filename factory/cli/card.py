"""`fin-factory card dataset|model`: render a release's card locally (nothing is sent)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from factory.cli._app import err, new_app, out

app = new_app("Render dataset and model cards locally.")

DatasetRepo = Annotated[
    str | None,
    typer.Option("--dataset-repo", help="Hub repo of the training data [default: recipe's]."),
]
DatasetDir = Annotated[
    Path | None,
    typer.Option("--dataset", help="Dataset folder [default: the one the run recorded]."),
]


@app.command("dataset")
def dataset(
    out_dir: Annotated[Path, typer.Argument(help="Generated dataset folder (out/NAME).")],
    repo_id: Annotated[
        str | None,
        typer.Option("--repo-id", help="Hub repo the card is for [default: the recipe's]."),
    ] = None,
    license_id: Annotated[
        str | None,
        typer.Option("--license", help="Dataset license [default: publish.dataset_license]."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for README.md and images/ [default: OUT_DIR]."),
    ] = None,
) -> None:
    """Write the full dataset card (README.md) and its plots (images/) next to the data."""
    from factory.cards import render_dataset_card
    from factory.publish.gates import dataset_gates
    from factory.publish.release import read_dataset_release

    release = read_dataset_release(out_dir)
    publish = release.recipe.publish
    repo_id = repo_id or (publish.dataset_repo if publish else None)
    card = render_dataset_card(release, repo_id=repo_id, license_id=license_id)
    written = card.write(output or out_dir)
    print_gates(dataset_gates(release, card, license_id=license_id).lines())
    err.print(f"card: {written[0]}", markup=False)


@app.command("model")
def model(
    run_dir: Annotated[Path, typer.Argument(help="Training run folder (runs/NAME).")],
    repo_id: Annotated[
        str | None,
        typer.Option("--repo-id", help="Hub repo the card is for [default: the recipe's]."),
    ] = None,
    dataset_repo: DatasetRepo = None,
    dataset_dir: DatasetDir = None,
    license_id: Annotated[
        str | None,
        typer.Option("--license", help="Model license [default: the recipe's, else the base's]."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for README.md and images/ [default: RUN_DIR]."),
    ] = None,
) -> None:
    """Write the model card (README.md) of a training run, with its evaluation and lineage."""
    from factory.cards import render_model_card
    from factory.publish.gates import model_gates
    from factory.publish.release import read_model_release

    release = read_model_release(run_dir, dataset=dataset_dir)
    publish = release.recipe.publish
    repo_id = repo_id or (publish.model_repo if publish else None)
    card = render_model_card(
        release, repo_id=repo_id, dataset_repo=dataset_repo, license_id=license_id
    )
    written = card.write(output or run_dir)
    print_gates(model_gates(release, card, license_id=license_id).lines())
    err.print(f"card: {written[0]}", markup=False)


def print_gates(lines: list[str]) -> None:
    """The gates' verdicts, one per line, on stdout."""
    out.print("gates:", markup=False)
    for line in lines:
        out.print(f"  {line}", markup=False)
