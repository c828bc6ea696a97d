"""Model answers for evaluation: the vLLM teacher code (batched) or plain transformers, greedy.

Also the split's perplexity under a model: the mean loss of the assistant tokens given the
prompt (the same tokens training learns), exponentiated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

#: Called with (answers done, total) while generating.
ProgressFn = Callable[[int, int], None]

BACKENDS = ("vllm", "transformers")


def generate_answers(
    model: str,
    chats: list[list[dict[str, str]]],
    *,
    backend: str,
    max_new_tokens: int = 768,
    engine_args: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
) -> list[str]:
    """Greedy answers of `model` to each chat (system + user), in order; '' where it failed."""
    if backend == "vllm":
        return _vllm_answers(model, chats, max_new_tokens, engine_args or {}, progress)
    if backend == "transformers":
        return _transformers_answers(model, chats, max_new_tokens, progress)
    raise ValueError(f"unknown evaluation backend {backend!r}; use one of {', '.join(BACKENDS)}")


def _vllm_answers(
    model: str,
    chats: list[list[dict[str, str]]],
    max_new_tokens: int,
    engine_args: dict[str, Any],
    progress: ProgressFn | None,
) -> list[str]:
    from factory.teachers.vllm_engine import VllmTeacher

    # The teacher's code path: one batched generate call, the chat template, a clean shutdown.
    # No retries: evaluation scores the first answer, malformed or not.
    llm = VllmTeacher(
        model=model,
        engine_args=engine_args,
        temperature=0.0,
        top_p=1.0,
        max_new_tokens=max_new_tokens,
        max_retries=0,
    )
    llm.load()
    try:
        outputs = llm.generate([(chat, {"index": i}) for i, chat in enumerate(chats)])
    finally:
        llm.unload()
    if progress:
        progress(len(chats), len(chats))
    return [out["generations"][0] or "" for out in outputs]


def _transformers_answers(
    model: str,
    chats: list[list[dict[str, str]]],
    max_new_tokens: int,
    progress: ProgressFn | None,
) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from factory.train.parity import chat_ids

    tokenizer = AutoTokenizer.from_pretrained(model)
    net = AutoModelForCausalLM.from_pretrained(model).eval()
    answers = []
    for done, chat in enumerate(chats, start=1):
        ids = torch.tensor([chat_ids(tokenizer, chat)])
        with torch.no_grad():
            out = net.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        answers.append(str(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)))
        if progress:
            progress(done, len(chats))
    return answers


def perplexity(model: str, conversations: list[list[dict[str, str]]]) -> dict[str, float]:
    """exp(mean loss of the assistant tokens) over `conversations` (system, user, assistant).

    Returns {"perplexity", "loss", "tokens"}.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from factory.train.parity import chat_ids

    tokenizer = AutoTokenizer.from_pretrained(model)
    net = AutoModelForCausalLM.from_pretrained(model).eval()
    total, count = 0.0, 0
    for chat in conversations:
        prompt = chat_ids(tokenizer, chat[:-1])
        full = chat_ids(tokenizer, chat, open_turn=False)
        if full[: len(prompt)] != prompt or len(full) <= len(prompt):
            continue  # a template that renders the prompt differently alone: nothing to score
        ids = torch.tensor([full])
        labels = ids.clone()
        labels[0, : len(prompt)] = -100
        with torch.no_grad():
            loss = net(input_ids=ids, labels=labels).loss
        scored = len(full) - len(prompt)
        total += float(loss) * scored
        count += scored
    if count == 0:
        return {"perplexity": math.nan, "loss": math.nan, "tokens": 0}
    mean = total / count
    return {"perplexity": math.exp(min(mean, 700.0)), "loss": mean, "tokens": count}
