"""Training backends: one interface, two implementations.

- `unsloth` (CUDA with unsloth installed): FastLanguageModel loads the base model (4-bit when
  asked) and adds the LoRA adapter with Unsloth's gradient checkpointing; it saves the merged
  model with `save_pretrained_merged`. Imported only when chosen, so importing fin-factory on a
  CPU machine never imports unsloth.
- `hf` (everywhere else): transformers loads the base model (bitsandbytes 4-bit only on CUDA),
  peft adds the adapter; merging reloads the base in full precision, applies the saved adapter
  and `merge_and_unload`s it.

Both hand a peft model and its tokenizer to the same trl SFTTrainer run (factory.train.run).
"""

from __future__ import annotations

import abc
import importlib.util
from pathlib import Path
from typing import Any

from factory.errors import UsageError
from factory.recipe import TrainConfig


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


class TrainBackend(abc.ABC):
    """Loads a trainable (adapter-wrapped) model and saves the merged result."""

    name: str

    @abc.abstractmethod
    def load(self, base_model: str, config: TrainConfig) -> tuple[Any, Any]:
        """(peft model ready to train, tokenizer with a chat template)."""

    @abc.abstractmethod
    def save_merged(
        self, model: Any, tokenizer: Any, base_model: str, adapter_dir: Path, merged_dir: Path
    ) -> None:
        """Writes the base model with the trained adapter merged in to `merged_dir`."""

    def prepare_trainer(self, method: str) -> None:
        """Readies trl's trainer for `method` (sft, dpo, grpo) before it is built; trl's own
        trainers need nothing."""
        return None


def lora_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The recipe's LoRA settings under the names peft and Unsloth both use."""
    lora = config.lora
    return {
        "r": lora.r,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "target_modules": list(lora.target_modules),
        "bias": lora.bias,
    }


def check_chat_template(tokenizer: Any, base_model: str) -> Any:
    """A tokenizer fit for chat training: it has a chat template and a pad token."""
    if not getattr(tokenizer, "chat_template", None):
        raise UsageError(
            f"the tokenizer of {base_model} has no chat template; fin-factory trains on chat "
            "messages with the base model's own template (use an instruct/chat model)"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_error(base_model: str, err: Exception) -> UsageError:
    """The error for a base model that cannot be loaded."""
    if not Path(base_model).exists():
        return UsageError(
            f"base model {base_model!r} is not a local folder and could not be loaded from the "
            f"Hugging Face Hub cache ({type(err).__name__}); downloads need network access to the "
            "Hub: download it on a connected machine, or pass a local path with --base-model"
        )
    return UsageError(f"cannot load the base model at {base_model}: {err}")


class HFBackend(TrainBackend):
    """transformers + peft."""

    name = "hf"

    def load(self, base_model: str, config: TrainConfig) -> tuple[Any, Any]:
        import torch
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cuda = cuda_available()
        if config.load_in_4bit and not cuda:
            raise UsageError(
                "train.load_in_4bit needs a CUDA GPU (bitsandbytes); on this machine set "
                "load_in_4bit: false to train in full precision"
            )
        kwargs: dict[str, Any] = {"dtype": full_precision(cuda)}
        if config.load_in_4bit:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_compute_dtype=torch.bfloat16,
                bnb_4bit_use_double_quant=True,
            )
        try:
            tokenizer = AutoTokenizer.from_pretrained(base_model)
            model: Any = AutoModelForCausalLM.from_pretrained(base_model, **kwargs)
        except OSError as err:
            raise load_error(base_model, err) from None
        check_chat_template(tokenizer, base_model)
        if config.load_in_4bit:
            model = prepare_model_for_kbit_training(model)
        try:
            model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **lora_kwargs(config)))
        except ValueError as err:
            raise UsageError(f"train.lora: {err}") from None
        return model, tokenizer

    def save_merged(
        self, model: Any, tokenizer: Any, base_model: str, adapter_dir: Path, merged_dir: Path
    ) -> None:
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(
            base_model, dtype=full_precision(cuda_available())
        )
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
        merged.save_pretrained(merged_dir, safe_serialization=True)
        tokenizer.save_pretrained(merged_dir)


class UnslothBackend(TrainBackend):
    """Unsloth's FastLanguageModel (CUDA only)."""

    name = "unsloth"

    def load(self, base_model: str, config: TrainConfig) -> tuple[Any, Any]:
        from unsloth import FastLanguageModel

        try:
            model, tokenizer = FastLanguageModel.from_pretrained(
                model_name=base_model,
                max_seq_length=config.max_seq_length,
                load_in_4bit=config.load_in_4bit,
                dtype=None,  # Unsloth picks bf16 where the GPU has it, else fp16
            )
        except OSError as err:
            raise load_error(base_model, err) from None
        check_chat_template(tokenizer, base_model)
        model = FastLanguageModel.get_peft_model(
            model,
            **lora_kwargs(config),
            use_gradient_checkpointing="unsloth",
            random_state=config.seed,
            max_seq_length=config.max_seq_length,
        )
        return model, tokenizer

    def save_merged(
        self, model: Any, tokenizer: Any, base_model: str, adapter_dir: Path, merged_dir: Path
    ) -> None:
        model.save_pretrained_merged(str(merged_dir), tokenizer, save_method="merged_16bit")

    def prepare_trainer(self, method: str) -> None:
        # Unsloth rewrites trl's DPO and GRPO trainers when it is imported, which `load` did
        # before anything imported trl; PatchDPOTrainer is its documented entry point for DPO
        # (a no-op in the versions that patch at import).
        import unsloth

        if method == "dpo":
            unsloth.PatchDPOTrainer()


def full_precision(cuda: bool) -> Any:
    """The dtype of an unquantized model: bf16 on a GPU that has it, else fp32."""
    import torch

    if cuda and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def select_backend(name: str) -> TrainBackend:
    """The backend for `train.backend` on this machine.

    Raises:
        UsageError: unsloth asked for without a CUDA GPU or without unsloth installed.
    """
    if name == "hf":
        return HFBackend()
    cuda = cuda_available()
    if name == "unsloth":
        if not cuda:
            raise UsageError(
                "train.backend unsloth needs a CUDA GPU and none is visible here; use "
                "backend: hf (or auto) to train with transformers + peft"
            )
        if not unsloth_installed():
            raise UsageError("train.backend unsloth: install it with bash scripts/install.sh gpu")
        return UnslothBackend()
    return UnslothBackend() if cuda and unsloth_installed() else HFBackend()
