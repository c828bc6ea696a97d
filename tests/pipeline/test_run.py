"""A run's folder is its state: kill -9 at any moment, run the same command, same bytes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from factory.domains._pools import (
    _STRING_POOLS,
    POOL_CACHE_ENV,
    POOL_SIZE,
    pool_cache_dir,
    pool_cache_path,
)
from factory.errors import DatasetError
from factory.pipeline.run import _pool_cache, _run_pipeline, generate, run_identity
from factory.recipe import load_recipe
from factory.synth import recipe_shards
from tests.conftest import MINIMAL
from tests.pipeline.synthesis_log import LOG_ENV, read_log

ROOT = Path(__file__).resolve().parents[2]
#: Four shards: a run of a few seconds, so kills land in every phase of it.
RECIPE = MINIMAL.replace("count: 300", "count: 400")


def _data_hashes(folder: Path) -> dict[str, str]:
    return dict(json.loads((folder / "manifest.json").read_text())["files"])


def _data_bytes(folder: Path) -> dict[str, bytes]:
    files = [*sorted((folder / "data").glob("*.parquet")), folder / "rejects.parquet"]
    return {f.name: f.read_bytes() for f in files}


def _command(recipe_path: Path, folder: Path) -> list[str]:
    return [sys.executable, "-m", "factory.cli", "generate", str(recipe_path), "--out", str(folder)]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the run's whole process group, as Ctrl-\\ in its terminal or an OOM kill of
    the session would: the main process, the fork server and every step at once."""
    with contextlib.suppress(ProcessLookupError):  # it had finished
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _start(command: list[str], **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def _resume(recipe_path: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        _command(recipe_path, folder), capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


#: The CLI with every shard synthesized logged, by process (tests/pipeline/synthesis_log.py),
#: in this process and in every step process: the module joins the fork server's preload.
_LOGGED_CLI = """
import multiprocessing, sys
from multiprocessing import forkserver
import factory._distilabel  # sets the start method and the fork server's preload list
import tests.pipeline.synthesis_log
preload = forkserver._forkserver._preload_modules  # private: the run's own list, kept as it is
multiprocessing.set_forkserver_preload(["tests.pipeline.synthesis_log", *preload])
from factory.cli import app
app(sys.argv[1:])
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run through the CLI, how long it took, and the log of the shards its
    processes synthesized."""
    folder = tmp_path_factory.mktemp("resume")
    recipe_path = folder / "recipe.yaml"
    recipe_path.write_text(RECIPE)
    log = folder / "synthesis.log"
    started = time.monotonic()
    arguments = _command(recipe_path, folder / "reference")[3:]
    subprocess.run(
        [sys.executable, "-c", _LOGGED_CLI, *arguments],
        check=True,
        cwd=ROOT,
        timeout=300,
        capture_output=True,
        env={**os.environ, LOG_ENV: str(log)},
    )
    return recipe_path, folder / "reference", time.monotonic() - started, log


@pytest.mark.slow
def test_each_shard_is_synthesized_once_in_each_step_that_reads_it(reference):
    recipe_path, _, _, log = reference
    calls = read_log(log)
    per_process = [(pid, index) for pid, index, _, _ in calls]
    assert len(per_process) == len(set(per_process)), f"a shard synthesized twice: {calls}"
    # The teacher writes from the shard's rows, and one verify replica checks them; the
    # generator step only counts rows, and finalize reads the shard files.
    for shard in recipe_shards(load_recipe(recipe_path)):
        spec = (shard.index, shard.offset, shard.size)
        processes = {pid for pid, *logged in calls if tuple(logged) == spec}
        assert len(processes) == 2, (shard, calls)


@pytest.mark.slow
@pytest.mark.parametrize("share", [0.0, 0.5, 0.9])
def test_kill_9_at_any_moment_then_the_same_command_gives_the_same_bytes(
    reference, tmp_path, share
):
    recipe_path, reference_dir, seconds, _ = reference
    # From 0.5 s (the interpreter still importing) to the last moments (finalize or done).
    delay = max(0.5, share * seconds)
    folder = tmp_path / "killed"
    process = _start(_command(recipe_path, folder))
    time.sleep(delay)
    _kill_group(process)
    _resume(recipe_path, folder)
    assert _data_hashes(folder) == _data_hashes(reference_dir)
    assert _data_bytes(folder) == _data_bytes(reference_dir)
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "data",
        "manifest.json",
        "rejects.parquet",
    ]


#: Runs the CLI with every os.replace into the output folder counted: the process group is
#: killed just before replace number N (or just after it, when AFTER is set). finalize moves
#: its staged files into place with os.replace and writes the manifest last, so this lands a
#: kill at each step of publishing the dataset, whatever finalize does before it.
_KILL_IN_FINALIZE = """
import os, signal, sys
out, number, after = os.path.abspath(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "after"
real_replace, seen = os.replace, []

def replace(src, dst, *args, **kwargs):
    if os.path.dirname(os.path.abspath(dst)) == out:
        seen.append(dst)
    if len(seen) == number and not after:
        os.killpg(0, signal.SIGKILL)
    real_replace(src, dst, *args, **kwargs)
    if len(seen) == number:
        os.killpg(0, signal.SIGKILL)

os.replace = replace
from factory.cli import app
app(["generate", sys.argv[4], "--out", out])
"""


@pytest.fixture(scope="module")
def shards_done(reference, tmp_path_factory):
    """A run's folder with every shard finished and nothing finalized yet."""
    recipe_path = reference[0]
    recipe = load_recipe(recipe_path)
    folder = tmp_path_factory.mktemp("shards-done") / "run"
    work = folder / "_work"
    work.mkdir(parents=True)
    (work / "run.json").write_text(json.dumps(run_identity(recipe)))
    shards = recipe_shards(recipe)
    _run_pipeline(recipe, work, shards, shards, None, 0)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(("number", "when"), [(1, "before"), (2, "after"), (4, "after")])
def test_kill_9_inside_finalize_then_the_same_command_gives_the_same_bytes(
    reference, shards_done, tmp_path, number, when
):
    recipe_path, reference_dir, _, _ = reference
    folder = tmp_path / "killed"
    shutil.copytree(shards_done, folder)
    process = _start(
        [sys.executable, "-c", _KILL_IN_FINALIZE, str(folder), str(number), when, str(recipe_path)]
    )
    process.wait(timeout=300)
    assert process.returncode == -signal.SIGKILL
    assert (folder / "_work").exists(), "killed before the work folder was removed"
    _resume(recipe_path, folder)
    assert _data_bytes(folder) == _data_bytes(reference_dir)
    assert not (folder / "_work").exists()


def test_a_folder_killed_before_its_marker_is_restarted(tmp_path, write_recipe):
    recipe = load_recipe(write_recipe(MINIMAL.replace("count: 300", "count: 100")))
    folder = tmp_path / "run"
    # What a run killed between creating its work folder and writing run.json leaves behind.
    (folder / "_work" / "pools").mkdir(parents=True)
    (folder / "_work" / "run.json.partial").write_text("{")
    result = generate(recipe, folder)
    assert result.final.profiles == 100
    assert not (folder / "_work").exists()


def test_a_started_run_with_no_finished_shard_is_restarted_for_a_changed_recipe(
    tmp_path, write_recipe
):
    first = load_recipe(write_recipe(MINIMAL))
    second = load_recipe(write_recipe(MINIMAL.replace("count: 300", "count: 100")))
    folder = tmp_path / "run"
    (folder / "_work").mkdir(parents=True)
    (folder / "_work" / "run.json").write_text(json.dumps(run_identity(first)))
    assert generate(second, folder).final.profiles == 100


def test_a_started_run_with_finished_shards_is_still_refused_for_a_changed_recipe(
    tmp_path, write_recipe
):
    first = load_recipe(write_recipe(MINIMAL))
    second = load_recipe(write_recipe(MINIMAL.replace("seed: 3", "seed: 4")))
    folder = tmp_path / "run"
    (folder / "_work" / "shards").mkdir(parents=True)
    (folder / "_work" / "run.json").write_text(json.dumps(run_identity(first)))
    (folder / "_work" / "shards" / "shard-00000.parquet").write_bytes(b"")
    with pytest.raises(DatasetError, match="holds a different run"):
        generate(second, folder)


def test_overwrite_killed_halfway_leaves_a_folder_the_same_command_accepts(
    tmp_path, write_recipe, monkeypatch
):
    recipe = load_recipe(write_recipe(MINIMAL.replace("count: 300", "count: 100")))
    folder = tmp_path / "run"
    generate(recipe, folder)
    real_rmtree = shutil.rmtree

    def killed(path, *args, **kwargs):
        raise RuntimeError("killed")  # stands in for a kill while the old data is deleted

    monkeypatch.setattr(shutil, "rmtree", killed)
    with pytest.raises(RuntimeError, match="killed"):
        generate(recipe, folder, overwrite=True)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert not (folder / "manifest.json").exists()
    result = generate(recipe, folder)
    assert result.final.profiles == 100 and not result.already_complete


def _marked_pools(seed: int, employer: str) -> None:
    """Writes pools for `seed` into the user's pool cache whose every employer is `employer`."""
    columns = {name: [f"{name} {i}" for i in range(POOL_SIZE)] for name in _STRING_POOLS}
    columns["employers"] = [employer] * POOL_SIZE
    path = pool_cache_path("en_US", seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({**columns, "job_pay_premium": [0.0] * POOL_SIZE}).write_parquet(path)


def test_a_run_reads_the_users_pool_cache_instead_of_drawing_its_own(tmp_path, write_recipe):
    # Pools in the user cache that Faker would never draw: every step process must have read
    # them (a run used to draw its own, ~3 s of Faker calls, into its work folder).
    _marked_pools(9017, "Quetzal Holdings")
    recipe = load_recipe(write_recipe(MINIMAL.replace("seed: 3", "seed: 9017")))
    result = generate(recipe, tmp_path / "run")
    assert result.final.kept > 0
    data = pl.read_parquet(tmp_path / "run" / "data" / "*.parquet")
    assert set(data["employer"]) == {"Quetzal Holdings"}
    users = [m[1]["content"] for m in data["messages"].to_list()]
    assert all("Employer: Quetzal Holdings" in text for text in users)


def test_a_run_whose_pool_cache_cannot_be_written_keeps_its_pools_in_its_work_folder(
    tmp_path, monkeypatch
):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.delenv(POOL_CACHE_ENV, raising=False)
    with _pool_cache(tmp_path / "work" / "pools"):
        assert pool_cache_dir() == tmp_path / "work" / "pools"
    assert POOL_CACHE_ENV not in os.environ
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with _pool_cache(tmp_path / "work" / "pools"):
        assert pool_cache_dir() == tmp_path / "cache" / "fin-factory" / "pools"
