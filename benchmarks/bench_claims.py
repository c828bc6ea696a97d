"""The mutation benchmark of claim-level verification (issue 14).

For each shipped recipe, the template teacher writes --n examples in-process; those today's
verifiers keep are altered by factory.verify.mutations (each error class several ways, and
correct rewrites), and every altered text goes back through `verify_example` twice, side by
side: with today's verifiers (format, decision, reasons, pii, numbers) and with claims added.
Printed per recipe and class: how many altered examples, the share still kept (errors: lower
is better; target <= 1%) or wrongly rejected (rewrites: target <= 1%), for the development
forms and the held-out forms (never used to tune the verifier) separately.

--template-rows N also runs every verifier, claims included, on N template-teacher rows per
recipe (the target: zero rejections) and reports the claims verifier's time per row.

    python benchmarks/bench_claims.py                       # 500 examples per recipe
    python benchmarks/bench_claims.py --n 300 --show 3      # print some survivors
    python benchmarks/bench_claims.py --n 0 --template-rows 10000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory.domains.rules.interpret import row_values
from factory.output import parse_output
from factory.pipeline.prompts import prompt_builder
from factory.recipe import load_recipe
from factory.synth import Shard, labelled_shard
from factory.teachers.base import row_seed
from factory.verify import verify_example
from factory.verify.claims import check_claims
from factory.verify.mutations import ERROR_CLASSES, REWRITE, SPLITS, Example, alterations

TODAY = ("format", "decision", "reasons", "pii", "numbers")
WITH_CLAIMS = (*TODAY, "claims")
RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def _cases(recipe: Any, n: int, shard: int) -> list[tuple[str, dict[str, Any], str]]:
    domain = recipe.domain_impl
    task = domain.tasks[recipe.task]
    builder = prompt_builder(recipe)
    rows = labelled_shard(recipe, Shard(shard, shard * n, n)).to_dicts()
    seed = recipe.profiles.seed
    return [
        (
            task.write(row, recipe.policy, random.Random(row_seed(seed, shard * n + i))),
            row,
            builder.user(row),
        )
        for i, row in enumerate(rows)
    ]


def _verify(
    recipe: Any, table: Any, text: str, row: dict[str, Any], prompt: str, checks: tuple[str, ...]
) -> Any:
    domain = recipe.domain_impl
    return verify_example(
        text,
        decision=row["decision"],
        reason_codes=row["reason_codes"],
        known_codes=frozenset(domain.reason_texts_for(recipe.policy)),
        facts=domain.facts(row, recipe.policy),
        checks=checks,
        number_tolerance=recipe.filters.number_tolerance,
        table=table,
        row=row,
        prompt=prompt,
    )


def mutation_table(name: str, n: int, show: int) -> list[tuple[str, ...]]:
    recipe = load_recipe(name)
    table = recipe.domain_impl.rule_table(recipe.policy)
    # The fresh forms draw from a generator of their own: adding them left the dev and
    # held-out alterations as they were.
    shared = random.Random(14)
    rngs = {"dev": shared, "held_out": shared, "fresh": random.Random(15)}
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    shown: Counter[str] = Counter()
    for text, row, prompt in _cases(recipe, n, shard=900):
        if not _verify(recipe, table, text, row, prompt, TODAY).ok:
            continue
        example = Example(text, row, prompt, table, row_values(table, row))
        for split in SPLITS:
            for alt in alterations(example, rngs[split], split):
                today = _verify(recipe, table, alt.text, row, prompt, TODAY).ok
                verdict = _verify(recipe, table, alt.text, row, prompt, WITH_CLAIMS)
                c = counts[(alt.kind, split)]
                c["n"] += 1
                c["today"] += today
                c["claims"] += verdict.ok
                wrong = verdict.ok != alt.correct
                if wrong and split == "dev" and shown[alt.kind] < show:
                    shown[alt.kind] += 1
                    what = "KEPT" if verdict.ok else f"REJECTED {verdict.reason}: {verdict.detail}"
                    print(f"--- {name} {alt.kind}/{alt.form} {what}\n{alt.text}\n")
    rows = []
    for kind in (*ERROR_CLASSES, REWRITE):
        for split in SPLITS:
            c = counts.get((kind, split))
            if not c:
                continue
            if kind == REWRITE:
                today = 1 - c["today"] / c["n"]
                ours = 1 - c["claims"] / c["n"]
                label = "rewrite (rejected)"
            else:
                today, ours, label = c["today"] / c["n"], c["claims"] / c["n"], f"{kind} (kept)"
            rows.append((name, label, split, str(c["n"]), f"{today:.1%}", f"{ours:.1%}"))
    return rows


def template_check(name: str, n: int) -> tuple[str, ...]:
    recipe = load_recipe(name)
    table = recipe.domain_impl.rule_table(recipe.policy)
    rejected: Counter[str] = Counter()
    first = ""
    seconds = 0.0
    shard_rows = 2000
    for shard in range(0, (n + shard_rows - 1) // shard_rows):
        size = min(shard_rows, n - shard * shard_rows)
        for text, row, prompt in _cases(recipe, size, shard=shard):
            verdict = _verify(recipe, table, text, row, prompt, WITH_CLAIMS)
            parsed = parse_output(text)
            start = time.perf_counter()
            check_claims(parsed, table=table, row=row, decision=row["decision"], prompt=prompt)
            seconds += time.perf_counter() - start
            if not verdict.ok:
                rejected[str(verdict.reason)] += 1
                first = first or f"{verdict.reason}: {verdict.detail}"
    total = sum(rejected.values())
    return (
        name,
        str(n),
        str(total),
        dict(rejected).__repr__(),
        f"{seconds / n * 1e6:.0f}",
        first[:160],
    )


def _print(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for line in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="template examples per recipe")
    parser.add_argument("--recipes", nargs="*", default=None, help="recipe names (default all)")
    parser.add_argument("--show", type=int, default=0, help="print N wrong verdicts per class")
    parser.add_argument("--template-rows", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    names = args.recipes or sorted(p.stem for p in RECIPES.glob("*.yaml"))
    # Claims read a rule table: recipes of a domain without one (knowledge) have no claims
    # to alter.
    tables = [n for n in names if load_recipe(RECIPES / f"{n}.yaml").domain_impl.table_builder]
    for skipped in sorted(set(names) - set(tables)):
        print(f"skipped {skipped}: its domain has no rule table, so no claims are read")
    names = tables
    if args.n:
        rows = [row for name in names for row in mutation_table(name, args.n, args.show)]
        _print(("recipe", "class", "split", "altered", "today", "claims"), rows)
    if args.template_rows:
        print()
        _print(
            ("recipe", "rows", "rejected", "by reason", "claims us/row", "first"),
            [template_check(name, args.template_rows) for name in names],
        )


if __name__ == "__main__":
    main()
