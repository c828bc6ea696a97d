"""Backend choice, and the Unsloth backend checked by what it calls with which arguments (this
machine has no GPU; a stand-in `unsloth` module records the calls)."""

from __future__ import annotations

import sys
import types

import pytest

from factory.errors import UsageError
from factory.recipe import TrainConfig
from factory.train import backends
from factory.train.backends import HFBackend, UnslothBackend, select_backend


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []


@pytest.fixture
def fake_unsloth(monkeypatch):
    recorder = _Recorder()

    class Model:
        def save_pretrained_merged(self, *args, **kwargs):
            recorder.calls.append(("save_pretrained_merged", args, kwargs))

    class Tokenizer:
        chat_template = "{{ messages }}"
        pad_token = "<pad>"

    class FastLanguageModel:
        @staticmethod
        def from_pretrained(*args, **kwargs):
            recorder.calls.append(("from_pretrained", args, kwargs))
            return Model(), Tokenizer()

        @staticmethod
        def get_peft_model(*args, **kwargs):
            recorder.calls.append(("get_peft_model", args, kwargs))
            return args[0]

    module = types.ModuleType("unsloth")
    module.FastLanguageModel = FastLanguageModel
    monkeypatch.setitem(sys.modules, "unsloth", module)
    return recorder


def _config(**changes) -> TrainConfig:
    return TrainConfig(base_model="meta-llama/Meta-Llama-3-8B-Instruct", **changes)


def test_unsloth_loads_in_4bit_with_the_recipes_lora_and_its_checkpointing(fake_unsloth):
    config = _config(
        load_in_4bit=True,
        max_seq_length=2048,
        seed=11,
        lora={"r": 64, "alpha": 128, "dropout": 0.05, "target_modules": ["q_proj", "v_proj"]},
    )
    model, _tokenizer = UnslothBackend().load(config.base_model, config)
    (name, args, kwargs), (peft_name, peft_args, peft_kwargs) = fake_unsloth.calls
    assert name == "from_pretrained" and args == ()
    assert kwargs == {
        "model_name": "meta-llama/Meta-Llama-3-8B-Instruct",
        "max_seq_length": 2048,
        "load_in_4bit": True,
        "dtype": None,
    }
    assert peft_name == "get_peft_model" and peft_args == (model,)
    assert peft_kwargs == {
        "r": 64,
        "lora_alpha": 128,
        "lora_dropout": 0.05,
        "target_modules": ["q_proj", "v_proj"],
        "bias": "none",
        "use_gradient_checkpointing": "unsloth",
        "random_state": 11,
        "max_seq_length": 2048,
    }


def test_unsloth_saves_the_merged_model_in_16_bit(fake_unsloth, tmp_path):
    backend = UnslothBackend()
    model, tokenizer = backend.load("base", _config())
    backend.save_merged(model, tokenizer, "base", tmp_path / "adapter", tmp_path / "merged")
    name, args, kwargs = fake_unsloth.calls[-1]
    assert name == "save_pretrained_merged"
    assert args == (str(tmp_path / "merged"), tokenizer)
    assert kwargs == {"save_method": "merged_16bit"}


def test_auto_picks_unsloth_only_with_cuda_and_unsloth(monkeypatch):
    monkeypatch.setattr(backends, "cuda_available", lambda: True)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: True)
    assert isinstance(select_backend("auto"), UnslothBackend)
    assert isinstance(select_backend("hf"), HFBackend)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: False)
    assert isinstance(select_backend("auto"), HFBackend)
    with pytest.raises(UsageError, match=r"install it with bash scripts/install\.sh gpu"):
        select_backend("unsloth")
    monkeypatch.setattr(backends, "cuda_available", lambda: False)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: True)
    assert isinstance(select_backend("auto"), HFBackend)
    with pytest.raises(UsageError, match="needs a CUDA GPU"):
        select_backend("unsloth")


def test_the_sft_config_on_a_gpu_uses_bf16_and_no_cpu_flag(monkeypatch, tmp_path):
    import torch
    import transformers.training_args as training_args

    from factory.train.methods import sft_config

    # What a bf16-capable GPU reports (TrainingArguments checks the hardware it is built on).
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(training_args, "is_torch_bf16_gpu_available", lambda: True)
    config = _config(packing=True, early_stopping_patience=2, eval_steps=25)
    gpu = sft_config(config, tmp_path, max_steps=None, cuda=True)
    assert gpu.bf16 and not gpu.fp16 and not gpu.use_cpu
    assert gpu.packing and gpu.completion_only_loss
    assert gpu.load_best_model_at_end and gpu.save_steps == 25 and gpu.eval_steps == 25
    assert gpu.max_length == config.max_seq_length and gpu.max_steps == -1
    cpu = sft_config(_config(), tmp_path, max_steps=3, cuda=False)
    assert cpu.use_cpu and not cpu.bf16 and cpu.max_steps == 3
    assert not cpu.load_best_model_at_end and cpu.save_strategy == "no"
