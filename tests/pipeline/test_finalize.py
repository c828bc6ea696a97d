"""finalize out of core: the same kept rows, splits and bytes as a straightforward in-memory
finalize, with planted exact and near duplicates across shards; several data files; resume after
kill -9 inside each phase."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import xxhash

from factory.dataset import load_hf_dataset, read_rejects, read_split, split_files
from factory.pipeline import finalize_plan, write_pass
from factory.pipeline.finalize import PHASES, finalize
from factory.pipeline.run import _run_pipeline, run_identity
from factory.pipeline.steps import KEPT, shard_path
from factory.recipe import load_recipe
from factory.synth import recipe_shards
from factory.verify.dedup import duplicate_mask
from tests.conftest import MINIMAL

#: Partition sizes small enough that every phase has several partitions at 1,200 rows.
TINY_PARTITIONS = {
    "BAND_RECORDS": 500,
    "EXACT_RECORDS": 300,
    "SUBJECT_RECORDS": 300,
    "PAIR_RANGE_ROWS": 250,
}


# -- the in-memory reference: finalize's dedup and split as they were, over the whole run ------


def reference_assignment(recipe, work: Path) -> pl.DataFrame:
    """Every row's final verdict, detail and split, decided with the whole run in memory."""
    files = [shard_path(work, s.index) for s in recipe_shards(recipe)]
    subject = recipe.domain_impl.subject_column
    meta = (
        pl.scan_parquet(files)
        .select("_index", "verdict", "reject_detail", "decision", subject, "_exact_key", "_minhash")
        .collect()
        .sort("_index")
    )
    kept = meta.filter(pl.col("verdict") == KEPT)
    drop = duplicate_mask(
        kept["_exact_key"].to_numpy(),
        kept["_minhash"].to_numpy(),
        threshold=recipe.filters.near_duplicate_threshold,
    )
    exact = kept["_exact_key"].is_first_distinct().not_().to_numpy()
    dropped = kept.select(
        "_index",
        pl.lit("dedup").alias("new_verdict"),
        pl.Series("new_detail", np.where(exact, "exact duplicate", "near duplicate")),
    ).filter(pl.Series(drop))
    verdicts = (
        meta.join(dropped, on="_index", how="left")
        .with_columns(
            verdict=pl.coalesce("new_verdict", "verdict"),
            reject_detail=pl.coalesce("new_detail", "reject_detail"),
        )
        .select("_index", "verdict", "reject_detail", "decision", subject)
    )
    fractions, seed = recipe.split, recipe.profiles.seed
    ranks = {label: i for i, label in enumerate(recipe.domain_impl.labels)}
    subjects = (
        verdicts.filter(pl.col("verdict") == KEPT)
        .group_by(subject)
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


# -- a run with duplicates planted across its shards -------------------------------------------


def _plant(shard: pl.DataFrame, row: int, key: int, signature: np.ndarray) -> pl.DataFrame:
    keys = shard["_exact_key"].to_numpy().copy()
    signatures = np.asarray(shard["_minhash"].to_numpy()).copy()
    keys[row], signatures[row] = key, signature
    return shard.with_columns(
        pl.Series("_exact_key", keys, dtype=pl.UInt64),
        pl.Series("_minhash", signatures, dtype=shard.schema["_minhash"]),
    )


def plant_duplicates(work: Path) -> None:
    """Rewrites the dedup keys of some rows so that they duplicate rows of other shards.

    Planted (shard, row) <- source: an exact duplicate (its key and signature), near duplicates
    (3 of 64 positions changed: similarity 0.95), a chain C ~ B ~ A where C is not near A (C stays,
    because B goes), a pair below the threshold (10 changed: 0.84), and 30 rows that share one
    band with each other only (a large bucket: only the nearest earlier rows are compared).
    """
    files = sorted((work / "shards").glob("shard-*.parquet"))
    shards = [pl.read_parquet(path) for path in files]
    keys = [s["_exact_key"].to_numpy() for s in shards]
    signatures = [np.asarray(s["_minhash"].to_numpy()) for s in shards]

    def changed(signature: np.ndarray, positions: range) -> np.ndarray:
        out = signature.copy()
        out[list(positions)] = out[list(positions)] ^ np.uint64(0x5A5A5A5A)
        return out

    b = changed(signatures[0][5], range(0, 3))  # 61 of 64 positions equal to A's: 0.95
    c = changed(b, range(10, 16))  # 58 equal to B's (0.906), 55 to A's (0.86)
    plants = [
        (4, 7, int(keys[1][3]), signatures[1][3]),  # exact duplicate of (1, 3)
        (3, 11, 1, changed(signatures[0][9], range(20, 23))),  # near duplicate of (0, 9)
        (5, 2, 2, changed(signatures[2][4], range(60, 63))),  # near duplicate of (2, 4)
        (2, 15, 3, b),  # B: near A = (0, 5)
        (5, 20, 4, c),  # C: near B, not near A: kept, since B is dropped
        (1, 30, 5, changed(signatures[0][40], range(30, 40))),  # 0.84: not a duplicate
    ]
    # A large bucket: the first 7 positions (one band at r = 7) equal across 30 rows spread
    # over the shards; the other positions differ, so none of them is a near duplicate.
    band = signatures[0][60][:7]
    for n in range(30):
        shard, row = n % len(shards), 70 + n
        signature = signatures[shard][row].copy()
        signature[:7] = band
        plants.append((shard, row, int(keys[shard][row]), signature))
    for shard, row, key, signature in plants:
        shards[shard] = _plant(shards[shard], row, key, signature)
    # A rejected row that copies a kept row must not make it a duplicate (nor count itself).
    shards[3] = _plant(shards[3], 50, int(keys[0][60]), signatures[0][60])
    shards[3] = shards[3].with_columns(
        verdict=pl.when(pl.int_range(pl.len()) == 50)
        .then(pl.lit("pii"))
        .otherwise(pl.col("verdict"))
    )
    for path, shard in zip(files, shards, strict=True):
        shard.write_parquet(path)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """(recipe, a work folder of shards with planted duplicates)."""
    folder = tmp_path_factory.mktemp("planted")
    recipe_path = folder / "recipe.yaml"
    recipe_path.write_text(
        MINIMAL.replace("count: 300", "count: 1200").replace("shard_size: 100", "shard_size: 200")
    )
    recipe = load_recipe(recipe_path)
    work = folder / "work"
    work.mkdir()
    shards = recipe_shards(recipe)
    _run_pipeline(recipe, work, shards, shards, None, 0)
    plant_duplicates(work)
    return recipe, work


def _finalize_copy(recipe, work: Path, out: Path, **kwargs) -> Path:
    """finalize on a fresh copy of `work`'s shards, into `out`."""
    copy = out.parent / (out.name + "-work")
    shutil.copytree(work / "shards", copy / "shards")
    out.mkdir()
    finalize(recipe, out, copy, run_identity(recipe), 0.0, **kwargs)
    return out


def _data_bytes(folder: Path) -> dict[str, bytes]:
    files = [*sorted((folder / "data").glob("*.parquet")), folder / "rejects.parquet"]
    return {f.name: f.read_bytes() for f in files}


def _check_against_reference(recipe, work: Path, out: Path) -> None:
    expected = reference_assignment(recipe, work)
    prefix = f"{recipe.name}-s{recipe.profiles.seed}-"
    ids = pl.col("_index").cast(pl.String).str.zfill(8)
    for split in ("train", "validation", "test"):
        want = expected.filter(pl.col("split") == split).select(id=pl.lit(prefix) + ids)
        assert read_split(out, split)["id"].to_list() == want["id"].to_list()
    rejects = read_rejects(out).select("id", "reject_reason", "reject_detail")
    want = expected.filter(pl.col("split") == "").select(
        id=pl.lit(prefix) + ids, reject_reason="verdict", reject_detail="reject_detail"
    )
    assert rejects.to_dicts() == want.to_dicts()


def test_planted_duplicates_are_what_the_reference_drops(planted):
    recipe, work = planted
    expected = reference_assignment(recipe, work)
    dropped = expected.filter(pl.col("verdict") == "dedup")
    by_index = dict(zip(dropped["_index"], dropped["reject_detail"], strict=True))
    # The planted rows (shard * 200 + row), as the module docstring of plant_duplicates lists.
    assert by_index == {
        807: "exact duplicate",
        611: "near duplicate",
        1002: "near duplicate",
        415: "near duplicate",
    }


def test_out_of_core_finalize_equals_the_in_memory_reference(planted, tmp_path):
    recipe, work = planted
    out = _finalize_copy(recipe, work, tmp_path / "out")
    _check_against_reference(recipe, work, out)


def test_many_partitions_and_data_files_give_the_same_rows(planted, tmp_path, monkeypatch):
    recipe, work = planted
    single = _finalize_copy(recipe, work, tmp_path / "single")
    for name, value in TINY_PARTITIONS.items():
        monkeypatch.setattr(finalize_plan, name, value)
    monkeypatch.setattr(write_pass, "MAX_FILE_ROWS", 300)
    plan = finalize_plan.FinalizePlan.of(recipe, work, 64)
    assert min(plan.band_splits, plan.exact_parts, plan.subject_parts, plan.pair_ranges) > 1
    sharded = _finalize_copy(recipe, work, tmp_path / "sharded")
    _check_against_reference(recipe, work, sharded)
    names = sorted(p.name for p in (sharded / "data").iterdir())
    train = read_split(single, "train").height
    files = -(-train // 300)
    assert [n for n in names if n.startswith("train")] == [
        f"train-{i:05d}-of-{files:05d}.parquet" for i in range(files)
    ]
    assert len(split_files(sharded)["train"]) == files
    for split in ("train", "validation", "test"):
        assert read_split(sharded, split).equals(read_split(single, split))
    assert load_hf_dataset(sharded)["train"].num_rows == train
    manifest = json.loads((sharded / "manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted(
        str(p.relative_to(sharded)) for p in sharded.rglob("*.parquet")
    )


def test_progress_reports_every_phase_in_order(planted, tmp_path):
    recipe, work = planted
    seen: list[tuple[str, int, int]] = []
    _finalize_copy(recipe, work, tmp_path / "out", progress=lambda *r: seen.append(r))
    phases = list(dict.fromkeys(phase for phase, _, _ in seen))
    assert phases == list(PHASES)
    for phase in PHASES:
        reports = [(done, total) for p, done, total in seen if p == phase]
        assert reports[0][0] == 0 and reports[-1][0] == reports[-1][1] > 0


# -- kill -9 inside finalize, then resume -------------------------------------------------------

_KILLER = """
import os, signal, sys
from pathlib import Path
from factory.pipeline import dedup_pass, finalize_plan, split_pass, write_pass
from factory.pipeline.finalize import finalize
from factory.pipeline.run import run_identity
from factory.recipe import load_recipe

for name, value in {partitions!r}.items():
    setattr(finalize_plan, name, value)
write_pass.MAX_FILE_ROWS = 300
module, name, calls = {target!r}
module = {{"dedup": dedup_pass, "split": split_pass, "write": write_pass}}[module]
real, seen = getattr(module, name), []

def dying(*args, **kwargs):
    result = real(*args, **kwargs)
    seen.append(1)
    if len(seen) == calls:
        os.kill(os.getpid(), signal.SIGKILL)
    return result

setattr(module, name, dying)
recipe = load_recipe({recipe!r})
finalize(recipe, Path({out!r}), Path({work!r}), run_identity(recipe), 0.0)
"""


@pytest.mark.parametrize(
    "target",
    [
        ("dedup", "shard_keys", 3),
        ("dedup", "band_partition", 2),
        ("dedup", "settle_pairs", 1),
        ("split", "strata_partition", 2),
        ("split", "assign_shard", 4),
        ("write", "finish_file", 2),
    ],
    ids=lambda t: t[1],
)
def test_kill_9_inside_finalize_then_resume_gives_the_same_bytes(
    planted, tmp_path, monkeypatch, target
):
    recipe, work = planted
    for name, value in TINY_PARTITIONS.items():
        monkeypatch.setattr(finalize_plan, name, value)
    monkeypatch.setattr(write_pass, "MAX_FILE_ROWS", 300)
    reference = _finalize_copy(recipe, work, tmp_path / "reference")

    killed = tmp_path / "killed"
    copy = tmp_path / "killed-work"
    shutil.copytree(work / "shards", copy / "shards")
    killed.mkdir()
    code = _KILLER.format(
        partitions=TINY_PARTITIONS,
        target=target,
        recipe=str(recipe.source),
        out=str(killed),
        work=str(copy),
    )
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()[-2000:]
    assert not (killed / "manifest.json").exists()
    assert (copy / "finalize").is_dir()

    finalize(recipe, killed, copy, run_identity(recipe), 0.0)
    assert _data_bytes(killed) == _data_bytes(reference)


def test_the_signature_table_reads_scattered_rows_as_written(tmp_path):
    from factory.pipeline._spill import SignatureTable

    rng = np.random.default_rng(5)
    signatures = rng.integers(0, 2**63, size=(5_000, 8), dtype=np.uint64)
    table = SignatureTable(tmp_path / "signatures.bin", num_perm=8)
    for offset in (3_000, 0, 1_000):  # shards written in any order
        table.write(offset, signatures[offset : offset + 2_000])
    # Repeats, neighbours read together, far rows apart; more pairs than one chunk reads.
    table.CHUNK = 64
    later = rng.integers(0, 5_000, size=1_000)
    earlier = np.concatenate([later[:500] - 1, rng.integers(0, 5_000, size=500)]).clip(0)
    equal = table.similarity(later, earlier, lambda a, b: (a == b).mean(axis=1))
    assert np.array_equal(equal, (signatures[later] == signatures[earlier]).mean(axis=1))
