"""Throughput of /v1/decide under concurrent load against the bare vLLM server it fronts.

Same tiny model (tests/tiny.py), same prompts, same sampling (greedy, logprobs on, the same
max_tokens): the bare run posts each case's chat straight to vLLM's OpenAI server; ours posts
the case to `fin-factory serve ... --model-url` (a separate process), which labels it, renders
the prompt, asks the same server, verifies, writes and commits the audit record, then answers.
Prints requests/s and p50/p99 latency of both, and the ratio (target: ours >= 0.9x bare).

    python benchmarks/bench_serve.py [--requests 200] [--concurrency 16] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def _load(url: str, bodies: list[dict], concurrency: int) -> tuple[float, list[float], int]:
    import httpx

    latencies: list[float] = []
    failures = 0
    queue = list(bodies)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:

        async def worker() -> None:
            nonlocal failures
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                reply = await client.post(url, json=body)
                latencies.append(time.perf_counter() - started)
                failures += reply.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return wall, latencies, failures


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from factory.pipeline.prompts import prompt_builder
    from factory.recipe import parse_recipe
    from factory.serve.backends import free_port, start_vllm
    from factory.serve.case import case_sample
    from factory.synth import Shard, labelled_shard
    from tests.tiny import build_lending_model

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    model = build_lending_model(work / "tiny")
    data = {
        "name": "bench-serve", "domain": "lending", "description": "bench",
        "serve": {"max_new_tokens": args.max_tokens, "audit_db": str(work / "audit.db")},
    }  # fmt: skip
    recipe = parse_recipe(data)
    (work / "recipe.yaml").write_text(json.dumps(data))
    cases = case_sample(recipe).head(args.requests).to_dicts()
    for case in cases:
        case.pop("applicant_id")
    prompts = prompt_builder(recipe)
    rows = labelled_shard(recipe, Shard(0, 0, 1))  # warm the engine's code paths
    del rows
    from factory.serve.answer import AnswerPath
    from factory.serve.backends import ChatBackend

    path = AnswerPath(recipe, ChatBackend("http://unused/v1", "x"))
    labelled = path.label([{**c, "applicant_id": i} for i, c in enumerate(cases)])
    chats = [
        {"model": "fine-tuned", "messages": prompts.messages(row), "temperature": 0.0,
         "max_tokens": args.max_tokens, "logprobs": True}
        for row in labelled
    ]  # fmt: skip

    server = start_vllm(str(model), "fine-tuned", work / "vllm.log", {"max_model_len": 2048})
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    service = subprocess.Popen(
        [sys.executable, "-m", "factory.cli", "serve", str(work / "recipe.yaml"),
         "--model-url", server.url, "--port", str(port)],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        import httpx

        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        bare_url = f"{server.url}/chat/completions"
        ours_url = f"http://127.0.0.1:{port}/v1/decide/lending"
        warm = args.concurrency
        asyncio.run(_load(bare_url, chats[:warm], args.concurrency))
        asyncio.run(_load(ours_url, cases[:warm], args.concurrency))
        results = {}
        # Interleaved twice, so a load spike from elsewhere on the machine hits both sides.
        for _ in range(2):
            for name, url, bodies in (("bare", bare_url, chats), ("ours", ours_url, cases)):
                wall, latencies, failures = asyncio.run(_load(url, bodies, args.concurrency))
                results.setdefault(name, []).append((wall, latencies, failures))
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)
        server.stop()
    print(f"{args.requests} requests x 2 rounds, {args.concurrency} concurrent, "
          f"max_tokens {args.max_tokens}, tiny Llama on vllm-cpu (machine shared)")  # fmt: skip
    rates = {}
    for name, runs in results.items():
        wall = sum(r[0] for r in runs)
        latencies = [x for r in runs for x in r[1]]
        failures = sum(r[2] for r in runs)
        rates[name] = len(latencies) / wall
        print(f"{name:5s} {rates[name]:8.1f} req/s  p50 {_pct(latencies, 0.5) * 1000:8.1f} ms  "
              f"p99 {_pct(latencies, 0.99) * 1000:8.1f} ms  non-200: {failures}")  # fmt: skip
    print(f"ratio ours/bare: {rates['ours'] / rates['bare']:.2f}x (target >= 0.9x)")


if __name__ == "__main__":
    main()
