"""Prompt rendering: the prompt environment renders exactly what plain Jinja renders."""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

import jinja2
import pytest

from factory.pipeline.prompts import _environment


def _plain() -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, autoescape=False
    )


ROW = {"credit_score": 712, "items": "a column named items", "loan_amount": 35_700.0}

CASES = [
    ("{{ row.credit_score }}", {"row": ROW}),
    ('{{ "{:,.0f}".format(row.loan_amount) }}', {"row": ROW}),
    # A column named like a dict method: Jinja returns the method, and so must we.
    ("{{ row.items is callable }} {{ row.keys is callable }}", {"row": ROW}),
    ("{{ row.missing is defined }}", {"row": ROW}),
    ("{{ row.missing | default('none') }}", {"row": ROW}),
    ("{{ row.credit_score }}", {"row": OrderedDict(ROW)}),  # a dict subclass
    ("{{ row.credit_score }}", {"row": SimpleNamespace(credit_score=700)}),
    ("{{ row.upper() }}", {"row": "text"}),
]


@pytest.mark.parametrize(("source", "context"), CASES)
def test_renders_what_plain_jinja_renders(source, context):
    expected = _plain().from_string(source).render(**context)
    assert _environment().from_string(source).render(**context) == expected


def test_a_missing_column_fails_as_in_plain_jinja():
    source = "{{ row.missing }}"
    with pytest.raises(jinja2.UndefinedError) as plain:
        _plain().from_string(source).render(row=ROW)
    with pytest.raises(jinja2.UndefinedError) as ours:
        _environment().from_string(source).render(row=ROW)
    assert str(ours.value) == str(plain.value)
