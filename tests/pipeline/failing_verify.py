"""Makes every shard's verification fail, with FIN_FACTORY_TEST_FAILING_VERIFY set.

Importing it with that variable set replaces `factory.pipeline.steps.verify_shard` in the
importing process; without it, importing changes nothing. A test puts this module in the fork
server's preload list, so that every step process inherits it (see tests/pipeline/test_window.py).
"""

from __future__ import annotations

import os

from factory.pipeline import steps

FAIL_ENV = "FIN_FACTORY_TEST_FAILING_VERIFY"


def _fail(*args: object, **kwargs: object) -> None:
    raise RuntimeError("verification failed on purpose (tests/pipeline/failing_verify.py)")


if FAIL_ENV in os.environ:
    steps.verify_shard = _fail  # type: ignore[assignment]
