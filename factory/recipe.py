"""The recipe schema and `load_recipe()`.

A recipe is a YAML file (loaded with yaml.safe_load only) validated by one pydantic v2 schema with
`extra="forbid"` and a description on every field. The domain-specific parts (`policy:` and
`profiles.distribution:`) come from the domain the recipe names, so each domain gets its own
recipe model; `recipe_json_schema()` joins them into one JSON Schema for editors.

Every validation error is a RecipeError whose message names the file, the field path and what
was expected.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from factory.domains import Domain, domain_names, get_domain
from factory.domains.base import FROM_RECIPE_FILE, DistributionBase, PolicyBase, StrictNumbers
from factory.domains.rules.columns import SAMPLERS, CategoricalColumn, ColumnSpec, check_columns
from factory.domains.rules.expr import RuleError, suggest
from factory.domains.rules.extend import has_extensions, spaced
from factory.domains.rules.spec import InputSpec
from factory.errors import RecipeError, UsageError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"

#: Per-example verifiers, in the order they run (factory.verify runs them; the first failure
#: names the rejection); a recipe's `filters.verifiers` picks among these and "dedup", which
#: runs over the whole dataset instead.
VERIFIER_ORDER = (
    "format",
    "decision",
    "reasons",
    "pii",
    "numbers",
    "claims",
    "grounding",
    "length",
)
DATASET_VERIFIERS = ("dedup",)
#: Every verifier a recipe may select: the per-example ones in the order they run, then dedup.
VERIFIERS = VERIFIER_ORDER + DATASET_VERIFIERS
#: grounding: answers about documents are checked against the passage they cite; a domain
#: adds it to its default (Domain.extra_verifiers).
OPTIONAL_VERIFIERS = ("grounding",)
#: The verifiers every recipe runs unless it lists its own.
DEFAULT_VERIFIERS = tuple(v for v in VERIFIERS if v not in OPTIONAL_VERIFIERS)


class _Section(StrictNumbers):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ProfilesBase(_Section):
    """How many profiles to synthesize and how."""

    count: int = Field(
        1000, gt=0, le=100_000_000, description="Number of profiles to synthesize (> 0)."
    )
    seed: int = Field(
        0, ge=0, le=2**63 - 1, description="Seed of every random draw; same seed, same data."
    )
    locale: str = Field("en_US", description="Faker locale for names, places and employers.")
    boundary_fraction: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Share of profiles drawn close to the policy thresholds (the hard cases).",
    )
    shard_size: int = Field(
        5_000,
        ge=100,
        le=1_000_000,
        description="Profiles per shard: the unit of progress, resume and parallel work.",
    )

    target_kept: int | None = Field(
        None,
        gt=0,
        le=100_000_000,
        description="Keep drawing further shards (after `count` profiles) until this many "
        "examples are kept, or `max_count` profiles have been drawn (then the run fails, "
        "saying how far it got). The dataset holds at least this many kept examples.",
    )
    max_count: int | None = Field(
        None,
        gt=0,
        le=100_000_000,
        description="The attempt cap of `target_kept`: most profiles drawn "
        "[default: 4 x target_kept, at least count].",
    )

    columns: dict[str, ColumnSpec] = Field(
        default_factory=dict,
        description="Extra sampled columns, seeded like the rest: name -> {sampler: normal | "
        "lognormal | uniform | integer | poisson | categorical | bernoulli | faker | expr, its "
        "parameters, by, round, min, max, label, unit, aliases}. The policy's rules and "
        "quantities may read them; the user prompt shows them.",
    )

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value == "en_US":  # Faker's default locale, always there
            return value  # without importing Faker (~35 ms: it scans its locale folders)
        from faker.config import AVAILABLE_LOCALES  # here, not at import: the CLI starts faster

        if value not in AVAILABLE_LOCALES:
            raise ValueError(f"unknown Faker locale {value!r} (e.g. en_US, en_GB, de_DE, fr_FR)")
        return value

    @model_serializer(mode="wrap")
    def _without_empty_columns(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Left out when empty, so recipes without columns keep the content hash they had.
        data = handler(self)
        if isinstance(data, dict) and not data.get("columns", True):
            del data["columns"]
        if isinstance(data, dict):
            for name in ("target_kept", "max_count"):
                if data.get(name, 0) is None:
                    del data[name]
        return data

    # Typed here so code reading it is checked; each domain's recipe model narrows the type to
    # its own distribution model (recipe_model).
    distribution: DistributionBase = Field(
        default_factory=DistributionBase, description="Distribution knobs of the profiles."
    )


class LLMSettings(_Section):
    """How to reach an LLM and sample from it: shared by the teacher and the judge."""

    model: str | None = Field(None, description="Model id or local path (LLM backends).")
    base_url: str | None = Field(
        None, description="Server URL for the openai backend, e.g. http://127.0.0.1:8000/v1."
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the API key (openai backend); the key itself "
        "never goes in a recipe, and a server that needs none works without it.",
    )
    temperature: float = Field(0.7, ge=0.0, le=5.0, description="Sampling temperature.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_new_tokens: int = Field(768, gt=0, le=32_768, description="Tokens to generate per row.")
    seed: int | None = Field(
        None,
        ge=0,
        description="Sampling seed (defaults to profiles.seed); row i samples with a "
        "seed derived from it and i.",
    )
    stop: list[str] = Field(default_factory=list, description="Extra stop strings.")
    engine_args: dict[str, Any] = Field(
        default_factory=dict,
        description="vllm backend: passed to vllm.LLM (e.g. tensor_parallel_size, dtype, "
        "max_model_len, gpu_memory_utilization).",
    )
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout (openai backend).")
    max_concurrency: int = Field(8, gt=0, le=1024, description="Requests in flight (openai).")
    max_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="Further attempts for a row whose request failed or whose output was empty "
        "or malformed, before the row is rejected with the reason.",
    )

    @model_validator(mode="after")
    def _backend_needs(self) -> LLMSettings:
        backend = getattr(self, "backend", None)
        if backend in ("vllm", "openai") and not self.model:
            raise ValueError(f"backend {backend!r} needs `model`")
        if backend == "openai" and not self.base_url:
            raise ValueError("backend 'openai' needs `base_url`")
        return self


class TeacherConfig(LLMSettings):
    """Who writes the reasoning. The policy engine and verifiers decide what is kept."""

    backend: Literal["template", "vllm", "openai"] = Field(
        "template",
        description="template: the built-in writer (no model); vllm: an in-process vLLM engine; "
        "openai: any OpenAI-compatible server.",
    )
    mode: Literal["write", "paraphrase"] = Field(
        "write",
        description="write: the LLM writes reasoning and decision from the profile and the "
        "engine's facts; paraphrase: it rewrites the template teacher's reasoning.",
    )
    few_shot: int = Field(
        2,
        ge=0,
        le=8,
        description="write mode: worked examples by the template teacher shown before each row.",
    )


#: The teacher backends a recipe may name (the CLI's help lists them).
TEACHER_BACKENDS: tuple[str, ...] = get_args(TeacherConfig.model_fields["backend"].annotation)


class PromptOverrides(_Section):
    """Jinja templates that replace the built-in prompts (paths relative to the recipe)."""

    system: Path | None = Field(None, description="System prompt template file.")
    user: Path | None = Field(None, description="User prompt template file.")
    teacher_system: Path | None = Field(
        None, description="System prompt of an LLM teacher (write or paraphrase mode)."
    )
    teacher_user: Path | None = Field(
        None, description="User message of an LLM teacher (write or paraphrase mode)."
    )
    judge: Path | None = Field(None, description="The judge's rubric prompt (user message).")
    policy: Literal["full", "compact"] = Field(
        "full",
        description="How the system prompt states the policy (derived from the rule table): "
        "full, in sentences; compact, every rule, threshold and reason code tersely (fewer "
        "tokens per example).",
    )

    @model_serializer(mode="wrap")
    def _without_default_policy(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Left out when "full", so recipes that do not set it keep the content hash they had.
        data = handler(self)
        if isinstance(data, dict) and data.get("policy") == "full":
            del data["policy"]
        return data


class JudgeConfig(LLMSettings):
    """Optional LLM judge that scores each verified example against a rubric."""

    backend: Literal["vllm", "openai"] = Field("openai", description="Judge backend.")
    temperature: float = Field(0.0, ge=0.0, le=5.0, description="Sampling temperature.")
    max_new_tokens: int = Field(256, gt=0, le=32_768, description="Tokens to generate per row.")
    threshold: float = Field(
        3.5, ge=1.0, le=5.0, description="Minimum mean rubric score (1-5) to keep an example."
    )


class FiltersConfig(_Section):
    """Verifiers every example must pass to be kept."""

    verifiers: list[Literal[VERIFIERS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(DEFAULT_VERIFIERS),
        description=f"Verifiers to run, from {', '.join(VERIFIERS)}.",
    )
    number_tolerance: float = Field(
        0.005,
        ge=0.0,
        le=0.1,
        description="Relative tolerance for cited numbers, on top of rounding to the shown digits.",
    )
    near_duplicate_threshold: float = Field(
        0.9,
        gt=0.0,
        le=1.0,
        description="Estimated Jaccard similarity at or above which two examples are duplicates.",
    )
    max_seq_length: int = Field(
        2048, gt=0, le=1_048_576, description="Longest example, in tokens, that is kept."
    )
    tokenizer: Path | None = Field(
        None,
        description="Local tokenizer (tokenizer.json or a folder) for the length check; without "
        "one a conservative estimate is used.",
    )
    judge: JudgeConfig | None = Field(None, description="Optional LLM judge step.")
    min_kept_fraction: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Smallest share of the profiles that must be kept: a run that keeps fewer "
        "fails (exit 1) with its reject reasons, and its dataset is marked incomplete, so "
        "publish and train refuse it. 0 accepts any result.",
    )


class SplitConfig(_Section):
    """Split fractions; stratified by label, grouped by subject."""

    train: float = Field(0.8, ge=0.0, le=1.0, description="Share of examples for training.")
    validation: float = Field(0.1, ge=0.0, le=1.0, description="Share for validation.")
    test: float = Field(0.1, ge=0.0, le=1.0, description="Share for the held-out test set.")

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1.0, got {total:g}")
        if self.train == 0:
            raise ValueError("train must be > 0")
        return self


class LoraConfig(_Section):
    """LoRA adapter shape."""

    r: int = Field(16, gt=0, le=1024, description="LoRA rank.")
    alpha: int = Field(32, gt=0, le=4096, description="LoRA alpha (scaling = alpha / r).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="LoRA dropout.")
    target_modules: list[str] = Field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],
        description="Module names that get adapters.",
    )
    bias: Literal["none", "all", "lora_only"] = Field("none", description="Which biases train.")


class DpoConfig(_Section):
    """Direct preference optimisation (train.method: dpo) on the dataset's preference pairs."""

    beta: float = Field(
        0.1, gt=0, le=10, description="Strength of the pull towards the reference model."
    )
    loss_type: Literal["sigmoid", "ipo", "hinge", "robust"] = Field(
        "sigmoid", description="trl's DPO loss: sigmoid is the original DPO loss."
    )


class GrpoConfig(_Section):
    """Group relative policy optimisation (train.method: grpo) with the verifiers' rewards."""

    num_generations: int = Field(
        4, ge=2, le=64, description="Completions sampled per prompt (the group)."
    )
    max_completion_length: int = Field(
        768, gt=0, le=32_768, description="Longest completion sampled, in tokens."
    )
    temperature: float = Field(1.0, gt=0, le=5, description="Sampling temperature.")
    beta: float = Field(
        0.0, ge=0, le=10, description="KL penalty towards the reference model (0: none)."
    )
    reward_weights: dict[str, float] = Field(
        default_factory=dict,
        description="Weight per verifier reward (format, decision, reasons, pii, numbers, and "
        "the claim checks); unnamed rewards weigh 1, 0 drops one (see factory.rewards).",
    )
    use_vllm: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Sample completions with vLLM inside trl: auto uses it on CUDA when vLLM is "
        "installed; transformers generates otherwise.",
    )


class PreferenceConfig(_Section):
    """Preference pairs beside the SFT splits: each kept answer against verifiably wrong ones."""

    negatives_per_example: int = Field(
        1, ge=1, le=16, description="Rejected answers made for each kept example."
    )
    sources: list[Literal["rejects", "corruptions"]] = Field(
        default_factory=lambda: ["rejects", "corruptions"],  # type: ignore[arg-type]
        min_length=1,
        description="rejects: what the teacher wrote and the verifiers refused, against the "
        "template teacher's verified answer to the same prompt; corruptions: the verified answer "
        "altered by a named error class, kept only when the verifiers reject it.",
    )
    error_classes: list[str] | None = Field(
        None,
        description="Corruption error classes to draw from (default: every class; "
        "`fin-factory recipes schema` and the README list them).",
    )


class TrainConfig(_Section):
    """Fine-tuning settings (used by `fin-factory train`)."""

    base_model: str = Field(..., description="Hub id or local path of the base model.")
    method: Literal["sft", "dpo", "grpo"] = Field(
        "sft",
        description="sft: supervised on the verified answers; dpo: on the preference pairs "
        "(recipe section `preference:`); grpo: RL with the verifiers as rewards.",
    )
    init_from: Path | None = Field(
        None,
        description="A finished fin-factory training run (e.g. the SFT run) whose merged model "
        "this run starts from, instead of base_model; its lineage is recorded.",
    )
    dpo: DpoConfig = Field(default_factory=DpoConfig, description="DPO settings.")
    grpo: GrpoConfig = Field(default_factory=GrpoConfig, description="GRPO settings.")
    backend: Literal["auto", "unsloth", "hf"] = Field(
        "auto",
        description="auto: unsloth on CUDA when installed, hf (transformers+peft) elsewhere.",
    )
    load_in_4bit: bool = Field(False, description="Load the base model in 4-bit (CUDA only).")
    max_seq_length: int = Field(2048, gt=0, le=1_048_576, description="Training sequence length.")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA adapter settings.")
    epochs: float = Field(1.0, gt=0, le=100, description="Training epochs.")
    learning_rate: float = Field(2e-4, gt=0, lt=1, description="Peak learning rate.")
    per_device_batch_size: int = Field(2, gt=0, le=4096, description="Batch size per device.")
    gradient_accumulation_steps: int = Field(4, gt=0, le=4096, description="Accumulation steps.")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Share of steps for LR warm-up.")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "linear", description="Learning-rate schedule."
    )
    weight_decay: float = Field(0.0, ge=0, lt=1, description="AdamW weight decay.")
    packing: bool = Field(False, description="Pack several examples into one sequence.")
    assistant_only_loss: bool = Field(
        True, description="Learn the reasoning and decision, not the prompt."
    )
    eval_steps: int = Field(50, gt=0, description="Evaluate on validation every N steps.")
    early_stopping_patience: int | None = Field(
        None, gt=0, description="Stop after N evaluations without improvement."
    )
    seed: int = Field(3407, ge=0, description="Training seed.")
    parity_prompts: int = Field(
        8, gt=0, le=1024, description="Validation prompts the merged model is checked on."
    )
    parity_tolerance: float = Field(
        1e-3,
        gt=0,
        le=10,
        description="Largest |logit difference| allowed between the adapter and the merged model "
        "(their greedy continuations must also be identical).",
    )


class EvaluateConfig(_Section):
    """Evaluation settings (used by `fin-factory evaluate`)."""

    backend: Literal["vllm", "transformers"] = Field("vllm", description="Generation backend.")
    split: Literal["train", "validation", "test"] = Field("test", description="Split to score.")
    limit: int | None = Field(None, gt=0, description="Score at most N examples.")
    baseline: str | None = Field(None, description="Base model to compare against.")
    max_new_tokens: int = Field(768, gt=0, le=32_768, description="Tokens to generate per answer.")
    engine_args: dict[str, Any] = Field(
        default_factory=dict, description="vLLM engine arguments (the vllm backend)."
    )


class PublishConfig(_Section):
    """Where to publish, and the gates a release must pass first."""

    dataset_repo: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$",
        description="Hub repo id for the dataset (ORG/NAME); `fin-factory run` publishes it.",
    )
    model_repo: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$",
        description="Hub repo id for the model (ORG/NAME); `fin-factory run` publishes it.",
    )
    private: bool = Field(
        True, description="Create repos as private (the CLI's --public overrides)."
    )
    dataset_license: str | None = Field(
        None,
        description="License id of the generated dataset (e.g. cc-by-4.0); a dataset is only "
        "published with one.",
    )
    model_license: str | None = Field(
        None, description="License id of the model; unset, it is the base model's license."
    )
    min_verifier_pass_rate: float = Field(
        0.5, ge=0, le=1, description="Refuse to publish data whose verifier pass rate is lower."
    )
    min_adverse_impact_ratio: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Refuse to publish when a protected attribute's adverse impact ratio "
        "(lowest group's favourable rate / highest group's) is lower: the four-fifths rule.",
    )
    fairness_waivers: dict[str, str] = Field(
        default_factory=dict,
        description="Protected attribute -> the written justification for publishing although "
        "its adverse impact ratio is below the threshold; printed in the cards.",
    )

    @field_validator("fairness_waivers")
    @classmethod
    def _justified(cls, waivers: dict[str, str]) -> dict[str, str]:
        for attribute, reason in waivers.items():
            if len(reason.strip()) < 20:
                raise ValueError(
                    f"the waiver for {attribute!r} needs a written justification "
                    "(at least 20 characters)"
                )
        return waivers


class DriftThresholds(_Section):
    """When `fin-factory monitor` exits 1: the thresholds a scheduler alerts on."""

    max_psi: float = Field(
        0.25,
        gt=0,
        description="Largest population stability index of any feature against the training "
        "data (0.1-0.25 is a moderate shift, above 0.25 a major one).",
    )
    min_pass_rate: float = Field(
        0.5, ge=0, le=1, description="Lowest share of served answers that verified, per day."
    )
    max_fallback_rate: float = Field(
        0.5, ge=0, le=1, description="Highest share of requests sent to human review, per day."
    )


class ServeConfig(_Section):
    """How `fin-factory serve` answers (used by serve, predict, review and monitor)."""

    min_confidence: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Lowest probability of the decision token(s) an answer may have; a lower "
        "one goes to human review (0 turns the check off).",
    )
    pii: Literal["store", "hash", "redact"] = Field(
        "redact",
        description="PII in the audit log: store it, hash it (a salted sha256 per database, so "
        "records of one person still link), or redact it.",
    )
    audit_db: Path | None = Field(
        None, description="The audit log and review queue (SQLite) [default: RUN_DIR/audit.db]."
    )
    max_new_tokens: int = Field(768, gt=0, le=32_768, description="Tokens per model answer.")
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout to a model backend.")
    max_body_bytes: int = Field(
        65_536, gt=0, description="Largest request body accepted; a larger one gets 413."
    )
    engine_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra `--name value` options for the vLLM servers serve starts "
        "(e.g. {max_model_len: 4096, tensor_parallel_size: 2}).",
    )
    drift: DriftThresholds = Field(
        default_factory=DriftThresholds, description="Thresholds of `fin-factory monitor`."
    )


class RecipeBase(_Section):
    """Fields every recipe has, whatever its domain."""

    name: str = Field(
        ...,
        pattern=r"^[a-z0-9][a-z0-9._-]{0,95}$",
        description="Recipe name: lower-case letters, digits, '.', '_' and '-'; names out/<name>/.",
    )
    description: str = Field(..., min_length=1, description="One line: what the data is for.")
    execution: Literal["local", "ray"] = Field(
        "local", description="local: one machine; ray: distilabel's Ray pipeline."
    )
    teacher: TeacherConfig = Field(default_factory=TeacherConfig, description="The teacher.")
    prompts: PromptOverrides = Field(
        default_factory=PromptOverrides, description="Prompt template overrides."
    )
    filters: FiltersConfig = Field(default_factory=FiltersConfig, description="Verifiers.")
    split: SplitConfig = Field(default_factory=SplitConfig, description="Split fractions.")
    preference: PreferenceConfig | None = Field(
        None, description="Also write preference pairs (prompt, chosen, rejected) for DPO."
    )
    train: TrainConfig | None = Field(None, description="Fine-tuning settings.")
    evaluate: EvaluateConfig | None = Field(None, description="Evaluation settings.")
    publish: PublishConfig | None = Field(None, description="Publishing settings and gates.")
    serve: ServeConfig | None = Field(None, description="Serving settings (`fin-factory serve`).")

    # Set by load_recipe, not by the YAML; not part of the schema or the content hash.
    source: Annotated[Path | None, SkipJsonSchema()] = Field(
        None, exclude=True, description="The file the recipe was loaded from."
    )

    # Declared here, with the base types, so mypy checks the code that reads them; each domain's
    # recipe model (recipe_model) narrows them to its own literals and models. Declared last so
    # the fields keep the order they have in every recipe model.
    domain: str = Field(..., description="Domain registry key.")
    task: str = Field(..., description="Task of the domain.")
    profiles: ProfilesBase = Field(..., description="How many profiles and how.")
    policy: PolicyBase = Field(..., description="Thresholds of the policy engine.")

    @model_validator(mode="after")
    def _rule_table(self) -> RecipeBase:
        # The policy's rules may read the recipe's columns: hand their names and units to the
        # policy (`inputs`), then build the domain's table once so every mistake in columns,
        # params, quantities, rules or disable is reported now, naming its field.
        domain = get_domain(self.domain)
        if domain.table_builder is None:
            return self
        policy = self.policy
        columns = self.profiles.columns
        if columns or policy.inputs:
            table = domain.table_builder(policy, "", domain.max_principal_reasons)
            inputs = _column_inputs(table, columns)
            policy = policy.model_copy(update={"inputs": inputs})
            # Frozen: the validated policy replaces the one parsed from the YAML.
            object.__setattr__(self, "policy", policy)
        if has_extensions(policy):
            domain.rule_table(policy)
        return self

    @property
    def domain_impl(self) -> Domain:
        return get_domain(self.domain)

    def content_hash(self) -> str:
        """sha256 of the validated recipe (defaults filled in), for lineage. `execution` is left
        out: where a run executes does not change what it makes."""
        return self._hash(exclude={"execution"})

    def data_hash(self) -> str:
        """sha256 of what makes the dataset: the recipe without `execution` and the sections
        used after generation (train, evaluate, publish), so a run started locally can resume on
        Ray, and editing the training or publishing settings keeps the generated data."""
        return self._hash(exclude={"execution", "train", "evaluate", "publish", "serve"})

    def _hash(self, exclude: set[str]) -> str:
        if self.serve is None:
            # Recipes written before serving existed keep the hash they had.
            exclude = exclude | {"serve"}
        blob = json.dumps(self.model_dump(mode="json", exclude=exclude), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def with_overrides(self, **profiles: Any) -> RecipeBase:
        """A copy with `profiles` fields replaced (CLI --n / --seed); None values are ignored."""
        return self.overridden({f"profiles.{k}": v for k, v in profiles.items()})

    def with_teacher(self, **teacher: Any) -> RecipeBase:
        """A copy with `teacher` fields replaced (CLI --teacher); None values are ignored."""
        return self.overridden({f"teacher.{k}": v for k, v in teacher.items()})

    def with_fields(self, **fields: Any) -> RecipeBase:
        """A copy with top-level fields replaced (CLI --engine); None values are ignored."""
        return self.overridden(fields)

    def overridden(self, changes: dict[str, Any]) -> RecipeBase:
        """A copy with fields replaced, each named by its dotted path (e.g. "train.epochs");
        None values are ignored. Validated by the same schema; errors name the path."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        data = self.model_dump(mode="json")
        source = str(self.source or self.name)
        apply_overrides(data, changes, source)
        try:
            out = type(self).model_validate(data)
        except ValidationError as err:
            raise _recipe_error(source, err, overrides=changes) from None
        return out.model_copy(update={"source": self.source})


def parse_overrides(arguments: list[str]) -> dict[str, Any]:
    """Command-line overrides `a.b=value` as {"a.b": value}, each value read as YAML.

    Raises:
        UsageError: an argument is not PATH=VALUE, or its value is not YAML.
    """
    changes: dict[str, Any] = {}
    for argument in arguments:
        path, sep, text = argument.partition("=")
        if not sep or not _OVERRIDE_PATH.fullmatch(path):
            raise UsageError(
                f"override {argument!r}: expected FIELD.PATH=VALUE, e.g. train.max_seq_length=4096"
            )
        try:
            changes[path] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise UsageError(f"override {argument!r}: the value is not YAML") from None
        if changes[path] is None:
            changes[path] = _NULL
    return changes


def is_override(argument: str) -> bool:
    """True when a command-line argument reads as an override (FIELD.PATH=VALUE)."""
    path, sep, _ = argument.partition("=")
    return bool(sep) and bool(_OVERRIDE_PATH.fullmatch(path))


#: A field path: identifiers joined by dots.
_OVERRIDE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class _Null:
    """An override that sets a field to null (`train.early_stopping_patience=null`); None
    itself means "not given" to the CLI's options."""

    def __repr__(self) -> str:
        return "null"


_NULL: Any = _Null()


def apply_overrides(data: dict[str, Any], changes: dict[str, Any], source: str) -> None:
    """Sets each dotted path of `changes` in recipe data `data` (as loaded from YAML).

    Raises:
        RecipeError: a path runs through a value that is not a mapping.
    """
    for path, value in changes.items():
        parts = path.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise RecipeError(
                    source, f"override {path}: {where} is {_kind(child)}, not a section", path
                )
            node = child
        node[parts[-1]] = None if value is _NULL else value


@cache
def recipe_model(domain_name: str) -> type[RecipeBase]:
    """The recipe model of one domain: the base fields plus its policy, knobs and tasks."""
    domain = get_domain(domain_name)
    camel = "".join(part.title() for part in domain_name.split("_"))
    profiles = create_model(
        f"{camel}Profiles",
        __base__=ProfilesBase,
        distribution=(
            domain.distribution_model,
            Field(
                default_factory=domain.distribution_model,
                description=f"Distribution knobs of {domain_name} profiles.",
            ),
        ),
    )
    task_names = tuple(domain.tasks)
    extra: dict[str, Any] = {}
    if domain.extra_verifiers:
        defaults = [*DEFAULT_VERIFIERS, *domain.extra_verifiers]
        filters = create_model(
            f"{camel}Filters",
            __base__=FiltersConfig,
            verifiers=(
                list[Literal[VERIFIERS]],  # type: ignore[valid-type]
                Field(
                    default_factory=lambda: list(defaults),
                    description=f"Verifiers to run, from {', '.join(VERIFIERS)}.",
                ),
            ),
        )
        extra["filters"] = (filters, Field(default_factory=filters, description="Verifiers."))
    if domain.settings_section is not None:
        key, settings = domain.settings_section
        extra[key] = (
            settings,
            Field(default_factory=settings, description=f"Settings of the {domain_name} domain."),
        )
    model: type[RecipeBase] = create_model(
        f"{camel}Recipe",
        __base__=RecipeBase,
        **extra,
        domain=(Literal[domain_name], Field(..., description="Domain registry key.")),
        task=(
            Literal[task_names],
            Field(task_names[0], description=f"Task of the {domain_name} domain."),
        ),
        profiles=(
            profiles,
            Field(default_factory=profiles, description="How many profiles and how."),
        ),
        policy=(
            domain.policy_model,
            Field(
                default_factory=domain.policy_model,
                description=f"Thresholds of the {domain_name} policy engine.",
            ),
        ),
    )
    return model


def parse_recipe(
    data: Any,
    source: str = "<recipe>",
    overrides: dict[str, Any] | None = None,
    from_file: bool = False,
) -> RecipeBase:
    """Validates already-loaded YAML data against the schema of the domain it names.

    `overrides`: the command-line changes already applied to it, named in errors.
    `from_file`: the data is a recipe file's (untrusted): fields only a run sets are refused.
    """
    if data is None:
        raise RecipeError(source, "the file is empty; expected a mapping with name, domain, ...")
    if not isinstance(data, dict):
        raise RecipeError(source, f"expected a mapping at the top level, got {_kind(data)}")
    if "domain" not in data:
        raise RecipeError(source, "field required", field="domain")
    domain = data["domain"]
    if not isinstance(domain, str) or domain not in domain_names():
        raise RecipeError(
            source,
            f"unknown domain {domain!r}; expected one of {', '.join(domain_names())}",
            field="domain",
        )
    try:
        context = {FROM_RECIPE_FILE: True} if from_file else None
        recipe = recipe_model(domain).model_validate(data, context=context)
    except ValidationError as err:
        raise _recipe_error(source, err, overrides=overrides) from None
    return recipe


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> RecipeBase:
    """Loads and validates a recipe file, or a shipped recipe by name (e.g. "lending-cot").

    Args:
        path: the recipe file, or a shipped recipe's name.
        overrides: dotted field paths and values set on top of the file (see
            `parse_overrides`), validated with it; paths in them are relative to the recipe's
            folder, as in the file. None values are ignored.

    Raises:
        RecipeError: the file is missing, empty, not YAML, or does not match the schema.
    """
    path = resolve_recipe_path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecipeError(source, "not a UTF-8 text file") from None
    except OSError as err:
        raise RecipeError(source, f"cannot read the file ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise RecipeError(source, f"YAML syntax error at {where}{problem}") from None
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    if changes:
        if not isinstance(data, dict):
            raise RecipeError(source, f"expected a mapping at the top level, got {_kind(data)}")
        apply_overrides(data, changes, source)
    recipe = parse_recipe(data, source, changes, from_file=True)
    return _resolve_paths(recipe, path.resolve().parent, source).model_copy(update={"source": path})


def _resolve_paths(recipe: RecipeBase, folder: Path, source: str) -> RecipeBase:
    """Makes the file paths a recipe names relative to the recipe's own folder absolute; its
    prompt templates must lie inside that folder."""

    def absolute(value: Path | None) -> Path | None:
        return value if value is None or value.is_absolute() else folder / value

    prompts = recipe.prompts.model_copy(
        update={
            name: _inside(getattr(recipe.prompts, name), folder, source, f"prompts.{name}")
            for name in type(recipe.prompts).model_fields
            if name != "policy"
        }
    )
    filters = recipe.filters.model_copy(update={"tokenizer": absolute(recipe.filters.tokenizer)})
    # A model named by a relative path that exists next to the recipe is that folder; anything
    # else (a Hub id such as "org/name") is passed to the engine as written.
    updates: dict[str, Any] = {"prompts": prompts, "filters": filters}
    section = recipe.domain_impl.settings_section
    if section is not None and hasattr(getattr(recipe, section[0]), "resolved"):
        # Paths a domain's own section names (e.g. knowledge.documents) are the recipe folder's.
        updates[section[0]] = getattr(recipe, section[0]).resolved(folder)
    local = _local_model(recipe.teacher.model, folder)
    if local:
        updates["teacher"] = recipe.teacher.model_copy(update={"model": local})
    if recipe.train is not None:
        train = recipe.train
        if local := _local_model(train.base_model, folder):
            train = train.model_copy(update={"base_model": local})
        updates["train"] = train.model_copy(update={"init_from": absolute(train.init_from)})
    judge = recipe.filters.judge
    if judge is not None and (local := _local_model(judge.model, folder)):
        updates["filters"] = filters.model_copy(
            update={"judge": judge.model_copy(update={"model": local})}
        )
    return recipe.model_copy(update=updates)


def domain_settings(recipe: RecipeBase) -> BaseModel | None:
    """The recipe's domain-specific section (Domain.settings_section), None when it has none."""
    section = recipe.domain_impl.settings_section
    return None if section is None else getattr(recipe, section[0])


def _inside(value: Path | None, folder: Path, source: str, field: str) -> Path | None:
    """`value`, a path relative to the recipe's folder, resolved (symlinks too) and checked to
    stay inside it: a recipe others run must not read their files into its prompts."""
    if value is None:
        return None
    if value.is_absolute():
        raise RecipeError(
            source, f"must be a path relative to the recipe's folder, got {str(value)!r}", field
        )
    resolved = (folder / value).resolve()
    if not resolved.is_relative_to(folder):
        raise RecipeError(
            source,
            f"{str(value)!r} resolves to {resolved}, outside the recipe's folder {folder}; "
            "a recipe's templates must lie in its own folder",
            field,
        )
    if not resolved.is_file():
        raise RecipeError(source, f"no such template file {str(value)!r} in {folder}", field)
    return resolved


def _local_model(model: str | None, folder: Path) -> str | None:
    if not model or Path(model).is_absolute() or not (folder / model).exists():
        return None
    return str((folder / model).resolve())


def resolve_recipe_path(path: str | Path) -> Path:
    """A path as given, or the shipped recipe of that name when no such file exists."""
    candidate = Path(path)
    if candidate.exists():
        if candidate.is_dir():
            raise RecipeError(str(candidate), "is a directory; expected a recipe YAML file")
        return candidate
    shipped = RECIPES_DIR / f"{path}.yaml"
    if candidate.suffix == "" and shipped.exists():
        return shipped
    raise RecipeError(str(candidate), "no such file (and no shipped recipe of that name)")


def shipped_recipes() -> list[Path]:
    """The recipes in recipes/, sorted by name."""
    return sorted(RECIPES_DIR.glob("*.yaml"))


def recipe_json_schema() -> dict[str, Any]:
    """One JSON Schema for every domain's recipes (discriminated by `domain`)."""
    from pydantic import TypeAdapter

    models = tuple(recipe_model(name) for name in domain_names())
    union = Annotated[Union[models], Field(discriminator="domain")]  # type: ignore[valid-type]  # noqa: UP007
    schema: dict[str, Any] = TypeAdapter(union).json_schema()
    schema["title"] = "fin-factory recipe"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _column_inputs(table: Any, columns: Mapping[str, Any]) -> dict[str, InputSpec]:
    """The policy's `inputs` for the recipe's columns, after checking the columns."""
    known = {n: q.kind for n, q in table.quantities.items() if q.expr is None}
    categories = {n: tuple(q.value_words) for n, q in table.quantities.items() if q.value_words}
    taken = set(table.quantities) | set(table.params)
    units = check_columns(columns, known, categories, taken)
    return {
        name: InputSpec(
            unit=units[name],
            label=spec.label or spaced(name),
            aliases=list(spec.aliases),
            values=list(spec.values) if isinstance(spec, CategoricalColumn) else [],
        )
        for name, spec in columns.items()
    }


def _recipe_error(
    source: str,
    err: ValidationError,
    overrides: dict[str, Any] | None = None,
    prefix: str = "",
) -> RecipeError:
    first = err.errors(include_url=False)[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, RuleError):
        # A rule-table error names its own field path (policy.rules.0.when).
        return RecipeError(source, cause.message, field=prefix + cause.path if cause.path else None)
    loc = list(first["loc"])
    if loc[:2] == ["profiles", "columns"] and len(loc) > 3 and loc[3] in SAMPLERS:
        del loc[3]  # the sampler tag pydantic puts in the path of a discriminated union
    field = prefix + ".".join(str(part) for part in loc) if loc else None
    message = _explain(first)
    for path, value in (overrides or {}).items():
        if field is not None and (field == path or field.startswith(path + ".")):
            shown = "null" if value is _NULL else json.dumps(value, default=str)
            message += f" (override {path}={shown})"
            break
    more = err.error_count() - 1
    if more:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return RecipeError(source, message, field=field)


def _explain(error: Any) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; `fin-factory recipes schema` lists the fields)"
    if kind == "missing":
        return "field required"
    if kind == "union_tag_invalid":
        tag = str(error.get("ctx", {}).get("tag", ""))
        expected = str(error.get("ctx", {}).get("expected_tags", "")).replace("'", "")
        return f"unknown sampler {tag!r}{suggest(tag, SAMPLERS)}; expected one of {expected}"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind in {"literal_error", "enum"}:
        return f"{message}, got {given!r}"
    if isinstance(given, str | int | float | bool) and kind != "value_error":
        return f"{message}, got {given!r}"
    return message


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
