"""Loaded only by the multiprocessing fork server (it is in its preload list).

The fork server is the parent of every distilabel step process and of distilabel's manager
process. If the fin-factory process that started it dies without cleaning up (kill -9, OOM
killer), those processes would wait on their queues forever, holding gigabytes. This thread
notices that the fork server has been orphaned, kills every process below it (the steps and
what they started, such as a vLLM engine-core process) and exits, so that a killed run leaves
nothing behind and the same command can resume at once.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

_POLL_SECONDS = 0.5


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _descendants() -> list[int]:
    """The whole tree below this process, read before anything is killed (a killed process's
    children would be re-parented out of reach)."""
    found, stack = [], _children(os.getpid())
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(_children(pid))
    return found


def _watch(parent: int) -> None:
    stop = threading.Event()
    while not stop.wait(_POLL_SECONDS):
        if os.getppid() != parent:
            for pid in _descendants():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
            os._exit(0)


if Path("/proc/self/task").exists():
    threading.Thread(target=_watch, args=(os.getppid(),), name="orphan-guard", daemon=True).start()
