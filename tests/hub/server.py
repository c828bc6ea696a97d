"""A Hugging Face Hub-compatible HTTP server on 127.0.0.1 for tests.

It speaks the part of the Hub protocol that `huggingface_hub` and `datasets` use to create repos,
commit (regular files inline, LFS files through the git-LFS batch API, basic transfer), branch,
list and download, so tests drive the real clients against it. State lives in memory (_store.py),
the endpoints in _api.py; this module adds the HTTP plumbing (standard library only:
`http.server.ThreadingHTTPServer` on HTTP/1.1 keep-alive), fault injection, a log of every
request, and read access to the repos for assertions.

Auth follows the Hub: `Authorization: Bearer <token>` with tokens fixed at construction; an
unknown token is a 401 everywhere; reading a private repo without access answers as a missing repo
(401 when anonymous, 404 with a token, `X-Error-Code: RepoNotFound` both ways, which the client
raises as RepositoryNotFoundError); writing needs a write token whose user owns the namespace.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from tests.hub._api import (
    DEFAULT_TOKENS,
    OTHER_TOKEN,
    READ_TOKEN,
    WRITE_TOKEN,
    HubApi,
    Request,
    Response,
    User,
)
from tests.hub._store import Commit, Repo, Store


@dataclass
class Fault:
    """Makes the next `times` requests matching `method` and `path_regex` fail.

    `status` answers with that code (and `headers`); `drop` closes the socket without a response;
    `delay` sleeps first (alone, it only slows the request down). With `after=True` the request is
    carried out first (a commit lands) and only its response is replaced or dropped: the client
    cannot tell whether it succeeded.
    """

    method: str | None
    path_regex: str
    status: int | None = None
    times: int = 1
    drop: bool = False
    delay: float = 0.0
    after: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return re.search(self.path_regex, path) is not None


class HubServer(HubApi):
    """The test Hub. Start it, point HF_ENDPOINT at `endpoint`, and inspect it with `repo()`."""

    def __init__(self, port: int = 0, tokens: dict[str, User] | None = None):
        self._tokens = dict(DEFAULT_TOKENS if tokens is None else tokens)
        self._lock = threading.RLock()
        self.store = Store()
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.unhandled: list[Request] = []  # requests no route matched: a client feature we lack
        self.errors: list[str] = []  # tracebacks of server bugs (never from injected faults)
        self._tickets: dict[str, tuple[str, str, str, int]] = {}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> HubServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        """Forgets every repo, fault, ticket and logged request."""
        with self._lock:
            self.store = Store()
            self.requests.clear()
            self.faults.clear()
            self.unhandled.clear()
            self.errors.clear()
            self._tickets.clear()

    # -- test controls ------------------------------------------------------------------------

    def inject(
        self,
        method: str | None = None,
        path_regex: str = "",
        status: int | None = 500,
        times: int = 1,
        drop: bool = False,
        delay: float = 0.0,
        after: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Makes the next `times` matching requests fail (see `Fault`); returns the rule."""
        fault = Fault(
            method, path_regex, None if drop else status, times, drop, delay, after, headers or {}
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests_to(self, method: str | None = None, path_regex: str = "") -> list[Request]:
        """The logged requests matching a method (any when None) and a path regex."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper())
                and re.search(path_regex, r.path) is not None
            ]

    def repo(self, repo_id: str, repo_type: str = "model") -> RepoView:
        return RepoView(self, repo_type, repo_id)

    def create_repo(
        self, repo_id: str, repo_type: str = "model", private: bool = False
    ) -> RepoView:
        """Creates a repo directly in the server state (no HTTP), for test set-up."""
        with self._lock:
            self.store.create_repo(repo_type, repo_id, private, "system")
        return self.repo(repo_id, repo_type)

    # -- request handling ---------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None


# -- inspection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitView:
    oid: str
    title: str
    message: str
    author: str
    parents: tuple[str, ...]
    files: dict[str, bytes]
    lfs_paths: frozenset[str]


class RepoView:
    """Read access to one repo's state, straight from the server (no HTTP)."""

    def __init__(self, server: HubServer, repo_type: str, repo_id: str):
        self._server, self.repo_type, self.repo_id = server, repo_type, repo_id

    def _repo(self) -> Repo:
        repo = self._server.store.get(self.repo_type, self.repo_id)
        if repo is None:
            raise KeyError(f"no {self.repo_type} repo {self.repo_id} on the test hub")
        return repo

    @property
    def exists(self) -> bool:
        return self._server.store.get(self.repo_type, self.repo_id) is not None

    @property
    def private(self) -> bool:
        return self._repo().private

    @property
    def branches(self) -> dict[str, str]:
        return dict(self._repo().branches)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._repo().tags)

    def head(self, revision: str = "main") -> str:
        with self._server._lock:
            return self._repo().resolve(revision).oid

    def commits(self, revision: str = "main") -> list[CommitView]:
        """First-parent history, newest first (the initial commit last)."""
        with self._server._lock:
            return [self._view(c) for c in self._repo().history(revision)]

    def files(self, revision: str = "main") -> dict[str, bytes]:
        """Every file at the revision, path -> content (`.gitattributes` included)."""
        with self._server._lock:
            return self._view(self._repo().resolve(revision)).files

    def file(self, path: str, revision: str = "main") -> bytes:
        return self.files(revision)[path]

    def lfs_paths(self, revision: str = "main") -> set[str]:
        """The paths stored as LFS pointers at the revision."""
        with self._server._lock:
            return set(self._view(self._repo().resolve(revision)).lfs_paths)

    def _view(self, commit: Commit) -> CommitView:
        store = self._server.store
        return CommitView(
            oid=commit.oid,
            title=commit.title,
            message=commit.message,
            author=commit.author,
            parents=commit.parents,
            files={p: store.read(e) for p, e in commit.tree.items()},
            lfs_paths=frozenset(p for p, e in commit.tree.items() if e.lfs),
        )


# -- the HTTP handler ---------------------------------------------------------------------------


def _handler_for(server: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        hub = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect
    hub: HubServer

    def log_message(self, format: str, *args) -> None:
        pass  # the request log is HubServer.requests

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        split = urlsplit(self.path)
        req = Request(
            method=self.command,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
        )
        with self.hub._lock:
            self.hub.requests.append(req)
        fault = self.hub._take_fault(req.method, req.path)
        if fault is not None:
            req.injected = True
            time.sleep(fault.delay)
        if fault is not None and not fault.after and (fault.drop or fault.status):
            response = None if fault.drop else _fault_response(fault)
        else:
            response = self.hub.dispatch(req, split.path)
            if fault is not None and fault.after and (fault.drop or fault.status):
                response = None if fault.drop else _fault_response(fault)
        if response is None:
            self._drop()
            return
        req.status = response.status
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle


def _fault_response(fault: Fault) -> Response:
    assert fault.status is not None
    message = f"test hub: injected {fault.status}"
    return Response(
        fault.status,
        json.dumps({"error": message}).encode(),
        {"Content-Type": "application/json", "X-Error-Message": message, **fault.headers},
    )


__all__ = [
    "OTHER_TOKEN",
    "READ_TOKEN",
    "WRITE_TOKEN",
    "CommitView",
    "Fault",
    "HubServer",
    "RepoView",
    "Request",
    "User",
]
