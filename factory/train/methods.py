"""The three training methods, each one trl trainer over the same model, data and outputs.

- `sft`: trl's SFTTrainer on the verified answers (conversational prompt/completion pairs).
- `dpo`: trl's DPOTrainer on the dataset's preference pairs (prompt, chosen, rejected); with a
  peft model and no reference model, trl scores the reference with the adapter turned off, i.e.
  the model the run started from (usually the SFT run's merged model: `train.init_from`).
- `grpo`: trl's GRPOTrainer with the verifiers as reward functions (factory.rewards), each with
  the recipe's weight; completions are sampled with vLLM inside trl where the machine has CUDA
  and vLLM, and with transformers otherwise.

Every method shares one set of Trainer arguments (`common_args`), so the schedule, batch size,
seed and precision settings mean the same whichever method trains.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from factory.recipe import RecipeBase, TrainConfig

#: Called with (steps done, total steps) as training goes.
ProgressFn = Callable[[int, int], None]

METHODS = ("sft", "dpo", "grpo")


def common_args(
    config: TrainConfig, run_dir: Path, max_steps: int | None, cuda: bool, *, evaluate: bool = True
) -> dict[str, Any]:
    """The Trainer arguments every method shares."""
    import torch

    bf16 = cuda and torch.cuda.is_bf16_supported()
    early = evaluate and config.early_stopping_patience is not None
    return {
        "output_dir": str(run_dir / "checkpoints"),
        "num_train_epochs": config.epochs,
        "max_steps": max_steps if max_steps is not None else -1,
        "learning_rate": config.learning_rate,
        "per_device_train_batch_size": config.per_device_batch_size,
        "per_device_eval_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "warmup_steps": config.warmup_ratio,  # a float below 1 is a ratio of the total steps
        "lr_scheduler_type": config.lr_scheduler,
        "weight_decay": config.weight_decay,
        "eval_strategy": "steps" if evaluate else "no",
        "eval_steps": config.eval_steps,
        # Early stopping restores the best checkpoint, so checkpoints follow the evaluations.
        "save_strategy": "steps" if early else "no",
        "save_steps": config.eval_steps,
        "save_total_limit": 2 if early else None,
        "load_best_model_at_end": early,
        "metric_for_best_model": "eval_loss",
        "greater_is_better": False,
        "logging_steps": 1,
        "seed": config.seed,
        "data_seed": config.seed,
        "use_cpu": not cuda,
        "bf16": bf16,
        "fp16": cuda and not bf16,
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }


def sft_config(config: TrainConfig, run_dir: Path, max_steps: int | None, cuda: bool) -> Any:
    """The trl SFTConfig of a run."""
    from trl import SFTConfig

    return SFTConfig(
        **common_args(config, run_dir, max_steps, cuda),
        max_length=config.max_seq_length,
        packing=config.packing,
        completion_only_loss=config.assistant_only_loss,
    )


def dpo_config(config: TrainConfig, run_dir: Path, max_steps: int | None, cuda: bool) -> Any:
    """The trl DPOConfig of a run."""
    from trl import DPOConfig

    return DPOConfig(
        **common_args(config, run_dir, max_steps, cuda),
        max_length=config.max_seq_length,
        beta=config.dpo.beta,
        loss_type=[config.dpo.loss_type],
    )


def grpo_config(
    config: TrainConfig, run_dir: Path, max_steps: int | None, cuda: bool, weights: list[float]
) -> Any:
    """The trl GRPOConfig of a run. GRPO evaluates by sampling, which is as dear as training;
    its progress is read from the rewards it logs instead."""
    from trl import GRPOConfig

    grpo = config.grpo
    args = common_args(config, run_dir, max_steps, cuda, evaluate=False)
    # Every batch must hold whole groups of completions of one prompt.
    args["per_device_train_batch_size"] = max(
        grpo.num_generations,
        config.per_device_batch_size - config.per_device_batch_size % grpo.num_generations,
    )
    return GRPOConfig(
        **args,
        num_generations=grpo.num_generations,
        max_completion_length=grpo.max_completion_length,
        temperature=grpo.temperature,
        beta=grpo.beta,
        reward_weights=weights,
        use_vllm=use_vllm(grpo.use_vllm, cuda),
        vllm_mode="colocate",
    )


def use_vllm(setting: str, cuda: bool) -> bool:
    """Whether trl samples GRPO completions with vLLM: on CUDA with vLLM installed ("auto")."""
    if setting == "off":
        return False
    available = cuda and importlib.util.find_spec("vllm") is not None
    if setting == "on" and not available:
        from factory.errors import UsageError

        raise UsageError(
            "train.grpo.use_vllm: on needs a CUDA GPU with vLLM installed; use auto or off here"
        )
    return available


def build_trainer(
    recipe: RecipeBase,
    model: Any,
    tokenizer: Any,
    train_set: Any,
    eval_set: Any,
    run_dir: Path,
    max_steps: int | None,
    cuda: bool,
    progress: ProgressFn | None,
) -> Any:
    """The trl trainer of the recipe's `train.method`, with our progress callback."""
    from transformers import EarlyStoppingCallback, PrinterCallback, TrainerCallback

    config = recipe.train
    assert config is not None

    class Progress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress is not None:
                progress(state.global_step, state.max_steps)

    callbacks: list[Any] = [Progress()]
    if config.early_stopping_patience is not None and config.method != "grpo":
        callbacks.append(EarlyStoppingCallback(config.early_stopping_patience))
    common = {
        "model": model,
        "train_dataset": train_set,
        "processing_class": tokenizer,
        "callbacks": callbacks,
    }
    trainer: Any
    if config.method == "dpo":
        from trl import DPOTrainer

        trainer = DPOTrainer(
            **common, args=dpo_config(config, run_dir, max_steps, cuda), eval_dataset=eval_set
        )
    elif config.method == "grpo":
        from trl import GRPOTrainer

        from factory.rewards import verifier_rewards

        rewards = verifier_rewards(recipe)
        trainer = GRPOTrainer(
            **common,
            reward_funcs=list(rewards.functions),  # type: ignore[arg-type]
            args=grpo_config(config, run_dir, max_steps, cuda, list(rewards.weights)),
        )
    else:
        from trl import SFTTrainer

        trainer = SFTTrainer(
            **common, args=sft_config(config, run_dir, max_steps, cuda), eval_dataset=eval_set
        )
    trainer.remove_callback(PrinterCallback)  # our progress bar and metrics.json replace it
    return trainer
