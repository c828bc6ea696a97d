"""`fin-factory profiles`: the labelled table, in Parquet or CSV."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.recipe import load_recipe
from factory.synth import iter_labelled, labelled_shard, labelled_shards, recipe_shards
from tests.conftest import MINIMAL

runner = CliRunner()
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_parquet_table_matches_the_engine(write_recipe, tmp_path):
    recipe_path = write_recipe(MINIMAL)
    target = tmp_path / "applicants.parquet"
    result = runner.invoke(app, ["profiles", str(recipe_path), "--out", str(target)])
    assert result.exit_code == 0, result.output
    table = pl.read_parquet(target)
    expected = pl.concat(frame for _, frame in iter_labelled(load_recipe(recipe_path)))
    assert table.equals(expected)
    assert table.height == 300
    assert "decisions" in result.stdout
    for label in ("approve", "refer", "deny"):
        assert label in result.stdout


@pytest.mark.parametrize("name", sorted(p.stem for p in RECIPES.glob("*.yaml")))
def test_every_shipped_recipe_labels_shards_together_as_it_labels_them_alone(name):
    recipe = load_recipe(RECIPES / f"{name}.yaml")
    recipe = recipe.model_copy(
        update={"profiles": recipe.profiles.model_copy(update={"count": 250, "shard_size": 100})}
    )
    shards = recipe_shards(recipe)
    alone = pl.concat(labelled_shard(recipe, shard) for shard in shards)
    assert labelled_shards(recipe, shards).equals(alone)


def test_overrides_and_csv(write_recipe, tmp_path):
    target = tmp_path / "applicants.csv"
    result = runner.invoke(
        app,
        ["profiles", str(write_recipe(MINIMAL)), "--n", "250", "--seed", "9", "--out", str(target)],
    )
    assert result.exit_code == 0, result.output
    table = pl.read_csv(target)
    assert table.height == 250
    assert table.schema["reason_codes"] == pl.String
    assert not list(tmp_path.glob("*.partial"))


def test_unknown_output_type_is_a_usage_error(write_recipe, tmp_path):
    result = runner.invoke(
        app, ["profiles", str(write_recipe(MINIMAL)), "--out", str(tmp_path / "x.xlsx")]
    )
    assert result.exit_code == 2
    assert "expected .parquet or .csv" in result.stderr


def test_bad_override_is_reported(write_recipe, tmp_path):
    result = runner.invoke(
        app, ["profiles", str(write_recipe(MINIMAL)), "--n", "0", "--out", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 2
    assert "override profiles.count" in result.stderr
