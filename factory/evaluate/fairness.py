"""Fairness audits over the audit-only protected attributes (`Domain.protected_columns`).

The policy engines never read sex, age, age band or marital status; these functions check that
neither the engine's labels nor a model's decisions depend on them anyway:

    group_audit          favourable-outcome rate per group (approve, allow), the adverse impact
                         ratio (four-fifths rule: min group rate / max group rate) and the
                         demographic parity difference (max - min);
    fairness_audit       the same for every categorical protected column, for the engine's
                         labels and the model's predictions side by side;
    counterfactual_profiles / flip_test
                         swap a row's fields (protected attributes, a name, or whatever the
                         flip test swaps: factory.evaluate.counterfactual) for those of a row
                         of another group, and count the decisions that change;
    protected_mentions / mention_audit
                         a model's reasoning, reasons or answer must never name a protected
                         attribute.

A missing model decision counts as not favourable (the applicant was not approved).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from factory.evaluate.metrics import Rate
from factory.output import ParsedOutput
from factory.recipe import RecipeBase

#: The four-fifths rule: a group's favourable rate below 80% of the highest one is adverse impact.
FOUR_FIFTHS = 0.8

#: Groups smaller than this are reported but left out of the ratio and the difference: a group
#: of five turns one decision into a 20-point swing.
MIN_GROUP_SIZE = 30

#: Label of rows whose protected attribute is missing.
MISSING_GROUP = "(missing)"

#: Name columns every domain's profiles carry, swapped with the protected attributes so a
#: counterfactual profile does not keep a name that hints at the original group.
NAME_COLUMNS = ("first_name", "last_name")


def favourable_labels(recipe: RecipeBase) -> tuple[str, ...]:
    """The outcomes that favour the subject: every label that is not adverse."""
    domain = recipe.domain_impl
    return tuple(label for label in domain.labels if label not in domain.adverse_labels)


@dataclass(frozen=True)
class GroupAudit:
    """Favourable-outcome rates of one attribute's groups.

    Attributes:
        attribute: the protected column.
        rates: favourable rate per group, every group, sorted by group name.
        adverse_impact_ratio: min / max favourable rate over the groups of at least
            `min_group_size` rows; None with fewer than two such groups or when no one is
            favoured.
        parity_difference: max - min favourable rate over the same groups (fairlearn's
            demographic_parity_difference); None with fewer than two such groups.
        passes_four_fifths: adverse_impact_ratio >= 0.8; None when the ratio is None.
        excluded_groups: groups too small to enter the ratio and the difference.
        min_group_size: the size threshold used.
    """

    attribute: str
    rates: Mapping[str, Rate]
    adverse_impact_ratio: float | None
    parity_difference: float | None
    passes_four_fifths: bool | None
    excluded_groups: tuple[str, ...]
    min_group_size: int


def group_audit(
    decisions: Sequence[str | None],
    groups: Sequence[Any],
    *,
    favourable: Collection[str],
    attribute: str = "group",
    min_group_size: int = MIN_GROUP_SIZE,
) -> GroupAudit:
    """Favourable rate per group, adverse impact ratio and demographic parity difference.

    Args:
        decisions: a decision per example (the engine's, or the model's with None when absent).
        groups: the example's protected attribute value (None becomes MISSING_GROUP).
        favourable: the labels that favour the person (lending: approve; fraud: allow).
        attribute: the attribute's name, for the report.
        min_group_size: groups with fewer rows are reported but left out of the summary.

    Raises:
        ValueError: the sequences differ in length.
    """
    if len(decisions) != len(groups):
        raise ValueError(f"{len(decisions)} decisions for {len(groups)} group values")
    favoured: dict[str, int] = {}
    counts: dict[str, int] = {}
    for decision, group in zip(decisions, groups, strict=True):
        name = MISSING_GROUP if group is None else str(group)
        counts[name] = counts.get(name, 0) + 1
        favoured[name] = favoured.get(name, 0) + (decision in favourable)
    rates = {name: Rate.of(favoured[name], counts[name]) for name in sorted(counts)}
    kept = [group for group, rate in rates.items() if rate.n >= min_group_size]
    excluded = tuple(group for group in rates if group not in kept)
    ratio = difference = None
    if len(kept) >= 2:
        # fairlearn's demographic_parity_difference and _ratio: max - min and min / max of the
        # groups' selection rates (the tests check these against fairlearn itself).
        values = [favoured[group] / counts[group] for group in kept]
        difference = max(values) - min(values)
        if max(values) > 0:
            ratio = min(values) / max(values)
    return GroupAudit(
        attribute=attribute,
        rates=rates,
        adverse_impact_ratio=ratio,
        parity_difference=difference,
        passes_four_fifths=None if ratio is None else ratio >= FOUR_FIFTHS,
        excluded_groups=excluded,
        min_group_size=min_group_size,
    )


@dataclass(frozen=True)
class FairnessAudit:
    """Group audits per protected attribute and per source of decisions.

    Attributes:
        audits: attribute -> source (e.g. "engine", "model") -> GroupAudit.
        skipped: protected columns left out because they are not categorical (raw age: its
            band is audited instead).
    """

    audits: Mapping[str, Mapping[str, GroupAudit]]
    skipped: tuple[str, ...]


def fairness_audit(
    frame: pl.DataFrame,
    *,
    protected_columns: Sequence[str],
    favourable: Collection[str],
    decision_columns: Mapping[str, str],
    min_group_size: int = MIN_GROUP_SIZE,
) -> FairnessAudit:
    """`group_audit` of every categorical protected column, for each decision column.

    Args:
        frame: one row per evaluated example, with the protected columns and the decisions.
        protected_columns: `Domain.protected_columns`.
        favourable: the labels that favour the person.
        decision_columns: source -> column of decisions, e.g. {"engine": "decision",
            "model": "predicted_decision"}.
        min_group_size: see `group_audit`.

    Raises:
        ValueError: a named column is not in the frame.
    """
    missing = [c for c in (*protected_columns, *decision_columns.values()) if c not in frame]
    if missing:
        raise ValueError(f"columns {missing} are not in the frame")
    categorical = (pl.String, pl.Categorical, pl.Enum, pl.Boolean)
    audited = [c for c in protected_columns if isinstance(frame.schema[c], categorical)]
    audits = {
        column: {
            source: group_audit(
                frame[decisions].to_list(),
                frame[column].to_list(),
                favourable=favourable,
                attribute=column,
                min_group_size=min_group_size,
            )
            for source, decisions in decision_columns.items()
        }
        for column in audited
    }
    skipped = tuple(c for c in protected_columns if c not in audited)
    return FairnessAudit(audits=audits, skipped=skipped)


def counterfactual_profiles(
    frame: pl.DataFrame,
    *,
    group_column: str,
    protected_columns: Sequence[str],
    name_columns: Sequence[str] = NAME_COLUMNS,
    seed: int = 0,
) -> pl.DataFrame:
    """Each row with the protected attributes and name of a row from another group.

    Every row draws a donor uniformly among the rows whose `group_column` differs, and takes
    the donor's `protected_columns` and `name_columns` together (so age and age band stay
    consistent); every other column, the id included, is the row's own. The runner renders
    prompts from the result and pairs decisions by id with `flip_test`.

    Args:
        frame: the evaluated rows (profile columns included).
        group_column: the attribute whose group must change, e.g. "sex".
        protected_columns: `Domain.protected_columns`.
        name_columns: name columns swapped along with them (() to keep names).
        seed: seeds the donor draw; the same frame and seed give the same rows.

    Raises:
        ValueError: a column is missing, or some row's group is the only group in the frame.
    """
    swapped = list(dict.fromkeys([group_column, *protected_columns, *name_columns]))
    missing = [c for c in swapped if c not in frame]
    if missing:
        raise ValueError(f"columns {missing} are not in the frame")
    groups = frame[group_column].cast(pl.String).fill_null(MISSING_GROUP).to_numpy()
    values = sorted(set(groups))
    if frame.height and len(values) < 2:
        raise ValueError(f"{group_column} has one group ({values[0]}): no donor to swap from")
    rng = np.random.default_rng(seed)
    donors = np.empty(frame.height, dtype=np.int64)
    for value in values:
        rows = np.flatnonzero(groups == value)
        others = np.flatnonzero(groups != value)
        donors[rows] = others[rng.integers(0, len(others), len(rows))]
    replacement = frame.select(swapped)[donors]
    return frame.with_columns(replacement.get_columns())


@dataclass(frozen=True)
class Flip:
    """One example whose decision changed when its protected attributes were swapped."""

    id: str
    original: str
    counterfactual: str


@dataclass(frozen=True)
class FlipTest:
    """Decisions that change under the counterfactual swap.

    Attributes:
        rate: pairs whose decisions differ, over the pairs where both have a decision.
        flipped: the changed pairs, in input order.
        excluded: pairs left out because either output stated no decision.
    """

    rate: Rate
    flipped: tuple[Flip, ...]
    excluded: int


def flip_test(
    ids: Sequence[str],
    original: Sequence[str | None],
    counterfactual: Sequence[str | None],
) -> FlipTest:
    """The flip rate of decisions between original and counterfactual profiles.

    Args:
        ids: the example id of each pair.
        original: the model's decision on the original profile (None when absent).
        counterfactual: its decision on the counterfactual profile (None when absent).

    Raises:
        ValueError: the sequences differ in length.
    """
    if not len(ids) == len(original) == len(counterfactual):
        raise ValueError(
            f"{len(ids)} ids, {len(original)} original and {len(counterfactual)} "
            "counterfactual decisions: one of each per pair expected"
        )
    flipped = []
    compared = 0
    for example, before, after in zip(ids, original, counterfactual, strict=True):
        if before is None or after is None:
            continue
        compared += 1
        if before != after:
            flipped.append(Flip(str(example), before, after))
    return FlipTest(
        rate=Rate.of(len(flipped), compared),
        flipped=tuple(flipped),
        excluded=len(ids) - compared,
    )


# Words that name a protected attribute or one of its values. Bare "age" and "young" are not
# among them: "account age", "a young account" and "a bankruptcy 3 years old" are legitimate
# reasoning, so age is caught only when it is a person's.
_PERSON = r"(?:applicant|customer|cardholder|borrower|client|consumer|person|individual)"
_SEX = (r"\b(?:sex|gender)\b", r"\b(?:fe)?males?\b", r"\b(?:wo)?m[ae]n\b")
_AGE = (
    r"\bage[ _-]?band\b",
    rf"\b{_PERSON}(?:['’]s)? age\b",
    r"\b(?:his|her|their) age\b",
    r"\baged \d+",
    r"\byears of age\b",
    rf"\b\d+[- ]years?[- ]old {_PERSON}",
    rf"\b(?:{_PERSON}|he|she|they) (?:is|are|was|were) \d+ years? old\b",
    r"\b(?:elderly|retirees?|pensioners?|senior citizens?|millennials?|boomers?)\b",
    rf"\b(?:young|younger|old|older) (?:{_PERSON}|people|man|woman|men|women)s?\b",
)
_MARITAL = (
    r"\bmarital\b",
    r"\b(?:married|unmarried|divorced|divorcee|widowed|widows?|widowers?)\b",
    r"\b(?:spouse|spousal|husband|wife)\b",
    rf"\bsingle (?:{_PERSON}|parent|mother|father|man|woman)\b",
)
_RACE = (r"\b(?:race|racial|ethnicity|ethnic)\b", r"\bskin colou?r\b")
_RELIGION = (r"\breligio(?:n|us)\b",)
_ORIGIN = (r"\bnational origin\b", r"\bnationality\b")

#: Attribute -> the patterns that name it. Protected columns not listed are matched by their
#: own name ("national_origin" as "national origin").
PROTECTED_TERMS: Mapping[str, tuple[str, ...]] = {
    "sex": _SEX,
    "gender": _SEX,
    "age": _AGE,
    "age_band": _AGE,
    "marital_status": _MARITAL,
    "race": _RACE,
    "ethnicity": _RACE,
    "religion": _RELIGION,
    "national_origin": _ORIGIN,
}

#: Bases ECOA and Regulation B prohibit, scanned for whatever columns a domain audits.
ALWAYS_PROTECTED = ("race", "religion", "national_origin")


@dataclass(frozen=True)
class Mention:
    """A protected attribute named in a model output.

    Attributes:
        attribute: the protected attribute, e.g. "marital_status".
        term: the words that name it, as written.
        part: where: "reasoning", "reasons" or "answer".
    """

    attribute: str
    term: str
    part: str


def protected_mentions(output: ParsedOutput, protected_columns: Collection[str]) -> list[Mention]:
    """The places where an output's reasoning, reason texts or answer name a protected attribute.

    Args:
        output: the parsed model output.
        protected_columns: `Domain.protected_columns`; ALWAYS_PROTECTED is added.

    Returns:
        Mentions in the order reasoning, reasons, answer (empty when none).
    """
    pattern, attributes = _patterns(tuple(protected_columns))
    parts = {
        "reasoning": output.reasoning,
        "reasons": "\n".join(output.reason_texts),
        "answer": output.answer or "",
    }
    found = []
    for part, text in parts.items():
        if not text:
            continue
        for match in pattern.finditer(text):
            found.append(Mention(attributes[str(match.lastgroup)], match.group(), part))
    return found


@dataclass(frozen=True)
class MentionAudit:
    """Outputs that name a protected attribute.

    Attributes:
        rate: outputs with at least one mention, over all outputs.
        violations: (example id, mention) for every mention, in input order.
    """

    rate: Rate
    violations: tuple[tuple[str, Mention], ...]


def mention_audit(
    ids: Sequence[str], outputs: Sequence[ParsedOutput], protected_columns: Collection[str]
) -> MentionAudit:
    """`protected_mentions` over every output.

    Raises:
        ValueError: the sequences differ in length.
    """
    if len(ids) != len(outputs):
        raise ValueError(f"{len(ids)} ids for {len(outputs)} outputs")
    violations: list[tuple[str, Mention]] = []
    naming = 0
    for example, output in zip(ids, outputs, strict=True):
        mentions = protected_mentions(output, protected_columns)
        naming += bool(mentions)
        violations.extend((str(example), mention) for mention in mentions)
    return MentionAudit(rate=Rate.of(naming, len(outputs)), violations=tuple(violations))


@functools.lru_cache(maxsize=16)
def _patterns(columns: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One case-insensitive regex with a group per attribute, and group name -> attribute."""
    alternatives: dict[str, tuple[str, ...]] = {}
    for column in dict.fromkeys((*columns, *ALWAYS_PROTECTED)):
        # re.escape leaves "_" alone: "national_origin" also reads "national origin".
        default = (r"\b" + re.escape(column).replace("_", "[ _]") + r"\b",)
        terms = PROTECTED_TERMS.get(column, default)
        # Columns that share terms (age, age_band) report the first one listed.
        if terms not in alternatives.values():
            alternatives[column] = terms
    groups = {f"a{i}": column for i, column in enumerate(alternatives)}
    pattern = "|".join(
        f"(?P<{group}>{'|'.join(alternatives[column])})" for group, column in groups.items()
    )
    return re.compile(pattern, re.IGNORECASE), groups
