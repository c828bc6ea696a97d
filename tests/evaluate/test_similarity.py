"""ROUGE-L and offline BERTScore (all-MiniLM-L6-v2 from its wheel)."""

from __future__ import annotations

import pytest

from factory.evaluate.similarity import BERTSCORE_NOTE, bertscore, minilm_model_dir, rouge_l

SUMMARY = (
    "Good: your credit utilization fell from 45.0% to 12.3% after you paid down $4,200 of "
    "revolving balances. Bad: one new hard inquiry appeared. Your score rose 38 points to 742."
)
PARAPHRASE = (
    "Good: utilization dropped from 45% to 12.3% once you paid $4,200 off your cards. "
    "Bad: there is a new hard inquiry. The score went up 38 points to 742."
)
UNRELATED = "Paris is the capital of France and has many famous museums."


# ROUGE-L ----------------------------------------------------------------------------------------


def test_rouge_l_known_values():
    scores = rouge_l(
        ["the cat sat on the mat", "a b c d"],
        ["the cat was on the mat", "a c e"],
    )
    # LCS "the cat on the mat": 5 of 6 tokens both ways; "a c": P 2/4, R 2/3
    assert scores.per_example_f1 == pytest.approx((5 / 6, 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)))
    assert scores.precision.value == pytest.approx((5 / 6 + 0.5) / 2)
    assert scores.recall.value == pytest.approx((5 / 6 + 2 / 3) / 2)
    assert scores.f1.n == 2 and 0.0 <= scores.f1.low <= scores.f1.high <= 1.0


def test_rouge_l_edge_cases():
    assert rouge_l([SUMMARY], [SUMMARY]).f1.value == pytest.approx(1.0)
    assert rouge_l([""], [SUMMARY]).f1.value == 0.0
    empty = rouge_l([], [])
    assert empty.f1.value is None and empty.per_example_f1 == ()
    with pytest.raises(ValueError):
        rouge_l(["a"], [])


# BERTScore --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir():
    pytest.importorskip("transformers")
    return minilm_model_dir()


def test_minilm_ships_inside_its_wheel(model_dir):
    assert (model_dir / "model.safetensors").is_file()
    assert (model_dir / "tokenizer.json").is_file()


def test_bertscore_identical_text_scores_one_and_unrelated_lower(model_dir):
    scores = bertscore([SUMMARY, PARAPHRASE, UNRELATED], [SUMMARY] * 3, model_dir=model_dir)
    identical, paraphrase, unrelated = scores.per_example_f1
    assert identical == pytest.approx(1.0, abs=1e-5)
    assert unrelated < 0.5 < paraphrase < identical
    assert scores.note == BERTSCORE_NOTE
    assert "not comparable with roberta-large" in scores.note
    assert scores.f1.n == 3


def test_bertscore_precision_and_recall_are_directional(model_dir):
    # A candidate that says part of the reference: its tokens all have matches (precision),
    # but much of the reference is not covered (recall).
    part = "Your score rose 38 points to 742."
    scores = bertscore([part], [SUMMARY], model_dir=model_dir)
    assert scores.precision.value > scores.recall.value
    swapped = bertscore([SUMMARY], [part], model_dir=model_dir)
    assert swapped.precision.value == pytest.approx(scores.recall.value, abs=1e-5)
    assert swapped.recall.value == pytest.approx(scores.precision.value, abs=1e-5)


def test_bertscore_does_not_depend_on_batching(model_dir):
    predictions = [SUMMARY, "Short.", PARAPHRASE, UNRELATED]
    references = [PARAPHRASE, SUMMARY, SUMMARY, "Museums in Paris."]
    batched = bertscore(predictions, references, model_dir=model_dir, batch_size=8)
    single = bertscore(predictions, references, model_dir=model_dir, batch_size=1)
    assert batched.per_example_f1 == pytest.approx(single.per_example_f1, abs=1e-5)


def test_bertscore_edge_cases(model_dir):
    assert bertscore([""], [SUMMARY], model_dir=model_dir).per_example_f1 == (0.0,)
    empty = bertscore([], [])
    assert empty.f1.value is None and empty.note == BERTSCORE_NOTE
    with pytest.raises(ValueError):
        bertscore(["a"], ["a", "b"])
