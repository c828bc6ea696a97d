"""Fine-tune against retrieval on a knowledge dataset: the three ways, scored.

On the tiny random-weight model the figures are mechanics (it writes noise), not quality; the
scoring itself is checked with answers we control."""

from __future__ import annotations

import pytest

from factory.domains._documents import read_passages
from factory.evaluate import knowledge as knowledge_module
from factory.evaluate import run as run_module
from factory.pipeline.run import generate
from factory.recipe import load_recipe


@pytest.fixture(scope="module")
def handbook(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval-knowledge")
    (folder / "recipe.yaml").write_text(
        "name: eval-knowledge\ndomain: knowledge\ndescription: evaluation data\n"
        "profiles: {count: 80, seed: 4, shard_size: 100}\n"
    )
    generate(load_recipe(folder / "recipe.yaml"), folder / "out")
    return folder / "out"


def test_reference_answers_score_perfectly_and_noise_scores_zero(handbook):
    frame = run_module.read_split(handbook, "train").head(60)
    groundings = [
        knowledge_module._grounding(row, {p.id: p.text for p in read_passages(
            handbook / "documents" / "passages.jsonl")})
        for row in frame.to_dicts()
    ]  # fmt: skip
    references = [chat[-1]["content"] for chat in frame["messages"].to_list()]
    perfect = knowledge_module.score_answers(references, groundings)
    assert perfect["fact_accuracy"].value == 1.0
    assert perfect["grounded_answer_rate"].value == 1.0
    assert perfect["abstention_precision"].value == 1.0
    assert perfect["abstention_recall"].value == 1.0
    always_abstain = knowledge_module.score_answers(
        ["The documents do not say."] * len(groundings), groundings
    )
    assert always_abstain["abstention_recall"].value == 1.0
    assert always_abstain["abstention_precision"].value < 0.5
    assert always_abstain["fact_accuracy"].value == 0.0


def test_three_ways_on_the_tiny_model(handbook, tiny_model):
    report = run_module.evaluate(
        str(tiny_model), handbook, backend="transformers", baseline=str(tiny_model),
        limit=2, max_new_tokens=4,
    )  # fmt: skip
    ways = report["knowledge"]["ways"]
    assert list(ways) == list(knowledge_module.WAYS)
    rag, closed = ways["base + retrieval"], ways["base, closed-book"]
    # Retrieval puts the top-3 passages in the prompt: many more prompt tokens, same questions.
    assert rag["prompt_tokens"]["value"] > closed["prompt_tokens"]["value"] + 20
    for way in ways.values():
        assert way["grounded_answer_rate"]["n"] == 2
        assert way["seconds_per_answer"] > 0
