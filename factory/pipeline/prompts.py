"""Prompt rendering: a domain task's Jinja templates, or the recipe's overrides.

Three kinds of prompt, all Jinja templates a recipe may override:

- the student's (PromptBuilder): the domain task's system prompt (policy and output format,
  rendered once per run) and user prompt (one labelled profile, never the engine's answer).
  These are the system and user messages of every dataset example;
- an LLM teacher's (TeacherPrompts), in factory/teachers/prompts/: in write mode the student's
  prompts plus the engine's decision, reasons and numbers, after a few worked examples by the
  template teacher; in paraphrase mode the template teacher's answer to rewrite;
- the judge's (JudgePrompts): a rubric over the student's prompts and the kept answer.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment

from factory.domains import Domain, Fact, PolicyBase, Task
from factory.errors import RecipeError
from factory.recipe import RecipeBase
from factory.synth import Shard, labelled_shard
from factory.teachers.base import row_seed

#: The LLM teacher's and the judge's templates.
TEACHER_PROMPTS = Path(__file__).resolve().parent.parent / "teachers" / "prompts"
#: The shard the write mode's worked examples come from: never one of a run's own shards.
EXEMPLAR_SHARD = Shard(index=2**31 - 1, offset=0, size=256)


#: What `getattr` finds on a plain dict: its methods (a dict instance has no attributes of its own).
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _PromptEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, reading `row.credit_score` from a plain dict without an exception.

    Recipes and their templates are untrusted: the sandbox refuses underscore attributes,
    function and frame internals, `str.format` attribute access and mutating methods, so a
    template cannot climb from a value to Python's internals and run anything.

    Jinja resolves `a.b` as the attribute b, else the item "b". On a row dict the attribute
    lookup fails for every column, and raising and catching that AttributeError took a third
    of the time of rendering a user prompt, once per example. A plain dict's only attributes
    are its class's, so for any other name the item is what the sandbox would return: the same
    value (or the same undefined) without the exception. Returning a dict's own item hands the
    template nothing it could not already reach with `row["name"]`.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # The sandbox wraps every `"...".format` in a pure-Python formatter so that a field
        # such as {0.__class__} is refused; that formatter was most of the time of a user
        # prompt. A format string whose every field is a bare position or name (no attribute or
        # index access, no nested field in a spec) cannot reach an attribute, so Python's own
        # str.format renders it to the same text.
        owner = getattr(value, "__self__", None)
        if (
            type(owner) is str
            and getattr(value, "__name__", None) == "format"
            and _plain_format(owner)
        ):
            return value
        return super().wrap_str_format(value)


@lru_cache(maxsize=4096)
def _plain_format(text: str) -> bool:
    """True when the fields of format string `text` only name positions or keywords."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return False  # malformed: let the sandbox's formatter raise its error
    for _, name, spec, _ in fields:
        if name is None:
            continue
        if not (name == "" or name.isdigit() or name.isidentifier()):
            return False
        if spec and "{" in spec:
            return False
    return True


class _ConfinedLoader(jinja2.BaseLoader):
    """Loads templates from `folders` only: a name whose file, symlinks resolved, lies outside
    the folder it was found in is not found. `..` in a name is refused by Jinja's own split."""

    def __init__(self, folders: list[Path]) -> None:
        self._folders = [folder.resolve() for folder in folders]

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)
        for folder in self._folders:
            path = folder.joinpath(*pieces).resolve()
            if not path.is_relative_to(folder) or not path.is_file():
                continue
            try:
                source = path.read_text(encoding="utf-8")
            except OSError:
                continue
            return source, str(path), lambda: True
        raise jinja2.TemplateNotFound(template)


def _environment(*folders: Path) -> jinja2.Environment:
    """A sandboxed Jinja environment whose templates may only load files inside `folders`."""
    return _PromptEnvironment(
        loader=_ConfinedLoader(list(folders)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # plain-text prompts, never HTML
    )


_PLAIN_SCALARS = (str, int, float, bool, type(None))
#: What `_plain` answers for a value that is not plain data.
_NOT_PLAIN = object()


def _plain(value: Any) -> Any:
    """`value` as plain data (str, numbers, containers of them), or `_NOT_PLAIN`.

    Templates get plain data only: an object's methods and attributes (a pydantic model's
    class, a domain's functions) are paths toward modules that the sandbox alone should not be
    trusted to close.
    """
    if isinstance(value, _PLAIN_SCALARS):
        return value
    if isinstance(value, Mapping):
        items = {_plain(k): _plain(v) for k, v in value.items()}
        return _NOT_PLAIN if _NOT_PLAIN in items or _NOT_PLAIN in items.values() else items
    if isinstance(value, tuple | list | frozenset):
        values = [_plain(v) for v in value]
        return _NOT_PLAIN if _NOT_PLAIN in values else type(value)(values)
    return _NOT_PLAIN


def _policy_view(policy: PolicyBase) -> dict[str, Any]:
    """The policy's thresholds as a plain dict."""
    return policy.model_dump(mode="python")


def _domain_view(domain: Domain, policy: PolicyBase) -> dict[str, Any]:
    """The domain's plain-data class attributes (reason texts, labels, ...) as a dict, and
    `policy_version(policy)`, the one method the built-in prompts call, answering with the
    recipe's policy version."""
    view: dict[str, Any] = {}
    for name in dir(type(domain)):
        if name.startswith("_"):
            continue
        value = getattr(type(domain), name)
        if callable(value) or isinstance(value, property):
            continue
        plain = _plain(value)
        if plain is not _NOT_PLAIN:
            view[name] = plain
    version = domain.policy_version(policy)
    view["policy_version"] = lambda _policy=None: version
    return view


def _task_view(task: Task) -> dict[str, Any]:
    return {
        "name": task.name,
        "description": task.description,
        "system_template": task.system_template,
        "user_template": task.user_template,
    }


class _Prompt:
    """One compiled template, and where it came from for error messages.

    Args:
        path: the template file.
        folders: where its {% include %}/{% import %}/{% extends %} may load from (its own
            folder first): a loader confined to them.
        source: the recipe file, named in errors.
        field: the recipe field that named the template (None for a built-in one).
    """

    def __init__(self, path: Path, folders: list[Path], source: str, field: str | None) -> None:
        self.path = path
        self._source = source
        self._field = field
        environment = _environment(path.parent, *folders)
        try:
            self._template = environment.get_template(path.name)
        except jinja2.TemplateSyntaxError as err:
            raise self._error(f"Jinja syntax error at line {err.lineno}: {err.message}") from None
        except jinja2.TemplateNotFound:
            raise self._error("cannot read the prompt template") from None
        except OSError as err:
            raise self._error(f"cannot read the prompt template ({err.strerror})") from None

    def render(self, **values: Any) -> str:
        try:
            return self._template.render(**values).strip()
        except jinja2.exceptions.SecurityError as err:
            raise self._error(f"refused by the template sandbox: {err}") from None
        except jinja2.TemplateError as err:
            raise self._error(f"prompt template error: {err}") from None
        except Exception as err:  # a template's own failure, e.g. {{ 1 / 0 }}
            raise self._error(f"prompt template failed: {type(err).__name__}: {err}") from None

    def _error(self, message: str) -> RecipeError:
        if self._field is None:
            return RecipeError(str(self.path), message)
        return RecipeError(self._source, f"template {self.path}: {message}", field=self._field)


class PromptBuilder:
    """Renders the system and user messages of one task.

    Args:
        domain: the recipe's domain.
        task: the recipe's task.
        policy: the recipe's policy (thresholds shown in the system prompt).
        system_override: a template file that replaces the task's system prompt.
        user_override: a template file that replaces the task's user prompt.
        source: the recipe file, named with the override's field in errors.
        policy_style: how the system prompt states a rule table's policy (the recipe's
            prompts.policy: "full" or "compact").
    """

    def __init__(
        self,
        domain: Domain,
        task: Task,
        policy: PolicyBase,
        system_override: Path | None = None,
        user_override: Path | None = None,
        source: str = "<recipe>",
        policy_style: str = "full",
    ) -> None:
        # The rule table's view of the policy (None for a domain without a table): the system
        # prompt states its rules, the user prompt shows the recipe's extra columns.
        self._policy_prompt = domain.policy_prompt(policy, policy_style)
        self.context = {
            "policy": _policy_view(policy),
            "domain": _domain_view(domain, policy),
            "task": _task_view(task),
            "policy_prompt": self._policy_prompt.view() if self._policy_prompt else None,
        }
        system = _prompt(
            domain.prompt_dir / task.system_template,
            system_override,
            [domain.prompt_dir],
            source,
            "prompts.system",
        )
        self._user = _prompt(
            domain.prompt_dir / task.user_template,
            user_override,
            [domain.prompt_dir],
            source,
            "prompts.user",
        )
        self.system = system.render(**self.context)

    def user(self, row: Mapping[str, Any]) -> str:
        """The user message for one labelled profile."""
        extra = self._policy_prompt.shown_inputs(row) if self._policy_prompt else []
        return self._user.render(row=row, extra=extra)

    def messages(self, row: Mapping[str, Any]) -> list[dict[str, str]]:
        """System and user messages, ready for a chat template."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user(row)},
        ]


def _prompt(
    builtin: Path, override: Path | None, folders: list[Path], source: str, field: str
) -> _Prompt:
    """The recipe's override of a prompt (confined to its own folder), else the built-in one.

    An override's includes resolve next to it first, then among the built-in templates.
    """
    if override is None:
        return _Prompt(builtin, folders, source, None)
    return _Prompt(override, folders, source, field)


def prompt_builder(recipe: RecipeBase) -> PromptBuilder:
    """The student prompt builder of a recipe (overrides resolved against the recipe's folder)."""
    domain = recipe.domain_impl
    return PromptBuilder(
        domain,
        domain.tasks[recipe.task],
        recipe.policy,
        system_override=recipe.prompts.system,
        user_override=recipe.prompts.user,
        source=_source(recipe),
        policy_style=recipe.prompts.policy,
    )


def _source(recipe: RecipeBase) -> str:
    return str(recipe.source or recipe.name)


def shown_facts(facts: Mapping[str, Fact]) -> list[tuple[str, str]]:
    """The engine's numbers as a teacher is shown them: percentages for fractions, thousands
    commas, two decimals unless whole (the forms the numbers verifier reads back)."""
    shown = []
    for name, fact in facts.items():
        if fact.percent:
            text = f"{fact.value * 100:.2f}%"
        elif float(fact.value).is_integer():
            text = f"{fact.value:,.0f}"
        else:
            text = f"{fact.value:,.2f}"
        shown.append((name, text))
    return shown


class TeacherPrompts:
    """The chat an LLM teacher gets for one row, by the recipe's teacher mode.

    write: [system: the student's system prompt + the writer's brief] + `few_shot` worked
    examples (user: a case with the engine's result; assistant: the template teacher's answer)
    + [user: this case with the engine's result]. paraphrase: [system: the rewriter's brief]
    + [user: this case and the template teacher's answer to rewrite].
    """

    def __init__(self, recipe: RecipeBase) -> None:
        self._domain = recipe.domain_impl
        self._task = self._domain.tasks[recipe.task]
        self._policy: PolicyBase = recipe.policy
        self._seed: int = recipe.profiles.seed
        self._student = prompt_builder(recipe)
        self.mode = recipe.teacher.mode
        source, folders = _source(recipe), [TEACHER_PROMPTS]
        system = _prompt(
            TEACHER_PROMPTS / f"{self.mode}.system.jinja2",
            recipe.prompts.teacher_system,
            folders,
            source,
            "prompts.teacher_system",
        )
        # A domain may brief the teacher itself (the knowledge domain shows it the passage).
        own = self._domain.prompt_dir / f"teacher_{self.mode}.user.jinja2"
        self._user = _prompt(
            own if own.is_file() else TEACHER_PROMPTS / f"{self.mode}.user.jinja2",
            recipe.prompts.teacher_user,
            folders,
            source,
            "prompts.teacher_user",
        )
        self.system = system.render(
            student_system=self._student.system,
            domain=self._student.context["domain"],
            task=self._student.context["task"],
        )
        self._examples: list[dict[str, str]] = []
        if self.mode == "write" and recipe.teacher.few_shot:
            self._examples = self._worked_examples(recipe, recipe.teacher.few_shot)

    def draft(self, row: Mapping[str, Any], index: int) -> str:
        """The template teacher's answer for row `index` (the same one a template run keeps)."""
        return self._task.write(row, self._policy, random.Random(row_seed(self._seed, index)))

    def user(self, row: Mapping[str, Any], index: int) -> str:
        """The teacher's user message for one labelled row."""
        student_user = self._student.user(row)
        if self.mode == "paraphrase":
            return self._user.render(student_user=student_user, draft=self.draft(row, index))
        texts = self._domain.reason_texts_for(self._policy)
        return self._user.render(
            student_user=student_user,
            row=row,
            decision=row["decision"],
            reasons=[(code, texts.get(code, "")) for code in row["reason_codes"] or ()],
            facts=shown_facts(self._domain.facts(row, self._policy)),
        )

    def chat(self, row: Mapping[str, Any], index: int) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system},
            *self._examples,
            {"role": "user", "content": self.user(row, index)},
        ]

    def _worked_examples(self, recipe: RecipeBase, count: int) -> list[dict[str, str]]:
        """`count` worked examples from the exemplar shard, covering as many decisions as it can
        (first the first row of each decision, then the next rows in order)."""
        rows = labelled_shard(recipe, EXEMPLAR_SHARD).to_dicts()
        chosen: list[int] = []
        seen: set[str] = set()
        for i, row in enumerate(rows):
            if row["decision"] not in seen:
                seen.add(row["decision"])
                chosen.append(i)
        chosen += [i for i in range(len(rows)) if i not in chosen]
        messages = []
        for i in chosen[:count]:
            index = -1 - i  # a run's own rows have indexes >= 0
            messages.append({"role": "user", "content": self.user(rows[i], index)})
            messages.append({"role": "assistant", "content": self.draft(rows[i], index)})
        return messages


class JudgePrompts:
    """The judge's chat for one example: the rubric over the case and the kept answer."""

    def __init__(self, recipe: RecipeBase) -> None:
        self._student = prompt_builder(recipe)
        self._prompt = _prompt(
            TEACHER_PROMPTS / "judge.user.jinja2",
            recipe.prompts.judge,
            [TEACHER_PROMPTS],
            _source(recipe),
            "prompts.judge",
        )

    def chat(self, user: str, answer: str) -> list[dict[str, str]]:
        """`user` is the example's user message, `answer` its assistant message."""
        content = self._prompt.render(
            student_system=self._student.system,
            student_user=user,
            answer=answer,
        )
        return [{"role": "user", "content": content}]


class PolishPrompt:
    """The base model's user message in a two-step task's second step (`Task.polish`)."""

    def __init__(self, domain: Domain, task: Task) -> None:
        if task.polish is None:
            raise ValueError(f"task {task.name!r} has no polish step")
        path = domain.prompt_dir / task.polish.template
        self._prompt = _Prompt(path, [domain.prompt_dir], str(path), None)

    def user(self, **values: Any) -> str:
        """Renders the prompt with `extraction`, `decision`, `reasons` and `row`."""
        return self._prompt.render(**values)


def check_templates(recipe: RecipeBase) -> None:
    """Renders every prompt template the recipe uses once, against its first row.

    Called before any row is generated (and by `recipes validate`), so that a template error,
    or a template the sandbox refuses, is one clear RecipeError up front rather than a failure
    inside a pipeline process; a refused template has run nothing.

    Raises:
        RecipeError: naming the recipe field and the template file.
    """
    builder = prompt_builder(recipe)
    first = labelled_shard(recipe, Shard(0, 0, 1)).to_dicts()[0]
    user = builder.user(first)
    prompts = recipe.prompts
    if recipe.teacher.backend != "template" or prompts.teacher_system or prompts.teacher_user:
        TeacherPrompts(recipe).user(first, 0)
    if recipe.filters.judge is not None or prompts.judge:
        JudgePrompts(recipe).chat(user, "An answer.")
