"""Turning finished shards into the dataset: dedup, split, write, manifest, first card.

Nothing holds the dataset: each phase works on one shard or one partition at a time and leaves
its output in `<work>/finalize/<phase>/` (written atomically), so memory stays bounded at any
row count and a finalize killed anywhere resumes where it stopped, with the same bytes:

    keys      per shard      exact keys, LSH band buckets, subjects, signatures (dedup_pass)
    exact     per partition  exact duplicates
    bands     per partition  confirmed near-duplicate pairs
    settle    in run order   every row's dedup code (first occurrence kept)
    strata    per partition  each subject's stratum, and the split's cut points (split_pass)
    assign    per shard      every row's final verdict and split, and the shard's counts
    write     per file       data/<split>-NNNNN-of-MMMMM.parquet and rejects.parquet (write_pass)

With `execution: ray` the per-shard and per-partition phases run as Ray tasks; locally they run
one after another in this process.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import xxhash

from factory.dataset import PREFERENCE_DIR, SPLITS
from factory.pipeline import dedup_pass, split_pass, write_pass
from factory.pipeline._tasks import ItemProgress, LocalTasks, RayTasks, Tasks
from factory.pipeline.dataset_card import render_first_dataset_card
from factory.pipeline.finalize_plan import FinalizePlan
from factory.pipeline.preference import write_preference
from factory.pipeline.steps import _NUM_PERM
from factory.recipe import RecipeBase
from factory.verify import VERIFIER_ORDER as VERIFIERS_IN_ORDER
from factory.verify import verifier_of

#: The phases in order, as progress reports name them.
PHASES = ("keys", "exact", "bands", "settle", "strata", "assign", "write")
#: Called with (phase, items done, items in all) while finalize runs.
PhaseProgress = Callable[[str, int, int], None]

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
    *,
    tasks: Tasks | None = None,
    progress: PhaseProgress | None = None,
) -> FinalizeResult:
    """Writes data/, rejects.parquet, manifest.json and README.md from the shard files.

    Args:
        recipe: the run's recipe.
        out_dir: the dataset folder.
        work: the run's work folder (its shards, and finalize's state).
        identity: the run's identity (see `run_identity`), for the manifest.
        started_at: `time.perf_counter()` when the run started, for the manifest's timings.
        tasks: where the per-shard and per-partition work runs (default: here).
        progress: receives (phase, done, total) as each phase advances.
    """
    t0 = time.perf_counter()
    tasks = tasks or LocalTasks()
    plan = FinalizePlan.of(recipe, work, _NUM_PERM)
    stats = _decide(plan, recipe, tasks, _reporter(progress))
    staging = plan.state / "staging"
    (staging / "data").mkdir(parents=True, exist_ok=True)
    specs = write_pass.plan_files(
        [s["splits"] for s in stats], [sum(s["rejects"].values()) for s in stats]
    )
    report = _reporter(progress)("write")
    if isinstance(tasks, RayTasks):
        tasks.map(write_pass.write_files, [(plan, [spec], staging) for spec in specs], report)
    else:
        write_pass.write_files(plan, specs, staging, report)
    # Preference pairs read the finished split files and rejects (a rerun writes them again).
    preference = write_preference(recipe, staging) if recipe.preference is not None else None
    totals = _totals(stats, recipe.domain_impl.labels)
    manifest = build_manifest(
        recipe,
        identity,
        profiles=plan.rows,
        kept=sum(totals["splits"].values()),
        rejects=totals["rejects"],
        splits=totals["splits"],
        labels=totals["labels"],
        reasons=dict(totals["reasons"].most_common()),
        teachers=totals["teachers"],
        seconds={
            "total": round(time.perf_counter() - started_at, 3),
            "finalize": round(time.perf_counter() - t0, 3),
        },
        files=_file_hashes(staging),
        preference=preference.to_json() if preference is not None else None,
    )
    documents = out_dir / "documents" / "report.json"
    if documents.exists():
        # What reading the documents found: passages and PII removed per file, files skipped.
        manifest["documents"] = json.loads(documents.read_text(encoding="utf-8"))
    card = render_first_dataset_card(recipe, manifest)
    (staging / "README.md").write_text(card, encoding="utf-8")
    _publish_staging(staging, out_dir)
    partial = out_dir / "manifest.json.partial"
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, out_dir / "manifest.json")
    return FinalizeResult(
        profiles=plan.rows,
        kept=manifest["counts"]["kept"],
        rejected=dict(totals["rejects"].most_common()),
        splits=totals["splits"],
        labels=totals["labels"]["all"],
        manifest=manifest,
        teachers=manifest["teachers"],
    )


def _decide(
    plan: FinalizePlan,
    recipe: RecipeBase,
    tasks: Tasks,
    report: Callable[[str], ItemProgress | None],
) -> list[dict[str, Any]]:
    """Runs the phases up to assign; returns each shard's counts."""
    tasks.map(dedup_pass.shard_keys, [(plan, i) for i in plan.shards], report("keys"))
    if plan.dedup:
        exact = [(plan, p) for p in range(plan.exact_parts)]
        dedup_pass.exact_codes(plan, tasks.map(dedup_pass.exact_partition, exact, report("exact")))
        bands = [(plan, p) for p in range(plan.band_parts)]
        tasks.map(dedup_pass.band_partition, bands, report("bands"))
        dedup_pass.settle_pairs(plan, report("settle"))
    else:
        dedup_pass.no_dedup(plan)
    strata = [(plan, p) for p in range(plan.subject_parts)]
    tasks.map(split_pass.strata_partition, strata, report("strata"))
    cuts = split_pass.split_cuts(plan, recipe.split)["cuts"]
    shards = [(plan, i, cuts) for i in plan.shards]
    return list(tasks.map(split_pass.assign_shard, shards, report("assign")))


def _reporter(progress: PhaseProgress | None) -> Callable[[str], ItemProgress | None]:
    def report(phase: str) -> ItemProgress | None:
        if progress is None:
            return None
        return lambda done, total: progress(phase, done, total)

    return report


def _totals(stats: list[dict[str, Any]], labels: tuple[str, ...]) -> dict[str, Any]:
    """The run's counts, summed over its shards' counts."""
    splits: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    by_split: dict[str, Counter[str]] = {s: Counter() for s in SPLITS}
    teachers: dict[str, dict[str, Any]] = {}
    for shard in stats:
        splits.update(shard["splits"])
        rejects.update(shard["rejects"])
        reasons.update(shard["reasons"])
        for split, counts in shard["labels"].items():
            by_split[split].update(counts)
        for name, counts in shard["teachers"].items():
            total = teachers.setdefault(name, {"rows": 0, "rejected": Counter()})
            total["rows"] += counts["rows"]
            total["rejected"].update(counts["rejected"])
    everything = sum(by_split.values(), Counter())
    label_counts = {"all": {label: int(everything.get(label, 0)) for label in labels}}
    for split in SPLITS:
        label_counts[split] = {label: int(by_split[split].get(label, 0)) for label in labels}
    return {
        "splits": {s: int(splits.get(s, 0)) for s in SPLITS},
        "rejects": rejects,
        "reasons": reasons,
        "labels": label_counts,
        "teachers": {
            name: {
                "rows": counts["rows"],
                "kept": counts["rows"] - sum(counts["rejected"].values()),
                "rejected": dict(counts["rejected"].most_common()),
            }
            for name, counts in sorted(teachers.items())
        },
    }


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
    for name in ("data", PREFERENCE_DIR, write_pass.REJECTS, "README.md"):
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        if (staging / name).exists():
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
    by_verifier: Counter[str] = Counter()
    for reason, count in rejects.items():
        by_verifier[verifier_of(reason)] += count  # claims.comparison counts for claims
    for name in chain:
        rejected = int(by_verifier.get(name, 0))
        verifiers[name] = {"checked": reaching, "passed": reaching - rejected, "rejected": rejected}
        reaching -= rejected
    domain = recipe.domain_impl
    policy = recipe.policy
    return {
        "run": identity,
        "created_at": _now(),
        "recipe": {
            "name": recipe.name,
            "path": str(recipe.source) if recipe.source else None,
            "sha256": recipe.content_hash(),
            "content": recipe.model_dump(mode="json"),
        },
        "domain": recipe.domain,
        "task": recipe.task,
        "seed": recipe.profiles.seed,
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
        "preference": parts.get("preference"),
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
