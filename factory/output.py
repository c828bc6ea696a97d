"""The assistant output format, and the one parser that verifiers, evaluation and serving share.

An assistant message is::

    <reasoning>
    step-by-step reasoning, citing the numbers
    </reasoning>
    <decision>deny</decision>
    <reasons>
    - DTI_ABOVE_MAX: Debt-to-income ratio too high
    </reasons>
    <answer>
    customer-facing text (credit-report summary or answer); only for tasks that have one
    </answer>

`<reasons>` is present whenever the engine names reasons: always for an adverse decision (deny,
refer, review, block, a declined credit score), and for the favourable drivers of an improved
credit score. It lists the principal reason codes, most important first, each with its text.
Reasoning and decision never mix: the decision is only ever read from `<decision>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_TAGS = ("reasoning", "decision", "reasons", "answer")
#: (name, opening tag, closing tag) of every block.
_BLOCK_TAGS = tuple((name, f"<{name}>", f"</{name}>") for name in _TAGS)
_OPEN_OR_CLOSE = re.compile(r"</?(reasoning|decision|reasons|answer)>")
_REASON_LINE = re.compile(r"^\s*[-*]\s*([A-Z][A-Z0-9_]*)\s*(?::\s*(.*))?$")
_LABEL = re.compile(r"[a-z_]+")


@dataclass(frozen=True)
class ParsedOutput:
    """What `parse_output` read from an assistant message.

    Attributes:
        reasoning: text inside <reasoning>, stripped ('' when absent).
        decision: the label inside <decision>, lower-cased (None when absent).
        reasons: reason codes listed in <reasons>, in order.
        reason_texts: the adverse-action text written after each code.
        answer: text inside <answer> (None when absent).
        errors: why the text does not follow the format; empty when it does.
    """

    reasoning: str = ""
    decision: str | None = None
    reasons: tuple[str, ...] = ()
    reason_texts: tuple[str, ...] = ()
    answer: str | None = None
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.errors


def render_output(
    reasoning: str,
    decision: str,
    reasons: Sequence[str] = (),
    reason_texts: Mapping[str, str] | None = None,
    answer: str | None = None,
) -> str:
    """Builds an assistant message in the documented format.

    Args:
        reasoning: the step-by-step reasoning (no decision tag inside it).
        decision: the final label.
        reasons: principal reason codes, most important first; omitted when empty.
        reason_texts: adverse-action text per code.
        answer: customer-facing text for tasks that have one.
    """
    parts = [f"<reasoning>\n{reasoning.strip()}\n</reasoning>", f"<decision>{decision}</decision>"]
    if reasons:
        texts = reason_texts or {}
        lines = [f"- {code}: {texts[code]}" if code in texts else f"- {code}" for code in reasons]
        parts.append("<reasons>\n" + "\n".join(lines) + "\n</reasons>")
    if answer is not None:
        parts.append(f"<answer>\n{answer.strip()}\n</answer>")
    return "\n".join(parts)


def parse_output(text: str | None) -> ParsedOutput:
    """Parses an assistant message; never raises.

    A message is well-formed when it has exactly one non-empty <reasoning> block, exactly one
    <decision> block, at most one <reasons> and one <answer> block, no stray tags, and nothing but
    whitespace between the blocks.
    """
    if not text or not text.strip():
        return ParsedOutput(errors=("empty output",))
    errors: list[str] = []
    blocks: dict[str, list[str]] = {}
    consumed = []
    for name, content, span in _blocks(text):
        blocks.setdefault(name, []).append(content)
        consumed.append(span)
    leftover = _strip_spans(text, consumed)
    if leftover.strip():
        if _OPEN_OR_CLOSE.search(leftover):
            errors.append("unbalanced tag")
        else:
            errors.append("text outside the tagged blocks")
    for name in ("reasoning", "decision"):
        if name not in blocks:
            errors.append(f"missing <{name}>")
    for name, found in blocks.items():
        if len(found) > 1:
            errors.append(f"more than one <{name}>")

    reasoning = blocks.get("reasoning", [""])[0].strip()
    if "reasoning" in blocks and not reasoning:
        errors.append("empty <reasoning>")
    if _OPEN_OR_CLOSE.search(reasoning):
        errors.append("tag inside <reasoning>")
    decision_text = blocks.get("decision", [None])[0]
    decision = decision_text.strip().lower() if decision_text is not None else None
    if decision is not None and not _LABEL.fullmatch(decision):
        errors.append("decision is not a single label")

    codes: list[str] = []
    texts: list[str] = []
    if "reasons" in blocks:
        for line in blocks["reasons"][0].strip().splitlines():
            if not line.strip():
                continue
            reason = _REASON_LINE.match(line)
            if reason is None:
                errors.append("unreadable line in <reasons>")
                break
            codes.append(reason.group(1))
            texts.append((reason.group(2) or "").strip())
    answer = blocks["answer"][0].strip() if "answer" in blocks else None
    return ParsedOutput(
        reasoning=reasoning,
        decision=decision,
        reasons=tuple(codes),
        reason_texts=tuple(texts),
        answer=answer,
        errors=tuple(errors),
    )


def _blocks(text: str) -> list[tuple[str, str, tuple[int, int]]]:
    """Every `<name>content</name>` block, in order, with its span: from left to right, a block
    opens at the first opening tag that has a closing tag of its name after it, and ends at the
    first such closing tag (the blocks the regex `<(name|...)>(.*?)</\\1>` finds, with DOTALL).

    str.find does the scanning: a regex over every character cost more than half of parsing.
    """
    found = []
    at = text.find("<")
    while at >= 0:
        resume = at + 1
        for name, opening, closing in _BLOCK_TAGS:
            if text.startswith(opening, at):
                start = at + len(opening)
                close = text.find(closing, start)
                if close >= 0:
                    resume = close + len(closing)
                    found.append((name, text[start:close], (at, resume)))
                break  # no other tag opens here: none is a prefix of another
        at = text.find("<", resume)
    return found


def _strip_spans(text: str, spans: list[tuple[int, int]]) -> str:
    pieces = []
    last = 0
    for start, end in spans:
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
