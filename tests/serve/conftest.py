"""Fixtures of the serving tests: recipes, an oracle backend that answers like the template
teacher, and a service running on loopback (uvicorn in a thread)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from factory.pipeline.prompts import prompt_builder
from factory.recipe import RecipeBase, parse_recipe
from factory.serve.backends import ChatBackend, free_port
from factory.serve.case import case_sample
from factory.serve.service import Identity, Service
from tests.serve.fake_backend import Scripted


def make_recipe(domain: str = "lending", task: str | None = None, **serve: Any) -> RecipeBase:
    data: dict[str, Any] = {
        "name": f"serve-{domain}",
        "domain": domain,
        "description": "serving tests",
        "profiles": {"count": 200, "seed": 5, "shard_size": 100},
        "serve": serve,
    }
    if task:
        data["task"] = task
    return parse_recipe(data)


def sample_cases(recipe: RecipeBase, n: int) -> list[dict[str, Any]]:
    """n cases as a caller would send them (no id: the service makes one up)."""
    domain = recipe.domain_impl
    rows = case_sample(recipe).head(n).to_dicts()
    for row in rows:
        row.pop(domain.id_column)
    return rows


class Oracle:
    """Answers each user prompt as the template teacher would (so answers verify), or with a
    scripted override per prompt."""

    def __init__(self, recipe: RecipeBase) -> None:
        self.recipe = recipe
        self.prompts = prompt_builder(recipe)
        self.domain = recipe.domain_impl
        self.task = self.domain.tasks[recipe.task]
        self.overrides: dict[str, Scripted] = {}
        self.polish_text = "This is a short, friendly paragraph."

    def answer_for(self, row: dict[str, Any]) -> str:
        return self.task.write(row, self.recipe.policy, random.Random(0))

    def __call__(self, body: dict[str, Any]) -> Scripted:
        user = body["messages"][-1]["content"]
        if user in self.overrides:
            return self.overrides[user]
        if len(body["messages"]) == 1:  # the polish step: the base model's single user message
            return Scripted(self.polish_text)
        row = self._rows[user]
        return Scripted(self.answer_for(row))

    def learn(self, rows: list[dict[str, Any]]) -> None:
        self._rows = getattr(self, "_rows", {})
        for row in rows:
            self._rows[self.prompts.user(row)] = row


def service_for(recipe: RecipeBase, url: str, db: Path, base_url: str | None = None) -> Service:
    model = ChatBackend(url, "fake-model", timeout_s=10)
    base = ChatBackend(base_url, "fake-model", timeout_s=10) if base_url else None
    return Service(recipe, model, base, db, Identity(model={"served_as": "fake-model"}))


@contextmanager
def running(service: Service) -> Iterator[str]:
    """The service's app on a loopback port (uvicorn in a thread); yields its root URL."""
    import uvicorn

    from factory.serve.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def lending():
    return make_recipe("lending", min_confidence=0.5)
