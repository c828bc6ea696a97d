"""A deterministic OpenAI-compatible chat-completions server on loopback, for tests.

It speaks the wire format the `openai` client library expects (POST /v1/chat/completions), and
answers each request with whatever `respond(request, attempt)` returns, where `attempt` counts
the requests seen so far with the same messages (0 for the first). A reply is one of:

- `Reply(text)`: a normal completion with that content;
- `Reply(status=500)`: an HTTP error;
- `Reply(delay_s=...)`: the answer only after that many seconds (a timeout, for a short client
  timeout);
- `Reply(text=None)`: a completion whose message has no content.

The one-token request fin-factory sends to check a server before a run (teachers'
`PROBE_MESSAGE`) is answered by the server itself and recorded in `probes`, not `requests`.
A server made with `models` serves only those (404 for others, as vLLM does, and lists them at
GET /v1/models); one made with `api_key` answers 401 to any other key.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from factory.teachers.openai_server import PROBE_MESSAGE


@dataclass(frozen=True)
class Reply:
    text: str | None = ""
    status: int = 200
    delay_s: float = 0.0


Responder = Callable[[dict[str, Any], int], Reply]


class FakeServer:
    """The running server: its base URL, the requests it saw."""

    def __init__(
        self,
        respond: Responder,
        models: tuple[str, ...] | None = None,
        api_key: str | None = None,
    ) -> None:
        self.respond = respond
        self.models = models
        self.api_key = api_key
        self.probes: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _refused(self) -> bool:
                """Answers 404 for a path it does not serve and 401 for a wrong key."""
                if self.path.split("?")[0] not in ("/v1/chat/completions", "/v1/models"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return True
                if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._send(401, {"error": {"message": "invalid api key"}})
                    return True
                return False

            def do_GET(self) -> None:
                if self._refused():
                    return
                served = fake.models or ()
                self._send(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in served
                ]})  # fmt: skip

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self._refused():
                    return
                if fake.models is not None and body["model"] not in fake.models:
                    message = f"The model `{body['model']}` does not exist."
                    self._send(404, {"error": {"message": message}})
                    return
                if body["messages"] == [{"role": "user", "content": PROBE_MESSAGE}]:
                    fake.probes.append(body)
                    self._send(200, _completion(body, "OK", "probe"))
                    return
                key = json.dumps(body["messages"], sort_keys=True)
                with fake._lock:
                    attempt = fake._seen[key]
                    fake._seen[key] += 1
                    fake.requests.append(body)
                    fake.auth_headers.append(self.headers.get("Authorization"))
                reply = fake.respond(body, attempt)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": "scripted failure"}})
                    return
                self._send(200, _completion(body, reply.text, str(len(fake.requests))))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (a scripted timeout)

        return Handler

    def attempts(self) -> Counter[str]:
        """Requests per distinct message list."""
        return Counter(self._seen)


def _completion(request: dict[str, Any], text: str | None, number: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": 0,
        "model": request["model"],
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@contextmanager
def fake_openai_server(
    respond: Responder, models: tuple[str, ...] | None = None, api_key: str | None = None
) -> Iterator[FakeServer]:
    server = FakeServer(respond, models=models, api_key=api_key)
    thread = threading.Thread(target=server._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._server.shutdown()
        server._server.server_close()
