"""`fin-factory recipes ...`: list, show, validate and describe recipes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from factory.cli._app import err, new_app, out
from factory.cli._overrides import Overrides, load
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
    overrides: Overrides = None,
) -> None:
    """Show a recipe with every default filled in, as YAML."""
    loaded = load(recipe, overrides)
    data = loaded.model_dump(mode="json", exclude_none=True)
    out.print(f"# {loaded.source}", markup=False)
    out.print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip(), markup=False)


@app.command("validate")
def validate(
    arguments: Annotated[
        list[str],
        typer.Argument(
            help="Recipe files (or shipped recipe names) to check, then optional "
            "FIELD.PATH=VALUE overrides applied to each.",
            metavar="RECIPES... [FIELD.PATH=VALUE]...",
        ),
    ],
) -> None:
    """Check recipes against the schema, and render their own prompt templates once in the
    sandbox; exit 2 when any is invalid."""
    from factory.recipe import is_override

    overrides = [a for a in arguments if is_override(a)]
    failed = 0
    for path in [a for a in arguments if not is_override(a)]:
        try:
            recipe: RecipeBase = load(path, overrides)
            if recipe.prompts.model_dump(exclude_none=True):
                # Only a recipe's own templates: the built-in ones are ours and tested.
                from factory.pipeline.prompts import check_templates

                check_templates(recipe)
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
