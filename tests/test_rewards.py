"""factory.rewards: the verifiers as RL rewards, called the way trl's GRPOTrainer calls them."""

from __future__ import annotations

import random

import pytest

from factory.output import parse_output
from factory.recipe import parse_recipe
from factory.rewards import REWARD_NAMES, verifier_rewards
from factory.synth import Shard, labelled_shard


def _cases(domain: str, n: int = 60) -> tuple[object, list[dict], list[str]]:
    recipe = parse_recipe({"name": "r", "domain": domain, "description": "rewards"})
    rows = labelled_shard(recipe, Shard(0, 0, n)).to_dicts()
    write = recipe.domain_impl.tasks[recipe.task].write
    answers = [write(row, recipe.policy, random.Random(i)) for i, row in enumerate(rows)]
    return recipe, rows, answers


def _columns(rows: list[dict]) -> dict[str, list]:
    """Dataset rows as trl hands them to a reward function: one list per column."""
    return {key: [row[key] for row in rows] for key in rows[0]}


@pytest.mark.parametrize("domain", ["lending", "fraud", "credit_report"])
def test_a_verified_answer_scores_the_maximum_on_every_reward(domain):
    recipe, rows, answers = _cases(domain)
    rewards = verifier_rewards(recipe)
    # claims reads an explanation against the domain's rule table (every domain here has one);
    # grounding checks answers about documents, so only the knowledge domain has that reward.
    has_table = recipe.domain_impl.table_builder is not None
    expected = tuple(n for n in REWARD_NAMES if (has_table or n != "claims") and n != "grounding")
    assert rewards.names == expected
    completions = [[{"role": "assistant", "content": a}] for a in answers]
    for fn in rewards.functions:
        scores = fn([None] * len(rows), completions, **_columns(rows))
        assert scores == [1.0] * len(rows), fn.__name__
    assert rewards.total(answers[0], rows[0]) == pytest.approx(sum(rewards.weights))


def test_a_malformed_completion_scores_zero_on_every_reward():
    recipe, rows, _ = _cases("lending", 4)
    rewards = verifier_rewards(recipe)
    for text in ("", "The loan is approved.", "<reasoning>unclosed", "<decision>deny"):
        for fn in rewards.functions:
            assert fn([None], [text], **_columns(rows[:1])) == [0.0], (fn.__name__, text)


def _by_name(rewards, completion, row) -> dict[str, float]:
    columns = {key: [value] for key, value in row.items()}
    return {
        name: fn([None], [completion], **columns)[0]
        for name, fn in zip(rewards.names, rewards.functions, strict=True)
    }


def test_each_error_scores_lower_on_the_reward_of_its_verifier_and_in_total():
    recipe, rows, answers = _cases("lending")
    rewards = verifier_rewards(recipe)
    i = next(i for i, row in enumerate(rows) if row["decision"] == "deny")
    row, answer = rows[i], answers[i]
    best = rewards.total(answer, row)
    wrong_decision = answer.replace("<decision>deny</decision>", "<decision>approve</decision>")
    extra_reason = answer.replace(
        "</reasons>", "- SHORT_EMPLOYMENT: Length of employment too short\n</reasons>"
    )
    leaked = answer.replace("<reasoning>", "<reasoning>\nCall 415-555-0134 about it.")
    cited = parse_output(answer).reasoning
    wrong_number = answer.replace(cited, cited + " The monthly payment is $98,765.43.")
    for completion, verifier in (
        (wrong_decision, "decision"),
        (extra_reason, "reasons"),
        (leaked, "pii"),
        (wrong_number, "numbers"),
    ):
        scores = _by_name(rewards, completion, row)
        assert scores[verifier] < 1.0, (verifier, scores)
        assert rewards.total(completion, row) < best, verifier
        assert all(0.0 <= v <= 1.0 for v in scores.values())


def test_the_numbers_reward_is_the_share_of_cited_numbers_the_facts_vouch_for():
    recipe, rows, _answers = _cases("lending", 2)
    rewards = verifier_rewards(recipe)
    numbers = rewards.functions[rewards.names.index("numbers")]
    body = "<reasoning>\nThe credit score is {score}. It is 12345678.\n</reasoning>\n"
    row = rows[0]
    text = body.format(score=row["credit_score"]) + f"<decision>{row['decision']}</decision>\n"
    if row["reason_codes"]:
        text += "<reasons>\n" + "".join(f"- {c}: x\n" for c in row["reason_codes"]) + "</reasons>"
    assert numbers([None], [text], **_columns([row])) == [0.5]


def test_weights_come_from_the_recipe_and_a_zero_weight_drops_a_reward():
    recipe = parse_recipe(
        {
            "name": "r",
            "domain": "lending",
            "description": "rewards",
            "train": {
                "base_model": "m",
                "method": "grpo",
                "grpo": {"reward_weights": {"decision": 3.0, "pii": 0}},
            },
        }
    )
    rewards = verifier_rewards(recipe)
    assert "pii" not in rewards.names
    assert rewards.weights[rewards.names.index("decision")] == 3.0
    with pytest.raises(ValueError, match="unknown verifiers"):
        verifier_rewards(recipe, {"style": 1.0})


def test_reward_functions_need_the_case_columns():
    recipe, _, answers = _cases("lending", 1)
    fn = verifier_rewards(recipe).functions[1]
    with pytest.raises(ValueError, match="decision"):
        fn([None], [answers[0]])
