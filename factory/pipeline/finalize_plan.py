"""What every finalize phase needs to know about a run, and where each phase keeps its output.

Partition counts follow from the recipe's row count alone, so a run resumed after a kill, or
finalized on a Ray cluster instead of locally, cuts its data the same way and writes the same
bytes. Each partition of a phase is sized to hold about a million records, which bounds the
memory of the task that works on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factory.pipeline._spill import partitions_for
from factory.pipeline.shard_files import shard_path
from factory.recipe import RecipeBase
from factory.synth import recipe_shards
from factory.verify.dedup import lsh_bands

#: Band-bucket records per partition of the near-duplicate phase (16 bytes each); a partition
#: holds one band's buckets (or a share of them, by key), so it sorts on the bucket key alone.
BAND_RECORDS = 1 << 20
#: Exact-key records per partition of the exact-duplicate phase (16 bytes each).
EXACT_RECORDS = 1 << 22
#: Subject records per partition of the split phase (32 bytes each).
SUBJECT_RECORDS = 1 << 21
#: Run rows per range of confirmed near-duplicate pairs, settled one range after another.
PAIR_RANGE_ROWS = 1 << 22

#: dedup codes per row
KEEP, EXACT, NEAR = 0, 1, 2

#: A band bucket entry: its key and run index (its partition tells its band).
BAND = np.dtype([("key", "<u8"), ("row", "<i8")])
#: An exact key and its run index.
EXACT_KEY = np.dtype([("key", "<u8"), ("row", "<i8")])
#: A row's subject (two independent 64-bit hashes), run index and label rank.
SUBJECT = np.dtype([("h", "<u8"), ("h2", "<u8"), ("row", "<i8"), ("rank", "<i8")])
#: A confirmed near-duplicate pair.
PAIR = np.dtype([("later", "<i8"), ("earlier", "<i8")])


@dataclass(frozen=True)
class FinalizePlan:
    """A run's finalize: its shard files, settings, partition counts and state folder.

    Plain data, so it travels to Ray tasks as it is.
    """

    state: Path
    shard_files: tuple[Path, ...]
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    rows: int
    subject: str
    seed: int
    ranks: dict[str, int]
    dedup: bool
    threshold: float
    #: LSH bands, and partitions per band: band b's buckets lie in partitions
    #: b * band_splits ... (b + 1) * band_splits - 1
    bands: int
    band_splits: int
    exact_parts: int
    subject_parts: int
    pair_ranges: int
    #: dataset row ids are this prefix and the zero-padded run index
    id_prefix: str
    domain: str
    task: str

    @classmethod
    def of(cls, recipe: RecipeBase, work: Path, num_perm: int) -> FinalizePlan:
        shards = recipe_shards(recipe)
        rows = sum(s.size for s in shards)
        threshold = recipe.filters.near_duplicate_threshold
        bands, _ = lsh_bands(num_perm, threshold)
        return cls(
            state=work / "finalize",
            shard_files=tuple(shard_path(work, s.index) for s in shards),
            offsets=tuple(s.offset for s in shards),
            sizes=tuple(s.size for s in shards),
            rows=rows,
            subject=recipe.domain_impl.subject_column,
            seed=recipe.profiles.seed,
            ranks={label: i for i, label in enumerate(recipe.domain_impl.labels)},
            dedup="dedup" in recipe.filters.verifiers,
            threshold=threshold,
            bands=bands,
            band_splits=partitions_for(rows, BAND_RECORDS),
            exact_parts=partitions_for(rows, EXACT_RECORDS),
            subject_parts=partitions_for(rows, SUBJECT_RECORDS),
            pair_ranges=partitions_for(rows, PAIR_RANGE_ROWS),
            id_prefix=f"{recipe.name}-s{recipe.profiles.seed}-",
            domain=recipe.domain,
            task=recipe.task,
        )

    @property
    def shards(self) -> range:
        return range(len(self.shard_files))

    def path(self, phase: str, name: str) -> Path:
        """The file `name` of `phase` (its folder is created on first use)."""
        folder = self.state / phase
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def shard_files_of(self, phase: str, kind: str) -> list[Path]:
        """`kind`-NNNNN.bin of `phase` for every shard, in shard order."""
        return [self.path(phase, f"{kind}-{i:05d}.bin") for i in self.shards]

    @property
    def band_parts(self) -> int:
        return self.bands * self.band_splits

    @property
    def signatures(self) -> Path:
        return self.path("keys", "signatures.bin")

    @property
    def codes(self) -> Path:
        """The dedup code of every row (KEEP, EXACT, NEAR), once both dedup phases ran."""
        return self.path("dedup", "codes.npy")
