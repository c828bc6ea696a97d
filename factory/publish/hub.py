"""Uploading a staged release to the Hugging Face Hub: create the repo, then one atomic commit.

The repo mirrors the staged folder: files that changed or are new are added, files the repo has
and the release does not are deleted (except `.gitattributes`), all in one commit whose parent
is the revision's head, so a repo is never left half-published and a concurrent change is not
overwritten. Unchanged content makes no commit at all.

Transient failures (5xx, 429, dropped connections, a head that moved) are retried with
exponential backoff; each attempt compares the repo with the staged folder again first, so a
commit that landed although its response was lost is not made twice. The token comes from
HF_TOKEN or the huggingface_hub login and never appears in messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from factory.errors import FactoryError, UsageError
from factory.publish.stage import StagedRelease

#: Statuses worth another attempt: server errors, rate limits, a moved head (412), conflicts.
RETRY_STATUSES = frozenset({409, 412, 429, 500, 502, 503, 504})

#: Never deleted from the repo: the Hub's own LFS rules.
KEPT = frozenset({".gitattributes"})


class PublishError(FactoryError):
    """Publishing failed: the Hub refused, or kept failing after the retries."""

    exit_code = 1


@dataclass(frozen=True)
class PublishResult:
    """What a publish did.

    Attributes:
        repo_id, repo_type, revision: where.
        url: the repo's page.
        commit: the commit made, or the unchanged head.
        added: files added or replaced; deleted: files removed.
        attempts: how many attempts it took.
    """

    repo_id: str
    repo_type: str
    revision: str
    url: str
    commit: str | None
    added: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    attempts: int = 1
    created_repo: bool = False
    unchanged: bool = field(default=False)


def resolve_token(token: str | None = None) -> str:
    """The token to publish with: the argument, else HF_TOKEN or the huggingface_hub login.

    Raises:
        UsageError: no token anywhere.
    """
    from huggingface_hub import get_token

    found = token or get_token()
    if not found:
        raise UsageError(
            "no Hugging Face token: set HF_TOKEN or run `hf auth login` (publishing needs write "
            "access)"
        )
    return found


def upload(
    staged: StagedRelease,
    repo_id: str,
    *,
    private: bool = True,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str | None = None,
    attempts: int = 4,
    backoff_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishResult:
    """Publishes a staged release whose gates passed.

    Args:
        staged: the staged folder (`stage_dataset` / `stage_model`).
        repo_id: ORG/NAME.
        private: create the repo private (an existing repo keeps its visibility).
        revision: the branch to commit to [default: main]; created from main when missing.
        token: a Hub token [default: HF_TOKEN or the login].
        commit_message: [default: "fin-factory: publish <type> (<n> files)"].
        attempts: tries per Hub call before giving up.
        backoff_s: the first wait between tries; doubles each time, capped at 8 s.
        sleep: injected by tests.

    Raises:
        UsageError: the gates did not pass, or there is no token.
        PublishError: the Hub refused or kept failing; the message says whether the repo is
            unchanged.
    """
    from huggingface_hub import HfApi

    if not staged.gates.passed:
        failed = ", ".join(g.name for g in staged.gates.failed)
        raise UsageError(f"the release did not pass its gates ({failed}); nothing was sent")
    secret = resolve_token(token)
    api = HfApi(token=secret)
    repo_type = staged.repo_type
    branch = revision or "main"
    call = _Caller(secret, attempts, backoff_s, sleep)

    existed = call("check the repo", lambda: api.repo_exists(repo_id, repo_type=repo_type))
    url = str(
        call(
            "create the repo",
            lambda: api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True),
        )
    )
    if branch != "main":
        call(
            f"create the branch {branch}",
            lambda: api.create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=True),
        )
    first_head = None
    for attempt in range(1, attempts + 1):
        head, remote = call("read the repo", lambda: _remote_state(api, repo_id, repo_type, branch))
        first_head = first_head or head
        added, deleted = _diff(staged, remote)
        if not added and not deleted:
            return PublishResult(
                repo_id, repo_type, branch, url, head, attempts=attempt,
                created_repo=not existed, unchanged=attempt == 1,
            )  # fmt: skip
        try:
            info = api.create_commit(
                repo_id,
                _operations(staged, added, deleted),
                commit_message=commit_message
                or f"fin-factory: publish {repo_type} ({len(staged.files)} files)",
                repo_type=repo_type,
                revision=branch,
                parent_commit=head,
            )
        except Exception as error:
            if not _transient(error) or attempt == attempts:
                raise PublishError(
                    f"publishing to {repo_id} failed: {_describe(error, secret)}; "
                    + _state_after_failure(api, repo_id, repo_type, branch, first_head)
                ) from None
            sleep(min(8.0, backoff_s * 2 ** (attempt - 1)))
            continue
        return PublishResult(
            repo_id, repo_type, branch, url, info.oid, tuple(added), tuple(deleted), attempt,
            created_repo=not existed,
        )  # fmt: skip
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _remote_state(
    api: Any, repo_id: str, repo_type: str, branch: str
) -> tuple[str, dict[str, str]]:
    """The branch head and, per file, its content id (sha256 for LFS files, else git sha1)."""
    from huggingface_hub.hf_api import RepoFile

    head = api.repo_info(repo_id, repo_type=repo_type, revision=branch).sha
    files = {}
    for entry in api.list_repo_tree(repo_id, recursive=True, revision=head, repo_type=repo_type):
        if isinstance(entry, RepoFile):
            files[entry.path] = entry.lfs.sha256 if entry.lfs else entry.blob_id
    return head, files


def _diff(staged: StagedRelease, remote: dict[str, str]) -> tuple[list[str], list[str]]:
    added = [f.path for f in staged.files if remote.get(f.path) not in (f.sha256, f.git_sha1)]
    ours = {f.path for f in staged.files}
    deleted = sorted(path for path in remote if path not in ours and path not in KEPT)
    return added, deleted


def _operations(staged: StagedRelease, added: list[str], deleted: list[str]) -> list[Any]:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    return [
        *(
            CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(staged.folder / p))
            for p in added
        ),
        *(CommitOperationDelete(path_in_repo=p) for p in deleted),
    ]


class _Caller:
    """Runs one Hub call with retries on transient failures; errors never show the token."""

    def __init__(
        self, secret: str, attempts: int, backoff_s: float, sleep: Callable[[float], None]
    ) -> None:
        self.secret, self.attempts, self.backoff_s, self.sleep = secret, attempts, backoff_s, sleep

    def __call__(self, what: str, function: Callable[[], Any]) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return function()
            except Exception as error:
                if not _transient(error) or attempt == self.attempts:
                    raise PublishError(
                        f"could not {what}: {_describe(error, self.secret)}"
                        + (f" (after {attempt} attempts)" if attempt > 1 else "")
                    ) from None
                self.sleep(min(8.0, self.backoff_s * 2 ** (attempt - 1)))
        raise AssertionError("unreachable")  # pragma: no cover


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network failures of the HTTP client huggingface_hub uses: httpx (1.x) or httpx2 (2.x)."""
    import importlib

    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx", "httpx2"):
        try:
            found.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _transient(error: BaseException) -> bool:
    """Server errors, rate limits, a moved head, and network failures are worth a retry."""
    status = _status(error)
    if status is not None:
        return status in RETRY_STATUSES
    return isinstance(error, _transport_errors())


def _describe(error: BaseException, secret: str) -> str:
    status = _status(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if status is not None and str(status) not in text:
        text = f"HTTP {status}: {text}"
    return text.replace(secret, "***")


def _state_after_failure(
    api: Any, repo_id: str, repo_type: str, branch: str, head: str | None
) -> str:
    try:
        now = api.repo_info(repo_id, repo_type=repo_type, revision=branch).sha
    except Exception:
        return "the Hub could not be reached to check the repo; run the same command again"
    if now == head:
        return f"nothing was committed ({branch} is still at {head})"
    return f"{branch} moved to {now}; run the same command again to publish what is missing"
