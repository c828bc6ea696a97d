"""The Hub's HTTP API over the store: routes, auth and one handler per endpoint.

Shapes follow what huggingface_hub (1.x and 2.x) and datasets read: JSON field names, the
`X-Error-Code` header that picks the client's exception (RepoNotFound, RevisionNotFound,
EntryNotFound), `X-Repo-Commit`/`ETag`/`X-Linked-*` on downloads, and the git-LFS batch API with
basic transfer, whose upload href stands for a pre-signed storage URL (no token needed).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import traceback
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from tests.hub import _store
from tests.hub._store import Commit, Entry, HubError, Repo, Store


@dataclass(frozen=True)
class User:
    name: str
    orgs: tuple[str, ...] = ()
    role: str = "write"  # "read" or "write", as on the Hub's access tokens

    def owns(self, namespace: str) -> bool:
        return namespace == self.name or namespace in self.orgs


WRITE_TOKEN = "hf_test_write_token"
READ_TOKEN = "hf_test_read_token"
OTHER_TOKEN = "hf_test_other_user_token"
DEFAULT_TOKENS = {
    WRITE_TOKEN: User("tester", ("fin-org",), "write"),
    READ_TOKEN: User("tester", ("fin-org",), "read"),
    OTHER_TOKEN: User("outsider", (), "write"),
}


@dataclass
class Request:
    """One request as the server saw it (`status` None: the connection was dropped)."""

    method: str
    path: str  # percent-decoded, without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    injected: bool = False

    def json(self):
        return json.loads(self.body)

    def ndjson(self) -> list[dict]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


_REPO = r"(?P<type>models|datasets)/(?P<repo>[^/]+/[^/]+)"
_PREFIXED = r"(?:(?P<prefix>datasets)/)?(?P<repo>[^/]+/[^/]+)"
_ROUTES: list[tuple[str, re.Pattern, str]] = [
    (m, re.compile(p), h)
    for m, p, h in [
        ("GET", r"/api/whoami-v2", "whoami"),
        ("GET", r"/api/agent-harnesses", "agent_harnesses"),
        ("POST", r"/api/repos/create", "create_repo"),
        ("DELETE", r"/api/repos/delete", "delete_repo"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", rf"/api/{_REPO}(?:/revision/(?P<rev>[^/]+))?", "repo_info"),
        ("PUT", rf"/api/{_REPO}/settings", "settings"),
        ("POST", rf"/api/{_REPO}/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", rf"/api/{_REPO}/commit/(?P<rev>[^/]+)", "commit"),
        ("POST", rf"/api/{_REPO}/branch/(?P<rev>[^/]+)", "create_branch"),
        ("DELETE", rf"/api/{_REPO}/branch/(?P<rev>[^/]+)", "delete_branch"),
        ("POST", rf"/api/{_REPO}/tag/(?P<rev>[^/]+)", "create_tag"),
        ("DELETE", rf"/api/{_REPO}/tag/(?P<rev>[^/]+)", "delete_tag"),
        ("GET", rf"/api/{_REPO}/refs", "refs"),
        ("GET", rf"/api/{_REPO}/commits/(?P<rev>[^/]+)", "commits"),
        ("GET", rf"/api/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree"),
        ("POST", rf"/api/{_REPO}/paths-info/(?P<rev>[^/]+)", "paths_info"),
        ("POST", rf"/{_PREFIXED}\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/_lfs/upload/(?P<ticket>[0-9a-f]+)", "lfs_upload"),
        ("POST", r"/_lfs/verify/(?P<ticket>[0-9a-f]+)", "lfs_verify"),
        ("GET", rf"/{_PREFIXED}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("HEAD", rf"/{_PREFIXED}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ]
]


def _type_of(match: re.Match) -> str:
    groups = match.groupdict()
    if "type" in groups:
        return "model" if groups["type"] == "models" else "dataset"
    return "dataset" if groups.get("prefix") else "model"


def json_response(status: int, payload, **headers: str) -> Response:
    body = json.dumps(payload).encode()
    return Response(status, body, {"Content-Type": "application/json", **headers})


def error(status: int, message: str, code: str | None = None, **headers: str) -> Response:
    extra = {"X-Error-Message": message, **headers}
    if code:
        extra["X-Error-Code"] = code
    return json_response(status, {"error": message}, **extra)


class HubApi:
    """The endpoints; HubServer provides the state below and the HTTP plumbing."""

    endpoint: str
    store: Store
    _lock: threading.RLock
    _tokens: dict[str, User]
    _tickets: dict[str, tuple[str, str, str, int]]
    errors: list[str]
    unhandled: list[Request]

    def dispatch(self, req: Request, raw_path: str) -> Response:
        """Routes a request to its handler; a Hub-shaped error response for any failure."""
        for method, pattern, name in _ROUTES:
            match = pattern.fullmatch(raw_path)
            if match is None or method != req.method:
                continue
            try:
                return getattr(self, f"_h_{name}")(req, match)
            except HubError as e:
                return error(e.status, e.message, e.code, **e.headers)
            except Exception:
                self.errors.append(traceback.format_exc())
                return error(500, "test hub: internal error (see HubServer.errors)")
        with self._lock:
            self.unhandled.append(req)
        return error(404, f"test hub: no route for {req.method} {req.path}")

    # -- auth -------------------------------------------------------------------------------

    def _user(self, req: Request) -> User | None:
        header = req.headers.get("authorization", "")
        if not header:
            return None
        token = header.removeprefix("Bearer ").strip()
        user = self._tokens.get(token)
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def _readable(self, req: Request, repo_type: str, repo_id: str) -> tuple[Repo, User | None]:
        user = self._user(req)
        repo = self.store.get(repo_type, repo_id)
        if repo is None or (repo.private and (user is None or not user.owns(repo.namespace))):
            # The Hub hides private repos behind the same answer as missing ones.
            raise HubError(401 if user is None else 404, "Repository not found", "RepoNotFound")
        return repo, user

    def _writable(self, req: Request, repo_type: str, repo_id: str) -> tuple[Repo, User]:
        repo, user = self._readable(req, repo_type, repo_id)
        if user is None:
            raise HubError(401, "You must be authenticated to write to this repo")
        if not user.owns(repo.namespace):
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        if user.role != "write":
            raise HubError(403, "This token has read-only access")
        return repo, user

    # -- account and repos --------------------------------------------------------------------

    def _h_whoami(self, req: Request, m: re.Match) -> Response:
        user = self._user(req)
        if user is None:
            raise HubError(401, "Invalid username or password.")
        return json_response(
            200,
            {
                "type": "user",
                "id": f"id-{user.name}",
                "name": user.name,
                "fullname": user.name.title(),
                "email": f"{user.name}@example.invalid",
                "emailVerified": True,
                "isPro": False,
                "canPay": False,
                "orgs": [
                    {"type": "org", "name": org, "fullname": org, "roleInOrg": "write"}
                    for org in user.orgs
                ],
                "auth": {
                    "type": "access_token",
                    "accessToken": {
                        "displayName": f"{user.name}-{user.role}",
                        "role": user.role,
                        "createdAt": "2025-01-01T00:00:00.000Z",
                    },
                },
            },
        )

    def _h_agent_harnesses(self, req: Request, m: re.Match) -> Response:
        # huggingface_hub 2.x fetches this registry once a day to name AI agents in its user agent.
        return json_response(200, {"standardEnvVars": [], "harnesses": {}})

    def _h_create_repo(self, req: Request, m: re.Match) -> Response:
        user = self._user(req)
        if user is None:
            raise HubError(401, "You must be authenticated to create a repo")
        body = req.json()
        repo_type = body.get("type") or "model"
        if repo_type not in _store.REPO_TYPES:
            raise HubError(400, f"test hub: repo type {repo_type!r} is not supported")
        namespace = body.get("organization") or user.name
        repo_id = f"{namespace}/{body.get('name', '')}"
        if not user.owns(namespace) or user.role != "write":
            raise HubError(
                403, f"You don't have the rights to create a {repo_type} under {namespace}"
            )
        # huggingface_hub 2.x sends "visibility"; 1.x sends "private".
        private = body.get("visibility", "private" if body.get("private") else "public")
        url = f"{self.endpoint}/{_store.URL_PREFIXES[repo_type]}{repo_id}"
        with self._lock:
            if self.store.get(repo_type, repo_id) is not None:
                return json_response(
                    409, {"error": f"You already created this {repo_type} repo", "url": url}
                )
            self.store.create_repo(repo_type, repo_id, private == "private", user.name)
        return json_response(200, {"url": url, "name": repo_id, "id": repo_id})

    def _h_delete_repo(self, req: Request, m: re.Match) -> Response:
        body = req.json()
        repo_type = body.get("type") or "model"
        user = self._user(req)
        namespace = body.get("organization") or (user.name if user else "")
        repo_id = f"{namespace}/{body.get('name', '')}"
        with self._lock:
            self._writable(req, repo_type, repo_id)
            self.store.delete_repo(repo_type, repo_id)
        return json_response(200, {})

    def _h_settings(self, req: Request, m: re.Match) -> Response:
        body = req.json()
        with self._lock:
            repo, _ = self._writable(req, _type_of(m), m["repo"])
            if "visibility" in body:
                repo.private = body["visibility"] == "private"
            elif "private" in body:
                repo.private = bool(body["private"])
        return json_response(200, {})

    def _h_validate_yaml(self, req: Request, m: re.Match) -> Response:
        try:
            _store.parse_front_matter(req.json().get("content", ""))
        except ValueError as e:
            return json_response(400, {"errors": [{"message": str(e)}], "warnings": []})
        return json_response(200, {"errors": [], "warnings": []})

    def _h_repo_info(self, req: Request, m: re.Match) -> Response:
        with self._lock:
            repo, _ = self._readable(req, _type_of(m), m["repo"])
            commit = repo.resolve(unquote(m["rev"] or "main"))
            with_blobs = _flag(req.query, "blobs")
            siblings = []
            for path, entry in sorted(commit.tree.items()):
                sibling: dict = {"rfilename": path}
                if with_blobs:
                    sibling.update(size=entry.size, blobId=entry.blob_id)
                    if entry.lfs:
                        sibling["lfs"] = _lfs_info(entry, "sha256")
                siblings.append(sibling)
            card = _store.card_data(self.store, commit) or {}
            info = {
                "_id": f"id-{repo.repo_id}",
                "id": repo.repo_id,
                "author": repo.namespace,
                "sha": commit.oid,
                "createdAt": _store.now_iso(repo.created_at),
                "lastModified": _store.now_iso(commit.date),
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": _tags(card),
                "siblings": siblings,
                "usedStorage": sum(e.size for e in commit.tree.values()),
            }
            if card:
                info["cardData"] = card
            if repo.repo_type == "model":
                info.update(library_name=card.get("library_name"), modelId=repo.repo_id)
                if card.get("pipeline_tag"):
                    info["pipeline_tag"] = card["pipeline_tag"]
            expand = req.query.get("expand", []) + req.query.get("expand[]", [])
            if expand:
                info = {k: v for k, v in info.items() if k in expand or k in ("id", "_id")}
        return json_response(200, info)

    # -- upload ------------------------------------------------------------------------------

    def _h_preupload(self, req: Request, m: re.Match) -> Response:
        if _flag(req.query, "create_pr"):
            raise HubError(400, "test hub: pull requests are not supported")
        with self._lock:
            repo, _ = self._writable(req, _type_of(m), m["repo"])
            commit = repo.resolve(unquote(m["rev"]))
            files = []
            for item in req.json().get("files", []):
                path, size = item["path"], int(item["size"])
                existing = commit.tree.get(path)
                files.append(
                    {
                        "path": path,
                        "uploadMode": self.store.upload_mode(repo, commit.tree, path, size),
                        "shouldIgnore": False,
                        "oid": existing.oid_for_preupload if existing else None,
                    }
                )
        return json_response(200, {"files": files, "commitOid": commit.oid})

    def _h_lfs_batch(self, req: Request, m: re.Match) -> Response:
        body = req.json()
        if body.get("operation") != "upload":
            raise HubError(422, "test hub: only the upload operation of the LFS batch API")
        repo_type = _type_of(m)
        objects = []
        with self._lock:
            repo, _ = self._writable(req, repo_type, m["repo"])
            for obj in body.get("objects", []):
                oid, size = obj.get("oid"), obj.get("size")
                if not (isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid)):
                    error = {"code": 422, "message": f"Invalid oid: {oid!r}"}
                    objects.append({"oid": str(oid), "size": int(size or 0), "error": error})
                    continue
                if oid in repo.lfs_objects:
                    objects.append({"oid": oid, "size": size})  # already stored: no action
                    continue
                ticket = secrets.token_hex(16)
                self._tickets[ticket] = (repo_type, repo.repo_id, oid, int(size))
                actions = {
                    "upload": {"href": f"{self.endpoint}/_lfs/upload/{ticket}", "expires_in": 3600},
                    "verify": {"href": f"{self.endpoint}/_lfs/verify/{ticket}", "expires_in": 3600},
                }
                objects.append(
                    {"oid": oid, "size": size, "authenticated": True, "actions": actions}
                )
        body = json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"})
        return Response(200, body.encode(), {"Content-Type": "application/vnd.git-lfs+json"})

    def _ticket(self, ticket: str) -> tuple[str, str, str, int]:
        with self._lock:
            if ticket not in self._tickets:
                raise HubError(404, "Unknown upload ticket")
            return self._tickets[ticket]

    def _h_lfs_upload(self, req: Request, m: re.Match) -> Response:
        # The upload href stands for a pre-signed storage URL: the client sends no token to it.
        repo_type, repo_id, oid, size = self._ticket(m["ticket"])
        if len(req.body) != size or _store.sha256_hex(req.body) != oid:
            raise HubError(400, f"Uploaded content does not match oid {oid} and size {size}")
        with self._lock:
            repo = self.store.get(repo_type, repo_id)
            if repo is None:
                raise HubError(404, "Repository not found", "RepoNotFound")
            self.store.blobs.setdefault(oid, req.body)
            repo.lfs_objects.add(oid)
        return Response(200, b"", {"ETag": f'"{oid[:32]}"'})

    def _h_lfs_verify(self, req: Request, m: re.Match) -> Response:
        repo_type, repo_id, oid, size = self._ticket(m["ticket"])
        body = req.json()
        with self._lock:
            repo, _ = self._writable(req, repo_type, repo_id)
            if body.get("oid") != oid or oid not in repo.lfs_objects:
                raise HubError(404, f"LFS object {body.get('oid')} was not uploaded")
            if int(body.get("size", -1)) != size:
                raise HubError(422, f"LFS object {oid} has size {size}")
        return json_response(200, {"success": True})

    def _h_commit(self, req: Request, m: re.Match) -> Response:
        if _flag(req.query, "create_pr"):
            raise HubError(400, "test hub: pull requests are not supported")
        try:
            lines = req.ndjson()
        except json.JSONDecodeError as e:
            raise HubError(400, f"Invalid NDJSON commit payload: {e}") from e
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "A commit payload starts with a header line")
        header = lines[0].get("value", {})
        operations = [(line.get("key"), line.get("value", {})) for line in lines[1:]]
        repo_type = _type_of(m)
        with self._lock:
            repo, user = self._writable(req, repo_type, m["repo"])
            commit = self.store.commit(
                repo,
                unquote(m["rev"]),
                operations,
                title=header.get("summary") or "",
                message=header.get("description") or "",
                author=user.name,
                parent_commit=header.get("parentCommit"),
            )
        url = f"{self.endpoint}/{_store.URL_PREFIXES[repo_type]}{repo.repo_id}/commit/{commit.oid}"
        return json_response(
            200,
            {
                "success": True,
                "commitOid": commit.oid,
                "commitUrl": url,
                "pullRequestUrl": None,
                "hookOutput": "",
            },
        )

    # -- refs --------------------------------------------------------------------------------

    def _h_create_branch(self, req: Request, m: re.Match) -> Response:
        branch = unquote(m["rev"])
        body = req.json() if req.body else {}
        with self._lock:
            repo, _ = self._writable(req, _type_of(m), m["repo"])
            if branch.startswith("refs/") or not re.fullmatch(r"[A-Za-z0-9._/-]+", branch):
                raise HubError(400, f"Invalid reference for a branch: {branch}")
            if branch in repo.branches:
                raise HubError(409, "Reference already exists")
            start = repo.resolve(body.get("startingPoint") or "main")
            repo.branches[branch] = start.oid
        return json_response(200, {})

    def _h_delete_branch(self, req: Request, m: re.Match) -> Response:
        branch = unquote(m["rev"])
        with self._lock:
            repo, _ = self._writable(req, _type_of(m), m["repo"])
            if branch not in repo.branches:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            if branch == "main":
                raise HubError(403, "Cannot delete the default branch")
            del repo.branches[branch]
        return json_response(200, {})

    def _h_create_tag(self, req: Request, m: re.Match) -> Response:
        tag = req.json().get("tag", "")
        with self._lock:
            repo, _ = self._writable(req, _type_of(m), m["repo"])
            target = repo.resolve(unquote(m["rev"]))
            if tag in repo.tags:
                raise HubError(409, "Tag already exists")
            repo.tags[tag] = target.oid
        return json_response(200, {})

    def _h_delete_tag(self, req: Request, m: re.Match) -> Response:
        tag = unquote(m["rev"])
        with self._lock:
            repo, _ = self._writable(req, _type_of(m), m["repo"])
            if repo.tags.pop(tag, None) is None:
                raise HubError(404, f"Invalid rev id: {tag}", "RevisionNotFound")
        return json_response(200, {})

    def _h_refs(self, req: Request, m: re.Match) -> Response:
        with self._lock:
            repo, _ = self._readable(req, _type_of(m), m["repo"])

            def refs(kind: str, names: dict[str, str]) -> list[dict]:
                return [
                    {"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": oid}
                    for n, oid in sorted(names.items())
                ]

            out = {
                "branches": refs("heads", repo.branches),
                "converts": [],
                "tags": refs("tags", repo.tags),
            }
        if _flag(req.query, "include_prs"):
            out["pullRequests"] = []
        return json_response(200, out)

    def _h_commits(self, req: Request, m: re.Match) -> Response:
        formatted = "formatted" in req.query.get("expand[]", [])
        with self._lock:
            repo, _ = self._readable(req, _type_of(m), m["repo"])
            history = repo.history(unquote(m["rev"]))
        items = []
        for c in history:
            item = {
                "id": c.oid,
                "title": c.title,
                "message": c.message,
                "authors": [{"user": c.author, "avatar": None}],
                "date": _store.now_iso(c.date),
                "parents": list(c.parents),
            }
            if formatted:
                item["formatted"] = {"title": c.title, "message": c.message}
            items.append(item)
        return json_response(200, items)

    # -- listing -----------------------------------------------------------------------------

    def _entry_json(self, repo: Repo, commit: Commit, path: str, expand: bool) -> dict:
        entry = commit.tree.get(path)
        if entry is not None:
            out: dict = {"type": "file", "oid": entry.blob_id, "size": entry.size, "path": path}
            if entry.lfs:
                out["lfs"] = _lfs_info(entry, "oid")
        else:
            out = {"type": "directory", "oid": _store.tree_id(commit.tree, path), "size": 0}
            out["path"] = path
        if expand:
            last = self.store.last_commit_touching(repo, commit, path, folder=entry is None)
            out["lastCommit"] = {
                "id": last.oid,
                "title": last.title,
                "date": _store.now_iso(last.date),
            }
        return out

    def _h_tree(self, req: Request, m: re.Match) -> Response:
        folder = unquote(m["path"] or "").strip("/")
        recursive, expand = _flag(req.query, "recursive"), _flag(req.query, "expand")
        with self._lock:
            repo, _ = self._readable(req, _type_of(m), m["repo"])
            commit = repo.resolve(unquote(m["rev"]))
            folders = _store.folders_of(commit.tree)
            if folder and folder not in folders:
                if folder in commit.tree:
                    raise HubError(400, f"{folder} is a file, not a folder")
                raise HubError(404, f"{folder} does not exist on {m['rev']}", "EntryNotFound")
            prefix = f"{folder}/" if folder else ""
            names = [p for p in sorted(folders | commit.tree.keys()) if p.startswith(prefix)]
            if not recursive:
                names = [p for p in names if "/" not in p[len(prefix) :]]
            # Folders first, as the Hub lists them.
            names.sort(key=lambda p: (p in commit.tree, p))
            out = [self._entry_json(repo, commit, p, expand) for p in names]
        return json_response(200, out)

    def _h_paths_info(self, req: Request, m: re.Match) -> Response:
        if req.headers.get("content-type", "").startswith("application/json"):
            body = req.json()
            paths, expand = body.get("paths", []), bool(body.get("expand"))
        else:
            form = parse_qs(req.body.decode(), keep_blank_values=True)
            paths, expand = form.get("paths", []), _flag(form, "expand")
        with self._lock:
            repo, _ = self._readable(req, _type_of(m), m["repo"])
            commit = repo.resolve(unquote(m["rev"]))
            folders = _store.folders_of(commit.tree)
            out = [
                self._entry_json(repo, commit, p.strip("/"), expand)
                for p in paths
                if p.strip("/") in commit.tree or p.strip("/") in folders
            ]
        return json_response(200, out)

    # -- download ----------------------------------------------------------------------------

    def _h_resolve(self, req: Request, m: re.Match) -> Response:
        path = unquote(m["path"])
        with self._lock:
            repo, _ = self._readable(req, _type_of(m), m["repo"])
            commit = repo.resolve(unquote(m["rev"]))
            entry = commit.tree.get(path)
            if entry is None:
                raise HubError(
                    404, "Entry not found", "EntryNotFound", **{"X-Repo-Commit": commit.oid}
                )
            data = self.store.read(entry)
        headers = {
            "X-Repo-Commit": commit.oid,
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "ETag": f'"{entry.sha256 if entry.lfs else entry.blob_id}"',
        }
        if entry.lfs:
            # What the Hub's redirect to LFS storage carries: the content's sha256 and size.
            headers.update({"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)})
        return _ranged(req, data, headers)


def _ranged(req: Request, data: bytes, headers: dict[str, str]) -> Response:
    spec = req.headers.get("range")
    if not spec:
        return Response(200, data, headers)
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", spec)
    if match is None or not (match[1] or match[2]):
        raise HubError(400, f"Unsupported Range header: {spec}")
    size = len(data)
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    else:
        start, end = max(size - int(match[2]), 0), size - 1
    if start >= size or start > end:
        raise HubError(416, "Range Not Satisfiable", **{"Content-Range": f"bytes */{size}"})
    headers = {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}
    return Response(206, data[start : end + 1], headers)


def _flag(query: dict[str, list[str]], name: str) -> bool:
    values = query.get(name)
    return bool(values) and values[-1].lower() in ("1", "true", "yes")


def _lfs_info(entry: Entry, key: str) -> dict:
    return {key: entry.sha256, "size": entry.size, "pointerSize": len(entry.pointer)}


def _tags(card: dict) -> list[str]:
    tags = card.get("tags") or []
    tags = [str(t) for t in tags] if isinstance(tags, list) else [str(tags)]
    if card.get("license"):
        tags.append(f"license:{card['license']}")
    return tags
