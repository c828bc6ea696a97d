"""Sharded synthesis: a recipe's profiles, labelled by its policy engine, one shard at a time.

A run of `count` profiles is cut into shards of `shard_size`; shard i holds rows
[i * shard_size, min(count, (i + 1) * shard_size)). Each shard is drawn from its own seeded
generators, so any shard can be (re)built alone: the unit of progress, resume and parallel work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import polars as pl

from factory.recipe import RecipeBase, domain_settings


@dataclass(frozen=True)
class Shard:
    """One slice of a run: shard `index` covers rows offset .. offset+size-1."""

    index: int
    offset: int
    size: int


def plan_shards(count: int, shard_size: int) -> list[Shard]:
    """Cuts `count` rows into shards of `shard_size` (the last one may be smaller)."""
    return [
        Shard(index=i, offset=start, size=min(shard_size, count - start))
        for i, start in enumerate(range(0, count, shard_size))
    ]


def recipe_shards(recipe: RecipeBase) -> list[Shard]:
    profiles = recipe.profiles
    return plan_shards(profiles.count, profiles.shard_size)


def labelled_shard(recipe: RecipeBase, shard: Shard) -> pl.DataFrame:
    """Synthesizes one shard of profiles and labels it with the recipe's policy."""
    return labelled_shards(recipe, [shard])


def labelled_shards(recipe: RecipeBase, shards: Sequence[Shard]) -> pl.DataFrame:
    """Several consecutive shards, each with the rows `labelled_shard` gives it, synthesized
    (in one vectorised pass where the domain can: see factory.domains._streams) and labelled in
    one call. The engine labels each row from that row alone, so labelling the rows together or
    shard by shard gives the same table."""
    domain = recipe.domain_impl
    profiles = recipe.profiles
    policy = recipe.policy
    frame = domain.synthesize_shards(
        shards,
        seed=profiles.seed,
        locale=profiles.locale,
        distribution=profiles.distribution,
        policy=policy,
        boundary_fraction=profiles.boundary_fraction,
        columns=profiles.columns,
        settings=domain_settings(recipe),
    )
    return domain.label(frame.rechunk(), policy)


def shard_groups(shards: Sequence[Shard], rows: int) -> Iterator[list[Shard]]:
    """Consecutive shards in groups of about `rows` rows (at least one shard each)."""
    group: list[Shard] = []
    size = 0
    for shard in shards:
        group.append(shard)
        size += shard.size
        if size >= rows:
            yield group
            group, size = [], 0
    if group:
        yield group


def iter_labelled(recipe: RecipeBase) -> Iterator[tuple[Shard, pl.DataFrame]]:
    """Every shard of the recipe, labelled, in order."""
    for shard in recipe_shards(recipe):
        yield shard, labelled_shard(recipe, shard)
