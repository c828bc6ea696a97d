"""The counterfactual flip test: change what the prompt shows and the policy ignores.

A model that decides by the policy must give the same decision when a case changes only in
fields the policy does not read. Such a change is a test only when the model can see it, so the
swapped fields are those that are both

    shown       swapping the field's value with another row's changes the rendered user prompt
                (job title, employer, merchant name, channel; a name, sex or age too when a
                recipe's prompt shows them for an audit), and
    not read    no part of the policy reads it: with a rule table, the field is none of its
                quantities (inputs or derived) and no expression of a quantity or rule names it;
                without one, only the domain's protected attributes and names, which its engine
                never reads by contract. (A text field such as a credit-report question is not
                read by the engine either, but it was drawn to fit the case's label: swapping it
                would ask a leading question, not test indifference.)

Every row takes all its swapped fields from one donor row (job title and employer stay a
pair), from another group of the first shown protected attribute when there is one. The
engine labels the counterfactual rows again: it must never change its decision (nor its
reasons), and `engine_changed` says so for every evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from factory.domains.rules.engine import compiled
from factory.evaluate.fairness import NAME_COLUMNS, counterfactual_profiles
from factory.pipeline.prompts import PromptBuilder, prompt_builder
from factory.pipeline.write_pass import LEAD_COLUMNS
from factory.recipe import RecipeBase

#: Columns of a labelled row that are the engine's answer or the dataset's bookkeeping, never
#: a field of the case.
_LABEL_COLUMNS = ("facts", "decision", "reason_codes", "policy_version", "teacher")


@dataclass(frozen=True)
class CounterfactualCases:
    """The evaluated rows with their policy-blind, shown fields swapped.

    Attributes:
        fields: the swapped fields (shown in the prompt, not read by the policy).
        shown_but_read: fields the prompt shows that the policy reads (or, without a rule
            table, may read); left alone.
        not_read_from: how "not read" was decided: "rule table", or "protected attributes
            and names" for a domain without one.
        group_column: the field whose value every donor differs in; None when nothing is
            swapped.
        rows: the counterfactual rows (every other column, the id included, is the row's own).
        prompts: the counterfactual user message of each row.
        changed: indexes of the rows whose user message differs from the original's.
        engine_changed: indexes of the rows whose engine decision or reasons changed.
    """

    fields: tuple[str, ...]
    shown_but_read: tuple[str, ...]
    not_read_from: str
    group_column: str | None
    rows: pl.DataFrame
    prompts: tuple[str, ...]
    changed: tuple[int, ...]
    engine_changed: tuple[int, ...]


def policy_read_columns(recipe: RecipeBase) -> frozenset[str] | None:
    """Every column the recipe's policy reads: each quantity of its rule table and each name
    an expression of a quantity or rule reads. None for a domain without a rule table."""
    domain = recipe.domain_impl
    try:
        table = domain.rule_table(recipe.policy)
    except NotImplementedError:
        return None
    code = compiled(table)
    read: set[str] = set(table.quantities)
    for quantity in code.derived:
        read |= quantity.expr.names() | (quantity.applies.names() if quantity.applies else set())
    for rule in code.rules:
        read |= rule.when.names()
        read |= rule.applies.names() if rule.applies else set()
        read |= rule.threshold.names() if rule.threshold else set()
    return frozenset(read - set(table.params))


def counterfactual_cases(
    recipe: RecipeBase, frame: pl.DataFrame, prompts: Sequence[str], seed: int = 0
) -> CounterfactualCases:
    """The counterfactual of every row of `frame`, its prompts, and the engine's verdict on it.

    Args:
        recipe: the recipe that made the dataset (domain, policy, prompt templates).
        frame: the evaluated rows (profile and label columns).
        prompts: the original user message of each row.
        seed: seeds the donor draws.

    Raises:
        ValueError: `prompts` does not have one message per row.
    """
    if len(prompts) != frame.height:
        raise ValueError(f"{len(prompts)} prompts for {frame.height} rows")
    domain = recipe.domain_impl
    builder = prompt_builder(recipe)
    read = policy_read_columns(recipe)
    rng = np.random.default_rng(seed)
    others = _other_rows(frame.height, rng)
    shown = [c for c in _case_columns(recipe, frame) if _shows(builder, frame, c, others, prompts)]
    if read is None:
        blind = {*domain.protected_columns, *NAME_COLUMNS}
        fields = [c for c in shown if c in blind]
    else:
        fields = [c for c in shown if c not in read]
    shown_but_read = tuple(c for c in shown if c not in fields)
    source = "rule table" if read is not None else "protected attributes and names"
    group = _group_column(frame, fields, domain.protected_columns)
    if group is None:
        return CounterfactualCases((), shown_but_read, source, None, frame, tuple(prompts), (), ())
    rows = counterfactual_profiles(
        frame, group_column=group, protected_columns=fields, name_columns=(), seed=seed
    )
    new_prompts = tuple(builder.user(row) for row in rows.iter_rows(named=True))
    changed = tuple(i for i, (a, b) in enumerate(zip(prompts, new_prompts, strict=True)) if a != b)
    return CounterfactualCases(
        fields=tuple(fields),
        shown_but_read=shown_but_read,
        not_read_from=source,
        group_column=group,
        rows=rows,
        prompts=new_prompts,
        changed=changed,
        engine_changed=tuple(np.flatnonzero(engine_changes(recipe, frame, rows)).tolist()),
    )


def _case_columns(recipe: RecipeBase, frame: pl.DataFrame) -> list[str]:
    """The columns of a case a swap may touch: not its ids, latent truth or labels."""
    domain = recipe.domain_impl
    fixed = {
        *LEAD_COLUMNS,
        *_LABEL_COLUMNS,
        domain.id_column,
        domain.subject_column,
        *domain.latent_columns,
    }
    return [c for c in frame.columns if c not in fixed]


def _other_rows(n: int, rng: np.random.Generator) -> np.ndarray:
    """For each row, another row drawn uniformly (the row itself when it is the only one)."""
    if n < 2:
        return np.arange(n)
    return (np.arange(n) + rng.integers(1, n, n)) % n


def _with_donor_values(frame: pl.DataFrame, column: str, donors: np.ndarray) -> pl.DataFrame:
    return frame.with_columns(frame[column].gather(donors))


def _shows(
    builder: PromptBuilder,
    frame: pl.DataFrame,
    column: str,
    donors: np.ndarray,
    prompts: Sequence[str],
) -> bool:
    """Whether swapping `column` alone changes some row's user message."""
    swapped = _with_donor_values(frame, column, donors)
    before, after = frame[column].to_list(), swapped[column].to_list()
    for i, row in enumerate(swapped.iter_rows(named=True)):
        if before[i] != after[i] and builder.user(row) != prompts[i]:
            return True
    return False


def engine_changes(recipe: RecipeBase, before: pl.DataFrame, after: pl.DataFrame) -> np.ndarray:
    """Per row, whether the engine's decision or reasons differ between two versions of the
    same cases (each labelled afresh by the recipe's engine)."""
    domain, policy = recipe.domain_impl, recipe.policy
    old = domain.label(before, policy)
    new = domain.label(after, policy)
    decisions = (old["decision"] != new["decision"]).to_numpy()
    pairs = zip(old["reason_codes"].to_list(), new["reason_codes"].to_list(), strict=True)
    reasons = [list(a or ()) != list(b or ()) for a, b in pairs]
    return decisions | np.asarray(reasons, dtype=bool)


def _group_column(
    frame: pl.DataFrame, fields: Sequence[str], protected: Sequence[str]
) -> str | None:
    """The field every donor must differ in: a shown protected attribute first, so a
    counterfactual changes the group; None when no field has two values."""
    ordered = [c for c in fields if c in protected] + [c for c in fields if c not in protected]
    for column in ordered:
        if frame[column].cast(pl.String).fill_null("").n_unique() >= 2:
            return column
    return None
