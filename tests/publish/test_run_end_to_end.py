"""`fin-factory run`: generate -> train -> evaluate -> cards -> publish with the tiny model; then
the published model is pulled from the test Hub the way the model card says, and runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=:DeprecationWarning")

runner = CliRunner()
DATA_REPO, MODEL_REPO = "fin-org/tiny-lending", "fin-org/tiny-lending-llama"
WAIVER = (
    "Synthetic profiles tie job tenure and credit history to age and marital status; the "
    "engine never reads them. Accepted for this test release only."
)


def _recipe(folder: Path, model: Path) -> Path:
    text = f"""\
name: tiny-run
domain: lending
description: An end-to-end run with a tiny model.
profiles: {{count: 200, seed: 4, shard_size: 200}}
train:
  base_model: {model}
  per_device_batch_size: 2
  gradient_accumulation_steps: 1
  eval_steps: 2
  learning_rate: 0.001
  parity_prompts: 2
evaluate: {{backend: transformers, limit: 6, max_new_tokens: 16}}
publish:
  dataset_repo: {DATA_REPO}
  model_repo: {MODEL_REPO}
  dataset_license: cc-by-4.0
  model_license: apache-2.0
  fairness_waivers: {{age_band: "{WAIVER}", marital_status: "{WAIVER}", sex: "{WAIVER}"}}
"""
    path = folder / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(recipe: Path, folder: Path):
    return runner.invoke(
        app,
        ["run", str(recipe), "--data", str(folder / "out"), "--run-dir", str(folder / "run"),
         "--max-steps", "2"],
    )  # fmt: skip


def test_run_publishes_dataset_and_model_and_the_card_snippet_works(hub, tiny_model, tmp_path):
    from huggingface_hub import snapshot_download

    recipe = _recipe(tmp_path, tiny_model)
    result = _run(recipe, tmp_path)
    assert result.exit_code == 0, result.output
    for stage in ("generate: done", "train: done", "evaluate: done", "publish dataset: commit",
                  "publish model: commit"):  # fmt: skip
        assert stage in result.output, result.output
    assert hub.token not in result.output

    data_repo, model_repo = hub.repo(DATA_REPO, "dataset"), hub.repo(MODEL_REPO)
    assert data_repo.private and model_repo.private
    files = model_repo.files()
    assert {"model.safetensors", "config.json", "README.md", "adapter/adapter_model.safetensors",
            "fin-factory/eval.json", "fin-factory/parity.json"} <= set(files)  # fmt: skip
    assert {"model.safetensors", "adapter/adapter_model.safetensors"} <= model_repo.lfs_paths()
    card = files["README.md"].decode()
    assert f"- {DATA_REPO}" in card and "model-index:" in card and "license: apache-2.0" in card
    assert WAIVER in card and "Annex III, point 5(b)" in card and "**Passed.**" in card

    local = Path(snapshot_download(MODEL_REPO, local_dir=tmp_path / "pulled"))
    merged = tmp_path / "run" / "merged"
    assert (local / "model.safetensors").read_bytes() == (merged / "model.safetensors").read_bytes()

    # The card's transformers snippet, as written, against the published repo.
    snippet = re.search(r"With transformers:\n\n```python\n(.*?)```", card, re.S)
    assert snippet is not None
    done = subprocess.run(
        [sys.executable, "-c", snippet.group(1).replace("max_new_tokens=768", "max_new_tokens=8")],
        env=hub.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]

    # The vLLM snippet after the transformers one's prompts, on the CPU engine. The only change:
    # CPU test settings for the engine (fp32, eager, a short context), which a GPU does not need.
    vllm_snippet = re.search(r"With vLLM .*?```python\n(.*?)```", card, re.S)
    assert vllm_snippet is not None
    code = snippet.group(1)
    prompts = code[code.index("SYSTEM = ") : code.index("inputs = ")]
    engine = f'LLM(model="{MODEL_REPO}", dtype="float32", enforce_eager=True, max_model_len=2048)'
    script = tmp_path / "serve.py"
    script.write_text(
        prompts
        + vllm_snippet.group(1)
        .replace(f'LLM(model="{MODEL_REPO}")', engine)
        .replace("max_tokens=768", "max_tokens=8")
    )
    done = subprocess.run([sys.executable, str(script)], env=hub.env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]

    # Run again: every stage is complete, nothing is trained, scored or committed again.
    commits = (len(data_repo.commits()), len(model_repo.commits()))
    again = _run(recipe, tmp_path)
    assert again.exit_code == 0, again.output
    assert "train: already complete" in again.output
    assert "evaluate: already complete" in again.output
    assert again.output.count(": unchanged at ") == 2
    assert (len(data_repo.commits()), len(model_repo.commits())) == commits

    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert report["dataset"]["rows"] == 6


def test_run_refuses_to_publish_a_model_whose_gates_fail(hub, tiny_model, tmp_path):
    recipe = _recipe(tmp_path, tiny_model)
    text = recipe.read_text().replace("  model_license: apache-2.0\n", "")
    recipe.write_text(text)
    result = _run(recipe, tmp_path)
    assert result.exit_code == 1
    assert "FAIL license" in result.output and "refused to publish the model" in result.output
    assert hub.repo(DATA_REPO, "dataset").exists  # the dataset passed its own gates
    assert not hub.repo(MODEL_REPO).exists
