"""The `openai` teacher and the judge against a deterministic OpenAI-compatible server on
loopback: retries, timeouts, malformed and empty answers, the API key, and whole runs in which
the kept rows are exactly the good answers."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest
import xxhash

from factory.dataset import read_manifest, read_rejects, read_split
from factory.pipeline.run import generate
from factory.recipe import load_recipe
from factory.teachers.openai_server import OpenAITeacher
from tests.conftest import MINIMAL
from tests.fake_openai import Reply, fake_openai_server

GOOD = "<reasoning>\nThe score of 700 clears the bar.\n</reasoning>\n<decision>approve</decision>"


def _teacher(base_url: str, **overrides) -> OpenAITeacher:
    settings = {"model": "fake", "base_url": base_url, "max_retries": 2, "timeout_s": 5.0}
    teacher = OpenAITeacher(**(settings | overrides))
    teacher.load()
    return teacher


def _inputs(*contents: str):
    return [([{"role": "user", "content": c}], {"index": i}) for i, c in enumerate(contents)]


def test_each_failure_kind_is_retried_then_reported_per_row(monkeypatch):
    def respond(request, attempt):
        case = request["messages"][-1]["content"]
        if case == "flaky":  # fails once, then answers
            return Reply(GOOD) if attempt else Reply(status=500)
        return {
            "good": Reply(GOOD),
            "down": Reply(status=503),
            "slow": Reply(GOOD, delay_s=6.0),
            "empty": Reply(""),
            "null": Reply(None),
            "garbled": Reply("I would approve this one."),
        }[case]

    slept = []
    with fake_openai_server(respond) as server:
        # A timeout the slow case always hits and the others never do, even on a busy machine.
        teacher = _teacher(server.base_url, timeout_s=2.0)
        teacher._sleep = slept.append
        cases = ("good", "flaky", "down", "slow", "empty", "null", "garbled")
        outputs = teacher.generate(_inputs(*cases))
    result = {
        case: (out["generations"][0], out["error"][0], out["statistics"]["attempts"][0])
        for case, out in zip(cases, outputs, strict=True)
    }
    assert result["good"] == (GOOD, None, 1)
    assert result["flaky"] == (GOOD, None, 2)
    assert result["down"][0] is None
    assert result["down"][1].startswith("InternalServerError") or "503" in result["down"][1]
    assert result["down"][1].endswith("(after 3 attempts)")
    assert result["slow"][0] is None and "Timeout" in result["slow"][1]
    assert result["empty"] == (None, "empty output (after 3 attempts)", 3)
    assert result["null"][0] is None and "no message content" in result["null"][1]
    # A malformed answer is kept as the generation, so the verifiers reject it with the precise
    # reason and its raw text reaches rejects.parquet.
    garbled, error, attempts = result["garbled"]
    assert garbled == "I would approve this one." and attempts == 3
    assert error.startswith("malformed output: text outside the tagged blocks")
    # Each attempt uses a new sampling seed; backoff doubles after attempts that hit errors.
    seeds = [r["seed"] for r in server.requests if r["messages"][-1]["content"] == "garbled"]
    assert len(set(seeds)) == 3
    assert slept == [0.5, 1.0]
    assert max(server.attempts().values()) == 3


def test_concurrency_is_bounded(monkeypatch):
    import threading
    import time

    active, peak = [0], [0]
    lock = threading.Lock()

    def respond(request, attempt):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return Reply(GOOD)

    with fake_openai_server(respond) as server:
        teacher = _teacher(server.base_url, max_concurrency=3)
        outputs = teacher.generate(_inputs(*[f"case {i}" for i in range(12)]))
    assert all(o["generations"][0] == GOOD for o in outputs)
    assert peak[0] == 3


def test_the_key_comes_from_the_environment_and_never_from_the_object(monkeypatch):
    monkeypatch.setenv("FAKE_SERVER_KEY", "sk-test-secret")
    with fake_openai_server(lambda request, attempt: Reply(GOOD)) as server:
        teacher = _teacher(server.base_url, api_key_env="FAKE_SERVER_KEY")
        teacher.generate(_inputs("one"))
    assert server.auth_headers == ["Bearer sk-test-secret"]
    assert "sk-test-secret" not in json.dumps(teacher.dump())
    assert "sk-test-secret" not in repr(teacher)


def _kind(draft: str) -> str:
    return ("good", "flipped", "garbled")[xxhash.xxh64_intdigest(draft.encode()) % 3]


def _paraphraser(request, attempt):
    """Answers a paraphrase request with the draft as is, with its decision flipped, or with
    text that has no tags, by a hash of the draft."""
    draft = request["messages"][-1]["content"].split("Worked answer to rewrite:\n", 1)[1]
    kind = _kind(draft)
    if kind == "good":
        return Reply(draft)
    if kind == "flipped":
        flipped = "deny" if "<decision>approve</decision>" in draft else "approve"
        return Reply(re.sub(r"<decision>\w+</decision>", f"<decision>{flipped}</decision>", draft))
    return Reply("Sorry, I cannot help with that.")


def _all_rows(out) -> pl.DataFrame:
    kept = pl.concat(
        [
            read_split(out, s).select("id", pl.col("messages").list.last().struct.field("content"))
            for s in ("train", "validation", "test")
        ]
    ).rename({"content": "text"})
    rejects = read_rejects(out)
    if rejects.height == 0:
        return kept.with_columns(kept=True)
    rejects = rejects.select("id", pl.col("generation").alias("text"))
    return pl.concat([kept.with_columns(kept=True), rejects.with_columns(kept=False)])


@pytest.fixture(scope="module")
def template_rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("template")
    (folder / "recipe.yaml").write_text(MINIMAL)
    generate(load_recipe(folder / "recipe.yaml"), folder / "out")
    return _all_rows(folder / "out")


def test_paraphrase_run_keeps_exactly_the_good_answers(write_recipe, tmp_path, template_rows):
    with fake_openai_server(_paraphraser) as server:
        recipe = load_recipe(write_recipe(MINIMAL)).with_teacher(
            backend="openai",
            model="fake",
            base_url=server.base_url,
            mode="paraphrase",
            max_retries=1,
        )
        result = generate(recipe, tmp_path / "out")
    rows = _all_rows(tmp_path / "out")
    assert rows.height == 300, "kept + rejected equals the number of profiles"
    expected = {i for i, text, kept in template_rows.iter_rows() if kept and _kind(text) == "good"}
    assert set(rows.filter("kept")["id"]) == expected
    assert rows.filter("kept")["text"].to_list() == [
        dict(zip(template_rows["id"], template_rows["text"], strict=True))[i]
        for i in rows.filter("kept")["id"]
    ]
    rejects = read_rejects(tmp_path / "out")
    reasons = dict(rejects["reject_reason"].value_counts().iter_rows())
    drafts = dict(zip(template_rows["id"], template_rows["text"], strict=True))
    flipped = sum(_kind(drafts[i]) == "flipped" for i in drafts)
    garbled = sum(_kind(drafts[i]) == "garbled" for i in drafts)
    assert reasons.get("decision") == flipped and reasons.get("format") == garbled
    # A garbled answer was asked twice (max_retries=1) and its raw text is kept for audit.
    assert set(rejects.filter(pl.col("reject_reason") == "format")["generation"]) == {
        "Sorry, I cannot help with that."
    }
    manifest = read_manifest(tmp_path / "out")
    teacher = manifest["teachers"]["openai:fake (paraphrase)"]
    assert teacher["rows"] == 300 and teacher["kept"] == result.final.kept
    assert teacher["rejected"]["format"] == garbled
    assert manifest["teacher"] == {"backend": "openai", "model": "fake", "mode": "paraphrase"}


def _writer(request, attempt):
    """Writes an answer from the engine's result in a write-mode request: the decision, the
    reasons, and one sentence per number the engine computed."""
    message = request["messages"][-1]["content"]
    brief = message.split("--- For the writer only", 1)[1]
    decision = re.search(r"Engine decision: (\w+)", brief).group(1)
    reasons = re.findall(r"^- ([A-Z][A-Z0-9_]+): (.*)$", brief, flags=re.MULTILINE)
    numbers = re.findall(r"^- ([a-z][a-z0-9_]*): (.*)$", brief, flags=re.MULTILINE)
    reasoning = "\n".join(f"The {name.replace('_', ' ')} is {value}." for name, value in numbers)
    text = f"<reasoning>\n{reasoning}\n</reasoning>\n<decision>{decision}</decision>"
    if reasons:
        text += "\n<reasons>\n" + "\n".join(f"- {c}: {t}" for c, t in reasons) + "\n</reasons>"
    return Reply(text)


def test_write_mode_prompts_carry_the_engine_result_and_worked_examples(write_recipe, tmp_path):
    with fake_openai_server(_writer) as server:
        recipe = load_recipe(write_recipe(MINIMAL)).with_teacher(
            backend="openai", model="fake", base_url=server.base_url, few_shot=3
        )
        result = generate(recipe, tmp_path / "out")
    chat = server.requests[0]["messages"]
    assert [m["role"] for m in chat] == ["system", *["user", "assistant"] * 3, "user"]
    assert "worked example" in chat[0]["content"] and "Deny when" in chat[0]["content"]
    assert "<decision>" in chat[2]["content"]  # a worked example by the template teacher
    # Every answer built from the engine's result passes every verifier: the prompts carry it.
    assert result.final.kept == 300 - sum(
        n for reason, n in result.final.rejected.items() if reason == "dedup"
    )


def _judge(request, attempt):
    content = request["messages"][-1]["content"]
    if "You are reviewing a training example" not in content:
        return _writer(request, attempt)
    answer = content.split("Answer to review:\n", 1)[1]
    if "<decision>deny</decision>" in answer:
        return Reply('Scores: {"clarity": 2, "correctness": 3, "tone": 2}')
    if "<decision>refer</decision>" in answer:
        return Reply("no score today")
    return Reply('{"clarity": 5, "correctness": 4, "tone": 4}')


def test_judge_rejects_low_scores_and_unreadable_verdicts(write_recipe, tmp_path):
    with fake_openai_server(_judge) as server:
        text = MINIMAL + (
            "filters:\n  judge:\n    backend: openai\n    model: judge\n"
            f"    base_url: {server.base_url}\n    threshold: 4\n    max_retries: 1\n"
        )
        recipe = load_recipe(write_recipe(text)).with_teacher(
            backend="openai", model="fake", base_url=server.base_url
        )
        result = generate(recipe, tmp_path / "out")
    kept = pl.concat([read_split(tmp_path / "out", s) for s in ("train", "validation", "test")])
    assert set(kept["decision"]) == {"approve"}
    assert kept["judge_score"].min() == pytest.approx(13 / 3, abs=1e-3)
    rejects = read_rejects(tmp_path / "out")
    judged = rejects.filter(pl.col("reject_reason") == "judge")
    assert set(judged["decision"]) == {"deny", "refer"}
    assert (
        judged.filter(pl.col("decision") == "deny")["reject_detail"]
        .str.starts_with("mean rubric score 2.333")
        .all()
    )
    assert (
        judged.filter(pl.col("decision") == "refer")["reject_detail"]
        .str.contains("judge failed: no rubric score")
        .all()
    )
    assert result.final.kept + sum(result.final.rejected.values()) == 300
    manifest = read_manifest(tmp_path / "out")
    assert manifest["verifiers"]["judge"]["rejected"] == judged.height
    assert manifest["judge"] == {"backend": "openai", "model": "judge", "threshold": 4.0}
