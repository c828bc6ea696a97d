"""Teachers: distilabel LLMs that write the reasoning. A recipe names a backend key.

The closed registry maps `teacher.backend` to the class that builds it.
"""

from __future__ import annotations

from distilabel.models.llms.base import LLM

from factory import _distilabel  # noqa: F401  (must run before distilabel is imported)
from factory.errors import UsageError
from factory.recipe import RecipeBase
from factory.teachers.template import TemplateTeacher

TEACHERS = ("template", "vllm", "openai")


def build_teacher(recipe: RecipeBase) -> LLM:
    """The teacher LLM a recipe asks for."""
    backend = recipe.teacher.backend
    if backend == "template":
        return TemplateTeacher(
            domain=recipe.domain,  # type: ignore[attr-defined]
            task=recipe.task,  # type: ignore[attr-defined]
            policy=recipe.policy.model_dump(mode="json"),  # type: ignore[attr-defined]
            seed=recipe.profiles.seed,  # type: ignore[attr-defined]
        )
    raise UsageError(
        f"teacher backend {backend!r} is not available in this version of fin-factory; "
        "use --teacher template"
    )


__all__ = ["TEACHERS", "TemplateTeacher", "build_teacher"]
