"""kill -9 of `fin-factory serve` under load, then a restart on the same audit log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from factory.serve.audit import records, verify_chain
from factory.serve.backends import free_port
from tests.serve.conftest import Oracle, make_recipe, sample_cases
from tests.serve.fake_backend import fake_backend
from tests.serve.test_app import _labelled

ROOT = Path(__file__).resolve().parents[2]


def _start(recipe_path: Path, backend_url: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "factory.cli", "serve", str(recipe_path),
               "--model-url", backend_url, "--port", str(port)]  # fmt: skip
    with open(log, "ab") as sink:
        process = subprocess.Popen(
            command, cwd=recipe_path.parent, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


def test_kill_9_under_load_leaves_a_whole_chain_with_every_answer_recorded(tmp_path):
    # credit_report's qa task: the quickest domain to start (one step, small value pools).
    recipe = make_recipe("credit_report", task="qa")
    db = tmp_path / "audit.db"
    data = recipe.model_dump(mode="json")
    data["serve"]["audit_db"] = str(db)
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(json.dumps(data))
    cases = sample_cases(recipe, 30)
    oracle = Oracle(recipe)
    oracle.learn(_labelled(recipe, cases))
    port = free_port()
    log = tmp_path / "serve.log"
    answered: list[str] = []
    lock = threading.Lock()
    with fake_backend(oracle) as backend:
        service = _start(recipe_path, backend.url, port, log)
        url = f"http://127.0.0.1:{port}/v1/decide/credit_report"

        def client(worker: int) -> None:
            with httpx.Client(timeout=30) as http:
                for i in range(1000):
                    try:
                        reply = http.post(url, json=cases[(worker + i) % len(cases)])
                    except httpx.HTTPError:
                        return  # the service is gone
                    assert reply.status_code == 200, reply.text
                    with lock:
                        answered.append(reply.json()["request_id"])

        def killer() -> None:
            while len(answered) < 150:
                time.sleep(0.01)
            os.killpg(service.pid, signal.SIGKILL)

        threading.Thread(target=killer, daemon=True).start()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(client, range(16)))
        service.wait(timeout=30)
        assert service.returncode == -signal.SIGKILL

        report = verify_chain(db)
        assert report.ok, report.problem
        logged = [r.request_id for r in records(db)]
        assert set(answered) <= set(logged)  # no answer without its record
        assert report.records == len(logged) >= len(answered) >= 150

        restarted = _start(recipe_path, backend.url, port, log)
        try:
            after = [httpx.post(url, json=cases[i], timeout=30) for i in range(5)]
        finally:
            os.killpg(restarted.pid, signal.SIGTERM)
            restarted.wait(timeout=30)
    assert all(r.status_code == 200 for r in after)
    final = verify_chain(db)
    assert final.ok and final.records == report.records + 5
