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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

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


class _PromptEnvironment(jinja2.Environment):
    """Jinja's environment, reading `row.credit_score` from a plain dict without an exception.

    Jinja resolves `a.b` as the attribute b, else the item "b". On a row dict the attribute
    lookup fails for every column, and raising and catching that AttributeError took a third
    of the time of rendering a user prompt, once per example. A plain dict's only attributes
    are its class's, so for any other name the item is what Jinja would return: the same value
    (or the same undefined) without the exception.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _environment(*folders: Path) -> jinja2.Environment:
    """A Jinja environment whose templates may {% include %} partials from `folders`."""
    return _PromptEnvironment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # plain-text prompts, never HTML
    )


class PromptBuilder:
    """Renders the system and user messages of one task.

    Args:
        domain: the recipe's domain.
        task: the recipe's task.
        policy: the recipe's policy (thresholds shown in the system prompt).
        system_override: a template file that replaces the task's system prompt.
        user_override: a template file that replaces the task's user prompt.
    """

    def __init__(
        self,
        domain: Domain,
        task: Task,
        policy: PolicyBase,
        system_override: Path | None = None,
        user_override: Path | None = None,
        policy_style: str = "full",
    ) -> None:
        system_path = system_override or domain.prompt_dir / task.system_template
        self._user_path = user_override or domain.prompt_dir / task.user_template
        system = _template(system_path, domain.prompt_dir)
        self._user = _template(self._user_path, domain.prompt_dir)
        # The rule table's view of the policy (None for a domain without a table): the system
        # prompt states its rules, the user prompt shows the recipe's extra columns.
        self._policy_prompt = domain.policy_prompt(policy, policy_style)
        try:
            self.system = system.render(
                policy=policy, domain=domain, task=task, policy_prompt=self._policy_prompt
            ).strip()
        except jinja2.TemplateError as err:
            raise RecipeError(str(system_path), f"prompt template error: {err}") from None

    def user(self, row: Mapping[str, Any]) -> str:
        """The user message for one labelled profile."""
        extra = self._policy_prompt.shown_inputs(row) if self._policy_prompt else []
        try:
            return self._user.render(row=row, extra=extra).strip()
        except jinja2.TemplateError as err:
            raise RecipeError(str(self._user_path), f"prompt template error: {err}") from None

    def messages(self, row: Mapping[str, Any]) -> list[dict[str, str]]:
        """System and user messages, ready for a chat template."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user(row)},
        ]


def _template(path: Path, domain_dir: Path) -> jinja2.Template:
    """Loads `path`; its includes resolve next to it first, then in the domain's prompts/."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RecipeError(str(path), f"cannot read prompt template ({err.strerror})") from None
    try:
        return _environment(path.parent, domain_dir).from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise RecipeError(
            str(path), f"Jinja syntax error at line {err.lineno}: {err.message}"
        ) from None


def prompt_builder(recipe: RecipeBase) -> PromptBuilder:
    """The student prompt builder of a recipe (overrides resolved against the recipe's folder)."""
    domain = recipe.domain_impl
    return PromptBuilder(
        domain,
        domain.tasks[recipe.task],
        recipe.policy,
        system_override=recipe.prompts.system,
        user_override=recipe.prompts.user,
        policy_style=recipe.prompts.policy,
    )


def _render(path: Path, template: jinja2.Template, **values: Any) -> str:
    try:
        return template.render(**values).strip()
    except jinja2.TemplateError as err:
        raise RecipeError(str(path), f"prompt template error: {err}") from None


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
        self._system_path = recipe.prompts.teacher_system or (
            TEACHER_PROMPTS / f"{self.mode}.system.jinja2"
        )
        # A domain may brief the teacher itself (the knowledge domain shows it the passage).
        own = self._domain.prompt_dir / f"teacher_{self.mode}.user.jinja2"
        self._user_path = recipe.prompts.teacher_user or (
            own if own.exists() else TEACHER_PROMPTS / f"{self.mode}.user.jinja2"
        )
        self._user = _template(self._user_path, TEACHER_PROMPTS)
        self.system = _render(
            self._system_path,
            _template(self._system_path, TEACHER_PROMPTS),
            student_system=self._student.system,
            domain=self._domain,
            task=self._task,
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
            return _render(
                self._user_path, self._user, student_user=student_user, draft=self.draft(row, index)
            )
        texts = self._domain.reason_texts_for(self._policy)
        return _render(
            self._user_path,
            self._user,
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
        self._path = recipe.prompts.judge or TEACHER_PROMPTS / "judge.user.jinja2"
        self._template = _template(self._path, TEACHER_PROMPTS)

    def chat(self, user: str, answer: str) -> list[dict[str, str]]:
        """`user` is the example's user message, `answer` its assistant message."""
        content = _render(
            self._path,
            self._template,
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
        self._path = domain.prompt_dir / task.polish.template
        self._template = _template(self._path, domain.prompt_dir)

    def user(self, **values: Any) -> str:
        """Renders the prompt with `extraction`, `decision`, `reasons` and `row`."""
        return _render(self._path, self._template, **values)
