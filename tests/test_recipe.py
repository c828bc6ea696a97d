"""The recipe schema, its loader, and every shipped recipe."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from factory.domains import domain_names, get_domain
from factory.errors import RecipeError
from factory.recipe import (
    RECIPES_DIR,
    load_recipe,
    parse_recipe,
    recipe_json_schema,
    recipe_model,
    shipped_recipes,
)
from tests.conftest import MINIMAL

MINIMAL_NO_PROFILES = MINIMAL[: MINIMAL.index("profiles:")]


@pytest.mark.parametrize("path", shipped_recipes(), ids=lambda p: p.name)
def test_every_shipped_recipe_is_valid_and_documented(path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem
    lines = path.read_text().splitlines()
    first_field = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    text = "\n".join(lines[:first_field])
    assert f"fin-factory generate recipes/{path.name}" in text, "header names the exact command"
    assert "Override" in text, "header shows an override example"


def test_the_four_required_recipes_ship():
    names = {p.stem for p in shipped_recipes()}
    assert {"lending-cot", "fraud-cot", "credit-report-summary", "credit-report-qa"} <= names


def test_defaults_are_filled(write_recipe):
    recipe = load_recipe(write_recipe(MINIMAL))
    assert recipe.policy.max_dti == 0.43
    assert recipe.split.train == 0.8
    assert recipe.teacher.backend == "template"
    assert recipe.filters.max_seq_length == 2048
    assert recipe.task == "decision_cot"


def test_shipped_name_resolves_without_path():
    assert load_recipe("lending-cot").source == RECIPES_DIR / "lending-cot.yaml"


@pytest.mark.parametrize(
    ("text", "field", "expect"),
    [
        (MINIMAL + "colour: blue\n", "colour", "unknown field"),
        (MINIMAL.replace("count: 300", "count: -5"), "profiles.count", "greater than 0"),
        (MINIMAL.replace("count: 300", "count: many"), "profiles.count", "valid integer"),
        (MINIMAL + "policy:\n  max_dti: 7\n", "policy.max_dti", "less than or equal"),
        (MINIMAL + "policy:\n  mxa_dti: 0.4\n", "policy.mxa_dti", "unknown field"),
        (MINIMAL.replace("domain: lending", "domain: crypto"), "domain", "unknown domain"),
        (MINIMAL.replace("domain: lending\n", ""), "domain", "field required"),
        (
            MINIMAL + "split:\n  train: 0.9\n  validation: 0.2\n  test: 0.1\n",
            "split",
            "must be 1.0",
        ),
        (
            MINIMAL.replace("seed: 3", "seed: 3\n  locale: xx_YY"),
            "profiles.locale",
            "unknown Faker locale",
        ),
        (MINIMAL + "task: poetry\n", "task", "'decision_cot'"),
        (MINIMAL.replace("name: tiny", "name: Bad Name!"), "name", "pattern"),
    ],
)
def test_schema_errors_name_the_file_field_and_expectation(write_recipe, text, field, expect):
    path = write_recipe(text)
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {field}: "), message
    assert expect in message
    assert "\n" not in message


def test_yaml_syntax_error_names_the_line(write_recipe):
    path = write_recipe("name: x\ndomain: lending\nprofiles: [count: 3\n")
    with pytest.raises(RecipeError, match=r"YAML syntax error at line \d+, column \d+"):
        load_recipe(path)


def test_empty_missing_and_non_mapping_files(write_recipe, tmp_path):
    with pytest.raises(RecipeError, match="the file is empty"):
        load_recipe(write_recipe("# only a comment\n"))
    with pytest.raises(RecipeError, match="no such file"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(RecipeError, match="expected a mapping at the top level, got a list"):
        load_recipe(write_recipe("- a\n- b\n"))
    with pytest.raises(RecipeError, match="is a directory"):
        load_recipe(tmp_path)


def test_yaml_is_loaded_safely(write_recipe):
    path = write_recipe("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(RecipeError, match="YAML syntax error"):
        load_recipe(path)


def test_overrides_are_validated(write_recipe):
    recipe = load_recipe(write_recipe(MINIMAL))
    assert recipe.with_overrides(count=5, seed=None).profiles.count == 5
    assert recipe.with_overrides(count=5).profiles.seed == 3
    with pytest.raises(RecipeError, match=r"override profiles\.count"):
        recipe.with_overrides(count=0)


def test_content_hash_tracks_content(write_recipe):
    a = load_recipe(write_recipe(MINIMAL, "a.yaml"))
    b = load_recipe(write_recipe(MINIMAL + "# a comment changes nothing\n", "b.yaml"))
    c = load_recipe(write_recipe(MINIMAL.replace("seed: 3", "seed: 4"), "c.yaml"))
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_prompt_paths_resolve_against_the_recipe_folder(write_recipe, tmp_path):
    (tmp_path / "my_user.jinja2").write_text("{{ row.credit_score }}")
    recipe = load_recipe(write_recipe(MINIMAL + "prompts:\n  user: my_user.jinja2\n"))
    assert recipe.prompts.user == tmp_path / "my_user.jinja2"


def test_every_field_has_a_description():
    def walk(schema, defs, path):
        for name, prop in schema.get("properties", {}).items():
            if name == "domain":
                continue
            assert prop.get("description"), f"{path}.{name} has no description"
            ref = prop.get("$ref") or next(
                (item.get("$ref") for item in prop.get("anyOf", []) if "$ref" in item), None
            )
            if ref:
                walk(defs[ref.split("/")[-1]], defs, f"{path}.{name}")

    for name in domain_names():
        schema = recipe_model(name).model_json_schema()
        walk(schema, schema.get("$defs", {}), name)


def test_json_schema_covers_every_domain():
    schema = recipe_json_schema()
    text = json.dumps(schema)
    for name in domain_names():
        assert get_domain(name).policy_model.__name__ in text
    assert schema["discriminator"]["propertyName"] == "domain"


def test_parse_recipe_rejects_a_non_string_domain():
    with pytest.raises(RecipeError, match="unknown domain 5"):
        parse_recipe({"name": "x", "description": "d", "domain": 5})


@pytest.mark.parametrize(
    ("section", "expected_path"),
    [
        ("profiles:\n  count: true\n", "profiles.count"),
        ("profiles:\n  boundary_fraction: false\n", "profiles.boundary_fraction"),
        ("policy:\n  max_dti: true\n", "policy.max_dti"),
        ("profiles:\n  distribution:\n    income_median: true\n", "profiles.distribution"),
        ("teacher:\n  seed: true\n", "teacher.seed"),
        ("filters:\n  number_tolerance: true\n", "filters.number_tolerance"),
        ("train:\n  base_model: m\n  epochs: true\n", "train.epochs"),
    ],
)
def test_booleans_are_not_numbers(section, expected_path):
    from factory.recipe import parse_recipe

    data = yaml.safe_load(MINIMAL_NO_PROFILES + section)
    with pytest.raises(RecipeError, match=rf"{re.escape(expected_path)}[.\w]*: expected a number"):
        parse_recipe(data)


def test_an_int_is_still_a_float_and_booleans_stay_booleans():
    from factory.recipe import parse_recipe

    data = yaml.safe_load(
        MINIMAL_NO_PROFILES + "profiles:\n  boundary_fraction: 1\n"
        "train:\n  base_model: m\n  epochs: 2\n  load_in_4bit: true\n"
    )
    recipe = parse_recipe(data)
    assert recipe.profiles.boundary_fraction == 1.0
    assert recipe.train.epochs == 2.0 and recipe.train.load_in_4bit is True


def test_dotted_overrides_are_yaml_values_validated_by_the_schema(write_recipe):
    from factory.recipe import parse_overrides

    path = write_recipe(MINIMAL + "train:\n  base_model: m\n  load_in_4bit: true\n")
    changes = parse_overrides(
        ["train.load_in_4bit=false", "train.max_seq_length=4096", "filters.verifiers=[format, pii]",
         "train.early_stopping_patience=3", "evaluate.limit=5", "description=two words"]
    )  # fmt: skip
    recipe = load_recipe(path, changes)
    assert recipe.train.load_in_4bit is False and recipe.train.max_seq_length == 4096
    assert recipe.filters.verifiers == ["format", "pii"]
    assert recipe.evaluate.limit == 5  # a section the file does not have
    assert recipe.description == "two words"
    assert load_recipe(path, parse_overrides(["train.early_stopping_patience=null"])).train
    # The overridden recipe is a different recipe.
    assert recipe.content_hash() != load_recipe(path).content_hash()


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("train.max_seq_length=abc", r"train\.max_seq_length: .*valid integer"),
        ("train.max_seq_length=true", r"train\.max_seq_length: expected a number"),
        ("train.nope=1", r"train\.nope: unknown field"),
        ("name.first=1", r"name\.first: override name\.first: name is a string"),
        ("profiles.count=0", r"profiles\.count: .*greater than 0.*override profiles\.count=0"),
    ],
)
def test_a_bad_override_names_its_path(write_recipe, argument, expected):
    from factory.recipe import parse_overrides

    path = write_recipe(MINIMAL + "train:\n  base_model: m\n")
    with pytest.raises(RecipeError, match=expected):
        load_recipe(path, parse_overrides([argument]))


@pytest.mark.parametrize("argument", ["train", "=1", "train..x=1", "1train=2", "a.b=[unclosed"])
def test_an_override_that_is_not_path_equals_yaml_is_a_usage_error(argument):
    from factory.errors import UsageError
    from factory.recipe import parse_overrides

    with pytest.raises(UsageError, match="override"):
        parse_overrides([argument])
