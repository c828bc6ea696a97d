"""The short dataset card written next to a freshly generated dataset.

`fin-factory card dataset` (factory/cards.py) renders the full card from the same metadata
helpers; they live here, below the publishing layer, so generation never imports publishing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from factory.dataset import PREFERENCE_DIR
from factory.recipe import RecipeBase

CARDS_DIR = Path(__file__).resolve().parent.parent.parent / "cards"


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


def card_tags(recipe: RecipeBase) -> list[str]:
    return [
        "synthetic",
        "finance",
        recipe.domain_impl.name.replace("_", "-"),
        "chain-of-thought",
        "fin-factory",
    ]


def _configs(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One config per format: `default` (the SFT conversations) and, when the dataset has
    them, `preference` (prompt, chosen, rejected)."""
    formats = {"default": ("data", manifest["splits"])}
    preference = manifest.get("preference")
    if preference:
        formats["preference"] = (PREFERENCE_DIR, preference["splits"])
    return [
        {
            "config_name": name,
            "data_files": [
                {"split": s, "path": f"{folder}/{s}-*.parquet"} for s, n in splits.items() if n
            ],
        }
        for name, (folder, splits) in formats.items()
    ]


def dataset_card_data(
    recipe: RecipeBase, manifest: Mapping[str, Any], license_id: str | None
) -> DatasetCardData:
    """The dataset card's metadata: license, size, task, tags and one config per split."""
    return DatasetCardData(
        language="en",
        license=license_id,
        pretty_name=recipe.name,
        size_categories=size_category(manifest["counts"]["kept"]),
        task_categories=["text-generation"],
        tags=card_tags(recipe),
        configs=_configs(manifest),
    )


def render_first_dataset_card(recipe: RecipeBase, manifest: dict[str, Any]) -> str:
    """The short card written next to a freshly generated dataset (`fin-factory card dataset`
    renders the full one)."""
    domain = recipe.domain_impl
    license_id = recipe.publish.dataset_license if recipe.publish else None
    card = DatasetCard.from_template(
        dataset_card_data(recipe, manifest, license_id),
        template_path=str(CARDS_DIR / "dataset_first.md.j2"),
        recipe=recipe,
        domain=domain,
        manifest=manifest,
        split_header=["split", "examples", *domain.labels],
        split_rows=split_rows(manifest, domain.labels),
        has_answer=domain.tasks[recipe.task].has_answer,
    )
    return str(card)


def split_rows(manifest: Mapping[str, Any], labels: tuple[str, ...]) -> list[list[str]]:
    return [
        [split, f"{count:,}", *(f"{manifest['labels'][split].get(label, 0):,}" for label in labels)]
        for split, count in manifest["splits"].items()
    ]
