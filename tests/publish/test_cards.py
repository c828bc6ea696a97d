"""Golden-file tests of the dataset and model cards.

The goldens are whole rendered cards. What legitimately changes between runs (timestamps, the
manifest's hash, package versions) is normalised first; anything else that changes is a change
to what users read, so it must show up in review: re-render with UPDATE_GOLDEN=1 and commit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from factory.cards import MODEL_SECTIONS, missing_sections, render_dataset_card, render_model_card
from factory.publish.release import read_dataset_release, read_model_release

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"


def _normalise(text: str, manifest_sha: str, base_model: str = "") -> str:
    text = text.replace(manifest_sha, "<MANIFEST-SHA256>")
    if base_model:
        text = text.replace(base_model, "<BASE-MODEL>")
    # Recipe hashes move with every new schema field; the cards' wording is what is pinned here.
    text = re.sub(r"`[0-9a-f]{64}`", "`<SHA256>`", text)
    text = re.sub(r"`[0-9a-f]{16}`", "`<SHA256-16>`", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+\-Z\d:]*", "<TIME>", text)
    text = re.sub(r"(?m)^- Versions: .*$", "- Versions: <VERSIONS>", text)
    return re.sub(r"(?m)^\| versions \| .* \|$", "| versions | <VERSIONS> |", text)


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: render it with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; review the diff and re-render with UPDATE_GOLDEN=1"
    )


def test_dataset_card_matches_its_golden_file(fraud_data):
    release = read_dataset_release(fraud_data)
    card = render_dataset_card(release, repo_id="fin-org/fraud-cot-small")
    _check("dataset_card.md", _normalise(card.text, release.manifest_sha256))


@pytest.fixture
def run_folder(lending_data, tmp_path) -> Path:
    """A training run folder built from recorded run files, pointed at `lending_data`."""
    folder = Path(shutil.copytree(HERE / "fixtures" / "run", tmp_path / "run"))
    sha = read_dataset_release(lending_data).manifest_sha256
    base = tmp_path / "tiny-model"  # a local base model folder: nothing is looked up on a Hub
    base.mkdir()
    manifest = json.loads((folder / "train_manifest.json").read_text())
    manifest["base_model"] = str(base)
    manifest["dataset"].update(path=str(lending_data), manifest_sha256=sha)
    (folder / "train_manifest.json").write_text(json.dumps(manifest))
    report = json.loads((folder / "eval.json").read_text())
    report["dataset"].update(path=str(lending_data), manifest_sha256=sha)
    (folder / "eval.json").write_text(json.dumps(report))
    return folder


def test_model_card_matches_its_golden_file(run_folder):
    release = read_model_release(run_folder)
    card = render_model_card(
        release, repo_id="fin-org/tiny-lending-llama", dataset_repo="fin-org/lending-small",
        license_id="apache-2.0",
    )  # fmt: skip
    assert missing_sections(card.text, MODEL_SECTIONS) == []
    assert release.base_license is None  # read from the local folder, which has no card
    _check(
        "model_card.md",
        _normalise(card.text, release.dataset.manifest_sha256, release.base_model),
    )


def test_the_model_card_names_the_method_and_compares_models_trained_otherwise(run_folder):
    from factory.evaluate.run import comparison

    manifest = json.loads((run_folder / "train_manifest.json").read_text())
    init_from = {"run_dir": "/runs/sft", "method": "sft", "manifest_sha256": "ab" * 32}
    manifest.update(method="dpo", init_from=init_from)
    manifest["recipe"]["train"].update(method="dpo", dpo={"beta": 0.1, "loss_type": "sigmoid"})
    (run_folder / "train_manifest.json").write_text(json.dumps(manifest))
    report = json.loads((run_folder / "eval.json").read_text())
    other = json.loads(json.dumps(report["model"]))
    other["name"] = "/runs/grpo/merged"
    other["identity"].update(method="grpo", run_dir="/runs/grpo")
    other["decisions"]["accuracy"].update(successes=9, value=0.75)
    report["compare"] = [other]
    report["comparison"] = comparison(report["model"], [other], None)
    (run_folder / "eval.json").write_text(json.dumps(report))
    text = render_model_card(read_model_release(run_folder)).text
    assert "by **dpo**, direct preference optimisation" in text and "trl's DPOTrainer" in text
    assert "started from the sft run `sft`" in text and "| DPO | beta=0.1" in text
    assert "- dpo\n" in text.split("---")[1]  # the Hub tag
    section = text[text.index("### Compared with other training methods") :]
    assert "| this model `RUN` | sft |" in section
    assert "| compare `grpo` | grpo | 0.750 [" in section
    # Without models to compare, no comparison section.
    del report["compare"]
    (run_folder / "eval.json").write_text(json.dumps(report))
    assert "### Compared" not in render_model_card(read_model_release(run_folder)).text


def test_model_card_usage_snippet_is_valid_python_with_the_example_prompts(run_folder):
    release = read_model_release(run_folder)
    text = render_model_card(release, repo_id="fin-org/m").text
    snippet = re.search(r"With transformers:\n\n```python\n(.*?)```", text, re.S)
    assert snippet is not None
    namespace: dict[str, object] = {}
    code = snippet.group(1)
    prompts = code[code.index("SYSTEM = ") : code.index("messages = ")]
    exec(compile(prompts, "snippet", "exec"), namespace)  # only the SYSTEM / USER literals
    messages = {m["role"]: m["content"] for m in release.dataset.example["messages"]}
    assert namespace["SYSTEM"] == messages["system"] and namespace["USER"] == messages["user"]


def test_each_domain_gets_its_own_regulatory_classification(run_folder):
    text = render_model_card(read_model_release(run_folder)).text
    assert "**high-risk** under Annex III, point 5(b)" in text
    assert "ECOA / Regulation B" in text and "12 CFR 1002.9(b)(2)" in text
    for code in read_model_release(run_folder).dataset.domain.reason_texts:
        assert f"| `{code}` |" in text


def test_the_model_license_is_the_base_models_unless_the_recipe_sets_one(run_folder, tmp_path):
    from huggingface_hub import ModelCard, ModelCardData

    from factory.cards import model_license

    base = tmp_path / "base"
    base.mkdir()
    ModelCard.from_template(ModelCardData(license="llama3.2")).save(base / "README.md")
    manifest = json.loads((run_folder / "train_manifest.json").read_text())
    manifest["base_model"] = str(base)
    (run_folder / "train_manifest.json").write_text(json.dumps(manifest))
    release = read_model_release(run_folder)
    assert release.base_license == "llama3.2"
    assert model_license(release) == "llama3.2"
    assert model_license(release, "apache-2.0") == "apache-2.0"
    assert "license: llama3.2" in render_model_card(release).text


def test_a_staged_model_puts_the_merged_model_at_the_root_and_lineage_aside(run_folder, tmp_path):
    from factory.publish.stage import stage_model

    (run_folder / "merged" / "model.safetensors").write_bytes(b"weights")
    (run_folder / "merged" / "README.md").write_text("peft's placeholder card")
    (run_folder / "adapter").mkdir()
    (run_folder / "adapter" / "adapter_model.safetensors").write_bytes(b"lora")
    staged = stage_model(read_model_release(run_folder), tmp_path / "stage", repo_id="o/m")
    assert [f.path for f in staged.files] == [
        "README.md",
        "adapter/adapter_model.safetensors",
        "config.json",
        "fin-factory/dataset_manifest.json",
        "fin-factory/eval.json",
        "fin-factory/metrics.json",
        "fin-factory/parity.json",
        "fin-factory/train_manifest.json",
        "model.safetensors",
    ]
    assert (tmp_path / "stage" / "README.md").read_text() == staged.card.text
    gates = {g.name: g for g in staged.gates.gates}
    assert gates["parity"].passed
    # The recorded eval.json scored other weights than these: the gate says so.
    assert not gates["evaluation"].passed and "other weights" in gates["evaluation"].detail


def test_model_gates_refuse_a_failed_or_missing_parity_check(run_folder, tmp_path):
    from factory.publish.stage import stage_model

    parity = json.loads((run_folder / "parity.json").read_text())
    (run_folder / "parity.json").write_text(json.dumps({**parity, "passed": False}))
    failed = stage_model(read_model_release(run_folder), tmp_path / "a")
    assert not next(g for g in failed.gates.gates if g.name == "parity").passed
    assert "FAILED" in failed.card.text
    (run_folder / "parity.json").unlink()
    missing = stage_model(read_model_release(run_folder), tmp_path / "b")
    gate = next(g for g in missing.gates.gates if g.name == "parity")
    assert not gate.passed and "missing" in gate.detail


def test_card_commands_write_the_cards_and_print_the_gates(fraud_data, run_folder, tmp_path):
    from typer.testing import CliRunner

    from factory.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["card", "dataset", str(fraud_data), "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "README.md").exists() and (tmp_path / "d" / "images").is_dir()
    assert "PASS pii in data" in result.output
    result = runner.invoke(
        app, ["card", "model", str(run_folder), "--out", str(tmp_path / "m"), "--license", "mit"]
    )
    assert result.exit_code == 0, result.output
    assert "license: mit" in (tmp_path / "m" / "README.md").read_text()
    assert "PASS license" in result.output
