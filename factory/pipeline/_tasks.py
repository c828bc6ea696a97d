"""Where finalize's per-shard and per-partition work runs: here, or as Ray tasks.

Both run the same functions on the same arguments and return their results in order; the
functions write their outputs to the run's work folder, which every Ray node of a run already
shares (its step processes write the shard files there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

#: Called with (items done, items in all).
ItemProgress = Callable[[int, int], None]


class LocalTasks:
    """Runs every item in this process, one after another."""

    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[tuple[Any, ...]],
        progress: ItemProgress | None = None,
    ) -> list[Any]:
        results = []
        if progress:
            progress(0, len(items))
        for done, args in enumerate(items, 1):
            results.append(fn(*args))
            if progress:
                progress(done, len(items))
        return results


class RayTasks:
    """Runs every item as a Ray task (one CPU each) on the connected cluster."""

    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[tuple[Any, ...]],
        progress: ItemProgress | None = None,
    ) -> list[Any]:
        from factory._distilabel import import_ray

        ray = import_ray()
        remote = ray.remote(num_cpus=1, max_retries=2)(fn)
        refs = [remote.remote(*args) for args in items]
        pending = list(refs)
        if progress:
            progress(0, len(refs))
        while pending:
            _, pending = ray.wait(pending, num_returns=1)
            if progress:
                progress(len(refs) - len(pending), len(refs))
        return list(ray.get(refs))


Tasks = LocalTasks | RayTasks
