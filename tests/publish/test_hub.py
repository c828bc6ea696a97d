"""Publishing to the test Hub (tests/hub) through the real huggingface_hub and datasets clients."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.publish import PublishError, publish_dataset
from tests.publish.conftest import make_dataset

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=:DeprecationWarning")

runner = CliRunner()
REPO = "fin-org/fraud-cot-small"


def _staged_files(tmp_path: Path, data: Path) -> dict[str, bytes]:
    stage = tmp_path / "stage"
    publish_dataset(data, REPO, dry_run=True, stage_dir=stage)
    return {
        p.relative_to(stage).as_posix(): p.read_bytes() for p in stage.rglob("*") if p.is_file()
    }


def test_publish_then_download_and_load_give_back_exactly_what_was_published(
    hub, fraud_data, tmp_path
):
    from datasets import load_dataset
    from huggingface_hub import snapshot_download

    publication = publish_dataset(fraud_data, REPO, stage_dir=tmp_path / "stage")
    result = publication.result
    assert result is not None and not result.unchanged and result.created_repo
    repo = hub.repo(REPO, "dataset")
    assert repo.private
    assert len(repo.commits()) == 2  # the repo's initial commit, then ours: one atomic commit
    staged = {f.path for f in publication.staged.files}
    assert set(repo.files()) - {".gitattributes"} == staged
    # Parquet files travel the LFS batch path.
    assert {p for p in staged if p.endswith(".parquet")} <= repo.lfs_paths()
    assert hub.requests_to("POST", r"\.git/info/lfs/objects/batch")

    local = Path(snapshot_download(REPO, repo_type="dataset", local_dir=tmp_path / "download"))
    for path in staged:
        assert (local / path).read_bytes() == (tmp_path / "stage" / path).read_bytes(), path

    loaded = load_dataset(REPO)
    for split in ("train", "validation", "test"):
        mine = pl.read_parquet(next((fraud_data / "data").glob(f"{split}-*.parquet")))
        assert loaded[split]["id"] == mine["id"].to_list()
        assert loaded[split][0]["messages"] == mine["messages"][0].to_list()


def test_republishing_unchanged_content_makes_no_commit_and_a_change_makes_one(
    hub, fraud_data, tmp_path
):
    first = publish_dataset(fraud_data, REPO).result
    assert first is not None
    again = publish_dataset(fraud_data, REPO).result
    assert again is not None and again.unchanged and again.commit == first.commit
    repo = hub.repo(REPO, "dataset")
    assert len(repo.commits()) == 2

    bigger = make_dataset(tmp_path / "bigger", "fraud", count=360)
    changed = publish_dataset(bigger, REPO).result
    assert changed is not None and not changed.unchanged
    assert len(repo.commits()) == 3 and repo.head() == changed.commit
    assert "manifest.json" in changed.added and "data/train-00000-of-00001.parquet" in changed.added
    remote = json.loads(repo.file("manifest.json"))
    assert remote["counts"]["profiles"] == 360


def test_files_the_release_no_longer_has_are_deleted_in_the_same_commit(hub, fraud_copy, tmp_path):
    publish_dataset(fraud_copy, REPO)
    shutil.copy(fraud_copy / "data" / "test-00000-of-00001.parquet",
                fraud_copy / "data" / "test-00001-of-00001.parquet")  # fmt: skip
    publish_dataset(fraud_copy, REPO)
    assert "data/test-00001-of-00001.parquet" in hub.repo(REPO, "dataset").files()
    (fraud_copy / "data" / "test-00001-of-00001.parquet").unlink()
    result = publish_dataset(fraud_copy, REPO).result
    assert result is not None and result.deleted == ("data/test-00001-of-00001.parquet",)
    assert "data/test-00001-of-00001.parquet" not in hub.repo(REPO, "dataset").files()


def test_a_revision_is_published_to_its_own_branch(hub, fraud_data):
    result = publish_dataset(fraud_data, REPO, revision="v1").result
    assert result is not None and result.revision == "v1"
    repo = hub.repo(REPO, "dataset")
    assert "v1" in repo.branches and "README.md" in repo.files("v1")
    assert "README.md" not in repo.files("main")


def test_public_flag_creates_a_public_repo(hub, fraud_data):
    result = runner.invoke(app, ["publish", "dataset", str(fraud_data), "--repo-id", REPO,
                                 "--public"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not hub.repo(REPO, "dataset").private
    assert "published" in result.output and hub.token not in result.output


def test_a_dry_run_lists_files_and_gates_and_sends_nothing(hub, fraud_data):
    result = runner.invoke(app, ["publish", "dataset", str(fraud_data), "--repo-id", REPO,
                                 "--dry-run"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "data/train-00000-of-00001.parquet" in result.output
    assert "PASS pii in data" in result.output and "dry run: nothing was sent" in result.output
    assert hub.requests == []
    assert not hub.repo(REPO, "dataset").exists


def test_gates_refuse_a_planted_card_number_and_nothing_is_sent(hub, fraud_copy):
    path = next((fraud_copy / "data").glob("test-*.parquet"))
    frame = pl.read_parquet(path)
    frame.with_columns(pl.lit("card 4111-1111-1111-1111 on file").alias("merchant")).write_parquet(
        path
    )
    result = runner.invoke(app, ["publish", "dataset", str(fraud_copy), "--repo-id", REPO])
    assert result.exit_code == 1
    assert "FAIL pii in data" in result.output and "4111-1111" not in result.output
    assert "nothing was sent" in result.output
    assert hub.requests == []


def test_server_errors_on_the_commit_are_retried_into_one_commit(hub, fraud_data):
    hub.inject("POST", r"/commit/", status=500, times=2)
    result = publish_dataset(fraud_data, REPO).result
    assert result is not None and result.attempts == 3
    assert len(hub.repo(REPO, "dataset").commits()) == 2


def test_a_dropped_connection_on_the_commit_is_retried(hub, fraud_data):
    hub.inject("POST", r"/commit/", drop=True, times=1)
    result = publish_dataset(fraud_data, REPO).result
    assert result is not None
    assert len(hub.repo(REPO, "dataset").commits()) == 2


def test_a_commit_that_landed_but_lost_its_response_is_not_made_twice(hub, fraud_data):
    # The server commits, then drops the connection before answering.
    hub.inject("POST", r"/commit/", drop=True, times=1, after=True)
    result = publish_dataset(fraud_data, REPO).result
    assert result is not None
    assert len(hub.repo(REPO, "dataset").commits()) == 2


def test_a_hub_that_keeps_failing_is_one_clear_error_and_the_repo_is_untouched(
    hub, fraud_data, monkeypatch
):
    monkeypatch.setattr("factory.publish.hub.time.sleep", lambda s: None)
    hub.create_repo(REPO, "dataset", private=True)
    before = hub.repo(REPO, "dataset").head()
    hub.inject("POST", r"/commit/", status=503, times=50)
    with pytest.raises(PublishError) as caught:
        publish_dataset(fraud_data, REPO)
    message = str(caught.value)
    assert "503" in message and f"nothing was committed (main is still at {before})" in message
    assert hub.token not in message
    assert hub.repo(REPO, "dataset").head() == before

    result = runner.invoke(app, ["publish", "dataset", str(fraud_data), "--repo-id", REPO])
    assert result.exit_code == 1 and result.output.count("\n") < 40
    assert "error: publishing to fin-org/fraud-cot-small failed" in result.output
    assert hub.token not in result.output and "Traceback" not in result.output


def test_without_a_token_publishing_says_how_to_get_one(hub, fraud_data, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    result = runner.invoke(app, ["publish", "dataset", str(fraud_data), "--repo-id", REPO])
    assert result.exit_code == 2 and "no Hugging Face token" in result.output
    assert not hub.repo(REPO, "dataset").exists


def test_a_token_without_write_access_is_refused_cleanly(hub, fraud_data, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", hub.read_token)
    with pytest.raises(PublishError) as caught:
        publish_dataset(fraud_data, REPO)
    assert hub.read_token not in str(caught.value)
    assert not hub.repo(REPO, "dataset").exists


def test_the_base_models_license_is_read_from_its_card_on_the_hub(hub):
    from huggingface_hub import HfApi, ModelCard, ModelCardData

    from factory.publish.release import base_model_license

    api = HfApi()
    api.create_repo("fin-org/base-3b")
    card = ModelCard.from_template(ModelCardData(license="llama3.2"))
    api.upload_file(path_or_fileobj=str(card).encode(), path_in_repo="README.md",
                    repo_id="fin-org/base-3b")  # fmt: skip
    assert base_model_license("fin-org/base-3b") == "llama3.2"
    assert base_model_license("meta-test/no-such-model") is None
