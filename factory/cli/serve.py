"""`fin-factory serve` and `fin-factory predict`: answer cases with a fine-tuned model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from factory.cli._app import err, out, progress

_TARGET = typer.Argument(help="A training run folder (runs/NAME) or its recipe.")
_MODEL_URL = typer.Option(
    "--model-url", help="An OpenAI-compatible server already serving the fine-tuned model."
)
_BASE_URL = typer.Option(
    "--base-url", help="A server already serving the base model (two-step tasks)."
)


def serve(
    target: Annotated[str, _TARGET],
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 8080,
    model_url: Annotated[str | None, _MODEL_URL] = None,
    base_url: Annotated[str | None, _BASE_URL] = None,
) -> None:
    """Serve /v1/decide/DOMAIN, /v1/chat/completions, /healthz and /metrics.

    Starts vLLM's OpenAI server for the fine-tuned model (and the base model of a two-step
    task) unless --model-url/--base-url name running ones; stops them on exit.
    """
    import uvicorn

    from factory.serve.app import create_app
    from factory.serve.launch import backends, resolve
    from factory.serve.service import Service

    deployment = resolve(target)

    def log(line: str) -> None:
        err.print(line, markup=False)

    with backends(deployment, model_url=model_url, base_url=base_url, log=log) as (
        model,
        base,
        identity,
    ):
        service = Service(deployment.recipe, model, base, deployment.audit_db, identity)
        domain = deployment.recipe.domain_impl.name
        log(f"serving {deployment.recipe.name} on http://{host}:{port}/v1/decide/{domain}")
        log(f"audit log: {deployment.audit_db}")
        uvicorn.run(create_app(service), host=host, port=port, log_level="warning")


def predict(
    target: Annotated[str, _TARGET],
    input_path: Annotated[Path, typer.Option("--input", help="Parquet file of cases.")],
    output: Annotated[Path, typer.Option("--out", help="Parquet file of answers to write.")],
    model_url: Annotated[str | None, _MODEL_URL] = None,
    base_url: Annotated[str | None, _BASE_URL] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=1024, help="Cases in flight.")
    ] = 16,
) -> None:
    """Answer a Parquet file of cases offline, through the same path as /v1/decide."""
    import asyncio
    from collections import Counter

    from factory.serve.launch import backends, resolve
    from factory.serve.predict import predict as run_predict
    from factory.serve.predict import read_cases, write_answers
    from factory.serve.service import Service

    deployment = resolve(target)
    cases = read_cases(input_path)

    def log(line: str) -> None:
        err.print(line, markup=False)

    with backends(deployment, model_url=model_url, base_url=base_url, log=log) as (
        model,
        base,
        identity,
    ):
        service = Service(deployment.recipe, model, base, deployment.audit_db, identity)
        with progress() as bar:
            task = bar.add_task("predict", total=len(cases))

            def on_progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            async def go():
                try:
                    return await run_predict(
                        service, cases, concurrency=concurrency, progress=on_progress
                    )
                finally:
                    await service.close()

            answers = asyncio.run(go())
    write_answers(answers, output)
    counts = Counter(answers["status"].to_list())
    out.print(", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())), markup=False)
    err.print(f"answers: {output}; audit log: {deployment.audit_db}", markup=False)
