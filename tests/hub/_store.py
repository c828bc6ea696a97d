"""The state behind the test Hub: repos, commits, branches, tags and LFS objects, with no HTTP.

Every commit is an immutable snapshot of the whole tree (path -> entry), so a branch head is a
commit id and history is the first-parent chain, as on the Hub. Contents are stored once by
sha256; an LFS file's blob id is the git id of its pointer file, a regular file's the git id of
its bytes, which is what the Hub reports and what the client compares against.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import yaml

REPO_TYPES = ("model", "dataset")
URL_PREFIXES = {"model": "", "dataset": "datasets/"}

# Our own short version of the rules a new Hub repo's .gitattributes carries: the binary formats
# this project publishes (parquet, safetensors, bin, png) travel by LFS, whatever their size.
_LFS_PATTERNS = [
    *("*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.gz", "*.h5", "*.joblib", "*.msgpack"),
    *("*.npy", "*.npz", "*.onnx", "*.parquet", "*.pickle", "*.pkl", "*.png", "*.jpg", "*.jpeg"),
    *("*.pt", "*.pth", "*.safetensors", "*.tar", "*.tgz", "*.xz", "*.zip", "*.zst", "*tfevents*"),
]
DEFAULT_GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in _LFS_PATTERNS)
# The Hub sends any file above 10 MB through LFS, whatever .gitattributes says.
LFS_SIZE_THRESHOLD = 10 * 1000 * 1000

_COMMIT_IDS = itertools.count()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)


class HubError(Exception):
    """An error the HTTP layer turns into a Hub-shaped response."""

    def __init__(self, status: int, message: str, code: str | None = None, **headers: str):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


def parse_front_matter(text: str) -> dict | None:
    """The YAML metadata block of a README.md, or None when it has none.

    Raises:
        ValueError: the block is not valid YAML or not a mapping.
    """
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as e:
        raise ValueError(f"Invalid YAML in README.md metadata: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("README.md metadata must be a YAML mapping")
    return data


def now_iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Entry:
    """One file of a tree."""

    path: str
    size: int
    sha256: str  # of the content: the key into the store, and the LFS oid
    lfs: bool

    @property
    def pointer(self) -> bytes:
        return lfs_pointer(self.sha256, self.size)

    @property
    def blob_id(self) -> str:
        return git_blob_id(self.pointer) if self.lfs else self._content_blob_id

    # Filled in by the store (the git id of the bytes themselves), kept off the constructor.
    _content_blob_id: str = field(default="", compare=False, repr=False)

    @property
    def oid_for_preupload(self) -> str:
        # What the client compares with its local file: sha256 for LFS, the git id otherwise.
        return self.sha256 if self.lfs else self.blob_id


@dataclass(frozen=True)
class Commit:
    oid: str
    parents: tuple[str, ...]
    title: str
    message: str
    author: str
    date: datetime
    tree: dict[str, Entry]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: datetime
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    lfs_objects: set[str] = field(default_factory=set)  # sha256 of LFS objects uploaded here

    @property
    def namespace(self) -> str:
        return self.repo_id.split("/")[0]

    def resolve(self, revision: str) -> Commit:
        """The commit a branch, tag or commit id names (the Hub's RevisionNotFound otherwise)."""
        for prefix, refs in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            if revision.startswith(prefix) and revision[len(prefix) :] in refs:
                return self.commits[refs[revision[len(prefix) :]]]
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if revision in self.tags:
            return self.commits[self.tags[revision]]
        if revision in self.commits:
            return self.commits[revision]
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def history(self, revision: str) -> list[Commit]:
        """First-parent history, newest first."""
        commit: Commit | None = self.resolve(revision)
        out = []
        while commit is not None:
            out.append(commit)
            commit = self.commits[commit.parents[0]] if commit.parents else None
        return out

    def lfs_rules(self, tree: dict[str, Entry], blobs: dict[str, bytes]) -> list[str]:
        entry = tree.get(".gitattributes")
        if entry is None:
            return []
        rules = []
        for line in blobs[entry.sha256].decode("utf-8", "replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
                rules.append(parts[0])
        return rules


class Store:
    """All repos and file contents of one test Hub. Not thread-safe: the server holds a lock."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], Repo] = {}
        self.blobs: dict[str, bytes] = {}  # sha256 -> bytes, regular and LFS alike
        # A per-server salt keeps commit ids unique across servers and resets, so a client cache
        # from one test can never serve another test's files.
        self._salt = hashlib.sha1(str(datetime.now(UTC).timestamp()).encode()).hexdigest()

    # -- repos ------------------------------------------------------------------------------

    def get(self, repo_type: str, repo_id: str) -> Repo | None:
        return self.repos.get((repo_type, repo_id))

    def create_repo(self, repo_type: str, repo_id: str, private: bool, author: str) -> Repo:
        namespace, _, name = repo_id.partition("/")
        if not _NAME.match(namespace) or not _NAME.match(name) or ".." in name:
            raise HubError(400, f"Invalid repo name: {repo_id!r}")
        if (repo_type, repo_id) in self.repos:
            raise HubError(409, f"You already created this {repo_type} repo")
        now = datetime.now(UTC)
        repo = Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=now)
        attributes = self.put_blob(".gitattributes", DEFAULT_GITATTRIBUTES.encode())
        tree = {".gitattributes": attributes}
        first = self._new_commit((), "initial commit", "", "system", tree)
        repo.commits[first.oid] = first
        repo.branches["main"] = first.oid
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def delete_repo(self, repo_type: str, repo_id: str) -> None:
        if self.repos.pop((repo_type, repo_id), None) is None:
            raise HubError(404, "Repository not found", "RepoNotFound")

    # -- contents ---------------------------------------------------------------------------

    def put_blob(self, path: str, data: bytes) -> Entry:
        """Stores bytes as a regular (non-LFS) file entry."""
        sha = hashlib.sha256(data).hexdigest()
        self.blobs.setdefault(sha, data)
        return Entry(path, len(data), sha, False, _content_blob_id=git_blob_id(data))

    def read(self, entry: Entry) -> bytes:
        return self.blobs[entry.sha256]

    def upload_mode(self, repo: Repo, tree: dict[str, Entry], path: str, size: int) -> str:
        if size > LFS_SIZE_THRESHOLD:
            return "lfs"
        name = path.rsplit("/", 1)[-1]
        for rule in repo.lfs_rules(tree, self.blobs):
            target = path if "/" in rule.strip("/") else name
            if fnmatch.fnmatchcase(target, rule.lstrip("/")):
                return "lfs"
        return "regular"

    # -- commits ----------------------------------------------------------------------------

    def _new_commit(
        self, parents: tuple[str, ...], title: str, message: str, author: str, tree: dict
    ) -> Commit:
        date = datetime.now(UTC)
        listing = "\n".join(f"{p} {e.blob_id}" for p, e in sorted(tree.items()))
        seed = (
            f"{self._salt}\n{next(_COMMIT_IDS)}\n{parents}\n{title}\n{message}\n{date}\n{listing}"
        )
        oid = hashlib.sha1(seed.encode()).hexdigest()
        return Commit(oid, parents, title, message, author, date, dict(tree))

    def commit(
        self,
        repo: Repo,
        branch: str,
        operations: list[tuple[str, dict]],
        title: str,
        message: str,
        author: str,
        parent_commit: str | None,
    ) -> Commit:
        """Applies the operations on the branch head as one commit, or changes nothing."""
        if branch not in repo.branches:
            raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        head = repo.commits[repo.branches[branch]]
        if parent_commit is not None and parent_commit != head.oid:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        tree = dict(head.tree)
        new_blobs: dict[str, bytes] = {}
        for key, value in operations:
            path = _check_path(value.get("path", ""), folder=key == "deletedFolder")
            if key == "file":
                data = _decode_content(value)
                sha = hashlib.sha256(data).hexdigest()
                new_blobs[sha] = data
                tree[path] = Entry(path, len(data), sha, False, _content_blob_id=git_blob_id(data))
            elif key == "lfsFile":
                oid = str(value.get("oid", ""))
                if oid not in repo.lfs_objects:
                    raise HubError(
                        400,
                        "Your push was rejected because an LFS pointer pointed to a file that "
                        f"does not exist ({path}: {oid}).",
                    )
                size = len(self.blobs[oid])
                if "size" in value and int(value["size"]) != size:
                    raise HubError(400, f"LFS object {oid} has size {size}, not {value['size']}")
                tree[path] = Entry(path, size, oid, True)
            elif key == "deletedFile":
                if path not in tree:
                    raise HubError(
                        404, f"A file with this name doesn't exist: {path}", "EntryNotFound"
                    )
                del tree[path]
            elif key == "deletedFolder":
                inside = [p for p in tree if p.startswith(path.rstrip("/") + "/")]
                if not inside:
                    raise HubError(
                        404, f"A folder with this name doesn't exist: {path}", "EntryNotFound"
                    )
                for p in inside:
                    del tree[p]
            else:
                raise HubError(400, f"Unknown commit operation: {key!r}")
        _check_tree(tree, {**self.blobs, **new_blobs})
        self.blobs.update(new_blobs)
        commit = self._new_commit((head.oid,), title, message, author, tree)
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit

    def last_commit_touching(self, repo: Repo, head: Commit, path: str, folder: bool) -> Commit:
        """The newest first-parent commit that changed `path` (or, for a folder, anything in it)."""

        def state(commit: Commit):
            if folder:
                prefix = path.rstrip("/") + "/"
                return sorted(
                    (p, e.blob_id) for p, e in commit.tree.items() if p.startswith(prefix)
                )
            entry = commit.tree.get(path)
            return entry.blob_id if entry else None

        commit = head
        while commit.parents:
            parent = repo.commits[commit.parents[0]]
            if state(parent) != state(commit):
                return commit
            commit = parent
        return commit


def _check_path(path: str, folder: bool = False) -> str:
    if folder:
        path = path.rstrip("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in path.split("/")):
        raise HubError(400, f"Invalid path in repo: {path!r}")
    if path == ".git" or path.startswith(".git/"):
        raise HubError(400, f"Invalid path in repo: {path!r}")
    return path


def _decode_content(value: dict) -> bytes:
    content = value.get("content", "")
    encoding = value.get("encoding", "base64")
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except binascii.Error as e:
            raise HubError(400, f"Invalid base64 content for {value.get('path')!r}") from e
    if encoding in ("utf-8", "utf8"):
        return str(content).encode()
    raise HubError(400, f"Unknown encoding {encoding!r}")


def _check_tree(tree: dict[str, Entry], blobs: dict[str, bytes]) -> None:
    clash = folders_of(tree) & tree.keys()
    if clash:
        raise HubError(400, f"A path is both a file and a folder: {sorted(clash)[0]!r}")
    readme = tree.get("README.md")
    if readme is not None and not readme.lfs:
        try:
            parse_front_matter(blobs[readme.sha256].decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise HubError(400, f"Invalid metadata in README.md: {e}") from e


def folders_of(tree: dict[str, Entry]) -> set[str]:
    return {"/".join(p.split("/")[:i]) for p in tree for i in range(1, p.count("/") + 1)}


def tree_id(tree: dict[str, Entry], folder: str) -> str:
    prefix = folder + "/"
    listing = "\n".join(f"{p} {e.blob_id}" for p, e in sorted(tree.items()) if p.startswith(prefix))
    return hashlib.sha1(f"tree {folder}\n{listing}".encode()).hexdigest()


def card_data(store: Store, commit: Commit) -> dict | None:
    entry = commit.tree.get("README.md")
    if entry is None or entry.lfs:
        return None
    try:
        return parse_front_matter(store.read(entry).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)
