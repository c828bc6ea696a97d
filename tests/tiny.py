"""Tiny artefacts built inside the tests, never downloaded: a BPE tokenizer, a chat template."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL = ["<unk>", "<pad>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]


def build_tokenizer(folder: Path, corpus: list[str], vocab_size: int = 600):
    """Trains a byte-level BPE tokenizer on `corpus` and saves it as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token="<|end|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return fast


def build_model(folder: Path, corpus: list[str], seed: int = 0, vocab_size: int = 600) -> Path:
    """A tiny random-weight Llama (2 layers, hidden 128) with its tokenizer, saved to `folder`.

    vLLM, transformers and trl all load it from disk like any Hub checkpoint. Its output is
    noise, which is the point in tests: the verifiers must reject it with the right reasons.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(folder, corpus, vocab_size=vocab_size)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        # head_dim 64: vLLM's CPU attention kernels reject the smaller head sizes.
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|end|>"),
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        torch_dtype="float32",
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def build_lending_model(folder: Path) -> Path:
    """The tiny Llama of the tests and benchmarks: its tokenizer learned from lending prompts and
    template-teacher answers (vocab 4000), so a prompt is a few hundred tokens, not thousands."""
    import random

    from factory.pipeline.prompts import prompt_builder
    from factory.recipe import parse_recipe
    from factory.synth import Shard, labelled_shard

    recipe = parse_recipe({"name": "corpus", "domain": "lending", "description": "corpus"})
    task = recipe.domain_impl.tasks[recipe.task]
    prompts = prompt_builder(recipe)
    rows = labelled_shard(recipe, Shard(0, 0, 200)).to_dicts()
    corpus = [prompts.system] * 20 + [prompts.user(row) for row in rows]
    corpus += [task.write(row, recipe.policy, random.Random(i)) for i, row in enumerate(rows)]
    return build_model(folder, corpus, vocab_size=4000)
