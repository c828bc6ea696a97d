"""Pre-drawn Faker value pools, sampled by index with numpy.

A Faker call per row runs ~3k rows/s; drawing a few thousand values once and gathering them by
index runs at numpy speed. Pools are seeded from the recipe seed alone, so every shard of a run
draws from the same pool.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from faker import Faker

POOL_SIZE = 4096

#: Merchant categories (ISO 18245 style), with a typical-ticket log-mean and log-sigma in dollars
#: and whether fraud teams treat them as high-risk.
MERCHANT_CATEGORIES: dict[str, tuple[float, float, bool]] = {
    "grocery": (3.7, 0.6, False),
    "restaurants": (3.4, 0.6, False),
    "fuel": (3.6, 0.4, False),
    "pharmacy": (3.2, 0.6, False),
    "utilities": (4.6, 0.5, False),
    "apparel": (4.1, 0.7, False),
    "travel": (6.0, 0.8, False),
    "online_retail": (4.0, 0.9, False),
    "entertainment": (3.8, 0.7, False),
    "electronics": (5.3, 0.9, True),
    "jewelry": (5.9, 1.0, True),
    "gift_cards": (4.6, 0.6, True),
    "money_transfer": (5.5, 1.0, True),
    "crypto_exchange": (6.0, 1.1, True),
    "gambling": (4.9, 1.0, True),
}


@dataclass(frozen=True)
class Pools:
    """Value pools for one (locale, seed). Each is a polars Series of POOL_SIZE strings."""

    first_names_female: pl.Series
    first_names_male: pl.Series
    last_names: pl.Series
    cities: pl.Series
    states: pl.Series
    street_addresses: pl.Series
    employers: pl.Series
    job_titles: pl.Series
    #: log-scale pay premium per job title, drawn once per title (income correlates with job).
    job_pay_premium: np.ndarray
    merchants: pl.Series
    countries: pl.Series

    def take(self, pool: pl.Series, index: np.ndarray) -> pl.Series:
        """Gathers pool values at `index` (an int array) as a new Series."""
        return pool.gather(pl.Series(index, dtype=pl.UInt32))

    def draw(self, pool: pl.Series, rng: np.random.Generator, n: int) -> pl.Series:
        """Draws `n` values uniformly from `pool`."""
        return self.take(pool, rng.integers(0, pool.len(), n))


#: When set, the folder where drawn pools are kept (a generation run whose user cache cannot be
#: written points its step processes at its own work folder); otherwise they are kept in the
#: user's cache (`pool_cache_dir`).
POOL_CACHE_ENV = "FIN_FACTORY_POOL_CACHE"
_STRING_POOLS = (
    "first_names_female", "first_names_male", "last_names", "cities", "states",
    "street_addresses", "employers", "job_titles", "merchants", "countries",
)  # fmt: skip


def pool_cache_dir() -> Path:
    """Where drawn value pools are kept: $FIN_FACTORY_POOL_CACHE, else
    $XDG_CACHE_HOME/fin-factory/pools (~/.cache/fin-factory/pools when XDG_CACHE_HOME is unset).

    Drawing the pools is a few seconds of Faker calls; reading them back is milliseconds, so
    every command after the first starts at once.
    """
    folder = os.environ.get(POOL_CACHE_ENV)
    if folder:
        return Path(folder)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "fin-factory" / "pools"


def pool_cache_path(locale: str, seed: int) -> Path:
    """The cache file of one locale and seed; Faker's version is in the name, since another
    version may draw other values for the same seed."""
    name = f"pools-{locale}-{seed}-{POOL_SIZE}-faker{_faker_version()}.parquet"
    return pool_cache_dir() / name


@cache
def _faker_version() -> str:
    # From the installed distribution, not `faker.VERSION`: importing Faker scans its locales
    # (~35 ms), which a run whose pools are cached never needs.
    return version("faker")


@lru_cache(maxsize=8)
def value_pools(locale: str, seed: int) -> Pools:
    """The pools for a locale and seed: read from the pool cache, else drawn and kept there.

    A cache file that cannot be read back as the pools it should hold (truncated, edited, from
    another layout) is drawn again and replaced; a cache folder that cannot be written only
    costs the next process the same draw.
    """
    path = pool_cache_path(locale, seed)
    pools = _read_pools(path)
    if pools is None:
        pools = _draw_pools(locale, seed)
        _write_pools(pools, path)
    return pools


def _read_pools(path: Path) -> Pools | None:
    try:
        frame = pl.read_parquet(path)
        pools = Pools(
            **{name: frame[name].cast(pl.String) for name in _STRING_POOLS},
            job_pay_premium=frame["job_pay_premium"].cast(pl.Float64).to_numpy(),
        )
    except Exception:  # missing, or unreadable as pools: drawn again, never fatal
        return None
    if frame.height != POOL_SIZE or frame.null_count().sum_horizontal().item():
        return None
    return pools


def _write_pools(pools: Pools, path: Path) -> None:
    frame = pl.DataFrame(
        [getattr(pools, name).alias(name) for name in _STRING_POOLS]
        + [pl.Series("job_pay_premium", pools.job_pay_premium)]
    )
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(partial)
        os.replace(partial, path)  # readers see the old file or the whole new one
    except OSError:
        partial.unlink(missing_ok=True)


def _draw_pools(locale: str, seed: int) -> Pools:
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF00D]))

    def pool(fn) -> pl.Series:
        return pl.Series([fn() for _ in range(POOL_SIZE)], dtype=pl.String)

    job_titles = pool(fake.job)
    return Pools(
        first_names_female=pool(fake.first_name_female),
        first_names_male=pool(fake.first_name_male),
        last_names=pool(fake.last_name),
        cities=pool(fake.city),
        states=pool(_state_fn(fake)),
        street_addresses=pool(fake.street_address),
        employers=pool(fake.company),
        job_titles=job_titles,
        job_pay_premium=rng.normal(0.0, 0.25, POOL_SIZE),
        merchants=pool(fake.company),
        countries=pool(fake.country_code),
    )


def _state_fn(fake: Faker):
    # Not every locale has states; fall back to the city's region-like administrative unit.
    for name in ("state_abbr", "state", "administrative_unit", "city"):
        if hasattr(fake, name):
            return getattr(fake, name)
    return fake.city
