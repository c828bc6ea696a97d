"""Training throughput on the tiny model, side by side with a bare trl SFTTrainer script.

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

    python benchmarks/bench_train.py --threads 1           # 20 steps, 5 repeats
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
import json
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.tiny builds the tiny model
os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

RECIPE = """\
name: bench-train
domain: lending
description: training throughput benchmark
profiles:
  count: {count}
  seed: 3
  shard_size: 100
train:
  base_model: {model}
  max_seq_length: {max_length}
  per_device_batch_size: 2
  gradient_accumulation_steps: 1
  eval_steps: 1000
  packing: {packing}
"""


@dataclass(frozen=True)
class Trial:
    tokens: int
    runtime_s: float
    eval_s: float | None = None  # the evaluation inside runtime_s, where the log says

    @property
    def rate(self) -> float:
        return self.tokens / self.runtime_s


def _tiny_model(folder: Path) -> Path:
    """The tests' tiny Llama (tests/tiny.py), built in `folder`."""
    from tests.tiny import build_lending_model

    return build_lending_model(folder)


def _ours(recipe: Any, dataset: Path, run_dir: Path, steps: int) -> Trial:
    from factory.train import TrainError, train

    try:
        train(recipe, dataset, run_dir, max_steps=steps, overwrite=True)
    except TrainError as err:  # the parity gate is not what is measured here
        print(f"  (ours: {err})")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return Trial(metrics["tokens_trained"], metrics["train_runtime_s"])


def _bare_rows(dataset: Path, split: str) -> Any:
    from datasets import Dataset

    from factory.dataset import read_split

    chats = read_split(dataset, split)["messages"].to_list()
    return Dataset.from_list([{"prompt": c[:-1], "completion": [c[-1]]} for c in chats])


def _bare(
    config: Any,
    dataset: Path,
    out: Path,
    steps: int,
    evaluate: bool = True,
    bf16: bool | None = False,
) -> Trial:
    """A plain peft + trl script on the same rows, with the settings that decide the work."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import SFTConfig, SFTTrainer

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
    args = SFTConfig(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=config.per_device_batch_size,
        per_device_eval_batch_size=config.per_device_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        max_length=config.max_seq_length,
        packing=config.packing,
        learning_rate=config.learning_rate,
        seed=config.seed,
        data_seed=config.seed,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=config.eval_steps,
        save_strategy="no",
        logging_steps=steps,  # one log line, at the end, carrying num_tokens
        use_cpu=True,
        bf16=bf16,
        report_to="none",
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=_bare_rows(dataset, "train"),
        eval_dataset=_bare_rows(dataset, "validation") if evaluate else None,
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)  # log lines on stdout; ours removes it too
    result = trainer.train()
    history = trainer.state.log_history
    tokens = max(int(row.get("num_tokens", 0)) for row in history)
    eval_s = sum(row["eval_runtime"] for row in history if "eval_runtime" in row)
    shutil.rmtree(out, ignore_errors=True)
    return Trial(tokens, float(result.metrics["train_runtime"]), eval_s)


def _lengths(model: Path, dataset: Path) -> list[int]:
    """Tokens of each train example (prompt and completion) under the model's chat template."""
    from transformers import AutoTokenizer

    from factory.dataset import read_split

    tokenizer = AutoTokenizer.from_pretrained(model)
    chats = read_split(dataset, "train")["messages"].to_list()
    return sorted(len(tokenizer.apply_chat_template(c, tokenize=True)["input_ids"]) for c in chats)


def _median(trials: list[Trial]) -> float:
    return statistics.median(t.rate for t in trials)


def _line(name: str, trials: list[Trial]) -> str:
    rates = ", ".join(f"{t.rate:,.0f}" for t in trials)
    seconds = statistics.median(t.runtime_s for t in trials)
    return (
        f"{name}: median {_median(trials):,.0f} tokens/s ({trials[0].tokens:,} tokens, "
        f"median train_runtime {seconds:.1f} s; trials {rates})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=300, help="lending profiles generated")
    parser.add_argument("--steps", type=int, default=20, help="max_steps of every trial")
    parser.add_argument("--repeats", type=int, default=5, help="trials of each, alternated")
    parser.add_argument("--max-length", type=int, default=2048, help="train.max_seq_length")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--skip-bare", action="store_true", help="only ours, packing off and on")
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    from factory.pipeline.run import generate
    from factory.recipe import load_recipe

    if args.threads:
        torch.set_num_threads(args.threads)
    hf_logging.disable_progress_bar()
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        model = _tiny_model(work / "tiny")
        recipes = {}
        for packing in (False, True):
            path = work / f"recipe-packing-{str(packing).lower()}.yaml"
            text = RECIPE.format(
                count=args.profiles,
                model=model,
                max_length=args.max_length,
                packing=str(packing).lower(),
            )
            path.write_text(text, encoding="utf-8")
            recipes[packing] = load_recipe(str(path))
        dataset = work / "dataset"
        final = generate(recipes[False], dataset).final
        config = recipes[False].train
        assert config is not None
        print(
            f"data: {final.splits.get('train', 0)} train / {final.splits.get('validation', 0)} "
            f"validation lending examples; batch {config.per_device_batch_size} x accumulation "
            f"{config.gradient_accumulation_steps}, max_length {config.max_seq_length}, "
            f"{args.steps} steps, torch threads {torch.get_num_threads()}"
        )
        lengths = _lengths(model, dataset)
        print(
            f"example lengths: {lengths[0]:,} to {lengths[-1]:,} tokens (median "
            f"{statistics.median(lengths):,.0f}) under the chat template"
        )

        _bare(config, dataset, work / "warm-up", steps=2, evaluate=False)
        names = ["ours", "packed"] if args.skip_bare else ["ours", "bare", "bare-bf16", "packed"]
        runs: dict[str, list[Trial]] = {name: [] for name in names}
        for repeat in range(args.repeats):
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:
                if name.startswith("bare"):
                    # bf16=None leaves trl's default: True, i.e. bf16 autocast where the CPU has it
                    bf16 = None if name == "bare-bf16" else False
                    trial = _bare(config, dataset, work / "bare", args.steps, bf16=bf16)
                else:
                    trial = _ours(recipes[name == "packed"], dataset, work / name, args.steps)
                runs[name].append(trial)
                print(f"  repeat {repeat + 1} {name}: {trial.rate:,.0f} tokens/s", flush=True)

        ours, packed = runs["ours"], runs["packed"]
        print(_line("ours (factory.train.train, packing off, fp32 on CPU)", ours))
        if not args.skip_bare:
            bare, bare16 = runs["bare"], runs["bare-bf16"]
            eval_share = statistics.median((t.eval_s or 0.0) / t.runtime_s for t in bare)
            same = ours[0].tokens == bare[0].tokens
            print(_line("bare trl script, same settings (fp32)", bare))
            print(
                f"ratio ours/bare: {_median(ours) / _median(bare):.2f} (target >= 0.95); same "
                f"tokens trained: {'yes' if same else 'no'}; the end-of-training evaluation is "
                f"{eval_share:.0%} of train_runtime on both sides"
            )
            print(_line("bare trl script, trl's default bf16=True (CPU autocast)", bare16))
            print(f"ratio ours/bare with trl's defaults: {_median(ours) / _median(bare16):.2f}")
        print(_line("ours, packing on", packed))
        print(f"ratio packing on/off: {_median(packed) / _median(ours):.2f}")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
