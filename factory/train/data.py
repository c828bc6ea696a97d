"""The training data: a generated dataset's splits, shaped for the trl trainer of each method.

With `assistant_only_loss` (the default) each example is a conversational prompt/completion pair
(system + user, then the assistant message): trl renders both with the model's own chat template
and computes the loss on the completion only, so the model learns the reasoning and decision,
not the prompt. This works with any chat template (no {% generation %} markers needed). Without
it, each example is the whole `messages` conversation and every token counts.

DPO reads the dataset's preference pairs (`prompt`, `chosen`, `rejected`, conversational), GRPO
the prompts with every column of their rows, which the reward functions read to know the case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.dataset import (
    incompleteness,
    preference_files,
    read_manifest,
    read_preference,
    read_split,
    split_files,
)
from factory.errors import DatasetError


def sft_rows(messages: list[list[dict[str, str]]], assistant_only: bool) -> list[dict[str, Any]]:
    """SFTTrainer rows from `messages` columns (system, user, assistant)."""
    if assistant_only:
        return [{"prompt": list(chat[:-1]), "completion": [chat[-1]]} for chat in messages]
    return [{"messages": list(chat)} for chat in messages]


def load_sft_splits(dataset_dir: Path, assistant_only: bool) -> tuple[Any, Any, dict[str, Any]]:
    """(train, validation, manifest) as `datasets.Dataset`s in SFTTrainer's format.

    Raises:
        DatasetError: the folder is not a finished dataset, is marked incomplete, or has no
            train/validation rows.
    """
    from datasets import Dataset

    manifest = _complete_manifest(dataset_dir)
    present = split_files(dataset_dir)
    out = []
    for split in ("train", "validation"):
        if split not in present:
            raise DatasetError(
                f"{dataset_dir}: the dataset has no {split} rows; generate more profiles "
                "(or check its rejects with `fin-factory inspect`)"
            )
        frame = read_split(dataset_dir, split).select("messages")
        out.append(Dataset.from_list(sft_rows(frame["messages"].to_list(), assistant_only)))
    return out[0], out[1], manifest


def _complete_manifest(dataset_dir: Path) -> dict[str, Any]:
    """The dataset's manifest, after checking that `generate` did not mark it incomplete.

    Raises:
        DatasetError: the folder is not a finished dataset, or it is marked incomplete.
    """
    manifest = read_manifest(dataset_dir)
    why = incompleteness(manifest)
    if why is not None:
        raise DatasetError(
            f"{dataset_dir} is marked incomplete ({why}): fin-factory does not train on it; "
            "fix the cause and regenerate it with `fin-factory generate --overwrite`"
        )
    return manifest


def load_preference_splits(dataset_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
    """(train, validation, manifest) of the preference pairs, in DPOTrainer's format.

    Raises:
        DatasetError: the dataset has no preference pairs (its recipe had no `preference:`), or
            none in train or validation.
    """
    from datasets import Dataset

    manifest = _complete_manifest(dataset_dir)
    present = preference_files(dataset_dir)
    out = []
    for split in ("train", "validation"):
        if split not in present:
            raise DatasetError(
                f"{dataset_dir}: the dataset has no {split} preference pairs; train.method dpo "
                "needs a dataset generated with a `preference:` section in its recipe"
            )
        frame = read_preference(dataset_dir, split).select("prompt", "chosen", "rejected")
        out.append(Dataset.from_list(frame.to_dicts()))
    return out[0], out[1], manifest


def load_rl_splits(dataset_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
    """(train, validation, manifest) for GRPO: each row's prompt (system and user messages) and
    every other column of the row, for the reward functions (factory.rewards)."""
    from datasets import Dataset

    manifest = _complete_manifest(dataset_dir)
    present = split_files(dataset_dir)
    out = []
    for split in ("train", "validation"):
        if split not in present:
            raise DatasetError(f"{dataset_dir}: the dataset has no {split} rows")
        frame = read_split(dataset_dir, split)
        prompts = [chat[:-1] for chat in frame["messages"].to_list()]
        rows = frame.drop("messages", "facts").to_dicts()
        out.append(
            Dataset.from_list([{"prompt": p, **r} for p, r in zip(prompts, rows, strict=True)])
        )
    return out[0], out[1], manifest


def chat_of(row: dict[str, Any]) -> list[dict[str, str]]:
    """The whole conversation of an SFT row (either format)."""
    return list(row["messages"]) if "messages" in row else [*row["prompt"], *row["completion"]]


def drop_too_long(
    dataset: Any, tokenizer: Any, max_length: int, reserve: int = 0
) -> tuple[Any, int, int]:
    """Removes examples longer than `max_length` tokens under the model's chat template.

    trl would truncate them (cutting the reasoning mid-way teaches the model to stop there) or,
    when the prompt alone fills the length, drop them silently; fin-factory drops them openly.
    A preference pair counts its longer answer; a GRPO prompt counts with `reserve` tokens for
    the completion it will be sampled. Returns (kept dataset, rows dropped, longest in tokens).
    """
    from factory.train.parity import chat_ids

    def length(row: dict[str, Any]) -> int:
        if "chosen" in row:
            return max(
                len(chat_ids(tokenizer, [*row["prompt"], *row[answer]], open_turn=False))
                for answer in ("chosen", "rejected")
            )
        if "completion" not in row and "messages" not in row:
            return len(chat_ids(tokenizer, row["prompt"], open_turn=True)) + reserve
        return len(chat_ids(tokenizer, chat_of(row), open_turn=False))

    lengths = [length(row) for row in dataset]
    keep = [i for i, n in enumerate(lengths) if n <= max_length]
    return dataset.select(keep), len(lengths) - len(keep), max(lengths, default=0)
