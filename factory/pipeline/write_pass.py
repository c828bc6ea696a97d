"""Writing the dataset files from the shards: the last phase of finalize.

A split with more than MAX_FILE_ROWS rows is written as several files of equal row counts,
`data/<split>-0000N-of-0000M.parquet` (the Hub's naming, which `datasets` reads as one split);
a smaller one stays one file, `data/<split>-00000-of-00001.parquet`. Each file is a fixed run of
its split's rows in run order, and each shard's piece of it is one row group, so the bytes do not
depend on which process writes which file: locally one pass over the shards writes every file,
on Ray each file is a task of its own. `rejects.parquet` stays one file (it is the producer's
audit, never published).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from factory.dataset import SPLITS
from factory.pipeline.finalize_plan import FinalizePlan
from factory.tabular import FrameParquetWriter

#: Rows per data file at most: about 190 MB of lending examples (the Hub suggests files of a few
#: hundred MB). A split up to this size stays one file, as every small dataset's split does.
MAX_FILE_ROWS = 500_000

#: Columns that lead every dataset row; the domain's profile columns follow, then TAIL_COLUMNS.
LEAD_COLUMNS = ("id", "domain", "task", "messages")
TAIL_COLUMNS = ("facts", "decision", "reason_codes", "policy_version", "teacher")
#: Added after TAIL_COLUMNS when the recipe has a judge: mean rubric score and the scores (JSON).
JUDGE_COLUMNS = ("judge_score", "judge_scores")
#: Shard-file columns that are not profile columns (besides the `_`-prefixed internal ones).
_RESULT_COLUMNS = ("verdict", "reject_detail", "generation", "token_count", "messages", "split")
REJECTS = "rejects.parquet"

#: Called with (shards done, shards needed).
ShardProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class FileSpec:
    """One output file: its path under the staging folder, its split ('' for the rejects) and
    its pieces, (shard, first, stop) row ranges within each shard's rows of that split."""

    name: str
    split: str
    pieces: tuple[tuple[int, int, int], ...]


def plan_files(per_shard: list[dict[str, int]], rejects: list[int]) -> list[FileSpec]:
    """The output files, from each shard's rows per split and its rejected rows."""
    specs = []
    for split in SPLITS:
        counts = [shard.get(split, 0) for shard in per_shard]
        total = sum(counts)
        if total == 0:
            continue
        files = -(-total // MAX_FILE_ROWS)
        per_file = -(-total // files)
        for number in range(files):
            name = f"data/{split}-{number:05d}-of-{files:05d}.parquet"
            lo, hi = number * per_file, min((number + 1) * per_file, total)
            specs.append(FileSpec(name, split, _pieces(counts, lo, hi)))
    specs.append(FileSpec(REJECTS, "", _pieces(rejects, 0, sum(rejects))))
    return specs


def _pieces(counts: list[int], lo: int, hi: int) -> tuple[tuple[int, int, int], ...]:
    """The (shard, first, stop) ranges covering rows lo..hi of counts laid end to end."""
    pieces = []
    start = 0
    for shard, count in enumerate(counts):
        first, stop = max(lo - start, 0), min(hi - start, count)
        if stop > first:
            pieces.append((shard, first, stop))
        start += count
    return tuple(pieces)


def write_files(
    plan: FinalizePlan,
    specs: list[FileSpec],
    staging: Path,
    progress: ShardProgress | None = None,
) -> None:
    """Writes the files of `specs` not yet in `staging`, reading each shard they need once."""
    todo = [spec for spec in specs if not (staging / spec.name).exists()]
    needed = sorted({shard for spec in todo for shard, _, _ in spec.pieces})
    writers = _Writers(staging)
    if progress:
        progress(0, len(needed))
    try:
        for done, shard in enumerate(needed, 1):
            frame = shard_rows(plan, shard)
            parts = {}
            for spec in todo:
                for piece, first, stop in spec.pieces:
                    if piece == shard:
                        parts[spec] = _part(frame, spec.split).slice(first, stop - first)
            # The previous shard's parts were written while this one was read and split.
            writers.wait()
            for spec, part in parts.items():
                writers.write(spec.name, part)
                if spec.pieces[-1][0] == shard:
                    writers.finish(spec.name)
            if progress:
                progress(done, len(needed))
        writers.wait()
    finally:
        writers.close()
    for spec in todo:
        if spec.name == REJECTS and not spec.pieces:
            # An empty rejects file with the right columns still tells an auditor "nothing
            # failed".
            pl.DataFrame(
                schema={"id": pl.String, "reject_reason": pl.String, "reject_detail": pl.String}
            ).write_parquet(staging / REJECTS)


def shard_rows(plan: FinalizePlan, shard: int) -> pl.DataFrame:
    """One shard's rows as the dataset holds them, with their `split`, `_verdict` and `_detail`
    from the assign phase."""
    decided = pl.read_parquet(plan.path("assign", f"assign-{shard:05d}.parquet"))
    # The dedup keys are not read: the MinHash signatures are a fifth of a shard file's bytes.
    frame = (
        pl.scan_parquet(plan.shard_files[shard])
        .select(pl.exclude("_exact_key", "_minhash"))
        .collect()
        .join(decided, on="_index", how="left", maintain_order="left")
    )
    return frame.with_columns(
        id=pl.lit(plan.id_prefix) + pl.col("_index").cast(pl.String).str.zfill(8),
        domain=pl.lit(plan.domain),
        task=pl.lit(plan.task),
    )


def _part(rows: pl.DataFrame, split: str) -> pl.DataFrame:
    """A shard's rows of one split, in the columns its file holds."""
    judge_columns = [c for c in JUDGE_COLUMNS if c in rows.columns]
    profile_columns = [
        c
        for c in rows.columns
        if c not in (*_RESULT_COLUMNS, *TAIL_COLUMNS, *JUDGE_COLUMNS, *LEAD_COLUMNS)
        and not c.startswith("_")
    ]
    columns = [*LEAD_COLUMNS, *profile_columns, *TAIL_COLUMNS, *judge_columns]
    part = rows.filter(pl.col("split") == split)
    if split:
        return part.select(columns)
    return part.select(
        *columns,
        pl.col("_verdict").alias("reject_reason"),
        pl.col("_detail").alias("reject_detail"),
        "generation",
    )


class _Writers:
    """The open output files, each written by a thread of its own.

    pyarrow encodes and compresses without holding the GIL, so the files are written while the
    caller reads and splits the next shard (the writes took 58% of a single-threaded finalize).
    `write` returns at once; `wait` lets the writers catch up, which keeps memory bounded by the
    shards still in flight. A file is written to a `.partial` name and renamed once finished.
    """

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.writers: dict[str, FrameParquetWriter] = {}
        self._threads: dict[str, ThreadPoolExecutor] = {}
        self._pending: list[Future[None]] = []
        self._finished: list[str] = []

    def write(self, name: str, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        self._submit(name, self._write, name, frame)

    def finish(self, name: str) -> None:
        """Closes `name` once its parts are written, and gives it its final name."""
        self._submit(name, self._finish, name)
        self._finished.append(name)

    def _submit(self, name: str, *call: object) -> None:
        if name not in self._threads:
            self._threads[name] = ThreadPoolExecutor(1, thread_name_prefix="write")
        self._pending.append(self._threads[name].submit(*call))  # type: ignore[arg-type]

    def wait(self) -> None:
        """Blocks until every part handed over so far is written (raising its error)."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()
        # A finished file's thread ends with it: a large dataset has dozens of files, and each
        # thread kept its allocator's memory to the end (measured: 9 MiB a file, 1.5 once ended).
        finished, self._finished = self._finished, []
        for name in finished:
            self._threads.pop(name).shutdown(wait=True)

    def _write(self, name: str, frame: pl.DataFrame) -> None:
        if name not in self.writers:
            path = self._partial(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writers[name] = FrameParquetWriter(path)
        self.writers[name].write(frame)

    def _finish(self, name: str) -> None:
        self.writers.pop(name).close()
        finish_file(self._partial(name), self.staging / name)

    def _partial(self, name: str) -> Path:
        return self.staging / (name + ".partial")

    def close(self) -> None:
        try:
            self.wait()
        finally:
            for thread in self._threads.values():
                thread.shutdown(wait=True, cancel_futures=True)
            for writer in self.writers.values():
                writer.close()


def finish_file(partial: Path, path: Path) -> None:
    """Gives a finished output file its name (the step a resumed finalize looks for)."""
    os.replace(partial, path)
