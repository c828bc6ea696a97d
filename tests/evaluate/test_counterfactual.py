"""The counterfactual flip test changes what a prompt shows and the policy does not read."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.dataset import read_manifest, read_split
from factory.evaluate.counterfactual import (
    counterfactual_cases,
    engine_changes,
    policy_read_columns,
)
from factory.pipeline.run import generate
from factory.recipe import load_recipe, parse_recipe

#: A lending user prompt that shows, for an audit, the name, sex and city beside the case.
AUDIT_PROMPT = """Applicant: {{ row.first_name }} {{ row.last_name }} ({{ row.sex }})
- City: {{ row.city }}
- Job title: {{ row.job_title }}
- Employer: {{ row.employer }}
- Annual income: ${{ "{:,.0f}".format(row.annual_income) }}
- Credit score: {{ row.credit_score }}
"""


def _dataset(folder, domain: str, user_prompt: str | None = None):
    prompts = ""
    if user_prompt is not None:
        (folder / "user.jinja2").write_text(user_prompt)
        prompts = "prompts: {user: user.jinja2}\n"
    (folder / "recipe.yaml").write_text(
        f"name: cf-{domain}\ndomain: {domain}\ndescription: counterfactual data\n{prompts}"
        "profiles: {count: 200, seed: 5, shard_size: 100}\n"
    )
    generate(load_recipe(folder / "recipe.yaml"), folder / "out")
    return folder / "out"


def _cases(dataset):
    recipe = parse_recipe(read_manifest(dataset)["recipe"]["content"], source="manifest.json")
    frame = read_split(dataset, "train").head(60)
    prompts = [chat[1]["content"] for chat in frame["messages"].to_list()]
    return recipe, frame, prompts, counterfactual_cases(recipe, frame, prompts)


@pytest.fixture(scope="module")
def lending(tmp_path_factory):
    return _dataset(tmp_path_factory.mktemp("cf-lending"), "lending")


@pytest.mark.parametrize("domain", ["lending", "fraud"])
def test_swapped_fields_are_shown_and_not_read_and_the_engine_never_moves(
    domain, lending, tmp_path
):
    dataset = lending if domain == "lending" else _dataset(tmp_path, domain)
    recipe, frame, prompts, cases = _cases(dataset)
    read = policy_read_columns(recipe)
    assert read is not None and cases.not_read_from == "rule table"
    assert cases.fields and not set(cases.fields) & read
    # Shown fields the rules read stay as they are (the credit score, the amount).
    assert cases.shown_but_read and set(cases.shown_but_read) <= read
    # Not vacuous: most counterfactual prompts differ from their originals, each really does.
    assert len(cases.changed) >= 0.9 * frame.height
    for i in cases.changed:
        assert cases.prompts[i] != prompts[i]
    for column in read & set(frame.columns):
        assert cases.rows[column].equals(frame[column]), column
    assert cases.engine_changed == ()
    assert cases.rows["id"].equals(frame["id"])


def test_lending_swaps_job_title_and_employer_together(lending):
    _, frame, _, cases = _cases(lending)
    assert set(cases.fields) == {"employer", "job_title"}
    pairs = set(zip(frame["job_title"], frame["employer"], strict=True))
    # One donor per row: the new pair is some row's own pair.
    for pair in zip(cases.rows["job_title"], cases.rows["employer"], strict=True):
        assert pair in pairs


def test_a_prompt_that_shows_name_and_sex_gets_them_swapped_across_groups(tmp_path):
    _, frame, _, cases = _cases(_dataset(tmp_path, "lending", AUDIT_PROMPT))
    assert {"first_name", "last_name", "sex", "city", "job_title", "employer"} <= set(cases.fields)
    assert {"annual_income", "credit_score"} <= set(cases.shown_but_read)
    # A shown protected attribute sets the groups: every counterfactual is of another sex.
    assert cases.group_column == "sex"
    assert all(a != b for a, b in zip(frame["sex"], cases.rows["sex"], strict=True))
    assert len(cases.changed) == frame.height and cases.engine_changed == ()


def test_the_engine_check_sees_a_swap_of_a_field_the_policy_reads(lending):
    recipe, frame, _, _ = _cases(lending)
    swapped = frame.with_columns(frame["credit_score"].reverse())
    assert engine_changes(recipe, frame, swapped).any()
    assert not engine_changes(recipe, frame, frame).any()


def test_credit_reports_show_only_what_their_table_reads(tmp_path):
    recipe, _, _, cases = _cases(_dataset(tmp_path, "credit_report"))
    read = policy_read_columns(recipe)
    assert read is not None and {"score_before", "score_after"} <= read
    assert cases.not_read_from == "rule table"
    # Its prompt shows the two reports and nothing the engine ignores: nothing to swap.
    assert cases.fields == () and cases.changed == () and cases.group_column is None
    assert cases.shown_but_read


def test_a_domain_without_a_rule_table_reads_no_columns_the_test_could_know():
    recipe = parse_recipe({"name": "kq", "domain": "knowledge", "description": "questions"})
    assert policy_read_columns(recipe) is None


RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.mark.parametrize("name", ["small-business-loan", "aml-structuring-triage"])
def test_a_recipes_own_inputs_and_rules_count_as_read(name, tmp_path):
    recipe = load_recipe(RECIPES / f"{name}.yaml")
    profiles = recipe.profiles.model_copy(update={"count": 150, "shard_size": 150})
    generate(recipe.model_copy(update={"profiles": profiles}), tmp_path / "out")
    recipe, _, _, cases = _cases(tmp_path / "out")
    read = policy_read_columns(recipe)
    table = recipe.domain_impl.rule_table(recipe.policy)
    own = {q.name for q in table.quantities.values() if q.source == "recipe"}
    assert read is not None and own and own <= read
    assert cases.fields and not set(cases.fields) & read
    assert cases.changed and cases.engine_changed == ()
