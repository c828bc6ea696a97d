"""Shared fixtures. Tests never reach the network: models and the Hub are built locally."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

# distilabel logs every batch at INFO; tests read results, not logs.
os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")
# vLLM on CPU (the tests' tiny models): 1 GiB of KV cache is plenty, and its INFO lines are noise.
# Set before any step process starts, since they inherit this environment.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
# Tests never reach the Hub: a model id that is not on disk fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The Hub in tests is tests/hub/server.py on 127.0.0.1 (fixtures `hub_server`, `hub`). The Hub
# clients read these variables once, at import, into module constants, so they are set here,
# before anything imports huggingface_hub or datasets: in this session and in the subprocesses it
# starts, the only Hub is the test one (on a port chosen now, which the session server binds), its
# uploads take the plain LFS path (no Xet), and every HF cache or token file lives in a temporary
# HF_HOME, never ~/.cache. The `hub` fixture turns the clients online for one test at a time.
os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{_free_loopback_port()}"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_UPDATE_DOWNLOAD_COUNTS"] = "0"  # datasets would HEAD an S3 URL per load when online
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="fin-factory-hf-home-")
atexit.register(shutil.rmtree, os.environ["HF_HOME"], ignore_errors=True)
# The Faker value pools' cache (factory.domains._pools) lives in a session folder, never in the
# developer's ~/.cache: tests see a cold cache first, as a new user does.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="fin-factory-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)
os.environ.pop("FIN_FACTORY_POOL_CACHE", None)
# No token or cache of the developer's own reaches a test.
for _name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE"):
    os.environ.pop(_name, None)
for _name in ("HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE", "HF_XET_CACHE", "HF_ASSETS_CACHE"):
    os.environ.pop(_name, None)

pytest_plugins = ("tests.hub.plugin",)


@pytest.fixture
def write_recipe(tmp_path):
    """Writes a recipe file from text and returns its path."""

    def write(text: str, name: str = "recipe.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


MINIMAL = """\
name: tiny
domain: lending
description: a tiny test recipe
profiles:
  count: 300
  seed: 3
  shard_size: 100
"""


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Llama whose tokenizer learned from lending prompts and template-teacher answers
    (so a prompt is a few hundred tokens, not thousands)."""
    from tests.tiny import build_lending_model

    return build_lending_model(tmp_path_factory.mktemp("tiny-llama"))
