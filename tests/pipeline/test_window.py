"""The generator step's window: a run hands on only a few shards ahead of the verify step.

Without it, a teacher faster than verify piles its generations up in distilabel's queues for the
whole run (8.3 GiB at 10 million rows, measured); benchmarks/bench_generate.py measures the
memory, these tests the rule and that it never waits for a shard that will not come.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from distilabel.constants import SIGINT_HANDLER_CALLED_ENV_NAME

import factory._distilabel  # noqa: F401  (distilabel's start method, before any step exists)
from factory.pipeline.shard_files import failed_path, shard_path, verified_path
from factory.pipeline.steps import SynthesizeShards
from factory.recipe import parse_recipe
from tests.conftest import MINIMAL
from tests.pipeline.failing_verify import FAIL_ENV

ROOT = Path(__file__).resolve().parents[2]


def _generator(work: Path, shards: int, window: int | None) -> SynthesizeShards:
    recipe = parse_recipe(yaml.safe_load(MINIMAL), source="<test>").model_dump(mode="json")
    specs = [{"index": i, "offset": 10 * i, "size": 10} for i in range(shards)]
    return SynthesizeShards(
        recipe=recipe, shards=specs, work_dir=str(work), window=window, batch_size=10
    )


class _Consumer:
    """Takes the generator's shards on a thread, as distilabel's step process would."""

    def __init__(self, step: SynthesizeShards) -> None:
        self.shards: list[int] = []
        self.grew = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(step,), daemon=True)
        self._thread.start()

    def _run(self, step: SynthesizeShards) -> None:
        for rows, _ in step.process():
            self.shards.append(rows[0]["_shard"])
            self.grew.set()

    def wait_for(self, count: int, seconds: float = 10.0) -> bool:
        while len(self.shards) < count:
            self.grew.clear()
            if len(self.shards) < count and not self.grew.wait(seconds):
                return False
        return True


def _settle(where, work: Path, index: int) -> None:  # type: ignore[no-untyped-def]
    path = where(work, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def test_the_generator_holds_the_next_shard_until_verify_settles_one(tmp_path):
    consumer = _Consumer(_generator(tmp_path, shards=6, window=2))
    assert consumer.wait_for(2)
    # Two handed on, none settled: the third waits (a wrong rule would hand it on at once).
    assert not consumer.wait_for(3, seconds=0.5)
    assert consumer.shards == [0, 1]
    _settle(shard_path, tmp_path, 1)  # out of order, as two verify replicas finish
    assert consumer.wait_for(3)
    assert not consumer.wait_for(4, seconds=0.3)
    # A shard left for the judge, or one verify failed on, is settled too.
    _settle(verified_path, tmp_path, 0)
    assert consumer.wait_for(4)
    _settle(failed_path, tmp_path, 2)
    assert consumer.wait_for(5)
    for index in (3, 4):
        _settle(shard_path, tmp_path, index)
    assert consumer.wait_for(6)
    assert consumer.shards == list(range(6))


def test_ctrl_c_ends_the_wait(tmp_path, monkeypatch):
    # distilabel's step processes mark a Ctrl-C in their environment and stop at the next
    # batch request; a generator stuck in its wait would never get there.
    monkeypatch.setenv(SIGINT_HANDLER_CALLED_ENV_NAME, "1")
    consumer = _Consumer(_generator(tmp_path, shards=5, window=1))
    assert consumer.wait_for(5)


def test_without_a_window_every_shard_goes_at_once(tmp_path):
    consumer = _Consumer(_generator(tmp_path, shards=5, window=None))
    assert consumer.wait_for(5)


#: The CLI with `tests.pipeline.failing_verify` in the fork server's preload: every step
#: process starts with verification failing.
_FAILING_CLI = """
import multiprocessing, sys
from multiprocessing import forkserver
import factory._distilabel  # sets the start method and the fork server's preload list
preload = forkserver._forkserver._preload_modules  # private: the run's own list, kept as it is
multiprocessing.set_forkserver_preload(["tests.pipeline.failing_verify", *preload])
from factory.cli import app
app(sys.argv[1:])
"""


@pytest.mark.slow
def test_a_run_whose_every_shard_fails_verification_ends_instead_of_waiting(tmp_path):
    # Twelve shards against a window of six: had failed shards not counted as settled, the
    # generator would wait for them forever after the sixth.
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(MINIMAL.replace("count: 300", "count: 1200"))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", _FAILING_CLI, "generate", str(recipe), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, FAIL_ENV: "1"},
    )
    assert done.returncode != 0
    error = " ".join(done.stderr.split())
    assert "stopped before writing shard(s) 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more" in error, error
    assert "(verification failed on shard 0: RuntimeError: verification failed on purpose" in error
    assert not (out / "manifest.json").exists()
