"""The sandbox's price per user prompt: fin-factory's sandboxed rendering against plain Jinja.

Every recipe template renders in Jinja's immutable sandbox (recipes are untrusted). This script
renders the user prompt of each shipped domain for the same rows both ways, interleaved in one
process so a loaded machine slows both alike, and prints microseconds per row and the ratio.

    python benchmarks/bench_prompt_sandbox.py [--rows 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import jinja2

from factory.pipeline.prompts import prompt_builder
from factory.recipe import load_recipe
from factory.synth import Shard, labelled_shard

RECIPES = ("lending-cot", "fraud-cot", "credit-report-summary")


class _PlainEnvironment(jinja2.Environment):
    """The unsandboxed environment fin-factory used before, with its dict fast path."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


_DICT = frozenset(dir(dict))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"{'recipe':24} {'plain us/row':>13} {'sandbox us/row':>15} {'ratio':>6}")
    for name in RECIPES:
        recipe = load_recipe(name)
        rows = labelled_shard(recipe, Shard(0, 0, args.rows)).to_dicts()
        builder = prompt_builder(recipe)
        domain = recipe.domain_impl
        task = domain.tasks[recipe.task]  # type: ignore[attr-defined]
        plain = _PlainEnvironment(
            loader=jinja2.FileSystemLoader(str(domain.prompt_dir)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        ).get_template(task.user_template)
        assert all(plain.render(row=row).strip() == builder.user(row) for row in rows[:50])
        best = {"plain": float("inf"), "sandbox": float("inf")}
        for _ in range(args.rounds):
            started = time.perf_counter()
            for row in rows:
                plain.render(row=row).strip()
            best["plain"] = min(best["plain"], time.perf_counter() - started)
            started = time.perf_counter()
            for row in rows:
                builder.user(row)
            best["sandbox"] = min(best["sandbox"], time.perf_counter() - started)
        per_row = {k: v / len(rows) * 1e6 for k, v in best.items()}
        print(
            f"{name:24} {per_row['plain']:13.1f} {per_row['sandbox']:15.1f} "
            f"{per_row['sandbox'] / per_row['plain']:6.2f}x"
        )


if __name__ == "__main__":
    main()
