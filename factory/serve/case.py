"""The structured case a request carries: a pydantic model derived from the domain's profiles.

A case has the columns of one synthesized profile (what the training data was made from), minus
the domain's latent simulation columns. Types come from the synthesizer's own frame, drawn with
the serving recipe's settings: an integer column takes integers, a float column numbers, a
column with nulls in the sample may be null, a non-negative column rejects negatives, and a text
column whose sampled values are a few identifiers (a loan purpose, a merchant category) takes
exactly those. Types are strict, so "5" is not an integer and a bad field is named in the 422.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, create_model

from factory.recipe import RecipeBase
from factory.synth import Shard

#: Profiles drawn to learn each column's type, nullability, range and categories.
_SAMPLE_SIZE = 4000
#: A text column with at most this many distinct identifier values is a category.
_MAX_CATEGORIES = 24
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
#: Never one of a run's own shards, so serving never depends on a run's data.
_SAMPLE_SHARD = Shard(index=2**31 - 2, offset=0, size=_SAMPLE_SIZE)


class CaseBase(BaseModel):
    """Base of every derived case model: unknown fields are refused, types are strict."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def case_sample(recipe: RecipeBase) -> pl.DataFrame:
    """Profiles drawn with the recipe's settings, only the case columns."""
    domain = recipe.domain_impl
    profiles = recipe.profiles
    frame = domain.synthesize(
        _SAMPLE_SHARD.size,
        seed=profiles.seed,
        shard=_SAMPLE_SHARD.index,
        offset=_SAMPLE_SHARD.offset,
        locale=profiles.locale,
        distribution=profiles.distribution,
        policy=recipe.policy,
        boundary_fraction=profiles.boundary_fraction,
    )
    return frame.drop([c for c in domain.latent_columns if c in frame.columns])


def case_model(recipe: RecipeBase) -> type[CaseBase]:
    """The pydantic model of one case of the recipe's domain (cached per recipe)."""
    return _derived(recipe.model_dump_json())[0]


def case_schema(recipe: RecipeBase) -> dict[str, pl.DataType]:
    """Column -> polars type of a case: the synthesizer's own types, ready for `label`."""
    return _derived(recipe.model_dump_json())[1]


@cache
def _derived(recipe_json: str) -> tuple[type[CaseBase], dict[str, pl.DataType]]:
    from factory.recipe import parse_recipe

    recipe = parse_recipe(json.loads(recipe_json), source="<serve recipe>")
    sample = case_sample(recipe)
    return _derive(recipe, sample), dict(sample.schema)


def _derive(recipe: RecipeBase, sample: pl.DataFrame) -> type[CaseBase]:
    domain = recipe.domain_impl
    fields: dict[str, Any] = {}
    for name, dtype in sample.schema.items():
        column = sample[name]
        kind = _python_type(column, dtype)
        nullable = column.null_count() > 0
        described = f"{domain.name} profile column {name}"
        constraints: dict[str, Any] = {"description": described}
        if dtype.is_numeric() and column.drop_nulls().min() is not None:
            if float(column.drop_nulls().min()) >= 0:  # type: ignore[arg-type]
                constraints["ge"] = 0
            if dtype.is_float():
                constraints["allow_inf_nan"] = False
        if name == domain.id_column:
            # The caller's own reference; one is made up when it sends none.
            fields[name] = (kind | None, Field(None, description=described))
        elif nullable:
            fields[name] = (kind | None, Field(..., **constraints))
        else:
            fields[name] = (kind, Field(..., **constraints))
    camel = "".join(part.title() for part in domain.name.split("_"))
    model: type[CaseBase] = create_model(f"{camel}Case", __base__=CaseBase, **fields)
    return model


def _python_type(column: pl.Series, dtype: pl.DataType) -> Any:
    if dtype == pl.Boolean:
        return bool
    if dtype.is_integer():
        return int
    if dtype.is_float():
        return float
    values = column.drop_nulls().unique().sort().to_list()
    if 0 < len(values) <= _MAX_CATEGORIES and all(_IDENTIFIER.match(v) for v in values):
        return Literal[tuple(values)]
    return str


def case_frame(recipe: RecipeBase, cases: list[dict[str, Any]]) -> pl.DataFrame:
    """Validated cases (dicts of a case model) as one frame with the synthesizer's types."""
    return pl.DataFrame(cases, schema=case_schema(recipe), orient="row")


__all__ = ["CaseBase", "case_frame", "case_model", "case_sample", "case_schema"]
