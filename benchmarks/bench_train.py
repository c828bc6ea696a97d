"""Training throughput on the tiny model, side by side with bare trl SFT, DPO and GRPO scripts.

Measured in one run on this machine, on the same data (a generated lending dataset) and the
same tiny Llama (tests/tiny.py: 2 layers, hidden 128, its tokenizer learned from lending
prompts and template answers):
  ours       factory.train.train(): the dataset's splits as prompt/completion rows, over-long
             ones dropped, HFBackend (transformers + peft LoRA), trl SFTTrainer with
             sft_config(), then evaluate, merge and the parity gate; read from metrics.json;
  bare       the script anyone would write: AutoModelForCausalLM + peft LoraConfig + trl
             SFTTrainer on the same prompt/completion rows, trl's defaults elsewhere, except
             for what decides the work a step does (below);
  bare-bf16  the same script with trl's default precision left alone: SFTConfig's bf16=True,
             which on a CPU with bf16 support means bf16 autocast; ours trains in fp32 there.
Every side is timed the same way: trl's `num_tokens` (prompt and completion tokens, padding
excluded) over Trainer's `train_runtime`, the training loop only; loading, merging and the
parity gate are outside it. The bare script gets everything that decides how much work a step
does: the same model, adapter (rank, alpha, targets), batch size, accumulation, max_length,
steps and seed (so the same batches in the same order: both count the same tokens), precision
(bare; bare-bf16 differs there only) and evaluation. That last one matters: with
eval_strategy="steps" (ours), Trainer evaluates once when max_steps is reached, inside
train_runtime, however large eval_steps is; a bare script with evaluation off would skip work
ours cannot skip. Its share of train_runtime (from the bare script's log) is printed.
Trials alternate (the order rotates each repeat) after one untimed warm-up; each figure is the
median over --repeats. Other processes on the cores stretch a trial's wall time, torch's
multi-threaded kernels most (`--threads 1` is steadier on a shared machine); the load average
is printed at the end.

Prints tokens/s of each, ours/bare (the target is >= 0.95), ours/bare-bf16, and ours with
train.packing on vs off (trl's best-fit packing into max_length rows, padding-free).

`--methods` (default sft,dpo,grpo,rewards) picks the parts; the others, on the same data:
  dpo        ours with train.method: dpo against a bare peft + trl DPOTrainer script on the
             dataset's preference pairs (prompt, chosen, rejected), no reference model on either
             side (trl scores it with the adapter off), the same beta, loss, batch, max_length,
             steps, seed and end-of-training evaluation; tokens are trl's `num_tokens` (prompt,
             chosen and rejected, padding excluded) over `train_runtime`;
  grpo       ours with train.method: grpo against a bare GRPOTrainer script given the same reward
             functions and weights (factory.rewards.verifier_rewards), group size, completion
             length, temperature and batch, so the ratio isolates our wrapper's cost; tokens are
             trl's `num_tokens` (prompts and sampled completions); trl's own timings of
             generation and of each reward function are printed per completion for both sides;
  rewards    each reward function's cost in microseconds per completion, called as trl calls
             it (one batch of the train rows with their columns), on the verified answers, on
             their preference negatives (corrupted: an error class the verifiers refuse) and on
             malformed completions (the answer cut at half its length), and the sum of all of
             them against the time transformers takes to sample one completion of
             --grpo-completion-length tokens (and, after grpo, against the GRPO trials').
The tiny model's own completions are noise that parses as nothing, the cheapest case for the
rewards, hence the rewards part on real answers. The README has the measured figures.

    python benchmarks/bench_train.py --threads 1           # 20 steps, 5 repeats
    python benchmarks/bench_train.py --threads 1 --methods dpo,grpo,rewards --steps 5 --repeats 3
    python benchmarks/bench_train.py                       # torch's default threads (all cores)
    python benchmarks/bench_train.py --max-length 4096 --skip-bare   # room to pack 3 examples

Measured on the 2-core development machine (torch 2.13 CPU, transformers 5.19, trl 1.16,
peft 0.21) while other engineers' tests ran (load average 1 to 6); 240 train / 30 validation
examples of 1,133 to 1,317 tokens; medians in tokens/s:

    command                            ours   bare  ratio  bare-bf16  ours/bf16  packing on/off
    --threads 1 (run 1)               1,544  1,583   0.98      1,817       0.85  1,332: 0.86
    --threads 1 (run 2)               2,331  2,376   0.98      2,593       0.90  1,957: 0.84
    (no --threads: 2)                 3,358  3,362   1.00      3,530       0.95  1,570: 0.47 *
    --threads 1 --max-length 4096 --skip-bare   2,283                            1,156: 0.51
    * single trials ranged from 510 to 3,940 tokens/s as the load came and went.

The end-of-training evaluation is 19-20% of train_runtime on both sides. What keeps ours below
trl's own defaults is precision: trl's SFTConfig sets bf16=True, which on this CPU (AVX512-BF16)
autocasts to bf16; sft_config() turns bf16 on only on CUDA. Packing loses on CPU: trl packs
padding-free, one flattened row per batch, and transformers' sdpa path then attends over the
whole row under a block-diagonal mask, so attention grows with the packed length (about 2,400
tokens at 2048, 7,300 at 4096) instead of each example's ~1,200; at 2048 no two examples fit a
row, so packing has only a little padding to remove.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.tiny builds the tiny model
os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from _train_methods import (  # noqa: E402  (after the path and environment set-up)
    Trial,
    alternate,
    bare_dpo,
    bare_grpo,
    generation_time,
    grpo_sections,
    line,
    median,
    ours,
    peft_model,
    ratio_line,
    reward_cases,
    run_bare,
    shared_args,
    time_rewards,
)

METHODS = ("sft", "dpo", "grpo", "rewards")
RECIPE = """\
name: bench-train
domain: lending
description: training throughput benchmark
profiles:
  count: {count}
  seed: 3
  shard_size: 100
preference:
  negatives_per_example: 1
train:
  base_model: {model}
  method: {method}
  max_seq_length: {max_length}
  per_device_batch_size: 2
  gradient_accumulation_steps: 1
  eval_steps: 1000
  packing: {packing}
  grpo:
    num_generations: {generations}
    max_completion_length: {completion_length}
"""


def _tiny_model(folder: Path) -> Path:
    """The tests' tiny Llama (tests/tiny.py), built in `folder`."""
    from tests.tiny import build_lending_model

    return build_lending_model(folder)


def _bare_rows(dataset: Path, split: str) -> Any:
    from datasets import Dataset

    from factory.dataset import read_split

    chats = read_split(dataset, split)["messages"].to_list()
    return Dataset.from_list([{"prompt": c[:-1], "completion": [c[-1]]} for c in chats])


def _bare_sft(
    config: Any,
    dataset: Path,
    out: Path,
    steps: int,
    evaluate: bool = True,
    bf16: bool | None = False,
) -> Trial:
    """A plain peft + trl SFTTrainer script on the same rows, with the settings that decide the
    work."""
    from trl import SFTConfig, SFTTrainer

    tokenizer, model = peft_model(config)
    args = SFTConfig(
        **shared_args(config, out, steps, evaluate, bf16),
        max_length=config.max_seq_length,
        packing=config.packing,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=_bare_rows(dataset, "train"),
        eval_dataset=_bare_rows(dataset, "validation") if evaluate else None,
        processing_class=tokenizer,
    )
    return run_bare(trainer, out)


def _lengths(model: Path, dataset: Path) -> list[int]:
    """Tokens of each train example (prompt and completion) under the model's chat template."""
    from transformers import AutoTokenizer

    from factory.dataset import read_split

    tokenizer = AutoTokenizer.from_pretrained(model)
    chats = read_split(dataset, "train")["messages"].to_list()
    return sorted(len(tokenizer.apply_chat_template(c, tokenize=True)["input_ids"]) for c in chats)


def _sft(recipes: dict[str, Any], dataset: Path, work: Path, args: argparse.Namespace) -> None:
    config = recipes["sft"].train
    _bare_sft(config, dataset, work / "warm-up", steps=2, evaluate=False)
    names = ["ours", "packed"] if args.skip_bare else ["ours", "bare", "bare-bf16", "packed"]

    def run(name: str) -> Trial:
        if name.startswith("bare"):
            # bf16=None leaves trl's default: True, i.e. bf16 autocast where the CPU has it
            bf16 = None if name == "bare-bf16" else False
            return _bare_sft(config, dataset, work / "bare", args.steps, bf16=bf16)
        recipe = recipes["packed" if name == "packed" else "sft"]
        return ours(recipe, dataset, work / name, args.steps)

    runs = alternate(names, args.repeats, run, "sft ")
    mine, packed = runs["ours"], runs["packed"]
    print(line("SFT ours (factory.train.train, packing off, fp32 on CPU)", mine))
    if not args.skip_bare:
        bare, bare16 = runs["bare"], runs["bare-bf16"]
        eval_share = statistics.median((t.eval_s or 0.0) / t.runtime_s for t in bare)
        print(line("SFT bare trl script, same settings (fp32)", bare))
        print(
            ratio_line(
                mine,
                bare,
                f"; the end-of-training evaluation is {eval_share:.0%} of train_runtime on "
                "both sides",
            )
        )
        print(line("SFT bare trl script, trl's default bf16=True (CPU autocast)", bare16))
        print(f"ratio ours/bare with trl's defaults: {median(mine) / median(bare16):.2f}")
    print(line("SFT ours, packing on", packed))
    print(f"ratio packing on/off: {median(packed) / median(mine):.2f}")


def _dpo(recipe: Any, dataset: Path, work: Path, args: argparse.Namespace) -> None:
    config = recipe.train
    bare_dpo(config, dataset, work / "warm-up", steps=1, evaluate=False)

    def run(name: str) -> Trial:
        if name == "bare":
            return bare_dpo(config, dataset, work / "bare", args.steps)
        return ours(recipe, dataset, work / "ours-dpo", args.steps)

    runs = alternate(["ours", "bare"], args.repeats, run, "dpo ")
    mine, bare = runs["ours"], runs["bare"]
    eval_share = statistics.median((t.eval_s or 0.0) / t.runtime_s for t in bare)
    print(line("DPO ours (train.method: dpo)", mine))
    print(line("DPO bare trl DPOTrainer script, same settings (fp32)", bare))
    print(
        ratio_line(
            mine,
            bare,
            f"; the end-of-training evaluation (policy and reference on every validation pair) "
            f"is {eval_share:.0%} of train_runtime on both sides",
        )
    )


def _grpo(recipe: Any, dataset: Path, work: Path, args: argparse.Namespace) -> list[Trial]:
    from factory.rewards import verifier_rewards

    names = verifier_rewards(recipe).names
    bare_grpo(recipe, dataset, work / "warm-up", steps=1)

    def run(name: str) -> Trial:
        if name == "bare":
            return bare_grpo(recipe, dataset, work / "bare", args.steps)
        return ours(recipe, dataset, work / "ours-grpo", args.steps)

    runs = alternate(["ours", "bare"], args.repeats, run, "grpo ")
    mine, bare = runs["ours"], runs["bare"]
    print(
        f"GRPO: both sides get the same reward functions (factory.rewards.verifier_rewards: "
        f"{', '.join(names)}) and weights, so the ratio is what our wrapper costs, not the rewards"
    )
    print(line("GRPO ours (train.method: grpo)", mine) + "; " + grpo_sections(mine, names))
    print(line("GRPO bare trl GRPOTrainer script", bare) + "; " + grpo_sections(bare, names))
    print(ratio_line(mine, bare, " (completions are sampled: their lengths may differ)"))
    return mine + bare


def _rewards(
    recipe: Any, dataset: Path, args: argparse.Namespace, grpo_trials: list[Trial]
) -> None:
    rows, kinds = reward_cases(dataset)
    config = recipe.train
    per_completion, tokens = generation_time(config, rows[0]["prompt"], args.generation_loops)
    print(
        f"rewards on {len(rows)} train rows per kind, each function called once per batch as "
        f"trl calls it (median of {args.reward_loops} calls); generation: one group of "
        f"{config.grpo.num_generations} completions of up to {config.grpo.max_completion_length} "
        f"tokens sampled with transformers, {per_completion * 1e3:,.1f} ms a completion "
        f"({tokens:.0f} new tokens, median of {args.generation_loops})"
    )
    in_trainer = [t.sections.get("transformers.generate", 0.0) / t.completions for t in grpo_trials]
    for kind, texts in kinds.items():
        cost, mean = time_rewards(recipe, rows, texts, args.reward_loops)
        total = sum(cost.values())
        each = ", ".join(f"{name} {us:,.0f} (mean {mean[name]:.2f})" for name, us in cost.items())
        print(f"  {kind}: us/completion {each}; all {total:,.0f} us")
        ratios = f"all rewards / generating one completion: {total / (per_completion * 1e6):.4f}"
        if in_trainer:
            ratios += f" (in the GRPO trials: {total / (statistics.median(in_trainer) * 1e6):.4f})"
        print(f"    {ratios}")


def _recipes(work: Path, model: Path, args: argparse.Namespace) -> dict[str, Any]:
    from factory.recipe import load_recipe

    variants = {"sft": ("sft", False), "packed": ("sft", True), "dpo": ("dpo", False)}
    variants["grpo"] = ("grpo", False)
    recipes = {}
    for name, (method, packing) in variants.items():
        path = work / f"recipe-{name}.yaml"
        text = RECIPE.format(
            count=args.profiles,
            model=model,
            method=method,
            max_length=args.max_length,
            packing=str(packing).lower(),
            generations=args.grpo_generations,
            completion_length=args.grpo_completion_length,
        )
        path.write_text(text, encoding="utf-8")
        recipes[name] = load_recipe(str(path))
    return recipes


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}"
    )
    parser.add_argument("--profiles", type=int, default=300, help="lending profiles generated")
    parser.add_argument("--steps", type=int, default=20, help="max_steps of every trial")
    parser.add_argument("--repeats", type=int, default=5, help="trials of each, alternated")
    parser.add_argument("--max-length", type=int, default=2048, help="train.max_seq_length")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--skip-bare", action="store_true", help="SFT: only ours, packing off/on")
    parser.add_argument(
        "--grpo-generations", type=int, default=4, help="train.grpo.num_generations"
    )
    parser.add_argument(
        "--grpo-completion-length", type=int, default=64, help="train.grpo.max_completion_length"
    )
    parser.add_argument("--reward-loops", type=int, default=5, help="timed calls per reward")
    parser.add_argument("--generation-loops", type=int, default=3, help="timed generation groups")
    args = parser.parse_args()
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {unknown}; choose from {', '.join(METHODS)}")
    return args


def main() -> None:
    args = _arguments()

    import torch
    from transformers.utils import logging as hf_logging

    from factory.pipeline.run import generate

    if args.threads:
        torch.set_num_threads(args.threads)
    hf_logging.disable_progress_bar()
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        model = _tiny_model(work / "tiny")
        recipes = _recipes(work, model, args)
        dataset = work / "dataset"
        final = generate(recipes["sft"], dataset).final
        config = recipes["sft"].train
        assert config is not None
        print(
            f"data: {final.splits.get('train', 0)} train / {final.splits.get('validation', 0)} "
            f"validation lending examples (and as many preference pairs); batch "
            f"{config.per_device_batch_size} x accumulation {config.gradient_accumulation_steps}, "
            f"max_length {config.max_seq_length}, {args.steps} steps, torch threads "
            f"{torch.get_num_threads()}; GRPO: {config.grpo.num_generations} completions a "
            f"prompt, up to {config.grpo.max_completion_length} tokens"
        )
        lengths = _lengths(model, dataset)
        print(
            f"example lengths: {lengths[0]:,} to {lengths[-1]:,} tokens (median "
            f"{statistics.median(lengths):,.0f}) under the chat template"
        )
        if "sft" in args.methods:
            _sft(recipes, dataset, work, args)
        if "dpo" in args.methods:
            _dpo(recipes["dpo"], dataset, work, args)
        grpo_trials = _grpo(recipes["grpo"], dataset, work, args) if "grpo" in args.methods else []
        if "rewards" in args.methods:
            _rewards(recipes["grpo"], dataset, args, grpo_trials)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
