"""Parquet from polars frames: the view-based writer writes the bytes the plain conversion does."""

import datetime as dt
import io

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.tabular import FrameParquetWriter, write_table


def _codes(i: int) -> list[str] | None:
    return [] if i % 3 == 0 else None if i % 11 == 0 else ["DTI", f"C{i % 4}"]


def _frames(rows: int, parts: int) -> list[pl.DataFrame]:
    frames = []
    for part in range(parts):
        base = part * rows
        frames.append(
            pl.DataFrame(
                {
                    "id": list(range(base, base + rows)),
                    "amount": [None if i % 7 == 0 else i * 1.25 for i in range(base, base + rows)],
                    "name": [None if i % 5 == 0 else f"Zoë {i % 13}" for i in range(rows)],
                    "text": ["long text " * (i % 30) for i in range(rows)],
                    "codes": [_codes(i) for i in range(rows)],
                    "flag": [i % 2 == 0 for i in range(rows)],
                    "day": [dt.date(2026, 1, 1 + i % 28) for i in range(rows)],
                    "nested": [{"label": f"x{i % 3}", "n": i} for i in range(rows)],
                    "messages": [[{"role": "user", "content": f"case {i}"}] for i in range(rows)],
                },
                schema_overrides={
                    "amount": pl.Float64,
                    "name": pl.String,
                    "codes": pl.List(pl.String),
                },
            )
        )
    return frames


def _plain(frames: list[pl.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    writer = pq.ParquetWriter(buffer, frames[0].to_arrow().schema, compression="zstd")
    for frame in frames:
        writer.write_table(frame.to_arrow())
    writer.close()
    return buffer.getvalue()


def _ours(frames: list[pl.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    writer = FrameParquetWriter(buffer)
    for frame in frames:
        writer.write(frame)
    writer.close()
    return buffer.getvalue()


@pytest.mark.parametrize(("rows", "parts"), [(1, 1), (500, 3), (5000, 2)])
def test_the_view_writer_writes_the_plain_conversions_bytes(rows, parts):
    frames = _frames(rows, parts)
    ours = _ours(frames)
    assert ours == _plain(frames)
    table = pq.read_table(io.BytesIO(ours))
    assert table.schema.field("name").type == pa.large_string()
    assert pl.from_arrow(table).equals(pl.concat(frames))


def test_the_view_writer_takes_the_view_path_for_strings_and_lists():
    writer = FrameParquetWriter(io.BytesIO())
    writer.write(_frames(10, 1)[0])
    # The path that skips the copy is the one this file holds to the bytes.
    assert writer._views == ["name", "text", "codes"]
    writer.close()


def test_a_categorical_frame_is_written_the_plain_way_with_the_same_bytes():
    frames = [pl.DataFrame({"kind": pl.Series(["a", "b", None, "a"], dtype=pl.Categorical)})]
    writer = FrameParquetWriter(buffer := io.BytesIO())
    writer.write(frames[0])
    assert not writer._views
    writer.close()
    assert buffer.getvalue() == _plain(frames)


def test_a_writer_given_no_frame_writes_nothing():
    buffer = io.BytesIO()
    FrameParquetWriter(buffer).close()
    assert buffer.getvalue() == b""


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_write_table_counts_and_writes_every_frame(tmp_path, suffix):
    frames = [
        pl.DataFrame({"decision": ["approve", "deny"], "reason_codes": [[], ["DTI"]]}),
        pl.DataFrame({"decision": ["deny"], "reason_codes": [["DTI", "LTV"]]}),
    ]
    path = tmp_path / f"table{suffix}"
    summary = write_table(iter(frames), path)
    assert (summary.rows, dict(summary.decisions)) == (3, {"approve": 1, "deny": 2})
    assert dict(summary.reasons) == {"DTI": 2, "LTV": 1}
    if suffix == ".parquet":
        assert path.read_bytes() == _plain(frames)
    else:
        assert path.read_text().splitlines() == [
            "decision,reason_codes", "approve,\"\"", "deny,DTI", "deny,DTI;LTV"
        ]  # fmt: skip
    assert not path.with_name(path.name + ".partial").exists()


def test_a_failing_frame_leaves_no_file(tmp_path):
    def frames():
        yield pl.DataFrame({"decision": ["approve"], "reason_codes": [[]]})
        raise RuntimeError("synthesis failed")

    path = tmp_path / "table.parquet"
    with pytest.raises(RuntimeError, match="synthesis failed"):
        write_table(frames(), path)
    assert list(tmp_path.iterdir()) == []
