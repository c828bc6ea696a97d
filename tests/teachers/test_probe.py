"""An LLM server that cannot be used fails the run at once, in one line that says how to fix it,
and a run that keeps (almost) nothing fails instead of succeeding empty."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.errors import BackendError, DatasetError
from factory.pipeline.run import generate
from factory.publish import PublishError, publish_dataset
from factory.recipe import load_recipe
from factory.train.data import load_sft_splits
from tests.conftest import MINIMAL
from tests.fake_openai import Reply, fake_openai_server

runner = CliRunner()
GOOD = "<reasoning>\nfine\n</reasoning>\n<decision>approve</decision>"


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there once the socket is closed


def _generate(write_recipe, tmp_path, base_url: str, model: str = "fake", extra: str = ""):
    path = write_recipe(MINIMAL.replace("count: 300", "count: 100") + extra)
    out = tmp_path / "out"
    options = ["--teacher", "openai", "--model", model, "--base-url", base_url]
    return runner.invoke(app, ["generate", str(path), "--out", str(out), *options]), out


def _one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    # The last line, after the progress bar's final state: one error line, no traceback.
    assert [line for line in lines if "error" in line.lower()] == lines[-1:], result.stderr
    assert lines[-1].startswith("error: ") and "Traceback" not in result.output
    return lines[-1]


def test_a_server_that_is_down_is_one_line_and_no_shard(write_recipe, tmp_path):
    result, out = _generate(write_recipe, tmp_path, _dead_url())
    line = _one_error_line(result)
    assert "teacher: cannot reach the server" in line and "connection refused" in line
    assert "--base-url" in line
    assert not list(out.glob("_work/shards/*.parquet"))


def test_a_refused_key_names_the_variable(write_recipe, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with fake_openai_server(lambda request, attempt: Reply(GOOD), api_key="sesame") as server:
        result, _ = _generate(write_recipe, tmp_path, server.base_url)
    line = _one_error_line(result)
    assert "refused the API key (HTTP 401)" in line and "$OPENAI_API_KEY is not set" in line
    assert server.requests == []


def test_a_wrong_model_name_lists_the_models_served(write_recipe, tmp_path):
    with fake_openai_server(lambda request, attempt: Reply(GOOD), models=("qwen-7b",)) as server:
        result, _ = _generate(write_recipe, tmp_path, server.base_url, model="qwen-8b")
    line = _one_error_line(result)
    assert "has no model 'qwen-8b' (it serves 'qwen-7b')" in line and "--model" in line


def test_a_base_url_that_is_not_the_api_root_says_so(write_recipe, tmp_path):
    with fake_openai_server(lambda request, attempt: Reply(GOOD)) as server:
        root = server.base_url.removesuffix("/v1")
        result, _ = _generate(write_recipe, tmp_path, root)
    line = _one_error_line(result)
    assert "HTTP 404" in line and "usually ending in /v1" in line


def test_the_judge_is_checked_too(write_recipe, tmp_path):
    judge = (
        f"filters:\n  judge:\n    backend: openai\n    model: judge\n    base_url: {_dead_url()}\n"
    )
    recipe = load_recipe(write_recipe(MINIMAL + judge))
    with pytest.raises(BackendError, match=r"^filters\.judge: cannot reach"):
        generate(recipe, tmp_path / "out")


def test_a_working_server_is_probed_once_then_used(write_recipe, tmp_path):
    with fake_openai_server(lambda request, attempt: Reply(GOOD), models=("fake",)) as server:
        result, _ = _generate(write_recipe, tmp_path, server.base_url)
    assert result.exit_code == 0, result.output
    assert len(server.probes) == 1 and server.probes[0]["max_tokens"] == 1
    assert len(server.requests) == 100


#: Every example is longer than this: the length verifier rejects them all.
_TOO_SHORT = "filters:\n  max_seq_length: 10\n"


def test_a_run_that_keeps_too_little_fails_and_is_marked_incomplete(write_recipe, tmp_path):
    path = write_recipe(MINIMAL.replace("count: 300", "count: 100") + _TOO_SHORT)
    out = tmp_path / "out"
    command = ["generate", str(path), "--out", str(out)]
    line = _one_error_line(runner.invoke(app, command))
    assert "only 0 of 100 profiles were kept (0.0%; filters.min_kept_fraction is 5.0%)" in line
    assert "rejected: length 100 (e.g. " in line and "marked incomplete" in line
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["incomplete"] == {
        "reason": "kept share below filters.min_kept_fraction",
        "kept_fraction": 0.0,
        "min_kept_fraction": 0.05,
    }
    assert manifest["rejects_by_reason"] == {"length": 100}
    # The same command again fails again: an incomplete dataset is never "already complete".
    assert "only 0 of 100" in _one_error_line(runner.invoke(app, command))

    with pytest.raises(PublishError, match="marked incomplete"):
        publish_dataset(out, "org/tiny", dry_run=True)
    published = runner.invoke(app, ["publish", "dataset", str(out), "--repo-id", "org/tiny"])
    assert "marked incomplete" in _one_error_line(published)
    with pytest.raises(DatasetError, match="marked incomplete"):
        load_sft_splits(out, assistant_only=True)


def test_min_kept_fraction_zero_accepts_any_result(write_recipe, tmp_path):
    text = MINIMAL.replace("count: 300", "count: 100") + _TOO_SHORT + "  min_kept_fraction: 0\n"
    result = generate(load_recipe(write_recipe(text)), tmp_path / "out")
    assert result.final.kept == 0
    assert "incomplete" not in json.loads((tmp_path / "out" / "manifest.json").read_text())
