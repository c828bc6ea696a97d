"""Batch prediction, the review queue end to end, `audit verify`, and the drift monitor."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import polars as pl
from typer.testing import CliRunner

from factory.cli import app
from factory.serve.audit import records
from factory.serve.predict import predict
from factory.synth import Shard, labelled_shard
from tests.serve.conftest import Oracle, make_recipe, sample_cases, service_for
from tests.serve.fake_backend import Scripted, fake_backend
from tests.serve.test_app import _labelled

runner = CliRunner()


def _predict(recipe, cases, db, oracle):
    with fake_backend(oracle) as backend:
        service = service_for(recipe, backend.url, db)

        async def go():
            try:
                return await predict(service, cases, concurrency=8)
            finally:
                await service.close()

        return asyncio.run(go())


def test_predict_answers_every_row_in_order_through_the_audited_path(tmp_path):
    recipe = make_recipe("credit_report", task="qa")
    cases = sample_cases(recipe, 12)
    oracle = Oracle(recipe)
    oracle.learn(_labelled(recipe, cases))
    bad = {**cases[0], "score_after": "high"}
    answers = _predict(recipe, [*cases, bad], tmp_path / "p.db", oracle)
    assert answers.height == 13
    assert answers["status"].to_list() == ["ok"] * 12 + ["refused"]
    assert "score_after" in answers["error"][12]
    assert len(list(records(tmp_path / "p.db"))) == 13


def test_review_queue_resolves_and_exports_training_examples(tmp_path):
    recipe = make_recipe("lending")
    cases = sample_cases(recipe, 2)
    rows = _labelled(recipe, cases)
    oracle = Oracle(recipe)
    oracle.learn(rows)
    for row in rows:
        oracle.overrides[oracle.prompts.user(row)] = Scripted("I cannot say.")
    db = tmp_path / "q.db"
    answers = _predict(recipe, cases, db, oracle)
    assert answers["status"].to_list() == ["needs_review"] * 2
    first = answers["ticket_id"][0]

    listed = runner.invoke(app, ["review", "list", str(db)])
    assert listed.exit_code == 0 and first in listed.output
    shown = runner.invoke(app, ["review", "show", str(db), first])
    assert shown.exit_code == 0 and "I cannot say." in shown.output

    engine = rows[0]
    human = oracle.answer_for(engine)  # a reviewer who writes what the engine would
    from factory.output import parse_output

    parsed = parse_output(human)
    resolved = runner.invoke(app, [
        "review", "resolve", str(db), first, "--decision", engine["decision"],
        "--reasoning", parsed.reasoning, "--reasons", ",".join(parsed.reasons),
        "--reviewer", "analyst-1",
    ])  # fmt: skip
    assert resolved.exit_code == 0, resolved.output
    assert "verified" in resolved.output and "NOT" not in resolved.output
    again = runner.invoke(app, ["review", "resolve", str(db), first, "--decision",
                                engine["decision"], "--reasoning", "x"])  # fmt: skip
    assert again.exit_code == 2 and "already resolved" in again.output
    wrong = runner.invoke(app, ["review", "resolve", str(db), answers["ticket_id"][1],
                                "--decision", "maybe", "--reasoning", "x"])  # fmt: skip
    assert wrong.exit_code == 2 and "--decision must be one of" in wrong.output

    out = tmp_path / "fixed.parquet"
    exported = runner.invoke(app, ["review", "export", str(db), "--out", str(out)])
    assert exported.exit_code == 0
    examples = pl.read_parquet(out)
    assert examples.height == 1 and examples["reviewer"][0] == "analyst-1"
    messages = examples["messages"][0].to_list()
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert f"<decision>{engine['decision']}</decision>" in messages[2]["content"]

    ok = runner.invoke(app, ["audit", "verify", str(db)])
    assert ok.exit_code == 0 and "ok: 3 records" in ok.output  # two answers and one review
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE records SET body = replace(body, 'analyst-1', 'someone') WHERE seq = 3"
        )
    broken = runner.invoke(app, ["audit", "verify", str(db)])
    assert broken.exit_code == 1 and "record 3" in broken.output


def _dataset(recipe, folder):
    (folder / "data").mkdir(parents=True)
    labelled_shard(recipe, Shard(0, 0, 2000)).write_parquet(folder / "data" / "train-00000.parquet")
    (folder / "manifest.json").write_text(json.dumps({"recipe": {"content": {}}}))
    return folder


def test_monitor_flags_a_shifted_population_and_exits_1(tmp_path):
    recipe = make_recipe("credit_report", task="qa")
    dataset = _dataset(recipe, tmp_path / "out")
    # PSI over ten bins needs a few hundred cases before same-population noise is small.
    cases = sample_cases(recipe, 400)
    shifted = [{**c, "score_before": max(300, c["score_before"] - 150)} for c in cases]
    oracle = Oracle(recipe)
    oracle.learn(_labelled(recipe, cases) + _labelled(recipe, shifted))
    same, moved = tmp_path / "same.db", tmp_path / "moved.db"
    _predict(recipe, cases, same, oracle)
    _predict(recipe, shifted, moved, oracle)

    calm = runner.invoke(app, ["monitor", str(same), "--dataset", str(dataset),
                               "--out", str(tmp_path / "calm")])  # fmt: skip
    assert calm.exit_code == 0, calm.output
    report = json.loads((tmp_path / "calm" / "report.json").read_text())
    day = report["days"][0]
    assert day["requests"] == 400 and day["pass_rate"] == 1.0 and day["fallback_rate"] == 0.0
    assert day["max_psi"] < 0.25 and "score_before" in day["psi"]
    assert "first_name" not in day["psi"]  # PII columns are not features
    assert (tmp_path / "calm" / "psi.png").stat().st_size > 0
    assert (tmp_path / "calm" / "rates.png").exists()

    alert = runner.invoke(app, ["monitor", str(moved), "--dataset", str(dataset),
                                "--out", str(tmp_path / "alert")])  # fmt: skip
    assert alert.exit_code == 1
    assert "PSI of score_before" in alert.output


def test_predict_command_reads_and_writes_parquet(tmp_path, monkeypatch):
    recipe = make_recipe("credit_report", task="qa")
    data = recipe.model_dump(mode="json")
    data["serve"]["audit_db"] = str(tmp_path / "cli.db")
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(json.dumps(data))
    cases = sample_cases(recipe, 6)
    pl.DataFrame(cases).write_parquet(tmp_path / "cases.parquet")
    oracle = Oracle(recipe)
    oracle.learn(_labelled(recipe, cases))
    monkeypatch.chdir(tmp_path)
    with fake_backend(oracle) as backend:
        result = runner.invoke(app, [
            "predict", str(recipe_path), "--input", str(tmp_path / "cases.parquet"),
            "--out", str(tmp_path / "answers.parquet"), "--model-url", backend.url,
        ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ok: 6" in result.output
    answers = pl.read_parquet(tmp_path / "answers.parquet")
    assert answers["status"].to_list() == ["ok"] * 6
    missing = runner.invoke(app, [
        "predict", str(recipe_path), "--input", "nope.parquet", "--out", "x.parquet",
        "--model-url", "http://127.0.0.1:9/v1",
    ])  # fmt: skip
    assert missing.exit_code == 2 and "nope.parquet" in missing.output
