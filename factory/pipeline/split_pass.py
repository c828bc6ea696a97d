"""The grouped, stratified split out of core: the split phases of finalize.

The rule is finalize's (see `_assign_splits` there, kept as the in-memory reference): a subject
never spans splits, its stratum is its most severe label among its kept rows, and within each
stratum subjects ordered by a seeded hash take the train, validation and test shares in turn.
Position p of n goes to train when p < round(n * train); with every subject's hash distinct, that
is "its hash is below the hash at position round(n * train)". So the split needs only, per
stratum, the subject count and two order statistics of the hashes, which are found without
sorting every subject at once:

    strata  per subject partition: each subject's stratum (its rows may lie in several
            shards), a histogram of the hashes' top 16 bits per stratum, and the subjects whose
            rows span shards (a shard alone cannot tell their stratum);
    cuts    from the histograms, the bucket of each order statistic; then the hashes of that
            bucket alone, sorted, give the statistic itself;
    assign  per shard: every row's final verdict and split, and the shard's counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from factory.dataset import SPLITS
from factory.pipeline._spill import read_all, read_partition, save_array, write_bytes_atomically
from factory.pipeline.finalize_plan import EXACT, KEEP, SUBJECT, FinalizePlan
from factory.pipeline.shard_files import KEPT, write_atomically
from factory.recipe import SplitConfig

_TOP = 48  # hash bits below the histogram bucket
_BUCKETS = 1 << (64 - _TOP)
#: A subject after the strata phase: its hash and stratum.
STRATUM = np.dtype([("h", "<u8"), ("stratum", "<i8")])
#: A subject whose rows span shards: its two hashes and stratum.
OVERRIDE = np.dtype([("h", "<u8"), ("h2", "<u8"), ("stratum", "<i8")])
#: Per stratum, the hashes at which validation and test start (None: no subject goes there).
Cuts = list[list[int | None]]


def strata_partition(plan: FinalizePlan, part: int) -> Path:
    """The strata phase for one subject partition (writes its strata and overrides)."""
    out = plan.path("split", f"strata-{part:05d}.npy")
    if out.exists():
        return out
    records = read_partition(plan.shard_files_of("keys", "subjects"), part, SUBJECT)
    codes = np.load(plan.codes, mmap_mode="r")
    records = records[np.asarray(codes[records["row"]]) == KEEP]
    order = np.lexsort((records["h2"], records["h"]))
    records = records[order]
    new = np.ones(records.shape[0], dtype=bool)
    new[1:] = (records["h"][1:] != records["h"][:-1]) | (records["h2"][1:] != records["h2"][:-1])
    starts = np.flatnonzero(new)
    strata = np.empty(starts.shape[0], STRATUM)
    strata["h"] = records["h"][starts]
    overrides = np.empty(0, OVERRIDE)
    if starts.shape[0]:
        strata["stratum"] = np.maximum.reduceat(records["rank"], starts)
        shard = np.searchsorted(np.asarray(plan.offsets), records["row"], side="right")
        spans = np.maximum.reduceat(shard, starts) != np.minimum.reduceat(shard, starts)
        overrides = np.empty(int(spans.sum()), OVERRIDE)
        overrides["h"] = strata["h"][spans]
        overrides["h2"] = records["h2"][starts][spans]
        overrides["stratum"] = strata["stratum"][spans]
    save_array(plan.path("split", f"overrides-{part:05d}.npy"), overrides)
    save_array(out, strata)
    return out


def split_cuts(plan: FinalizePlan, fractions: SplitConfig) -> dict[str, Any]:
    """Per stratum, the hash at which validation starts and the one at which test starts
    (None: no subject of the stratum goes past that split), and the subject overrides."""
    out = plan.path("split", "cuts.json")
    if out.exists():
        return dict(json.loads(out.read_text()))
    files = [plan.path("split", f"strata-{p:05d}.npy") for p in range(plan.subject_parts)]
    strata = len(plan.ranks)
    histogram = np.zeros((strata, _BUCKETS), dtype=np.int64)
    for path in files:
        subjects = np.load(path)
        np.add.at(histogram, (subjects["stratum"], subjects["h"] >> np.uint64(_TOP)), 1)
    counts = histogram.sum(axis=1)
    # The same polars expressions as the in-memory split, so positions round the same way.
    positions = pl.DataFrame({"n": counts}, schema={"n": pl.UInt32}).select(
        (pl.col("n") * fractions.train).round(),
        (pl.col("n") * (fractions.train + fractions.validation)).round().alias("n2"),
    )
    wanted: dict[tuple[int, int], tuple[int, int]] = {}  # (stratum, cut) -> (bucket, rank)
    for stratum in range(strata):
        below = np.cumsum(histogram[stratum])
        for cut, column in enumerate(("n", "n2")):
            position = int(positions[column][stratum])
            if position < counts[stratum]:
                bucket = int(np.searchsorted(below, position, side="right"))
                wanted[stratum, cut] = (bucket, position - int(below[bucket - 1] if bucket else 0))
    found: dict[tuple[int, int], list[int]] = {key: [] for key in wanted}
    for path in files:
        subjects = np.load(path)
        top = subjects["h"] >> np.uint64(_TOP)
        for (stratum, cut), (bucket, _) in wanted.items():
            hit = (subjects["stratum"] == stratum) & (top == bucket)
            found[stratum, cut].extend(subjects["h"][hit].tolist())
    cuts: list[list[int | None]] = [[None, None] for _ in range(strata)]
    for (stratum, cut), (_, rank) in wanted.items():
        cuts[stratum][cut] = sorted(found[stratum, cut])[rank]
    overrides = [np.load(plan.path("split", f"overrides-{p:05d}.npy")) for p in range(len(files))]
    joined = np.concatenate(overrides) if overrides else np.empty(0, OVERRIDE)
    save_array(plan.path("split", "overrides.npy"), joined)
    result = {"cuts": cuts, "counts": counts.tolist()}
    write_bytes_atomically(out, json.dumps(result).encode())
    return result


def assign_shard(plan: FinalizePlan, shard: int, cuts: Cuts) -> dict[str, Any]:
    """The assign phase for one shard: writes its rows' final verdicts and splits, and returns
    (and keeps, for a resumed run) the shard's counts."""
    stats_path = plan.path("assign", f"stats-{shard:05d}.json")
    if stats_path.exists():
        return dict(json.loads(stats_path.read_text()))
    frame = pl.read_parquet(
        plan.shard_files[shard],
        columns=["_index", "verdict", "reject_detail", "decision", "teacher", "reason_codes"],
    )
    offset = plan.offsets[shard]
    codes = np.asarray(np.load(plan.codes, mmap_mode="r")[offset : offset + frame.height])
    dropped = (frame["verdict"] == KEPT).to_numpy() & (codes != KEEP)
    detail = np.where(codes == EXACT, "exact duplicate", "near duplicate")
    frame = frame.with_columns(
        verdict=pl.when(pl.Series(dropped)).then(pl.lit("dedup")).otherwise(pl.col("verdict")),
        reject_detail=pl.when(pl.Series(dropped))
        .then(pl.Series(detail))
        .otherwise(pl.col("reject_detail")),
    )
    split = _splits(plan, shard, codes, cuts)
    frame = frame.with_columns(split=pl.Series(split.tolist(), dtype=pl.String))
    assignment = frame.select(
        "_index",
        "split",
        pl.col("verdict").alias("_verdict"),
        pl.col("reject_detail").alias("_detail"),
    )
    write_atomically(assignment, plan.path("assign", f"assign-{shard:05d}.parquet"))
    stats = _shard_stats(frame)
    write_bytes_atomically(stats_path, json.dumps(stats).encode())
    return stats


def _splits(plan: FinalizePlan, shard: int, codes: np.ndarray, cuts: Cuts) -> np.ndarray:
    """The split of every row of a shard ('' for rejected rows), from its subject records."""
    offset, size = plan.offsets[shard], plan.sizes[shard]
    records = read_all(plan.path("keys", f"subjects-{shard:05d}.bin"), SUBJECT)
    records = records[codes[records["row"] - offset] == KEEP]
    records = records[np.lexsort((records["h2"], records["h"]))]
    new = np.ones(records.shape[0], dtype=bool)
    new[1:] = (records["h"][1:] != records["h"][:-1]) | (records["h2"][1:] != records["h2"][:-1])
    starts = np.flatnonzero(new)
    names = np.full(size, "", dtype=object)
    if not starts.shape[0]:
        return names
    h = records["h"][starts]
    stratum = np.maximum.reduceat(records["rank"], starts)
    overrides = np.load(plan.path("split", "overrides.npy"))
    if overrides.shape[0]:
        # A subject whose rows span shards takes its stratum over all of them.
        known = {(int(a), int(b)): int(s) for a, b, s in overrides.tolist()}
        for i, key in enumerate(zip(h.tolist(), records["h2"][starts].tolist(), strict=True)):
            stratum[i] = known.get(key, stratum[i])
    split = np.full(starts.shape[0], "test", dtype=object)
    for cut, name in ((1, "validation"), (0, "train")):
        bounded = np.array([c[cut] is not None for c in cuts], dtype=bool)
        limits = np.array([c[cut] or 0 for c in cuts], dtype=np.uint64)
        split[~bounded[stratum] | (h < limits[stratum])] = name
    group = np.cumsum(new) - 1
    names[records["row"] - offset] = split[group]
    return names


def _shard_stats(frame: pl.DataFrame) -> dict[str, Any]:
    """The counts of one assigned shard that the manifest sums over the run."""
    kept = frame.filter(pl.col("split") != "")
    rejected = frame.filter(pl.col("split") == "")
    teachers: dict[str, Any] = {}
    for (teacher,), rows in frame.group_by("teacher", maintain_order=True):
        failed = rows.filter(pl.col("verdict") != KEPT)["verdict"].value_counts()
        teachers[str(teacher or "none")] = {
            "rows": rows.height,
            "rejected": {str(r): int(n) for r, n in failed.iter_rows()},
        }
    return {
        "rows": frame.height,
        "splits": {s: int((kept["split"] == s).sum()) for s in SPLITS},
        "rejects": _counts(rejected["verdict"]),
        "labels": {s: _counts(kept.filter(pl.col("split") == s)["decision"]) for s in SPLITS},
        "reasons": _counts(kept["reason_codes"].explode().drop_nulls()),
        "teachers": teachers,
    }


def _counts(values: pl.Series) -> dict[str, int]:
    return {str(value): int(n) for value, n in values.value_counts().iter_rows()}
