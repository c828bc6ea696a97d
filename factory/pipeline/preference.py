"""Preference pairs: each verified answer against answers that are wrong for a stated reason.

Written by finalize beside the SFT splits when the recipe has a `preference:` section, as
`preference/<split>-00000-of-00001.parquet` in trl's conversational preference format:

    id            the example the pair is made from
    prompt        the system and user messages, as the SFT example has them
    chosen        [the verified assistant message]
    rejected      [an assistant message the verifiers refuse]
    error_class   what is wrong with `rejected` (a corruption class, or the verifier that
                  refused a teacher's answer)
    rejected_by   the verifier that refuses `rejected`, and
    reject_detail what it said (the sentence and claim that failed, for claim checks)
    source        "corruption" or "reject"

Two sources (`preference.sources`):

- `rejects`: what the run's teacher wrote and the verifiers refused. The chosen answer is the
  template teacher's answer to the same prompt, itself verified before it is used. Rejects for
  PII, length, dedup or a teacher failure make no pair: they are not wrong answers to learn
  from (and a PII reject must never be published). The pair goes to the split of the subject's
  kept examples, or to train when the subject has none, so no subject spans splits.
- `corruptions`: the verified answer altered through an error class of
  factory.verify.mutations: the label errors (wrong decision, a missing or an extra reason) and
  the claim errors (a number moved onto another quantity, a comparison turned around, a
  conclusion against the decision, an invented factor, a protected attribute as a factor, the
  subject's name, a wrong adverse-action text). A corruption is kept only when the verifiers
  reject it: a corruption the verifiers would accept is not a negative.

Every draw is seeded from the recipe seed and the example id, so the same recipe gives the same
pairs.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import xxhash

from factory.dataset import PREFERENCE_DIR, SPLITS
from factory.domains.rules.interpret import row_values
from factory.recipe import RecipeBase
from factory.tabular import FrameParquetWriter
from factory.teachers.base import row_seed
from factory.verify import Verdict, mutations
from factory.verify.case import CaseVerifier

#: Reject reasons that make no pair: not a wrong answer (teacher, dedup, length) or not to be
#: published (pii).
_NOT_NEGATIVES = frozenset({"teacher", "dedup", "length", "pii", "judge"})
#: Rows read from a split file at a time.
_BATCH = 2048
#: Pairs per row group of a preference file.
_FLUSH = 8192
PREFERENCE_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "prompt": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
    "chosen": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
    "rejected": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
    "error_class": pl.String,
    "rejected_by": pl.String,
    "reject_detail": pl.String,
    "source": pl.String,
}


@dataclass
class PreferenceCounts:
    """What `write_preference` made: pairs per split and per error class, and the corruptions
    the verifiers accepted (which were therefore not used)."""

    splits: Counter[str] = field(default_factory=Counter)
    error_classes: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    accepted_corruptions: Counter[str] = field(default_factory=Counter)
    examples_without_negative: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "splits": {s: self.splits[s] for s in SPLITS},
            "error_classes": dict(sorted(self.error_classes.items())),
            "sources": dict(sorted(self.sources.items())),
            "accepted_corruptions": dict(sorted(self.accepted_corruptions.items())),
            "examples_without_negative": self.examples_without_negative,
        }


#: Every error class a negative may have.
ERROR_CLASSES = mutations.LABEL_ERROR_CLASSES + mutations.ERROR_CLASSES


def error_classes(selected: Sequence[str] | None) -> tuple[str, ...]:
    """The classes negatives are drawn from: all of them, or `selected`.

    Raises:
        ValueError: an unknown class.
    """
    if selected is None:
        return ERROR_CLASSES
    unknown = [name for name in selected if name not in ERROR_CLASSES]
    if unknown:
        raise ValueError(f"unknown error class {unknown}; choose from {', '.join(ERROR_CLASSES)}")
    return tuple(dict.fromkeys(selected))


class _Judge(CaseVerifier):
    """The recipe's verifiers (factory.verify.case), and the corruptions of its answers."""

    def corruptions(self, row: Mapping[str, Any], rng: random.Random) -> dict[str, list[str]]:
        """Every wrong alteration of the row's kept answer, by error class."""
        if self.table is None:
            return {}
        messages = row["messages"]
        example = mutations.Example(
            text=messages[-1]["content"],
            row=row,
            prompt=_user(messages) or "",
            table=self.table,
            values=row_values(self.table, row),
        )
        found = mutations.label_alterations(example, rng)
        for split in mutations.SPLITS:
            found += mutations.alterations(example, rng, split)
        out: dict[str, list[str]] = {}
        for alteration in found:
            if not alteration.correct:
                out.setdefault(alteration.kind, []).append(alteration.text)
        return out

    def answer(self, text: str, row: Mapping[str, Any]) -> Verdict:
        """The verdict on `text` as the answer to `row`, whose messages hold its prompt."""
        return self.verdict(text, row, prompt=_user(row["messages"]))


def _user(messages: Sequence[Mapping[str, str]]) -> str | None:
    return next((m["content"] for m in messages if m["role"] == "user"), None)


def write_preference(recipe: RecipeBase, folder: Path) -> PreferenceCounts:
    """Writes `folder/preference/` from the finished split files and rejects.parquet in
    `folder` (finalize's staging folder); see the module docstring.

    Pairs are written as they are made, a row group at a time: memory does not grow with the
    dataset (only the subjects of the rejects are remembered, to put their pairs in the split
    of their kept examples).

    Returns:
        The counts for the manifest.
    """
    config = recipe.preference
    assert config is not None
    judge = _Judge(recipe)
    counts = PreferenceCounts()
    classes = error_classes(config.error_classes)
    subject_column = judge.domain.subject_column
    rejects = folder / "rejects.parquet"
    wanted = _reject_subjects(rejects, subject_column) if "rejects" in config.sources else set()
    subjects: dict[Any, str] = {}
    out = folder / PREFERENCE_DIR
    shutil.rmtree(out, ignore_errors=True)  # a resumed finalize writes them again
    out.mkdir(parents=True)
    with _PairWriter(out, counts) as writer:
        for split in SPLITS:
            for batch in _batches(folder / "data", split):
                for row in batch.iter_rows(named=True):
                    subject = row[subject_column]
                    if subject in wanted:
                        subjects.setdefault(subject, split)
                    if "corruptions" in config.sources:
                        made = _corrupted(row, judge, classes, config.negatives_per_example, counts)
                        writer.add(split, made)
                        counts.examples_without_negative += not made
        if "rejects" in config.sources:
            for pair, subject in _from_rejects(rejects, recipe, judge):
                writer.add(subjects.get(subject, "train"), [pair])
    return counts


class _PairWriter:
    """Writes pairs to `<split>-00000-of-00001.parquet`, a row group per `_FLUSH` pairs; a
    split with no pair gets no file."""

    def __init__(self, out: Path, counts: PreferenceCounts) -> None:
        self.out = out
        self.counts = counts
        self.pending: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
        self.writers: dict[str, FrameParquetWriter] = {}

    def __enter__(self) -> _PairWriter:
        return self

    def add(self, split: str, pairs: Sequence[dict[str, Any]]) -> None:
        counts = self.counts
        for pair in pairs:
            counts.splits[split] += 1
            counts.error_classes[pair["error_class"]] += 1
            counts.sources[pair["source"]] += 1
        rows = self.pending[split]
        rows.extend(pairs)
        if len(rows) >= _FLUSH:
            self._flush(split)

    def _flush(self, split: str) -> None:
        rows = self.pending[split]
        if not rows:
            return
        writer = self.writers.get(split)
        if writer is None:
            path = self.out / f"{split}-00000-of-00001.parquet"
            writer = self.writers[split] = FrameParquetWriter(path)
        writer.write(pl.DataFrame(rows, schema=PREFERENCE_SCHEMA))
        rows.clear()

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                for split in SPLITS:
                    self._flush(split)
        finally:
            for writer in self.writers.values():
                writer.close()


def _reject_subjects(path: Path, subject_column: str) -> set[Any]:
    """The subjects of the rejects that may make a pair."""
    if not path.exists():
        return set()
    columns = pq.read_schema(path).names
    if "generation" not in columns or subject_column not in columns:
        return set()
    frame = pl.read_parquet(path, columns=[subject_column, "generation", "reject_reason"])
    kept = frame.filter(
        pl.col("generation").is_not_null() & ~pl.col("reject_reason").is_in(list(_NOT_NEGATIVES))
    )
    return set(kept[subject_column].to_list())


def _batches(data: Path, split: str) -> Iterator[pl.DataFrame]:
    for path in sorted(data.glob(f"{split}-*.parquet")):
        yield from pl.read_parquet(path).iter_slices(_BATCH)


def _corrupted(
    row: Mapping[str, Any],
    judge: _Judge,
    classes: Sequence[str],
    wanted: int,
    counts: PreferenceCounts,
) -> list[dict[str, Any]]:
    """Up to `wanted` verified-wrong corruptions of one kept example, each of another class."""
    chat = row["messages"]
    rng = random.Random(xxhash.xxh64_intdigest(f"preference:{row['id']}".encode()))
    order = list(classes)
    rng.shuffle(order)
    made: list[dict[str, Any]] = []
    found = judge.corruptions(row, rng)
    for error_class in order:
        if len(made) == wanted:
            break
        if not found.get(error_class):
            continue
        altered = rng.choice(found[error_class])
        verdict = judge.answer(altered, row)
        if verdict.ok:
            counts.accepted_corruptions[error_class] += 1
            continue
        made.append(_pair(row["id"], chat, altered, error_class, verdict, "corruption"))
    return made


def _from_rejects(
    path: Path, recipe: RecipeBase, judge: _Judge
) -> Iterator[tuple[dict[str, Any], Any]]:
    """(pair, subject) for every reject a verifier refused, against the template teacher's
    verified answer to the same prompt."""
    if not path.exists():
        return
    frame = pl.read_parquet(path)
    if frame.height == 0 or "generation" not in frame.columns:
        return
    frame = frame.filter(
        pl.col("generation").is_not_null() & ~pl.col("reject_reason").is_in(list(_NOT_NEGATIVES))
    )
    task = judge.domain.tasks[recipe.task]
    seed = recipe.profiles.seed
    subject_column = judge.domain.subject_column
    for row in frame.iter_rows(named=True):
        index = int(str(row["id"]).rsplit("-", 1)[-1])
        chosen = task.write(row, judge.policy, random.Random(row_seed(seed, index)))
        if not judge.answer(chosen, row).ok:
            continue
        refused = judge.answer(row["generation"], row)
        if refused.ok:  # refused by a check that is not per-example (a judge, say)
            continue
        chat = [*row["messages"][:-1], {"role": "assistant", "content": chosen}]
        yield (
            _pair(row["id"], chat, row["generation"], str(row["reject_reason"]), refused, "reject"),
            row[subject_column],
        )


def _pair(
    example_id: str,
    chat: Sequence[Mapping[str, str]],
    rejected: str,
    error_class: str,
    verdict: Verdict,
    source: str,
) -> dict[str, Any]:
    return {
        "id": example_id,
        "prompt": [dict(m) for m in chat[:-1]],
        "chosen": [dict(chat[-1])],
        "rejected": [{"role": "assistant", "content": rejected}],
        "error_class": error_class,
        "rejected_by": verdict.reason,
        "reject_detail": verdict.detail,
        "source": source,
    }
