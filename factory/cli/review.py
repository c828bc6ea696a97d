"""`fin-factory review`: work the human review queue of a service's audit database."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from factory.cli._app import err, new_app, out

app = new_app("Work the human review queue: answers the service withheld.")

_DB = typer.Argument(help="The service's audit database (RUN_DIR/audit.db).")


@app.command("list")
def list_tickets(
    db: Annotated[Path, _DB],
    status: Annotated[
        str | None, typer.Option("--status", help="Only open or resolved tickets.")
    ] = "open",
) -> None:
    """List tickets, oldest first."""
    from factory.serve.review import tickets

    table = Table(title=f"{db} ({status or 'all'} tickets)")
    for column in ("ticket", "created", "reason", "engine", "model", "status"):
        table.add_column(column)
    for item in tickets(db, status=status):
        table.add_row(
            item.ticket_id, item.created_at[:19], item.reason,
            str(item.body["row"]["decision"]), _model_decision(item.body), item.status,
        )  # fmt: skip
    out.print(table)


def _model_decision(body: dict[str, Any]) -> str:
    from factory.output import parse_output

    return parse_output(body.get("outputs", {}).get("model")).decision or "-"


@app.command("show")
def show(
    db: Annotated[Path, _DB],
    ticket_id: Annotated[str, typer.Argument(help="The ticket id (T-...).")],
) -> None:
    """Show a ticket: the prompt, the engine's answer, the model's output and why it was held."""
    from factory.serve.review import ticket

    item = ticket(db, ticket_id)
    row = item.body["row"]
    out.print(f"ticket {item.ticket_id} ({item.status}), request {item.request_id}", markup=False)
    out.print(f"held because: {item.reason}: {item.body.get('verdict')} {item.body.get('detail')}",
              markup=False)  # fmt: skip
    out.print(f"engine: {row['decision']} {row['reason_codes']}", markup=False)
    out.print(f"confidence: {item.body.get('confidence')}", markup=False)
    out.print("\n--- prompt (user) ---\n" + item.body["messages"][-1]["content"], markup=False)
    for name, text in item.body.get("outputs", {}).items():
        out.print(f"\n--- {name} output ---\n{text}", markup=False)
    if item.resolution:
        out.print("\n--- resolution ---\n" + json.dumps(item.resolution, indent=2), markup=False)


@app.command("resolve")
def resolve(
    db: Annotated[Path, _DB],
    ticket_id: Annotated[str, typer.Argument(help="The ticket id (T-...).")],
    decision: Annotated[str, typer.Option("--decision", help="The reviewer's decision.")],
    reasoning: Annotated[str, typer.Option("--reasoning", help="The reviewer's reasoning.")],
    reasons: Annotated[
        str, typer.Option("--reasons", help="Principal reason codes, comma-separated.")
    ] = "",
    answer: Annotated[
        str | None, typer.Option("--answer", help="Customer-facing text (tasks that have one).")
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Who resolved it [default: the OS user].")
    ] = None,
) -> None:
    """Record a reviewer's decision and text; it is verified and chained into the audit log."""
    from factory.serve.review import resolve as run_resolve

    codes = [c.strip() for c in reasons.split(",") if c.strip()]
    resolution = run_resolve(
        db, ticket_id, decision=decision, reasoning=reasoning, reasons=codes, answer=answer,
        reviewer=reviewer or getpass.getuser(),
    )  # fmt: skip
    verdict = "verified" if resolution["verified"] else f"NOT verified ({resolution['verdict']}: " \
        f"{resolution['detail']})"  # fmt: skip
    out.print(f"resolved {ticket_id}: {decision}, {verdict}", markup=False)


@app.command("export")
def export(
    db: Annotated[Path, _DB],
    output: Annotated[Path, typer.Option("--out", help="Parquet file of training examples.")],
    include_unverified: Annotated[
        bool,
        typer.Option(
            "--include-unverified", help="Also export resolutions that failed a verifier."
        ),
    ] = False,
) -> None:
    """Export resolved tickets as training examples (system, user, the reviewer's answer)."""
    from factory.serve.review import export as run_export

    count = run_export(db, output, include_unverified=include_unverified)
    err.print(f"{count:,} examples -> {output}", markup=False)
