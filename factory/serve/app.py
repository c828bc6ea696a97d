"""The HTTP endpoints (FastAPI): thin, every decision is the Service's.

    POST /v1/decide/{domain}      a structured case -> decision, reasons, verified explanation
    POST /v1/chat/completions     passed through to the fine-tuned model (no streaming)
    GET  /healthz                 the backends answer
    GET  /metrics                 Prometheus text

Bodies are read here, with the size limit applied while reading (so a chunked body cannot get
past it either), and parsed here, so malformed JSON gets a 400 that says so; every refusal is
recorded by the Service like an answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from factory.serve.service import Reply, Service


class _TooLarge(Exception):
    pass


class _Malformed(Exception):
    pass


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as error:
        raise _Malformed(str(error)) from None


def create_app(service: Service) -> FastAPI:
    """The FastAPI application of one service (closed with the app's lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await service.close()

    app = FastAPI(title=f"fin-factory: {service.recipe.name}", lifespan=lifespan)
    limit = service.settings.max_body_bytes

    def send(reply: Reply) -> JSONResponse:
        return JSONResponse(reply.body, status_code=reply.status)

    async def body_or_refusal(request: Request, kind: str, started: float) -> Any:
        import uuid

        try:
            return await _read_json(request, limit)
        except _TooLarge:
            message = f"the body is larger than {limit:,} bytes (serve.max_body_bytes)"
            return await service.refuse(kind, uuid.uuid4().hex, started, 413, message)
        except _Malformed as error:
            message = f"the body is not valid JSON: {error}"
            return await service.refuse(kind, uuid.uuid4().hex, started, 400, message)

    @app.post("/v1/decide/{domain}")
    async def decide(domain: str, request: Request) -> JSONResponse:
        started = time.perf_counter()
        payload = await body_or_refusal(request, "decide", started)
        if isinstance(payload, Reply):
            return send(payload)
        return send(await service.decide(domain, payload, started))

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        started = time.perf_counter()
        payload = await body_or_refusal(request, "chat", started)
        if isinstance(payload, Reply):
            return send(payload)
        return send(await service.chat(payload, started))

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return send(await service.health())

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(service.metrics.text(), media_type="text/plain; version=0.0.4")

    return app
