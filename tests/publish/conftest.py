"""Small generated datasets for the card, gate and publishing tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory.pipeline.run import generate
from factory.recipe import parse_recipe

PUBLISH = {"dataset_license": "cc-by-4.0", "dataset_repo": "fin-org/fraud-cot-small"}


def make_dataset(folder: Path, domain: str, count: int = 300, **publish: object) -> Path:
    recipe = parse_recipe(
        {
            "name": f"{domain}-small",
            "domain": domain,
            "description": f"A small {domain} dataset for the publishing tests.",
            "profiles": {"count": count, "seed": 5, "shard_size": count},
            "publish": {**PUBLISH, **publish},
        }
    )
    generate(recipe, folder)
    return folder


@pytest.fixture(scope="session")
def fraud_data(tmp_path_factory) -> Path:
    """A fraud dataset whose labels pass the four-fifths rule on every attribute."""
    return make_dataset(tmp_path_factory.mktemp("fraud") / "out", "fraud")


@pytest.fixture(scope="session")
def lending_data(tmp_path_factory) -> Path:
    """A lending dataset: its labels fail the four-fifths rule by age band (see the README)."""
    return make_dataset(tmp_path_factory.mktemp("lending") / "out", "lending", 600)


@pytest.fixture
def fraud_copy(fraud_data, tmp_path) -> Path:
    """A copy of the fraud dataset a test may change."""
    return Path(shutil.copytree(fraud_data, tmp_path / "fraud"))
