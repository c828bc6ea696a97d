"""`fin-factory publish dataset|model`: stage, check the gates, then one atomic commit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from factory.cli._app import err, new_app, out
from factory.cli.card import DatasetDir, DatasetRepo, print_gates

if TYPE_CHECKING:
    from factory.publish import Publication

app = new_app("Publish a dataset or a model to the Hugging Face Hub (private by default).")

RepoId = Annotated[
    str,
    typer.Option("--repo-id", help="Hub repo id, ORG/NAME.", show_default=False),
]
Public = Annotated[
    bool, typer.Option("--public", help="Create the repo public (default: private).")
]
Revision = Annotated[
    str | None,
    typer.Option("--revision", help="Branch to commit to (created when missing) [default: main]."),
]
DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the files and the gates; send nothing."),
]
License = Annotated[str | None, typer.Option("--license", help="License id (overrides).")]
StageDir = Annotated[
    Path | None,
    typer.Option("--stage-dir", help="Stage into this empty folder and keep it [default: temp]."),
]


@app.command("dataset")
def dataset(
    out_dir: Annotated[Path, typer.Argument(help="Generated dataset folder (out/NAME).")],
    repo_id: RepoId,
    public: Public = False,
    revision: Revision = None,
    dry_run: DryRun = False,
    license_id: License = None,
    stage_dir: StageDir = None,
) -> None:
    """Publish a generated dataset: card, data/, manifest.json and plots in one commit."""
    from factory.publish import publish_dataset

    publication = publish_dataset(
        out_dir, repo_id, private=not public, revision=revision, dry_run=dry_run,
        license_id=license_id, stage_dir=stage_dir,
    )  # fmt: skip
    _report(publication, repo_id, dry_run, public)


@app.command("model")
def model(
    run_dir: Annotated[Path, typer.Argument(help="Training run folder (runs/NAME).")],
    repo_id: RepoId,
    dataset_repo: DatasetRepo = None,
    dataset_dir: DatasetDir = None,
    public: Public = False,
    revision: Revision = None,
    dry_run: DryRun = False,
    license_id: License = None,
    stage_dir: StageDir = None,
) -> None:
    """Publish a trained model: merged weights, adapter/, lineage and card in one commit."""
    from factory.publish import publish_model

    publication = publish_model(
        run_dir, repo_id, dataset_dir=dataset_dir, dataset_repo=dataset_repo,
        private=not public, revision=revision, dry_run=dry_run, license_id=license_id,
        stage_dir=stage_dir,
    )  # fmt: skip
    _report(publication, repo_id, dry_run, public)


def _report(publication: Publication, repo_id: str, dry_run: bool, public: bool) -> None:
    from factory.publish import PublishError

    staged, result = publication.staged, publication.result
    kind = staged.repo_type
    out.print(
        f"{kind} {repo_id}: {len(staged.files)} files, {staged.size / 1e6:,.1f} MB staged "
        f"({'public' if public else 'private'})",
        markup=False,
    )
    for file in staged.files:
        out.print(f"  {file.path}  {file.size:,} bytes  sha256 {file.sha256[:12]}", markup=False)
    print_gates(staged.gates.lines())
    if not staged.gates.passed:
        failed = ", ".join(g.name for g in staged.gates.failed)
        raise PublishError(
            f"refused to publish {repo_id}: gates failed ({failed}); nothing was sent"
        )
    if dry_run:
        out.print(
            "dry run: nothing was sent. Files in the repo that are not staged would be deleted "
            "in the same commit (except .gitattributes).",
            markup=False,
        )
        return
    assert result is not None
    if result.unchanged:
        out.print(f"unchanged: {result.url} is already at {result.commit}", markup=False)
        return
    out.print(
        f"published {len(result.added)} files"
        + (f", deleted {len(result.deleted)}" if result.deleted else "")
        + f" to {result.url} (revision {result.revision}, commit {result.commit})",
        markup=False,
    )
    if result.attempts > 1:
        err.print(f"(took {result.attempts} attempts)", markup=False)
