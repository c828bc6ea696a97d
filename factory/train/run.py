"""A training run: dataset -> LoRA fine-tune (trl SFTTrainer) -> merge -> parity gate.

What a run leaves in RUN_DIR:

- `adapter/`: the LoRA adapter and tokenizer;
- `merged/`: the base model with the adapter merged in (safetensors, tokenizer with the chat
  template, generation_config);
- `metrics.json`: train and eval loss per step, final eval loss and perplexity on validation,
  tokens/s, peak memory, wall time, whether early stopping ended the run, and the examples used
  (those longer than train.max_seq_length are dropped, and counted, rather than truncated);
- `loss.png`: train vs eval loss;
- `parity.json`: the parity gate's numbers;
- `train_manifest.json`: lineage (dataset manifest hash, dataset recipe hash, this recipe's hash,
  base model, backend, versions, hardware).

A run whose merged model fails the parity gate raises TrainError after writing everything, with
`parity.json` saying `"passed": false`; publishing refuses such a model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import resource
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factory import __version__
from factory.errors import FactoryError, UsageError
from factory.recipe import RecipeBase, TrainConfig
from factory.train.backends import TrainBackend, cuda_available, select_backend
from factory.train.data import (
    drop_too_long,
    load_preference_splits,
    load_rl_splits,
    load_sft_splits,
)
from factory.train.methods import ProgressFn, build_trainer
from factory.train.parity import ParityResult, check_parity

RUN_FILES = ("metrics.json", "parity.json", "train_manifest.json", "loss.png")
#: Written first in a run folder, so that a run killed at any moment leaves a folder that the
#: same command recognises as a training run (and restarts).
RUN_MARKER = "train_run.json"
_OURS = (RUN_MARKER, "adapter", "merged", "checkpoints", *RUN_FILES)
_VERSIONED = ("torch", "transformers", "trl", "peft", "accelerate", "unsloth", "bitsandbytes")


class TrainError(FactoryError):
    """Training finished but its result must not be used (the parity gate failed)."""


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    backend: str
    metrics: dict[str, Any]
    parity: ParityResult


def train(
    recipe: RecipeBase,
    dataset_dir: Path,
    run_dir: Path,
    *,
    base_model: str | None = None,
    max_steps: int | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> TrainResult:
    """Fine-tunes the recipe's base model on a generated dataset; see the module docstring.

    Raises:
        UsageError: no `train:` section, a run already in `run_dir`, a base model that cannot be
            loaded, or a backend this machine cannot run.
        DatasetError: `dataset_dir` is not a finished dataset with train and validation rows.
        TrainError: the merged model failed the parity gate.
    """
    config = recipe.train
    if config is None:
        raise UsageError(f"recipe {recipe.name!r} has no train: section")
    base, parent = _starting_model(config, base_model)
    # The dataset first: one that cannot be trained on leaves no run folder behind.
    train_set, eval_set, dataset_manifest = _splits(config, dataset_dir)
    _prepare_run_dir(run_dir, overwrite)
    backend = select_backend(config.backend)
    started = time.perf_counter()
    model, tokenizer = backend.load(base, config)
    backend.prepare_trainer(config.method)
    reserve = config.grpo.max_completion_length if config.method == "grpo" else 0
    lengths = {}
    for name in ("train", "validation"):
        split = train_set if name == "train" else eval_set
        kept, dropped, longest = drop_too_long(split, tokenizer, config.max_seq_length, reserve)
        if len(kept) == 0:
            raise UsageError(
                f"every {name} example is longer than train.max_seq_length "
                f"({config.max_seq_length} tokens; the longest has {longest}) under "
                f"{base}'s tokenizer: raise train.max_seq_length, or regenerate with "
                "filters.max_seq_length and filters.tokenizer set for this model"
            )
        lengths[name] = {"rows": len(kept), "dropped_too_long": dropped, "longest": longest}
        train_set, eval_set = (kept, eval_set) if name == "train" else (train_set, kept)
    trainer = build_trainer(
        recipe,
        model,
        tokenizer,
        train_set,
        eval_set,
        run_dir,
        max_steps,
        cuda_available(),
        progress,
    )
    trained = trainer.train()
    # GRPO evaluates by sampling, as dear as training: its log of rewards tells its progress.
    final_eval = trainer.evaluate() if config.method != "grpo" else {}
    wall = time.perf_counter() - started

    adapter_dir, merged_dir = run_dir / "adapter", run_dir / "merged"
    trainer.model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    backend.save_merged(trainer.model, tokenizer, base, adapter_dir, merged_dir)
    _copy_generation_config(trainer.model, merged_dir)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)

    prompts = parity_prompts(eval_set, config.parity_prompts)
    parity = check_parity(base, adapter_dir, merged_dir, prompts, config.parity_tolerance)
    metrics = {**_metrics(trainer, trained, final_eval, wall), "examples": lengths}
    _write_json(run_dir / "metrics.json", metrics)
    _write_json(run_dir / "parity.json", parity.to_json())
    plot_losses(metrics, run_dir / "loss.png")
    _write_json(
        run_dir / "train_manifest.json",
        _manifest(
            recipe, config, base, parent, backend, dataset_dir, dataset_manifest, max_steps, parity
        ),
    )
    if not parity.passed:
        raise TrainError(
            f"parity gate failed: the merged model in {merged_dir} does not behave like its "
            f"adapter: {parity.summary()}; do not publish it"
        )
    return TrainResult(run_dir=run_dir, backend=backend.name, metrics=metrics, parity=parity)


def _starting_model(config: TrainConfig, override: str | None) -> tuple[str, dict[str, Any] | None]:
    """The model a run starts from, and the run it continues (`train.init_from`), if any.

    Raises:
        UsageError: `init_from` is not a finished training run.
    """
    if override is not None or config.init_from is None:
        return override or config.base_model, None
    parent = Path(config.init_from)
    manifest = parent / "train_manifest.json"
    if not (parent / "merged").is_dir() or not manifest.exists():
        raise UsageError(
            f"train.init_from: {parent} is not a finished fin-factory training run (it needs "
            "merged/ and train_manifest.json); train it first"
        )
    parity = json.loads((parent / "parity.json").read_text(encoding="utf-8"))
    if not parity.get("passed"):
        raise UsageError(f"train.init_from: the merged model of {parent} failed its parity gate")
    info = json.loads(manifest.read_text(encoding="utf-8"))
    lineage = {
        "run_dir": str(parent.resolve()),
        "method": info.get("method", "sft"),
        "base_model": info.get("base_model"),
        "manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
    }
    return str(parent / "merged"), lineage


def _splits(config: TrainConfig, dataset_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
    if config.method == "dpo":
        return load_preference_splits(dataset_dir)
    if config.method == "grpo":
        return load_rl_splits(dataset_dir)
    return load_sft_splits(dataset_dir, config.assistant_only_loss)


def parity_prompts(eval_set: Any, count: int) -> list[list[dict[str, str]]]:
    """The first `count` validation chats, without their assistant turn."""
    rows = eval_set.select(range(min(count, len(eval_set))))
    if "prompt" in eval_set.column_names:
        return [row["prompt"] for row in rows]
    return [row["messages"][:-1] for row in rows]


def _prepare_run_dir(run_dir: Path, overwrite: bool) -> None:
    """Makes `run_dir` ready for a new run, whose marker is the first thing written in it.

    A finished run (its train_manifest.json is written last) is replaced only with
    `overwrite`. An unfinished one, left by a run that was killed or failed, is ours and is
    restarted: training starts over from the base model, so nothing in it is worth keeping.
    """
    if run_dir.exists() and any(run_dir.iterdir()):
        names = {p.name for p in run_dir.iterdir()}
        if not names & {*_OURS, *(n + ".partial" for n in _OURS)}:
            refusal = "refusing to delete it" if overwrite else "choose another --out"
            raise UsageError(f"{run_dir} is not empty and holds no training run; {refusal}")
        if "train_manifest.json" in names and not overwrite:
            raise UsageError(
                f"{run_dir} holds a finished run; pass --overwrite to replace it, or choose "
                "another --out"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    _write_json(run_dir / RUN_MARKER, {"fin_factory": __version__, "started_at": started})


#: What metrics.json keeps of each training log line (the method's own figures included).
_LOGGED = (
    "step",
    "loss",
    "learning_rate",
    "num_tokens",
    "epoch",
    "rewards/accuracies",
    "rewards/margins",
    "reward",
    "reward_std",
)


def _metrics(trainer: Any, trained: Any, final_eval: dict[str, Any], wall: float) -> dict[str, Any]:
    history = trainer.state.log_history
    train_log = [
        {k: row[k] for k in _LOGGED if k in row} | _reward_means(row)
        for row in history
        if "loss" in row
    ]
    eval_log = [
        {"step": row["step"], "eval_loss": row["eval_loss"]}
        for row in history
        if "eval_loss" in row and row is not history[-1]
    ]
    tokens = max((row.get("num_tokens", 0) for row in train_log), default=0)
    runtime = float(trained.metrics.get("train_runtime", wall))
    eval_loss = float(final_eval["eval_loss"]) if "eval_loss" in final_eval else None
    stopped_early = trainer.state.global_step < trainer.state.max_steps
    final: dict[str, Any] = {"train_loss": float(trained.training_loss), "eval_loss": eval_loss}
    if eval_loss is not None:
        final["perplexity"] = math.exp(eval_loss) if eval_loss < 700 else math.inf
    return {
        "steps": trainer.state.global_step,
        "max_steps": trainer.state.max_steps,
        "stopped_early": stopped_early,
        "best_step": _best_step(trainer.state.best_model_checkpoint),
        "train": train_log,
        "eval": eval_log,
        "final": final,
        "tokens_trained": int(tokens),
        "tokens_per_s": round(tokens / runtime, 2) if runtime > 0 else None,
        "train_runtime_s": round(runtime, 3),
        "wall_time_s": round(wall, 3),
        "peak_memory_mib": _peak_memory_mib(),
    }


def _reward_means(row: dict[str, Any]) -> dict[str, float]:
    """GRPO's mean reward per reward function, as trl logs it (`rewards/<name>/mean`)."""
    return {
        key.removeprefix("rewards/").removesuffix("/mean"): float(value)
        for key, value in row.items()
        if key.startswith("rewards/") and key.endswith("/mean")
    }


def _best_step(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    return int(checkpoint.rsplit("-", 1)[-1])


def _peak_memory_mib() -> dict[str, float]:
    out = {"process_rss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if cuda_available():
        import torch

        out["cuda_allocated"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def plot_losses(metrics: dict[str, Any], path: Path) -> None:
    """Train and eval loss against steps: a gap that widens is overfitting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    train_log, eval_log = metrics["train"], metrics["eval"]
    ax.plot([r["step"] for r in train_log], [r["loss"] for r in train_log], label="train loss")
    ax.plot(
        [r["step"] for r in eval_log], [r["eval_loss"] for r in eval_log], "o-", label="eval loss"
    )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("train vs eval loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _copy_generation_config(model: Any, merged_dir: Path) -> None:
    """Makes sure merged/ has a generation_config.json (some bases ship none)."""
    if (merged_dir / "generation_config.json").exists():
        return
    from transformers import GenerationConfig

    base = getattr(model, "get_base_model", lambda: model)()
    config = getattr(base, "generation_config", None) or GenerationConfig.from_model_config(
        base.config
    )
    config.save_pretrained(merged_dir)


def _manifest(
    recipe: RecipeBase,
    config: TrainConfig,
    base_model: str,
    parent: dict[str, Any] | None,
    backend: TrainBackend,
    dataset_dir: Path,
    dataset_manifest: dict[str, Any],
    max_steps: int | None,
    parity: ParityResult,
) -> dict[str, Any]:
    manifest_bytes = (dataset_dir / "manifest.json").read_bytes()
    return {
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "base_model": base_model,
        "method": config.method,
        "init_from": parent,
        "backend": backend.name,
        "recipe": {
            "name": recipe.name,
            "sha256": recipe.content_hash(),
            "train": config.model_dump(mode="json"),
        },
        "max_steps": max_steps,
        "dataset": {
            "path": str(dataset_dir.resolve()),
            "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "recipe_sha256": dataset_manifest["recipe"]["sha256"],
            "policy_version": dataset_manifest.get("policy_version"),
            "splits": dataset_manifest.get("splits"),
        },
        "parity": parity.to_json(),
        "versions": _versions(),
        "hardware": _hardware(),
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "fin-factory": __version__}
    for name in _VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _hardware() -> dict[str, Any]:
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "cuda": cuda_available(),
    }
    if info["cuda"]:
        import torch

        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(partial, path)
