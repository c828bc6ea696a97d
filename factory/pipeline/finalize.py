"""Turning finished shards into the dataset: dedup, split, write, manifest, first card.

Memory stays bounded by one shard plus a few small columns per row: deduplication and the split
are decided on (index, verdict, label, subject, dedup keys) alone; the rows themselves are then
streamed shard by shard into the split files.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import xxhash

from factory.dataset import SPLITS
from factory.pipeline.dataset_card import render_first_dataset_card
from factory.pipeline.shard_files import KEPT, shard_path
from factory.recipe import RecipeBase
from factory.synth import recipe_shards
from factory.verify import VERIFIER_ORDER as VERIFIERS_IN_ORDER
from factory.verify.dedup import duplicate_mask

#: Columns that lead every dataset row; the domain's profile columns follow, then TAIL_COLUMNS.
LEAD_COLUMNS = ("id", "domain", "task", "messages")
TAIL_COLUMNS = ("facts", "decision", "reason_codes", "policy_version", "teacher")
#: Added after TAIL_COLUMNS when the recipe has a judge: mean rubric score and the scores (JSON).
JUDGE_COLUMNS = ("judge_score", "judge_scores")
#: Shard-file columns that are not profile columns (besides the `_`-prefixed internal ones).
_RESULT_COLUMNS = ("verdict", "reject_detail", "generation", "token_count", "messages", "split")

_VERSIONED = (
    "fin-factory",
    "distilabel",
    "polars",
    "numpy",
    "pyarrow",
    "faker",
    "pydantic",
    "datasets",
    "huggingface_hub",
)


@dataclass(frozen=True)
class FinalizeResult:
    """Counts of a finished dataset (also readable back from its manifest)."""

    profiles: int
    kept: int
    rejected: dict[str, int]
    splits: dict[str, int]
    labels: dict[str, int]
    manifest: dict[str, Any] = field(repr=False)
    #: per teacher: {"rows", "kept", "rejected": {reason: count}}
    teachers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, path: Path) -> FinalizeResult:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        counts = manifest["counts"]
        return cls(
            profiles=counts["profiles"],
            kept=counts["kept"],
            rejected=manifest["rejects_by_reason"],
            splits=manifest["splits"],
            labels=manifest["labels"]["all"],
            manifest=manifest,
            teachers=manifest.get("teachers", {}),
        )


def finalize(
    recipe: RecipeBase,
    out_dir: Path,
    work: Path,
    identity: dict[str, Any],
    started_at: float,
) -> FinalizeResult:
    """Writes data/, rejects.parquet, manifest.json and README.md from the shard files."""
    t0 = time.perf_counter()
    domain = recipe.domain_impl
    files = [shard_path(work, s.index) for s in recipe_shards(recipe)]
    subject = domain.subject_column
    meta = (
        pl.scan_parquet(files)
        .select(
            "_index",
            "verdict",
            "reject_detail",
            "decision",
            "teacher",
            subject,
            "_exact_key",
            "_minhash",
        )
        .collect()
    )
    verdicts = _deduplicate(meta, recipe, subject)
    assignment = _assign_splits(verdicts, recipe, subject)
    staging = out_dir / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "data").mkdir(parents=True)
    split_counts, reasons = _write_rows(recipe, files, assignment, staging)

    rejects = Counter(
        dict(assignment.filter(pl.col("split") == "")["verdict"].value_counts().iter_rows())
    )
    kept = assignment.filter(pl.col("split") != "")
    labels: dict[str, dict[str, int]] = {"all": _label_counts(kept, domain.labels)}
    for split in SPLITS:
        labels[split] = _label_counts(kept.filter(pl.col("split") == split), domain.labels)
    manifest = build_manifest(
        recipe,
        identity,
        profiles=meta.height,
        kept=kept.height,
        rejects=rejects,
        splits=split_counts,
        labels=labels,
        reasons=reasons,
        teachers=_teacher_counts(assignment),
        seconds={
            "total": round(time.perf_counter() - started_at, 3),
            "finalize": round(time.perf_counter() - t0, 3),
        },
        files=_file_hashes(staging),
    )
    card = render_first_dataset_card(recipe, manifest)
    (staging / "README.md").write_text(card, encoding="utf-8")
    _publish_staging(staging, out_dir)
    partial = out_dir / "manifest.json.partial"
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, out_dir / "manifest.json")
    return FinalizeResult(
        profiles=meta.height,
        kept=kept.height,
        rejected=dict(rejects.most_common()),
        splits=split_counts,
        labels=labels["all"],
        manifest=manifest,
        teachers=manifest["teachers"],
    )


def _teacher_counts(assignment: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Per teacher (the name each row records): rows it wrote, rows kept, rejects by reason."""
    out: dict[str, dict[str, Any]] = {}
    for (teacher,), rows in assignment.group_by("teacher", maintain_order=True):
        rejected = rows.filter(pl.col("verdict") != KEPT)["verdict"].value_counts(sort=True)
        out[str(teacher or "none")] = {
            "rows": rows.height,
            "kept": rows.height - int(rejected["count"].sum()),
            "rejected": {str(r): int(n) for r, n in rejected.iter_rows()},
        }
    return dict(sorted(out.items()))


def _label_counts(frame: pl.DataFrame, labels: tuple[str, ...]) -> dict[str, int]:
    counts = dict(frame["decision"].value_counts().iter_rows())
    return {label: int(counts.get(label, 0)) for label in labels}


def _deduplicate(meta: pl.DataFrame, recipe: RecipeBase, subject: str) -> pl.DataFrame:
    """Marks exact and near duplicates among kept rows as rejected ('dedup'), first one kept."""
    meta = meta.sort("_index")
    verdicts = meta.select("_index", "verdict", "reject_detail", "decision", "teacher", subject)
    if "dedup" not in recipe.filters.verifiers:
        return verdicts
    kept = meta.filter(pl.col("verdict") == KEPT)
    if kept.height == 0:
        return verdicts
    keys = kept["_exact_key"].to_numpy()
    signatures = kept["_minhash"].to_numpy()
    drop = duplicate_mask(keys, signatures, threshold=recipe.filters.near_duplicate_threshold)
    exact = kept["_exact_key"].is_first_distinct().not_().to_numpy()
    dropped = kept.select(
        "_index",
        pl.lit("dedup").alias("verdict_new"),
        pl.Series("detail_new", np.where(exact, "exact duplicate", "near duplicate")),
    ).filter(pl.Series(drop))
    return (
        verdicts.join(dropped, on="_index", how="left")
        .with_columns(
            verdict=pl.coalesce("verdict_new", "verdict"),
            reject_detail=pl.coalesce("detail_new", "reject_detail"),
        )
        .drop("verdict_new", "detail_new")
    )


def _assign_splits(verdicts: pl.DataFrame, recipe: RecipeBase, subject: str) -> pl.DataFrame:
    """Splits per subject, stratified by the subject's label: exact shares within each label.

    A subject (an applicant, a card account) never spans splits; its stratum is its most severe
    label. Subjects are ordered within their stratum by a seeded hash, so the assignment is
    deterministic and unrelated to row order. Adds `split` ('' for rejected rows).
    """
    fractions = recipe.split
    seed = recipe.profiles.seed  # type: ignore[attr-defined]
    ranks = {label: i for i, label in enumerate(recipe.domain_impl.labels)}
    kept = verdicts.filter(pl.col("verdict") == KEPT)
    subjects = (
        kept.group_by(subject)
        .agg(pl.col("decision").replace_strict(ranks, return_dtype=pl.Int32).max().alias("stratum"))
        .sort(subject)
    )
    digest = [xxhash.xxh64_intdigest(f"{seed}:{value}".encode()) for value in subjects[subject]]
    subjects = (
        subjects.with_columns(pl.Series("_h", digest, dtype=pl.UInt64))
        .sort("stratum", "_h")
        .with_columns(pos=pl.int_range(pl.len()).over("stratum"), n=pl.len().over("stratum"))
        .with_columns(
            split=pl.when(pl.col("pos") < (pl.col("n") * fractions.train).round())
            .then(pl.lit("train"))
            .when(pl.col("pos") < (pl.col("n") * (fractions.train + fractions.validation)).round())
            .then(pl.lit("validation"))
            .otherwise(pl.lit("test"))
        )
        .select(subject, "split")
    )
    return (
        verdicts.join(subjects, on=subject, how="left")
        .with_columns(
            split=pl.when(pl.col("verdict") == KEPT).then(pl.col("split")).otherwise(pl.lit(""))
        )
        .sort("_index")
    )


class _SplitWriters:
    """One Parquet file per split plus rejects.parquet, each written shard by shard.

    Every file has a thread of its own that converts and writes the parts in the order they
    come: pyarrow encodes and compresses without holding the GIL, so the files are written
    while the caller reads and splits the next shard (the writes took 58% of a single-threaded
    finalize). `write` returns at once; call `wait` to let the writers catch up, which keeps
    memory bounded by the shards still in flight.
    """

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.paths: dict[str, Path] = {}
        self._threads: dict[str, ThreadPoolExecutor] = {}
        self._pending: list[Future[None]] = []

    def write(self, name: str, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        if name not in self._threads:
            self._threads[name] = ThreadPoolExecutor(1, thread_name_prefix=f"write-{name}")
        self._pending.append(self._threads[name].submit(self._write, name, frame))

    def wait(self) -> None:
        """Blocks until every part handed to `write` so far is written (raising its error)."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def _write(self, name: str, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if name not in self.writers:
            path = (
                self.staging / "rejects.parquet"
                if name == "rejects"
                else self.staging / "data" / f"{name}-00000-of-00001.parquet"
            )
            self.paths[name] = path
            self.writers[name] = pq.ParquetWriter(path, table.schema, compression="zstd")
        self.writers[name].write_table(table)

    def close(self) -> None:
        try:
            self.wait()
        finally:
            for thread in self._threads.values():
                thread.shutdown(wait=True, cancel_futures=True)
            for writer in self.writers.values():
                writer.close()


def _write_rows(
    recipe: RecipeBase, files: list[Path], assignment: pl.DataFrame, staging: Path
) -> tuple[dict[str, int], dict[str, int]]:
    """Streams every shard into the split files and rejects.parquet.

    Returns the row count per split and the reason-code counts of the kept rows.
    """
    seed = recipe.profiles.seed  # type: ignore[attr-defined]
    prefix = f"{recipe.name}-s{seed}-"
    writers = _SplitWriters(staging)
    splits: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    decided = assignment.select(
        "_index",
        "split",
        pl.col("verdict").alias("_verdict"),
        pl.col("reject_detail").alias("_detail"),
    )
    try:
        for path in files:
            # The dedup keys were read once, by `finalize`; the MinHash signatures are a fifth of
            # a shard file's bytes.
            frame = (
                pl.scan_parquet(path)
                .select(pl.exclude("_exact_key", "_minhash"))
                .collect()
                .join(decided, on="_index", how="left")
            )
            judge_columns = [c for c in JUDGE_COLUMNS if c in frame.columns]
            profile_columns = [
                c
                for c in frame.columns
                if c not in (*_RESULT_COLUMNS, *TAIL_COLUMNS, *JUDGE_COLUMNS)
                and not c.startswith("_")
            ]
            rows = frame.with_columns(
                id=pl.lit(prefix) + pl.col("_index").cast(pl.String).str.zfill(8),
                domain=pl.lit(recipe.domain),  # type: ignore[attr-defined]
                task=pl.lit(recipe.task),  # type: ignore[attr-defined]
            )
            columns = [*LEAD_COLUMNS, *profile_columns, *TAIL_COLUMNS, *judge_columns]
            parts = {}
            for split in SPLITS:
                part = rows.filter(pl.col("split") == split)
                splits[split] += part.height
                codes = part["reason_codes"].explode().drop_nulls()
                reasons.update(dict(codes.value_counts().iter_rows()))
                parts[split] = part.select(columns)
            parts["rejects"] = rows.filter(pl.col("split") == "").select(
                *columns,
                pl.col("_verdict").alias("reject_reason"),
                pl.col("_detail").alias("reject_detail"),
                "generation",
            )
            # The previous shard's parts were written while this one was read and split.
            writers.wait()
            for name, part in parts.items():
                writers.write(name, part)
    finally:
        writers.close()
    if "rejects" not in writers.paths:
        # An empty rejects file with the right columns still tells an auditor "nothing failed".
        pl.DataFrame(
            schema={"id": pl.String, "reject_reason": pl.String, "reject_detail": pl.String}
        ).write_parquet(staging / "rejects.parquet")
    return {s: splits[s] for s in SPLITS}, dict(reasons.most_common())


def _file_hashes(folder: Path) -> dict[str, str]:
    hashes = {}
    for path in sorted(folder.rglob("*.parquet")):
        digest = xxhash.xxh3_128()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        hashes[str(path.relative_to(folder))] = digest.hexdigest()
    return hashes


def _publish_staging(staging: Path, out_dir: Path) -> None:
    for name in ("data", "rejects.parquet", "README.md"):
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        os.replace(staging / name, target)
    shutil.rmtree(staging, ignore_errors=True)


def build_manifest(recipe: RecipeBase, identity: dict[str, Any], **parts: Any) -> dict[str, Any]:
    """The lineage record of a dataset: what made it, with which settings, what passed."""
    profiles = parts["profiles"]
    rejects: Counter[str] = parts["rejects"]
    reaching = profiles - rejects.get("teacher", 0)
    verifiers = {}
    chain = [v for v in VERIFIERS_IN_ORDER if v in recipe.filters.verifiers]
    if recipe.filters.judge is not None:
        chain.append("judge")
    if "dedup" in recipe.filters.verifiers:
        chain.append("dedup")
    for name in chain:
        rejected = int(rejects.get(name, 0))
        verifiers[name] = {"checked": reaching, "passed": reaching - rejected, "rejected": rejected}
        reaching -= rejected
    domain = recipe.domain_impl
    policy = recipe.policy  # type: ignore[attr-defined]
    return {
        "run": identity,
        "created_at": _now(),
        "recipe": {
            "name": recipe.name,
            "path": str(recipe.source) if recipe.source else None,
            "sha256": recipe.content_hash(),
            "content": recipe.model_dump(mode="json"),
        },
        "domain": recipe.domain,  # type: ignore[attr-defined]
        "task": recipe.task,  # type: ignore[attr-defined]
        "seed": recipe.profiles.seed,  # type: ignore[attr-defined]
        "policy_version": domain.policy_version(policy),
        "policy": policy.model_dump(mode="json"),
        "teacher": {
            "backend": recipe.teacher.backend,
            "model": recipe.teacher.model,
            "mode": recipe.teacher.mode if recipe.teacher.backend != "template" else None,
        },
        "judge": (
            {
                "backend": recipe.filters.judge.backend,
                "model": recipe.filters.judge.model,
                "threshold": recipe.filters.judge.threshold,
            }
            if recipe.filters.judge is not None
            else None
        ),
        "teachers": parts["teachers"],
        "counts": {
            "profiles": profiles,
            "kept": parts["kept"],
            "rejected": profiles - parts["kept"],
            "pass_rate": round(parts["kept"] / profiles, 6) if profiles else 0.0,
        },
        "verifiers": verifiers,
        "rejects_by_reason": dict(rejects.most_common()),
        "splits": parts["splits"],
        "labels": parts["labels"],
        "reason_codes": parts["reasons"],
        "timings_s": parts["seconds"],
        "versions": package_versions(),
        "files": parts["files"],
    }


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


__all__ = ["FinalizeResult", "build_manifest", "finalize", "package_versions"]
