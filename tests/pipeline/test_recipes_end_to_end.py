"""Every shipped recipe generates a dataset the engine vouches for, through the real pipeline."""

from __future__ import annotations

import random

import pytest

from factory.dataset import load_hf_dataset, read_manifest, read_split
from factory.output import parse_output
from factory.pipeline.prompts import prompt_builder
from factory.pipeline.run import generate
from factory.recipe import load_recipe, shipped_recipes
from factory.synth import Shard, labelled_shard
from factory.teachers.base import row_seed
from factory.verify import VERIFIER_ORDER, verify_example


@pytest.mark.parametrize("path", shipped_recipes(), ids=lambda p: p.stem)
def test_template_teacher_passes_every_verifier_on_thousands_of_profiles(path):
    recipe = load_recipe(path).with_overrides(count=3000, shard_size=3000, boundary_fraction=0.5)
    domain = recipe.domain_impl
    task = domain.tasks[recipe.task]
    rows = labelled_shard(recipe, Shard(0, 0, 3000)).to_dicts()
    builder = prompt_builder(recipe)
    checks = set(VERIFIER_ORDER) - {"length"}
    try:
        table = domain.rule_table(recipe.policy)
    except NotImplementedError:
        table, checks = None, checks - {"claims"}
    failures = []
    for index, row in enumerate(rows):
        text = task.write(row, recipe.policy, random.Random(row_seed(7, index)))
        verdict = verify_example(
            text,
            decision=row["decision"],
            reason_codes=row["reason_codes"],
            known_codes=domain.reason_texts_for(recipe.policy),
            facts=domain.facts(row, recipe.policy),
            checks=checks,
            number_tolerance=0.0,
            table=table,
            row=row,
            prompt=builder.user(row),
        )
        if not verdict.ok:
            failures.append((index, verdict))
    assert not failures, failures[:3]


@pytest.mark.parametrize(
    "path", [p for p in shipped_recipes() if p.stem != "lending-cot"], ids=lambda p: p.stem
)
def test_generate_every_other_domain_and_task(path, tmp_path):
    recipe = load_recipe(path).with_overrides(count=400, shard_size=200)
    result = generate(recipe, tmp_path / "out")
    manifest = read_manifest(tmp_path / "out")
    assert manifest["counts"]["pass_rate"] > 0.97, manifest["rejects_by_reason"]
    assert result.final.kept == sum(manifest["splits"].values())
    train = read_split(tmp_path / "out", "train")
    parsed = parse_output(train["messages"][0][-1]["content"])
    assert parsed.ok and parsed.decision == train["decision"][0]
    if recipe.task != "decision_cot":
        assert parsed.answer, "credit-report tasks carry the customer-facing answer"
    assert set(load_hf_dataset(tmp_path / "out")) == {"train", "validation", "test"}
