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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from factory.domains.fact import Fact
from factory.domains.rules.extend import EXTENSION_FIELDS
from factory.domains.rules.spec import InputSpec, QuantitySpec, RuleSpec

if TYPE_CHECKING:
    # Annotations only: the registry and the recipe schema load without numpy or polars, so
    # `fin-factory --help` starts at once. The domain packages import them for real.
    import numpy as np
    import polars as pl

    from factory.domains._documents import Corpus, Grounding, Passage
    from factory.domains._streams import ShardLike
    from factory.domains.rules import RuleTable
    from factory.domains.rules.prompt import PolicyPrompt


#: The pydantic validation context key set while a recipe *file* is validated: fields that only
#: fin-factory itself may set (a run's prepared paths) refuse values from it.
FROM_RECIPE_FILE = "from_recipe_file"


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
    """Base of every domain's policy thresholds (the recipe's `policy:` section).

    Besides the domain's own thresholds, every policy may extend the domain's rule table in
    YAML (factory.domains.rules.extend): `params`, `quantities`, `rules`, `disable`, and the
    `inputs` filled in from `profiles.columns`. Empty extensions are left out of model_dump, so
    a policy without them dumps (and hashes into policy_version) as before they existed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    inputs: dict[str, InputSpec] = Field(
        default_factory=dict,
        description="Extra input columns the rules may read: filled in from profiles.columns "
        "when the recipe loads (what is written here is replaced).",
    )
    params: dict[str, float | int | bool | str] = Field(
        default_factory=dict,
        description="New policy parameters the recipe's rules and quantities use "
        "(min_years_in_business: 2); a built-in threshold is set by its own field.",
    )
    quantities: dict[str, QuantitySpec] = Field(
        default_factory=dict,
        description="Derived quantities: name -> {expr, unit, round, label, aliases, applies}.",
    )
    rules: list[RuleSpec] = Field(
        default_factory=list,
        description="Rules added after the built-in rules of the same tier (code, outcome, "
        "when, quantity, text, ...).",
    )
    disable: list[str] = Field(
        default_factory=list, description="Reason codes of rules to switch off."
    )

    @model_serializer(mode="wrap")
    def _without_empty_extensions(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in EXTENSION_FIELDS:
                if name in data and not data[name]:
                    del data[name]
        return data

    # (id of the policy, its hash), for the same reason as _rule_table below.
    _hash: Any = PrivateAttr(None)

    def __hash__(self) -> int:
        # The YAML extensions are dicts and lists, which pydantic's frozen-model hash cannot
        # hash; the policy's JSON can. Computed once per object: domains cache per policy.
        cached = self._hash
        if cached is None or cached[0] != id(self):
            cached = (id(self), hash(self.model_dump_json()))
            self._hash = cached
        return int(cached[1])

    # (id of the policy it was built for, the table): model_copy copies private attributes,
    # so the id tells a copy (whose fields may differ) from the object the table was built for.
    _rule_table: Any = PrivateAttr(None)


class DistributionBase(StrictNumbers):
    """Base of every domain's distribution knobs (the recipe's `profiles.distribution:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


Writer = Callable[[Mapping[str, Any], PolicyBase, random.Random], str]


@dataclass(frozen=True)
class Polish:
    """The second step of a two-step answer at serving time.

    The fine-tuned model extracts the structured facts (its answer); `extract` keeps the part
    the base model may rely on, and the base model, prompted with `template` (a file under the
    domain's prompts/ folder, rendered with `extraction`, `decision`, `reasons` and `row`),
    turns it into a polished paragraph for the customer.

    Attributes:
        template: file name of the base model's user prompt under prompts/.
        extract: the fine-tuned model's <answer> -> the facts the paragraph is written from.
    """

    template: str
    extract: Callable[[str], str]


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
    #: the output ends with a customer-facing `<answer>` block after the reasons.
    has_answer: bool = False
    #: serving: a second step by the base model (None: the fine-tuned model's answer is final).
    polish: Polish | None = None


@dataclass(frozen=True)
class RegulatoryNotes:
    """What a model card says about the law around a domain's outputs (Markdown).

    Attributes:
        ai_act: the EU AI Act classification of a system built on the model.
        reasons: the paragraph that introduces the table of reason codes and texts.
    """

    ai_act: str
    reasons: str


@dataclass(frozen=True)
class ScreeningMetrics:
    """A screening domain's error rates, which evaluation reports and the model card leads with.

    Attributes:
        key: the section of eval.json that holds them.
        legitimate: the label that lets a case through; every other label flags it.
        false_positive: how the card names the rate of legitimate cases flagged.
        false_negative: how the card names the rate of flagged cases let through.
    """

    key: str
    legitimate: str
    false_positive: str
    false_negative: str


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
    #: screening error rates evaluation reports (None: the domain is not a screen).
    screening: ClassVar[ScreeningMetrics | None] = None
    #: synthesis-only columns (the latent ground truth of a simulation), never part of a case.
    latent_columns: ClassVar[tuple[str, ...]] = ()
    #: case columns that identify a person; the audit log stores, hashes or redacts them.
    pii_columns: ClassVar[tuple[str, ...]] = ()

    #: the domain's vectorised profile generator, called with the keyword arguments of
    #: `synthesize` (its policy and distribution already checked to be the domain's own).
    synthesizer: ClassVar[Callable[..., pl.DataFrame]]
    #: the same rows for several consecutive shards in one vectorised call (each shard's draws
    #: from its own generators, see factory.domains._streams), given `shards` and the keyword
    #: arguments of `synthesize` but shard, offset and n; None: one `synthesizer` call a shard.
    shards_synthesizer: ClassVar[Callable[..., pl.DataFrame] | None] = None
    #: the domain's citeable numbers: (row, the domain's policy) -> facts; None derives them
    #: from the rule table (factory.domains.rules.facts).
    fact_finder: ClassVar[Callable[..., dict[str, Fact]] | None] = None
    #: the domain's built-in rule table: (policy, policy_version, max_reasons) -> RuleTable;
    #: None for a domain whose policy is not a table yet.
    table_builder: ClassVar[Callable[..., RuleTable] | None] = None
    #: a recipe section of the domain's own, (key, model), e.g. the knowledge domain's
    #: ("knowledge", KnowledgeSettings); its value reaches the synthesizer as `settings`.
    settings_section: ClassVar[tuple[str, type[BaseModel]] | None] = None
    #: verifiers the domain adds to a recipe's default `filters.verifiers`.
    extra_verifiers: ClassVar[tuple[str, ...]] = ()

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
        columns: Mapping[str, Any] | None = None,
        settings: BaseModel | None = None,
    ) -> pl.DataFrame:
        """Draws `n` profiles (rows offset .. offset+n-1 of the run) for one shard.

        Every random draw comes from `shard_rng(seed, shard, ...)`, so a shard is reproducible
        on its own. `boundary_fraction` of the rows are drawn close to the policy thresholds.
        `columns` are the recipe's extra columns (profiles.columns), sampled after the domain's.
        `settings` is the recipe's `settings_section`, for a domain that has one.
        """
        extra = {"settings": settings} if self.settings_section is not None else {}
        frame = type(self).synthesizer(
            n,
            seed=seed,
            shard=shard,
            offset=offset,
            locale=locale,
            distribution=self._own(distribution, self.distribution_model),
            policy=self._own(policy, self.policy_model),
            boundary_fraction=boundary_fraction,
            **extra,
        )
        if not columns:
            return frame
        from factory.domains.rules.columns import sample_columns

        return sample_columns(frame, columns, seed=seed, shard=shard, locale=locale)

    def synthesize_shards(
        self,
        shards: Sequence[ShardLike],
        *,
        seed: int,
        locale: str,
        distribution: DistributionBase,
        policy: PolicyBase,
        boundary_fraction: float,
        columns: Mapping[str, Any] | None = None,
        settings: BaseModel | None = None,
    ) -> pl.DataFrame:
        """The profiles of several shards, in order: the rows `synthesize` draws for each.

        A domain with a `shards_synthesizer` draws them in one vectorised pass; the others (and
        recipes with extra columns, sampled per shard) one shard at a time.
        """
        together = type(self).shards_synthesizer
        if together is None or columns or self.settings_section is not None or len(shards) == 1:
            frames = [
                self.synthesize(
                    shard.size,
                    seed=seed,
                    shard=shard.index,
                    offset=shard.offset,
                    locale=locale,
                    distribution=distribution,
                    policy=policy,
                    boundary_fraction=boundary_fraction,
                    columns=columns,
                    settings=settings,
                )
                for shard in shards
            ]
            if len(frames) == 1:
                return frames[0]
            import polars as pl

            return pl.concat(frames, how="vertical")
        return together(
            shards,
            seed=seed,
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
        finder = type(self).fact_finder
        if finder is None:
            from factory.domains.rules.facts import table_facts

            return table_facts(self.rule_table(policy), row)
        return finder(row, self._own(policy, self.policy_model))

    def fact_pairs(
        self, row: Mapping[str, Any], policy: PolicyBase
    ) -> Mapping[str, tuple[Any, bool]]:
        """The facts of `facts` as (value, percent) pairs only, cheaper to build: what the
        numbers verifier and the stored `facts` column read."""
        kind = type(self)
        if kind.fact_finder is None and kind.facts is Domain.facts:
            # The rule table's facts, unless the domain finds or adds its own.
            from factory.domains.rules.facts import fact_pairs

            return fact_pairs(self.rule_table(policy), row)
        return self.facts(row, policy)

    def regulatory_notes(self) -> RegulatoryNotes:
        """The model card's regulatory paragraphs for this domain; domains override it."""
        return RegulatoryNotes(
            ai_act="The deployer must classify its own use of this model under the EU AI Act "
            "(Article 6 and Annex III).",
            reasons="**Reason codes.** The model names at most "
            f"{self.max_principal_reasons} reason codes, most severe first; the codes and texts:",
        )

    def rule_table(self, policy: PolicyBase) -> RuleTable:
        """The domain's rule table for `policy`: the built-in table with the policy's thresholds
        plus the recipe's YAML extensions (already validated). Built once per policy object.

        Raises:
            NotImplementedError: the domain declares no table (`table_builder` is None).
        """
        policy = self._own(policy, self.policy_model)
        cached = policy._rule_table
        if cached is not None and cached[0] == id(policy):
            table: RuleTable = cached[1]
            return table
        builder = type(self).table_builder
        if builder is None:
            raise NotImplementedError(f"the {self.name} domain has no rule table")
        from factory.domains.rules.extend import extend_table

        table = extend_table(
            builder(policy, self.policy_version(policy), self.max_principal_reasons), policy
        )
        policy._rule_table = (id(policy), table)
        return table

    def reason_texts_for(self, policy: PolicyBase) -> Mapping[str, str]:
        """Reason code -> adverse-action text under `policy`: the rule table's (a recipe's own
        rules included, disabled ones left out), else the domain's `reason_texts`."""
        if type(self).table_builder is None:
            return self.reason_texts
        return self.rule_table(policy).reason_texts()

    def policy_prompt(self, policy: PolicyBase, style: str = "full") -> PolicyPrompt | None:
        """The policy as the system prompt states it (factory.domains.rules.prompt), in the
        recipe's `prompts.policy` style; None for a domain without a rule table."""
        if type(self).table_builder is None:
            return None
        from factory.domains.rules.prompt import PolicyPrompt

        return PolicyPrompt(self.rule_table(policy), style)

    def corpus(
        self, settings: BaseModel | None, seed: int, passages: Sequence[Passage] | None = None
    ) -> Corpus | None:
        """The documents a document-grounded domain's questions are about (None for the
        others); with `passages`, a user's documents read by the run, the corpus built on them."""
        return None

    def grounding(self, row: Mapping[str, Any]) -> Grounding | None:
        """What the grounding verifier checks a row's answer against (None: nothing)."""
        return None

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

    words = (seed, shard, stream)
    if all(0 <= word < 2**32 for word in words):
        # The same entropy words as the list gives (each int below 2**32 is one uint32 word),
        # without the list's per-int coercion: a third of the cost, paid per shard and stream.
        entropy: Any = np.array(words, dtype=np.uint32)
    else:
        entropy = list(words)
    return np.random.default_rng(np.random.SeedSequence(entropy))
