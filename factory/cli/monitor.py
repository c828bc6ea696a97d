"""`fin-factory monitor`: drift of served cases and answers against the training data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from factory.cli._app import err, out


def monitor(
    db: Annotated[Path, typer.Argument(help="The service's audit database.")],
    dataset: Annotated[Path, typer.Option("--dataset", help="The training dataset folder.")],
    output: Annotated[
        Path | None, typer.Option("--out", help="Report folder [default: DB's folder/drift].")
    ] = None,
    max_psi: Annotated[
        float | None, typer.Option("--max-psi", help="Override serve.drift.max_psi.")
    ] = None,
    min_pass_rate: Annotated[
        float | None, typer.Option("--min-pass-rate", help="Override serve.drift.min_pass_rate.")
    ] = None,
    max_fallback_rate: Annotated[
        float | None,
        typer.Option("--max-fallback-rate", help="Override serve.drift.max_fallback_rate."),
    ] = None,
    min_requests: Annotated[
        int, typer.Option("--min-requests", min=1, help="Fewest requests a day needs for PSI.")
    ] = 200,
) -> None:
    """PSI per feature, decision and reason mix, pass and fallback rates by day; exit 1 on alert."""
    from factory.errors import UsageError
    from factory.recipe import DriftThresholds, ServeConfig
    from factory.serve.drift import monitor as run_monitor
    from factory.serve.drift import write_report
    from factory.serve.review import served_recipe

    if not db.is_file():
        raise UsageError(f"{db}: no such audit database")
    recipe = served_recipe(db)
    base = (recipe.serve or ServeConfig()).drift
    changes = {"max_psi": max_psi, "min_pass_rate": min_pass_rate,
               "max_fallback_rate": max_fallback_rate}  # fmt: skip
    try:
        thresholds = DriftThresholds.model_validate(
            {**base.model_dump(), **{k: v for k, v in changes.items() if v is not None}}
        )
    except ValueError as error:
        raise UsageError(f"drift threshold: {error}") from None
    report = run_monitor(db, dataset, recipe, thresholds, min_requests=min_requests)
    folder = output or db.parent / "drift"
    write_report(report, folder)
    for day in report.days:
        worst = "-" if day["max_psi"] is None else f"{day['max_psi']:.3f}"
        out.print(f"{day['day']}: {day['requests']} requests, max PSI {worst}, verified "
                  f"{day['pass_rate']:.1%}, fallback {day['fallback_rate']:.1%}",
                  markup=False)  # fmt: skip
    err.print(f"report: {folder / 'report.md'}", markup=False)
    if report.alerts:
        for alert in report.alerts:
            out.print(f"ALERT {alert}", markup=False)
        raise typer.Exit(1)
