"""What `fin-factory inspect` reports about a dataset: counts, rejects, examples, plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from factory.dataset import SPLITS, read_manifest, read_split, split_files
from factory.domains import get_domain

_NUMERIC = (
    pl.Float32,
    pl.Float64,
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
)


def plot_columns(frame: pl.DataFrame, preferred: tuple[str, ...], limit: int = 4) -> list[str]:
    """The domain's preferred plot columns present in the frame, else the first numeric ones."""
    chosen = [c for c in preferred if c in frame.columns]
    if chosen:
        return chosen[:limit]
    numeric = [c for c, t in frame.schema.items() if t in _NUMERIC and not c.startswith("_")]
    return numeric[:limit]


def save_histograms(out_dir: str | Path, plot_dir: str | Path, split: str = "train") -> list[Path]:
    """Histograms of the key numeric columns, one colour per decision; one PNG per column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    manifest = read_manifest(out_dir)
    domain = get_domain(manifest["domain"])
    frame = read_split(out_dir, split)
    target = Path(plot_dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for column in plot_columns(frame, domain.plot_columns):
        figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
        values = frame.select(column).to_series().drop_nulls()
        if values.len() == 0:
            plt.close(figure)
            continue
        bins = _bins(values)
        for label in domain.labels:
            part = frame.filter(pl.col("decision") == label)[column].drop_nulls().to_numpy()
            if len(part):
                axis.hist(part, bins=bins, alpha=0.55, label=f"{label} ({len(part):,})")
        axis.set_title(f"{column} by decision ({split} split)")
        axis.set_xlabel(column)
        axis.set_ylabel("examples")
        axis.legend()
        figure.tight_layout()
        path = target / f"{column}_by_decision.png"
        figure.savefig(path)
        plt.close(figure)
        written.append(path)
    return written


def _bins(values: pl.Series) -> Any:
    import numpy as np

    low, high = float(values.quantile(0.005) or 0.0), float(values.quantile(0.995) or 1.0)
    if high <= low:
        high = low + 1.0
    return np.linspace(low, high, 41)


def sample_examples(out_dir: str | Path, split: str, count: int) -> list[dict[str, Any]]:
    """The first `count` examples of each label in a split (rows as dicts)."""
    frame = read_split(out_dir, split)
    picked = frame.group_by("decision", maintain_order=True).head(max(1, count // 2 or 1))
    return picked.head(count).to_dicts()


def available_splits(out_dir: str | Path) -> list[str]:
    found = split_files(out_dir)
    return [s for s in SPLITS if s in found]
