"""Publishing datasets and models to the Hugging Face Hub, behind gates.

release   what a dataset folder or a training run says about itself (manifests, evaluation,
          fairness, a PII scan of every text), read once for the card and the gates
gates     the checks a release must pass: PII, verifier pass rate, fairness, parity, an
          evaluation of these very weights, license, the card's required sections
stage     the exact Hub-layout folder, built locally (pure, testable) with its card
hub       create the repo, then one atomic commit of what changed; retries; no token in logs

`publish_dataset` and `publish_model` run the whole path: read -> stage -> gates -> upload.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from factory.dataset import incompleteness, read_manifest
from factory.publish.hub import PublishError, PublishResult, upload
from factory.publish.release import read_dataset_release, read_model_release
from factory.publish.stage import StagedRelease, stage_dataset, stage_model


@dataclass(frozen=True)
class Publication:
    """A staged release and, unless it was a dry run or the gates refused, the upload."""

    staged: StagedRelease
    result: PublishResult | None


def publish_dataset(
    out_dir: Path,
    repo_id: str,
    *,
    private: bool = True,
    revision: str | None = None,
    dry_run: bool = False,
    license_id: str | None = None,
    stage_dir: Path | None = None,
    token: str | None = None,
) -> Publication:
    """Stages a generated dataset, checks its gates and, unless `dry_run`, publishes it.

    Nothing is sent when the gates fail or on a dry run; `Publication.result` is then None.

    Raises:
        PublishError: the dataset is marked incomplete (nothing is staged or sent).
    """
    why = incompleteness(read_manifest(out_dir))
    if why is not None:
        raise PublishError(
            f"refused to publish {out_dir}: the dataset is marked incomplete ({why}); fix the "
            "cause and regenerate it with `fin-factory generate --overwrite`; nothing was sent"
        )
    release = read_dataset_release(out_dir)

    def stage(folder: Path) -> StagedRelease:
        return stage_dataset(release, folder, repo_id=repo_id, license_id=license_id)

    return _publish(stage, stage_dir, repo_id, private, revision, dry_run, token)


def publish_model(
    run_dir: Path,
    repo_id: str,
    *,
    dataset_dir: Path | None = None,
    dataset_repo: str | None = None,
    private: bool = True,
    revision: str | None = None,
    dry_run: bool = False,
    license_id: str | None = None,
    stage_dir: Path | None = None,
    token: str | None = None,
) -> Publication:
    """Stages a training run (merged model, adapter, lineage, card), checks its gates and,
    unless `dry_run`, publishes it."""
    release = read_model_release(run_dir, dataset=dataset_dir)

    def stage(folder: Path) -> StagedRelease:
        return stage_model(
            release, folder, repo_id=repo_id, dataset_repo=dataset_repo, license_id=license_id
        )

    return _publish(stage, stage_dir, repo_id, private, revision, dry_run, token)


def _publish(
    stage: Callable[[Path], StagedRelease],
    stage_dir: Path | None,
    repo_id: str,
    private: bool,
    revision: str | None,
    dry_run: bool,
    token: str | None,
) -> Publication:
    """Stage into `stage_dir` (or a temporary folder), then upload unless dry or refused."""
    with _staging(stage_dir) as folder:
        staged = stage(folder)
        if dry_run or not staged.gates.passed:
            return Publication(staged, None)
        result = upload(staged, repo_id, private=private, revision=revision, token=token)
        return Publication(staged, result)


@contextmanager
def _staging(folder: Path | None) -> Iterator[Path]:
    """The given staging folder (kept for inspection), or a temporary one removed afterwards."""
    if folder is not None:
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="fin-factory-stage-") as temporary:
        yield Path(temporary)


__all__ = [
    "Publication",
    "PublishError",
    "PublishResult",
    "publish_dataset",
    "publish_model",
    "read_dataset_release",
    "read_model_release",
]
