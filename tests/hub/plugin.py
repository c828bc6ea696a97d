"""Pytest fixtures for the test Hub, loaded by tests/conftest.py for the whole suite.

`hub_server` (session) runs one `HubServer` on the port tests/conftest.py put in HF_ENDPOINT.
`hub` (per test) empties it, clears its faults and log, and turns the Hub clients online for the
test, their caches in the test's tmp dir, with HF_TOKEN set to `hub.token` (pass `token=False`, or
delenv HF_TOKEN, to act anonymously). At teardown it fails the test if the server hit a bug or got
a request it has no route for, so a client feature the server lacks shows up at once:

    def test_publish(hub):
        HfApi(token=hub.token).create_repo("fin-org/x", repo_type="dataset")
        hub.inject(method="POST", path_regex=r"/commit/", status=500)
        ...
        assert hub.repo("fin-org/x", "dataset").files()["README.md"].startswith(b"---")
        subprocess.run([sys.executable, "-m", "factory", ...], env=hub.env, check=True)

Why the monkeypatching: huggingface_hub and datasets read HF_HUB_OFFLINE (and the cache paths)
once, at import, into module constants, and the suite runs offline (tests/conftest.py) so that a
model id not on disk fails at once. A hub test flips those constants for its own duration; the
endpoint needs no patching, since tests/conftest.py fixed HF_ENDPOINT before either library was
imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.hub.server import (
    OTHER_TOKEN,
    READ_TOKEN,
    WRITE_TOKEN,
    Fault,
    HubServer,
    RepoView,
    Request,
)


class Hub:
    """What a test sees of the test Hub (the `hub` fixture)."""

    user = "tester"  # the user behind `token` and `read_token`
    org = "fin-org"  # an organization that user belongs to
    token = WRITE_TOKEN  # write access to `user`'s and `org`'s repos
    read_token = READ_TOKEN  # same user, read-only
    other_token = OTHER_TOKEN  # another user ("outsider"): no access to private repos above

    def __init__(self, server: HubServer, home: Path):
        self.server = server
        self.endpoint = server.endpoint
        self.home = home  # HF_HOME of this test (hub cache in home/"hub")

    @property
    def env(self) -> dict[str, str]:
        """os.environ for a subprocess (e.g. `python -m factory publish`) that talks to this Hub."""
        return {
            **os.environ,
            "HF_ENDPOINT": self.endpoint,
            "HF_TOKEN": self.token,
            "HF_HUB_OFFLINE": "0",
            "HF_DATASETS_OFFLINE": "0",
            "HF_HUB_DISABLE_XET": "1",
            "HF_HOME": str(self.home),
            "HF_UPDATE_DOWNLOAD_COUNTS": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }

    @property
    def requests(self) -> list[Request]:
        """Every request the server received in this test, in order."""
        return self.server.requests

    def requests_to(self, method: str | None = None, path_regex: str = "") -> list[Request]:
        return self.server.requests_to(method, path_regex)

    @property
    def inject(self) -> Callable[..., Fault]:
        """`HubServer.inject`: makes the next matching requests fail; see `Fault`."""
        return self.server.inject

    def repo(self, repo_id: str, repo_type: str = "model") -> RepoView:
        """A repo's state read from the server: commits, branches, file contents."""
        return self.server.repo(repo_id, repo_type)

    def create_repo(self, repo_id: str, repo_type: str = "model", private: bool = False):
        """Creates a repo straight in the server state, for set-up that is not under test."""
        return self.server.create_repo(repo_id, repo_type, private)


@pytest.fixture(scope="session")
def hub_server() -> Iterator[HubServer]:
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", ""))
    if endpoint.hostname != "127.0.0.1" or endpoint.port is None:
        pytest.fail(
            f"HF_ENDPOINT must name the test hub on 127.0.0.1 (tests/conftest.py): {endpoint}"
        )
    with HubServer(port=endpoint.port) as server:
        yield server


@pytest.fixture
def hub(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Hub]:
    import datasets.config
    from huggingface_hub import HfFileSystem, constants

    for name, value in (
        ("huggingface_hub", constants.ENDPOINT),
        ("datasets", datasets.config.HF_ENDPOINT),
    ):
        if value.rstrip("/") != hub_server.endpoint:
            pytest.fail(
                f"{name} was imported before tests/conftest.py set HF_ENDPOINT (it uses {value})"
            )
    hub_server.reset()
    home = tmp_path / "hf-home"
    home.mkdir()
    hub = Hub(hub_server, home)

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_TOKEN", hub.token)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    # Online, datasets would also HEAD an S3 URL to count the load and ask the Hub's dataset
    # viewer (a host derived from HF_ENDPOINT) for a parquet export: neither exists here.
    monkeypatch.setattr(datasets.config, "HF_UPDATE_DOWNLOAD_COUNTS", False)
    monkeypatch.setattr(datasets.config, "USE_PARQUET_EXPORT", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    monkeypatch.setattr(
        datasets.config, "DOWNLOADED_DATASETS_PATH", home / "datasets" / "downloads"
    )
    monkeypatch.setattr(
        datasets.config, "EXTRACTED_DATASETS_PATH", home / "datasets" / "downloads" / "extracted"
    )
    # HfFileSystem instances (and their listings) are cached per process: no test may see
    # another test's repos.
    HfFileSystem.clear_instance_cache()
    restore_client = _refuse_other_hosts()
    try:
        yield hub
    finally:
        restore_client()
        HfFileSystem.clear_instance_cache()
    if hub_server.errors:
        pytest.fail("the test hub raised:\n" + "\n".join(hub_server.errors), pytrace=False)
    if hub_server.unhandled:
        missing = sorted({f"{r.method} {r.path}" for r in hub_server.unhandled})
        pytest.fail(f"the test hub has no route for: {missing} (add it to tests/hub/server.py)")


def _refuse_other_hosts():
    """Makes huggingface_hub's HTTP client refuse any host but 127.0.0.1; returns the undo."""
    from huggingface_hub.utils import _http

    factory = getattr(_http, "default_client_factory", None)
    if factory is None:  # another huggingface_hub layout: the endpoint check above still holds
        return lambda: None

    def refuse(request) -> None:
        if request.url.host != "127.0.0.1":
            raise RuntimeError(f"test hub: refusing to contact {request.url} from a test")

    def guarded_client():
        client = factory()
        hooks = client.event_hooks
        client.event_hooks = {**hooks, "request": [*hooks.get("request", []), refuse]}
        return client

    previous = getattr(_http, "_GLOBAL_CLIENT_FACTORY", factory)
    _http.set_client_factory(guarded_client)
    return lambda: _http.set_client_factory(previous)
