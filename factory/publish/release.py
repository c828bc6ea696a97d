"""What a release says about itself: the facts read (and measured) from a dataset or a run folder.

A `DatasetRelease` is read from a generated dataset folder (`out/<name>/`): its manifest, the
recipe inside it, one example, the fairness of the engine's labels over every split, and a PII
scan of every text in the data. A `ModelRelease` is read from a training run folder
(`runs/<name>/`): the training manifest, metrics, the parity check, the evaluation report and the
dataset release it was trained on. Cards render these facts and gates judge them, so both see
the same numbers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from factory._json import jsonable
from factory.dataset import PREFERENCE_DIR, SPLITS, preference_files, read_manifest, split_files
from factory.errors import DatasetError, UsageError
from factory.evaluate.fairness import fairness_audit, favourable_labels
from factory.recipe import RecipeBase, parse_recipe
from factory.verify.pii import PII_KINDS, find_pii

#: Rows per batch when the PII scan reads a split's texts.
TEXT_BATCH_ROWS = 20_000

#: Distinct clean texts remembered by the PII scan (system prompts and categories repeat).
CLEAN_CACHE_SIZE = 50_000

#: At most this many PII findings are kept for the report (the count is always complete).
MAX_PII_FINDINGS = 20


@dataclass(frozen=True)
class PiiFinding:
    """One text that holds PII: where it is, never what it is (the report masks the match)."""

    where: str
    row_id: str | None
    kinds: tuple[str, ...]
    masked: str


@dataclass(frozen=True)
class PiiScan:
    """The PII scan of every text in a dataset (or a card).

    Attributes:
        texts: how many texts were scanned.
        flagged: how many hold any PII.
        by_kind: texts per PII kind.
        findings: the first MAX_PII_FINDINGS flagged texts, masked.
    """

    texts: int
    flagged: int
    by_kind: dict[str, int]
    findings: tuple[PiiFinding, ...] = ()

    @property
    def clean(self) -> bool:
        return self.flagged == 0


def mask(text: str, start: int, end: int) -> str:
    """A short excerpt around text[start:end] with the match itself masked (digits -> #)."""
    hidden = "".join("#" if ch.isalnum() else ch for ch in text[start:end])
    before = text[max(0, start - 30) : start].replace("\n", " ")
    after = text[end : end + 30].replace("\n", " ")
    return f"...{before}{hidden}{after}..."


def scan_pii(texts: Iterator[tuple[str, str | None, str]]) -> PiiScan:
    """Scans (where, row id, text) triples for SSNs, card numbers, bank accounts, emails, phones."""
    by_kind = dict.fromkeys(PII_KINDS, 0)
    scanned = flagged = 0
    findings: list[PiiFinding] = []
    # System prompts and categorical columns repeat on every row: scan each distinct text once.
    clean: set[str] = set()
    for where, row_id, text in texts:
        scanned += 1
        if text in clean:
            continue
        hits = find_pii(text)
        if not hits:
            if len(clean) >= CLEAN_CACHE_SIZE:  # bounded: unique texts would fill it otherwise
                clean.clear()
            clean.add(text)
            continue
        flagged += 1
        kinds = tuple(sorted({hit.kind for hit in hits}))
        for kind in kinds:
            by_kind[kind] += 1
        if len(findings) < MAX_PII_FINDINGS:
            first = hits[0]
            findings.append(
                PiiFinding(
                    where, row_id, kinds, mask(text, first.start, first.start + len(first.text))
                )
            )
    return PiiScan(scanned, flagged, by_kind, tuple(findings))


_MESSAGES = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))


def frame_texts(frame: pl.DataFrame, split: str) -> Iterator[tuple[str, str | None, str]]:
    """Every text of a split: string columns, lists of strings and the message contents."""
    ids = frame["id"].to_list() if "id" in frame.columns else [None] * frame.height
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            for row_id, text in zip(ids, frame[name].to_list(), strict=True):
                if text:
                    yield f"{split}/{name}", row_id, text
        elif dtype == pl.List(pl.String):
            for row_id, texts in zip(ids, frame[name].to_list(), strict=True):
                for text in texts or ():
                    if text:
                        yield f"{split}/{name}", row_id, text
        elif name == "messages" or dtype == _MESSAGES:
            # `messages` of the SFT split; `prompt`, `chosen`, `rejected` of preference pairs.
            for row_id, messages in zip(ids, frame[name].to_list(), strict=True):
                for message in messages or ():
                    if message.get("content"):
                        yield f"{split}/{name}/{message['role']}", row_id, message["content"]


def _split_texts(split: str, paths: list[Path]) -> Iterator[tuple[str, str | None, str]]:
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=TEXT_BATCH_ROWS):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield from frame_texts(frame, split)


@dataclass(frozen=True)
class DatasetRelease:
    """A generated dataset folder, read for a card and the publishing gates.

    Attributes:
        folder: the dataset folder (with manifest.json and data/).
        manifest: manifest.json.
        manifest_sha256: sha256 of manifest.json's bytes (the dataset's identity).
        recipe: the recipe that made the data (from the manifest).
        files: data files per split.
        preference: preference-pair files per split (empty without a `preference:` section).
        example: the first test (else train) row, for the card.
        fairness: the engine's favourable-label rates per protected attribute (jsonable audit).
        pii: the PII scan of every text in every split.
    """

    folder: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    recipe: RecipeBase
    files: dict[str, list[Path]]
    preference: dict[str, list[Path]]
    example: dict[str, Any]
    fairness: dict[str, Any]
    pii: PiiScan

    @property
    def domain(self) -> Any:
        return self.recipe.domain_impl

    @property
    def name(self) -> str:
        return self.recipe.name


def read_dataset_release(folder: str | Path) -> DatasetRelease:
    """Reads a finished dataset folder and measures what its card and gates report.

    Raises:
        DatasetError: not a finished dataset, or no data files.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    manifest_bytes = (folder / "manifest.json").read_bytes()
    recipe = parse_recipe(manifest["recipe"]["content"], source=str(folder / "manifest.json"))
    files = split_files(folder)
    if not files:
        raise DatasetError(f"{folder}: no data/*.parquet files")
    domain = recipe.domain_impl
    # Only the columns the audit needs are read whole; texts are scanned a batch at a time, so a
    # million-example dataset is read in bounded memory.
    all_files = [path for paths in files.values() for path in paths]
    available = set(pq.read_schema(all_files[0]).names)
    protected = [c for c in domain.protected_columns if c in available]
    audited = pl.read_parquet(all_files, columns=["decision", *protected])
    if audited.is_empty():
        raise DatasetError(f"{folder}: the dataset holds no examples")
    audit = fairness_audit(
        audited,
        protected_columns=protected,
        favourable=favourable_labels(recipe),
        decision_columns={"engine": "decision"},
    )
    shown = next(files[s][0] for s in ("test", "validation", "train") if s in files)
    example = pl.read_parquet(shown, n_rows=1).row(0, named=True)
    preference = preference_files(folder)
    texts = [(split, paths) for split, paths in files.items()]
    texts += [(f"{PREFERENCE_DIR}/{split}", paths) for split, paths in preference.items()]
    pii = scan_pii(text for split, paths in texts for text in _split_texts(split, paths))
    return DatasetRelease(
        folder=folder,
        manifest=manifest,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        recipe=recipe,
        files=files,
        preference=preference,
        example=example,
        fairness=jsonable(audit),
        pii=pii,
    )


@dataclass(frozen=True)
class ModelRelease:
    """A training run folder, read for a model card and the publishing gates.

    Attributes:
        folder: the run folder (adapter/, merged/, metrics.json, train_manifest.json, ...).
        train_manifest: train_manifest.json.
        metrics: metrics.json.
        parity: parity.json, or None when the run never reached the parity check.
        evaluation: eval.json, or None when the model was not evaluated.
        dataset: the dataset the model was trained on.
        base_model: the base model's Hub id or path.
        base_license: the license read from the base model's card, when it has one.
    """

    folder: Path
    train_manifest: dict[str, Any]
    metrics: dict[str, Any]
    parity: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    dataset: DatasetRelease
    base_model: str
    base_license: str | None = None
    eval_path: Path | None = field(default=None)

    @property
    def merged(self) -> Path:
        return self.folder / "merged"

    @property
    def recipe(self) -> RecipeBase:
        return self.dataset.recipe


def read_model_release(
    folder: str | Path,
    *,
    dataset: str | Path | None = None,
    evaluation: str | Path | None = None,
) -> ModelRelease:
    """Reads a finished training run.

    Args:
        folder: the run folder `fin-factory train` wrote.
        dataset: the dataset folder it was trained on [default: the path in train_manifest.json].
        evaluation: the evaluation report [default: eval.json in the run folder, when present].

    Raises:
        UsageError: not a finished run, or the dataset is not the one the run was trained on.
    """
    folder = Path(folder)
    manifest_path = folder / "train_manifest.json"
    if not manifest_path.exists():
        raise UsageError(f"{folder}: no train_manifest.json, not a finished training run")
    if not (folder / "merged" / "config.json").exists():
        raise UsageError(f"{folder}: no merged/ model (the run stopped before merging)")
    train_manifest = _read_json(manifest_path)
    trained_on = train_manifest["dataset"]
    data_dir = Path(dataset) if dataset else Path(trained_on["path"])
    if not (data_dir / "manifest.json").exists():
        raise UsageError(
            f"{folder}: the dataset it was trained on is not at {data_dir}; pass its folder with "
            "--dataset"
        )
    data = read_dataset_release(data_dir)
    if data.manifest_sha256 != trained_on["manifest_sha256"]:
        raise UsageError(
            f"{data_dir} is not the dataset {folder} was trained on (manifest sha256 "
            f"{data.manifest_sha256[:12]}, the run recorded {trained_on['manifest_sha256'][:12]})"
        )
    eval_path = Path(evaluation) if evaluation else folder / "eval.json"
    if evaluation and not eval_path.exists():
        raise UsageError(f"{eval_path}: no such evaluation report")
    report = _read_json(eval_path) if eval_path.exists() else None
    base_model = str(train_manifest["base_model"])
    return ModelRelease(
        folder=folder,
        train_manifest=train_manifest,
        metrics=_read_json(folder / "metrics.json") if (folder / "metrics.json").exists() else {},
        parity=_read_json(folder / "parity.json") if (folder / "parity.json").exists() else None,
        evaluation=report,
        dataset=data,
        base_model=base_model,
        base_license=base_model_license(base_model),
        eval_path=eval_path if report is not None else None,
    )


def base_model_license(base_model: str) -> str | None:
    """The license in the base model's card: a local folder's README.md, else the Hub's card.

    Returns None when the card has no license or cannot be reached (offline, private, missing);
    the license gate then asks the recipe to set one.
    """
    from huggingface_hub import ModelCard

    local = Path(base_model)
    try:
        if local.is_dir():
            readme = local / "README.md"
            card = ModelCard.load(readme) if readme.exists() else None
        else:
            card = ModelCard.load(base_model)
    except Exception:  # offline, gated, missing: the gate reports the unknown license
        return None
    license_id = card.data.license if card is not None else None
    return str(license_id) if license_id else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: unreadable ({error})") from None
    return data


__all__ = [
    "SPLITS",
    "DatasetRelease",
    "ModelRelease",
    "PiiFinding",
    "PiiScan",
    "base_model_license",
    "frame_texts",
    "mask",
    "read_dataset_release",
    "read_model_release",
    "scan_pii",
]
