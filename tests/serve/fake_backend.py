"""A deterministic OpenAI-compatible server for the serving tests, with logprobs.

Like tests/fake_openai.py, but `respond(body)` returns a `Scripted` answer whose decision label
gets the probability asked for (every other token probability 1), and GET /v1/models answers,
so the service can discover the served model's name and check its health.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Scripted:
    text: str
    decision_probability: float = 1.0
    status: int = 200
    delay_s: float = 0.0


Respond = Callable[[dict[str, Any]], Scripted]


def tokens(text: str, probability: float) -> list[dict[str, Any]]:
    """The text cut into tokens; the decision label is one token with `probability`."""
    start = text.find("<decision>")
    end = text.find("</decision>")
    pieces: list[tuple[str, float]] = []
    if 0 <= start < end:
        start += len("<decision>")
        pieces = [(text[:start], 0.0), (text[start:end], math.log(probability)), (text[end:], 0.0)]
    else:
        pieces = [(text, 0.0)]
    out = []
    for piece, logprob in pieces:
        if not piece:
            continue
        out.append({"token": piece, "logprob": logprob, "bytes": list(piece.encode())})
    return out


class FakeBackend:
    def __init__(self, respond: Respond, name: str = "fake-model") -> None:
        self.respond = respond
        self.name = name
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.request_queue_size = 128
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": fake.name, "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append(body)
                reply = fake.respond(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": "scripted failure"}})
                    return
                choice: dict[str, Any] = {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": reply.text},
                }
                if body.get("logprobs"):
                    choice["logprobs"] = {"content": tokens(reply.text, reply.decision_probability)}
                self._send(
                    200,
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model"),
                        "choices": [choice],
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
                    return

        return Handler


@contextmanager
def fake_backend(respond: Respond, name: str = "fake-model") -> Iterator[FakeBackend]:
    server = FakeBackend(respond, name)
    thread = threading.Thread(target=server._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._server.shutdown()
        server._server.server_close()
