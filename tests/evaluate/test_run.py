"""`fin-factory evaluate` end to end: the scoring plumbing with answers we control, then the
tiny CPU model through both generation backends."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.dataset import read_manifest, read_split
from factory.domains.rules.interpret import row_values
from factory.evaluate import run as run_module
from factory.pipeline.run import generate
from factory.recipe import load_recipe, parse_recipe
from factory.verify.mutations import Example, alterations

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


def _answering(monkeypatch, answer, counterfactual=None, per_model=None):
    """Replaces generation: each chat gets answer(reference assistant text); a counterfactual
    prompt gets counterfactual(reference of its original) [default: answer's]; `per_model`
    maps a model folder's name to its own answer function."""
    references = {}
    counterfactuals = {}

    def fake(model, chats, **kwargs):
        own = (per_model or {}).get(Path(model).parent.name, answer)
        out = []
        for chat in chats:
            prompt = chat[-1]["content"]
            if prompt in references:
                out.append(own(references[prompt]))
            else:
                out.append((counterfactual or own)(counterfactuals[prompt]))
        return out

    original = run_module.score_model

    def score(model, recipe, frame, **kwargs):
        chats = frame["messages"].to_list()
        for chat in chats:
            references[chat[1]["content"]] = chat[2]["content"]
        cases = kwargs.get("counterfactual")
        for i in cases.changed if cases else ():
            counterfactuals[cases.prompts[i]] = chats[i][2]["content"]
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
    # The engine's own answers: every claim holds and every verifier keeps them.
    assert model["claims"]["faithful"]["value"] == 1.0 and model["claims"]["faithful"]["n"] == 12
    assert all(k["answers"]["successes"] == 0 for k in model["claims"]["kinds"].values())
    assert model["verification"]["verified"]["value"] == 1.0
    assert model["verification"]["rejected_by"] == {}
    # The lending prompt shows job title and employer, which no rule reads: they are swapped,
    # every counterfactual prompt differs, and neither engine nor this model changes its mind.
    flip = model["counterfactual"]
    assert set(flip["fields"]) == {"employer", "job_title"}
    assert flip["changed_prompts"] == 12 and flip["identical_prompts"] == 0
    assert flip["engine_changed"]["successes"] == 0 and flip["engine_changed"]["n"] == 12
    assert flip["rate"]["value"] == 0.0 and flip["rate"]["n"] == 12
    assert model["perplexity"]["tokens"] > 0
    assert report["dataset"]["rows"] == 12 and report["dataset"]["split"] == "test"
    metrics = {m["type"]: m["value"] for m in report["model_index"][0]["metrics"]}
    assert metrics["accuracy"] == 1.0 and metrics["parse_rate"] == 1.0
    assert metrics["claim_faithfulness"] == 1.0 and metrics["verified"] == 1.0


def _other_decision(reference: str) -> str:
    decision = re.search(r"<decision>(\w+)</decision>", reference).group(1)
    other = "deny" if decision == "approve" else "approve"
    return reference.replace(f"<decision>{decision}</decision>", f"<decision>{other}</decision>")


def test_flipped_decisions_and_invented_numbers_are_counted(lending, tiny_model, monkeypatch):
    def wrong(reference: str) -> str:
        reference = _other_decision(reference)
        return reference.replace("</reasoning>", "The score is 123456.\n</reasoning>")

    _answering(monkeypatch, wrong)
    report = run_module.evaluate(str(tiny_model), lending, backend="transformers", limit=12)
    model = report["model"]
    assert model["parse_rate"]["value"] == 1.0
    assert model["decisions"]["accuracy"]["value"] == 0.0
    assert model["faithfulness"]["examples"]["value"] == 0.0
    assert 0.0 < model["faithfulness"]["numbers"]["value"] < 1.0


#: The claim kind each error class of factory.verify.mutations is a failure of.
CLAIM_KIND_OF = {
    "wrong_quantity": "number",
    "comparison_flip": "comparison",
    "conclusion": "conclusion",
    "invented_factor": "categorical",
    "wrong_reason_text": "reasons",
    "protected_factor": "fairness",
    "subject_name": "identity",
}


def _altered_answers(dataset, rows: int) -> tuple[dict[str, str], Counter]:
    """Reference answer -> a wrong copy, one error class per row in turn; and the claim kinds
    those errors should be counted under."""
    recipe = parse_recipe(read_manifest(dataset)["recipe"]["content"], source="manifest.json")
    table = recipe.domain_impl.rule_table(recipe.policy)
    rng = random.Random(0)
    altered: dict[str, str] = {}
    expected: Counter = Counter()
    classes = list(CLAIM_KIND_OF)
    for i, row in enumerate(read_split(dataset, "test").head(rows).iter_rows(named=True)):
        text, prompt = row["messages"][2]["content"], row["messages"][1]["content"]
        example = Example(text, row, prompt, table, row_values(table, row))
        wrong = {a.kind: a.text for a in alterations(example, rng) if not a.correct}
        turn = classes[i % len(classes) :] + classes[: i % len(classes)]
        chosen = next((c for c in turn if c in wrong), None)
        if chosen is not None:
            altered[text] = wrong[chosen]
            expected[CLAIM_KIND_OF[chosen]] += 1
    return altered, expected


def test_claims_are_counted_per_kind_with_the_generation_checks(lending, tiny_model, monkeypatch):
    altered, expected = _altered_answers(lending, 14)
    assert len(expected) >= 5  # most kinds are exercised on these rows
    _answering(monkeypatch, lambda reference: altered.get(reference, reference))
    report = run_module.evaluate(str(tiny_model), lending, backend="transformers", limit=14)
    claims = report["model"]["claims"]
    assert claims["unread"] == 0 and claims["faithful"]["n"] == 14
    assert claims["faithful"]["successes"] == 14 - len(altered)
    for kind, count in expected.items():
        failing = claims["kinds"][kind]
        assert failing["answers"]["successes"] >= count, kind
        assert failing["answers"]["n"] == 14
        assert failing["claims"] >= failing["answers"]["successes"]
    assert {s["kind"] for s in claims["samples"]} >= set(expected)
    # What a dataset would keep: none of the altered answers, all of the others.
    verified = report["model"]["verification"]
    assert verified["verified"]["successes"] == 14 - len(altered)
    assert sum(verified["rejected_by"].values()) == len(altered)
    assert set(verified["rejected_by"]) <= {"claims", "numbers", "pii"}


def test_a_model_swayed_by_what_the_policy_ignores_is_caught(lending, tiny_model, monkeypatch):
    # Right on every original prompt, but it changes its mind when only the job title and
    # employer change.
    _answering(monkeypatch, lambda reference: reference, counterfactual=_other_decision)
    report = run_module.evaluate(str(tiny_model), lending, backend="transformers", limit=8)
    flip = report["model"]["counterfactual"]
    assert report["model"]["decisions"]["accuracy"]["value"] == 1.0
    assert flip["rate"]["value"] == 1.0 and flip["rate"]["n"] == 8 and len(flip["flipped"]) == 8
    assert flip["engine_changed"]["successes"] == 0


def test_models_trained_by_different_methods_side_by_side(
    lending, tiny_model, tmp_path, monkeypatch
):
    runs = {}
    for method in ("sft", "dpo", "grpo"):
        run = tmp_path / f"{method}-run"
        shutil.copytree(tiny_model, run / "merged")
        manifest = {"method": method, "base_model": str(tiny_model)}
        (run / "train_manifest.json").write_text(json.dumps(manifest))
        runs[method] = run

    def factor(reference: str) -> str:  # right decision, a protected attribute as a factor
        return reference.replace(
            "</reasoning>", "Given the applicant's age, this is risky.\n</reasoning>"
        )

    answers = {"sft-run": lambda r: r, "dpo-run": _other_decision, "grpo-run": factor}
    _answering(monkeypatch, lambda r: r, per_model=answers)
    out = tmp_path / "eval.json"
    result = runner.invoke(
        app,
        [
            "evaluate", str(runs["sft"]), "--dataset", str(lending), "--backend", "transformers",
            "--compare", str(runs["dpo"]), "--compare", str(runs["grpo"]), "--limit", "6",
            "--out", str(out),
        ],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    # A run folder is scored through its merged/ model, and its manifest names the method.
    assert report["model"]["name"] == str(runs["sft"] / "merged")
    assert [c["identity"]["method"] for c in report["compare"]] == ["dpo", "grpo"]
    table = {entry["method"]: entry for entry in report["comparison"]}
    assert list(table) == ["sft", "dpo", "grpo"]
    assert [table[m]["accuracy"]["value"] for m in table] == [1.0, 0.0, 1.0]
    assert [table[m]["claim_faithfulness"]["value"] for m in table] == [1.0, 1.0, 0.0]
    assert [table[m]["verified"]["value"] for m in table] == [1.0, 0.0, 0.0]
    assert all(table[m]["accuracy"]["n"] == 6 for m in table)
    grpo = report["compare"][1]["claims"]["kinds"]["fairness"]["answers"]
    assert grpo["successes"] == 6 and grpo["n"] == 6
    assert "sft-run (sft)" in result.stdout and "grpo-run (grpo)" in result.stdout
    assert "answers fully verified" in result.stdout


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


#: The evaluate CLI, its whole process group killed at a chosen moment: "answers" as the first
#: model starts answering (the dataset read, the counterfactual cases built), "write" with the
#: report written to eval.json.partial and not yet moved into place. Started in a session of
#: its own, so that killpg(0) kills it alone, as Ctrl-\\ in its terminal or the OOM killer would.
_KILLED_EVALUATE = """
import os, signal, sys
from factory.evaluate import run
moment, out = sys.argv[1], os.path.abspath(sys.argv[2])
if moment == "answers":
    run.generate_answers = lambda *args, **kwargs: os.killpg(0, signal.SIGKILL)
real_replace = os.replace

def replace(src, dst, *args, **kwargs):
    if moment == "write" and os.path.abspath(dst) == out:
        os.killpg(0, signal.SIGKILL)
    real_replace(src, dst, *args, **kwargs)

os.replace = replace
from factory.cli import app
app(sys.argv[3:])
"""


def _report_without_clock(path: Path) -> dict:
    report = json.loads(path.read_text())
    report.pop("created_at")
    return report


@pytest.mark.slow
def test_a_killed_evaluate_reruns_cleanly_to_the_same_report(lending, tiny_model, tmp_path):
    arguments = [
        "evaluate", str(tiny_model), "--dataset", str(lending), "--backend", "transformers",
        "--limit", "2", "--max-new-tokens", "4",
    ]  # fmt: skip
    reference = tmp_path / "reference" / "eval.json"
    uninterrupted = runner.invoke(app, [*arguments, "--out", str(reference)])
    assert uninterrupted.exit_code == 0, uninterrupted.output
    out = tmp_path / "killed" / "eval.json"
    command = [*arguments, "--out", str(out)]

    def killed(*prefix: str) -> None:
        process = subprocess.Popen(
            [sys.executable, *prefix, *command],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ | {"OMP_NUM_THREADS": "1"},  # its answers are never read
        )
        if prefix[0] == "-m":
            time.sleep(0.5)  # still importing
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=600)
        assert process.returncode == -signal.SIGKILL

    # Each run starts from the leftovers of the one killed before it.
    killed("-m", "factory.cli")
    killed("-c", _KILLED_EVALUATE, "answers", str(out))
    assert not out.exists()
    killed("-c", _KILLED_EVALUATE, "write", str(out))
    assert not out.exists() and out.with_name("eval.json.partial").exists()

    # The same command again (in this process: what it finds on disk is what a new process
    # would, and the reference's kernels ran here too, so the floats compare exactly).
    again = runner.invoke(app, command)
    assert again.exit_code == 0, again.output
    assert _report_without_clock(out) == _report_without_clock(reference)
    assert sorted(p.name for p in out.parent.iterdir()) == ["eval.json"]


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
