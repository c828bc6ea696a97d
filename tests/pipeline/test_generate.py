"""`generate` end to end: the dataset on disk, its verification, resume and determinism."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.dataset import load_hf_dataset, read_manifest, read_rejects, read_split
from factory.errors import DatasetError
from factory.output import parse_output
from factory.pipeline.run import _run_pipeline, generate, run_identity
from factory.recipe import load_recipe
from factory.synth import recipe_shards
from factory.verify import verify_example
from tests.conftest import MINIMAL
from tests.tiny import build_tokenizer

runner = CliRunner()


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        for task in Path(f"/proc/{stack.pop()}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(children)
            stack.extend(children)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _data_bytes(folder: Path) -> dict[str, bytes]:
    files = [*sorted((folder / "data").glob("*.parquet")), folder / "rejects.parquet"]
    return {f.name: f.read_bytes() for f in files}


@pytest.fixture(scope="module")
def lending_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen")
    recipe_path = folder / "recipe.yaml"
    recipe_path.write_text(
        MINIMAL.replace("count: 300", "count: 600").replace("shard_size: 100", "shard_size: 200")
    )
    recipe = load_recipe(recipe_path)
    result = generate(recipe, folder / "out")
    return recipe, result, folder / "out"


def test_dataset_layout_and_accounting(lending_run):
    recipe, result, out = lending_run
    assert sorted(p.name for p in (out / "data").iterdir()) == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00001.parquet",
        "validation-00000-of-00001.parquet",
    ]
    assert (out / "README.md").read_text().startswith("---\n")
    assert not (out / "_work").exists()
    manifest = read_manifest(out)
    rejects = read_rejects(out)
    kept = sum(read_split(out, s).height for s in ("train", "validation", "test"))
    assert kept == manifest["counts"]["kept"] == result.final.kept
    assert kept + rejects.height == 600 == manifest["counts"]["profiles"]
    assert manifest["recipe"]["sha256"] == recipe.content_hash()
    assert manifest["policy_version"].startswith("lending-")
    assert set(manifest["verifiers"]) >= {"format", "decision", "numbers", "reasons", "pii"}
    # The template teacher must be vouched for on (almost) every row.
    assert manifest["counts"]["pass_rate"] > 0.97, manifest["rejects_by_reason"]


def test_every_kept_row_verifies_again_and_matches_the_engine(lending_run):
    recipe, _, out = lending_run
    train = read_split(out, "train")
    assert {
        "id",
        "domain",
        "task",
        "messages",
        "facts",
        "decision",
        "reason_codes",
        "policy_version",
        "teacher",
        "annual_income",
        "dti",
        "sex",
    } <= set(train.columns)
    domain = recipe.domain_impl
    for row in train.head(200).iter_rows(named=True):
        assistant = row["messages"][-1]
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        parsed = parse_output(assistant["content"])
        assert parsed.decision == row["decision"]
        assert list(parsed.reasons) == list(row["reason_codes"])
        facts = domain.facts(row, recipe.policy)
        verdict = verify_example(
            assistant["content"],
            decision=row["decision"],
            reason_codes=row["reason_codes"],
            known_codes=domain.reason_texts,
            facts=facts,
            checks={"format", "decision", "reasons", "numbers", "pii"},
            number_tolerance=0.005,
        )
        assert verdict.ok, verdict
        assert json.loads(row["facts"])["dti"] == pytest.approx(row["dti"])


def test_splits_are_stratified_and_ids_unique(lending_run):
    _, _, out = lending_run
    frames = {s: read_split(out, s) for s in ("train", "validation", "test")}
    ids = pl.concat([f.select("id") for f in frames.values()])["id"]
    assert ids.n_unique() == ids.len()
    total = sum(f.height for f in frames.values())
    assert frames["train"].height == pytest.approx(0.8 * total, abs=4)
    manifest = read_manifest(out)
    for label, count in manifest["labels"]["all"].items():
        if count >= 20:
            share = manifest["labels"]["train"][label] / count
            assert share == pytest.approx(0.8, abs=0.05), label


def test_loads_with_datasets_and_formats_with_a_chat_template(lending_run, tmp_path):
    _, _, out = lending_run
    ds = load_hf_dataset(out)
    assert set(ds) == {"train", "validation", "test"}
    row = ds["train"][0]
    corpus = [m["content"] for r in ds["validation"] for m in r["messages"]]
    tokenizer = build_tokenizer(tmp_path / "tok", corpus)
    text = tokenizer.apply_chat_template(row["messages"], tokenize=False)
    assert "<|assistant|>" in text and "<decision>" in text
    assert tokenizer.apply_chat_template(row["messages"], tokenize=True)


def test_same_recipe_and_seed_give_byte_identical_data(lending_run, tmp_path):
    recipe, _, out = lending_run
    again = generate(recipe, tmp_path / "again")
    assert _data_bytes(tmp_path / "again") == _data_bytes(out)
    assert again.final.kept == read_manifest(out)["counts"]["kept"]


def test_rejects_keep_reason_and_raw_output(write_recipe, tmp_path):
    # Every row is rejected: min_kept_fraction 0 lets the run finish to show the rejects.
    path = write_recipe(MINIMAL + "filters:\n  max_seq_length: 40\n  min_kept_fraction: 0\n")
    result = generate(load_recipe(path), tmp_path / "out")
    assert result.final.kept == 0
    rejects = read_rejects(tmp_path / "out")
    assert rejects.height == 300
    assert set(rejects["reject_reason"]) == {"length"}
    assert rejects["generation"].str.contains("<decision>").all()
    assert not list((tmp_path / "out" / "data").glob("*.parquet"))


def test_a_folder_with_another_run_is_refused(lending_run, write_recipe, tmp_path):
    _, _, out = lending_run
    other = load_recipe(write_recipe(MINIMAL.replace("seed: 3", "seed: 5")))
    with pytest.raises(DatasetError, match=r"holds a different run .*seed"):
        generate(other, out)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        generate(other, stranger)
    with pytest.raises(DatasetError, match="refusing to delete"):
        generate(other, stranger, overwrite=True)


def test_rerunning_a_finished_run_changes_nothing(lending_run):
    recipe, _, out = lending_run
    before = _data_bytes(out)
    result = generate(recipe, out)
    assert result.already_complete
    assert _data_bytes(out) == before


def test_resume_from_a_partial_run_equals_uninterrupted(lending_run, tmp_path):
    recipe, _, out = lending_run
    folder = tmp_path / "partial"
    work = folder / "_work"
    work.mkdir(parents=True)
    (work / "run.json").write_text(json.dumps(run_identity(recipe)))
    shards = recipe_shards(recipe)
    # What a run killed after its first shard leaves behind.
    _run_pipeline(recipe, work, shards[:1], shards, None, 0)
    assert [p.name for p in (work / "shards").glob("*.parquet")] == ["shard-00000.parquet"]
    result = generate(recipe, folder)
    assert (result.reused_shards, result.generated_shards) == (1, 2)
    assert _data_bytes(folder) == _data_bytes(out)


def test_a_failed_split_write_leaves_no_dataset_and_the_rerun_finishes_it(
    lending_run, tmp_path, monkeypatch
):
    import pyarrow.parquet as pq

    recipe, _, out = lending_run
    folder = tmp_path / "failed"
    real_write = pq.ParquetWriter.write_table
    calls = []

    def failing_write(self, table, *args, **kwargs):
        calls.append(table.num_rows)
        if len(calls) == 4:  # a later shard's part, written by a writer thread
            raise OSError("disk full")
        return real_write(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing_write)
    with pytest.raises(OSError, match="disk full"):
        generate(recipe, folder)
    assert not (folder / "manifest.json").exists()
    assert not (folder / "data").exists()
    monkeypatch.undo()
    result = generate(recipe, folder)
    assert (result.reused_shards, result.generated_shards) == (3, 0)
    assert _data_bytes(folder) == _data_bytes(out)


def test_a_second_run_in_one_interpreter_writes_nothing_into_the_first_runs_folder(
    tmp_path, write_recipe
):
    # A fresh interpreter, so that its first run is the one that starts the fork server whose
    # environment every later run's step processes inherit.
    recipe_path = write_recipe(MINIMAL)
    code = (
        "from pathlib import Path\n"
        "from factory.pipeline.run import generate\n"
        "from factory.recipe import load_recipe\n"
        f"recipe = load_recipe({str(recipe_path)!r})\n"
        f"generate(recipe, Path({str(tmp_path / 'first')!r}))\n"
        f"generate(recipe, Path({str(tmp_path / 'second')!r}))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)
    assert (tmp_path / "second" / "manifest.json").exists()
    assert sorted(p.name for p in (tmp_path / "first").iterdir()) == [
        "README.md",
        "data",
        "manifest.json",
        "rejects.parquet",
    ]


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_equals_uninterrupted(tmp_path, write_recipe):
    # Enough work after the second shard that the kill lands mid-run: the step processes run
    # on until the fork server's orphan guard (polling every 0.5 s) kills them.
    recipe_path = write_recipe(
        MINIMAL.replace("count: 300", "count: 20000").replace("shard_size: 100", "shard_size: 1000")
    )
    reference = tmp_path / "reference"
    generate(load_recipe(recipe_path), reference)

    folder = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "factory.cli",
        "generate",
        str(recipe_path),
        "--out",
        str(folder),
    ]
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    shards = folder / "_work" / "shards"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(shards.glob("*.parquet"))) < 2:
        time.sleep(0.05)
    assert process.poll() is None, "the run must still be going when it is killed"
    tree = _descendants(process.pid)
    assert tree, "the run has step processes"
    os.kill(process.pid, signal.SIGKILL)  # the main process only, as an OOM kill would
    process.wait()
    # Nothing is left behind: the orphaned fork server kills the step processes and exits.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in tree):
        time.sleep(0.1)
    assert not [p for p in tree if _alive(p)]
    finished = len(list(shards.glob("*.parquet")))
    assert 2 <= finished < 20, "the kill must land mid-run"
    assert not (folder / "manifest.json").exists()

    result = runner.invoke(app, ["generate", str(recipe_path), "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"{finished} shard(s) reused" in result.stderr
    assert _data_bytes(folder) == _data_bytes(reference)


def test_cli_generate_and_inspect(write_recipe, tmp_path):
    path = write_recipe(MINIMAL)
    out = tmp_path / "cli-out"
    result = runner.invoke(app, ["generate", str(path), "--out", str(out), "--n", "200"])
    assert result.exit_code == 0, result.output
    assert "kept" in result.stdout and "label: approve" in result.stdout
    again = runner.invoke(app, ["generate", str(path), "--out", str(out), "--n", "200"])
    assert "already complete" in again.stderr
    changed = runner.invoke(app, ["generate", str(path), "--out", str(out), "--n", "250"])
    assert changed.exit_code == 2 and "--overwrite" in changed.stderr
    over = runner.invoke(
        app, ["generate", str(path), "--out", str(out), "--n", "250", "--overwrite"]
    )
    assert over.exit_code == 0, over.output
    assert read_manifest(out)["counts"]["profiles"] == 250

    shown = runner.invoke(app, ["inspect", str(out), "--examples", "2"])
    assert shown.exit_code == 0, shown.output
    assert "<reasoning>" in shown.stdout and "verification" in shown.stdout
    plots = sorted((out / "plots").glob("*.png"))
    assert plots and all(p.stat().st_size > 5000 for p in plots)


def test_inspect_refuses_an_unfinished_folder(tmp_path):
    (tmp_path / "_work").mkdir()
    result = runner.invoke(app, ["inspect", str(tmp_path)])
    assert result.exit_code == 2
    assert "resume" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--teacher", "vllm"], "backend 'vllm' needs `model`"),
        (["--teacher", "openai", "--model", "m"], "backend 'openai' needs `base_url`"),
        (["--teacher", "gpt"], "teacher.backend"),
        (["--engine", "spark"], "execution"),
        (["--mode", "rewrite"], "teacher.mode"),
    ],
)
def test_bad_teacher_options_are_clear_errors(write_recipe, tmp_path, args, message):
    result = runner.invoke(
        app, ["generate", str(write_recipe(MINIMAL)), *args, "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "o").exists()


def test_plain_datasets_load_with_data_dir(lending_run):
    import datasets

    _, _, out = lending_run
    ds = datasets.load_dataset("parquet", data_dir=str(out / "data"))
    assert set(ds) == {"train", "validation", "test"}
    assert ds["train"].num_rows == read_manifest(out)["splits"]["train"]


def test_recipe_prompt_overrides_reach_the_dataset(write_recipe, tmp_path):
    (tmp_path / "user.jinja2").write_text(
        "Applicant asks for {{ row.loan_amount }} over {{ row.loan_term_months }} months.\n"
    )
    path = write_recipe(MINIMAL + "prompts:\n  user: user.jinja2\n")
    generate(load_recipe(path).with_overrides(count=100), tmp_path / "out")
    row = read_split(tmp_path / "out", "train").row(0, named=True)
    assert row["messages"][1]["content"] == (
        f"Applicant asks for {row['loan_amount']} over {row['loan_term_months']} months."
    )


def test_a_broken_prompt_override_is_a_clear_error(write_recipe, tmp_path):
    (tmp_path / "user.jinja2").write_text("{{ row.no_such_column }}\n")
    path = write_recipe(MINIMAL + "prompts:\n  user: user.jinja2\n")
    result = runner.invoke(app, ["generate", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "user.jinja2: prompt template error" in result.stderr
    assert "no_such_column" in result.stderr


def test_first_dataset_card_parses_and_its_tables_hold_together(lending_run):
    from huggingface_hub import DatasetCard

    recipe, _, out = lending_run
    card = DatasetCard.load(out / "README.md")
    assert card.data.pretty_name == recipe.name
    assert [c["split"] for c in card.data.configs[0]["data_files"]] == [
        "train",
        "validation",
        "test",
    ]
    manifest = read_manifest(out)
    lines = card.text.splitlines()
    header = lines.index("| split | examples | approve | refer | deny |")
    rows = lines[header + 2 : header + 5]
    assert rows[0].startswith(f"| train | {manifest['splits']['train']:,} |")
    assert all(row.startswith("| ") for row in rows), "a Markdown table has no blank lines"
    assert f"{manifest['counts']['kept']:,} kept" in card.text


def test_a_failing_prompt_reading_teacher_loses_no_row(write_recipe, tmp_path, monkeypatch):
    from factory.pipeline import run as run_module
    from tests.pipeline.canned import CannedTeacher

    monkeypatch.setattr(run_module, "build_teacher", lambda recipe: CannedTeacher())
    monkeypatch.setattr(run_module, "probe_servers", lambda recipe: None)  # no server at all
    recipe = load_recipe(write_recipe(MINIMAL)).with_teacher(
        backend="openai", model="m", base_url="http://127.0.0.1:9/v1"
    )
    # Every row is rejected: min_kept_fraction 0 lets the run finish to show the rejects.
    recipe = recipe.overridden({"filters.min_kept_fraction": 0})
    result = generate(recipe, tmp_path / "out")
    rejects = read_rejects(tmp_path / "out")
    assert result.final.kept == 0 and rejects.height == 300
    by_reason = dict(rejects["reject_reason"].value_counts().iter_rows())
    assert by_reason == {"teacher": 100, "format": 200}
    garbled = rejects.filter(pl.col("reject_reason") == "format")["generation"]
    # The teacher's chat reached a teacher that reads prompts: system, two worked examples
    # (user + assistant each), then the row's user message.
    assert garbled.str.contains("the prompt had 6 messages: user").all()
