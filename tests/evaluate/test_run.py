"""`fin-factory evaluate` end to end: the scoring plumbing with answers we control, then the
tiny CPU model through both generation backends."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.evaluate import run as run_module
from factory.pipeline.run import generate
from factory.recipe import load_recipe

runner = CliRunner()


def _dataset(folder, domain: str, task: str | None = None):
    task_line = f"task: {task}\n" if task else ""
    (folder / "recipe.yaml").write_text(
        f"name: eval-{domain}\ndomain: {domain}\n{task_line}description: evaluation data\n"
        "profiles: {count: 200, seed: 9, shard_size: 100}\n"
    )
    generate(load_recipe(folder / "recipe.yaml"), folder / "out")
    return folder / "out"


@pytest.fixture(scope="module")
def lending(tmp_path_factory):
    return _dataset(tmp_path_factory.mktemp("eval-lending"), "lending")


def _answering(monkeypatch, answer):
    """Replaces generation: each chat gets answer(reference assistant text)."""
    references = {}

    def fake(model, chats, **kwargs):
        return [answer(references[chat[-1]["content"]]) for chat in chats]

    original = run_module.score_model

    def score(model, recipe, frame, **kwargs):
        for chat in frame["messages"].to_list():
            references[chat[1]["content"]] = chat[2]["content"]
        return original(model, recipe, frame, **kwargs)

    monkeypatch.setattr(run_module, "generate_answers", fake)
    monkeypatch.setattr(run_module, "score_model", score)


def test_a_model_that_answers_like_the_engine_scores_perfectly(lending, tiny_model, monkeypatch):
    _answering(monkeypatch, lambda reference: reference)
    report = run_module.evaluate(str(tiny_model), lending, backend="transformers", limit=12)
    model = report["model"]
    assert model["parse_rate"]["value"] == 1.0 and model["parse_rate"]["n"] == 12
    assert model["decisions"]["accuracy"]["value"] == 1.0
    assert model["decisions"]["macro_f1"] == 1.0
    assert model["faithfulness"]["numbers"]["value"] == 1.0
    assert model["faithfulness"]["numbers"]["n"] > 12
    if model["reasons"]["recall"]["n"]:
        assert model["reasons"]["recall"]["value"] == 1.0
    assert model["protected_mentions"]["rate"]["value"] == 0.0
    assert model["counterfactual"]["identical_prompts"] == 12
    assert model["counterfactual"]["rate"]["value"] == 0.0
    assert model["perplexity"]["tokens"] > 0
    assert report["dataset"]["rows"] == 12 and report["dataset"]["split"] == "test"
    metrics = {m["type"]: m["value"] for m in report["model_index"][0]["metrics"]}
    assert metrics["accuracy"] == 1.0 and metrics["parse_rate"] == 1.0


def test_flipped_decisions_and_invented_numbers_are_counted(lending, tiny_model, monkeypatch):
    def wrong(reference: str) -> str:
        decision = re.search(r"<decision>(\w+)</decision>", reference).group(1)
        other = "deny" if decision == "approve" else "approve"
        reference = reference.replace(
            f"<decision>{decision}</decision>", f"<decision>{other}</decision>"
        )
        return reference.replace("</reasoning>", "The score is 123456.\n</reasoning>")

    _answering(monkeypatch, wrong)
    report = run_module.evaluate(str(tiny_model), lending, backend="transformers", limit=12)
    model = report["model"]
    assert model["parse_rate"]["value"] == 1.0
    assert model["decisions"]["accuracy"]["value"] == 0.0
    assert model["faithfulness"]["examples"]["value"] == 0.0
    assert 0.0 < model["faithfulness"]["numbers"]["value"] < 1.0


def test_summaries_get_rouge_and_bertscore(tmp_path, tiny_model, monkeypatch):
    summaries = _dataset(tmp_path, "credit_report", "summary")
    _answering(monkeypatch, lambda reference: reference)
    report = run_module.evaluate(str(tiny_model), summaries, backend="transformers", limit=4)
    model = report["model"]
    assert model["rougeL"]["f1"]["value"] == pytest.approx(1.0)
    assert model["bertscore"]["f1"]["value"] == pytest.approx(1.0, abs=1e-4)
    assert "not comparable with roberta-large" in model["bertscore"]["note"]


def test_fraud_reports_false_positive_and_negative_rates(tmp_path, tiny_model, monkeypatch):
    fraud = _dataset(tmp_path, "fraud")
    _answering(monkeypatch, lambda reference: reference)
    report = run_module.evaluate(str(tiny_model), fraud, backend="transformers", limit=10)
    errors = report["model"]["fraud_errors"]
    assert errors["false_positive_rate"]["value"] in (0.0, None)
    assert errors["false_negative_rate"]["value"] in (0.0, None)
    # The domain names the section and the label that lets a case through; the headline
    # figures the model card leads with include both rates.
    assert report["screening"]["key"] == "fraud_errors"
    assert report["screening"]["legitimate"] == "allow"
    metrics = {m["type"] for entry in report["model_index"] for m in entry["metrics"]}
    assert {"false_positive_rate", "false_negative_rate"} <= metrics


@pytest.mark.parametrize("backend", ["transformers", "vllm"])
def test_the_tiny_model_end_to_end_through_the_cli(lending, tiny_model, tmp_path, backend):
    out = tmp_path / "eval.json"
    # A process of its own, as users run it (vLLM's engine writes to the real stderr).
    result = subprocess.run(
        [
            sys.executable, "-m", "factory.cli",
            "evaluate", str(tiny_model), "--dataset", str(lending), "--backend", backend,
            "--baseline", str(tiny_model), "--limit", "3", "--max-new-tokens", "8",
            "--engine-args", '{"dtype": "float32", "enforce_eager": true, "max_model_len": 2048}',
            "--out", str(out),
        ],
        capture_output=True, text=True, timeout=900, env=os.environ | {"COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["backend"] == backend and report["dataset"]["rows"] == 3
    assert len(report["dataset"]["manifest_sha256"]) == 64
    identity = report["model"]["identity"]
    assert identity["path"] == str(tiny_model.resolve()) and identity["weights_xxh3_128"]
    for role in ("model", "baseline"):
        # Random weights write noise: nothing parses, every rate says so with its sample size.
        assert report[role]["parse_rate"]["n"] == 3
        assert report[role]["parse_rate"]["value"] == 0.0
    # The same model twice, greedy: the two columns agree.
    assert report["model"]["perplexity"] == report["baseline"]["perplexity"]
    assert "decision accuracy" in result.stdout and "baseline" in result.stdout


def test_evaluate_errors_are_one_clear_line(lending, tiny_model, tmp_path):
    bad = runner.invoke(
        app, ["evaluate", str(tiny_model), "--dataset", str(lending), "--backend", "tgi"]
    )
    assert bad.exit_code == 2 and "unknown backend 'tgi'" in bad.stderr
    missing = runner.invoke(app, ["evaluate", str(tiny_model), "--dataset", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "no such dataset folder" in missing.stderr
    no_model = runner.invoke(
        app, ["evaluate", "no-org/no-model", "--dataset", str(lending), "--backend", "transformers"]
    )
    assert no_model.exit_code == 2 and "not a local folder" in no_model.stderr
