"""Drift: what the service was asked and answered, per day, against the training data.

Per day of served /v1/decide records: the population stability index (PSI) of every case
feature against the dataset's train split (numeric features in ten bins cut at the training
deciles, categories as they are), the decision and reason-code mix next to the training mix,
the share of answers that verified and the share sent to human review. A day whose largest PSI,
pass rate or fallback rate crosses its threshold is flagged; `monitor` exits 1 when any is.

PSI = sum over bins of (served - train) * ln(served / train), each share computed with half a
count added to every bin, so an empty bin in a small day's sample counts as unlikely rather than
as a huge shift. Text columns with many values (employers, merchants) are not features.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from factory.dataset import read_split
from factory.recipe import DriftThresholds, RecipeBase
from factory.serve import audit

_BINS = 10
#: A text column with more distinct training values than this is free text, not a category.
_MAX_CATEGORIES = 24


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI between two count vectors over the same bins (half a count added to each bin)."""
    e = (expected + 0.5) / (expected.sum() + 0.5 * expected.size)
    a = (actual + 0.5) / (actual.sum() + 0.5 * actual.size)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_psi(train: np.ndarray, served: np.ndarray) -> float:
    """PSI of a numeric feature, in bins cut at the training deciles."""
    train = train[~np.isnan(train)]
    served = served[~np.isnan(served)]
    if train.size == 0 or served.size == 0:
        return math.nan
    edges = np.unique(np.quantile(train, np.linspace(0, 1, _BINS + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, train, side="right"), minlength=edges.size + 1)
    actual = np.bincount(np.searchsorted(edges, served, side="right"), minlength=edges.size + 1)
    return psi(expected.astype(float), actual.astype(float))


def categorical_psi(train: list[Any], served: list[Any]) -> float:
    """PSI of a categorical feature over the categories either side has."""
    if not train or not served:
        return math.nan
    seen, asked = Counter(train), Counter(served)
    keys = sorted(set(seen) | set(asked), key=str)
    expected = np.array([seen[k] for k in keys], dtype=float)
    actual = np.array([asked[k] for k in keys], dtype=float)
    return psi(expected, actual)


@dataclass(frozen=True)
class DriftReport:
    """The monitor's findings: per-day rows, the training mix, and what crossed a threshold."""

    days: list[dict[str, Any]]
    train_mix: dict[str, Any]
    alerts: list[str]
    thresholds: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "train": self.train_mix,
            "alerts": self.alerts,
            "thresholds": self.thresholds,
        }


def served_frame(db: Path) -> pl.DataFrame:
    """One row per answered /v1/decide record: day, case, decision, reasons, verified, fallback."""
    rows = []
    for record in audit.records(db, kind="decide"):
        body = record.body
        if body.get("http_status") != 200:
            continue
        rows.append(
            {
                "day": record.at[:10],
                "case": body["request"]["case"],
                "decision": body["engine"]["decision"],
                "reason_codes": body["engine"]["reason_codes"],
                "verified": bool(body["verdict"]["verified"]),
                "fallback": body.get("fallback") is not None,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "day": pl.String,
            "case": pl.Object,
            "decision": pl.String,
            "reason_codes": pl.List(pl.String),
            "verified": pl.Boolean,
            "fallback": pl.Boolean,
        },
    )


def monitor(
    db: Path,
    dataset_dir: Path,
    recipe: RecipeBase,
    thresholds: DriftThresholds,
    *,
    min_requests: int = 200,
) -> DriftReport:
    """Compares the served cases of `db` with the train split of `dataset_dir`, day by day."""
    domain = recipe.domain_impl
    train = read_split(dataset_dir, "train")
    served = served_frame(db)
    skip = {domain.id_column, *domain.pii_columns, *domain.latent_columns}
    days = []
    alerts = []
    for (day,), group in sorted(served.group_by("day"), key=lambda item: str(item[0][0])):
        cases = group["case"].to_list()
        features: dict[str, float] = {}
        if len(cases) >= min_requests:
            for name in cases[0]:
                if name in skip or name not in train.columns or _free_text(train[name]):
                    continue
                features[name] = _feature_psi(train[name], [c.get(name) for c in cases])
        n = group.height
        entry = {
            "day": day,
            "requests": n,
            "psi": features,
            "max_psi": max((v for v in features.values() if not math.isnan(v)), default=None),
            "decision_mix": _mix(group["decision"].to_list()),
            "reason_mix": _mix([c for codes in group["reason_codes"].to_list() for c in codes]),
            "pass_rate": _share(group["verified"]),
            "fallback_rate": _share(group["fallback"]),
        }
        days.append(entry)
        if entry["max_psi"] is not None and entry["max_psi"] > thresholds.max_psi:
            worst = max(features, key=lambda k: features[k] if not math.isnan(features[k]) else -1)
            alerts.append(f"{day}: PSI of {worst} is {entry['max_psi']:.3f} > {thresholds.max_psi}")
        if entry["pass_rate"] < thresholds.min_pass_rate:
            alerts.append(
                f"{day}: verification pass rate {entry['pass_rate']:.3f} < "
                f"{thresholds.min_pass_rate}"
            )
        if entry["fallback_rate"] > thresholds.max_fallback_rate:
            alerts.append(
                f"{day}: fallback rate {entry['fallback_rate']:.3f} > "
                f"{thresholds.max_fallback_rate}"
            )
    train_mix = {
        "rows": train.height,
        "decision_mix": _mix(train["decision"].to_list()),
        "reason_mix": _mix([c for codes in train["reason_codes"].to_list() for c in codes or ()]),
    }
    return DriftReport(days, train_mix, alerts, thresholds.model_dump())


def _share(flags: pl.Series) -> float:
    return float(flags.cast(pl.Float64).mean() or 0.0)  # type: ignore[arg-type]


def _free_text(column: pl.Series) -> bool:
    return column.dtype == pl.String and column.n_unique() > _MAX_CATEGORIES


def _feature_psi(train: pl.Series, served: list[Any]) -> float:
    if train.dtype.is_numeric() and train.dtype != pl.Boolean:
        values = np.array([math.nan if v is None else float(v) for v in served], dtype=float)
        return numeric_psi(train.cast(pl.Float64).fill_null(math.nan).to_numpy(), values)
    return categorical_psi(train.to_list(), served)


def _mix(values: list[str]) -> dict[str, float]:
    counts = Counter(values)
    total = sum(counts.values()) or 1
    return {k: counts[k] / total for k in sorted(counts)}


def write_report(report: DriftReport, folder: Path) -> list[Path]:
    """report.json, report.md and the plots (PSI per feature and day; rates per day)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    (folder / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    written.append(folder / "report.json")
    days = [d["day"] for d in report.days]
    features = sorted({f for d in report.days for f in d["psi"]})
    if days and features:
        grid = np.array([[d["psi"].get(f, math.nan) for d in report.days] for f in features])
        fig, ax = plt.subplots(figsize=(max(4, len(days) * 0.8 + 3), len(features) * 0.3 + 1.5))
        image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0)
        ax.set_xticks(range(len(days)), days, rotation=45, ha="right")
        ax.set_yticks(range(len(features)), features)
        fig.colorbar(image, ax=ax, label="PSI")
        ax.set_title(f"PSI against the training data (threshold {report.thresholds['max_psi']})")
        fig.tight_layout()
        fig.savefig(folder / "psi.png", dpi=100)
        plt.close(fig)
        written.append(folder / "psi.png")
    if days:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(days, [d["pass_rate"] for d in report.days], marker="o", label="verified")
        ax.plot(days, [d["fallback_rate"] for d in report.days], marker="o", label="fallback")
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of requests")
        ax.legend()
        ax.tick_params(axis="x", rotation=45)
        fig.tight_layout()
        fig.savefig(folder / "rates.png", dpi=100)
        plt.close(fig)
        written.append(folder / "rates.png")
    (folder / "report.md").write_text(_markdown(report), encoding="utf-8")
    written.append(folder / "report.md")
    return written


def _markdown(report: DriftReport) -> str:
    lines = ["# Drift report", ""]
    lines.append("Alerts: " + ("none" if not report.alerts else ""))
    lines += [f"- {alert}" for alert in report.alerts]
    lines += ["", "| day | requests | max PSI | verified | fallback | decisions |",
              "|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for d in report.days:
        mix = ", ".join(f"{k} {v:.0%}" for k, v in d["decision_mix"].items())
        worst = "-" if d["max_psi"] is None else f"{d['max_psi']:.3f}"
        lines.append(
            f"| {d['day']} | {d['requests']} | {worst} | {d['pass_rate']:.1%} | "
            f"{d['fallback_rate']:.1%} | {mix} |"
        )
    train = ", ".join(f"{k} {v:.0%}" for k, v in report.train_mix["decision_mix"].items())
    lines += ["", f"Training data: {report.train_mix['rows']:,} rows; decisions {train}.", ""]
    if any(d["psi"] for d in report.days):
        lines += ["![PSI](psi.png)", ""]
    if report.days:
        lines += ["![rates](rates.png)", ""]
    return "\n".join(lines)
