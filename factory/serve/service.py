"""The service behind the HTTP endpoints and batch prediction: validate, answer, record, count.

Every request, valid or not, answered or refused, leaves one audit record, and the response is
only returned once that record is committed. A withheld answer opens a review ticket in the same
transaction as its record.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from factory import __version__
from factory.recipe import RecipeBase, ServeConfig
from factory.serve import audit
from factory.serve.answer import NEEDS_REVIEW, Answer, AnswerPath
from factory.serve.backends import BackendError, ChatBackend
from factory.serve.case import case_model
from factory.serve.metrics import Metrics


@dataclass
class Reply:
    """An HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


@dataclass
class Identity:
    """What the audit log says answered: the models (with weights hashes) and the policy."""

    model: dict[str, Any]
    base: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Service:
    """One recipe's serving state: the answer path, the audit writer, the metrics.

    Args:
        recipe: the recipe the model was trained on.
        model: the fine-tuned model's server.
        base: the base model's server (two-step tasks).
        audit_path: the SQLite audit database.
        identity: model identities for the records.
    """

    def __init__(
        self,
        recipe: RecipeBase,
        model: ChatBackend,
        base: ChatBackend | None,
        audit_path: Path,
        identity: Identity,
    ) -> None:
        self.recipe = recipe
        self.settings = recipe.serve or ServeConfig()
        self.domain = recipe.domain_impl
        self.model, self.base = model, base
        self.path = AnswerPath(recipe, model, base, self.settings)
        self.case_model = case_model(recipe)
        self.audit_path = audit_path
        self.writer = audit.AuditWriter(audit_path)
        # Before the writer's first commit: its thread is idle until a record is queued.
        audit.set_meta(self.writer.db, "recipe", recipe.model_dump_json())
        self.pii = audit.PiiPolicy.for_db(
            self.writer.db, self.settings.pii, self.domain.pii_columns
        )
        self.metrics = Metrics()
        self.versions = {
            "model": identity.model,
            "base_model": identity.base,
            "recipe": recipe.name,
            "recipe_sha256": recipe.content_hash(),
            "policy_version": self.domain.policy_version(recipe.policy),
            "fin_factory": __version__,
            **identity.extra,
        }

    async def close(self) -> None:
        await self.model.close()
        if self.base is not None:
            await self.base.close()
        await asyncio.to_thread(self.writer.close)

    # -- /v1/decide ---------------------------------------------------------------------------

    async def decide(self, domain: str, payload: Any, started: float | None = None) -> Reply:
        """Validates one case, answers it, records it; returns the HTTP reply."""
        started = time.perf_counter() if started is None else started
        request_id = uuid.uuid4().hex
        if domain != self.domain.name:
            return await self.refuse(
                "decide", request_id, started, 404,
                f"this service answers {self.domain.name} cases, not {domain!r}", payload,
            )  # fmt: skip
        if not isinstance(payload, dict):
            return await self.refuse(
                "decide", request_id, started, 422, "the body must be a JSON object (a case)",
                payload, field="body",
            )  # fmt: skip
        try:
            case = self.case_model.model_validate(payload).model_dump()
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            message = f"{where}: {first['msg']}"
            return await self.refuse("decide", request_id, started, 422, message, payload, where)
        if case.get(self.domain.id_column) is None:
            case[self.domain.id_column] = self.new_case_id(request_id)
        row = (await asyncio.to_thread(self.path.label, [case]))[0]
        try:
            answer = await self.path.answer(row)
        except BackendError as error:
            return await self.refuse("decide", request_id, started, 503, str(error), case)
        return await self.record_answer(request_id, case, row, answer, started)

    def new_case_id(self, request_id: str) -> Any:
        """An id for a case sent without one, of the id column's type."""
        kind = self.case_model.model_fields[self.domain.id_column].annotation
        return int(request_id[:12], 16) if kind == int | None else f"req-{request_id[:16]}"

    async def record_answer(
        self,
        request_id: str,
        case: dict[str, Any],
        row: dict[str, Any],
        answer: Answer,
        started: float,
    ) -> Reply:
        """Writes the record (and ticket) of an answer; returns the caller's reply."""
        ticket_id = f"T-{request_id[:16]}" if answer.status == NEEDS_REVIEW else None
        shown = {"request_id": request_id, "ticket_id": ticket_id, **answer.public()}
        latency_ms = (time.perf_counter() - started) * 1000
        body = {
            "endpoint": "/v1/decide",
            "http_status": 200,
            "request": {"case": self.pii.case(case)},
            "response": shown,
            "outputs": {k: self.pii.text(v) for k, v in answer.raw.items()},
            "engine": {"decision": answer.decision, "reason_codes": answer.reason_codes},
            "verdict": {"verified": answer.verified, "failed": answer.verdict,
                        "detail": answer.detail},
            "confidence": answer.confidence,
            "fallback": answer.fallback,
            "status": answer.status,
            "latency_ms": round(latency_ms, 3),
            "versions": self.versions,
        }  # fmt: skip
        ticket = None
        if ticket_id is not None:
            material = {
                "messages": answer.messages,
                "row": _jsonable_row(self.pii.case(row)),
                "outputs": answer.raw,
                "verdict": answer.verdict,
                "detail": answer.detail,
                "confidence": answer.confidence,
            }
            ticket = (ticket_id, str(answer.fallback), material)
        await self.writer.write(audit.Entry("decide", request_id, body, ticket))
        self.metrics.observe("/v1/decide", 200, time.perf_counter() - started)
        self.metrics.verdict(answer.verdict or "passed")
        if answer.fallback:
            self.metrics.fallback(answer.fallback)
        return Reply(200, shown)

    async def refuse(
        self,
        kind: str,
        request_id: str,
        started: float,
        status: int,
        message: str,
        payload: Any = None,
        field: str | None = None,
    ) -> Reply:
        """Records and returns a refusal (bad input, oversize body, a failed backend)."""
        endpoint = "/v1/decide" if kind == "decide" else "/v1/chat/completions"
        error: dict[str, Any] = {"error": message, "request_id": request_id}
        if field is not None:
            error["field"] = field
        request = self.pii.case(payload) if isinstance(payload, dict) else _short(payload)
        body = {
            "endpoint": endpoint,
            "http_status": status,
            "request": {"case": request} if kind == "decide" else {"body": request},
            "response": error,
            "status": "refused",
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "versions": self.versions,
        }
        await self.writer.write(audit.Entry(kind, request_id, body))
        self.metrics.observe(endpoint, status, time.perf_counter() - started)
        return Reply(status, error)

    # -- /v1/chat/completions -----------------------------------------------------------------

    async def chat(self, payload: Any, started: float | None = None) -> Reply:
        """Passes a chat request through to the fine-tuned model, recorded like any other."""
        started = time.perf_counter() if started is None else started
        request_id = uuid.uuid4().hex
        if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
            return await self.refuse(
                "chat", request_id, started, 422, "the body needs a `messages` list", payload,
                field="messages",
            )  # fmt: skip
        if payload.get("stream"):
            return await self.refuse(
                "chat", request_id, started, 400,
                "stream: true is not served (a record is written before each answer)", payload,
                field="stream",
            )  # fmt: skip
        forwarded = {**payload, "model": self.model.model}
        try:
            data = await self.model.post_json("/chat/completions", forwarded)
        except BackendError as error:
            return await self.refuse("chat", request_id, started, 502, str(error), payload)
        body = {
            "endpoint": "/v1/chat/completions",
            "http_status": 200,
            "request": {"messages": [self._scrub(m) for m in payload["messages"]]},
            "response": {
                "content": [
                    self.pii.text(str((c.get("message") or {}).get("content") or ""))
                    for c in data.get("choices") or []
                ]
            },
            "status": "ok",
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "versions": self.versions,
        }
        await self.writer.write(audit.Entry("chat", request_id, body))
        self.metrics.observe("/v1/chat/completions", 200, time.perf_counter() - started)
        return Reply(200, data)

    def _scrub(self, message: Any) -> Any:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return {**message, "content": self.pii.text(message["content"])}
        return message

    async def health(self) -> Reply:
        checks = {"model": await self.model.healthy()}
        if self.base is not None:
            checks["base_model"] = await self.base.healthy()
        ok = all(checks.values())
        return Reply(200 if ok else 503, {"status": "ok" if ok else "degraded", **checks})


def _short(payload: Any, limit: int = 2000) -> Any:
    """A refused body that is not a case, kept short (it may be anything)."""
    if payload is None or isinstance(payload, bool | int | float):
        return payload
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    return text[:limit]


def _jsonable_row(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(row, default=str))
