"""What finalize keeps on disk between its phases: partitioned record files and a signature table.

A partitioned record file holds fixed-size numpy records grouped by partition, behind a header
of offsets, so a phase that works on one partition reads that partition's slice of every shard's
file with one positioned read each, and nothing else. Every file is written to a `.partial`
name and renamed, so after a kill -9 a file exists complete or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

_HEADER = np.dtype("<i8")

#: Compares two stacks of signatures row by row.
Measure = Callable[[np.ndarray, np.ndarray], np.ndarray]


def write_bytes_atomically(path: Path, *chunks: bytes | memoryview) -> None:
    """Writes `chunks` to `path` so that it exists complete or not at all."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
    os.replace(partial, path)


def save_array(path: Path, array: np.ndarray) -> None:
    """`np.save` to `path`, atomically."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        np.save(handle, array)
    os.replace(partial, path)


def partitions_for(items: int, per_partition: int) -> int:
    """Partitions of about `per_partition` items for `items` (one at least)."""
    return max(1, -(-items // per_partition))


def write_partitioned(path: Path, records: np.ndarray, partition: np.ndarray, parts: int) -> None:
    """Writes `records` grouped by `partition` (ints below `parts`), keeping their order within
    each partition."""
    order = np.argsort(partition, kind="stable")
    counts = np.bincount(partition, minlength=parts) if partition.size else np.zeros(parts)
    offsets = np.concatenate(([parts], [0], np.cumsum(counts))).astype(_HEADER)
    write_bytes_atomically(path, offsets.tobytes(), np.ascontiguousarray(records[order]).data)


def read_partition(paths: list[Path], part: int, dtype: np.dtype) -> np.ndarray:
    """Partition `part` of every file in `paths`, concatenated in their order."""
    pieces = []
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            parts = int(np.frombuffer(os.pread(fd, _HEADER.itemsize, 0), _HEADER)[0])
            at = _HEADER.itemsize * (1 + part)
            lo, hi = np.frombuffer(os.pread(fd, 2 * _HEADER.itemsize, at), _HEADER).tolist()
            if hi > lo:
                start = _HEADER.itemsize * (parts + 2) + lo * dtype.itemsize
                data = os.pread(fd, (hi - lo) * dtype.itemsize, start)
                pieces.append(np.frombuffer(data, dtype))
        finally:
            os.close(fd)
    return np.concatenate(pieces) if pieces else np.empty(0, dtype)


def read_all(path: Path, dtype: np.dtype) -> np.ndarray:
    """Every record of a partitioned file, partition after partition."""
    data = path.read_bytes()
    parts = int(np.frombuffer(data, _HEADER, count=1)[0])
    return np.frombuffer(data, dtype, offset=_HEADER.itemsize * (parts + 2))


class SignatureTable:
    """The MinHash signature of every row of a run, by run index, in one flat file.

    Rows are written by shard (positioned writes, so shards may be written in any order and
    rewritten after a kill) and read back a few thousand at a time with positioned reads,
    nearby rows in one read. Not through a memory map: the kernel maps a whole page-cache folio
    (up to megabytes) for each page a map touches, so a few hundred scattered rows of a 1 GB
    table put 85 MB into the process, and one band partition of a 2M-row run most of the table
    (measured: 1.4 GiB peak, growing with the run).
    """

    #: pairs compared per read: at most 2 x 16,384 rows of 512 bytes, plus the rows between
    #: those read together
    CHUNK = 1 << 14
    #: wanted rows at most this far apart are read in one positioned read
    GAP = 8

    def __init__(self, path: Path, num_perm: int) -> None:
        self.path = path
        self.num_perm = num_perm
        self.row_bytes = num_perm * np.dtype(np.uint64).itemsize

    def write(self, offset: int, signatures: np.ndarray) -> None:
        """Stores the signatures of rows offset, offset + 1, ..."""
        data = np.ascontiguousarray(signatures, dtype=np.uint64)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, data.data, offset * self.row_bytes)
        finally:
            os.close(fd)

    def similarity(self, later: np.ndarray, earlier: np.ndarray, measure: Measure) -> np.ndarray:
        """`measure(signatures[later], signatures[earlier])` for every pair, chunk by chunk."""
        out = np.empty(later.shape[0], dtype=np.float64)
        if later.shape[0] == 0:
            return out
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for lo in range(0, later.shape[0], self.CHUNK):
                hi = lo + self.CHUNK
                out[lo:hi] = measure(self._rows(fd, later[lo:hi]), self._rows(fd, earlier[lo:hi]))
        finally:
            os.close(fd)
        return out

    def _rows(self, fd: int, wanted: np.ndarray) -> np.ndarray:
        """The signatures of rows `wanted` (in that order, repeats allowed)."""
        rows, inverse = np.unique(wanted, return_inverse=True)
        found = np.empty((rows.shape[0], self.num_perm), dtype=np.uint64)
        cuts = np.flatnonzero(np.diff(rows) > self.GAP) + 1
        for start, stop in zip(
            np.concatenate(([0], cuts)).tolist(),
            np.concatenate((cuts, [rows.shape[0]])).tolist(),
            strict=True,
        ):
            first, last = int(rows[start]), int(rows[stop - 1])
            data = os.pread(fd, (last - first + 1) * self.row_bytes, first * self.row_bytes)
            block = np.frombuffer(data, np.uint64).reshape(-1, self.num_perm)
            found[start:stop] = block[rows[start:stop] - first]
        return found[inverse]
