"""Peak memory of a process and all its descendants, sampled from /proc.

distilabel runs each step in its own process, so the peak of one process says little: this
samples the sum over the whole process tree every `interval` seconds, both as RSS (which counts
a page shared by several processes once per process: the fork server's preloaded modules are
shared by every step) and as PSS (which splits a shared page among its sharers: the memory the
tree really holds).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def tree_memory_bytes(pid: int) -> tuple[int, int]:
    """Current (RSS, PSS) of `pid` plus every descendant, in bytes."""
    rss = pss = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            continue
        stack.extend(_children(current))
    return rss, pss


class PeakTreeRss:
    """Context manager sampling the peak RSS of this process's tree (or of `pid`'s)."""

    def __init__(self, pid: int | None = None, interval: float = 0.1) -> None:
        self.pid = pid or os.getpid()
        self.interval = interval
        self.peak = 0
        self.peak_pss = 0
        #: the label samples are filed under (set it as the work moves on), and the peak PSS
        #: per label
        self.phase = "run"
        self.phase_peaks_pss: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self) -> None:
        rss, pss = tree_memory_bytes(self.pid)
        self.peak = max(self.peak, rss)
        self.peak_pss = max(self.peak_pss, pss)
        phase = self.phase
        self.phase_peaks_pss[phase] = max(self.phase_peaks_pss.get(phase, 0), pss)

    def __enter__(self) -> PeakTreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mib(self) -> float:
        return self.peak / 2**20

    @property
    def peak_pss_mib(self) -> float:
        return self.peak_pss / 2**20
