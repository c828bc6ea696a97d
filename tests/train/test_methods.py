"""`train.method: dpo | grpo` on CPU with the tiny model: the mechanics (not the quality) of
preference and RL training, through the same merge, parity gate and manifest as SFT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.pipeline.run import generate
from factory.recipe import load_recipe

runner = CliRunner()

TRAIN = """\
  base_model: {model}
  per_device_batch_size: 2
  gradient_accumulation_steps: 1
  eval_steps: 2
  learning_rate: 0.001
  parity_prompts: 2
"""


def _recipe(folder: Path, model: Path, extra: str = "") -> Path:
    text = (
        "name: tiny-methods\ndomain: lending\ndescription: tiny preference and RL runs\n"
        "profiles: {count: 100, seed: 5, shard_size: 100}\n"
        "preference: {negatives_per_example: 1}\n"
        f"train:\n{TRAIN.format(model=model)}{extra}"
    )
    path = folder / "recipe.yaml"
    path.write_text(text)
    return path


def _train(recipe: Path, dataset: Path, out: Path, steps: int) -> object:
    return runner.invoke(
        app,
        ["train", str(recipe), "--dataset", str(dataset), "--out", str(out),
         "--max-steps", str(steps)],
    )  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("methods-data")
    generate(load_recipe(_recipe(folder, tiny_model)), folder / "out")
    return folder / "out"


@pytest.fixture(scope="module")
def sft_run(tiny_model, dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("methods-sft")
    result = _train(_recipe(folder, tiny_model), dataset, folder / "run", 1)
    assert result.exit_code == 0, result.output
    return folder / "run"


def test_dpo_continues_the_sft_run_and_passes_the_same_parity_gate(
    tiny_model, dataset, sft_run, tmp_path
):
    extra = f"  method: dpo\n  init_from: {sft_run}\n  dpo: {{beta: 0.2}}\n"
    result = _train(_recipe(tmp_path, tiny_model, extra), dataset, tmp_path / "run", 2)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    manifest = json.loads((run / "train_manifest.json").read_text())
    assert manifest["method"] == "dpo"
    assert manifest["base_model"] == str(sft_run / "merged")
    assert manifest["init_from"]["run_dir"] == str(sft_run.resolve())
    assert manifest["init_from"]["method"] == "sft"
    assert json.loads((run / "parity.json").read_text())["passed"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert [row["step"] for row in metrics["train"]] == [1, 2]
    assert all("rewards/margins" in row for row in metrics["train"])
    assert metrics["final"]["eval_loss"] is not None
    assert (run / "merged" / "model.safetensors").exists()


def test_grpo_trains_on_the_verifier_rewards(tiny_model, dataset, tmp_path):
    extra = (
        "  method: grpo\n"
        "  grpo: {num_generations: 2, max_completion_length: 12, reward_weights: {decision: 2}}\n"
    )
    result = _train(_recipe(tmp_path, tiny_model, extra), dataset, tmp_path / "run", 1)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    logged = metrics["train"][0]
    # one mean per reward function, each in [0, 1]; the tiny model's noise parses as nothing
    for name in ("format", "decision", "reasons", "pii", "numbers"):
        assert 0.0 <= logged[f"{name}_reward"] <= 1.0
    assert metrics["final"]["eval_loss"] is None
    assert json.loads((run / "train_manifest.json").read_text())["method"] == "grpo"
    assert json.loads((run / "parity.json").read_text())["passed"]


def test_dpo_without_preference_pairs_or_from_an_unfinished_run_is_one_clear_line(
    tiny_model, tmp_path
):
    plain = tmp_path / "plain"
    plain.mkdir()
    recipe = plain / "recipe.yaml"
    recipe.write_text(
        "name: plain\ndomain: lending\ndescription: no pairs\n"
        "profiles: {count: 100, seed: 5, shard_size: 100}\n"
        f"train:\n{TRAIN.format(model=tiny_model)}  method: dpo\n"
    )
    generate(load_recipe(recipe), plain / "out")
    result = _train(recipe, plain / "out", tmp_path / "run", 1)
    assert result.exit_code == 2
    assert "preference:" in result.output and "Traceback" not in result.output
    extra = f"  method: dpo\n  init_from: {tmp_path}\n"
    result = _train(_recipe(tmp_path, tiny_model, extra), plain / "out", tmp_path / "r2", 1)
    assert result.exit_code == 2
    assert "not a finished fin-factory training run" in result.output
