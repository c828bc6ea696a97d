"""Fixtures of the teacher tests: a tiny model built here, never downloaded."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from factory.pipeline.prompts import prompt_builder
from factory.recipe import parse_recipe
from factory.synth import Shard, labelled_shard
from tests.tiny import build_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Llama whose tokenizer learned from lending prompts and template-teacher answers
    (so a prompt is a few hundred tokens, not thousands)."""
    recipe = parse_recipe(
        {"name": "corpus", "domain": "lending", "description": "tokenizer corpus"}
    )
    task = recipe.domain_impl.tasks[recipe.task]
    prompts = prompt_builder(recipe)
    rows = labelled_shard(recipe, Shard(0, 0, 200)).to_dicts()
    corpus = [prompts.system] * 20 + [prompts.user(row) for row in rows]
    corpus += [task.write(row, recipe.policy, random.Random(i)) for i, row in enumerate(rows)]
    return build_model(tmp_path_factory.mktemp("tiny-llama"), corpus, vocab_size=4000)
