"""`fin-factory train` on CPU with a tiny model built in the tests: generate -> train -> merge ->
parity -> reload with transformers and with the CPU vLLM engine."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.pipeline.run import generate
from factory.recipe import load_recipe
from factory.train.parity import compare_models

runner = CliRunner()


def _recipe_text(model: Path, **train: object) -> str:
    settings = {
        "base_model": str(model),
        "per_device_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "eval_steps": 2,
        "learning_rate": 0.001,
        "parity_prompts": 4,
        **train,
    }
    lines = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in settings.items())
    return (
        "name: tiny-train\ndomain: lending\ndescription: tiny training run\n"
        "profiles: {count: 100, seed: 4, shard_size: 100}\n"
        f"train:\n{lines}"
    )


@pytest.fixture(scope="module")
def dataset(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("train-data")
    (folder / "recipe.yaml").write_text(_recipe_text(tiny_model))
    generate(load_recipe(folder / "recipe.yaml"), folder / "out")
    return folder / "out"


@pytest.fixture(scope="module")
def run(tiny_model, dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("train-run")
    (folder / "recipe.yaml").write_text(_recipe_text(tiny_model))
    result = runner.invoke(
        app,
        [
            "train", str(folder / "recipe.yaml"), "--dataset", str(dataset),
            "--out", str(folder / "run"), "--max-steps", "4",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder / "run", result


def test_a_run_leaves_adapter_merged_model_metrics_plot_and_manifest(run, dataset):
    run_dir, result = run
    for name in ("adapter", "merged", "metrics.json", "loss.png", "parity.json"):
        assert (run_dir / name).exists(), name
    assert (run_dir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    merged = {p.name for p in (run_dir / "merged").iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json"} <= merged
    assert json.loads((run_dir / "merged" / "tokenizer_config.json").read_text()) is not None
    assert not (run_dir / "checkpoints").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [row["step"] for row in metrics["train"]] == [1, 2, 3, 4]
    assert [row["step"] for row in metrics["eval"]] == [2, 4]
    assert metrics["final"]["perplexity"] == pytest.approx(math.exp(metrics["final"]["eval_loss"]))
    assert metrics["tokens_trained"] > 0 and metrics["tokens_per_s"] > 0
    assert metrics["peak_memory_mib"]["process_rss"] > 0
    assert metrics["examples"]["train"]["rows"] == 80
    parity = json.loads((run_dir / "parity.json").read_text())
    assert parity["passed"] and parity["prompts"] == 4 and parity["max_abs_logit_diff"] < 1e-3
    manifest = json.loads((run_dir / "train_manifest.json").read_text())
    dataset_manifest = (dataset / "manifest.json").read_bytes()
    import hashlib

    assert manifest["dataset"]["manifest_sha256"] == hashlib.sha256(dataset_manifest).hexdigest()
    assert manifest["backend"] == "hf" and manifest["hardware"]["cuda"] is False
    assert "trl" in manifest["versions"] and "peft" in manifest["versions"]
    assert "parity" in result.output and "passed" in result.output


def test_the_merged_model_reloads_with_transformers_and_keeps_its_chat_template(run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = run[0] / "merged"
    tokenizer = AutoTokenizer.from_pretrained(merged)
    assert tokenizer.chat_template
    model = AutoModelForCausalLM.from_pretrained(merged)
    encoded = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Credit score: 700"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**encoded, max_new_tokens=8, do_sample=False)
    assert out.shape[1] == encoded["input_ids"].shape[1] + 8 or out[0, -1] == tokenizer.eos_token_id


def test_the_merged_model_serves_on_the_cpu_vllm_engine(run):
    script = (
        "import sys, vllm\n"
        "if __name__ == '__main__':\n"
        "    llm = vllm.LLM(model=sys.argv[1], dtype='float32', enforce_eager=True,"
        " max_model_len=512)\n"
        "    out = llm.chat([{'role': 'user', 'content': 'Credit score: 700'}],"
        " vllm.SamplingParams(max_tokens=8, temperature=0), use_tqdm=False)\n"
        "    print('TOKENS', len(out[0].outputs[0].token_ids))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(run[0] / "merged")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    tokens = int(done.stdout.split("TOKENS", 1)[1].split()[0])
    assert 1 <= tokens <= 8


def _trainer_batch(tiny_model, dataset, tmp_path, assistant_only: bool):
    from factory.train.backends import HFBackend
    from factory.train.data import load_sft_splits
    from factory.train.methods import build_trainer

    recipe = load_recipe(
        _write(tmp_path, _recipe_text(tiny_model, assistant_only_loss=assistant_only))
    )
    config = recipe.train
    train_set, eval_set, _ = load_sft_splits(dataset, assistant_only)
    model, tokenizer = HFBackend().load(str(tiny_model), config)
    trainer = build_trainer(recipe, model, tokenizer, train_set, eval_set, tmp_path, 1, False, None)
    batch = next(iter(trainer.get_train_dataloader()))
    return tokenizer, batch


def _write(folder: Path, text: str) -> Path:
    path = folder / "recipe.yaml"
    path.write_text(text)
    return path


def test_assistant_only_loss_masks_the_prompt_tokens(tiny_model, dataset, tmp_path):
    tokenizer, batch = _trainer_batch(tiny_model, dataset, tmp_path, assistant_only=True)
    for ids, labels in zip(batch["input_ids"], batch["labels"], strict=True):
        learned = ids[labels != -100]
        masked = ids[(labels == -100) & (batch["attention_mask"][0] >= 0)]
        text = tokenizer.decode(learned)
        assert text.lstrip().startswith("<reasoning>"), text[:80]
        assert "<decision>" in text and "Loan application" not in text
        assert "Loan application" in tokenizer.decode(masked)
    tokenizer, batch = _trainer_batch(tiny_model, dataset, tmp_path, assistant_only=False)
    learned = batch["input_ids"][0][batch["labels"][0] != -100]
    assert "Loan application" in tokenizer.decode(learned)


def test_early_stopping_ends_a_run_whose_eval_loss_stops_improving(tiny_model, dataset, tmp_path):
    recipe = _write(
        tmp_path,
        _recipe_text(tiny_model, learning_rate=1e-12, eval_steps=1, early_stopping_patience=1),
    )
    result = runner.invoke(
        app,
        ["train", str(recipe), "--dataset", str(dataset), "--out", str(tmp_path / "run"),
         "--max-steps", "20"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["stopped_early"] and metrics["steps"] < 20
    assert len(metrics["eval"]) == metrics["steps"]
    assert "stopped early" in result.output


def test_compare_models_reports_a_diverging_merge(tiny_model):
    import torch
    from transformers import AutoModelForCausalLM

    a = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    b = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    prompts = [[5, 6, 7, 8], [9, 10, 11]]
    same = compare_models(a, b, prompts, tolerance=1e-4)
    assert same.passed and same.max_abs_logit_diff == 0.0
    with torch.no_grad():
        b.lm_head.weight.add_(torch.randn_like(b.lm_head.weight) * 0.5)
    diverged = compare_models(a, b, prompts, tolerance=1e-4)
    assert not diverged.passed and diverged.max_abs_logit_diff > 1e-2
    assert "tolerance 0.0001" in diverged.summary()


@pytest.mark.parametrize(
    ("extra", "args", "message"),
    [
        ("", ["--base-model", "no-such-org/no-such-model"], "downloads need network"),
        ("  backend: unsloth\n", [], "needs a CUDA GPU"),
        ("  load_in_4bit: true\n", [], "load_in_4bit needs a CUDA GPU"),
        ("  max_seq_length: 64\n", [], "longer than train.max_seq_length"),
        ("  lora: {target_modules: [no_such_proj]}\n", [], "train.lora"),
    ],
)
def test_train_errors_are_one_clear_line(tiny_model, dataset, tmp_path, extra, args, message):
    recipe = _write(tmp_path, _recipe_text(tiny_model) + extra)
    result = runner.invoke(
        app, ["train", str(recipe), "--dataset", str(dataset), "--out", str(tmp_path / "r"), *args]
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_train_needs_a_dataset_and_a_train_section(tiny_model, write_recipe, tmp_path):
    from tests.conftest import MINIMAL

    missing = runner.invoke(
        app, ["train", str(write_recipe(MINIMAL)), "--dataset", str(tmp_path / "nothing")]
    )
    assert missing.exit_code == 2 and "no train: section" in missing.stderr
    recipe = _write(tmp_path, _recipe_text(tiny_model))
    no_data = runner.invoke(app, ["train", str(recipe), "--dataset", str(tmp_path / "nothing")])
    assert no_data.exit_code == 2 and "no such dataset folder" in no_data.stderr


def test_importing_fin_factory_never_imports_unsloth_or_torch():
    code = (
        "import sys, factory, factory.cli, factory.train, factory.pipeline.run\n"
        "print(sorted(m for m in ('unsloth', 'torch', 'trl', 'peft') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_merge_that_diverges_from_its_adapter_fails_the_run_loudly(
    tiny_model, dataset, tmp_path, monkeypatch
):
    import torch
    from safetensors.torch import load_file, save_file

    from factory.train.backends import HFBackend

    honest = HFBackend.save_merged

    def corrupted(self, model, tokenizer, base_model, adapter_dir, merged_dir):
        honest(self, model, tokenizer, base_model, adapter_dir, merged_dir)
        weights = load_file(merged_dir / "model.safetensors")
        key = next(k for k in weights if k.endswith("q_proj.weight"))
        weights[key] = weights[key] + torch.randn_like(weights[key])
        save_file(weights, merged_dir / "model.safetensors", metadata={"format": "pt"})

    monkeypatch.setattr(HFBackend, "save_merged", corrupted)
    recipe = _write(tmp_path, _recipe_text(tiny_model, parity_prompts=2))
    result = runner.invoke(
        app,
        ["train", str(recipe), "--dataset", str(dataset), "--out", str(tmp_path / "run"),
         "--max-steps", "1"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "parity gate failed" in result.stderr and "do not publish it" in result.stderr
    parity = json.loads((tmp_path / "run" / "parity.json").read_text())
    assert parity["passed"] is False and parity["max_abs_logit_diff"] > 1e-3
    manifest = json.loads((tmp_path / "run" / "train_manifest.json").read_text())
    assert manifest["parity"]["passed"] is False


def _train_command(recipe: Path, dataset: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "factory.cli", "train", str(recipe), "--dataset", str(dataset),
        "--out", str(out), "--max-steps", "4",
    ]  # fmt: skip


@pytest.mark.slow
def test_a_run_killed_at_any_moment_restarts_with_the_same_command(
    tiny_model, dataset, run, tmp_path
):
    import os
    import signal
    import time

    recipe = _write(tmp_path, _recipe_text(tiny_model))
    out = tmp_path / "run"
    command = _train_command(recipe, dataset, out)
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not (out / "train_run.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # loading the model or training: the run is well under way
    os.killpg(process.pid, signal.SIGKILL)  # the process group, as Ctrl-\ or the OOM killer
    process.wait()
    assert not (out / "train_manifest.json").exists(), "the kill must land mid-run"

    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads((out / "metrics.json").read_text())["train"]
    reference = json.loads((run[0] / "metrics.json").read_text())["train"]
    assert [row["step"] for row in rows] == [row["step"] for row in reference]
    # The same run from the start (CPU kernels differ in the last digits between processes).
    losses = [row["loss"] for row in rows]
    assert losses == pytest.approx([row["loss"] for row in reference], rel=1e-2)
    assert json.loads((out / "parity.json").read_text())["passed"]

    # A finished run is not replaced without --overwrite; a folder that is not a run never is.
    again = runner.invoke(app, command[3:])
    assert again.exit_code == 2 and "finished run" in again.stderr
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    refused = runner.invoke(app, [*_train_command(recipe, dataset, stranger)[3:], "--overwrite"])
    assert refused.exit_code == 2 and "holds no training run" in refused.stderr
    assert (stranger / "notes.txt").exists()
