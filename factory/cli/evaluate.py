"""`fin-factory evaluate`: score a model (and its base) on a generated dataset's held-out split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from factory.cli._app import err, out, progress


def evaluate(
    model: Annotated[str, typer.Argument(help="The model to score (a merged model folder).")],
    dataset: Annotated[Path, typer.Option("--dataset", help="A generated dataset folder.")],
    split: Annotated[str, typer.Option("--split", help="Split to score.")] = "test",
    backend: Annotated[
        str, typer.Option("--backend", help="Generation backend: vllm or transformers.")
    ] = "vllm",
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="A base model to score side by side."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Score at most N examples.")
    ] = None,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", min=1, help="Tokens to generate per answer.")
    ] = 768,
    engine_args: Annotated[
        str | None,
        typer.Option(
            "--engine-args", help='vLLM engine arguments as JSON, e.g. \'{"dtype": "float32"}\'.'
        ),
    ] = None,
    output: Annotated[Path, typer.Option("--out", help="Where to write the report.")] = Path(
        "eval.json"
    ),
) -> None:
    """Decision quality, reasons, faithfulness, summaries and fairness; greedy decoding."""
    from factory.errors import UsageError
    from factory.evaluate.knowledge import REPORT_SECTION
    from factory.evaluate.run import evaluate as run_evaluate
    from factory.evaluate.run import write_report

    try:
        engine = json.loads(engine_args) if engine_args else None
    except json.JSONDecodeError as error:
        raise UsageError(f"--engine-args is not JSON: {error}") from None
    with progress() as bar:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report = run_evaluate(
            model,
            dataset,
            split=split,
            backend=backend,
            baseline=baseline,
            limit=limit,
            max_new_tokens=max_new_tokens,
            engine_args=engine,
            progress=on_progress,
        )
    write_report(report, output)
    out.print(comparison_table(report))
    if REPORT_SECTION in report:
        out.print(knowledge_table(report[REPORT_SECTION]))
    err.print(f"report: {output}", markup=False)


def _rate(value: dict[str, Any] | None) -> str:
    if not value or value.get("value") is None:
        return "-"
    return f"{value['value']:.3f} [{value['low']:.3f}, {value['high']:.3f}] n={value['n']}"


def comparison_table(report: dict[str, Any]) -> Table:
    """Baseline and fine-tuned model side by side."""
    roles = [r for r in ("baseline", "model") if r in report]
    table = Table(
        title=f"{report['dataset']['recipe']} / {report['dataset']['split']} "
        f"({report['dataset']['rows']} rows, {report['backend']})"
    )
    table.add_column("metric")
    for role in roles:
        table.add_column(f"{role}: {Path(report[role]['name']).name}", justify="right")

    def row(label: str, pick: Any) -> None:
        cells = []
        for role in roles:
            try:
                cells.append(pick(report[role]))
            except (KeyError, TypeError):
                cells.append("-")
        if any(c != "-" for c in cells):
            table.add_row(label, *cells)

    row("parse rate", lambda m: _rate(m["parse_rate"]))
    row("decision accuracy", lambda m: _rate(m["decisions"]["accuracy"]))
    row("macro-F1", lambda m: f"{m['decisions']['macro_f1']:.3f}")
    screening = (report.get("screening") or {}).get("key", "")
    row("false positive rate", lambda m: _rate(m[screening]["false_positive_rate"]))
    row("false negative rate", lambda m: _rate(m[screening]["false_negative_rate"]))
    row("reason precision", lambda m: _rate(m["reasons"]["precision"]))
    row("reason recall", lambda m: _rate(m["reasons"]["recall"]))
    row("faithful numbers", lambda m: _rate(m["faithfulness"]["numbers"]))
    row("ROUGE-L F1", lambda m: f"{m['rougeL']['f1']['value']:.3f}")
    row("BERTScore F1 (MiniLM)", lambda m: f"{m['bertscore']['f1']['value']:.3f}")
    row("perplexity", lambda m: f"{m['perplexity']['perplexity']:.2f}")
    row("counterfactual flips", lambda m: _rate(m["counterfactual"]["rate"]))
    row("protected attribute named", lambda m: _rate(m["protected_mentions"]["rate"]))
    return table


def knowledge_table(knowledge: dict[str, Any]) -> Table:
    """Fine-tuned closed-book against base closed-book and base with retrieval."""
    table = Table(title=f"fine-tune vs retrieval ({knowledge['rows']} questions, top-"
                  f"{knowledge['top_k']} passages)")  # fmt: skip
    table.add_column("metric")
    ways = knowledge["ways"]
    for way in ways:
        table.add_column(way, justify="right")
    for label, key in (
        ("fact accuracy", "fact_accuracy"),
        ("grounded answers", "grounded_answer_rate"),
        ("abstention precision", "abstention_precision"),
        ("abstention recall", "abstention_recall"),
    ):
        table.add_row(label, *(_rate(w[key]) for w in ways.values()))
    table.add_row("prompt tokens", *(f"{w['prompt_tokens']['value']:.0f}" for w in ways.values()))
    table.add_row("answer tokens", *(f"{w['answer_tokens']['value']:.0f}" for w in ways.values()))
    table.add_row("s per answer", *(f"{w['seconds_per_answer']:.3f}" for w in ways.values()))
    return table
