"""Shared fixtures. Tests never reach the network: models and the Hub are built locally."""

from __future__ import annotations

import os

import pytest

# distilabel logs every batch at INFO; tests read results, not logs.
os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")


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
