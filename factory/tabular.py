"""Writing labelled profile tables to Parquet or CSV, shard by shard, in bounded memory."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from factory.errors import UsageError

FORMATS = {".parquet": "parquet", ".csv": "csv"}


@dataclass
class TableSummary:
    """What a written table holds: rows, and counts per decision and per reason code."""

    rows: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, frame: pl.DataFrame) -> None:
        self.rows += frame.height
        self.decisions.update(dict(frame["decision"].value_counts().iter_rows()))
        codes = frame["reason_codes"].explode().drop_nulls()
        self.reasons.update(dict(codes.value_counts().iter_rows()))


def table_format(path: Path) -> str:
    """'parquet' or 'csv' from the file suffix."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise UsageError(
            f"--out {path}: unsupported file type {path.suffix or '(none)'!r}; "
            "expected .parquet or .csv"
        ) from None


def flatten_for_csv(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV has no nested types: lists of strings become ';'-joined, other nesting JSON text."""
    columns: list[pl.Expr | pl.Series] = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype == pl.List(pl.String):
            columns.append(column.list.join(";"))
        elif isinstance(dtype, pl.List | pl.Struct | pl.Array):
            columns.append(
                pl.Series(name, [json.dumps(v) for v in frame[name].to_list()], dtype=pl.String)
            )
        else:
            columns.append(column)
    return frame.select(columns)


def write_table(frames: Iterable[pl.DataFrame], path: Path) -> TableSummary:
    """Streams frames into one Parquet or CSV file; the file appears only when complete.

    Parquet gets one row group per frame. Each frame is written on a thread of its own while
    the next one is made (the Parquet encoder releases the GIL), with at most one frame
    waiting to be written, so memory stays bounded by two frames.
    """
    kind = table_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    summary = TableSummary()
    writer: pq.ParquetWriter | None = None
    try:
        with open(partial, "wb") as handle, ThreadPoolExecutor(max_workers=1) as pool:
            writing: Future[None] | None = None
            for frame in frames:
                summary.add(frame)
                if kind == "parquet":
                    table = frame.to_arrow()
                    if writer is None:
                        writer = pq.ParquetWriter(handle, table.schema, compression="zstd")
                    if writing is not None:
                        writing.result()
                    writing = pool.submit(writer.write_table, table)
                else:
                    flatten_for_csv(frame).write_csv(
                        handle, include_header=summary.rows == frame.height
                    )
            if writing is not None:
                writing.result()
            if writer is not None:
                writer.close()
                writer = None
        os.replace(partial, path)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return summary
