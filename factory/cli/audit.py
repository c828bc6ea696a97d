"""`fin-factory audit`: check a service's hash-chained audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from factory.cli._app import new_app, out

app = new_app("Check the audit log a service wrote.")


@app.command("verify")
def verify(
    db: Annotated[Path, typer.Argument(help="The audit database (RUN_DIR/audit.db).")],
) -> None:
    """Recompute the hash chain; exit 1 at the first edited, missing or cut-off record."""
    from factory.serve.audit import verify_chain

    report = verify_chain(db)
    if not report.ok:
        out.print(f"BROKEN after {report.records:,} good records: {report.problem}", markup=False)
        raise typer.Exit(1)
    out.print(f"ok: {report.records:,} records, head {report.head}", markup=False)
