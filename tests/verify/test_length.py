"""The length verifier counts tokens with the named tokenizer or a conservative estimate."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from factory.verify.length import TokenCounter, check_length, estimate_tokens

CHAT = [
    {"role": "system", "content": "You explain lending decisions."},
    {"role": "user", "content": "Applicant: income $84,312, DTI 43.1%."},
    {"role": "assistant", "content": "<reasoning>\nThe DTI of 43.1% is high.\n</reasoning>"},
]


def test_the_estimate_counts_words_digits_and_punctuation():
    # "Income" -> "Inco" + "me", "is" -> 1, "$84,312" -> 7 pieces, "." -> 1: 11 pieces.
    assert estimate_tokens("Income is $84,312.") == 10  # 5 digits + ceil(13 / 3.2)
    assert estimate_tokens("Zoë") == 2  # bytes, not characters: ë is two
    assert estimate_tokens("") == 0


def test_only_ascii_digits_get_a_token_each():
    # Arabic-Indic three and superscript two are two UTF-8 bytes each, priced as other text.
    assert estimate_tokens("\u0663\u00b2") == 2  # ceil(4 / 3.2)
    assert estimate_tokens("\u0663 12") == 3  # 2 digits + ceil(3 / 3.2)


def test_the_estimate_grows_with_digits_as_digit_level_tokenizers_do():
    assert estimate_tokens("$1,234,567.89") > estimate_tokens("$1m")


def test_the_estimate_over_counts_a_whitespace_word_split():
    text = "The applicant's debt-to-income ratio of 43.1% exceeds the 43.0% limit by 0.1 points."
    assert estimate_tokens(text) > len(text.split()) * 1.3


def test_count_adds_template_overhead_per_message():
    counter = TokenCounter(per_message_overhead=5, sequence_overhead=2)
    body = sum(estimate_tokens(m["content"]) for m in CHAT)
    assert counter.count(CHAT) == body + 3 * 5 + 2
    assert not counter.exact


def test_check_length_rejects_only_what_does_not_fit():
    assert check_length(2048, 2048) is None
    assert check_length(2049, 2048) == "2,049 tokens, max_seq_length 2,048"


def test_a_missing_tokenizer_is_a_value_error_naming_the_path(tmp_path):
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "nowhere" / "tokenizer.json"))):
        TokenCounter(tmp_path / "nowhere" / "tokenizer.json")
    with pytest.raises(ValueError, match=r"tokenizer\.json"):
        TokenCounter(tmp_path)  # a folder without one


def test_without_the_tokenizers_package_loading_fails_clearly(tmp_path, monkeypatch):
    path = tmp_path / "tokenizer.json"
    path.write_text("{}")
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # makes `import tokenizers` fail
    with pytest.raises(ValueError, match="`tokenizers` package is not installed") as error:
        TokenCounter(path)
    assert str(path) in str(error.value)


class _FakeTokenizer:
    """Splits on spaces; stands in for tokenizers.Tokenizer so the wiring is tested offline."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab

    @classmethod
    def from_file(cls, path: str) -> _FakeTokenizer:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if "vocab" not in data:
            raise RuntimeError("not a tokenizer file")
        return cls(data["vocab"])

    def encode(self, text: str, add_special_tokens: bool = True):
        return types.SimpleNamespace(ids=[self.vocab.get(word, 0) for word in text.split()])


@pytest.fixture
def fake_tokenizers(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", types.SimpleNamespace(Tokenizer=_FakeTokenizer))


def test_a_tokenizer_folder_counts_exactly(tmp_path, fake_tokenizers):
    (tmp_path / "tokenizer.json").write_text(json.dumps({"vocab": {"a": 1}}))
    counter = TokenCounter(tmp_path, per_message_overhead=4, sequence_overhead=1)
    assert counter.exact
    assert counter.path == tmp_path / "tokenizer.json"
    assert counter.count_text("one two three") == 3
    assert counter.count([{"role": "user", "content": "a b"}, {"role": "assistant"}]) == 2 + 8 + 1


def test_an_unreadable_tokenizer_file_is_a_value_error(tmp_path, fake_tokenizers):
    path = tmp_path / "tokenizer.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match=r"cannot load the tokenizer .*not a tokenizer file"):
        TokenCounter(path)


def test_a_real_bpe_tokenizer_counts_fewer_tokens_than_the_estimate(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    sentences = [
        "The applicant's debt-to-income ratio of 43.1% exceeds the 43.0% limit.",
        "Income is $84,312 a year and the credit score is 712 over 36 months.",
    ]
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=2000,  # room to merge every word of the corpus, as a real vocabulary does
        special_tokens=["<unk>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(sentences * 50, trainer=trainer)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    exact = TokenCounter(tmp_path)
    assert exact.exact
    for sentence in sentences:
        assert 0 < exact.count_text(sentence) <= estimate_tokens(sentence)
