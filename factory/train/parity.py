"""The parity gate: the merged model must behave like the adapter it was merged from.

A merged model that answers differently from its adapter is the most reported defect of the
tools in this field. After merging, both are loaded fresh, the adapter unmerged on its base and
the merged model from the files that will be published, and compared on validation prompts:
the largest |logit difference| over every prompt position must be within the tolerance, and
the greedy continuations must be identical.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Tokens of greedy continuation compared per prompt.
GREEDY_TOKENS = 16


@dataclass(frozen=True)
class ParityResult:
    prompts: int
    tolerance: float
    max_abs_logit_diff: float
    greedy_mismatches: int
    mismatched_prompts: list[int] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.max_abs_logit_diff <= self.tolerance and self.greedy_mismatches == 0

    def summary(self) -> str:
        return (
            f"max |logit difference| {self.max_abs_logit_diff:.3g} (tolerance "
            f"{self.tolerance:g}), greedy continuations differ on {self.greedy_mismatches} of "
            f"{self.prompts} prompts"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def compare_models(
    adapter_model: Any,
    merged_model: Any,
    prompt_ids: list[list[int]],
    tolerance: float,
    pad_token_id: int | None = None,
) -> ParityResult:
    """Compares two loaded models on tokenized prompts (one at a time: no padding effects)."""
    import torch

    worst = 0.0
    mismatched = []
    for i, ids in enumerate(prompt_ids):
        tokens = torch.tensor([ids], device=adapter_model.device)
        with torch.no_grad():
            a = adapter_model(input_ids=tokens).logits.float()
            b = merged_model(input_ids=tokens.to(merged_model.device)).logits.float().to(a.device)
            worst = max(worst, float((a - b).abs().max()))
            greedy = {
                "max_new_tokens": GREEDY_TOKENS,
                "do_sample": False,
                "pad_token_id": pad_token_id,
            }
            ga = adapter_model.generate(input_ids=tokens, **greedy)[0, len(ids) :].tolist()
            gb = merged_model.generate(input_ids=tokens.to(merged_model.device), **greedy)
        if ga != gb[0, len(ids) :].tolist():
            mismatched.append(i)
    return ParityResult(
        prompts=len(prompt_ids),
        tolerance=tolerance,
        max_abs_logit_diff=worst,
        greedy_mismatches=len(mismatched),
        mismatched_prompts=mismatched,
    )


def check_parity(
    base_model: str,
    adapter_dir: Path,
    merged_dir: Path,
    prompts: list[list[dict[str, str]]],
    tolerance: float,
) -> ParityResult:
    """Loads the adapter (on its base) and the merged model, and compares them on `prompts`
    (chats without the assistant turn)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from factory.train.backends import cuda_available, full_precision

    dtype = full_precision(cuda_available())
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
    adapter = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=dtype).eval()
    if cuda_available():
        adapter, merged = adapter.to("cuda"), merged.to("cuda")
    prompt_ids = [chat_ids(tokenizer, chat) for chat in prompts]
    return compare_models(
        adapter, merged, prompt_ids, tolerance, pad_token_id=tokenizer.pad_token_id
    )


def chat_ids(tokenizer: Any, chat: list[dict[str, str]], *, open_turn: bool = True) -> list[int]:
    """Token ids of a chat under the tokenizer's chat template; `open_turn` adds the opening of
    the assistant's turn (a prompt for generation). transformers 5 returns a BatchEncoding,
    older versions a plain list: both are read."""
    encoded: Any = tokenizer.apply_chat_template(
        chat, tokenize=True, add_generation_prompt=open_turn
    )
    ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
    return [int(i) for i in ids]
