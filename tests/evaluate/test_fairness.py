"""Fairness audit, counterfactual flip test and protected-attribute mentions."""

from __future__ import annotations

import random

import polars as pl
import pytest

from factory.evaluate.fairness import (
    MISSING_GROUP,
    counterfactual_profiles,
    fairness_audit,
    flip_test,
    group_audit,
    mention_audit,
    protected_mentions,
)
from factory.output import ParsedOutput, parse_output
from factory.recipe import parse_recipe
from factory.synth import Shard, labelled_shard


def _labelled(domain: str, n: int, task: str | None = None) -> tuple[pl.DataFrame, object]:
    data = {"name": "audit", "domain": domain, "description": "fairness audit test"}
    if task:
        data["task"] = task
    recipe = parse_recipe(data)
    return labelled_shard(recipe, Shard(0, 0, n)), recipe


@pytest.fixture(scope="module")
def lending() -> pl.DataFrame:
    return _labelled("lending", 3000)[0]


# group_audit ------------------------------------------------------------------------------------


def test_group_audit_known_rates_ratio_and_difference():
    decisions = ["approve"] * 30 + ["deny"] * 10 + ["approve"] * 20 + ["refer"] * 20
    groups = ["a"] * 40 + ["b"] * 40
    audit = group_audit(decisions, groups, favourable={"approve"}, attribute="sex")
    assert {g: (r.successes, r.n) for g, r in audit.rates.items()} == {
        "a": (30, 40),
        "b": (20, 40),
    }
    assert audit.adverse_impact_ratio == pytest.approx(0.5 / 0.75)
    assert audit.parity_difference == pytest.approx(0.25)
    assert audit.passes_four_fifths is False
    assert audit.attribute == "sex" and audit.excluded_groups == ()


def test_group_audit_passes_equal_rates_and_excludes_small_groups():
    decisions = (["approve", "deny"] * 20) * 2 + ["deny"] * 5
    groups = ["a"] * 40 + ["b"] * 40 + ["c"] * 5
    audit = group_audit(decisions, groups, favourable={"approve"})
    assert audit.adverse_impact_ratio == 1.0
    assert audit.parity_difference == 0.0
    assert audit.passes_four_fifths is True
    assert audit.excluded_groups == ("c",)
    assert audit.rates["c"].value == 0.0  # reported, but not in the summary
    everyone = group_audit(decisions, groups, favourable={"approve"}, min_group_size=1)
    assert everyone.adverse_impact_ratio == 0.0 and everyone.passes_four_fifths is False


def test_group_audit_missing_decisions_and_groups():
    audit = group_audit(
        [None, "approve", "approve", None], ["x", None, "x", None], favourable={"approve"},
        min_group_size=1,
    )  # fmt: skip
    assert {g: (r.successes, r.n) for g, r in audit.rates.items()} == {
        MISSING_GROUP: (1, 2),
        "x": (1, 2),
    }


def test_group_audit_edge_cases():
    one_group = group_audit(["approve", "deny"] * 20, ["a"] * 40, favourable={"approve"})
    assert one_group.adverse_impact_ratio is None and one_group.parity_difference is None
    assert one_group.passes_four_fifths is None
    nobody = group_audit(["deny"] * 80, ["a", "b"] * 40, favourable={"approve"})
    assert nobody.adverse_impact_ratio is None and nobody.parity_difference == 0.0
    empty = group_audit([], [], favourable={"approve"})
    assert empty.rates == {} and empty.adverse_impact_ratio is None
    with pytest.raises(ValueError):
        group_audit(["approve"], [], favourable={"approve"})


# fairness_audit on a real domain ----------------------------------------------------------------


def _predictions(frame: pl.DataFrame, deny_female: bool) -> pl.DataFrame:
    decision = pl.col("decision")
    if deny_female:
        decision = pl.when(pl.col("sex") == "female").then(pl.lit("deny")).otherwise(decision)
    return frame.with_columns(decision.alias("predicted"))


def test_fairness_audit_catches_a_predictor_that_denies_one_group(lending):
    biased = fairness_audit(
        _predictions(lending, deny_female=True),
        protected_columns=("sex", "age", "age_band", "marital_status"),
        favourable={"approve"},
        decision_columns={"engine": "decision", "model": "predicted"},
    )
    sex = biased.audits["sex"]
    # The engine never reads sex: its approval rates agree across the groups.
    assert sex["engine"].passes_four_fifths is True
    assert sex["model"].passes_four_fifths is False
    assert sex["model"].adverse_impact_ratio == 0.0
    assert sex["model"].rates["female"].value == 0.0
    assert sex["model"].parity_difference == pytest.approx(sex["model"].rates["male"].value)
    assert biased.skipped == ("age",)  # raw age: its band is audited
    assert set(biased.audits) == {"sex", "age_band", "marital_status"}


def test_fairness_audit_passes_the_engine_copying_predictor(lending):
    fair = fairness_audit(
        _predictions(lending, deny_female=False),
        protected_columns=("sex",),
        favourable={"approve"},
        decision_columns={"engine": "decision", "model": "predicted"},
    )
    engine, model = fair.audits["sex"]["engine"], fair.audits["sex"]["model"]
    assert model.passes_four_fifths is True
    assert model.adverse_impact_ratio == engine.adverse_impact_ratio


def test_fairness_audit_names_missing_columns(lending):
    with pytest.raises(ValueError, match="predicted"):
        fairness_audit(
            lending,
            protected_columns=("sex",),
            favourable={"approve"},
            decision_columns={"model": "predicted"},
        )


# Counterfactual profiles and the flip test ------------------------------------------------------

SWAPPED = ["first_name", "last_name", "sex", "age", "age_band", "marital_status"]


def test_counterfactual_profiles_swap_group_and_identity_only(lending):
    rows = lending.head(400)
    swapped = counterfactual_profiles(
        rows, group_column="sex", protected_columns=("sex", "age", "age_band", "marital_status")
    )
    assert swapped.columns == rows.columns
    assert (swapped["sex"] != rows["sex"]).all()
    kept = [c for c in rows.columns if c not in SWAPPED]
    assert swapped.select(kept).equals(rows.select(kept))
    # the swapped columns come together from one donor row: age and its band stay consistent
    donors = set(rows.select(SWAPPED).iter_rows())
    assert set(swapped.select(SWAPPED).iter_rows()) <= donors


def test_counterfactual_profiles_are_seeded(lending):
    rows = lending.head(200)
    args = {"group_column": "age_band", "protected_columns": ("sex", "age_band")}
    first = counterfactual_profiles(rows, seed=3, **args)
    assert first.equals(counterfactual_profiles(rows, seed=3, **args))
    assert not first.equals(counterfactual_profiles(rows, seed=4, **args))
    assert (first["age_band"] != rows["age_band"]).all()


def test_counterfactual_profiles_need_two_groups_and_the_columns(lending):
    women = lending.filter(pl.col("sex") == "female").head(10)
    with pytest.raises(ValueError, match="one group"):
        counterfactual_profiles(women, group_column="sex", protected_columns=("sex",))
    with pytest.raises(ValueError, match="race"):
        counterfactual_profiles(lending, group_column="race", protected_columns=("sex",))
    empty = counterfactual_profiles(lending.head(0), group_column="sex", protected_columns=())
    assert empty.height == 0


def test_flip_test_hand_made_case():
    result = flip_test(
        ["A1", "A2", "A3", "A4", "A5"],
        ["approve", "deny", "approve", None, "refer"],
        ["approve", "approve", "approve", "deny", "refer"],
    )
    assert (result.rate.successes, result.rate.n) == (1, 4)
    assert result.excluded == 1
    assert [(f.id, f.original, f.counterfactual) for f in result.flipped] == [
        ("A2", "deny", "approve")
    ]


def test_flip_test_edge_cases():
    empty = flip_test([], [], [])
    assert empty.rate.value is None and empty.flipped == ()
    unparsed = flip_test(["x"], [None], [None])
    assert unparsed.rate.n == 0 and unparsed.excluded == 1
    with pytest.raises(ValueError):
        flip_test(["x"], ["approve"], [])


# Protected-attribute mentions -------------------------------------------------------------------

COLUMNS = ("sex", "age", "age_band", "marital_status")


@pytest.mark.parametrize(
    ("text", "attributes"),
    [
        ("The applicant is married and female.", ["marital_status", "sex"]),
        ("As a 67-year-old applicant with stable income", ["age"]),
        ("The customer's age band is 65+.", ["age"]),
        ("The cardholder is 23 years old, so the spending is unusual.", ["age"]),
        ("A single parent, widowed last year.", ["marital_status", "marital_status"]),
        ("Elderly customers often travel.", ["age"]),
        ("Her gender does not matter.", ["sex"]),
        ("Women and men are treated alike.", ["sex", "sex"]),
        ("The applicant's race and religion.", ["race", "religion"]),
    ],
)
def test_protected_mentions_find_attributes(text, attributes):
    mentions = protected_mentions(ParsedOutput(reasoning=text), COLUMNS)
    assert [m.attribute for m in mentions] == attributes
    assert all(m.part == "reasoning" for m in mentions)


@pytest.mark.parametrize(
    "text",
    [
        "The account age is 12 days: a young account, under the 30-day mark.",
        "The account is 400 days old and the bankruptcy is 3 years old.",
        "A single transaction of $1,200 at an electronics merchant.",
        "The age of the oldest account fell when the card was closed.",
        "The applicant is 2 months behind on one loan; mandatory manual review.",
        "Employment of 4.5 years; the manager's salary covers the payment.",
    ],
)
def test_protected_mentions_leave_finance_wording_alone(text):
    assert protected_mentions(ParsedOutput(reasoning=text), COLUMNS) == []


def test_protected_mentions_read_reasons_and_answer():
    output = ParsedOutput(
        reasoning="DTI is fine.",
        reasons=("OTHER",),
        reason_texts=("Applicant age below our minimum",),
        answer="Married couples can add a spouse as an authorized user.",
    )
    found = [(m.part, m.attribute, m.term) for m in protected_mentions(output, COLUMNS)]
    assert found == [
        ("reasons", "age", "Applicant age"),
        ("answer", "marital_status", "Married"),
        ("answer", "marital_status", "spouse"),
    ]


def test_protected_mentions_read_any_protected_column_by_name():
    output = ParsedOutput(reasoning="Veteran status was considered.")
    assert protected_mentions(output, ("sex",)) == []
    mentions = protected_mentions(output, ("sex", "veteran_status"))
    assert [(m.attribute, m.term) for m in mentions] == [("veteran_status", "Veteran status")]


@pytest.mark.parametrize(
    ("domain", "task"),
    [("lending", None), ("fraud", None), ("credit_report", "summary"), ("credit_report", "qa")],
)
def test_template_teacher_outputs_name_no_protected_attribute(domain, task):
    rows, recipe = _labelled(domain, 400, task)
    recipe_task = recipe.domain_impl.tasks[recipe.task]
    outputs = [
        parse_output(recipe_task.write(row, recipe.policy, random.Random(i)))
        for i, row in enumerate(rows.to_dicts())
    ]
    audit = mention_audit(rows[recipe.domain_impl.id_column].to_list(), outputs, COLUMNS)
    assert audit.violations == ()
    assert audit.rate.value == 0.0 and audit.rate.n == 400


def test_mention_audit_counts_outputs_and_lists_violations():
    outputs = [
        ParsedOutput(reasoning="Denied: the applicant is female and divorced."),
        ParsedOutput(reasoning="DTI above the limit."),
    ]
    audit = mention_audit(["A1", "A2"], outputs, COLUMNS)
    assert (audit.rate.successes, audit.rate.n) == (1, 2)
    assert [(example, m.attribute) for example, m in audit.violations] == [
        ("A1", "sex"),
        ("A1", "marital_status"),
    ]
    with pytest.raises(ValueError):
        mention_audit(["A1"], outputs, COLUMNS)


def test_group_audit_matches_fairlearn_on_engine_labels(lending):
    """Our counting gives fairlearn's selection rates, parity difference and ratio."""
    fairlearn = pytest.importorskip("fairlearn.metrics")
    import numpy as np

    for column in ("sex", "age_band", "marital_status"):
        audit = group_audit(
            lending["decision"].to_list(),
            lending[column].to_list(),
            favourable={"approve"},
            min_group_size=1,
        )
        outcome = (lending["decision"] == "approve").to_numpy().astype(np.int64)
        groups = lending[column].to_numpy()
        frame = fairlearn.MetricFrame(
            metrics=fairlearn.selection_rate,
            y_true=outcome,
            y_pred=outcome,
            sensitive_features=groups,
        ).by_group
        assert {g: r.value for g, r in audit.rates.items()} == pytest.approx(frame.to_dict())
        assert audit.parity_difference == pytest.approx(
            fairlearn.demographic_parity_difference(outcome, outcome, sensitive_features=groups)
        )
        assert audit.adverse_impact_ratio == pytest.approx(
            fairlearn.demographic_parity_ratio(outcome, outcome, sensitive_features=groups)
        )
