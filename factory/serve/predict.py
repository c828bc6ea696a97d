"""Batch prediction: a Parquet file of cases answered through the service's own path.

Each case is validated by the same case model, labelled (all at once, vectorised), answered,
verified, recorded in the audit log and, when withheld, queued for review, exactly as a
/v1/decide request; the answers table has one row per input row, in order.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from factory.errors import UsageError
from factory.serve.backends import BackendError
from factory.serve.service import Reply, Service

#: Called with (answered, total).
ProgressFn = Callable[[int, int], None]


def read_cases(path: Path) -> list[dict[str, Any]]:
    """The rows of a Parquet file of cases.

    Raises:
        UsageError: the file is missing or not Parquet.
    """
    try:
        return pl.read_parquet(path).to_dicts()
    except (OSError, pl.exceptions.PolarsError) as error:
        raise UsageError(f"{path}: cannot read the cases ({error})") from None


async def predict(
    service: Service,
    cases: list[dict[str, Any]],
    *,
    concurrency: int = 16,
    progress: ProgressFn | None = None,
) -> pl.DataFrame:
    """Answers every case; returns the answers (status "refused" with an error for a bad row)."""
    replies: list[Reply | None] = [None] * len(cases)
    valid: list[tuple[int, str, dict[str, Any]]] = []
    domain = service.domain
    for i, raw in enumerate(cases):
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        try:
            case = service.case_model.model_validate(raw, strict=False).model_dump()
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            replies[i] = await service.refuse(
                "decide", request_id, started, 422, f"{where}: {first['msg']}", raw, where
            )
            continue
        if case.get(domain.id_column) is None:
            case[domain.id_column] = service.new_case_id(request_id)
        valid.append((i, request_id, case))
    rows = await asyncio.to_thread(service.path.label, [case for _, _, case in valid])
    limit = asyncio.Semaphore(concurrency)
    done = len(cases) - len(valid)
    if progress:
        progress(done, len(cases))

    async def one(i: int, request_id: str, case: dict[str, Any], row: dict[str, Any]) -> None:
        nonlocal done
        async with limit:
            started = time.perf_counter()
            try:
                answer = await service.path.answer(row)
            except BackendError as error:
                replies[i] = await service.refuse(
                    "decide", request_id, started, 503, str(error), case
                )
            else:
                replies[i] = await service.record_answer(request_id, case, row, answer, started)
        done += 1
        if progress:
            progress(done, len(cases))

    await asyncio.gather(
        *(one(i, rid, case, row) for (i, rid, case), row in zip(valid, rows, strict=True))
    )
    return answers_frame(replies)


def answers_frame(replies: list[Reply | None]) -> pl.DataFrame:
    columns = ("request_id", "status", "ticket_id", "decision", "reason_codes", "model_decision",
               "verified", "verdict", "fallback", "confidence", "reasoning", "summary", "answer",
               "error")  # fmt: skip
    records = []
    for reply in replies:
        assert reply is not None
        body = reply.body
        record = {name: body.get(name) for name in columns}
        if "error" in body:
            record["status"] = "refused"
        records.append(record)
    schema: dict[str, Any] = {name: pl.String for name in columns}
    schema.update(
        {"reason_codes": pl.List(pl.String), "verified": pl.Boolean, "confidence": pl.Float64}
    )
    return pl.DataFrame(records, schema=schema)


def write_answers(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    frame.write_parquet(partial)
    partial.replace(path)
