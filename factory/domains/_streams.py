"""Several shards synthesized in one vectorised pass, each with the values it has alone.

A shard's rows come from its own generators (`shard_rng(seed, shard, stream)`), which is what
lets any shard be rebuilt alone. Synthesizing shards one by one pays numpy's and polars' per-call
cost (a few microseconds a call, dozens of calls a shard) for every shard. `ShardStreams` is a
numpy Generator look-alike over consecutive shards: each draw of `size` rows (the shards' rows
together) is made shard by shard from each shard's own generator, with the per-row parameters
cut to that shard's rows, and the pieces joined. A synthesizer whose draws are all one value per
row and whose arithmetic reads each row alone (as a shard's own rows never depend on how many
rows it has) then gives, on the joined rows, exactly the values each shard gives alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np


class ShardLike(Protocol):
    """A shard as the domains see it (factory.synth.Shard is one): rows offset..offset+size-1."""

    @property
    def index(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def size(self) -> int: ...


#: Generator methods ShardStreams draws, with their parameters in order: (names, the ones that
#: may hold one value per row). The last name is `size`.
_METHODS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "random": (("size",), frozenset()),
    "standard_normal": (("size",), frozenset()),
    "integers": (("low", "high", "size"), frozenset({"low", "high"})),
    "uniform": (("low", "high", "size"), frozenset({"low", "high"})),
    "normal": (("loc", "scale", "size"), frozenset({"loc", "scale"})),
    "lognormal": (("mean", "sigma", "size"), frozenset({"mean", "sigma"})),
    "gamma": (("shape", "scale", "size"), frozenset({"shape", "scale"})),
    "beta": (("a", "b", "size"), frozenset({"a", "b"})),
    "poisson": (("lam", "size"), frozenset({"lam"})),
    "binomial": (("n", "p", "size"), frozenset({"n", "p"})),
    "exponential": (("scale", "size"), frozenset({"scale"})),
    "choice": (("a", "size", "replace", "p"), frozenset()),
}


class ShardStreams:
    """One stream of draws for consecutive shards: shard i's rows come from `generators[i]`.

    Args:
        generators: each shard's generator for this stream, in row order.
        sizes: each shard's rows.
    """

    def __init__(self, generators: Sequence[np.random.Generator], sizes: Sequence[int]) -> None:
        if len(generators) != len(sizes):
            raise ValueError("ShardStreams needs one generator per shard")
        bounds = np.cumsum([0, *sizes]).tolist()
        self._segments = list(zip(generators, bounds, bounds[1:], strict=False))
        self.rows = bounds[-1]

    def __getattr__(self, name: str) -> Callable[..., np.ndarray]:
        if name not in _METHODS:
            raise AttributeError(f"ShardStreams draws no {name!r} (add it to _METHODS)")
        names, per_row = _METHODS[name]

        def draw(*args: Any, **kwargs: Any) -> np.ndarray:
            bound = dict(zip(names, args, strict=False)) | kwargs
            size = bound.get("size")
            if size is None and not any(_is_per_row(bound.get(k), self.rows) for k in per_row):
                raise TypeError(f"ShardStreams.{name}: a draw must give one value per row")
            if size is not None and size != self.rows:
                raise TypeError(
                    f"ShardStreams.{name}: size {size!r} is not one value per row ({self.rows})"
                )
            cut = [k for k in per_row if _is_per_row(bound.get(k), self.rows)]
            pieces = []
            for generator, start, end in self._segments:
                own = bound.copy()
                for k in cut:
                    own[k] = bound[k][start:end]
                if size is not None:
                    own["size"] = end - start
                pieces.append(getattr(generator, name)(**own))
            return np.concatenate(pieces)

        return draw


def _is_per_row(value: Any, rows: int) -> bool:
    return isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == rows
