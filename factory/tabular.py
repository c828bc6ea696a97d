"""Writing labelled profile tables to Parquet or CSV, shard by shard, in bounded memory."""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
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


class FrameParquetWriter:
    """Writes polars frames to one zstd Parquet file, one row group per frame, with the bytes
    `pq.ParquetWriter(...).write_table(frame.to_arrow())` writes, without its copy.

    `frame.to_arrow()` copies every string into a large_string array (polars holds string
    views): a third of the cost of writing a text-heavy frame. The Parquet encoder writes the
    same pages from the views, and the only difference in the file is the Arrow schema it stores
    in the footer, so this writer stores the large_string one itself. Columns that the encoder
    cannot take as views (a struct holding strings) or that the two forms do not map this way
    (a categorical) are converted the plain way. tests/test_tabular.py holds both ways to the
    same bytes.
    """

    def __init__(self, where: str | Path | BinaryIO) -> None:
        self._where = where
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._views: list[str] = []  # columns converted as views
        self._stored_schema: bytes | None = None  # the footer's ARROW:schema, when views

    def write(self, frame: pl.DataFrame) -> None:
        if self._writer is None:
            self._open(frame)
        assert self._writer is not None
        self._writer.write_table(self._table(frame))

    def _open(self, frame: pl.DataFrame) -> None:
        empty = frame.clear()
        legacy = empty.to_arrow().schema
        views = empty.to_arrow(compat_level=pl.CompatLevel.newest()).schema
        if legacy.metadata is None:
            self._views = [
                old.name
                for old, new in zip(legacy, views, strict=True)
                if old.type != new.type and new.type == _view_type(old.type)
            ]
        viewed = set(self._views)
        if viewed:
            self._stored_schema = base64.b64encode(legacy.serialize().to_pybytes())
        self._schema = pa.schema([views.field(f.name) if f.name in viewed else f for f in legacy])
        self._writer = pq.ParquetWriter(
            self._where, self._schema, compression="zstd", store_schema=not viewed
        )

    def _table(self, frame: pl.DataFrame) -> pa.Table:
        if not self._views:
            return frame.to_arrow()
        if len(self._views) == frame.width:
            return frame.to_arrow(compat_level=pl.CompatLevel.newest())
        viewed = set(self._views)
        views = frame.select(self._views).to_arrow(compat_level=pl.CompatLevel.newest())
        plain = frame.select(c for c in frame.columns if c not in viewed).to_arrow()
        assert self._schema is not None
        columns = [(views if c in viewed else plain).column(c) for c in frame.columns]
        return pa.Table.from_arrays(columns, schema=self._schema)

    def close(self) -> None:
        """Finishes the file (its footer); a writer that was given no frame writes none."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if self._stored_schema is not None:
            writer.add_key_value_metadata({"ARROW:schema": self._stored_schema})
        writer.close()


def _view_type(kind: pa.DataType) -> pa.DataType | None:
    """The view type the encoder takes for `kind` of the plain conversion, if it has one (not
    for a struct: the encoder cannot slice a struct's string views)."""
    if kind == pa.large_string():
        return pa.string_view()
    if pa.types.is_large_list(kind):
        inner = _view_type(kind.value_type)
        return None if inner is None else pa.large_list(kind.value_field.with_type(inner))
    if pa.types.is_struct(kind) or pa.types.is_dictionary(kind):
        return None
    return kind


def write_table(frames: Iterable[pl.DataFrame], path: Path) -> TableSummary:
    """Streams frames into one Parquet or CSV file; the file appears only when complete.

    Parquet gets one row group per frame. Each frame is counted, converted and written on a
    thread of its own while the next one is made (the Parquet encoder releases the GIL), with
    at most one frame waiting to be written, so memory stays bounded by two frames.
    """
    kind = table_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    summary = TableSummary()

    def write(frame: pl.DataFrame, handle: BinaryIO, parquet: FrameParquetWriter) -> None:
        first = summary.rows == 0
        summary.add(frame)
        if kind == "csv":
            flatten_for_csv(frame).write_csv(handle, include_header=first)
        else:
            parquet.write(frame)

    try:
        with open(partial, "wb") as handle:
            parquet = FrameParquetWriter(handle)
            try:
                with ThreadPoolExecutor(max_workers=1) as pool:
                    writing: Future[None] | None = None
                    for frame in frames:
                        if writing is not None:
                            writing.result()
                        writing = pool.submit(write, frame, handle, parquet)
                    if writing is not None:
                        writing.result()
            finally:
                parquet.close()  # after the pool: no frame is being written any more
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return summary
