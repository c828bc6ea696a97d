"""The teacher and judge LLMs a recipe asks for (`build_teacher`, `build_judge`), and the
probe of the servers they name. See factory/teachers/__init__.py for the backends."""

from __future__ import annotations

from distilabel.models.llms.base import LLM

from factory import _distilabel  # noqa: F401  (must run before distilabel is imported)
from factory.errors import UsageError
from factory.recipe import TEACHER_BACKENDS, LLMSettings, RecipeBase
from factory.teachers.llm import ChatLLM
from factory.teachers.openai_server import OpenAITeacher, probe
from factory.teachers.template import TemplateTeacher
from factory.teachers.vllm_engine import VllmTeacher

TEACHERS = TEACHER_BACKENDS


def build_teacher(recipe: RecipeBase) -> LLM:
    """The teacher LLM a recipe asks for."""
    teacher = recipe.teacher
    if teacher.backend == "template":
        return TemplateTeacher(
            domain=recipe.domain,
            task=recipe.task,
            policy=recipe.policy.model_dump(mode="json"),
            seed=recipe.profiles.seed,
        )
    return build_llm(teacher, teacher.backend, recipe, role="teacher", mode=teacher.mode)


def build_judge(recipe: RecipeBase) -> ChatLLM:
    """The judge LLM of a recipe whose filters name one."""
    judge = recipe.filters.judge
    if judge is None:
        raise UsageError("the recipe has no filters.judge section")
    return build_llm(judge, judge.backend, recipe, role="judge", mode="judge")


def probe_servers(recipe: RecipeBase) -> None:
    """Checks with one short request each that the OpenAI-compatible servers the recipe's
    teacher and judge name answer, accept the key and serve the model.

    Raises:
        BackendError: one of them cannot be used (the message says which and how to fix it).
    """
    sections: list[tuple[str, LLMSettings, str]] = [
        ("teacher", recipe.teacher, recipe.teacher.backend)
    ]
    if recipe.filters.judge is not None:
        sections.append(("filters.judge", recipe.filters.judge, recipe.filters.judge.backend))
    for field, settings, backend in sections:
        if backend == "openai":
            probe(settings, field)


def build_llm(
    settings: LLMSettings, backend: str, recipe: RecipeBase, *, role: str, mode: str
) -> ChatLLM:
    """An LLM backend from a teacher or judge section."""
    assert settings.model is not None  # the recipe schema requires it for LLM backends
    seed = settings.seed if settings.seed is not None else recipe.profiles.seed
    common = {
        "model": settings.model,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_new_tokens": settings.max_new_tokens,
        "stop": list(settings.stop),
        "seed": seed,
        "max_retries": settings.max_retries,
        "role": role,
        "mode": mode,
    }
    if backend == "vllm":
        return VllmTeacher(engine_args=dict(settings.engine_args), **common)
    if backend == "openai":
        assert settings.base_url is not None
        return OpenAITeacher(
            base_url=settings.base_url,
            api_key_env=settings.api_key_env,
            timeout_s=settings.timeout_s,
            max_concurrency=settings.max_concurrency,
            **common,
        )
    raise UsageError(f"unknown LLM backend {backend!r}; use one of {', '.join(TEACHERS[1:])}")


__all__ = [
    "TEACHERS",
    "ChatLLM",
    "OpenAITeacher",
    "TemplateTeacher",
    "VllmTeacher",
    "build_judge",
    "build_llm",
    "build_teacher",
    "probe_servers",
]
