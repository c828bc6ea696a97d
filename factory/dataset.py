"""Reading a generated dataset folder back: with polars, or as a `datasets.DatasetDict`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from factory.errors import DatasetError

SPLITS = ("train", "validation", "test")
#: Folder of the preference pairs (prompt, chosen, rejected), beside data/ (the SFT splits).
PREFERENCE_DIR = "preference"


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The manifest of a finished dataset.

    Raises:
        DatasetError: the folder is missing or holds no finished dataset.
    """
    folder = Path(out_dir)
    manifest = folder / "manifest.json"
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such dataset folder")
    if not manifest.exists():
        hint = (
            " (an unfinished run: run the same generate command to resume)"
            if (folder / "_work").exists()
            else ""
        )
        raise DatasetError(f"{folder}: no manifest.json, not a finished dataset{hint}")
    data: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
    return data


def incompleteness(manifest: dict[str, Any]) -> str | None:
    """Why `generate` marked a dataset incomplete, in a few words; None for a complete one.

    A run that kept fewer than filters.min_kept_fraction of its profiles writes its dataset
    (to inspect) with an `incomplete` entry in manifest.json; publish and train refuse it.
    """
    mark = manifest.get("incomplete")
    if not mark:
        return None
    return (
        f"it kept {mark['kept_fraction']:.1%} of its profiles, below its recipe's "
        f"filters.min_kept_fraction of {mark['min_kept_fraction']:.1%}"
    )


def split_files(out_dir: str | Path) -> dict[str, list[Path]]:
    """Parquet files per split (splits without files are left out)."""
    data = Path(out_dir) / "data"
    found = {s: sorted(data.glob(f"{s}-*.parquet")) for s in SPLITS}
    return {s: files for s, files in found.items() if files}


def read_split(out_dir: str | Path, split: str) -> pl.DataFrame:
    """One split as a polars frame."""
    read_manifest(out_dir)
    files = split_files(out_dir).get(split)
    if not files:
        raise DatasetError(f"{out_dir}: the dataset has no {split!r} split")
    return pl.read_parquet(files)


def preference_files(out_dir: str | Path) -> dict[str, list[Path]]:
    """Parquet files of the preference pairs per split (splits without pairs are left out)."""
    folder = Path(out_dir) / PREFERENCE_DIR
    found = {s: sorted(folder.glob(f"{s}-*.parquet")) for s in SPLITS}
    return {s: files for s, files in found.items() if files}


def read_preference(out_dir: str | Path, split: str) -> pl.DataFrame:
    """One split of the preference pairs as a polars frame."""
    read_manifest(out_dir)
    files = preference_files(out_dir).get(split)
    if not files:
        raise DatasetError(f"{out_dir}: the dataset has no {split!r} preference pairs")
    return pl.read_parquet(files)


def read_rejects(out_dir: str | Path) -> pl.DataFrame:
    read_manifest(out_dir)
    return pl.read_parquet(Path(out_dir) / "rejects.parquet")


def load_hf_dataset(out_dir: str | Path) -> Any:
    """The dataset as a `datasets.DatasetDict` (train / validation / test)."""
    import datasets

    read_manifest(out_dir)
    files = {s: [str(p) for p in paths] for s, paths in split_files(out_dir).items()}
    return datasets.load_dataset("parquet", data_files=files)
