"""`profiles.target_kept` / `--kept N`: further shards are drawn until N examples are kept."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.dataset import read_manifest
from factory.errors import FactoryError
from factory.pipeline.run import generate, run_identity
from factory.recipe import load_recipe
from tests.conftest import MINIMAL

runner = CliRunner()


def _data(folder):
    return {f.name: f.read_bytes() for f in sorted((folder / "data").glob("*.parquet"))}


def test_draws_whole_shards_until_the_target_is_kept_and_equals_a_plain_run(write_recipe, tmp_path):
    # 200 profiles keep 200: 150 more are needed, so two more shards of 100 are drawn.
    recipe = load_recipe(write_recipe(MINIMAL.replace("count: 300", "count: 200")))
    wanted = recipe.with_overrides(target_kept=350)
    result = generate(wanted, tmp_path / "kept")
    manifest = read_manifest(tmp_path / "kept")
    assert manifest["counts"]["profiles"] == 400
    assert result.final.kept >= 350
    assert (result.generated_shards, result.reused_shards) == (4, 0)
    # The same shards as a run asked for 400 profiles: drawing more never changes the first.
    plain = generate(recipe.with_overrides(count=400), tmp_path / "plain")
    assert plain.final.kept == result.final.kept
    assert _data(tmp_path / "kept") == _data(tmp_path / "plain")
    assert run_identity(wanted)["target_kept"] == 350
    assert "target_kept" not in run_identity(recipe)


def test_the_cap_stops_the_run_and_says_how_far_it_got(write_recipe, tmp_path):
    # Every example is too long for 40 tokens: nothing is ever kept.
    path = write_recipe(MINIMAL + "filters:\n  max_seq_length: 40\n")
    recipe = load_recipe(path).with_overrides(target_kept=50, max_count=300)
    with pytest.raises(FactoryError, match=r"kept 0 of the 50 .* drawing 300 profiles"):
        generate(recipe, tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()
    result = runner.invoke(
        app,
        [
            "generate",
            str(path),
            "--kept",
            "50",
            "--max-profiles",
            "300",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "kept 0 of the 50" in result.output
