"""Cross-shard exact and near-duplicate removal out of core: the dedup phases of finalize.

The result equals `factory.verify.dedup.duplicate_mask` over the kept rows of the whole run in
run order (the test suite checks this against it), while no phase holds more than one shard or
one partition:

    keys    per shard: the kept rows' signatures go to one flat table by run index; their exact
            keys and LSH band buckets to files partitioned by key, their subjects to files
            partitioned by subject (for the split);
    exact   per exact-key partition: every key's first row stays, the others are exact
            duplicates (the same keys always land in the same partition);
    bands   per band partition: the rows of each bucket, in run order, make the same candidate
            pairs `duplicate_mask` makes; pairs with an exact duplicate can never drop anything
            and are left out; the rest are confirmed on their signatures, and the similar ones
            written by range of their later row;
    settle  range by range in run order, the confirmed pairs drop their later row unless one
            of the two is dropped already: the rule of `duplicate_mask`, settled in the same order.

The keys phase reads each shard's signatures once (finalize read them for the in-memory dedup
as well); doing it in finalize rather than at verify time keeps the judge step and shards of
earlier runs as they are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import xxhash

from factory.pipeline._spill import (
    SignatureTable,
    read_partition,
    save_array,
    write_partitioned,
)
from factory.pipeline._tasks import ItemProgress
from factory.pipeline.finalize_plan import (
    BAND,
    EXACT,
    EXACT_KEY,
    KEEP,
    NEAR,
    PAIR,
    SUBJECT,
    FinalizePlan,
)
from factory.pipeline.steps import _NUM_PERM, KEPT
from factory.verify.dedup import band_keys, bucket_pairs, pair_similarity, settle


def shard_keys(plan: FinalizePlan, shard: int) -> None:
    """The keys phase for one shard (skipped when its files exist: they are written last)."""
    done = plan.path("keys", f"subjects-{shard:05d}.bin")
    if done.exists():
        return
    columns = ["_index", "verdict", "decision", plan.subject]
    if plan.dedup:
        columns += ["_exact_key", "_minhash"]
    frame = pl.read_parquet(plan.shard_files[shard], columns=columns)
    index = frame["_index"].to_numpy()
    offset = plan.offsets[shard]
    if not np.array_equal(index, np.arange(offset, offset + frame.height)):
        raise ValueError(f"{plan.shard_files[shard]}: rows out of run order")
    kept = (frame["verdict"] == KEPT).to_numpy()
    rows = index[kept]
    if plan.dedup:
        signatures = np.asarray(frame["_minhash"].to_numpy()).astype(np.uint64, copy=False)
        SignatureTable(plan.signatures, signatures.shape[1]).write(offset, signatures)
        exact = frame["_exact_key"].to_numpy()[kept].astype(np.uint64, copy=False)
        records = np.empty(rows.shape[0], EXACT_KEY)
        records["key"], records["row"] = exact, rows
        path = plan.path("keys", f"exact-{shard:05d}.bin")
        write_partitioned(path, records, _part(exact, plan.exact_parts), plan.exact_parts)
        buckets = band_keys(signatures[kept], plan.threshold)
        records = np.empty(buckets.shape, BAND)
        records["key"], records["row"] = buckets, rows[None, :]
        band = np.arange(plan.bands, dtype=np.int64)[:, None] * plan.band_splits
        parts = band + _part(buckets, plan.band_splits)
        path = plan.path("keys", f"bands-{shard:05d}.bin")
        write_partitioned(path, records.ravel(), parts.ravel(), plan.band_parts)
    subjects = frame.filter(pl.Series(kept))
    records = np.empty(subjects.height, SUBJECT)
    records["h"], records["h2"] = subject_hashes(plan.seed, subjects[plan.subject])
    records["row"] = rows
    records["rank"] = subjects["decision"].replace_strict(plan.ranks, return_dtype=pl.Int64)
    write_partitioned(done, records, _part(records["h"], plan.subject_parts), plan.subject_parts)


def subject_hashes(seed: int, subjects: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The split's seeded hash of each subject (what orders subjects within a stratum), and a
    second, independent one: together they tell subjects apart across shards."""
    h = np.empty(subjects.len(), dtype=np.uint64)
    h2 = np.empty(subjects.len(), dtype=np.uint64)
    digest = xxhash.xxh64_intdigest
    for i, value in enumerate(subjects.to_list()):
        data = f"{seed}:{value}".encode()
        h[i] = digest(data)
        h2[i] = digest(data, 1)
    return h, h2


def exact_partition(plan: FinalizePlan, part: int) -> Path:
    """The exact phase for one partition: writes the run indexes of its exact duplicates."""
    out = plan.path("dedup", f"exact-{part:05d}.npy")
    if not out.exists():
        records = read_partition(plan.shard_files_of("keys", "exact"), part, EXACT_KEY)
        order = np.lexsort((records["row"], records["key"]))
        keys, rows = records["key"][order], records["row"][order]
        later = np.zeros(keys.shape[0], dtype=bool)
        later[1:] = keys[1:] == keys[:-1]
        save_array(out, rows[later])
    return out


def exact_codes(plan: FinalizePlan, parts: list[Path]) -> Path:
    """Every row's code after the exact phase (EXACT for exact duplicates, else KEEP)."""
    out = plan.path("dedup", "exact-codes.npy")
    if not out.exists():
        codes = np.full(plan.rows, KEEP, dtype=np.uint8)
        for path in parts:
            codes[np.load(path)] = EXACT
        save_array(out, codes)
    return out


def band_partition(plan: FinalizePlan, part: int) -> Path:
    """The bands phase for one partition: writes its confirmed near-duplicate pairs."""
    out = plan.path("dedup", f"similar-{part:05d}.bin")
    if out.exists():
        return out
    # One band's records, shard after shard, each shard's in run order: so in run order, which
    # a stable sort keeps within each bucket.
    records = read_partition(plan.shard_files_of("keys", "bands"), part, BAND)
    order = np.argsort(records["key"], kind="stable")
    keys, rows = records["key"][order], records["row"][order]
    del records
    new_bucket = np.ones(keys.shape[0], dtype=bool)
    new_bucket[1:] = keys[1:] != keys[:-1]
    later, earlier = bucket_pairs(rows, new_bucket)
    exact = np.load(plan.path("dedup", "exact-codes.npy"))
    live = (exact[later] == KEEP) & (exact[earlier] == KEEP)
    unique = np.unique(later[live] * plan.rows + earlier[live])
    later, earlier = unique // plan.rows, unique % plan.rows
    table = SignatureTable(plan.signatures, _NUM_PERM)
    similar = table.similarity(later, earlier, pair_similarity) >= plan.threshold
    pairs = np.empty(int(similar.sum()), PAIR)
    pairs["later"], pairs["earlier"] = later[similar], earlier[similar]
    ranges = pairs["later"] * plan.pair_ranges // max(plan.rows, 1)
    write_partitioned(out, pairs, ranges, plan.pair_ranges)
    return out


def settle_pairs(plan: FinalizePlan, progress: ItemProgress | None = None) -> Path:
    """The settle phase: the final dedup code of every row, from the confirmed pairs."""
    out = plan.codes
    if out.exists():
        return out
    codes = np.load(plan.path("dedup", "exact-codes.npy"))
    flags = bytearray((codes != KEEP).astype(np.uint8).tobytes())
    files = [plan.path("dedup", f"similar-{p:05d}.bin") for p in range(plan.band_parts)]
    for part in range(plan.pair_ranges):
        if progress:
            progress(part, plan.pair_ranges)
        pairs = read_partition(files, part, PAIR)
        settle(flags, pairs["later"], pairs["earlier"])
    if progress:
        progress(plan.pair_ranges, plan.pair_ranges)
    dropped = np.frombuffer(bytes(flags), dtype=np.uint8).astype(bool)
    codes[dropped & (codes == KEEP)] = NEAR
    save_array(out, codes)
    return out


def no_dedup(plan: FinalizePlan) -> Path:
    """The codes of a recipe without the dedup verifier: every row keeps its verdict."""
    out = plan.codes
    if not out.exists():
        save_array(out, np.full(plan.rows, KEEP, dtype=np.uint8))
    return out


def _part(keys: np.ndarray, parts: int) -> np.ndarray:
    return (np.asarray(keys, dtype=np.uint64) % np.uint64(parts)).astype(np.int64)
