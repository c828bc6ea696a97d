"""Recipe field overrides on the command line: `fin-factory train lending-cot train.epochs=2`.

Every command that takes a recipe takes overrides after it: a dotted field path, `=`, and a
YAML value (`yaml.safe_load`), validated with the recipe by the same schema. A command's own
options (`--n`, `--seed`, `--teacher`, ...) are overrides of named fields through the same
mechanism, and win over a dotted override of the same field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from factory.recipe import RecipeBase

#: The trailing argument of every command that takes a recipe.
Overrides = Annotated[
    list[str] | None,
    typer.Argument(
        help="Recipe field overrides, FIELD.PATH=VALUE (a YAML value), e.g. "
        "train.load_in_4bit=false train.max_seq_length=4096.",
        show_default=False,
    ),
]


def load(
    recipe: str, overrides: list[str] | None, fields: dict[str, Any] | None = None
) -> RecipeBase:
    """The recipe named by file or registry name, with the command line's overrides.

    Args:
        recipe: a recipe file, or a shipped recipe's name.
        overrides: FIELD.PATH=VALUE arguments.
        fields: a command's own options by dotted path (None: not given).

    Raises:
        RecipeError: the recipe or an override does not match the schema (names the path).
        UsageError: an override is not FIELD.PATH=VALUE.
    """
    from factory.recipe import load_recipe, parse_overrides

    changes = parse_overrides(overrides or [])
    changes.update({path: value for path, value in (fields or {}).items() if value is not None})
    return load_recipe(recipe, changes)
