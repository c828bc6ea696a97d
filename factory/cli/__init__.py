"""The `fin-factory` command line: one module per command group, each thin (parse, call, print)."""

from __future__ import annotations

from factory.cli import (
    audit,
    card,
    evaluate,
    generate,
    inspect_cmd,
    monitor,
    profiles,
    publish,
    recipes,
    review,
    run,
    serve,
    train,
)
from factory.cli._app import new_app

app = new_app("fin-factory: verified synthetic chain-of-thought data for regulated finance.")
app.add_typer(recipes.app, name="recipes")
app.command("profiles")(profiles.profiles)
app.command("generate")(generate.generate)
app.command("inspect")(inspect_cmd.inspect)
app.command("train")(train.train)
app.command("evaluate")(evaluate.evaluate)
app.add_typer(card.app, name="card")
app.add_typer(publish.app, name="publish")
app.command("run")(run.run)
app.command("serve")(serve.serve)
app.command("predict")(serve.predict)
app.add_typer(review.app, name="review")
app.add_typer(audit.app, name="audit")
app.command("monitor")(monitor.monitor)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
