"""Logs every shard synthesized, with the process that synthesized it, to the file named by
FIN_FACTORY_TEST_SYNTHESIS_LOG.

Importing it with that variable set wraps `factory.synth.labelled_shards` (which
`labelled_shard` calls) in the importing process; without it, importing changes nothing. A
run's step processes start from a fork server, a fresh interpreter: a test puts this module in
the fork server's preload list, so that every step inherits the wrapper (see
tests/pipeline/test_run.py).
"""

from __future__ import annotations

import os

from factory import synth

LOG_ENV = "FIN_FACTORY_TEST_SYNTHESIS_LOG"

_synthesize = synth.labelled_shards


def _logged(recipe, shards):  # type: ignore[no-untyped-def]
    # One short append per call: the lines of concurrent processes do not interleave.
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:
        log.write("".join(f"{os.getpid()} {s.index} {s.offset} {s.size}\n" for s in shards))
    return _synthesize(recipe, shards)


if LOG_ENV in os.environ:
    synth.labelled_shards = _logged


def read_log(path: str | os.PathLike[str]) -> list[tuple[int, int, int, int]]:
    """(pid, shard index, offset, size) of every shard synthesized, in order."""
    with open(path, encoding="utf-8") as log:
        return [tuple(int(v) for v in line.split()) for line in log]  # type: ignore[misc]
