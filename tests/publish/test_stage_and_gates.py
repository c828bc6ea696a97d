"""Staging a release (the exact Hub layout) and the gates that refuse to publish it."""

from __future__ import annotations

import json

import polars as pl
import pytest

from factory.cards import DATASET_SECTIONS, RenderedCard, missing_sections
from factory.publish.gates import dataset_gates, fairness_gate
from factory.publish.release import read_dataset_release
from factory.publish.stage import file_hashes, stage_dataset
from factory.recipe import PublishConfig
from factory.verify.pii import luhn_valid

#: A Luhn-valid test card number (Visa's documented test number).
CARD = "4111 1111 1111 1111"


def _gate(report, name):
    return next(g for g in report.gates if g.name == name)


def test_a_staged_dataset_holds_card_data_manifest_and_plots_but_no_rejects(fraud_data, tmp_path):
    staged = stage_dataset(read_dataset_release(fraud_data), tmp_path / "stage")
    paths = [f.path for f in staged.files]
    data = sorted(p.name for p in (fraud_data / "data").glob("*.parquet"))
    assert paths == sorted(
        ["README.md", "manifest.json", "images/labels.png", "images/reasons.png"]
        + [f"data/{name}" for name in data]
    )
    assert "rejects.parquet" not in paths
    for file in staged.files:
        assert (file.sha256, file.git_sha1) == file_hashes(tmp_path / "stage" / file.path)
    source = fraud_data / "data" / data[0]
    assert (tmp_path / "stage" / "data" / data[0]).read_bytes() == source.read_bytes()
    assert staged.gates.passed, staged.gates.lines()
    assert (tmp_path / "stage" / "images" / "labels.png").read_bytes()[:4] == b"\x89PNG"


def test_staging_twice_gives_identical_files(fraud_data, tmp_path):
    release = read_dataset_release(fraud_data)
    first = stage_dataset(release, tmp_path / "a", repo_id="fin-org/x")
    second = stage_dataset(release, tmp_path / "b", repo_id="fin-org/x")
    assert [(f.path, f.sha256) for f in first.files] == [(f.path, f.sha256) for f in second.files]


def test_staging_refuses_a_folder_that_is_not_empty(fraud_data, tmp_path):
    (tmp_path / "stage").mkdir()
    (tmp_path / "stage" / "keep.txt").write_text("mine")
    with pytest.raises(Exception, match="must be empty"):
        stage_dataset(read_dataset_release(fraud_data), tmp_path / "stage")


def test_a_planted_card_number_fails_the_pii_gate_and_is_masked_in_the_report(fraud_copy, tmp_path):
    assert luhn_valid(CARD.replace(" ", ""))
    path = next((fraud_copy / "data").glob("train-*.parquet"))
    frame = pl.read_parquet(path)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit(f"Customer paid with card {CARD} yesterday"))
        .otherwise(pl.col("merchant"))
        .alias("merchant")
    )
    frame.write_parquet(path)
    release = read_dataset_release(fraud_copy)
    assert release.pii.flagged == 1 and release.pii.by_kind["card"] == 1
    staged = stage_dataset(release, tmp_path / "stage")
    gate = _gate(staged.gates, "pii in data")
    assert not gate.passed and not staged.gates.passed
    assert "train/merchant" in gate.detail and frame["id"][3] in gate.detail
    assert CARD not in gate.detail and "1111" not in gate.detail
    # The card says so too, without the number.
    assert "hold PII" in staged.card.text and CARD not in staged.card.text


def test_a_low_verifier_pass_rate_fails_its_gate(fraud_copy, tmp_path):
    manifest = json.loads((fraud_copy / "manifest.json").read_text())
    manifest["counts"]["pass_rate"] = 0.42
    manifest["recipe"]["content"]["publish"]["min_verifier_pass_rate"] = 0.6
    (fraud_copy / "manifest.json").write_text(json.dumps(manifest))
    staged = stage_dataset(read_dataset_release(fraud_copy), tmp_path / "stage")
    gate = _gate(staged.gates, "verifier pass rate")
    assert not gate.passed and "42.0%" in gate.detail and "60%" in gate.detail


def test_lending_labels_fail_the_four_fifths_rule_by_age_band_unless_waived(lending_data, tmp_path):
    release = read_dataset_release(lending_data)
    staged = stage_dataset(release, tmp_path / "a")
    gate = _gate(staged.gates, "fairness of the labels")
    assert not gate.passed and "age_band" in gate.detail
    ratio = release.fairness["audits"]["age_band"]["engine"]["adverse_impact_ratio"]
    assert ratio < 0.8 and f"{ratio:.3f}" in gate.detail

    failing = [
        attribute
        for attribute, audit in release.fairness["audits"].items()
        if (audit["engine"]["adverse_impact_ratio"] or 1) < 0.8
    ]
    reason = "Job tenure and credit history are policy criteria that vary with age."
    settings = PublishConfig(fairness_waivers=dict.fromkeys(failing, reason))
    waived = fairness_gate("fairness", release.fairness, "engine", settings)
    assert waived.passed and "(waived)" in waived.detail


def test_a_waiver_needs_a_written_justification():
    with pytest.raises(ValueError, match="justification"):
        PublishConfig(fairness_waivers={"age_band": "ok"})


def test_a_dataset_without_a_license_is_refused(fraud_copy, tmp_path):
    manifest = json.loads((fraud_copy / "manifest.json").read_text())
    manifest["recipe"]["content"]["publish"]["dataset_license"] = None
    (fraud_copy / "manifest.json").write_text(json.dumps(manifest))
    release = read_dataset_release(fraud_copy)
    assert not _gate(stage_dataset(release, tmp_path / "a").gates, "license").passed
    licensed = stage_dataset(release, tmp_path / "b", license_id="cdla-permissive-2.0")
    assert _gate(licensed.gates, "license").passed
    assert "license: cdla-permissive-2.0" in licensed.card.text


def test_a_card_missing_a_section_fails_the_sections_gate(fraud_data, tmp_path):
    release = read_dataset_release(fraud_data)
    staged = stage_dataset(release, tmp_path / "stage")
    assert missing_sections(staged.card.text, DATASET_SECTIONS) == []
    text = staged.card.text.replace("## PII scan", "## Something else")
    gates = dataset_gates(release, RenderedCard(text, staged.card.images))
    gate = _gate(gates, "card sections")
    assert not gate.passed and "PII scan" in gate.detail


def test_pii_in_the_card_itself_fails_its_gate(fraud_data, tmp_path):
    release = read_dataset_release(fraud_data)
    staged = stage_dataset(release, tmp_path / "stage")
    text = staged.card.text + "\nContact jane.doe@example.com for access.\n"
    gate = _gate(dataset_gates(release, RenderedCard(text, {})), "pii in card")
    assert not gate.passed and "email" in gate.detail and "jane.doe" not in gate.detail


def test_the_card_reports_what_the_release_measured(fraud_data, tmp_path):
    release = read_dataset_release(fraud_data)
    text = stage_dataset(release, tmp_path / "stage", repo_id="fin-org/fraud").card.text
    manifest = release.manifest
    assert f"{manifest['counts']['kept']:,} examples were kept" in text
    assert release.manifest_sha256 in text and manifest["policy_version"] in text
    assert 'load_dataset("fin-org/fraud")' in text
    for split, count in manifest["splits"].items():
        assert f"| {split} | {count:,} |" in text
    sex = release.fairness["audits"]["sex"]["engine"]["adverse_impact_ratio"]
    assert "| sex |" in text and f"{sex:.3f}" in text
    assert "task_categories:\n- text-generation" in text and "license: cc-by-4.0" in text
