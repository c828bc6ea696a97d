"""Nothing outside factory/domains/ branches on a domain or task name.

What differs between domains (the regulatory text of a model card, whether a task's output has
an answer block, a screen's error rates) is asked of the Domain and its Task instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from factory.domains import domain_names, get_domain

ROOT = Path(__file__).resolve().parent.parent
NAMES = {name for name in domain_names()} | {
    task for name in domain_names() for task in get_domain(name).tasks
}


def _compared_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) for every domain or task name a comparison tests against."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                elements = (
                    operand.elts
                    if isinstance(operand, ast.Tuple | ast.List | ast.Set)
                    else [operand]
                )
                for element in elements:
                    if isinstance(element, ast.Constant) and element.value in NAMES:
                        found.append((node.lineno, element.value))
        if isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue):
            value = node.pattern.value
            if isinstance(value, ast.Constant) and value.value in NAMES:
                found.append((node.pattern.lineno, value.value))
    return found


def test_no_module_outside_domains_compares_with_a_domain_or_task_name():
    offenders = []
    for path in sorted((ROOT / "factory").rglob("*.py")):
        if (ROOT / "factory" / "domains") in path.parents:
            continue
        for line, name in _compared_names(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{path.relative_to(ROOT)}:{line} compares with {name!r}")
    assert offenders == []


def test_no_card_template_compares_with_a_domain_or_task_name():
    names = "|".join(sorted(NAMES))
    pattern = re.compile(rf"""(==|!=)\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    offenders = [
        f"{path.name}:{text[: match.start()].count(chr(10)) + 1}: {match.group(0)}"
        for path in sorted((ROOT / "cards").glob("*.j2"))
        for text in [path.read_text(encoding="utf-8")]
        for match in pattern.finditer(text)
    ]
    assert offenders == []


def test_the_checker_finds_a_branch_on_a_name():
    # The ast check must see the shapes the boundary used to be crossed with.
    code = 'if recipe.domain == "fraud": pass\nok = task in ("qa", "other")\n'
    assert [name for _, name in _compared_names(ast.parse(code))] == ["fraud", "qa"]


@pytest.mark.parametrize("name", domain_names())
def test_every_domain_states_its_regulatory_notes(name):
    domain = get_domain(name)
    notes = domain.regulatory_notes()
    assert notes.ai_act.strip() and notes.reasons.strip()
    assert "Annex III" in notes.ai_act


def test_the_tasks_with_an_answer_block_are_the_credit_report_ones():
    answering = {
        (name, task.name)
        for name in domain_names()
        for task in get_domain(name).tasks.values()
        if task.has_answer
    }
    assert answering == {("credit_report", "summary"), ("credit_report", "qa")}


def test_only_the_fraud_screen_reports_screening_error_rates():
    screens = {name: get_domain(name).screening for name in domain_names()}
    assert {name for name, s in screens.items() if s is not None} == {"fraud"}
    fraud = screens["fraud"]
    assert fraud is not None and fraud.legitimate in get_domain("fraud").labels
