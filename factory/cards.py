"""Dataset and model cards, rendered from cards/*.md.j2 through huggingface_hub's card classes.

Metadata always goes through DatasetCardData / ModelCardData (never hand-written YAML); the
templates only write prose and tables from the facts a release holds (`factory.publish.release`),
so the card, the gates and the manifests report the same numbers. Rendering is deterministic:
the same release renders byte-identical cards and plots, so publishing unchanged content is a
no-op.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import DatasetCard, EvalResult, ModelCard, ModelCardData

from factory.domains import Domain
from factory.pipeline.dataset_card import (
    CARDS_DIR,
    card_tags,
    dataset_card_data,
    split_rows,
)
from factory.recipe import RecipeBase

if TYPE_CHECKING:
    from factory.publish.release import DatasetRelease, ModelRelease


#: Sections (level-2 headings) a published dataset card must have.
DATASET_SECTIONS = (
    "What this data is for",
    "How it was generated",
    "Schema",
    "Example",
    "Splits",
    "Distributions",
    "Verification",
    "PII scan",
    "Fairness",
    "Lineage",
    "Intended use",
    "Limitations",
    "How to load",
)

#: Sections a published model card must have.
MODEL_SECTIONS = (
    "Intended use",
    "Out-of-scope use",
    "Training data",
    "Training procedure",
    "Evaluation",
    "Fairness",
    "Parity check",
    "Prompt format",
    "Usage",
    "Limitations and risks",
    "Regulatory notes",
)

#: How the model card says each training method (`train.method`) made the model.
TRAINING_METHODS: Mapping[str, dict[str, str]] = {
    "sft": {
        "trainer": "SFTTrainer",
        "text": "supervised fine-tuning on the verified answers",
    },
    "dpo": {
        "trainer": "DPOTrainer",
        "text": "direct preference optimisation on the preference pairs (each verified answer "
        "against a verifiably wrong one)",
    },
    "grpo": {
        "trainer": "GRPOTrainer",
        "text": "reinforcement learning (GRPO) with the verifiers as rewards (`factory.rewards`)",
    },
}

#: How the model card names each claim kind (factory.verify.claims.CLAIM_KINDS).
CLAIM_KIND_NAMES: Mapping[str, str] = {
    "number": "bound numbers (a quantity's value or limit)",
    "comparison": "comparisons (above / below / within, margins)",
    "conclusion": "conclusion (decision words in the reasoning)",
    "categorical": "presence / absence (a bankruptcy, a new device)",
    "reasons": "reason texts (adverse-action text per code)",
    "fairness": "fair reasoning (no protected basis as a factor)",
    "identity": "identity (no detail the prompt did not show)",
}

#: Images a dataset card shows, relative to the repo root.
LABELS_PNG = "images/labels.png"
REASONS_PNG = "images/reasons.png"
LOSS_PNG = "images/loss.png"


def missing_sections(text: str, required: tuple[str, ...]) -> list[str]:
    """The required level-2 sections a card lacks (or has empty)."""
    found: dict[str, str] = {}
    for block in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading, _, body = block.partition("\n")
        found[heading.strip()] = body.strip()
    return [name for name in required if not found.get(name)]


# Dataset card ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedCard:
    """A card and the files it refers to.

    Attributes:
        text: the card (README.md content, metadata included).
        images: repo-relative path -> PNG bytes.
    """

    text: str
    images: dict[str, bytes]

    def write(self, folder: Path) -> list[Path]:
        """Writes README.md and the images into `folder`; returns the paths written."""
        folder.mkdir(parents=True, exist_ok=True)
        written = [folder / "README.md"]
        written[0].write_text(self.text, encoding="utf-8")
        for name, data in self.images.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(path)
        return written


def dataset_license(release: DatasetRelease, override: str | None = None) -> str | None:
    """The dataset's license: the CLI's, else the recipe's `publish.dataset_license`."""
    publish = release.recipe.publish
    return override or (publish.dataset_license if publish else None)


def render_dataset_card(
    release: DatasetRelease, *, repo_id: str | None = None, license_id: str | None = None
) -> RenderedCard:
    """The full dataset card of a release, with its label and reason plots.

    Args:
        release: the dataset release.
        repo_id: the Hub repo it is (to be) published as, for the loading snippet.
        license_id: overrides the recipe's dataset license.
    """
    recipe, manifest, domain = release.recipe, release.manifest, release.domain
    card_data = dataset_card_data(recipe, manifest, dataset_license(release, license_id))
    publish = recipe.publish
    threshold = publish.min_adverse_impact_ratio if publish else 0.8
    waivers = publish.fairness_waivers if publish else {}
    fairness = fairness_rows(release.fairness, threshold, waivers)
    card = DatasetCard.from_template(
        card_data,
        template_path=str(CARDS_DIR / "dataset.md.j2"),
        r=release,
        recipe=recipe,
        domain=domain,
        manifest=manifest,
        task=domain.tasks[recipe.task],
        repo_id=repo_id,
        policy_rules=policy_rules(release),
        policy_table=policy_table(recipe),
        split_header=["split", "examples", *domain.labels],
        split_rows=split_rows(manifest, domain.labels),
        reason_rows=_reason_rows(manifest, domain.reason_texts),
        schema=[(name, str(dtype)) for name, dtype in _schema(release).items()],
        example=_example(release.example),
        fairness=fairness,
        below=[row for row in fairness if row["verdict"].startswith("below")],
        threshold=threshold,
        waivers=waivers,
        favourable=[label for label in domain.labels if label not in domain.adverse_labels],
        images={"labels": LABELS_PNG, "reasons": REASONS_PNG},
        has_answer=domain.tasks[recipe.task].has_answer,
    )
    return RenderedCard(
        text=str(card),
        images={
            LABELS_PNG: _labels_png(manifest, domain.labels),
            REASONS_PNG: _reasons_png(manifest),
        },
    )


def policy_table(recipe: RecipeBase) -> list[dict[str, str]]:
    """The domain's rules as the cards show them, from its rule table (most severe first);
    empty for a domain whose policy is not a table."""
    domain = recipe.domain_impl
    if type(domain).table_builder is None:
        return []
    table = domain.rule_table(recipe.policy)
    rows = []
    for rule in table.rules:
        # A rule at the default tier only adds points, explains the tiers it supports (ranked
        # by its points) or is listed in a column; a reason=False one decides unnamed.
        scores = f" (+{rule.points})" if rule.points else ""
        if rule.supports:
            outcome = f"supports {' or '.join(rule.supports)}" + (
                f" (ranked by {rule.points})" if rule.points else ""
            )
            if rule.fallback:
                outcome += " (fallback)"
        elif rule.listed is not None and rule.outcome == table.default:
            outcome = f"listed in {rule.listed}"
        else:
            outcome = ("points only" if rule.outcome == table.default else rule.outcome) + scores
        text = rule.text
        if not rule.reason and rule.outcome != table.default:
            text += " (decides; never named as a reason)"
        rows.append(
            {
                "code": rule.code,
                "outcome": outcome,
                "when": rule.when,
                "text": text,
                "source": rule.source,
            }
        )
    return rows


def policy_rules(release: DatasetRelease) -> list[dict[str, Any]]:
    """Every policy threshold with its value and meaning, from the policy model's schema."""
    policy = release.manifest["policy"]
    fields = release.domain.policy_model.model_fields
    return [
        {"name": name, "value": json.dumps(value), "meaning": fields[name].description or ""}
        for name, value in policy.items()
        if name in fields
    ]


def _reason_rows(manifest: Mapping[str, Any], texts: Mapping[str, str]) -> list[list[str]]:
    kept = max(1, manifest["counts"]["kept"])
    return [
        [code, f"{count:,}", f"{count / kept:.1%}", texts.get(code, "")]
        for code, count in manifest.get("reason_codes", {}).items()
    ]


def _schema(release: DatasetRelease) -> dict[str, Any]:
    import pyarrow.parquet as pq

    first = next(iter(release.files.values()))[0]
    schema = pq.read_schema(first)
    return {field.name: field.type for field in schema}


def _example(row: Mapping[str, Any]) -> dict[str, Any]:
    messages = {m["role"]: m["content"] for m in row["messages"]}
    return {
        "id": row.get("id"),
        "system": messages.get("system", ""),
        "user": messages.get("user", ""),
        "system_literal": python_literal(messages.get("system", "")),
        "user_literal": python_literal(messages.get("user", "")),
        "assistant": messages.get("assistant", ""),
        "decision": row.get("decision"),
        "reason_codes": list(row.get("reason_codes") or []),
    }


def python_literal(text: str) -> str:
    """`text` as a Python expression a reader can follow: one double-quoted string per line, in
    parentheses (usage snippets embed the example's prompts this way). A JSON string is a valid
    Python string literal."""
    lines = text.splitlines(keepends=True) or [""]
    quoted = [json.dumps(line, ensure_ascii=False) for line in lines]
    if len(quoted) == 1:
        return quoted[0]
    return "(\n" + "".join(f"    {line}\n" for line in quoted) + ")"


def fairness_rows(
    fairness: Mapping[str, Any],
    threshold: float,
    waivers: Mapping[str, str],
    source: str = "engine",
) -> list[dict[str, Any]]:
    """One row per audited attribute: group rates, ratio, difference and the verdict."""
    rows = []
    for attribute, sources in fairness.get("audits", {}).items():
        audit = sources.get(source)
        if audit is None:
            continue
        ratio = audit["adverse_impact_ratio"]
        if ratio is None:
            verdict = "not measured (fewer than two groups with enough examples)"
        elif ratio >= threshold:
            verdict = "passes"
        elif attribute in waivers:
            verdict = "below the threshold, waived (see below)"
        else:
            verdict = "below the threshold"
        rows.append(
            {
                "attribute": attribute,
                "groups": ", ".join(
                    f"{group} {rate['value']:.1%} (n={rate['n']:,})"
                    for group, rate in audit["rates"].items()
                    if rate["value"] is not None
                ),
                "ratio": "n/a" if ratio is None else f"{ratio:.3f}",
                "difference": "n/a"
                if audit["parity_difference"] is None
                else f"{audit['parity_difference']:.3f}",
                "verdict": verdict,
                "ratio_value": ratio,
            }
        )
    return rows


def _bar_png(title: str, labels: list[str], series: dict[str, list[float]], ylabel: str) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=100)
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        positions = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        axis.bar(positions, values, width=width, label=name)
    axis.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 4 else 0, ha="right")
    axis.set_title(title)
    axis.set_ylabel(ylabel)
    if len(series) > 1:
        axis.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    # No creation date in the metadata: the same data renders the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _labels_png(manifest: Mapping[str, Any], labels: tuple[str, ...]) -> bytes:
    splits = [s for s, n in manifest["splits"].items() if n]
    return _bar_png(
        "Labels per split (share of the split)",
        list(labels),
        {
            split: [
                manifest["labels"][split].get(label, 0) / manifest["splits"][split]
                for label in labels
            ]
            for split in splits
        },
        "share of examples",
    )


def _reasons_png(manifest: Mapping[str, Any]) -> bytes:
    codes = manifest.get("reason_codes", {})
    top = list(codes)[:15]
    return _bar_png(
        "Principal reason codes (examples naming each)",
        top,
        {"examples": [codes[code] for code in top]},
        "examples",
    )


# Model card -----------------------------------------------------------------------------------


def model_license(release: ModelRelease, override: str | None = None) -> str | None:
    """The model's license: the CLI's, else the recipe's `publish.model_license`, else the base
    model's (read from its card)."""
    publish = release.recipe.publish
    return override or (publish.model_license if publish else None) or release.base_license


def render_model_card(
    release: ModelRelease,
    *,
    repo_id: str | None = None,
    dataset_repo: str | None = None,
    license_id: str | None = None,
) -> RenderedCard:
    """The model card of a training run.

    Args:
        release: the run, its evaluation and its dataset.
        repo_id: the Hub repo the model is (to be) published as, for the usage snippets.
        dataset_repo: the Hub repo of its training data [default: the recipe's dataset_repo].
        license_id: overrides the license the model would otherwise get.
    """
    recipe, domain = release.recipe, release.dataset.domain
    publish = recipe.publish
    dataset_repo = dataset_repo or (publish.dataset_repo if publish else None)
    evaluation = release.evaluation or {}
    model_name = repo_id.split("/")[-1] if repo_id else f"{recipe.name}-model"
    eval_results = [
        EvalResult(
            task_type=entry["task"]["type"],
            task_name=entry["task"].get("name"),
            dataset_type=dataset_repo or entry["dataset"]["type"],
            dataset_name=entry["dataset"]["name"],
            dataset_split=entry["dataset"].get("split"),
            metric_type=metric["type"],
            metric_value=metric["value"],
            metric_name=metric.get("name"),
        )
        for entry in evaluation.get("model_index", [])
        for metric in entry["metrics"]
    ]
    base_model = release.base_model
    base_is_hub_id = not Path(base_model).exists()
    # Runs from before DPO and GRPO existed were all supervised.
    method = str(release.train_manifest.get("method", "sft"))
    card_data = ModelCardData(
        model_name=model_name,
        base_model=base_model if base_is_hub_id else None,
        datasets=[dataset_repo] if dataset_repo else None,
        language="en",
        license=model_license(release, license_id),
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=[*card_tags(recipe), "lora", "trl", method],
        eval_results=eval_results or None,
    )
    threshold = publish.min_adverse_impact_ratio if publish else 0.8
    waivers = publish.fairness_waivers if publish else {}
    train = release.train_manifest["recipe"]["train"]
    images = {}
    loss = release.folder / "loss.png"
    if loss.exists():
        images[LOSS_PNG] = loss.read_bytes()
    card = ModelCard.from_template(
        card_data,
        template_path=str(CARDS_DIR / "model.md.j2"),
        r=release,
        recipe=recipe,
        domain=domain,
        task=domain.tasks[recipe.task],
        model_name=model_name,
        repo_id=repo_id or f"ORG/{model_name}",
        published=repo_id is not None,
        dataset_repo=dataset_repo,
        base_model=base_model,
        base_is_hub_id=base_is_hub_id,
        train=train,
        metrics=release.metrics,
        parity=release.parity,
        evaluation=evaluation,
        headline=_headline_rows(evaluation, domain),
        method=method,
        method_text=TRAINING_METHODS.get(method, {"trainer": method, "text": method}),
        init_from=release.train_manifest.get("init_from"),
        claim_rows=_claim_rows(evaluation),
        comparison=_comparison_rows(evaluation),
        counterfactual=evaluation.get("model", {}).get("counterfactual"),
        fairness=fairness_rows(
            evaluation.get("model", {}).get("fairness", {}), threshold, waivers, "model"
        ),
        engine_fairness=fairness_rows(release.dataset.fairness, threshold, waivers),
        threshold=threshold,
        waivers=waivers,
        example=_example(release.dataset.example),
        reason_texts=domain.reason_texts,
        notes=domain.regulatory_notes(),
        policy_table=policy_table(recipe),
        prompt_policy=getattr(recipe.prompts, "policy", "full"),
        adverse=sorted(domain.adverse_labels),
        images=images,
    )
    return RenderedCard(text=str(card), images=images)


def _headline_rows(evaluation: Mapping[str, Any], domain: Domain) -> list[list[str]]:
    """(metric, model, baseline) rows from eval.json, each rate with its interval and n."""
    screening = domain.screening
    screening_names = (
        {
            f"{screening.key}.false_positive_rate": screening.false_positive,
            f"{screening.key}.false_negative_rate": screening.false_negative,
        }
        if screening
        else {}
    )
    names = {
        "parse_rate": "parse rate",
        "decisions.accuracy": "decision accuracy",
        "decisions.macro_f1": "decision macro-F1",
        "reasons.precision": "reason precision",
        "reasons.recall": "reason recall",
        "faithfulness.numbers": "numbers faithful to the engine",
        "claims.faithful": "answers whose every claim holds",
        "verification.verified": "answers every verifier keeps",
        **screening_names,
        "rougeL.f1": "ROUGE-L F1",
        "bertscore.f1": "BERTScore F1 (all-MiniLM-L6-v2; not comparable with roberta-large)",
        "perplexity.perplexity": "perplexity of the references",
        "protected_mentions.rate": "protected attribute named",
    }
    rows = []
    for key, label in names.items():
        cells = [_figure(evaluation.get(side, {}), key) for side in ("model", "baseline")]
        if cells[0] != "n/a" or cells[1] != "n/a":
            rows.append([label, *cells])
    return rows


def _claim_rows(evaluation: Mapping[str, Any]) -> list[list[str]]:
    """(claim kind, model, baseline) rows: the share of answers with a failing claim of each
    kind, with its interval and n; empty when the report has no claim checks."""
    kinds = evaluation.get("model", {}).get("claims", {}).get("kinds", {})
    return [
        [
            CLAIM_KIND_NAMES.get(kind, kind),
            *(
                _figure(evaluation.get(side, {}), f"claims.kinds.{kind}.answers")
                for side in ("model", "baseline")
            ),
        ]
        for kind in kinds
    ]


def _comparison_rows(evaluation: Mapping[str, Any]) -> list[dict[str, str]]:
    """The models compared side by side (eval.json's `comparison`), when models other than
    this one and its base were scored; empty otherwise."""
    if not evaluation.get("compare"):
        return []
    rows = []
    for entry in evaluation.get("comparison", []):
        identity = _section_of(evaluation, entry).get("identity", {})
        rows.append(
            {
                "role": "this model" if entry["role"] == "model" else entry["role"],
                "name": Path(identity.get("run_dir") or entry["name"]).name,
                "method": entry.get("method") or "unknown",
                **{
                    key: _figure(entry, key)
                    for key in ("accuracy", "reason_recall", "claim_faithfulness", "verified")
                },
            }
        )
    return rows


def _section_of(evaluation: Mapping[str, Any], entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """The report section a comparison entry summarises."""
    if entry["role"] in ("model", "baseline"):
        section: Mapping[str, Any] = evaluation.get(entry["role"], {})
        return section
    return next((c for c in evaluation.get("compare", []) if c["name"] == entry["name"]), {})


def _figure(scored: Mapping[str, Any], dotted: str) -> str:
    value: Any = scored
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, Mapping) and "value" in value:
        if value["value"] is None:
            return "n/a"
        return f"{value['value']:.3f} [{value['low']:.3f}, {value['high']:.3f}] n={value['n']:,}"
    if isinstance(value, int | float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.1f}"
    return "n/a"
