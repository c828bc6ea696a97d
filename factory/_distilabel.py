"""How fin-factory runs distilabel 1.5.3 (pinned): process start method and per-batch overhead.

distilabel routes every batch through the main process and, per batch, (1) hashes `str()` of
the whole batch data with sha1, (2) writes every step's batch data to a JSON cache, and (3)
re-serializes the batch manager with its buffered data to JSON. For its own resume feature that
is the price; we run with use_cache=False and resume from our shard files, so for us it is pure
overhead, proportional to the rows moved (measured: it dominated a 30,000-row lending run).
`ShardPipeline` turns (2) and (3) off and `_cheap_batch_hash` replaces (1): the hash only names
cache files, which we never write.

Importing this module also makes the fork server the multiprocessing start method for
distilabel's step processes (see below), and silences a warning distilabel's own models raise at
import under current pydantic.
"""

from __future__ import annotations

import multiprocessing
import warnings
from multiprocessing.context import ForkServerContext
from typing import Any

from pydantic.warnings import UnsupportedFieldAttributeWarning

# distilabel 1.5.3 declares Field(default=None) inside Annotated unions, which current pydantic
# warns about at import; the warning is about distilabel's models, not ours, and says nothing a
# user can act on.
warnings.filterwarnings("ignore", category=UnsupportedFieldAttributeWarning)

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

import distilabel.pipeline.base as _base  # noqa: E402
import distilabel.pipeline.local as _local  # noqa: E402
from distilabel.pipeline import Pipeline  # noqa: E402
from distilabel.pipeline.batch import _Batch  # noqa: E402


class _NoDaemonForkServerContext(ForkServerContext):
    Process = _local._NoDaemonProcess


# distilabel builds its pool's context class from the default start method when its module is
# first imported, which may have happened before the line above ran (import order is not ours
# to control); its pool looks the class up by name at run time, so rebinding it is enough.
_local._NoDaemonContext = _NoDaemonForkServerContext


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


class ShardPipeline(Pipeline):
    """distilabel's local Pipeline without its per-batch JSON caches (see the module doc)."""

    def _register_batch(self, batch: Any) -> None:
        assert self._batch_manager, "Batch manager is not set"
        self._batch_manager.register_batch(batch, steps_data_path=None)

    def _cache(self) -> None:
        # Our checkpoint is the shard file each finished shard writes; nothing to save here.
        return
