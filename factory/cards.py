"""Dataset and model cards, rendered from cards/*.md.j2 through huggingface_hub's card classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from factory.recipe import RecipeBase

CARDS_DIR = Path(__file__).resolve().parent.parent / "cards"


def size_category(n: int) -> str:
    """The Hub's size_categories bucket for n examples."""
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return name
    return "10M<n<100M"


def render_first_dataset_card(recipe: RecipeBase, manifest: dict[str, Any]) -> str:
    """The dataset card written next to a generated dataset."""
    domain = recipe.domain_impl
    splits = [s for s, n in manifest["splits"].items() if n]
    card_data = DatasetCardData(
        language="en",
        license=(recipe.publish.license if recipe.publish else None) or "other",
        pretty_name=recipe.name,
        size_categories=size_category(manifest["counts"]["kept"]),
        task_categories=["text-generation"],
        tags=[
            "synthetic",
            "finance",
            domain.name.replace("_", "-"),
            "chain-of-thought",
            "fin-factory",
        ],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in splits],
            }
        ],
    )
    split_rows = [
        [split, f"{count:,}", *(f"{manifest['labels'][split][label]:,}" for label in domain.labels)]
        for split, count in manifest["splits"].items()
    ]
    card = DatasetCard.from_template(
        card_data,
        template_path=str(CARDS_DIR / "dataset_first.md.j2"),
        recipe=recipe,
        domain=domain,
        manifest=manifest,
        split_header=["split", "examples", *domain.labels],
        split_rows=split_rows,
        has_answer=recipe.task != "decision_cot",  # type: ignore[attr-defined]
    )
    return str(card)
