"""The length verifier: an example must fit the recipe's `max_seq_length` in tokens.

`TokenCounter` counts the tokens of a chat (a list of {"role", "content"} messages) with the
tokenizer the model will be trained with, when the recipe names one (`filters.tokenizer`: a
tokenizer.json file, or a folder holding one, loaded with the `tokenizers` library), and with a
conservative estimate otherwise.

The estimate counts one token per digit plus one per 3.2 other bytes of UTF-8 text. Digits
get a token each because Llama 2 and Mistral split numbers into single digits (Llama 3 and GPT-4
group up to three), and finance text is full of them. For everything else, a BPE vocabulary of
32k tokens or more trained on English spends about one token per common word, 4 to 5 bytes per
token on prose; 3.2 leaves room for punctuation, short words and names. So for English finance
text the estimate over-counts rather than under-counts: a kept example fits the real tokenizer,
at the cost of dropping a few that would have fitted. It costs a few C-level string passes per
message (a regex pass cost 80 us per example, the largest single cost of verification). Scripts
a vocabulary covers poorly (Chinese names, emoji) can cost more than one token per 3.2 bytes;
name the tokenizer for such data.

Each message also costs `per_message_overhead` tokens (role header and end-of-turn markers of
a chat template: Llama 3 and ChatML spend four to five) and the sequence `sequence_overhead`
(beginning-of-sequence and the like).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Non-digit UTF-8 bytes per token the estimate allows (see the module docstring).
BYTES_PER_TOKEN = 3.2
_DIGITS = b"0123456789"
#: Texts at least this long are counted once per distinct text (system prompts repeat per row).
_CACHE_MIN_CHARS = 1024
_CACHE_SIZE = 64


class TokenCounter:
    """Counts the tokens of chat messages, exactly with a tokenizer or by a safe estimate.

    Args:
        tokenizer: a tokenizer.json file, a folder that holds one, or None for the estimate.
        per_message_overhead: tokens a chat template adds around each message.
        sequence_overhead: tokens added once per sequence.

    Raises:
        ValueError: when `tokenizer` is given but cannot be loaded; the message names the path.
    """

    def __init__(
        self,
        tokenizer: str | Path | None = None,
        *,
        per_message_overhead: int = 5,
        sequence_overhead: int = 2,
    ) -> None:
        self.per_message_overhead = per_message_overhead
        self.sequence_overhead = sequence_overhead
        self.path: Path | None = None
        self._tokenizer: Any = None
        # A run's system prompt is the same long text on every row: count it once.
        self._long_counts: dict[str, int] = {}
        if tokenizer is not None:
            self.path = _tokenizer_file(Path(tokenizer))
            self._tokenizer = _load(self.path)

    @property
    def exact(self) -> bool:
        """True when counting with a real tokenizer, False for the estimate."""
        return self._tokenizer is not None

    def count_text(self, text: str) -> int:
        """Tokens of one text, without any chat-template overhead."""
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return estimate_tokens(text)

    def count(self, messages: Sequence[Mapping[str, str]]) -> int:
        """Tokens of a whole chat, template overhead included.

        Args:
            messages: the chat, each message a mapping with "role" and "content".
        """
        total = self.sequence_overhead
        for message in messages:
            text = message.get("content") or ""
            if len(text) >= _CACHE_MIN_CHARS:
                count = self._long_counts.get(text)
                if count is None:
                    if len(self._long_counts) >= _CACHE_SIZE:
                        self._long_counts.clear()
                    count = self._long_counts[text] = self.count_text(text)
            else:
                count = self.count_text(text)
            total += self.per_message_overhead + count
        return total


def estimate_tokens(text: str) -> int:
    """The conservative token estimate of `text` described in the module docstring."""
    data = text.encode("utf-8")
    # Deleting the digit bytes counts them in one pass (ten str.count passes cost 5x more);
    # UTF-8 never uses an ASCII byte inside a multi-byte character, so only "0"-"9" count.
    digits = len(data) - len(data.translate(None, _DIGITS))
    return digits + math.ceil((len(data) - digits) / BYTES_PER_TOKEN)


def check_length(token_count: int, max_tokens: int) -> str | None:
    """None when an example of `token_count` tokens fits `max_tokens`, else a short detail."""
    if token_count > max_tokens:
        return f"{token_count:,} tokens, max_seq_length {max_tokens:,}"
    return None


def _tokenizer_file(path: Path) -> Path:
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise ValueError(f"tokenizer not found: {file} (expected a tokenizer.json or its folder)")
    return file


def _load(file: Path) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError as error:
        raise ValueError(
            f"cannot load the tokenizer {file}: the `tokenizers` package is not installed"
        ) from error
    try:
        return Tokenizer.from_file(str(file))
    except Exception as error:  # the library raises its own exception types
        raise ValueError(f"cannot load the tokenizer {file}: {error}") from error
