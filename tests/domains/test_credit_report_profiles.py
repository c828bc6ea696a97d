"""Credit-report profiles: determinism, shards, realistic shapes, boundary rows, fairness."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from factory.domains import get_domain
from factory.domains._pools import value_pools
from factory.domains.credit_report import CreditReportDistribution, CreditReportPolicy
from factory.domains.credit_report.questions import QUESTION_PHRASES, TREND_QUESTION
from factory.recipe import parse_recipe

DOMAIN = get_domain("credit_report")
POLICY = CreditReportPolicy()


def draw(
    n: int = 2_000,
    *,
    seed: int = 11,
    shard: int = 0,
    offset: int = 0,
    boundary_fraction: float = 0.2,
    distribution: CreditReportDistribution | None = None,
) -> pl.DataFrame:
    return DOMAIN.synthesize(
        n,
        seed=seed,
        shard=shard,
        offset=offset,
        locale="en_US",
        distribution=distribution or CreditReportDistribution(),
        policy=POLICY,
        boundary_fraction=boundary_fraction,
    )


@pytest.fixture(scope="module")
def labelled() -> pl.DataFrame:
    return DOMAIN.decide(draw(20_000, boundary_fraction=0.0), POLICY)


def test_same_seed_same_frame_and_different_seed_different_frame():
    # Each new seed builds new Faker pools (seconds), so the suite sticks to seeds 11 and 12.
    assert draw(seed=11).equals(draw(seed=11))
    assert not draw(seed=11).equals(draw(seed=12))


def test_a_shard_is_reproducible_on_its_own():
    run = [draw(500, shard=i, offset=500 * i) for i in range(4)]
    assert draw(500, shard=3, offset=1_500).equals(run[3])
    ids = pl.concat(run)["customer_id"]
    assert ids.n_unique() == 2_000
    assert ids[0] == "CUS-0000000000" and ids[-1] == "CUS-0000001999"


def test_scores_are_realistic_and_utilization_tracks_them(labelled):
    for side in ("before", "after"):
        scores = labelled[f"score_{side}"]
        assert scores.min() >= 300 and scores.max() <= 850
        assert 680 <= scores.median() <= 760
        # Left-skewed like published score distributions: a long tail of low scores.
        assert scores.mean() < scores.median()
        assert labelled[f"utilization_{side}"].min() >= 0.0
        assert labelled[f"utilization_{side}"].max() <= 1.05
    assert labelled.select(pl.corr("score_before", "utilization_before")).item() < -0.5
    assert labelled.select(pl.corr("score_before", "late_payments_before")).item() < -0.3
    # Utilization is what the balances and limits say.
    ratio = labelled["revolving_balance_after"] / labelled["credit_limit_after"]
    assert ((ratio - labelled["utilization_after"]).abs() <= 5.0001e-5).all()


def test_trend_base_rates_are_plausible(labelled):
    shares = labelled["decision"].value_counts(normalize=True)
    share = dict(zip(shares["decision"], shares["proportion"], strict=True))
    assert set(share) == {"improved", "declined", "stable"}
    assert all(0.15 <= value <= 0.55 for value in share.values())


def test_score_changes_are_driven_by_the_report_changes(labelled):
    def mean_delta(code_list: str, code: str) -> float:
        has = labelled[code_list].list.eval(pl.element().struct.field("code") == code).list.any()
        return labelled.filter(has)["score_delta"].mean()

    assert mean_delta("bad_changes", "NEW_LATE_PAYMENT") < -20
    assert mean_delta("bad_changes", "NEW_COLLECTION") < -20
    assert mean_delta("good_changes", "UTILIZATION_DOWN") > 5
    assert mean_delta("bad_changes", "UTILIZATION_UP") < mean_delta(
        "good_changes", "UTILIZATION_DOWN"
    )
    assert labelled.select(pl.corr("score_delta", "utilization_delta")).item() < -0.3


def test_derogatory_events_are_rare_but_present(labelled):
    new_late = (labelled["late_payments_delta"] > 0).mean()
    new_collection = (labelled["collections_delta"] > 0).mean()
    assert 0.02 <= new_late <= 0.15
    assert 0.005 <= new_collection <= 0.06
    assert (labelled["public_records_after"] > 0).mean() < 0.06


def test_boundary_rows_cluster_at_the_thresholds():
    def near_share(fraction: float) -> float:
        out = DOMAIN.decide(draw(6_000, boundary_fraction=fraction), POLICY)
        band = POLICY.stable_band_points
        near = (
            ((out["score_delta"].abs() - band).abs() <= 2)
            | ((out["utilization_after"] - POLICY.target_utilization).abs() <= 0.02)
            | ((out["utilization_delta"].abs() - POLICY.min_utilization_change).abs() <= 0.005)
            | ((out["revolving_balance_delta"].abs() - POLICY.min_balance_change).abs() <= 50)
        )
        return near.mean()

    none, some, most = near_share(0.0), near_share(0.4), near_share(0.9)
    assert none < some < most
    assert most - none > 0.4


def test_protected_attributes_are_audit_only():
    frame = draw(3_000)
    assert set(frame["sex"].unique()) == {"female", "male"}
    assert frame["age"].min() >= 18
    for age, band in frame.select("age", "age_band").unique().iter_rows():
        low, _, high = band.partition("-")
        assert int(low.rstrip("+")) <= age <= (int(high) if high else 200)
    assert set(frame["marital_status"].unique()) <= {"single", "married", "divorced", "widowed"}
    pools = value_pools("en_US", 11)
    women = frame.filter(pl.col("sex") == "female")["first_name"]
    assert women.is_in(pools.first_names_female.implode()).all()

    shuffled = frame.with_columns(
        pl.col(column).shuffle(seed=1) for column in DOMAIN.protected_columns
    )
    engine = ["decision", "reason_codes", "good_changes", "bad_changes", "actions"]
    assert (
        DOMAIN.decide(frame, POLICY)
        .select(engine)
        .equals(DOMAIN.decide(shuffled, POLICY).select(engine))
    )


def test_questions_never_contradict_the_trend(labelled):
    trend_of = {question: trend for trend, question in TREND_QUESTION.items()}
    for question_type, trend in trend_of.items():
        rows = labelled.filter(pl.col("question_type") == question_type)
        assert rows.height > 0
        assert (rows["decision"] == trend).all()
    assert set(labelled["question_type"].unique()) == set(QUESTION_PHRASES)
    phrasings = labelled.group_by("question_type").agg(pl.col("question").n_unique())
    assert phrasings["question"].min() >= 4
    assert not labelled["question"].str.contains(r"\d").any()


def test_knobs_move_the_distribution():
    risky = draw(
        5_000, distribution=CreditReportDistribution(mean_score=620, delinquency_multiplier=3.0)
    )
    base = draw(5_000)
    assert risky["score_before"].median() < base["score_before"].median() - 40
    late = (risky["late_payments_after"] - risky["late_payments_before"] > 0).mean()
    assert late > (base["late_payments_after"] - base["late_payments_before"] > 0).mean()
    months = draw(500, distribution=CreditReportDistribution(months_min=3, months_max=3))[
        "months_between"
    ]
    assert set(months.unique()) == {3}


@pytest.mark.parametrize(
    "knobs",
    [
        {"months_min": 6, "months_max": 3},
        {"paydown_rate": 0.7, "spend_up_rate": 0.5},
        {"why_question_share": 0.8, "improve_question_share": 0.3},
        {"mean_score": 900},
    ],
)
def test_inconsistent_knobs_are_rejected(knobs):
    with pytest.raises(ValidationError):
        CreditReportDistribution(**knobs)


def test_every_recipe_field_is_documented_and_a_recipe_validates():
    for model in (CreditReportPolicy, CreditReportDistribution):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"
    recipe = parse_recipe(
        {
            "name": "credit-report-qa",
            "description": "Customer questions about credit report changes.",
            "domain": "credit_report",
            "task": "qa",
            "policy": {"target_utilization": 0.25},
            "profiles": {"count": 100, "distribution": {"months_max": 6}},
        }
    )
    assert recipe.policy.target_utilization == 0.25  # type: ignore[attr-defined]
    assert recipe.profiles.distribution.months_max == 6  # type: ignore[attr-defined]
