"""Extra profile columns a recipe samples (`profiles.columns`), seeded like the rest.

A closed set of samplers: normal, lognormal, uniform, integer (a range), poisson, categorical
(with weights), bernoulli, faker (a pre-drawn Faker value pool) and expr (derived from other
columns by an expression). A numeric sampler's parameters may depend on a categorical column:
with `by: loan_purpose`, each parameter is a number or a mapping from the column's values to
numbers (`other:` covers the values not listed).

Each column draws from its own random stream, derived from the recipe seed, the shard and the
column's name: adding or reordering columns leaves the other columns' values unchanged, and
the same seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from factory.domains.rules.expr import RuleError, parse, to_polars
from factory.domains.rules.spec import Unit

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

#: A sampler parameter: one number, or (with `by:`) a number per value of the by-column.
Number = float | dict[str, float]

#: Faker pools a column may draw from (factory.domains._pools).
POOLS: dict[str, str] = {
    "first_name": "first_names_female",
    "last_name": "last_names",
    "city": "cities",
    "state": "states",
    "street_address": "street_addresses",
    "company": "employers",
    "job": "job_titles",
    "merchant": "merchants",
    "country": "countries",
}


class _Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    label: str | None = Field(
        None, max_length=120, description="How text names the column (default: its name, spaced)."
    )
    unit: Unit | None = Field(
        None,
        description="How text shows it (money, years, fraction, ...); default from the sampler.",
    )
    aliases: list[str] = Field(default_factory=list, description="Other words text may use.")

    def numbers(self) -> dict[str, Number]:
        """The sampler's numeric parameters (those `by:` may vary)."""
        return {}

    @property
    def default_unit(self) -> str:
        return "number"


class _Numeric(_Column):
    by: str | None = Field(
        None,
        description="A categorical column whose value selects each parameter: a parameter is "
        "then a mapping value -> number (`other` for the rest).",
    )
    round: int | None = Field(None, ge=0, le=10, description="Decimals kept.")
    min: float | None = Field(None, description="Values below are raised to this.")
    max: float | None = Field(None, description="Values above are lowered to this.")

    @model_validator(mode="after")
    def _by_needs_mappings(self) -> _Numeric:
        for name, value in self.numbers().items():
            if isinstance(value, dict) and self.by is None:
                raise ValueError(f"{name} is a mapping, which needs `by:` (a categorical column)")
        return self


class NormalColumn(_Numeric):
    """Normal draws."""

    sampler: Literal["normal"] = Field(..., description="Normal distribution.")
    mean: Number = Field(..., description="Mean.")
    sd: Number = Field(..., description="Standard deviation (>= 0).")

    def numbers(self) -> dict[str, Number]:
        return {"mean": self.mean, "sd": self.sd}


class LognormalColumn(_Numeric):
    """Log-normal draws (positive, right-skewed: incomes, revenues, durations)."""

    sampler: Literal["lognormal"] = Field(..., description="Log-normal distribution.")
    median: Number = Field(..., description="Median (> 0).")
    sigma: Number = Field(..., description="Spread on the log scale (>= 0).")

    def numbers(self) -> dict[str, Number]:
        return {"median": self.median, "sigma": self.sigma}


class UniformColumn(_Numeric):
    """Uniform draws on [low, high)."""

    sampler: Literal["uniform"] = Field(..., description="Uniform distribution.")
    low: Number = Field(..., description="Lower bound.")
    high: Number = Field(..., description="Upper bound (>= low).")

    def numbers(self) -> dict[str, Number]:
        return {"low": self.low, "high": self.high}


class IntegerColumn(_Numeric):
    """Whole numbers drawn uniformly from low..high (both included)."""

    sampler: Literal["integer"] = Field(..., description="Integer range.")
    low: Number = Field(..., description="Smallest value.")
    high: Number = Field(..., description="Largest value (>= low).")

    def numbers(self) -> dict[str, Number]:
        return {"low": self.low, "high": self.high}

    @property
    def default_unit(self) -> str:
        return "integer"


class PoissonColumn(_Numeric):
    """Counts from a Poisson distribution."""

    sampler: Literal["poisson"] = Field(..., description="Poisson counts.")
    mean: Number = Field(..., description="Mean count (>= 0).")

    def numbers(self) -> dict[str, Number]:
        return {"mean": self.mean}

    @property
    def default_unit(self) -> str:
        return "count"


class BernoulliColumn(_Numeric):
    """True with probability p."""

    sampler: Literal["bernoulli"] = Field(..., description="A yes/no flag.")
    p: Number = Field(..., description="Probability of true (0..1).")

    def numbers(self) -> dict[str, Number]:
        return {"p": self.p}

    @property
    def default_unit(self) -> str:
        return "boolean"


class CategoricalColumn(_Column):
    """One of a few values, with weights."""

    sampler: Literal["categorical"] = Field(..., description="Categories with weights.")
    values: dict[str, float] = Field(
        ...,
        min_length=1,
        description="Value -> relative weight (weights need not sum to one).",
    )

    @model_validator(mode="after")
    def _weights(self) -> CategoricalColumn:
        if any(w < 0 for w in self.values.values()) or sum(self.values.values()) <= 0:
            raise ValueError("weights must be >= 0 and at least one above 0")
        return self

    @property
    def default_unit(self) -> str:
        return "category"


class FakerColumn(_Column):
    """A value drawn from a pre-drawn Faker pool (seeded from the recipe seed)."""

    sampler: Literal["faker"] = Field(..., description="A Faker value pool.")
    pool: Literal[tuple(POOLS)] = Field(  # type: ignore[valid-type]
        ..., description=f"Which pool: {', '.join(POOLS)}."
    )

    @property
    def default_unit(self) -> str:
        return "category"


class ExprColumn(_Column):
    """A column derived from other columns by an expression."""

    sampler: Literal["expr"] = Field(..., description="Derived by an expression.")
    expr: str = Field(
        ...,
        min_length=1,
        max_length=500,
        description="Expression over input columns and earlier profiles.columns.",
    )
    round: int | None = Field(None, ge=0, le=10, description="Decimals kept.")


ColumnSpec = Annotated[
    Union[  # noqa: UP007
        NormalColumn,
        LognormalColumn,
        UniformColumn,
        IntegerColumn,
        PoissonColumn,
        BernoulliColumn,
        CategoricalColumn,
        FakerColumn,
        ExprColumn,
    ],
    Field(discriminator="sampler"),
]


#: The sampler names (the `sampler:` tag of each column model).
SAMPLERS: tuple[str, ...] = (
    "normal",
    "lognormal",
    "uniform",
    "integer",
    "poisson",
    "bernoulli",
    "categorical",
    "faker",
    "expr",
)


def column_unit(spec: Any, kind: str | None = None) -> str:
    """The unit of a column: its own, or the sampler's default (an expr column's from its type)."""
    if spec.unit is not None:
        return str(spec.unit)
    if isinstance(spec, ExprColumn):
        return {"bool": "boolean", "cat": "category"}.get(kind or "num", "number")
    return spec.default_unit


def check_columns(
    columns: Mapping[str, Any],
    known: Mapping[str, str],
    categories: Mapping[str, tuple[str, ...]],
    taken: Collection[str] = (),
    path: str = "profiles.columns",
) -> dict[str, str]:
    """Checks the columns against the names already known, in order.

    Args:
        columns: name -> ColumnSpec.
        known: the domain's input columns -> kind (what a column may read).
        categories: categorical column -> its values, where known.
        taken: every other name of the table (derived quantities, params).
        path: field path of the section, for errors.

    Returns:
        Each column's unit.

    Raises:
        RuleError: a name already taken, a `by:` that is not a categorical column, a mapping
            missing a value, a bad expression, an impossible parameter.
    """
    names = dict(known)
    values = dict(categories)
    units: dict[str, str] = {}
    for name, spec in columns.items():
        at = f"{path}.{name}"
        if name in known or name in taken:
            raise RuleError(at, f"{name!r} is already a column, quantity or param of the domain")
        if not name.isidentifier() or not name.islower():
            raise RuleError(at, "a column name is lower-case letters, digits and _")
        kind = None
        if isinstance(spec, ExprColumn):
            kind = parse(spec.expr, names, path=f"{at}.expr").kind
        if isinstance(spec, _Numeric):
            _check_numbers(spec, at, names, values)
        if isinstance(spec, CategoricalColumn):
            values[name] = tuple(spec.values)
        unit = column_unit(spec, kind)
        units[name] = unit
        names[name] = {"boolean": "bool", "category": "cat"}.get(unit, "num")
    return units


def _check_numbers(
    spec: _Numeric, at: str, names: Mapping[str, str], values: Mapping[str, tuple[str, ...]]
) -> None:
    if spec.by is not None:
        if names.get(spec.by) != "cat":
            raise RuleError(f"{at}.by", f"{spec.by!r} is not a categorical column")
        known = values.get(spec.by)
        for param, number in spec.numbers().items():
            if not isinstance(number, dict):
                continue
            if known is not None:
                unknown = sorted(set(number) - set(known) - {"other"})
                if unknown:
                    raise RuleError(
                        f"{at}.{param}.{unknown[0]}",
                        f"{spec.by} has no value {unknown[0]!r}; its values: {', '.join(known)}",
                    )
            missing = [] if "other" in number else sorted(set(known or ()) - set(number))
            if "other" not in number and (known is None or missing):
                raise RuleError(
                    f"{at}.{param}",
                    f"no value for {spec.by} {missing[0]!r} (add it or `other:`)"
                    if missing
                    else f"the values of {spec.by} are not known here: add `other:`",
                )
    for param, number in spec.numbers().items():
        for value in number.values() if isinstance(number, dict) else (number,):
            problem = _bad_parameter(spec, param, value)
            if problem:
                raise RuleError(f"{at}.{param}", problem)
    if isinstance(spec, UniformColumn | IntegerColumn):
        lows, highs = _flat(spec.low), _flat(spec.high)
        for key in set(lows) | set(highs):
            low = lows.get(key, lows.get("", lows.get("other")))
            high = highs.get(key, highs.get("", highs.get("other")))
            if low is not None and high is not None and low > high:
                raise RuleError(f"{at}.high", f"high ({high:g}) is below low ({low:g})")


def _flat(number: Number) -> dict[str, float]:
    return dict(number) if isinstance(number, dict) else {"": number}


def _bad_parameter(spec: _Numeric, param: str, value: float) -> str | None:
    if param in ("sd", "sigma") and value < 0:
        return f"{param} must be >= 0, got {value:g}"
    if param == "median" and value <= 0:
        return f"median must be > 0, got {value:g}"
    if param == "p" and not 0 <= value <= 1:
        return f"p must be between 0 and 1, got {value:g}"
    if param == "mean" and isinstance(spec, PoissonColumn) and value < 0:
        return f"mean must be >= 0, got {value:g}"
    return None


def _stream(seed: int, shard: int, name: str) -> np.random.Generator:
    import numpy as np

    # The name, not the position, picks the stream: a new column never moves another's draws.
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([seed, shard, 0xC01, digest]))


def _parameter(frame: pl.DataFrame, by: str | None, number: Number) -> np.ndarray | float:
    import numpy as np
    import polars as pl

    if not isinstance(number, dict):
        return float(number)
    assert by is not None  # checked by check_columns
    other = number.get("other")
    mapping = {k: float(v) for k, v in number.items() if k != "other"}
    series = (
        frame[by].cast(pl.String).replace_strict(mapping, default=other, return_dtype=pl.Float64)
    )
    return series.fill_null(np.nan if other is None else other).to_numpy()


def sample_columns(
    frame: pl.DataFrame,
    columns: Mapping[str, Any],
    *,
    seed: int,
    shard: int,
    locale: str,
) -> pl.DataFrame:
    """`frame` with the recipe's columns added, in order (each sees the ones before it)."""
    import numpy as np
    import polars as pl

    n = frame.height
    for name, spec in columns.items():
        rng = _stream(seed, shard, name)
        if isinstance(spec, ExprColumn):
            kinds = {c: _kind(frame[c].dtype) for c in frame.columns}
            node = parse(spec.expr, kinds, path=f"profiles.columns.{name}.expr")
            expr = to_polars(node, pl.col)
            if spec.round is not None:
                expr = expr.round(spec.round)
            frame = frame.with_columns(expr.alias(name))
            continue
        if isinstance(spec, CategoricalColumn):
            labels = list(spec.values)
            weights = np.array([spec.values[v] for v in labels], dtype=np.float64)
            index = rng.choice(len(labels), size=n, p=weights / weights.sum())
            series = pl.Series(labels, dtype=pl.String).gather(pl.Series(index, dtype=pl.UInt32))
        elif isinstance(spec, FakerColumn):
            from factory.domains import _pools

            pools = _pools.value_pools(locale, seed)
            pool = getattr(pools, POOLS[spec.pool])
            series = pools.draw(pool, rng, n)
        else:
            series = _numeric(frame, spec, rng, n)
        frame = frame.with_columns(series.alias(name))
    return frame


def _numeric(frame: pl.DataFrame, spec: _Numeric, rng: np.random.Generator, n: int) -> pl.Series:
    import numpy as np
    import polars as pl

    p = {k: _parameter(frame, spec.by, v) for k, v in spec.numbers().items()}
    values: np.ndarray
    if isinstance(spec, NormalColumn):
        values = rng.normal(p["mean"], p["sd"], n)
    elif isinstance(spec, LognormalColumn):
        values = np.exp(rng.normal(np.log(p["median"]), p["sigma"], n))
    elif isinstance(spec, UniformColumn):
        values = rng.uniform(p["low"], p["high"], n)
    elif isinstance(spec, IntegerColumn):
        low = np.ceil(p["low"]).astype(np.int64)
        high = np.floor(p["high"]).astype(np.int64)
        values = rng.integers(low, high, n, endpoint=True)
    elif isinstance(spec, PoissonColumn):
        values = rng.poisson(p["mean"], n)
    else:
        return pl.Series(rng.random(n) < p["p"], dtype=pl.Boolean)
    if spec.min is not None or spec.max is not None:
        values = np.clip(values, spec.min, spec.max)
    if values.dtype.kind == "f":
        if spec.round is not None:
            values = np.round(values, spec.round)
        return pl.Series(values, dtype=pl.Float64)
    return pl.Series(values.astype(np.int64), dtype=pl.Int64)


def _kind(dtype: pl.DataType) -> str:
    import polars as pl

    if dtype == pl.Boolean:
        return "bool"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "cat"
    return "num"
