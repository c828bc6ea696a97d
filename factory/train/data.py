"""The training data: a generated dataset's splits, shaped for trl's SFTTrainer.

With `assistant_only_loss` (the default) each example is a conversational prompt/completion pair
(system + user, then the assistant message): trl renders both with the model's own chat template
and computes the loss on the completion only, so the model learns the reasoning and decision,
not the prompt. This works with any chat template (no {% generation %} markers needed). Without
it, each example is the whole `messages` conversation and every token counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.dataset import incompleteness, read_manifest, read_split, split_files
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

    manifest = read_manifest(dataset_dir)
    why = incompleteness(manifest)
    if why is not None:
        raise DatasetError(
            f"{dataset_dir} is marked incomplete ({why}): fin-factory does not train on it; "
            "fix the cause and regenerate it with `fin-factory generate --overwrite`"
        )
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


def chat_of(row: dict[str, Any]) -> list[dict[str, str]]:
    """The whole conversation of an SFT row (either format)."""
    return list(row["messages"]) if "messages" in row else [*row["prompt"], *row["completion"]]


def drop_too_long(dataset: Any, tokenizer: Any, max_length: int) -> tuple[Any, int, int]:
    """Removes examples longer than `max_length` tokens under the model's chat template.

    trl would truncate them (cutting the reasoning mid-way teaches the model to stop there) or,
    when the prompt alone fills the length, drop them silently; fin-factory drops them openly.
    Returns (kept dataset, rows dropped, longest example in tokens).
    """
    from factory.train.parity import chat_ids

    lengths = [len(chat_ids(tokenizer, chat_of(row), open_turn=False)) for row in dataset]
    keep = [i for i, n in enumerate(lengths) if n <= max_length]
    return dataset.select(keep), len(lengths) - len(keep), max(lengths, default=0)
