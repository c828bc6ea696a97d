"""bench_train.py's pieces: a timed trial, our run, and the bare trl scripts for SFT, DPO and
GRPO at the settings that decide the work a step does; the reward functions' cost."""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Trial:
    tokens: int
    runtime_s: float
    eval_s: float | None = None  # the evaluation inside runtime_s, where the log says
    #: seconds per trl profiling section (GRPO: generation, each reward function), and calls
    sections: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    completions: int = 0  # GRPO: completions sampled

    @property
    def rate(self) -> float:
        return self.tokens / self.runtime_s


def median(trials: list[Trial]) -> float:
    return statistics.median(t.rate for t in trials)


def line(name: str, trials: list[Trial]) -> str:
    rates = ", ".join(f"{t.rate:,.0f}" for t in trials)
    seconds = statistics.median(t.runtime_s for t in trials)
    return (
        f"{name}: median {median(trials):,.0f} tokens/s ({trials[0].tokens:,} tokens, "
        f"median train_runtime {seconds:.1f} s; trials {rates})"
    )


def ratio_line(ours: list[Trial], bare: list[Trial], extra: str = "") -> str:
    same = {t.tokens for t in ours} == {t.tokens for t in bare}
    return (
        f"ratio ours/bare: {median(ours) / median(bare):.2f} (target >= 0.95); same tokens "
        f"trained in every trial: {'yes' if same else 'no'}{extra}"
    )


def alternate(
    names: list[str], repeats: int, run: Callable[[str], Trial], label: str = ""
) -> dict[str, list[Trial]]:
    """`repeats` trials of each name, the order rotated each repeat."""
    runs: dict[str, list[Trial]] = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            trial = run(name)
            runs[name].append(trial)
            print(f"  repeat {repeat + 1} {label}{name}: {trial.rate:,.0f} tokens/s", flush=True)
    return runs


@contextmanager
def trl_sections() -> Iterator[tuple[Counter[str], Counter[str]]]:
    """Seconds and calls per trl `profiling_context` section (trl times generation and each
    reward function itself, but reports only to wandb, mlflow or trackio)."""
    from trl.extras.profiling import ProfilingContext

    seconds: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    original = ProfilingContext._log_metrics

    def record(self: Any, duration: float) -> None:
        name = self.name.split(".", 1)[-1]  # less the trainer's class name
        seconds[name] += duration
        calls[name] += 1

    ProfilingContext._log_metrics = record  # type: ignore[method-assign]
    try:
        yield seconds, calls
    finally:
        ProfilingContext._log_metrics = original  # type: ignore[method-assign]


def ours(recipe: Any, dataset: Path, run_dir: Path, steps: int) -> Trial:
    """factory.train.train(), read back from metrics.json."""
    from factory.train import TrainError, train

    with trl_sections() as (seconds, calls):
        try:
            train(recipe, dataset, run_dir, max_steps=steps, overwrite=True)
        except TrainError as err:  # the parity gate is not what is measured here
            print(f"  (ours: {err})")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    config = recipe.train
    completions = steps * _grpo_batch(config) * config.gradient_accumulation_steps
    return Trial(
        metrics["tokens_trained"],
        metrics["train_runtime_s"],
        sections=dict(seconds),
        calls=dict(calls),
        completions=completions if config.method == "grpo" else 0,
    )


def peft_model(config: Any) -> tuple[Any, Any]:
    """(tokenizer, the base model with the recipe's LoRA adapter), as a plain script makes them."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    model = AutoModelForCausalLM.from_pretrained(config.base_model)
    lora = config.lora
    model = get_peft_model(
        model,
        LoraConfig(
            task_type="CAUSAL_LM",
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules),
        ),
    )
    return tokenizer, model


def shared_args(config: Any, out: Path, steps: int, evaluate: bool, bf16: bool | None) -> dict:
    """What decides the work of a step, given to every bare script; trl's defaults elsewhere."""
    return {
        "output_dir": str(out),
        "max_steps": steps,
        "per_device_train_batch_size": config.per_device_batch_size,
        "per_device_eval_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "data_seed": config.seed,
        "eval_strategy": "steps" if evaluate else "no",
        "eval_steps": config.eval_steps,
        "save_strategy": "no",
        "logging_steps": steps,  # one log line, at the end, carrying num_tokens
        "use_cpu": True,
        "bf16": bf16,
        "report_to": "none",
        "disable_tqdm": True,
    }


def run_bare(trainer: Any, out: Path, completions: int = 0) -> Trial:
    """Trains, and reads trl's `num_tokens` and Trainer's `train_runtime`."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # log lines on stdout; ours removes it too
    with trl_sections() as (seconds, calls):
        result = trainer.train()
    history = trainer.state.log_history
    tokens = max(int(row.get("num_tokens", 0)) for row in history)
    eval_s = sum(row["eval_runtime"] for row in history if "eval_runtime" in row)
    shutil.rmtree(out, ignore_errors=True)
    return Trial(
        tokens,
        float(result.metrics["train_runtime"]),
        eval_s,
        sections=dict(seconds),
        calls=dict(calls),
        completions=completions,
    )


def bare_dpo(config: Any, dataset: Path, out: Path, steps: int, evaluate: bool = True) -> Trial:
    """A plain peft + trl DPOTrainer script on the dataset's preference pairs (no reference
    model: trl scores the reference with the adapter off, as ours does)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from factory.dataset import read_preference

    def rows(split: str) -> Any:
        frame = read_preference(dataset, split).select("prompt", "chosen", "rejected")
        return Dataset.from_list(frame.to_dicts())

    tokenizer, model = peft_model(config)
    args = DPOConfig(
        **shared_args(config, out, steps, evaluate, bf16=False),
        max_length=config.max_seq_length,
        beta=config.dpo.beta,
        loss_type=[config.dpo.loss_type],
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=rows("train"),
        eval_dataset=rows("validation") if evaluate else None,
        processing_class=tokenizer,
    )
    return run_bare(trainer, out)


def rl_rows(dataset: Path, split: str) -> list[dict[str, Any]]:
    """Each row's prompt (system and user messages) beside the row's own columns, which the
    reward functions read."""
    from factory.dataset import read_split

    frame = read_split(dataset, split)
    prompts = [chat[:-1] for chat in frame["messages"].to_list()]
    columns = frame.drop("messages", "facts").to_dicts()
    return [{"prompt": p, **r} for p, r in zip(prompts, columns, strict=True)]


def _grpo_batch(config: Any) -> int:
    """Ours' GRPO batch: whole groups of completions (factory.train.methods.grpo_config)."""
    n, size = config.grpo.num_generations, config.per_device_batch_size
    return max(n, size - size % n)


def bare_grpo(recipe: Any, dataset: Path, out: Path, steps: int) -> Trial:
    """A plain peft + trl GRPOTrainer script with the same reward functions and weights as ours
    (factory.rewards), so the two differ only in what wraps trl."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from factory.rewards import verifier_rewards

    config = recipe.train
    grpo = config.grpo
    rewards = verifier_rewards(recipe)
    tokenizer, model = peft_model(config)
    args = shared_args(config, out, steps, evaluate=False, bf16=False)
    args["per_device_train_batch_size"] = _grpo_batch(config)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list(rewards.functions),
        args=GRPOConfig(
            **args,
            num_generations=grpo.num_generations,
            max_completion_length=grpo.max_completion_length,
            temperature=grpo.temperature,
            beta=grpo.beta,
            reward_weights=list(rewards.weights),
        ),
        train_dataset=Dataset.from_list(rl_rows(dataset, "train")),
        processing_class=tokenizer,
    )
    completions = steps * args["per_device_train_batch_size"] * config.gradient_accumulation_steps
    return run_bare(trainer, out, completions)


def grpo_sections(trials: list[Trial], names: tuple[str, ...]) -> str:
    """Generation and reward time per completion inside the trainer, medians over trials."""

    def per(key: Callable[[Trial], float]) -> float:
        return statistics.median(key(t) / t.completions for t in trials) * 1e6

    generate = per(lambda t: t.sections.get("transformers.generate", 0.0))
    rewards = per(lambda t: sum(t.sections.get(f"{n}_reward", 0.0) for n in names))
    return f"generation {generate / 1e3:,.1f} ms/completion, every reward {rewards:,.0f} us"


# --- the reward functions' cost ----------------------------------------------------------------


def reward_cases(dataset: Path) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The train split's rows, and per kind the completions answering them: `verified` (the kept
    answer), `corrupted` (its preference negative: an error class the verifiers refuse) and
    `malformed` (the kept answer cut at half its length, as a completion that ran out of
    max_completion_length mid-answer: unclosed tags, so it does not parse)."""
    from factory.dataset import read_preference
    from factory.output import parse_output

    rows = {row["id"]: row for row in rl_rows(dataset, "train")}
    pairs = [p for p in read_preference(dataset, "train").to_dicts() if p["id"] in rows]
    verified = [p["chosen"][-1]["content"] for p in pairs]
    malformed = [text[: len(text) // 2] for text in verified]
    assert not any(parse_output(text).ok for text in malformed), "a cut answer still parses"
    completions = {
        "verified": verified,
        "corrupted": [p["rejected"][-1]["content"] for p in pairs],
        "malformed": malformed,
    }
    return [rows[p["id"]] for p in pairs], completions


def time_rewards(
    recipe: Any, rows: list[dict[str, Any]], texts: list[str], loops: int
) -> tuple[dict[str, float], dict[str, float]]:
    """(us per completion, mean reward) of each reward function, called the way trl calls it:
    once per batch of completions, with the prompts and the rows' columns as keyword lists."""
    from factory.rewards import verifier_rewards

    rewards = verifier_rewards(recipe)
    prompts = [row["prompt"] for row in rows]
    completions = [[{"role": "assistant", "content": text}] for text in texts]
    columns = {key: [row[key] for row in rows] for key in rows[0] if key != "prompt"}
    cost, mean = {}, {}
    for name, fn in zip(rewards.names, rewards.functions, strict=True):
        seconds = []
        for _ in range(loops):
            started = time.perf_counter()
            scores = fn(prompts, completions, **columns)
            seconds.append(time.perf_counter() - started)
        cost[name] = statistics.median(seconds) / len(texts) * 1e6
        mean[name] = statistics.fmean(scores)
    return cost, mean


def generation_time(config: Any, prompt: list[dict[str, str]], loops: int) -> tuple[float, float]:
    """(seconds per completion, mean completion tokens): one group of `num_generations`
    completions of one prompt sampled with transformers at the recipe's GRPO settings, as
    GRPOTrainer samples them off vLLM; the median over `loops` groups."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    grpo = config.grpo
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    model = AutoModelForCausalLM.from_pretrained(config.base_model).eval()
    ids = tokenizer.apply_chat_template(
        prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    seconds, lengths = [], []
    for _ in range(loops):
        started = time.perf_counter()
        with torch.no_grad():
            out = model.generate(
                ids.repeat(grpo.num_generations, 1),
                attention_mask=torch.ones_like(ids).repeat(grpo.num_generations, 1),
                do_sample=True,
                temperature=grpo.temperature,
                top_k=0,
                max_new_tokens=grpo.max_completion_length,
                pad_token_id=tokenizer.pad_token_id,
            )
        seconds.append((time.perf_counter() - started) / grpo.num_generations)
        lengths.append(out.shape[1] - ids.shape[1])
    return statistics.median(seconds), statistics.fmean(lengths)
