"""`fin-factory recipes ...`: list, show, validate and describe recipes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from factory.cli._app import err, new_app, out
from factory.errors import FactoryError
from factory.recipe import RecipeBase, load_recipe, recipe_json_schema, shipped_recipes

app = new_app("List, show, validate and describe recipes.")


def recipe_rows() -> list[dict[str, str]]:
    """One row per shipped recipe: the registry behind `recipes list` and the README table."""
    rows = []
    for path in shipped_recipes():
        recipe = load_recipe(path)
        rows.append(
            {
                "name": recipe.name,
                "domain": recipe.domain,
                "task": recipe.task,
                "profiles": f"{recipe.profiles.count:,}",
                "teacher": recipe.teacher.backend,
                "description": recipe.description,
                "file": f"recipes/{path.name}",
            }
        )
    return rows


def markdown_table(rows: list[dict[str, str]]) -> str:
    """The recipe table as Markdown (the README embeds exactly this)."""
    headers = ["name", "domain", "task", "profiles", "teacher", "description"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [f"[`{row['name']}`]({row['file']})"] + [row[h] for h in headers[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@app.command("list")
def list_recipes(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print a Markdown table (as in the README).")
    ] = False,
) -> None:
    """List the shipped recipes."""
    rows = recipe_rows()
    if markdown:
        out.print(markdown_table(rows), markup=False)
        return
    table = Table(title="fin-factory recipes")
    for header in ("name", "domain", "task", "profiles", "teacher"):
        table.add_column(header, no_wrap=True)
    table.add_column("description", overflow="fold")
    for row in rows:
        table.add_row(
            *(row[h] for h in ("name", "domain", "task", "profiles", "teacher")), row["description"]
        )
    out.print(table)


@app.command("show")
def show(
    recipe: Annotated[str, typer.Argument(help="Recipe file or shipped recipe name.")],
) -> None:
    """Show a recipe with every default filled in, as YAML."""
    loaded = load_recipe(recipe)
    data = loaded.model_dump(mode="json", exclude_none=True)
    out.print(f"# {loaded.source}", markup=False)
    out.print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip(), markup=False)


@app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Recipe files to check.")],
) -> None:
    """Check recipe files against the schema; exit 2 when any is invalid."""
    failed = 0
    for path in paths:
        try:
            recipe: RecipeBase = load_recipe(path)
        except FactoryError as error:
            failed += 1
            err.print(f"error: {error}", markup=False)
            continue
        out.print(
            f"ok {path} ({recipe.domain}/{recipe.task}, {recipe.profiles.count:,} profiles)",
            markup=False,
        )
    if failed:
        raise typer.Exit(2)


@app.command("schema")
def schema(
    output: Annotated[
        Path | None, typer.Option("--out", help="Write the schema here instead of stdout.")
    ] = None,
) -> None:
    """Print the recipe JSON Schema (for editors' YAML language servers)."""
    text = json.dumps(recipe_json_schema(), indent=2, sort_keys=False)
    if output is None:
        out.print(text, markup=False)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output}", markup=False)
