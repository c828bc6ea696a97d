"""`fin-factory recipes ...` and the CLI's error contract, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.cli.recipes import markdown_table, recipe_rows
from factory.recipe import shipped_recipes
from tests.conftest import MINIMAL

runner = CliRunner()
README = Path(__file__).resolve().parents[2] / "README.md"


def test_list_shows_every_shipped_recipe():
    result = runner.invoke(app, ["recipes", "list"])
    assert result.exit_code == 0, result.output
    for path in shipped_recipes():
        assert path.stem in result.output


def test_readme_recipe_table_is_generated_from_the_registry():
    table = markdown_table(recipe_rows())
    assert table in README.read_text(), "regenerate with: fin-factory recipes list --markdown"
    result = runner.invoke(app, ["recipes", "list", "--markdown"])
    assert result.output.strip() == table


def test_show_fills_defaults():
    result = runner.invoke(app, ["recipes", "show", "lending-cot"])
    assert result.exit_code == 0, result.output
    assert "max_seq_length: 2048" in result.output
    assert "refer_credit_score: 680" in result.output


def test_validate_reports_each_file(write_recipe):
    good = write_recipe(MINIMAL, "good.yaml")
    bad = write_recipe(MINIMAL.replace("count: 300", "count: -1"), "bad.yaml")
    result = runner.invoke(app, ["recipes", "validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"ok {good}" in result.stdout
    assert f"error: {bad}: profiles.count: Input should be greater than 0" in result.stderr


def test_validate_all_shipped_recipes():
    result = runner.invoke(app, ["recipes", "validate", *map(str, shipped_recipes())])
    assert result.exit_code == 0, result.output


def test_schema_is_json(tmp_path):
    result = runner.invoke(app, ["recipes", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "fin-factory recipe"
    target = tmp_path / "schema.json"
    assert runner.invoke(app, ["recipes", "schema", "--out", str(target)]).exit_code == 0
    assert json.loads(target.read_text())["discriminator"]["propertyName"] == "domain"


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (MINIMAL + "bogus: 1\n", "bogus: unknown field"),
        (MINIMAL.replace("count: 300", "count: -3"), "profiles.count: Input should be greater"),
        (MINIMAL.replace("domain: lending", "domain: mortgages"), "domain: unknown domain"),
        ("name: [unclosed\n", "YAML syntax error at line"),
        ("", "the file is empty"),
        (MINIMAL + "policy:\n  refer_dti: 0.5\n", "policy"),
    ],
)
def test_bad_recipes_exit_2_with_one_line_and_no_traceback(write_recipe, text, expect):
    path = write_recipe(text)
    result = runner.invoke(app, ["profiles", str(path), "--out", str(path.with_suffix(".csv"))])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: ")
    assert expect in lines[0]
    assert "Traceback" not in result.output


def test_missing_recipe_file(tmp_path):
    result = runner.invoke(app, ["generate", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_readme_cli_reference_is_generated_from_the_app():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "update_readme", Path(__file__).resolve().parents[2] / "scripts" / "update_readme.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.cli_reference() in README.read_text(), "run: python scripts/update_readme.py"
