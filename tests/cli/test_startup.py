"""The CLI starts without its heavy dependencies: they load inside the commands that need them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Modules that cost a second or more to import (pandas: a fifth of one, which pyarrow loads
#: for some calls); no quick command may load them.
HEAVY = (
    "distilabel",
    "pandas",
    "torch",
    "transformers",
    "datasets",
    "huggingface_hub",
    "matplotlib",
    "vllm",
    "ray",
    "trl",
    "peft",
)
#: What loading a recipe needs (its domain's policy engine is polars and numpy), beyond which
#: `--help` needs none of it either.
DATA = ("polars", "numpy", "pyarrow", "faker")


def _loaded_after(args: list[str]) -> tuple[int, list[str]]:
    """Runs the CLI with `args` in a fresh interpreter; returns its exit code and the modules
    of HEAVY + DATA that were imported."""
    code = (
        "import json, sys\n"
        "from factory.cli import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code or 0\n"
        "names = " + repr((*HEAVY, *DATA)) + "\n"
        "print(json.dumps([code, [n for n in names if n in sys.modules]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    exit_code, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    return exit_code, loaded


@pytest.mark.parametrize("args", [["--help"], ["generate", "--help"], ["train", "--help"]])
def test_help_loads_no_heavy_module(args):
    exit_code, loaded = _loaded_after(args)
    assert exit_code == 0
    assert loaded == []


def test_recipes_validate_loads_no_heavy_module():
    recipes = sorted(str(p) for p in (ROOT / "recipes").glob("*.yaml"))
    exit_code, loaded = _loaded_after(["recipes", "validate", *recipes])
    assert exit_code == 0
    assert not set(loaded) & set(HEAVY), loaded


def test_profiles_loads_no_heavy_module(tmp_path):
    exit_code, loaded = _loaded_after(
        ["profiles", "lending-cot", "--n", "200", "--out", str(tmp_path / "p.parquet")]
    )
    assert exit_code == 0
    assert not set(loaded) & set(HEAVY), loaded


@pytest.mark.parametrize(
    "module", ["factory.evaluate.run", "factory.pipeline.prompts", "factory.teachers.base"]
)
def test_evaluation_and_prompts_load_without_distilabel(module):
    """Evaluation reads the prompts and teachers.base; distilabel (~1.5 s) loads only in the
    modules that build or run its steps."""
    code = f"import sys, {module}\nprint('distilabel' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "False"
