"""The HTTP service against fake backends: answers, verification, fallback, two-step, limits."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import httpx

from factory.serve.answer import AnswerPath
from factory.serve.audit import records, verify_chain
from factory.serve.backends import ChatBackend
from factory.serve.review import tickets
from tests.serve.conftest import Oracle, make_recipe, running, sample_cases, service_for
from tests.serve.fake_backend import Scripted, fake_backend


def _labelled(recipe, cases):
    unused = ChatBackend("http://unused/v1", "x")
    path = AnswerPath(recipe, unused, unused)
    id_value = 1 if recipe.domain == "lending" else "x"
    return path.label([{**c, recipe.domain_impl.id_column: id_value} for c in cases])


def test_a_verified_answer_is_shown_and_recorded(lending, tmp_path):
    cases = sample_cases(lending, 3)
    oracle = Oracle(lending)
    oracle.learn(_labelled(lending, cases))
    with (
        fake_backend(oracle) as backend,
        running(service_for(lending, backend.url, tmp_path / "a.db")) as url,
    ):
        replies = [httpx.post(f"{url}/v1/decide/lending", json=c, timeout=30) for c in cases]
        health = httpx.get(f"{url}/healthz")
        metrics = httpx.get(f"{url}/metrics").text
    assert health.status_code == 200
    for reply in replies:
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["status"] == "ok" and body["verified"] and body["ticket_id"] is None
        assert body["decision"] in ("approve", "refer", "deny")
        assert body["model_decision"] == body["decision"]
        assert body["reasoning"] and body["confidence"] == 1.0
        assert [r["code"] for r in body["reasons"]] == body["reason_codes"]
    assert 'fin_factory_requests_total{endpoint="/v1/decide",status="200"} 3.0' in metrics
    assert 'fin_factory_verdicts_total{verdict="passed"} 3.0' in metrics
    logged = list(records(tmp_path / "a.db"))
    assert [r.request_id for r in logged] == [r.json()["request_id"] for r in replies]
    first = logged[0].body
    assert first["versions"]["policy_version"].startswith("lending-")
    assert first["request"]["case"]["first_name"] == "[REDACTED]"  # the default pii: redact
    assert first["status"] == "ok" and first["latency_ms"] > 0
    assert verify_chain(tmp_path / "a.db").ok


def test_wrong_decision_unparseable_and_unsure_answers_go_to_review(lending, tmp_path):
    cases = sample_cases(lending, 3)
    rows = _labelled(lending, cases)
    oracle = Oracle(lending)
    oracle.learn(rows)
    user = [oracle.prompts.user(r) for r in rows]
    right = oracle.answer_for(rows[0])
    wrong = {"approve": "deny", "refer": "approve", "deny": "approve"}[rows[0]["decision"]]
    oracle.overrides[user[0]] = Scripted(
        right.replace(f"<decision>{rows[0]['decision']}<", f"<decision>{wrong}<")
    )
    oracle.overrides[user[1]] = Scripted("no tags at all")
    oracle.overrides[user[2]] = Scripted(oracle.answer_for(rows[2]), decision_probability=0.2)
    db = tmp_path / "r.db"
    with fake_backend(oracle) as backend, running(service_for(lending, backend.url, db)) as url:
        bodies = [httpx.post(f"{url}/v1/decide/lending", json=c, timeout=30).json() for c in cases]
        metrics = httpx.get(f"{url}/metrics").text
    assert [b["status"] for b in bodies] == ["needs_review"] * 3
    assert [b["fallback"] for b in bodies] == ["verification", "parse", "confidence"]
    assert bodies[0]["verdict"] == "decision"
    assert abs(bodies[2]["confidence"] - 0.2) < 1e-9
    for body in bodies:  # nothing of a withheld answer reaches the caller
        assert body["ticket_id"].startswith("T-")
        assert body["reasoning"] is None and body["decision"] is None
    queued = tickets(db, status="open")
    assert [t.ticket_id for t in queued] == [b["ticket_id"] for b in bodies]
    assert queued[1].body["outputs"]["model"] == "no tags at all"
    assert 'fin_factory_fallbacks_total{reason="parse"} 1.0' in metrics


def test_credit_report_answers_in_two_steps(tmp_path):
    recipe = make_recipe("credit_report", task="summary")
    cases = sample_cases(recipe, 2)
    rows = _labelled(recipe, cases)
    oracle = Oracle(recipe)
    oracle.learn(rows)
    db = tmp_path / "c.db"
    with fake_backend(oracle) as model, fake_backend(oracle) as base:
        service = service_for(recipe, model.url, db, base_url=base.url)
        with running(service) as url:
            good = httpx.post(f"{url}/v1/decide/credit_report", json=cases[0], timeout=30).json()
            oracle.polish_text = "Write to jane.doe@example.com to talk it over."
            leaky = httpx.post(f"{url}/v1/decide/credit_report", json=cases[1], timeout=30).json()
        polish_prompts = [r for r in base.requests if len(r["messages"]) == 1]
    assert good["status"] == "ok", good
    assert good["summary"].startswith("Good:")
    assert good["answer"] == "This is a short, friendly paragraph."
    # The base model saw the fine-tuned model's lists, not its paragraph.
    assert "Good:\n- " in polish_prompts[0]["messages"][0]["content"]
    assert "Next step" not in polish_prompts[0]["messages"][0]["content"]
    assert leaky["status"] == "needs_review" and leaky["verdict"] == "polish:pii"


def test_bad_requests_get_a_4xx_that_names_the_problem_and_service_keeps_serving(lending, tmp_path):
    cases = sample_cases(lending, 1)
    oracle = Oracle(lending)
    oracle.learn(_labelled(lending, cases))
    db = tmp_path / "b.db"
    service = service_for(lending, "http://127.0.0.1:9/v1", db)
    with fake_backend(oracle) as backend:
        service.model.url = backend.url
        with running(service) as url:
            post = lambda body, **kw: httpx.post(f"{url}/v1/decide/lending", timeout=30, **kw)  # noqa: E731
            malformed = post(
                None, content=b'{"credit_score": 7', headers={"content-type": "application/json"}
            )
            wrong_type = post(None, json={**cases[0], "credit_score": "700"})
            missing = post(None, json={k: v for k, v in cases[0].items() if k != "annual_income"})
            unknown = post(None, json={**cases[0], "favourite_colour": "blue"})
            category = post(None, json={**cases[0], "loan_purpose": "yacht"})
            negative = post(None, json={**cases[0], "loan_amount": -5.0})
            not_object = post(None, json=[1, 2])
            oversize = post(None, content=b"{" + b" " * 70_000 + b"}")
            other_domain = httpx.post(f"{url}/v1/decide/fraud", json=cases[0])
            chat_stream = httpx.post(
                f"{url}/v1/chat/completions", json={"messages": [], "stream": True}
            )
            still = post(None, json=cases[0])
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]
    assert wrong_type.status_code == 422 and wrong_type.json()["field"] == "credit_score"
    assert missing.status_code == 422 and missing.json()["field"] == "annual_income"
    assert unknown.status_code == 422 and unknown.json()["field"] == "favourite_colour"
    assert category.status_code == 422 and category.json()["field"] == "loan_purpose"
    assert negative.status_code == 422 and negative.json()["field"] == "loan_amount"
    assert not_object.status_code == 422
    assert oversize.status_code == 413 and "65,536" in oversize.json()["error"]
    assert other_domain.status_code == 404
    assert chat_stream.status_code == 400 and chat_stream.json()["field"] == "stream"
    assert still.status_code == 200 and still.json()["status"] == "ok"
    logged = list(records(db))
    assert len(logged) == 11  # every request, refused or answered
    assert [r.body["http_status"] for r in logged] == [
        400,
        422,
        422,
        422,
        422,
        422,
        422,
        413,
        404,
        400,
        200,
    ]


def test_chat_passes_through_and_a_dead_backend_is_a_clear_refusal(lending, tmp_path):
    db = tmp_path / "p.db"
    broken = []

    def respond(body):
        return Scripted("", status=500) if broken else Scripted("hello there")

    with fake_backend(respond) as backend:
        service = service_for(lending, backend.url, db)
        with running(service) as url:
            chat = httpx.post(
                f"{url}/v1/chat/completions",
                json={
                    "model": "anything",
                    "messages": [{"role": "user", "content": "hi, my SSN is 123-45-6789"}],
                },
            )
            seen = backend.requests[-1]
            broken.append(True)
            down = httpx.post(
                f"{url}/v1/decide/lending", json=sample_cases(lending, 1)[0], timeout=30
            )
            health = httpx.get(f"{url}/healthz")
    assert (
        chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"] == "hello there"
    )
    assert seen["model"] == "fake-model"
    assert down.status_code == 503 and "error" in down.json()
    assert health.status_code == 200  # /models still answers: the server is up, erring
    logged = list(records(db))
    assert "123-45-6789" not in logged[0].body["request"]["messages"][0]["content"]
    assert logged[1].body["http_status"] == 503


def test_load_16_clients_every_request_answered_and_recorded(lending, tmp_path):
    cases = sample_cases(lending, 40)
    oracle = Oracle(lending)
    oracle.learn(_labelled(lending, cases))
    db = tmp_path / "load.db"
    limits = httpx.Limits(max_connections=16)
    with (
        fake_backend(oracle) as backend,
        running(service_for(lending, backend.url, db)) as url,
        httpx.Client(timeout=60, limits=limits) as client,
    ):

        def call(i: int) -> tuple[int, str]:
            reply = client.post(f"{url}/v1/decide/lending", json=cases[i % len(cases)])
            return reply.status_code, reply.json().get("request_id", "")

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(call, range(320)))
    assert all(status == 200 for status, _ in results)
    ids = {request_id for _, request_id in results}
    assert len(ids) == 320
    logged = {r.request_id for r in records(db)}
    assert logged == ids
    report = verify_chain(db)
    assert report.ok and report.records == 320


def test_tampering_with_the_log_is_detected(lending, tmp_path):
    cases = sample_cases(lending, 4)
    oracle = Oracle(lending)
    oracle.learn(_labelled(lending, cases))
    db = tmp_path / "t.db"
    with fake_backend(oracle) as backend, running(service_for(lending, backend.url, db)) as url:
        for case in cases:
            httpx.post(f"{url}/v1/decide/lending", json=case, timeout=30)
    assert verify_chain(db).ok
    edited, deleted, cut = (tmp_path / n for n in ("e.db", "d.db", "c.db"))
    for copy in (edited, deleted, cut):
        source = sqlite3.connect(db)
        source.execute(f"VACUUM INTO '{copy}'")
        source.close()
    with sqlite3.connect(edited) as conn:
        body = json.loads(conn.execute("SELECT body FROM records WHERE seq = 2").fetchone()[0])
        body["engine"]["decision"] = (
            "approve" if body["engine"]["decision"] != "approve" else "deny"
        )
        conn.execute("UPDATE records SET body = ? WHERE seq = 2", (json.dumps(body),))
    with sqlite3.connect(deleted) as conn:
        conn.execute("DELETE FROM records WHERE seq = 3")
    with sqlite3.connect(cut) as conn:
        conn.execute("DELETE FROM records WHERE seq = 4")
    assert verify_chain(edited).problem == "record 2: its hash does not match"
    assert verify_chain(deleted).problem == "record 3 is missing"
    assert "the head says 4 records" in verify_chain(cut).problem
