"""What `serve` and `predict` answer with: a run folder or recipe resolved to models and a recipe,
and the backends started (vLLM's own OpenAI server per model) or reached (--model-url/--base-url).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.dataset import read_manifest
from factory.errors import UsageError
from factory.recipe import RecipeBase, ServeConfig, load_recipe, parse_recipe
from factory.serve.backends import ChatBackend, VllmServer, served_model_name, start_vllm
from factory.serve.service import Identity

#: The names the servers we start serve their models under.
MODEL_NAME = "fine-tuned"
BASE_NAME = "base"


@dataclass(frozen=True)
class Deployment:
    """A recipe and the models that answer for it.

    Attributes:
        recipe: the recipe the model was trained on (its serve: section included).
        run_dir: the training run folder.
        model: the merged fine-tuned model folder (None when none exists here).
        base_model: the base model (a folder or Hub id) for two-step tasks.
    """

    recipe: RecipeBase
    run_dir: Path
    model: Path | None
    base_model: str | None

    @property
    def settings(self) -> ServeConfig:
        return self.recipe.serve or ServeConfig()

    @property
    def audit_db(self) -> Path:
        return self.settings.audit_db or self.run_dir / "audit.db"

    @property
    def two_step(self) -> bool:
        task = self.recipe.domain_impl.tasks[self.recipe.task]
        return task.polish is not None


def resolve(target: str) -> Deployment:
    """A run folder (its train_manifest names the dataset, whose manifest holds the recipe), or a
    recipe (its run folder is runs/NAME).

    Raises:
        UsageError / RecipeError / DatasetError: neither a run folder nor a recipe.
    """
    folder = Path(target)
    if folder.is_dir():
        manifest_path = folder / "train_manifest.json"
        if not manifest_path.is_file():
            raise UsageError(f"{folder}: no train_manifest.json (not a fin-factory run folder)")
        trained = json.loads(manifest_path.read_text(encoding="utf-8"))
        dataset = Path(trained["dataset"]["path"])
        content = read_manifest(dataset)["recipe"]["content"]
        recipe = parse_recipe(content, source=str(dataset / "manifest.json"))
        merged = folder / "merged"
        return Deployment(
            recipe, folder, merged if merged.is_dir() else None, trained["base_model"]
        )
    recipe = load_recipe(target)
    run_dir = Path("runs") / recipe.name
    merged = run_dir / "merged"
    base = recipe.train.base_model if recipe.train else None
    return Deployment(recipe, run_dir, merged if merged.is_dir() else None, base)


@contextmanager
def backends(
    deployment: Deployment,
    *,
    model_url: str | None = None,
    base_url: str | None = None,
    log: Any = print,
) -> Iterator[tuple[ChatBackend, ChatBackend | None, Identity]]:
    """The model backends of a deployment, started or reached; servers we started stop on exit.

    Raises:
        UsageError: no model to start and no URL given, or a URL that answers no /models.
    """
    settings = deployment.settings
    started: list[VllmServer] = []
    with ExitStack() as stack:

        def stop_all() -> None:
            for server in reversed(started):
                server.stop()

        stack.callback(stop_all)
        logs = deployment.run_dir / "serve-logs"

        def backend(url: str | None, local: str | None, name: str, role: str) -> ChatBackend:
            if url is not None:
                return ChatBackend(url, served_model_name(url), timeout_s=settings.timeout_s)
            if local is None:
                raise UsageError(
                    f"no {role} to start: {deployment.run_dir / 'merged'} does not exist "
                    f"(train first, or pass --{'model' if role == 'model' else 'base'}-url)"
                )
            log(f"starting vLLM for the {role} ({local}); log: {logs / (name + '.log')}")
            server = start_vllm(local, name, logs / f"{name}.log", settings.engine_args)
            started.append(server)
            return ChatBackend(server.url, server.model, timeout_s=settings.timeout_s)

        local_model = str(deployment.model) if deployment.model else None
        model = backend(model_url, local_model, MODEL_NAME, "model")
        base = None
        if deployment.two_step:
            base = backend(base_url, deployment.base_model, BASE_NAME, "base model")
        yield model, base, _identity(deployment, model, base)


def _identity(deployment: Deployment, model: ChatBackend, base: ChatBackend | None) -> Identity:
    from factory.evaluate.run import model_identity

    def who(backend: ChatBackend, local: str | None) -> dict[str, Any]:
        known = model_identity(local) if local else {}
        return {"served_as": backend.model, "url": backend.url, **known}

    local = str(deployment.model) if deployment.model else None
    base_local = deployment.base_model if deployment.base_model else None
    return Identity(
        model=who(model, local),
        base=None if base is None else who(base, base_local),
        extra={"run_dir": str(deployment.run_dir.resolve())},
    )
