"""Reward functions from the policy engine and verifiers, for RL on any trainer.

A reward here is the engine's verdict on one completion, not a learned guess: the same
verifiers that keep or reject training data (factory.verify) score what the model writes. There
is one reward per per-example verifier, in `factory.verify.VERIFIER_ORDER` (format, decision,
reasons, pii, numbers, and claims for a domain with a rule table; `length` is left out, since a
completion's length is the trainer's `max_completion_length`), each in [0, 1]:

    format     1 when the completion parses (<reasoning>, <decision>, ...), else 0;
    numbers    the share of cited numbers the engine's facts vouch for (1 when none is cited);
    any other  1 when that verifier passes, else 0.

Every reward is 0 for a completion that does not parse, so a malformed answer never earns
credit. A verified answer scores 1 on every reward, the maximum; an answer wrong in any way a
verifier catches scores lower on that verifier's reward.

The functions follow the reward-function convention of trl's GRPOTrainer (Unsloth and Axolotl
take the same): called with `prompts`, `completions` (strings, or chat messages whose last
message is the answer) and every other dataset column as a keyword list, they return one float
per completion. The dataset columns are the rows of a fin-factory dataset (profile columns,
`decision`, `reason_codes`), which is all a verifier needs to know the right answer::

    from trl import GRPOConfig, GRPOTrainer
    from factory.rewards import verifier_rewards

    rewards = verifier_rewards("out/lending-cot")   # reads the recipe from the manifest
    trainer = GRPOTrainer(
        model=...,
        reward_funcs=rewards.functions,
        args=GRPOConfig(reward_weights=rewards.weights, ...),
        train_dataset=...,  # a `prompt` column plus the dataset's own columns
    )
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.output import parse_output
from factory.recipe import RecipeBase
from factory.verify import VERIFIER_ORDER
from factory.verify.case import CaseVerifier
from factory.verify.numbers import check_numbers, extract_numbers

#: The verifiers that become rewards (every per-example verifier but length).
REWARD_NAMES: tuple[str, ...] = tuple(name for name in VERIFIER_ORDER if name != "length")

#: A trl-style reward function: (prompts, completions, **columns) -> one reward per completion.
RewardFn = Callable[..., list[float]]


@dataclass(frozen=True)
class Rewards:
    """The reward functions of one recipe, with the weights the recipe gives them.

    Attributes:
        functions: one callable per reward, named `<verifier>_reward` (trl logs that name).
        weights: the weight of each function, in the same order.
        names: the verifier behind each function.
    """

    functions: tuple[RewardFn, ...]
    weights: tuple[float, ...]
    names: tuple[str, ...]

    def total(
        self,
        completion: str | Sequence[Mapping[str, str]],
        row: Mapping[str, Any],
        prompt: str | Sequence[Mapping[str, str]] | None = None,
    ) -> float:
        """The weighted sum of every reward for one completion of the case `row`."""
        columns = {key: [value] for key, value in row.items()}
        return sum(
            weight * fn([prompt], [completion], **columns)[0]
            for fn, weight in zip(self.functions, self.weights, strict=True)
        )


def verifier_rewards(
    source: RecipeBase | str | Path, weights: Mapping[str, float] | None = None
) -> Rewards:
    """The reward functions for a recipe, or for the dataset a recipe made.

    Args:
        source: a loaded recipe, or a dataset folder (its manifest carries the recipe).
        weights: weight per verifier name; unnamed verifiers weigh 1, a weight of 0 drops the
            reward. Defaults to the recipe's `train.grpo.reward_weights` when it has them.

    Raises:
        ValueError: a weight names no verifier.
    """
    recipe = source if isinstance(source, RecipeBase) else _dataset_recipe(Path(source))
    if weights is None and recipe.train is not None:
        weights = recipe.train.grpo.reward_weights
    chosen = dict(weights or {})
    unknown = sorted(set(chosen) - set(REWARD_NAMES))
    if unknown:
        raise ValueError(
            f"reward weights for unknown verifiers {unknown}; choose from {REWARD_NAMES}"
        )
    scorer = _Scorer(recipe)
    # The verifiers this domain has (claims need a rule table), less those weighted 0.
    names = tuple(name for name in scorer.verifier.checks if chosen.get(name, 1.0) != 0)
    return Rewards(
        functions=tuple(scorer.reward(name) for name in names),
        weights=tuple(float(chosen.get(name, 1.0)) for name in names),
        names=names,
    )


class _Scorer:
    """Scores completions against the cases they answer, for one recipe."""

    def __init__(self, recipe: RecipeBase) -> None:
        # Every reward verifier runs, whatever the recipe's filters keep: a reward is a score.
        self.verifier = CaseVerifier(recipe, checks=REWARD_NAMES)

    def reward(self, name: str) -> RewardFn:
        score = self._numbers if name == "numbers" else self._verifier(name)

        def reward(
            prompts: Sequence[Any], completions: Sequence[Any], **columns: Sequence[Any]
        ) -> list[float]:
            rows = _rows(columns, len(completions))
            return [
                score(_text(completion), row, _user(prompt))
                for prompt, completion, row in zip(prompts, completions, rows, strict=True)
            ]

        reward.__name__ = reward.__qualname__ = f"{name}_reward"
        return reward

    def _verifier(self, name: str) -> Callable[[str, Mapping[str, Any], str | None], float]:
        checks = (name,)

        def score(text: str, row: Mapping[str, Any], prompt: str | None) -> float:
            if not parse_output(text).ok:
                return 0.0
            return 1.0 if self.verifier.verdict(text, row, prompt, checks).ok else 0.0

        return score

    def _numbers(self, text: str, row: Mapping[str, Any], prompt: str | None) -> float:
        parsed = parse_output(text)
        if not parsed.ok:
            return 0.0
        cited_text = (
            parsed.reasoning if parsed.answer is None else f"{parsed.reasoning}\n{parsed.answer}"
        )
        cited = len(extract_numbers(cited_text))
        if not cited:
            return 1.0
        misses = check_numbers(cited_text, self.verifier.facts(row), self.verifier.tolerance)
        return 1.0 - len(misses) / cited


def _user(prompt: Any) -> str | None:
    """The user message of a prompt (chat messages), which the claim checks compare with."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        users = [
            m.get("content") for m in prompt if isinstance(m, Mapping) and m.get("role") == "user"
        ]
        return str(users[-1]) if users else None
    return None


def _text(completion: Any) -> str:
    """The answer text of a completion: a string, or chat messages ending with the answer."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion:
        last = completion[-1]
        if isinstance(last, Mapping):
            return str(last.get("content") or "")
    raise TypeError(f"a completion is a string or a list of chat messages, got {completion!r}")


def _rows(columns: Mapping[str, Sequence[Any]], count: int) -> list[dict[str, Any]]:
    """The per-completion case rows from trl's column-wise keyword arguments."""
    missing = {"decision", "reason_codes"} - set(columns)
    if missing:
        raise ValueError(
            f"reward functions need the dataset columns {sorted(missing)} beside the prompt "
            "(train on a fin-factory dataset's rows, not on the prompts alone)"
        )
    lists = {key: value for key, value in columns.items() if isinstance(value, Sequence)}
    return [
        {key: value[i] for key, value in lists.items() if len(value) == count} for i in range(count)
    ]


def _dataset_recipe(folder: Path) -> RecipeBase:
    from factory.dataset import read_manifest
    from factory.recipe import parse_recipe

    manifest = read_manifest(folder)
    return parse_recipe(manifest["recipe"]["content"], source=str(folder / "manifest.json"))


__all__ = ["REWARD_NAMES", "RewardFn", "Rewards", "verifier_rewards"]
