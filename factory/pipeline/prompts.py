"""Prompt rendering: a domain task's Jinja templates, or the recipe's overrides.

The system prompt depends only on the policy, so it is rendered once per run; the user prompt is
rendered per row from the labelled profile (it shows the inputs, never the engine's answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from factory.domains import Domain, PolicyBase, Task
from factory.errors import RecipeError


def _environment(*folders: Path) -> jinja2.Environment:
    """A Jinja environment whose templates may {% include %} partials from `folders`."""
    return jinja2.Environment(
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
    ) -> None:
        system_path = system_override or domain.prompt_dir / task.system_template
        self._user_path = user_override or domain.prompt_dir / task.user_template
        system = _template(system_path, domain.prompt_dir)
        self._user = _template(self._user_path, domain.prompt_dir)
        try:
            self.system = system.render(policy=policy, domain=domain, task=task).strip()
        except jinja2.TemplateError as err:
            raise RecipeError(str(system_path), f"prompt template error: {err}") from None

    def user(self, row: Mapping[str, Any]) -> str:
        """The user message for one labelled profile."""
        try:
            return self._user.render(row=row).strip()
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
