"""Preference pairs beside the SFT splits: verified answers against verifiably wrong ones."""

from __future__ import annotations

import polars as pl
import pytest

from factory.dataset import preference_files, read_manifest, read_preference, read_split
from factory.pipeline.run import generate
from factory.recipe import load_recipe
from factory.verify import verify_example

RECIPE = """\
name: pref
domain: lending
description: preference pairs
profiles: {count: 200, seed: 11, shard_size: 100}
preference:
  negatives_per_example: 2
"""


def _verdict(recipe, row, text, prompt=None):
    """The verifiers' verdict on `text` as the answer to `row`, called directly (not through
    the factory.verify.case binding the preference pass uses)."""
    domain = recipe.domain_impl
    return verify_example(
        text,
        decision=row["decision"],
        reason_codes=row["reason_codes"],
        known_codes=frozenset(domain.reason_texts),
        facts=domain.facts(row, recipe.policy),
        checks=[c for c in recipe.filters.verifiers if c not in ("length", "dedup")],
        table=domain.rule_table(recipe.policy),
        row=row,
        prompt=prompt,
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pref")
    (folder / "recipe.yaml").write_text(RECIPE)
    recipe = load_recipe(folder / "recipe.yaml")
    generate(recipe, folder / "out")
    return recipe, folder / "out"


def test_every_rejected_answer_is_refused_by_the_verifiers_and_every_chosen_is_the_kept_one(made):
    recipe, out = made
    assert set(preference_files(out)) == {"train", "validation", "test"}
    for split in ("train", "validation", "test"):
        pairs = read_preference(out, split)
        sft = read_split(out, split)
        answers = {i: m[-1]["content"] for i, m in zip(sft["id"], sft["messages"], strict=True)}
        rows = {row["id"]: row for row in sft.iter_rows(named=True)}
        assert set(pairs["id"]) <= set(answers), "a pair never crosses into another split"
        for pair in pairs.iter_rows(named=True):
            row = rows[pair["id"]]
            assert pair["chosen"] == [{"role": "assistant", "content": answers[pair["id"]]}]
            assert pair["prompt"] == row["messages"][:-1]
            verdict = _verdict(
                recipe, row, pair["rejected"][0]["content"], pair["prompt"][-1]["content"]
            )
            assert not verdict.ok and verdict.reason == pair["rejected_by"]
            assert pair["source"] == "corruption"
        per_example = pairs.group_by("id").len()["len"]
        assert per_example.max() <= 2
        assert pairs.group_by("id").agg(pl.col("error_class").n_unique())["error_class"].min() >= 1


def test_the_manifest_counts_the_pairs_and_the_card_offers_a_preference_config(made):
    from datasets import load_dataset

    _recipe, out = made
    manifest = read_manifest(out)
    counts = manifest["preference"]
    assert sum(counts["splits"].values()) == sum(
        read_preference(out, s).height for s in preference_files(out)
    )
    assert {"wrong_decision", "missing_reason", "extra_reason"} <= set(counts["error_classes"])
    assert any(name.startswith("preference/") for name in manifest["files"])
    loaded = load_dataset(str(out), "preference")
    assert set(loaded) == {"train", "validation", "test"}
    assert set(loaded["train"].column_names) >= {"prompt", "chosen", "rejected", "error_class"}
    assert load_dataset(str(out))["train"].num_rows == manifest["splits"]["train"]


def test_the_same_recipe_makes_the_same_pairs(made, tmp_path):
    recipe, out = made
    generate(recipe, tmp_path / "again")
    for split in preference_files(out):
        assert read_preference(out, split).equals(read_preference(tmp_path / "again", split))


def test_a_teachers_refused_answers_become_pairs_against_the_template_answer(tmp_path, monkeypatch):
    from factory.pipeline import run as run_module
    from factory.teachers.base import row_seed
    from tests.pipeline.canned import ApprovingTeacher

    monkeypatch.setattr(run_module, "build_teacher", lambda recipe: ApprovingTeacher())
    monkeypatch.setattr(run_module, "probe_servers", lambda recipe: None)  # a canned teacher
    (tmp_path / "recipe.yaml").write_text(
        RECIPE.replace("negatives_per_example: 2", "sources: [rejects]")
    )
    recipe = load_recipe(tmp_path / "recipe.yaml").with_teacher(
        backend="openai", model="m", base_url="http://127.0.0.1:9/v1"
    )
    generate(recipe, tmp_path / "out")
    out = tmp_path / "out"
    pairs = pl.concat([read_preference(out, s) for s in preference_files(out)])
    manifest = read_manifest(out)
    assert pairs.height == manifest["rejects_by_reason"]["decision"] > 0
    assert set(pairs["source"]) == {"reject"} and set(pairs["error_class"]) == {"decision"}
    import random

    rejects = {r["id"]: r for r in pl.read_parquet(out / "rejects.parquet").iter_rows(named=True)}
    write = recipe.domain_impl.tasks[recipe.task].write
    for pair in pairs.head(20).iter_rows(named=True):
        row = rejects[pair["id"]]
        index = int(pair["id"].rsplit("-", 1)[1])
        expected = write(row, recipe.policy, random.Random(row_seed(recipe.profiles.seed, index)))
        assert pair["chosen"][0]["content"] == expected
        assert _verdict(recipe, row, expected).ok
        assert "<decision>approve</decision>" in pair["rejected"][0]["content"]


def test_pairs_are_written_a_row_group_at_a_time_with_the_same_rows(made, tmp_path, monkeypatch):
    """The preference pass streams: with a tiny row group, the files hold several groups and
    the same pairs, in the same order, as written in one piece."""
    import shutil

    import pyarrow.parquet as pq

    from factory.pipeline import preference

    recipe, out = made
    staging = tmp_path / "staging"
    shutil.copytree(out / "data", staging / "data")
    monkeypatch.setattr(preference, "_FLUSH", 7)
    counts = preference.write_preference(recipe, staging)
    assert counts.to_json() == read_manifest(out)["preference"]
    for split in preference_files(out):
        written = staging / "preference" / f"{split}-00000-of-00001.parquet"
        assert pq.ParquetFile(written).num_row_groups > 1
        assert pl.read_parquet(written).equals(read_preference(out, split))
