"""Recipe field overrides on the command line, the same for every command that takes a recipe."""

from __future__ import annotations

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from factory.cli import app
from tests.conftest import MINIMAL

runner = CliRunner()


def test_profiles_takes_dotted_overrides_and_its_own_options_win(write_recipe, tmp_path):
    target = tmp_path / "t.parquet"
    args = ["profiles", str(write_recipe(MINIMAL)), "profiles.count=150", "profiles.seed=9"]
    result = runner.invoke(app, [*args, "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(target).height == 150
    result = runner.invoke(app, [*args, "--n", "120", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(target).height == 120


def test_show_applies_overrides_to_a_registry_recipe():
    result = runner.invoke(
        app,
        ["recipes", "show", "lending-cot", "train.load_in_4bit=false", "train.max_seq_length=4096"],
    )
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout.split("\n", 1)[1])
    assert shown["train"]["load_in_4bit"] is False
    assert shown["train"]["max_seq_length"] == 4096


@pytest.mark.parametrize(
    "command",
    [
        ["train", "lending-cot"],
        ["generate", "lending-cot"],
        ["profiles", "lending-cot"],
        ["run", "lending-cot"],
        ["recipes", "show", "lending-cot"],
        ["recipes", "validate", "lending-cot"],
    ],
)
def test_every_recipe_command_refuses_a_bad_override_naming_its_path(command, tmp_path):
    result = runner.invoke(app, [*command, "train.max_seq_length=true"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "train.max_seq_length: expected a number" in result.stderr
    assert "override train.max_seq_length=true" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_malformed_override_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["recipes", "show", "lending-cot", "train.=3"])
    assert result.exit_code == 2
    assert "expected FIELD.PATH=VALUE" in result.stderr
