"""Staging: the exact folder a release puts on the Hub, built locally before anything is sent.

Dataset repo:                          Model repo:
    README.md        the full card         README.md, config.json, *.safetensors, tokenizer and
    data/<split>-*.parquet                 chat template, generation_config.json (the merged model)
    preference/<split>-*.parquet  (pairs)
    manifest.json    lineage               adapter/          the LoRA adapter alone
    images/*.png     card plots            fin-factory/      train_manifest, metrics, parity,
                                                             eval and the dataset's manifest
                                           images/loss.png

`rejects.parquet` stays with the producer: rejected rows are for the producer's audit and may
hold exactly what the verifiers refused (PII among it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from factory.cards import RenderedCard, render_dataset_card, render_model_card
from factory.dataset import PREFERENCE_DIR
from factory.errors import UsageError
from factory.publish.gates import GateReport, dataset_gates, model_gates
from factory.publish.release import DatasetRelease, ModelRelease

#: Files of a run's merged/ folder and adapter/ that are not published.
_SKIPPED = {"README.md"}


@dataclass(frozen=True)
class StagedFile:
    """One file of a staged repo: its path in the repo, size and content hashes."""

    path: str
    size: int
    sha256: str
    git_sha1: str


@dataclass(frozen=True)
class StagedRelease:
    """A staged repo folder, its card and the verdict of the gates on it."""

    folder: Path
    repo_type: str
    files: tuple[StagedFile, ...]
    card: RenderedCard
    gates: GateReport

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def stage_dataset(
    release: DatasetRelease,
    folder: Path,
    *,
    repo_id: str | None = None,
    license_id: str | None = None,
) -> StagedRelease:
    """Stages a dataset release into an empty `folder` and runs its gates."""
    _empty(folder)
    card = render_dataset_card(release, repo_id=repo_id, license_id=license_id)
    card.write(folder)
    for paths in release.files.values():
        for path in paths:
            _place(path, folder / "data" / path.name)
    for paths in release.preference.values():
        for path in paths:
            _place(path, folder / PREFERENCE_DIR / path.name)
    _place(release.folder / "manifest.json", folder / "manifest.json")
    gates = dataset_gates(release, card, license_id=license_id)
    return StagedRelease(folder, "dataset", _inventory(folder), card, gates)


def stage_model(
    release: ModelRelease,
    folder: Path,
    *,
    repo_id: str | None = None,
    dataset_repo: str | None = None,
    license_id: str | None = None,
) -> StagedRelease:
    """Stages a training run into an empty `folder` and runs its gates."""
    _empty(folder)
    card = render_model_card(
        release, repo_id=repo_id, dataset_repo=dataset_repo, license_id=license_id
    )
    for path in sorted(release.merged.iterdir()):
        if path.is_file() and path.name not in _SKIPPED:
            _place(path, folder / path.name)
    adapter = release.folder / "adapter"
    if adapter.is_dir():
        for path in sorted(adapter.iterdir()):
            if path.is_file() and path.name not in _SKIPPED:
                _place(path, folder / "adapter" / path.name)
    lineage = folder / "fin-factory"
    for name in ("train_manifest.json", "metrics.json", "parity.json"):
        if (release.folder / name).exists():
            _place(release.folder / name, lineage / name)
    if release.eval_path is not None:
        _place(release.eval_path, lineage / "eval.json")
    _place(release.dataset.folder / "manifest.json", lineage / "dataset_manifest.json")
    card.write(folder)
    gates = model_gates(release, card, license_id=license_id)
    return StagedRelease(folder, "model", _inventory(folder), card, gates)


def file_hashes(path: Path) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file: the ids the Hub reports for LFS and regular files."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    git = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            sha256.update(chunk)
            git.update(chunk)
    return sha256.hexdigest(), git.hexdigest()


def _inventory(folder: Path) -> tuple[StagedFile, ...]:
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha256, git_sha1 = file_hashes(path)
        files.append(
            StagedFile(path.relative_to(folder).as_posix(), path.stat().st_size, sha256, git_sha1)
        )
    return tuple(files)


def _empty(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder}: the staging folder must be empty")
    folder.mkdir(parents=True, exist_ok=True)


def _place(source: Path, target: Path) -> None:
    """A hard link when the filesystem allows (data files can be gigabytes), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
