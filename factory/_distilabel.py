"""How fin-factory runs distilabel 1.5.3 (pinned): process start method and per-batch overhead.

distilabel routes every batch through the main process and, per batch, (1) hashes `str()` of
the whole batch data with sha1, (2) writes every step's batch data to a JSON cache, and (3)
re-serializes the batch manager with its buffered data to JSON. For its own resume feature that
is the price; we run with use_cache=False and resume from our shard files, so for us it is pure
overhead, proportional to the rows moved (measured: it dominated a 30,000-row lending run).
`ShardPipeline` turns (2) and (3) off and `_cheap_batch_hash` replaces (1): the hash only names
cache files, which we never write.

Importing this module also makes the fork server the multiprocessing start method for
distilabel's step processes (see below). (The warning distilabel's own models raise at import
under current pydantic is silenced by the package itself, factory/__init__.py.)

`RayShardPipeline` is the same pipeline on distilabel's RayPipeline, one Ray actor per step
replica, and `ray_cluster()` connects it to a cluster (or starts a local one) for one run. Under
Ray, the JSON caches and the capped polling sleeps matter as much (the main process still routes
every batch); the fork server does not (Ray starts its own worker processes).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import ForkServerContext
from pathlib import Path
from types import ModuleType
from typing import Any

from factory.errors import FactoryError, UsageError

# distilabel runs each step in a child process. Forking a parent whose polars thread pool is
# already running deadlocks the child on its first polars call (measured: the second run in one
# process hung). A fork server is started fresh and never runs polars itself.
if multiprocessing.get_start_method(allow_none=True) != "forkserver":
    multiprocessing.set_start_method("forkserver", force=True)
# The fork server imports these once; every step process then starts with them loaded instead
# of importing distilabel, polars and the domains itself (seconds each on a 2-core machine).
multiprocessing.set_forkserver_preload(
    ["factory._forkserver_guard", "factory.pipeline.steps", "distilabel.pipeline.local"]
)

import distilabel  # noqa: E402
import distilabel.pipeline.base as _base  # noqa: E402
import distilabel.pipeline.local as _local  # noqa: E402
from distilabel.pipeline import Pipeline, RayPipeline  # noqa: E402
from distilabel.pipeline.batch import _Batch  # noqa: E402

#: Every private distilabel name this module rebinds, overrides or relies on, and its shape:
#: the parameters a function must take, "class", "sleep" (a module-like object with sleep()), or
#: the fields a dataclass must have. Assigning an attribute never fails, so after an upgrade
#: a patch of a renamed name would silently do nothing; this table is checked at import instead.
INTERNALS: tuple[tuple[str, str, Any], ...] = (
    ("distilabel.pipeline.batch", "_Batch._update_data_hash", ("self",)),
    ("distilabel.pipeline.batch", "_Batch", ("step_name", "seq_no", "data", "data_hash")),
    ("distilabel.pipeline.batch_manager", "_BatchManager.register_batch",
     ("self", "batch", "steps_data_path")),
    ("distilabel.pipeline.base", "BasePipeline._register_batch", ("self", "batch")),
    ("distilabel.pipeline.base", "BasePipeline._cache", ("self",)),
    ("distilabel.pipeline.base", "time", "sleep"),
    ("distilabel.pipeline.local", "_NoDaemonProcess", "class"),
    ("distilabel.pipeline.local", "_NoDaemonContext", "class"),
)  # fmt: skip


def internals_problem() -> str | None:
    """The first of `INTERNALS` that is missing or has another shape, as one line naming
    distilabel's version and the name; None when every one is as expected."""
    import importlib

    for module_name, dotted, shape in INTERNALS:
        value: Any = importlib.import_module(module_name)
        try:
            for part in dotted.split("."):
                value = getattr(value, part)
        except AttributeError:
            return _problem(f"{module_name}.{dotted} is missing")
        mismatch = _shape_mismatch(value, shape)
        if mismatch:
            return _problem(f"{module_name}.{dotted} {mismatch}")
    return None


def _shape_mismatch(value: Any, shape: Any) -> str | None:
    """How `value` differs from `shape` (see INTERNALS), or None."""
    import dataclasses
    import inspect

    if shape == "class":
        return None if isinstance(value, type) else "is no longer a class"
    if shape == "sleep":
        return None if callable(getattr(value, "sleep", None)) else "has no sleep()"
    if isinstance(value, type):  # a dataclass and the fields we read or set
        fields = (
            {f.name for f in dataclasses.fields(value)}
            if dataclasses.is_dataclass(value)
            else set()
        )
        missing = [name for name in shape if name not in fields]
        return f"has no field {missing[0]!r}" if missing else None
    if not callable(value):
        return "is not callable"
    parameters = list(inspect.signature(value).parameters.values())
    names = tuple(p.name for p in parameters)
    # The expected parameters first, and nothing after them that a caller must pass.
    extra_required = [
        p for p in parameters[len(shape) :]
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]  # fmt: skip
    if names[: len(shape)] != shape or extra_required:
        return f"takes ({', '.join(names)}), expected ({', '.join(shape)})"
    return None


def _problem(what: str) -> str:
    return (
        f"distilabel {distilabel.__version__} does not match fin-factory's patches for "
        f"distilabel 1.5.3: {what}; install distilabel==1.5.3"
    )


def check_internals() -> None:
    """Raises FactoryError (one line) when distilabel's private names are not as patched."""
    problem = internals_problem()
    if problem:
        raise FactoryError(problem)


check_internals()


class _NoDaemonForkServerContext(ForkServerContext):
    Process = _local._NoDaemonProcess


# distilabel builds its pool's context class from the default start method when its module is
# first imported, which may have happened before the line above ran (import order is not ours
# to control); its pool looks the class up by name at run time, so rebinding it is enough.
_local._NoDaemonContext = _NoDaemonForkServerContext


def start_fork_server() -> None:
    """Starts the fork server now, if step processes start from one, instead of when the
    pipeline launches its first process.

    The fork server's preload (distilabel, polars, the domains) keeps one core busy for about two
    seconds; started ahead, it loads while the caller prepares the run on the other core.
    """
    if multiprocessing.get_start_method(allow_none=True) == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def freeze_step_heap() -> None:
    """Puts what a loaded step process holds out of the garbage collector's reach.

    Call it at the end of a step's load(). A step process inherits the modules its fork server
    preloaded and then loads the recipe and the teacher: hundreds of thousands of objects that
    live as long as the process. Without this, every full collection rescans them, and a step
    that keeps a batch of rows alive triggers one every few thousand rows (measured: a quarter
    of the template teacher's CPU time on 100,000 lending rows). What the step allocates per
    batch is collected as before. Done per step rather than once in the fork server: the same
    gain for our steps (and the same memory), without changing how any other pipeline run in
    this interpreter collects garbage.
    """
    gc.freeze()


def _cheap_batch_hash(self: _Batch) -> None:
    # Identifies the batch without stringifying its rows (distilabel: sha1 of str(data)).
    self.data_hash = f"{self.step_name}-{self.seq_no}-{len(self.data[0]) if self.data else 0}"


_Batch._update_data_hash = _cheap_batch_hash


class _PollingClock:
    """distilabel's pipeline module as it sees `time`, with its polling sleeps capped.

    It waits for the step processes to load by sleeping 2.5 s between checks, and for them to
    finish by sleeping 0.5 s: with preloaded steps that load in a fraction of a second, that was
    two idle seconds of every run (measured: both cores idle). Only the sleeps change.
    """

    def __init__(self, clock: Any, cap: float) -> None:
        self._clock = clock
        self._cap = cap

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(min(seconds, self._cap))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clock, name)


_base.time = _PollingClock(_base.time, cap=0.05)


class _WithoutStepCaches:
    """Mixin for distilabel pipelines: no per-batch JSON caches (see the module doc)."""

    _batch_manager: Any

    def _register_batch(self, batch: Any) -> None:
        assert self._batch_manager, "Batch manager is not set"
        self._batch_manager.register_batch(batch, steps_data_path=None)

    def _cache(self) -> None:
        # Our checkpoint is the shard file each finished shard writes; nothing to save here.
        return


class ShardPipeline(_WithoutStepCaches, Pipeline):
    """distilabel's local Pipeline without its per-batch JSON caches (see the module doc)."""


class RayShardPipeline(_WithoutStepCaches, RayPipeline):
    """distilabel's RayPipeline without its per-batch JSON caches.

    Run it inside `ray_cluster()`: RayPipeline then finds Ray initialised and uses that
    connection instead of opening its own.
    """


#: Environment variables a Ray run passes to its workers, which do not inherit the caller's
#: environment on a cluster that was already running.
RAY_ENV = ("DISTILABEL_LOG_LEVEL",)
#: The import warning silenced above, for Ray's worker processes (which import distilabel to
#: unpickle batches and print to our terminal). Python reads PYTHONWARNINGS before site-packages
#: is on its path, so the filter names the message: a pydantic category would not import.
_RAY_WORKER_WARNINGS = "ignore:The 'default' attribute with value None"


def import_ray() -> ModuleType:
    """The `ray` module, or a UsageError saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise UsageError(
            "execution 'ray' needs Ray, which is not installed: install fin-factory[ray] "
            "(pip install 'fin-factory[ray]')"
        ) from err
    return ray


@contextmanager
def ray_cluster(env: dict[str, str]) -> Iterator[list[int]]:
    """Connects to the Ray cluster at RAY_ADDRESS, or starts a local one, for one run.

    Yields the number of GPUs of each node. A cluster it started is stopped on exit, its worker
    processes included; a connection it opened is closed, which ends the run's actors on that
    cluster. A Ray session the caller had already opened is used and left open; its workers
    then get only the caller's environment.

    Args:
        env: environment variables for every worker of the run, on top of `RAY_ENV`.
    """
    ray = import_ray()
    opened = not ray.is_initialized()
    ray_processes: set[int] = set()
    if opened:
        address = os.environ.get("RAY_ADDRESS")
        worker_env = {k: os.environ[k] for k in RAY_ENV if k in os.environ} | env
        warning_filters = [os.environ.get("PYTHONWARNINGS"), _RAY_WORKER_WARNINGS]
        worker_env["PYTHONWARNINGS"] = ",".join(w for w in warning_filters if w)
        # Without an address, ray.init joins whatever cluster last ran on this machine (it reads
        # /tmp/ray/ray_current_cluster); "local" starts one of our own.
        own = {} if address else {"include_dashboard": False}
        before = _descendants(os.getpid())
        ray.init(
            address or "local",
            runtime_env={"env_vars": worker_env},
            logging_level="WARNING",
            **own,
        )
        # What ray.init started: a local cluster's GCS, raylet and agents (nothing when it
        # connects). Not our other children, such as multiprocessing's resource tracker.
        ray_processes = _descendants(os.getpid()) - before
    try:
        yield [int(node["Resources"].get("GPU", 0)) for node in ray.nodes() if node["Alive"]]
    finally:
        if opened:
            # The raylet's workers too: ray.shutdown stops the raylet and returns while they
            # still exit (seconds of interpreter teardown each, measured).
            started = ray_processes.union(*(_descendants(pid) for pid in ray_processes))
            ray.shutdown()
            _wait_for_exit(started, seconds=_RAY_EXIT_SECONDS)


#: How long a stopped local cluster's processes get to exit before a run stops waiting for them.
_RAY_EXIT_SECONDS = 30.0


def _descendants(pid: int) -> set[int]:
    """The processes below `pid` (none where /proc lists no children, as on macOS)."""
    found: set[int] = set()
    stack = [pid]
    while stack:
        for task in Path(f"/proc/{stack.pop()}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found.update(children)
            stack.extend(children)
    return found


def _wait_for_exit(pids: set[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
