"""A deterministic OpenAI-compatible chat-completions server on loopback, for tests.

It speaks the wire format the `openai` client library expects (POST /v1/chat/completions), and
answers each request with whatever `respond(request, attempt)` returns, where `attempt` counts
the requests seen so far with the same messages (0 for the first). A reply is one of:

- `Reply(text)`: a normal completion with that content;
- `Reply(status=500)`: an HTTP error;
- `Reply(delay_s=...)`: the answer only after that many seconds (a timeout, for a short client
  timeout);
- `Reply(text=None)`: a completion whose message has no content.
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


@dataclass(frozen=True)
class Reply:
    text: str | None = ""
    status: int = 200
    delay_s: float = 0.0


Responder = Callable[[dict[str, Any], int], Reply]


class FakeServer:
    """The running server: its base URL, the requests it saw."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
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

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
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
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(fake.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": reply.text},
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

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


@contextmanager
def fake_openai_server(respond: Responder) -> Iterator[FakeServer]:
    server = FakeServer(respond)
    thread = threading.Thread(target=server._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._server.shutdown()
        server._server.server_close()
