"""Shared fixtures. Tests never reach the network: models and the Hub are built locally."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# distilabel logs every batch at INFO; tests read results, not logs.
os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")
# vLLM on CPU (the tests' tiny models): 1 GiB of KV cache is plenty, and its INFO lines are noise.
# Set before any step process starts, since they inherit this environment.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
# Tests never reach the Hub: a model id that is not on disk fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def write_recipe(tmp_path):
    """Writes a recipe file from text and returns its path."""

    def write(text: str, name: str = "recipe.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


MINIMAL = """\
name: tiny
domain: lending
description: a tiny test recipe
profiles:
  count: 300
  seed: 3
  shard_size: 100
"""


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Llama whose tokenizer learned from lending prompts and template-teacher answers
    (so a prompt is a few hundred tokens, not thousands)."""
    from tests.tiny import build_lending_model

    return build_lending_model(tmp_path_factory.mktemp("tiny-llama"))
