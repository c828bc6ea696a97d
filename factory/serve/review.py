"""The human review queue: tickets opened by the service, worked with `fin-factory review`.

A ticket holds what a reviewer needs: the prompt the model got, the engine's labelled row (its
decision, reasons and numbers), the model's output and why it was withheld. Resolving it records
the person's decision and text (in the ticket and, chained, in the audit log) and checks the text
with the same verifiers as the training data; `export` turns resolved tickets into training
examples in the dataset's format, so what people fix teaches the next model.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from factory.errors import UsageError
from factory.output import render_output
from factory.recipe import RecipeBase, parse_recipe
from factory.serve import audit
from factory.verify.case import CaseVerifier


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    request_id: str
    created_at: str
    status: str
    reason: str
    body: dict[str, Any]
    resolution: dict[str, Any] | None


def _open(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise UsageError(f"{path}: no such audit database")
    return audit.connect(path)


def tickets(path: Path, status: str | None = None) -> list[Ticket]:
    """Tickets, oldest first (only those with `status` when given: open or resolved)."""
    db = _open(path)
    try:
        query = "SELECT * FROM tickets"
        args: tuple[str, ...] = ()
        if status is not None:
            query, args = query + " WHERE status = ?", (status,)
        return [_ticket(row) for row in db.execute(query + " ORDER BY created_at", args)]
    finally:
        db.close()


def ticket(path: Path, ticket_id: str) -> Ticket:
    """One ticket.

    Raises:
        UsageError: no ticket has that id.
    """
    db = _open(path)
    try:
        row = db.execute("SELECT * FROM tickets WHERE ticket_id = ?", (ticket_id,)).fetchone()
    finally:
        db.close()
    if row is None:
        raise UsageError(f"{path}: no ticket {ticket_id!r}")
    return _ticket(row)


def _ticket(row: Sequence[Any]) -> Ticket:
    resolution = json.loads(row[6]) if row[6] else None
    return Ticket(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), resolution)


def served_recipe(path: Path) -> RecipeBase:
    """The recipe the service that wrote this database answered with."""
    db = _open(path)
    try:
        text = audit.get_meta(db, "recipe")
    finally:
        db.close()
    if text is None:
        raise UsageError(f"{path}: the database names no recipe (not written by fin-factory serve)")
    return parse_recipe(json.loads(text), source=f"{path}: meta.recipe")


def resolve(
    path: Path,
    ticket_id: str,
    *,
    decision: str,
    reasoning: str,
    reasons: Sequence[str] = (),
    answer: str | None = None,
    reviewer: str,
) -> dict[str, Any]:
    """Records a person's decision and text for an open ticket; returns the resolution.

    The text is verified against the engine like any training example; the verdict is kept with
    the resolution (a reviewer may overrule the engine, and the export says so).

    Raises:
        UsageError: no such ticket, it is already resolved, or the decision or a reason code is
            not one of the domain's.
    """
    recipe = served_recipe(path)
    domain = recipe.domain_impl
    found = ticket(path, ticket_id)
    if found.status != "open":
        raise UsageError(f"ticket {ticket_id} is already {found.status}")
    if decision not in domain.labels:
        raise UsageError(f"--decision must be one of {', '.join(domain.labels)}, got {decision!r}")
    verifier = CaseVerifier(recipe)
    texts = verifier.reason_texts
    unknown = [code for code in reasons if code not in texts]
    if unknown:
        raise UsageError(f"unknown reason code(s) {', '.join(unknown)} for {domain.name}")
    if not reasoning.strip():
        raise UsageError("--reasoning must not be empty")
    row = found.body["row"]
    text = render_output(reasoning, decision, list(reasons), texts, answer=answer)
    verdict = verifier.verdict(text, row)
    resolution = {
        "reviewer": reviewer,
        "resolved_at": audit.now(),
        "decision": decision,
        "reason_codes": list(reasons),
        "assistant": text,
        "verified": verdict.ok,
        "verdict": verdict.reason,
        "detail": verdict.detail,
        "overrules_engine": decision != row["decision"],
    }
    db = _open(path)
    try:
        audit.append(
            db,
            [audit.Entry("review", found.request_id, {"ticket_id": ticket_id, **resolution})],
        )
        db.execute(
            "UPDATE tickets SET status = 'resolved', resolution = ? WHERE ticket_id = ?",
            (audit.canonical(resolution), ticket_id),
        )
    finally:
        db.close()
    return resolution


def export(path: Path, out: Path, *, include_unverified: bool = False) -> int:
    """Writes resolved tickets as training examples (the dataset's columns) to a Parquet file.

    Returns the number of examples written. Unverified resolutions are left out unless asked.
    """
    rows = []
    for item in tickets(path, status="resolved"):
        resolution = item.resolution or {}
        if not (resolution.get("verified") or include_unverified):
            continue
        messages = [
            *item.body["messages"],
            {"role": "assistant", "content": resolution["assistant"]},
        ]
        rows.append(
            {
                "ticket_id": item.ticket_id,
                "request_id": item.request_id,
                "decision": resolution["decision"],
                "reason_codes": resolution["reason_codes"],
                "engine_decision": item.body["row"]["decision"],
                "policy_version": item.body["row"]["policy_version"],
                "verified": bool(resolution["verified"]),
                "reviewer": resolution["reviewer"],
                "messages": messages,
            }
        )
    schema: dict[str, Any] = {
        "ticket_id": pl.String,
        "request_id": pl.String,
        "decision": pl.String,
        "reason_codes": pl.List(pl.String),
        "engine_decision": pl.String,
        "policy_version": pl.String,
        "verified": pl.Boolean,
        "reviewer": pl.String,
        "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    pl.DataFrame(rows, schema=schema).write_parquet(partial)
    partial.replace(out)
    return len(rows)
