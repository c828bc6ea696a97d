"""Our vLLM teacher's throughput, side by side with a bare vLLM call and a transformers loop.

Measured in one process on vLLM's CPU engine, with a tiny random-weight Llama built here (never
downloaded; its tokenizer learns from lending prompts and template answers, as in the teacher
tests) and real teacher chats (lending, write mode, no worked examples: about 1,650 prompt
tokens each, of which the system prompt every row shares is most):
  ours          VllmTeacher.generate over --n chats: the chat template, encoding, one
                vllm.LLM.generate call with one SamplingParams per row (the row's seed), and the
                output-format check ChatLLM runs on every text. max_retries 0: random weights
                never write our format, so the default 3 would generate every row four times.
  bare          the same chats rendered with the same chat template beforehand, and the same
                SamplingParams built beforehand, in one vllm.LLM.generate call on the SAME engine
                object (load time is outside both); vLLM tokenizes the texts.
  transformers  AutoModelForCausalLM.generate over the first --hf-n of the same prompts, one at a
                time, fp32, sampling with the same temperature and top_p; run with torch on all
                available cores and on one thread, since on shared cores the second is often the
                faster (the ratio uses the faster).
Each vLLM measurement follows a warm-up call and a reset of vLLM's prefix cache (the repeats
send the same prompts, which a real run never does), is repeated --repeats times in
alternating order, and the median is reported. A prefill-only call (max_tokens 1) on each
side splits prefill from decode, the part the 20-30x GPU claim is about.

Generated tokens are counted from the engine's token ids (a pass-through wrapper on the
engine's generate records what our teacher received), not by re-encoding the texts: byte-level
BPE regroups a random model's noise, and re-encoding counts ~12% more tokens than were
generated. EOS stays on, as in production (the teacher has no ignore_eos setting): counting
ids makes early stops harmless, and ours and bare, given the same prompts and seeds, generate
the same tokens (the script checks and prints it).

    python benchmarks/bench_teacher.py                         # 256 prompts, 128 new tokens
    python benchmarks/bench_teacher.py --n 64 --hf-n 4 --repeats 1     # a quick look

Measured on the 2-core development machine, defaults, two runs while other jobs kept its load
average at 5-8 (README.md, "Performance"):
  ours          1,542 and 1,519 generated tokens/s
  bare vLLM     1,623 and 1,642 -> ours/bare 0.950 and 0.925 (target >= 0.9); the same prompt
                ids and completions; back-to-back pairs ranged 0.66-1.21 with the load. Ours'
                own work (mostly encoding, before the engine starts, where bare's tokenization
                overlaps the engine's prefill) took a median 2.10 and 0.59 s per call.
  transformers  229 and 349 tokens/s on 1 thread, 16 and 46 on 2 -> ours/transformers 6.7x and
                4.3x (prefill 4.9x and 4.7x, decode 7.6x and 4.7x), not the 20-30x of GPUs.
"""

from __future__ import annotations

import os

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB: 1M tokens of this model's cache
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.tiny

GAIN_CLAIM = (20, 30)
ENGINE_ARGS: dict[str, Any] = {
    "dtype": "float32",
    # No CUDA graphs on CPU, and torch.compile takes minutes there: eager, as in the tests.
    "enforce_eager": True,
}


@dataclass
class Loop:
    """One transformers generate loop over the prompts, and its prefill-only twin."""

    threads: int
    seconds: float
    tokens: int
    prefill_s: float
    prefill_tokens: int

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds

    @property
    def decode_rate(self) -> float:
        # Past prefill, per token past the first (the prefill-only loop samples that one).
        return (self.tokens - self.prefill_tokens) / max(self.seconds - self.prefill_s, 1e-9)


@dataclass
class VllmSide:
    """What the vLLM measurements found."""

    ours: list[float]  # generated tokens/s per repeat
    bare: list[float]
    own_s: list[float]  # ours' time outside the engine's generate call, per repeat
    prefill_s: list[float]  # the prefill-only call, per repeat
    generated: int  # tokens per call (the same for ours and bare when same_text == n)
    lengths: list[int]  # prompt tokens per row
    shared_prefix: int  # prompt tokens every row starts with
    same_ids: int
    same_text: int
    prompts: list[list[int]]
    prefix_caching: bool

    @property
    def bare_s(self) -> float:
        return self.generated / statistics.median(self.bare)


def _tiny_model(folder: Path) -> Path:
    """The tests' tiny Llama (tests/tiny.py), built in `folder`."""
    from tests.tiny import build_lending_model

    return build_lending_model(folder)


def _chats(model: Path, n: int) -> list[list[dict[str, str]]]:
    """The vLLM teacher's chats for the first `n` rows of a lending recipe's first shard."""
    from factory.pipeline.prompts import TeacherPrompts
    from factory.recipe import parse_recipe
    from factory.synth import Shard, labelled_shard

    recipe = parse_recipe(
        {
            "name": "bench-teacher",
            "domain": "lending",
            "description": "vLLM teacher throughput",
            "teacher": {"backend": "vllm", "model": str(model), "mode": "write", "few_shot": 0},
        }
    )
    prompts = TeacherPrompts(recipe)
    rows = labelled_shard(recipe, Shard(0, 0, n)).to_dicts()
    return [prompts.chat(row, i) for i, row in enumerate(rows)]


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def _generated(outputs: list[Any]) -> int:
    return sum(len(o.outputs[0].token_ids) for o in outputs if o.outputs)


def _shared_prefix(prompts: list[list[int]]) -> int:
    shared = len(prompts[0])
    for prompt in prompts[1:]:
        shared = min(shared, len(prompt))
        while prompt[:shared] != prompts[0][:shared]:
            shared -= 1
    return shared


def _vllm_side(args: argparse.Namespace, model: Path) -> VllmSide:
    import vllm

    from factory.teachers.llm import sampling_seed
    from factory.teachers.vllm_engine import VllmTeacher

    chats = _chats(model, args.n)
    teacher = VllmTeacher(
        model=str(model),
        engine_args=ENGINE_ARGS | {"max_model_len": args.max_model_len},
        max_new_tokens=args.max_new_tokens,
        max_retries=0,
        seed=args.seed,
        temperature=args.temperature,
        top_p=args.top_p,
    )
    load_s, _ = _timed(teacher.load)
    try:
        engine = teacher._engine
        texts = [teacher.render(chat) for chat in chats]
        lengths = [len(teacher._tokenizer.encode(t, add_special_tokens=False)) for t in texts]
        if max(lengths) + args.max_new_tokens > args.max_model_len:
            raise SystemExit(
                f"the longest prompt ({max(lengths)} tokens) + --max-new-tokens "
                f"{args.max_new_tokens} exceed --max-model-len {args.max_model_len}"
            )
        config = engine.llm_engine.vllm_config
        print(
            f"{args.n} lending teacher prompts of {min(lengths):,}-{max(lengths):,} tokens "
            f"(mean {statistics.fmean(lengths):,.0f}), up to {args.max_new_tokens} new tokens "
            f"each; engine loaded in {load_s:.1f}s; max_num_seqs "
            f"{config.scheduler_config.max_num_seqs}, max_num_batched_tokens "
            f"{config.scheduler_config.max_num_batched_tokens}, chunked prefill "
            f"{config.scheduler_config.enable_chunked_prefill}, prefix caching "
            f"{config.cache_config.enable_prefix_caching}; {len(os.sched_getaffinity(0))} cores"
        )

        # Ours calls the engine object's generate: record what it returns, untouched.
        bare_generate = engine.generate
        received: list[Any] = []
        answered: list[Any] = []
        inside: list[float] = []

        def recording(*call_args: Any, **kwargs: Any) -> Any:
            seconds, outputs = _timed(lambda: bare_generate(*call_args, **kwargs))
            inside[:] = [seconds]
            received[:] = outputs
            return received

        engine.generate = recording
        inputs = [(chat, {"index": i}) for i, chat in enumerate(chats)]

        def params(max_tokens: int) -> list[Any]:
            return [
                vllm.SamplingParams(
                    temperature=args.temperature,
                    top_p=args.top_p,
                    max_tokens=max_tokens,
                    seed=sampling_seed(args.seed, i, 0),  # ours' seed at attempt 0
                )
                for i in range(args.n)
            ]

        full, prefill_only = params(args.max_new_tokens), params(1)

        def ours() -> int:
            teacher.generate(inputs)
            return _generated(received)

        def bare() -> int:
            answered[:] = bare_generate(texts, full, use_tqdm=False)
            return _generated(answered)

        def cold(run: Callable[[], Any]) -> tuple[float, Any]:
            engine.reset_prefix_cache()
            return _timed(run)

        warm = min(8, args.n)
        teacher.generate(inputs[:warm])
        bare_generate(texts[:warm], full[:warm], use_tqdm=False)
        rates: dict[str, list[float]] = {"ours": [], "bare": []}
        prefill_s: list[float] = []
        own_s: list[float] = []
        for repeat in range(args.repeats):
            line = []
            for name in ("ours", "bare") if repeat % 2 == 0 else ("bare", "ours"):
                seconds, tokens = cold(ours if name == "ours" else bare)
                rates[name].append(tokens / seconds)
                line.append(f"{name} {tokens:,} tokens in {seconds:.2f}s")
                if name == "ours":
                    own_s.append(seconds - inside[0])
                    line[-1] += f" ({own_s[-1]:.2f}s of it ours, outside the engine call)"
            seconds, _ = cold(lambda: bare_generate(texts, prefill_only, use_tqdm=False))
            prefill_s.append(seconds)
            print(
                f"  repeat {repeat + 1}: {'; '.join(line)}; ratio "
                f"{rates['ours'][-1] / rates['bare'][-1]:.3f}; prefill only {seconds:.2f}s"
            )
        engine.generate = bare_generate
        prompts = [list(o.prompt_token_ids) for o in answered]
        return VllmSide(
            ours=rates["ours"],
            bare=rates["bare"],
            own_s=own_s,
            prefill_s=prefill_s,
            generated=_generated(answered),
            lengths=lengths,
            shared_prefix=_shared_prefix(prompts),
            same_ids=sum(
                list(a.prompt_token_ids) == b for a, b in zip(received, prompts, strict=True)
            ),
            same_text=sum(
                a.outputs[0].text == b.outputs[0].text
                for a, b in zip(received, answered, strict=True)
            ),
            prompts=prompts,
            prefix_caching=bool(config.cache_config.enable_prefix_caching),
        )
    finally:
        teacher.unload()  # frees the cores and memory for the transformers loops


def _transformers(args: argparse.Namespace, model: Path, prompts: list[list[int]]) -> list[Loop]:
    """A one-prompt-at-a-time generate loop and its prefill-only twin, per thread count."""
    import torch
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()

    def loop(new_tokens: int) -> tuple[float, int]:
        generated = 0
        start = time.perf_counter()
        for i, ids in enumerate(prompts):
            torch.manual_seed(i)
            input_ids = torch.tensor([ids])
            with torch.inference_mode():
                out = lm.generate(
                    input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=new_tokens,
                    do_sample=True,
                    temperature=args.temperature,
                    top_p=args.top_p,
                )
            generated += out.shape[1] - input_ids.shape[1]
        return time.perf_counter() - start, generated

    loops = []
    cores = len(os.sched_getaffinity(0))
    for threads in dict.fromkeys((cores, 1)):
        torch.set_num_threads(threads)
        loop(4)  # warm-up: first-call allocations and kernel selection
        seconds, tokens = loop(args.max_new_tokens)
        prefill_s, prefill_tokens = loop(1)
        loops.append(Loop(threads, seconds, tokens, prefill_s, prefill_tokens))
        print(
            f"  transformers, {_threads(threads)}: {tokens:,} tokens in {seconds:.2f}s; "
            f"prefill only {prefill_s:.2f}s"
        )
    return loops


def _report(
    args: argparse.Namespace, side: VllmSide, loops: list[Loop], weights_mib: float
) -> None:
    ours, bare = statistics.median(side.ours), statistics.median(side.bare)
    best = max(loops, key=lambda loop: loop.rate)
    print(f"\n{'':<26}{'generated tokens/s':>20}  prompts")
    print(f"{'ours':<26}{ours:>20,.0f}  {args.n} (median of {args.repeats})")
    print(f"{'bare vLLM':<26}{bare:>20,.0f}  {args.n} (median of {args.repeats})")
    for loop in loops:
        name = f"transformers, {_threads(loop.threads)}"
        print(f"{name:<26}{loop.rate:>20,.0f}  {args.hf_n}, one at a time")
    paired = statistics.median(o / b for o, b in zip(side.ours, side.bare, strict=True))
    own = statistics.median(side.own_s)
    print(
        f"ratio ours/bare:         {ours / bare:.3f} (target >= 0.9); median of the "
        f"back-to-back pairs' ratios {paired:.3f}; ours' own work (chat template, encoding, "
        f"SamplingParams, output check) {own:.2f}s per call, {own * ours / side.generated:.0%} "
        "of it, nearly all before the engine starts, where vLLM's tokenization in bare "
        "overlaps the engine's prefill"
    )
    print(
        f"ratio ours/transformers: {ours / best.rate:.1f}x against the faster loop "
        f"({_threads(best.threads)}); the claim: {GAIN_CLAIM[0]}-{GAIN_CLAIM[1]}x"
    )
    print(
        f"same work: {side.same_ids}/{args.n} identical prompt token ids and "
        f"{side.same_text}/{args.n} identical completions between ours and bare"
    )
    _explain(args, side, loops, best, ours / best.rate, weights_mib)


def _explain(
    args: argparse.Namespace,
    side: VllmSide,
    loops: list[Loop],
    best: Loop,
    gain: float,
    weights_mib: float,
) -> None:
    """Why the gain over transformers is what it is here, in this run's numbers."""
    prefill_s = statistics.median(side.prefill_s)
    vllm_prefill = sum(side.lengths) / prefill_s
    hf_prefill = sum(side.lengths[: args.hf_n]) / best.prefill_s
    vllm_decode = (side.generated - args.n) / max(side.bare_s - prefill_s, 1e-9)
    prompt = statistics.fmean(side.lengths)
    low, high = GAIN_CLAIM
    verdict = "below" if gain < low else "above" if gain > high else "within"
    threads = ""
    if len(loops) > 1:
        rates = " and ".join(
            f"{loop.decode_rate:,.0f} tokens/s on {_threads(loop.threads)}" for loop in loops
        )
        threads = f" Transformers decoded {rates}" + (
            ": more threads were slower, as happens when other jobs share the cores (each "
            "OpenMP barrier of a step this small waits for a sibling thread the kernel has "
            "descheduled)."
            if best.threads == 1
            else "."
        )
    shared = (
        "which vLLM's prefix cache computes once per call and transformers recomputes per prompt"
        if side.prefix_caching
        else "which both recompute per prompt (vLLM's prefix cache is off)"
    )
    print(
        f"prefill (prompt tokens/s): vLLM {vllm_prefill:,.0f}, transformers {hf_prefill:,.0f} "
        f"({vllm_prefill / hf_prefill:.1f}x); decode (generated tokens/s): vLLM "
        f"{vllm_decode:,.0f}, transformers {best.decode_rate:,.0f} "
        f"({vllm_decode / best.decode_rate:.1f}x)\n"
        f"\nWhy {gain:.1f}x is {verdict} the {low}-{high}x claim: the claim is for GPUs, where "
        "decoding one sequence at a time reads every weight from memory for each token and "
        "leaves the compute units idle, and continuous batching spreads that read over the "
        f"batch. Here the weights are {weights_mib:.1f} MiB and stay in the CPU's caches, so "
        "that effect is absent and the gain comes from elsewhere. Prefill is "
        f"{prefill_s / side.bare_s:.0%} of the bare vLLM call and "
        f"{best.prefill_s / best.seconds:.0%} of the transformers loop (prompts of "
        f"~{prompt:,.0f} tokens for {args.max_new_tokens} generated); every prompt opens with "
        f"the same {side.shared_prefix:,} tokens, {shared}; vLLM's prefill runs "
        f"{vllm_prefill / hf_prefill:.1f}x as fast. In decode one vLLM step advances the whole "
        "batch and pays the fixed cost of a step (Python, scheduling, sampling) once, while "
        f"transformers pays it per token: {1000 / best.decode_rate:.2f} ms per token there, "
        f"{1000 / vllm_decode:.2f} ms per token of vLLM's batch, "
        f"{vllm_decode / best.decode_rate:.1f}x.{threads}"
    )


def _threads(count: int) -> str:
    return f"{count} thread" + ("" if count == 1 else "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="prompts for ours and bare")
    parser.add_argument("--hf-n", type=int, default=16, help="prompts for transformers")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of ours and bare")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.hf_n = min(args.hf_n, args.n)

    work = Path(tempfile.mkdtemp(prefix="bench-teacher-"))
    try:
        model = _tiny_model(work / "tiny-llama")
        weights_mib = sum(f.stat().st_size for f in model.glob("*.safetensors")) / 2**20
        side = _vllm_side(args, model)
        loops = _transformers(args, model, side.prompts[: args.hf_n])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _report(args, side, loops, weights_mib)


if __name__ == "__main__":
    main()
