"""The assistant output format: rendering and the one parser everything shares."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from factory.output import _blocks, parse_output, render_output

# The block rule as a regex: what `_blocks` finds without scanning with one.
_BLOCK = re.compile(r"<(reasoning|decision|reasons|answer)>(.*?)</\1>", re.DOTALL)

_PIECES = [
    "<reasoning>",
    "</reasoning>",
    "<decision>",
    "</decision>",
    "<reasons>",
    "</reasons>",
    "<answer>",
    "</answer>",
    "<reason>",
    "</reasoning",
    "<",
    ">",
    "</",
    "<<",
    "approve",
    "- DTI_ABOVE_MAX: Debt-to-income ratio too high",
    "DTI of 43.1%",
    "\n",
    " ",
]


@settings(max_examples=2_000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=3), max_size=30))
def test_blocks_are_the_ones_the_block_regex_finds(pieces):
    text = "".join(pieces)
    expected = [(m.group(1), m.group(2), m.span()) for m in _BLOCK.finditer(text)]
    assert _blocks(text) == expected


def test_a_rendered_message_parses_back():
    text = render_output(
        "DTI is 45.0%, above the 43.0% maximum.",
        "deny",
        reasons=["DTI_ABOVE_MAX"],
        reason_texts={"DTI_ABOVE_MAX": "Debt-to-income ratio too high"},
    )
    parsed = parse_output(text)
    assert parsed.ok
    assert parsed.decision == "deny"
    assert parsed.reasons == ("DTI_ABOVE_MAX",)
    assert parsed.reason_texts == ("Debt-to-income ratio too high",)


def test_an_unclosed_block_is_an_unbalanced_tag():
    parsed = parse_output("<reasoning>\nfine\n</reasoning>\n<decision>approve")
    assert parsed.errors == ("unbalanced tag", "missing <decision>")


def test_a_decision_of_two_words_is_not_a_label():
    parsed = parse_output("<reasoning>x</reasoning><decision>approve now</decision>")
    assert "decision is not a single label" in parsed.errors
