"""The small interface every domain implements.

A domain is one package under factory/domains/ that knows how to synthesize realistic profiles
(numpy + pre-drawn Faker value pools, vectorised, seeded), how to label them with a deterministic
policy engine, which numbers its explanations may cite, and how the template teacher writes
each of its tasks. Nothing else in fin-factory knows a domain's columns.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

if TYPE_CHECKING:
    # Annotations only: the registry and the recipe schema load without numpy or polars, so
    # `fin-factory --help` starts at once. The domain packages import them for real.
    import numpy as np
    import polars as pl


class Fact(NamedTuple):
    """A number an explanation may cite.

    Attributes:
        value: the exact value the engine computed.
        percent: True when the value is a fraction that text may show as a percentage
            (0.4312 may be cited as 43.1% or 0.43).
    """

    value: float
    percent: bool = False


class StrictNumbers(BaseModel):
    """A recipe section whose integer and float fields refuse booleans.

    pydantic reads `count: true` as 1 and `rate: false` as 0.0; in a recipe that is a typo, not
    a number. An int is still accepted where a float is expected.
    """

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        errors = [
            InitErrorDetails(type=_BOOL_NUMBER, loc=(name,), input=data[name])
            for name, field in cls.model_fields.items()
            if name in data and _bool_where_number(data[name], field.annotation)
        ]
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return data


_BOOL_NUMBER = PydanticCustomError("bool_number", "expected a number, not a boolean")


def _bool_where_number(value: Any, annotation: Any) -> bool:
    """True when `value` holds a boolean where `annotation` expects an int or float."""
    if isinstance(value, bool):
        kinds = _leaf_types(annotation)
        return bool(kinds & {int, float}) and bool not in kinds and Any not in kinds
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, UnionType):
        return any(_bool_where_number(value, arg) for arg in args if arg is not type(None))
    if origin in (list, tuple, set, frozenset) and isinstance(value, list | tuple) and args:
        return any(_bool_where_number(item, args[0]) for item in value)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return any(_bool_where_number(item, args[1]) for item in value.values())
    return False


def _leaf_types(annotation: Any) -> set[Any]:
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(_leaf_types(arg) for arg in get_args(annotation)))
    if get_origin(annotation) is Annotated:
        return _leaf_types(get_args(annotation)[0])
    return {annotation}


class PolicyBase(StrictNumbers):
    """Base of every domain's policy thresholds (the recipe's `policy:` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DistributionBase(StrictNumbers):
    """Base of every domain's distribution knobs (the recipe's `profiles.distribution:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Writer = Callable[[Mapping[str, Any], PolicyBase, random.Random], str]


@dataclass(frozen=True)
class Task:
    """One supervised task a domain offers (a recipe names it with `task:`).

    Attributes:
        name: registry key, e.g. "decision_cot".
        description: one line for `recipes list` and the dataset card.
        system_template: file name of the system prompt under the domain's prompts/ folder.
        user_template: file name of the user prompt template under prompts/.
        write: the template teacher: (row with facts, policy, seeded rng) -> assistant message
            in the format of factory.output.
    """

    name: str
    description: str
    system_template: str
    user_template: str
    write: Writer


class Domain(ABC):
    """A finance domain: profiles, policy engine, citeable facts, tasks."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    engine_version: ClassVar[str]
    #: column that identifies a profile (unique per row).
    id_column: ClassVar[str]
    #: column that groups rows about the same person/account; splits never cut a group.
    subject_column: ClassVar[str]
    labels: ClassVar[tuple[str, ...]]
    #: labels whose output must name principal reasons.
    adverse_labels: ClassVar[frozenset[str]]
    #: reason code -> adverse-action text a lender or issuer could send.
    reason_texts: ClassVar[Mapping[str, str]]
    #: audit-only attributes the policy never reads (fairness audits use them).
    protected_columns: ClassVar[tuple[str, ...]]
    policy_model: ClassVar[type[PolicyBase]]
    distribution_model: ClassVar[type[DistributionBase]]
    tasks: ClassVar[Mapping[str, Task]]
    #: ECOA/Reg B asks for the principal reasons, at most four.
    max_principal_reasons: ClassVar[int] = 4
    #: numeric columns `fin-factory inspect` plots by decision (the ones analysts look at first).
    plot_columns: ClassVar[tuple[str, ...]] = ()

    #: the domain's vectorised profile generator, called with the keyword arguments of
    #: `synthesize` (its policy and distribution already checked to be the domain's own).
    synthesizer: ClassVar[Callable[..., pl.DataFrame]]
    #: the domain's citeable numbers: (row, the domain's policy) -> facts.
    fact_finder: ClassVar[Callable[..., dict[str, Fact]]]

    def synthesize(
        self,
        n: int,
        *,
        seed: int,
        shard: int,
        offset: int,
        locale: str,
        distribution: DistributionBase,
        policy: PolicyBase,
        boundary_fraction: float,
    ) -> pl.DataFrame:
        """Draws `n` profiles (rows offset .. offset+n-1 of the run) for one shard.

        Every random draw comes from `shard_rng(seed, shard, ...)`, so a shard is reproducible
        on its own. `boundary_fraction` of the rows are drawn close to the policy thresholds.
        """
        return type(self).synthesizer(
            n,
            seed=seed,
            shard=shard,
            offset=offset,
            locale=locale,
            distribution=self._own(distribution, self.distribution_model),
            policy=self._own(policy, self.policy_model),
            boundary_fraction=boundary_fraction,
        )

    @abstractmethod
    def decide(self, profiles: pl.DataFrame, policy: PolicyBase) -> pl.DataFrame:
        """Labels profiles: adds every derived number, `decision`, `reason_codes` (principal
        reasons first) and `policy_version`. Vectorised, pure, deterministic."""

    def facts(self, row: Mapping[str, Any], policy: PolicyBase) -> dict[str, Fact]:
        """The numbers an explanation of this row may cite: inputs, derived values, thresholds,
        and values derivable from them (e.g. the gap between DTI and its limit)."""
        return type(self).fact_finder(row, self._own(policy, self.policy_model))

    def _own(self, value: Any, kind: type) -> Any:
        """`value`, checked to be this domain's policy or distribution model."""
        if not isinstance(value, kind):
            raise TypeError(f"{self.name} expects a {kind.__name__}, got {type(value).__name__}")
        return value

    def policy_version(self, policy: PolicyBase) -> str:
        """Engine version plus a short hash of the thresholds, e.g. 'lending-1.0.0+3f9a1c2b'."""
        blob = json.dumps(policy.model_dump(mode="json"), sort_keys=True).encode()
        return f"{self.name}-{self.engine_version}+{hashlib.sha256(blob).hexdigest()[:8]}"

    @property
    def prompt_dir(self) -> Path:
        """Folder holding this domain's Jinja prompt templates."""
        module = sys.modules[type(self).__module__]
        return Path(str(module.__file__)).resolve().parent / "prompts"

    def label(self, profiles: pl.DataFrame, policy: PolicyBase) -> pl.DataFrame:
        """`decide` plus the checks every engine must satisfy."""
        out = self.decide(profiles, policy)
        missing = {"decision", "reason_codes", "policy_version"} - set(out.columns)
        if missing:
            raise TypeError(f"{self.name}.decide() did not add {sorted(missing)}")
        return out


def shard_rng(seed: int, shard: int, stream: int = 0) -> np.random.Generator:
    """The random generator for one shard and one stream of draws within it."""
    import numpy as np

    return np.random.default_rng(np.random.SeedSequence([seed, shard, stream]))
