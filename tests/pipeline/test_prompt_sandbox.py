"""Recipe templates are untrusted: they render sandboxed and load files from their folder only.

Each escape below, had it worked, would create a marker file (or print a secret); the test
asserts it is refused with one RecipeError naming the field and the template, and that the
marker does not exist.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.errors import RecipeError
from factory.pipeline.prompts import TeacherPrompts, _environment, check_templates
from factory.recipe import load_recipe
from tests.conftest import MINIMAL

runner = CliRunner()

#: Escapes a plain jinja2.Environment lets through; `{marker}` is the file each would create.
ESCAPES = {
    "self_globals": "{{ self.__init__.__globals__.__builtins__.__import__('os')"
    ".system('touch {marker}') }}",
    "cycler_globals": "{{ cycler.__init__.__globals__.os.system('touch {marker}') }}",
    "joiner_globals": "{{ joiner.__init__.__globals__.os.system('touch {marker}') }}",
    "namespace_globals": "{{ namespace.__init__.__globals__.os.system('touch {marker}') }}",
    "lipsum_globals": "{{ lipsum.__globals__['os'].popen('touch {marker}').read() }}",
    "mro_subclasses": "{% for c in ''.__class__.__mro__[1].__subclasses__() %}"
    "{% if c.__name__ == 'Popen' %}{{ c(['touch', '{marker}']) }}{% endif %}{% endfor %}",
    "attr_filter": "{{ (''|attr('__class__')|attr('__mro__'))[1]|attr('__subclasses__') }}"
    "{{ lipsum|attr('__globals__')|attr('get')('os')|attr('system')('touch {marker}') }}",
    "format_attribute": "{{ '{0.__class__.__init__.__globals__}'.format(cycler) }}"
    "{{ '{0.__init__.__globals__[os]}'.format(cycler).system('touch {marker}') }}",
    "format_map": "{{ '{x.__init__.__globals__}'.format_map({'x': cycler}) }}",
    "row_chain": "{{ row.__class__.__init__.__globals__ }}{{ row.items.__self__ }}",
    "row_method_globals": "{{ row.get.__self__.__class__.__base__.__subclasses__() }}",
    "policy_chain": "{{ policy.__class__.__init__.__globals__ }}",
    "range_trick": "{{ range.__init__.__globals__ }}{{ range.__self__ }}",
    "dict_trick": "{{ dict.__base__.__subclasses__() }}{{ dict(a=1).__class__.__mro__ }}",
    "builtin_type_mro": "{{ ''.__class__.mro() }}{{ (1).__class__.mro()[1].__subclasses__() }}",
    "set_frame_globals": "{% set x = cycler.next %}{{ x.__func__.__globals__ }}",
}

USER_ESCAPES = {
    # The user prompt receives `row`: its values, its methods, what they lead to.
    **ESCAPES,
    "row_value_class": "{{ row.employer.__class__.__base__.__subclasses__() }}",
}

SYSTEM_ESCAPES = {
    # The system prompt receives `domain`, `task` and `policy`: plain data, no way to modules.
    "domain_function": "{{ domain.policy_version.__globals__['os'].system('touch {marker}') }}",
    "domain_closure": "{{ domain.policy_version.__closure__ }}",
    "domain_synthesizer": "{{ domain.synthesizer(1) }}{{ domain.tasks }}",
    "task_writer": "{{ task.write.__globals__['os'].system('touch {marker}') }}",
    "policy_model": "{{ policy.model_fields }}{{ policy.model_validate }}",
    "policy_dict_class": "{{ policy.__class__.__subclasses__() }}",
}


def _override(tmp_path: Path, field: str, text: str) -> Path:
    (tmp_path / "override.jinja2").write_text(text, encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(MINIMAL + f"prompts:\n  {field}: override.jinja2\n", encoding="utf-8")
    return recipe


@pytest.mark.parametrize("name", sorted(USER_ESCAPES))
def test_user_prompt_escapes_are_refused_and_run_nothing(name, tmp_path):
    marker = tmp_path / "PWNED"
    path = _override(tmp_path, "user", USER_ESCAPES[name].replace("{marker}", str(marker)))
    with pytest.raises(RecipeError) as raised:
        check_templates(load_recipe(path))
    assert not marker.exists()
    message = str(raised.value)
    assert "prompts.user" in message and "override.jinja2" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(SYSTEM_ESCAPES))
def test_system_prompt_escapes_are_refused_and_run_nothing(name, tmp_path):
    marker = tmp_path / "PWNED"
    path = _override(tmp_path, "system", SYSTEM_ESCAPES[name].replace("{marker}", str(marker)))
    with pytest.raises(RecipeError, match=r"prompts\.system: template .*override\.jinja2"):
        check_templates(load_recipe(path))
    assert not marker.exists()


def test_teacher_and_judge_prompts_are_sandboxed_too(tmp_path):
    marker = tmp_path / "PWNED"
    escape = ESCAPES["cycler_globals"].replace("{marker}", str(marker))
    for field in ("teacher_system", "teacher_user", "judge"):
        path = _override(tmp_path, field, escape)
        with pytest.raises(RecipeError, match=rf"prompts\.{field}: template"):
            check_templates(load_recipe(path))
        assert not marker.exists()


def test_the_context_is_plain_data_only(write_recipe):
    """What templates receive holds no object whose attributes lead to modules."""
    recipe = load_recipe(write_recipe(MINIMAL)).with_teacher(
        backend="openai", model="m", base_url="http://127.0.0.1:9/v1"
    )
    prompts = TeacherPrompts(recipe)
    context = prompts._student.context  # the student's system prompt context
    plain = (str, int, float, bool, type(None), dict, list, tuple, frozenset)

    def walk(value, where):
        if callable(value):
            assert where == "domain.policy_version", where
            return
        assert isinstance(value, plain), (where, type(value))
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list | tuple | frozenset):
            for item in value:
                walk(item, where)

    for name, value in context.items():
        walk(value, name)


def test_secrets_in_the_environment_are_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_value")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-key-value")
    attempts = [
        "{{ environ }}",
        "{{ os.environ }}",
        "{{ self._TemplateReference__context }}",
        "{{ lipsum.__globals__.os.environ.HF_TOKEN }}",
        "{{ cycler.__init__.__globals__.os.environ['OPENAI_API_KEY'] }}",
        "{{ config }}",
    ]
    env = _environment(tmp_path)
    for source in attempts:
        try:
            text = env.from_string(source).render(row={})
        except Exception:  # refused, one way or another, is the point
            continue
        assert "secret" not in text, source
    # Nothing in the environment's globals is a module or exposes one.
    assert sorted(env.globals) == ["cycler", "dict", "joiner", "lipsum", "namespace", "range"]


@pytest.mark.parametrize(
    "tag",
    [
        "{% include '/etc/passwd' %}",
        "{% include '../../../../../../etc/passwd' %}",
        "{% include 'sub/../../outside.txt' %}",
        "{% import '/etc/passwd' as p %}",
        "{% extends '../outside.txt' %}",
        "{% include 'link.txt' %}",
    ],
)
def test_includes_stay_inside_the_recipe_folder(tag, tmp_path):
    folder = tmp_path / "recipe"
    folder.mkdir()
    (tmp_path / "outside.txt").write_text("SECRET-OUTSIDE", encoding="utf-8")
    (folder / "link.txt").symlink_to(tmp_path / "outside.txt")
    (folder / "override.jinja2").write_text(tag + "\n{{ row.credit_score }}", encoding="utf-8")
    (folder / "recipe.yaml").write_text(MINIMAL + "prompts:\n  user: override.jinja2\n")
    with pytest.raises(RecipeError, match=r"prompts\.user: template .*override\.jinja2"):
        check_templates(load_recipe(folder / "recipe.yaml"))


def test_an_include_inside_the_folder_and_a_built_in_partial_still_work(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "head.jinja2").write_text("Case {{ row.credit_score }}")
    (tmp_path / "override.jinja2").write_text("{% include 'parts/head.jinja2' %} ok")
    (tmp_path / "recipe.yaml").write_text(MINIMAL + "prompts:\n  user: override.jinja2\n")
    recipe = load_recipe(tmp_path / "recipe.yaml")
    check_templates(recipe)
    from factory.pipeline.prompts import prompt_builder

    assert prompt_builder(recipe).user({"credit_score": 700}) == "Case 700 ok"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/etc/hostname", "must be a path relative to the recipe's folder"),
        ("../../../../../../etc/hostname", "outside the recipe's folder"),
        ("../outside.txt", "outside the recipe's folder"),
        ("escape.jinja2", "outside the recipe's folder"),  # a symlink out of the folder
        ("missing.jinja2", "no such template file"),
    ],
)
def test_template_paths_outside_the_folder_are_refused_at_validate(value, expected, tmp_path):
    folder = tmp_path / "recipe"
    folder.mkdir()
    (tmp_path / "outside.txt").write_text("SECRET-OUTSIDE", encoding="utf-8")
    (folder / "escape.jinja2").symlink_to(tmp_path / "outside.txt")
    path = folder / "recipe.yaml"
    path.write_text(MINIMAL + f"prompts:\n  system: {value!r}\n", encoding="utf-8")
    result = runner.invoke(app, ["recipes", "validate", str(path)])
    assert result.exit_code == 2
    assert "prompts.system" in result.stderr and expected in result.stderr
    assert "SECRET" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_command_line_override_cannot_point_a_template_outside(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    result = runner.invoke(app, ["recipes", "validate", str(path), "prompts.user=/etc/passwd"])
    assert result.exit_code == 2
    assert "prompts.user" in result.stderr


def test_validate_and_generate_refuse_an_unsafe_template_before_any_row(tmp_path):
    marker = tmp_path / "PWNED"
    path = _override(tmp_path, "user", ESCAPES["lipsum_globals"].replace("{marker}", str(marker)))
    result = runner.invoke(app, ["recipes", "validate", str(path)])
    assert result.exit_code == 2
    assert "prompts.user" in result.stderr and "override.jinja2" in result.stderr
    assert "unsafe" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    out = tmp_path / "out"
    result = runner.invoke(app, ["generate", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "prompts.user" in result.stderr and "override.jinja2" in result.stderr
    assert not marker.exists()
    shards = out / "_work" / "shards"
    assert not shards.exists() or not any(shards.iterdir())


def test_a_template_that_fails_at_run_time_is_a_recipe_error(tmp_path):
    # Not TemplateErrors: a huge range (the sandbox caps it) and a division by zero.
    for text in ("{{ range(10**9) | list | length }}", "{{ 1 / 0 }}"):
        path = _override(tmp_path, "user", text)
        with pytest.raises(RecipeError, match=r"prompts\.user"):
            check_templates(load_recipe(path))


def test_no_marker_left_in_the_working_directory():
    # Escapes that would write relative to the current directory never did either.
    assert not Path(os.getcwd(), "PWNED").exists()
