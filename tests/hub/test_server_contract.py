"""The test Hub against the real clients: huggingface_hub and datasets, unmodified.

What these tests pin down is the contract publishing relies on (repos, atomic commits, LFS for the
binary files, branches, downloads) and how the installed client reacts to a failing Hub: which
calls it retries, and which raise at once.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    HfApi,
    HfFileSystem,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import get_session

# huggingface_hub 2.x uploads LFS files with `data=<file>`, which its httpx2 client deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=:DeprecationWarning")

DS = "fin-org/loans"
TRAIN = {"id": [1, 2, 3], "text": ["approve", "deny", "approve"]}
TEST = {"id": [4], "text": ["deny"]}
README = """---
license: apache-2.0
tags: [finance, synthetic]
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
  - split: test
    path: data/test-*.parquet
---
# Loans
"""


def _safetensors(n: int) -> bytes:
    """A valid single-tensor safetensors file (float32 ones), without the safetensors package."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}).encode()
    return struct.pack("<Q", len(header)) + header + struct.pack(f"<{n}f", *([1.0] * n))


def _dataset_folder(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    pq.write_table(pa.table(TRAIN), root / "data" / "train-00000-of-00001.parquet")
    pq.write_table(pa.table(TEST), root / "data" / "test-00000-of-00001.parquet")
    (root / "README.md").write_text(README)
    (root / "weights.safetensors").write_bytes(_safetensors(64))
    (root / "config.json").write_text('{"hidden_size": 64}\n')
    return root


def _local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def published(hub, tmp_path):
    """A private dataset repo holding _dataset_folder() in one commit after the initial one."""
    api = HfApi(token=hub.token)
    api.create_repo(DS, repo_type="dataset", private=True)
    folder = _dataset_folder(tmp_path / "upload")
    info = api.upload_folder(
        repo_id=DS, repo_type="dataset", folder_path=folder, commit_message="Publish v1"
    )
    return api, folder, info


def _transport_error():
    """The base class of transport errors of the HTTP library huggingface_hub runs on."""
    return sys.modules[type(get_session()).__module__.split(".")[0]].TransportError


# -- accounts and repos --------------------------------------------------------------------------


def test_whoami_names_the_token_user_and_refuses_unknown_tokens(hub):
    me = HfApi().whoami(token=hub.token)
    assert me["name"] == hub.user
    assert [org["name"] for org in me["orgs"]] == [hub.org]
    assert me["auth"]["accessToken"]["role"] == "write"
    assert HfApi().whoami(token=hub.read_token)["auth"]["accessToken"]["role"] == "read"
    with pytest.raises(HfHubHTTPError) as info:
        HfApi().whoami(token="hf_not_a_token")
    assert info.value.response.status_code == 401


def test_create_repo_private_public_conflict_and_exist_ok(hub):
    api = HfApi(token=hub.token)
    url = api.create_repo(DS, repo_type="dataset", private=True)
    assert url == f"{hub.endpoint}/datasets/{DS}"
    api.create_repo(f"{hub.user}/model", private=False)
    assert api.dataset_info(DS).private is True
    assert api.model_info(f"{hub.user}/model").private is False
    assert hub.repo(DS, "dataset").private and not hub.repo(f"{hub.user}/model").private
    # A new repo holds one commit by the Hub itself: .gitattributes with the LFS rules.
    [initial] = hub.repo(DS, "dataset").commits()
    assert initial.title == "initial commit"
    assert b"*.parquet filter=lfs" in initial.files[".gitattributes"]

    with pytest.raises(HfHubHTTPError) as info:
        api.create_repo(DS, repo_type="dataset")
    assert info.value.response.status_code == 409
    assert api.create_repo(DS, repo_type="dataset", exist_ok=True).repo_id == DS
    assert len(hub.repo(DS, "dataset").commits()) == 1

    for token, namespace in ((hub.read_token, hub.org), (hub.token, "someone-else")):
        with pytest.raises(HfHubHTTPError) as info:
            HfApi(token=token).create_repo(f"{namespace}/x")
        assert info.value.response.status_code == 403


def test_private_repo_is_invisible_without_access(hub, published, tmp_path):
    for token in (False, hub.other_token):
        api = HfApi(token=token)
        assert api.repo_exists(DS, repo_type="dataset") is False
        assert api.file_exists(DS, "README.md", repo_type="dataset") is False
        with pytest.raises(RepositoryNotFoundError):
            api.dataset_info(DS)
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(
                DS, "README.md", repo_type="dataset", token=token, cache_dir=tmp_path / "c"
            )
    assert HfApi(token=hub.read_token).repo_exists(DS, repo_type="dataset")

    HfApi(token=hub.token).update_repo_settings(DS, repo_type="dataset", private=False)
    assert HfApi(token=False).repo_exists(DS, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as info:  # public now, but still not theirs to write
        HfApi(token=hub.other_token).upload_file(
            path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=DS, repo_type="dataset"
        )
    assert info.value.response.status_code == 403


def test_read_only_token_cannot_commit(hub, published):
    with pytest.raises(HfHubHTTPError) as info:
        HfApi(token=hub.read_token).upload_file(
            path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=DS, repo_type="dataset"
        )
    assert info.value.response.status_code == 403
    assert len(hub.repo(DS, "dataset").commits()) == 2


# -- upload ----------------------------------------------------------------------------------------


def test_upload_folder_sends_parquet_and_safetensors_through_lfs(hub, published):
    _, folder, info = published
    local = _local_files(folder)
    binary = {p for p in local if p.endswith((".parquet", ".safetensors"))}
    assert len(binary) == 3

    [batch] = hub.requests_to("POST", r"\.git/info/lfs/objects/batch$")
    assert batch.path == f"/datasets/{DS}.git/info/lfs/objects/batch"
    asked = {o["oid"]: o["size"] for o in batch.json()["objects"]}
    assert asked == {hashlib.sha256(local[p]).hexdigest(): len(local[p]) for p in binary}
    uploaded = hub.requests_to("PUT", r"^/_lfs/upload/")
    assert sorted(r.body for r in uploaded) == sorted(local[p] for p in binary)

    [commit] = hub.requests_to("POST", rf"^/api/datasets/{DS}/commit/main$")
    lines = commit.ndjson()
    assert lines[0] == {"key": "header", "value": {"summary": "Publish v1", "description": ""}}
    by_kind = {
        kind: {line["value"]["path"] for line in lines if line["key"] == kind}
        for kind in ("file", "lfsFile")
    }
    assert by_kind == {"lfsFile": binary, "file": {"README.md", "config.json"}}

    repo = hub.repo(DS, "dataset")
    assert info.oid == repo.head() and info.commit_url.endswith(f"/datasets/{DS}/commit/{info.oid}")
    assert repo.lfs_paths() == binary
    files = repo.files()
    assert {p: files[p] for p in local} == local
    assert [c.title for c in repo.commits()] == ["Publish v1", "initial commit"]


def test_lfs_upload_with_a_wrong_hash_is_refused(hub, published):
    # Ask the batch API for an upload slot, then send other bytes than announced.
    data = b"\x00" * 100
    oid = hashlib.sha256(data).hexdigest()
    session = get_session()
    batch = session.post(
        f"{hub.endpoint}/datasets/{DS}.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": 100}],
        },
        headers={"Authorization": f"Bearer {hub.token}"},
    ).json()
    href = batch["objects"][0]["actions"]["upload"]["href"]
    assert session.put(href, content=b"\x01" * 100).status_code == 400
    assert session.put(href, content=data).status_code == 200
    # Objects already stored come back without actions: the client skips their upload.
    again = session.post(
        f"{hub.endpoint}/datasets/{DS}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": oid, "size": 100}]},
        headers={"Authorization": f"Bearer {hub.token}"},
    ).json()
    assert "actions" not in again["objects"][0]


def test_deletes_and_copies_land_in_one_commit_or_not_at_all(hub, published):
    api, _, _ = published
    repo = hub.repo(DS, "dataset")
    before = repo.files()
    api.create_commit(
        DS,
        repo_type="dataset",
        commit_message="reshuffle",
        operations=[
            CommitOperationCopy("config.json", "configs/config.json"),
            CommitOperationCopy("weights.safetensors", "backup/weights.safetensors"),
            CommitOperationDelete("data/"),
            CommitOperationDelete("config.json"),
        ],
    )
    after = repo.files()
    assert after["configs/config.json"] == before["config.json"]
    assert after["backup/weights.safetensors"] == before["weights.safetensors"]
    assert "backup/weights.safetensors" in repo.lfs_paths()
    assert not any(p.startswith("data/") for p in after) and "config.json" not in after

    head = repo.head()
    with pytest.raises(EntryNotFoundError):
        api.create_commit(
            DS,
            repo_type="dataset",
            commit_message="half valid",
            operations=[
                CommitOperationAdd("new.txt", b"new"),
                CommitOperationDelete("no-such-file.txt"),
            ],
        )
    assert repo.head() == head and "new.txt" not in repo.files()


def test_parent_commit_mismatch_is_412_and_changes_nothing(hub, published):
    api, _, info = published
    repo = hub.repo(DS, "dataset")
    api.upload_file(
        path_or_fileobj=b"v2", path_in_repo="notes.txt", repo_id=DS, repo_type="dataset"
    )
    head = repo.head()
    with pytest.raises(HfHubHTTPError) as error:
        api.upload_file(
            path_or_fileobj=b"stale",
            path_in_repo="notes.txt",
            repo_id=DS,
            repo_type="dataset",
            parent_commit=info.oid,
        )
    assert error.value.response.status_code == 412
    assert repo.head() == head and repo.file("notes.txt") == b"v2"
    # With the right parent the commit goes through.
    api.upload_file(
        path_or_fileobj=b"v3",
        path_in_repo="notes.txt",
        repo_id=DS,
        repo_type="dataset",
        parent_commit=head,
    )
    assert repo.file("notes.txt") == b"v3"


def test_unchanged_files_are_skipped_by_the_client_and_empty_commits_land_like_on_the_hub(
    hub, published
):
    api, folder, info = published
    repo = hub.repo(DS, "dataset")
    commits_before = len(hub.requests_to("POST", r"/commit/"))
    again = api.upload_folder(repo_id=DS, repo_type="dataset", folder_path=folder)
    # The client compares the preupload oids with its files and sends no commit at all.
    assert len(hub.requests_to("POST", r"/commit/")) == commits_before
    assert again.oid == info.oid == repo.head()

    # A commit with no change still makes a commit on the Hub (huggingface_hub issue #1411).
    response = get_session().post(
        f"{hub.endpoint}/api/datasets/{DS}/commit/main",
        content=json.dumps({"key": "header", "value": {"summary": "nothing"}}).encode() + b"\n",
        headers={"Authorization": f"Bearer {hub.token}", "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200
    assert response.json()["commitOid"] == repo.head() != info.oid
    assert repo.commits()[0].files == repo.commits()[1].files


# -- download ------------------------------------------------------------------------------------


def test_snapshot_download_is_byte_identical_and_then_served_from_cache(hub, published, tmp_path):
    _, folder, info = published
    hub.requests.clear()
    path = Path(snapshot_download(DS, repo_type="dataset", cache_dir=tmp_path / "cache"))
    assert path.name == info.oid
    got = _local_files(path)
    assert got.pop(".gitattributes").startswith(b"*.")
    assert got == _local_files(folder)
    downloads = hub.requests_to("GET", r"/resolve/")
    assert len(downloads) == len(got) + 1

    hub.requests.clear()
    again = snapshot_download(DS, repo_type="dataset", cache_dir=tmp_path / "cache")
    assert Path(again) == path
    assert hub.requests_to("GET", r"/resolve/") == [] and hub.requests_to("HEAD") == []
    # Only the revision is resolved again: the tree of a known commit is cached too.
    assert [r.path for r in hub.requests] == [f"/api/datasets/{DS}/revision/main"]


def test_download_errors_raise_the_hub_exceptions(hub, published, tmp_path):
    api, _, info = published
    data = ["data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"]
    assert api.list_repo_files(DS, repo_type="dataset") == sorted(
        [".gitattributes", "README.md", "config.json", "weights.safetensors", *data]
    )
    assert api.file_exists(DS, "config.json", repo_type="dataset")
    assert not api.file_exists(DS, "missing.json", repo_type="dataset")
    assert api.revision_exists(DS, info.oid, repo_type="dataset")
    assert not api.revision_exists(DS, "no-such-branch", repo_type="dataset")
    assert not api.repo_exists("fin-org/nothing-here", repo_type="dataset")
    cache = tmp_path / "cache"
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(DS, "missing.json", repo_type="dataset", cache_dir=cache)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(DS, "README.md", repo_type="dataset", revision="nope", cache_dir=cache)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("fin-org/nothing-here", "README.md", repo_type="dataset", cache_dir=cache)
    assert {r.status for r in hub.requests_to("HEAD", r"/missing\.json$")} == {404}


def test_load_dataset_returns_the_uploaded_rows_per_split(hub, published):
    import datasets

    loaded = datasets.load_dataset(DS)
    assert set(loaded) == {"train", "test"}
    assert loaded["train"].to_dict() == TRAIN and loaded["test"].to_dict() == TEST
    assert not hub.server.unhandled


def test_branches_revisions_and_history(hub, published, tmp_path):
    api, _, info = published
    branch = "release/v1"  # a slash: revisions travel URL-encoded
    api.create_branch(DS, repo_type="dataset", branch=branch)
    with pytest.raises(HfHubHTTPError) as error:
        api.create_branch(DS, repo_type="dataset", branch=branch)
    assert error.value.response.status_code == 409
    api.create_branch(DS, repo_type="dataset", branch=branch, exist_ok=True)
    pq.write_table(pa.table({"id": [9], "text": ["approve"]}), buffer := io.BytesIO())
    on_branch = api.upload_file(
        path_or_fileobj=buffer.getvalue(),
        path_in_repo="data/train-00000-of-00001.parquet",
        repo_id=DS,
        repo_type="dataset",
        revision=branch,
        commit_message="Retrain split",
    )
    api.create_tag(DS, repo_type="dataset", tag="v1.0", revision=branch)

    refs = api.list_repo_refs(DS, repo_type="dataset")
    assert {b.name: b.target_commit for b in refs.branches} == {
        "main": info.oid,
        branch: on_branch.oid,
    }
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1.0", on_branch.oid)]
    titles = [c.title for c in api.list_repo_commits(DS, repo_type="dataset", revision=branch)]
    assert titles == ["Retrain split", "Publish v1", "initial commit"]

    cache = tmp_path / "cache"
    at_branch = hf_hub_download(
        DS,
        "data/train-00000-of-00001.parquet",
        repo_type="dataset",
        revision=branch,
        cache_dir=cache,
    )
    at_main = hf_hub_download(
        DS, "data/train-00000-of-00001.parquet", repo_type="dataset", cache_dir=cache
    )
    assert pq.read_table(at_branch).to_pydict()["id"] == [9]
    assert pq.read_table(at_main).to_pydict()["id"] == TRAIN["id"]
    snapshot = snapshot_download(DS, repo_type="dataset", revision="v1.0", cache_dir=cache)
    assert Path(snapshot).name == on_branch.oid

    import datasets

    assert datasets.load_dataset(DS, revision=branch)["train"]["id"] == [9]


def test_tree_paths_info_and_repo_info_metadata(hub, published):
    api, folder, info = published
    root = api.list_repo_tree(DS, repo_type="dataset")
    kinds = {e.path: type(e).__name__ for e in root}
    assert kinds["data"] == "RepoFolder" and kinds["README.md"] == "RepoFile"
    assert "data/train-00000-of-00001.parquet" not in kinds
    entries = {
        e.path: e for e in api.list_repo_tree(DS, repo_type="dataset", recursive=True, expand=True)
    }
    weights = entries["weights.safetensors"]
    local = (folder / "weights.safetensors").read_bytes()
    assert weights.size == len(local) and weights.lfs.sha256 == hashlib.sha256(local).hexdigest()
    assert weights.last_commit.oid == info.oid
    assert entries[".gitattributes"].last_commit.title == "initial commit"

    infos = api.get_paths_info(DS, ["README.md", "data", "absent"], repo_type="dataset")
    assert [(type(i).__name__, i.path) for i in infos] == [
        ("RepoFile", "README.md"),
        ("RepoFolder", "data"),
    ]
    assert infos[0].lfs is None and infos[0].size == len(README)

    meta = api.dataset_info(DS, files_metadata=True)
    assert meta.sha == info.oid and meta.private is True and meta.last_modified is not None
    assert meta.card_data.license == "apache-2.0" and "finance" in meta.tags
    sizes = {s.rfilename: (s.size, s.lfs is not None) for s in meta.siblings}
    assert sizes["config.json"] == ((folder / "config.json").stat().st_size, False)
    assert sizes["weights.safetensors"] == (len(local), True)


def test_hf_file_system_globs_and_reads_byte_ranges(hub, published):
    _, folder, info = published
    fs = HfFileSystem(token=hub.token)
    assert sorted(fs.glob(f"datasets/{DS}/data/*.parquet")) == [
        f"datasets/{DS}/data/test-00000-of-00001.parquet",
        f"datasets/{DS}/data/train-00000-of-00001.parquet",
    ]
    local = (folder / "weights.safetensors").read_bytes()
    with fs.open(f"datasets/{DS}@{info.oid}/weights.safetensors", "rb", block_size=16) as f:
        f.seek(8)
        assert f.read(10) == local[8:18]
    ranged = [r for r in hub.requests_to("GET", r"/resolve/") if "range" in r.headers]
    assert ranged and {r.status for r in ranged} == {206}
    assert fs.read_text(f"datasets/{DS}/README.md") == README


def test_a_subprocess_reaches_the_hub_through_hub_env(hub, published):
    script = (
        "import os; from huggingface_hub import HfApi, hf_hub_download; "
        f"print(HfApi().whoami()['name']); "
        f"print(hf_hub_download({DS!r}, 'config.json', repo_type='dataset'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=hub.env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    name, path = out.stdout.split()
    assert name == hub.user and Path(path).is_relative_to(hub.home)


# -- faults: what the installed huggingface_hub does about them -----------------------------------


def test_a_500_on_commit_is_not_retried_and_leaves_the_repo_unchanged(hub, published):
    api, _, _ = published
    repo = hub.repo(DS, "dataset")
    head, files = repo.head(), repo.files()
    fault = hub.inject(method="POST", path_regex=r"/commit/", status=500)
    with pytest.raises(HfHubHTTPError) as error:
        api.upload_file(
            path_or_fileobj=_safetensors(8),
            path_in_repo="more.safetensors",
            repo_id=DS,
            repo_type="dataset",
        )
    assert error.value.response.status_code == 500
    assert fault.hits == 1 and len(hub.requests_to("POST", r"/commit/")) == 2  # publish + this
    assert repo.head() == head and repo.files() == files


def test_a_dropped_commit_connection_raises_a_transport_error(hub, published):
    api, _, _ = published
    repo = hub.repo(DS, "dataset")
    head = repo.head()
    hub.inject(method="POST", path_regex=r"/commit/", drop=True)
    with pytest.raises(_transport_error()):
        api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=DS, repo_type="dataset")
    assert repo.head() == head

    # Dropped after the commit landed: the client raises all the same, though the Hub changed.
    hub.inject(method="POST", path_regex=r"/commit/", drop=True, after=True)
    with pytest.raises(_transport_error()):
        api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=DS, repo_type="dataset")
    assert repo.head() != head and repo.file("b.txt") == b"b"
    assert [r.status for r in hub.requests_to("POST", r"/commit/")] == [200, None, None]


def test_upload_steps_before_the_commit_are_retried(hub, published):
    api, _, _ = published
    hub.inject(method="POST", path_regex=r"/preupload/", status=503)
    hub.inject(method="POST", path_regex=r"objects/batch$", drop=True)
    hub.inject(method="PUT", path_regex=r"^/_lfs/upload/", status=500)
    start = time.monotonic()
    api.upload_file(
        path_or_fileobj=_safetensors(16),
        path_in_repo="retry.safetensors",
        repo_id=DS,
        repo_type="dataset",
    )
    assert time.monotonic() - start >= 3  # three first retries, a 1 s back-off each
    assert [r.status for r in hub.requests_to("POST", r"/preupload/")][-2:] == [503, 200]
    assert [r.status for r in hub.requests_to("POST", r"objects/batch$")][-2:] == [None, 200]
    assert [r.status for r in hub.requests_to("PUT", r"^/_lfs/upload/")][-2:] == [500, 200]
    assert hub.repo(DS, "dataset").file("retry.safetensors") == _safetensors(16)


def test_listing_retries_on_429_and_5xx_in_huggingface_hub_2(hub, published):
    api, _, _ = published
    hub.inject(method="GET", path_regex=r"/tree/", status=503)
    hub.inject(method="GET", path_regex=r"/tree/", status=429, headers={"Retry-After": "0"})
    try:
        files = api.list_repo_files(DS, repo_type="dataset")
    except HfHubHTTPError as error:
        # huggingface_hub 1.33 (the GPU set) fetches a listing's first page without retrying.
        assert error.response.status_code == 503
        assert [r.status for r in hub.requests_to("GET", r"/tree/")] == [503]
    else:
        # 2.4 (the CPU set) retries it, 1 s apart (Retry-After: 0 still waits 1 s).
        assert "README.md" in files
        assert [r.status for r in hub.requests_to("GET", r"/tree/")] == [503, 429, 200]


def test_get_retries_differ_by_call(hub, published, tmp_path):
    api, folder, _ = published
    # Repo info is not retried: the error reaches the caller at once.
    hub.inject(method="GET", path_regex=rf"^/api/datasets/{DS}$", status=503)
    with pytest.raises(HfHubHTTPError) as error:
        api.dataset_info(DS)
    assert error.value.response.status_code == 503

    # A file's metadata call falls back to a second, retried call when nothing is cached.
    hub.inject(method="HEAD", path_regex=r"/resolve/.*/config\.json$", status=429)
    path = hf_hub_download(DS, "config.json", repo_type="dataset", cache_dir=tmp_path / "c")
    assert Path(path).read_bytes() == (folder / "config.json").read_bytes()
    assert [r.status for r in hub.requests_to("HEAD", r"/config\.json$")][:2] == [429, 200]

    # The download itself resumes after a dropped connection, but a 500 is final.
    hub.inject(method="GET", path_regex=r"/resolve/.*/README\.md$", drop=True)
    path = hf_hub_download(DS, "README.md", repo_type="dataset", cache_dir=tmp_path / "e")
    assert Path(path).read_text() == README
    hub.inject(method="GET", path_regex=r"/resolve/.*/README\.md$", status=500)
    with pytest.raises(HfHubHTTPError):
        hf_hub_download(DS, "README.md", repo_type="dataset", cache_dir=tmp_path / "f")


def test_faults_fire_the_given_number_of_times(hub):
    def whoami_status() -> int:
        auth = {"Authorization": f"Bearer {hub.token}"}
        return get_session().get(f"{hub.endpoint}/api/whoami-v2", headers=auth).status_code

    fault = hub.inject(method="GET", path_regex=r"^/api/whoami-v2$", status=502, times=2)
    assert [whoami_status() for _ in range(3)] == [502, 502, 200] and fault.hits == 2
    slow = hub.inject(path_regex=r"^/api/whoami-v2$", status=None, delay=0.3)
    start = time.monotonic()
    assert whoami_status() == 200
    assert time.monotonic() - start >= 0.3 and slow.hits == 1
