"""`fin-factory evaluate`: score a model (its base, and models trained by other methods) on a
generated dataset's held-out split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from factory.cli._app import err, out, progress


def evaluate(
    model: Annotated[
        str,
        typer.Argument(help="The model to score: a training run folder or a merged model folder."),
    ],
    dataset: Annotated[Path, typer.Option("--dataset", help="A generated dataset folder.")],
    split: Annotated[str, typer.Option("--split", help="Split to score.")] = "test",
    backend: Annotated[
        str, typer.Option("--backend", help="Generation backend: vllm or transformers.")
    ] = "vllm",
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="A base model to score side by side."),
    ] = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            "--compare",
            help="Another model scored on the same rows, side by side (a training run folder, "
            "e.g. the dpo or grpo run of the same recipe); repeat for several.",
        ),
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
    """Score models on a dataset's held-out split against its engine and verifiers.

    Decision quality, reasons, claim faithfulness per kind, full verification, summaries,
    fairness and the counterfactual flip test; greedy decoding. With --compare, several models
    (e.g. trained by sft, dpo and grpo) side by side on the same rows.
    """
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
            compare=compare or (),
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


def _label(scored: dict[str, Any]) -> str:
    """A model's column header: its run folder's name (a merged/ folder is always "merged")
    and the method that trained it."""
    identity = scored.get("identity", {})
    folder = identity.get("run_dir") or scored["name"]
    method = identity.get("method")
    return f"{Path(folder).name} ({method})" if method else Path(folder).name


def comparison_table(report: dict[str, Any]) -> Table:
    """The baseline, the model and the models compared with it, side by side."""
    columns: list[tuple[str, dict[str, Any]]] = [
        (role, report[role]) for role in ("baseline", "model") if role in report
    ]
    columns += [("compare", scored) for scored in report.get("compare", [])]
    table = Table(
        title=f"{report['dataset']['recipe']} / {report['dataset']['split']} "
        f"({report['dataset']['rows']} rows, {report['backend']})"
    )
    table.add_column("metric")
    for role, scored in columns:
        table.add_column(f"{role}: {_label(scored)}", justify="right")

    def row(label: str, pick: Any) -> None:
        cells = []
        for _, scored in columns:
            try:
                cells.append(pick(scored))
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
    row("claim faithfulness", lambda m: _rate(m["claims"]["faithful"]))
    kinds: dict[str, Any] = next(
        (s["claims"]["kinds"] for _, s in columns if "kinds" in s.get("claims", {})), {}
    )
    for kind in kinds:
        row(f"  failing {kind} claims", lambda m, k=kind: _rate(m["claims"]["kinds"][k]["answers"]))
    row("answers fully verified", lambda m: _rate(m["verification"]["verified"]))
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
