"""End-to-end generation throughput and memory, side by side with a bare distilabel pipeline.

Measured in one run on this machine:
  ours   fin-factory's full pipeline (synthesize -> template teacher -> verify -> shard files ->
         dedup, split, write the dataset) on N lending profiles;
  bare   a stock distilabel Pipeline that moves the same rows (the same labelled profiles,
         synthesized by its generator) through one no-op step with the same batch size.
Prints rows/s of each, their ratio (the target is >= 0.5), and the peak memory of each run's
whole process tree (distilabel runs one process per step): PSS, and the RSS sum for reference.

    python benchmarks/bench_generate.py                 # 100,000 rows
    python benchmarks/bench_generate.py --n 1000000     # the bounded-memory check
    python benchmarks/bench_generate.py --n 10000000 --skip-bare   # finalize's growth to 10M
    python benchmarks/bench_generate.py --without-claims  # the pipeline without claims' cost

It also prints finalize's own time (dedup, split, write) per million rows, to compare across N.
"""

# No `from __future__ import annotations`: distilabel reads the StepInput hint at run time.

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")

from _rss import PeakTreeRss
from distilabel.pipeline import Pipeline
from distilabel.steps import GeneratorStep, StepInput, step

import factory.pipeline  # noqa: F401  (sets the start method before distilabel loads)
from factory.recipe import parse_recipe
from factory.synth import labelled_shard, recipe_shards


class BareShards(GeneratorStep):
    """Yields the labelled profiles of every shard, one shard per batch (as ours does)."""

    recipe_data: dict[str, Any]

    @property
    def outputs(self) -> list[str]:
        return ["decision"]

    def process(self, offset: int = 0):  # type: ignore[no-untyped-def]
        loaded = parse_recipe(self.recipe_data)
        shards = recipe_shards(loaded)
        for position, shard in enumerate(shards):
            rows = labelled_shard(loaded, shard)
            yield rows.to_dicts(), position == len(shards) - 1


@step(inputs=["decision"], outputs=["decision"])
def NoOp(inputs: StepInput):
    yield inputs


class _Phase:
    def __init__(self) -> None:
        self.start = self.end = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.end - self.start


class PhaseTimer:
    """Times each finalize phase from its progress reports (first report to last), and files
    the memory samples from the first report on under that phase ("finalize: bands", ...)."""

    def __init__(self) -> None:
        self.phases: dict[str, _Phase] = {}
        self.memory: PeakTreeRss | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.phases.setdefault(phase, _Phase()).end = time.perf_counter()
        if self.memory is not None:
            self.memory.phase = f"finalize: {phase}"


def _bare_pipeline(recipe: Any, work: Path) -> Any:
    batch = recipe.profiles.shard_size
    with Pipeline(name="bare", cache_dir=work / "bare-cache") as pipeline:
        source = BareShards(recipe_data=recipe.model_dump(mode="json"), batch_size=batch)
        sink = NoOp(input_batch_size=batch)
        source >> sink
    return pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="lending profiles")
    parser.add_argument("--shard-size", type=int, default=5_000)
    parser.add_argument("--skip-bare", action="store_true", help="only run ours")
    parser.add_argument(
        "--without-claims",
        action="store_true",
        help="ours without the claims verifier (its cost apart from the pipeline's)",
    )
    args = parser.parse_args()

    from factory.pipeline.run import generate
    from factory.recipe import load_recipe

    recipe = load_recipe("lending-cot").with_overrides(count=args.n, shard_size=args.shard_size)
    if args.without_claims:
        verifiers = [v for v in recipe.filters.verifiers if v != "claims"]
        recipe = recipe.overridden({"filters.verifiers": verifiers})
    work = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    try:
        start = time.perf_counter()
        timer = PhaseTimer()
        with PeakTreeRss() as ours_rss:
            ours_rss.phase = "generation"
            timer.memory = ours_rss
            result = generate(recipe, work / "ours", finalize_progress=timer)
        ours_s = time.perf_counter() - start
        ours_rate = args.n / ours_s
        finalize_s = result.final.manifest["timings_s"]["finalize"]
        print(
            f"ours: {args.n:,} profiles -> {result.final.kept:,} verified examples in "
            f"{ours_s:.1f}s = {ours_rate:,.0f} rows/s; process tree peak PSS "
            f"{ours_rss.peak_pss_mib:,.0f} MiB (RSS sum {ours_rss.peak_mib:,.0f} MiB)"
        )
        millions = args.n / 1e6
        phases = ", ".join(f"{name} {phase.seconds:.1f}s" for name, phase in timer.phases.items())
        data_files = sum(name.startswith("data/") for name in result.final.manifest["files"])
        print(
            f"  finalize (dedup, split, write): {finalize_s:.1f}s = "
            f"{finalize_s / millions:.1f}s per million rows ({phases}); {data_files} data file(s)"
        )
        by_phase = ", ".join(
            f"{name} {pss / 2**20:,.0f} MiB" for name, pss in ours_rss.phase_peaks_pss.items()
        )
        print(f"  peak PSS by phase: {by_phase}")
        if args.skip_bare:
            return
        pipeline = _bare_pipeline(recipe, work)
        start = time.perf_counter()
        with PeakTreeRss() as bare_rss:
            pipeline.run(use_cache=False)
        bare_s = time.perf_counter() - start
        bare_rate = args.n / bare_s
        print(
            f"bare distilabel (same rows, one no-op step, batch {args.shard_size:,}): "
            f"{bare_s:.1f}s = {bare_rate:,.0f} rows/s; process tree peak PSS "
            f"{bare_rss.peak_pss_mib:,.0f} MiB (RSS sum {bare_rss.peak_mib:,.0f} MiB)"
        )
        print(
            f"ratio ours/bare: {ours_rate / bare_rate:.2f} (target >= 0.5); "
            f"{args.n:,} examples in {ours_s:.1f}s (target < 60 s for 100,000), "
            f"peak PSS {ours_rss.peak_pss_mib:,.0f} MiB (target < 2,048)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
