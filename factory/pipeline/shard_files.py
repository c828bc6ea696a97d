"""A run's shard files under `<work>/shards/`: names, and writing them whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

#: The verdict column's value for a row that passed every verifier.
KEPT = "kept"


def shard_path(work_dir: str | Path, index: int) -> Path:
    return Path(work_dir) / "shards" / f"shard-{index:05d}.parquet"


def write_atomically(frame: pl.DataFrame, path: Path) -> None:
    """Writes a shard file so that it exists complete or not at all (kill -9 included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    # zstd level 1: as small as polars' default level here, and a fifth faster to write.
    frame.write_parquet(partial, compression="zstd", compression_level=1, statistics=False)
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)


def verified_path(work_dir: str | Path, index: int) -> Path:
    """Where VerifyShards leaves a shard for the judge."""
    return Path(work_dir) / "shards" / f"verified-{index:05d}.parquet"


def failed_path(work_dir: str | Path, index: int) -> Path:
    """The marker VerifyShards leaves for a shard it failed on (so nothing waits for it)."""
    return Path(work_dir) / "shards" / f"failed-{index:05d}"


def shard_settled(work_dir: str | Path, index: int) -> bool:
    """Whether the verify step is done with a shard: written, left for the judge, or failed."""
    return any(
        where(work_dir, index).exists() for where in (shard_path, verified_path, failed_path)
    )
