"""factory/_distilabel.py patches private names of distilabel 1.5.3: each is checked to exist."""

from __future__ import annotations

import subprocess
import sys

import distilabel.pipeline.batch_manager as batch_manager
import distilabel.pipeline.local as local
import pytest
from distilabel.pipeline.base import BasePipeline
from distilabel.pipeline.batch import _Batch

from factory import _distilabel
from factory.errors import FactoryError


def test_the_installed_distilabel_has_every_patched_name():
    assert _distilabel.internals_problem() is None
    _distilabel.check_internals()


def test_every_patched_name_is_in_the_table():
    """The names the module assigns or overrides are the ones it checks."""
    checked = {dotted for _, dotted, _ in _distilabel.INTERNALS}
    assert {
        "_Batch._update_data_hash",
        "_BatchManager.register_batch",
        "BasePipeline._register_batch",
        "BasePipeline._cache",
        "time",
        "_NoDaemonContext",
        "_NoDaemonProcess",
    } <= checked


@pytest.mark.parametrize(
    ("owner", "name", "reported"),
    [
        (local, "_NoDaemonContext", "distilabel.pipeline.local._NoDaemonContext is missing"),
        (local, "_NoDaemonProcess", "_NoDaemonProcess is missing"),
        (_Batch, "_update_data_hash", "_Batch._update_data_hash is missing"),
        (BasePipeline, "_cache", "BasePipeline._cache is missing"),
        (batch_manager._BatchManager, "register_batch", "_BatchManager.register_batch is missing"),
    ],
)
def test_a_missing_name_is_one_line_naming_it_and_the_version(monkeypatch, owner, name, reported):
    monkeypatch.delattr(owner, name)
    problem = _distilabel.internals_problem()
    assert problem is not None and reported in problem
    assert "distilabel 1.5.3" in problem and "\n" not in problem
    with pytest.raises(FactoryError, match="does not match fin-factory's patches"):
        _distilabel.check_internals()


def test_a_changed_signature_is_reported(monkeypatch):
    def register_batch(self, batch, steps_data_dir, extra):  # renamed and a new required one
        return None

    monkeypatch.setattr(batch_manager._BatchManager, "register_batch", register_batch)
    problem = _distilabel.internals_problem()
    assert problem and "register_batch takes (self, batch, steps_data_dir, extra)" in problem


def test_a_name_that_is_no_longer_a_class_or_a_clock_is_reported(monkeypatch):
    import distilabel.pipeline.base as base

    monkeypatch.setattr(local, "_NoDaemonContext", lambda: None)
    assert "_NoDaemonContext is no longer a class" in _distilabel.internals_problem()
    monkeypatch.undo()
    monkeypatch.setattr(base, "time", object())
    assert "base.time has no sleep()" in _distilabel.internals_problem()


def test_a_dataclass_field_that_went_is_reported(monkeypatch):
    import dataclasses

    fields = [f for f in dataclasses.fields(_Batch) if f.name != "seq_no"]
    monkeypatch.setattr(dataclasses, "fields", lambda cls: fields)
    assert "_Batch has no field 'seq_no'" in _distilabel.internals_problem()


def test_importing_with_a_missing_name_fails_with_one_line():
    code = (
        "import distilabel.pipeline.local as l; del l._NoDaemonContext\n"
        "from factory.errors import FactoryError\n"
        "try:\n    import factory._distilabel\n"
        "except FactoryError as e:\n    print('REFUSED', e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "REFUSED distilabel 1.5.3" in result.stdout, result.stderr[-2000:]
    assert "_NoDaemonContext is missing" in result.stdout
