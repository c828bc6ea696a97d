"""Lending profiles: determinism, sharding, realistic shapes, hard cases, protected columns."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from factory.domains import get_domain
from factory.domains._pools import value_pools
from factory.domains._streams import ShardStreams
from factory.domains.lending import LendingDistribution, LendingPolicy
from factory.domains.lending.policy import LOAN_PURPOSES
from factory.domains.lending.profiles import AGE_BANDS, MARITAL_STATUSES, PurposeWeights
from factory.errors import RecipeError
from factory.recipe import parse_recipe
from factory.synth import Shard

DOMAIN = get_domain("lending")
POLICY = LendingPolicy()
KNOBS = LendingDistribution()


def synth(n: int = 2_000, *, seed: int = 7, shard: int = 0, offset: int = 0, **kwargs):
    knobs = kwargs.pop("distribution", KNOBS)
    return DOMAIN.synthesize(
        n,
        seed=seed,
        shard=shard,
        offset=offset,
        locale="en_US",
        distribution=knobs,
        policy=kwargs.pop("policy", POLICY),
        boundary_fraction=kwargs.pop("boundary_fraction", 0.0),
    )


@pytest.fixture(scope="module")
def population() -> pl.DataFrame:
    return DOMAIN.decide(synth(60_000, seed=11), POLICY)


def test_same_arguments_give_identical_frames_and_other_seeds_differ():
    # Seeds 7 and 11 are the ones the other tests use, so their value pools are already built.
    first = synth(seed=7, boundary_fraction=0.3)
    assert first.equals(synth(seed=7, boundary_fraction=0.3))
    assert not first.equals(synth(seed=11, boundary_fraction=0.3))
    assert not first.equals(synth(seed=7, shard=1, boundary_fraction=0.3))


def test_a_shard_alone_equals_the_same_shard_generated_after_others():
    alone = synth(500, shard=3, offset=1_500)
    for shard in range(3):
        synth(500, shard=shard, offset=500 * shard)
    assert alone.equals(synth(500, shard=3, offset=1_500))


@pytest.mark.parametrize("boundary_fraction", [0.0, 0.3, 1.0])
def test_shards_synthesized_together_equal_each_shard_alone(boundary_fraction):
    # Uneven sizes (a run's last shard is short) and shards out of order, as a resumed run's
    # pending shards can be.
    shards = [Shard(0, 0, 700), Shard(1, 700, 700), Shard(4, 2_800, 700), Shard(5, 3_500, 123)]
    alone = pl.concat(
        synth(s.size, shard=s.index, offset=s.offset, boundary_fraction=boundary_fraction)
        for s in shards
    )
    together = DOMAIN.synthesize_shards(
        shards,
        seed=7,
        locale="en_US",
        distribution=KNOBS,
        policy=POLICY,
        boundary_fraction=boundary_fraction,
    )
    assert together.equals(alone)
    assert DOMAIN.decide(together, POLICY).equals(DOMAIN.decide(alone, POLICY))


def test_shard_streams_draw_each_shard_from_its_own_generator_or_refuse():
    generators = [np.random.default_rng(s) for s in (1, 2)]
    streams = ShardStreams([np.random.default_rng(s) for s in (1, 2)], [3, 2])
    lam = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    expected = np.concatenate([generators[0].poisson(lam[:3]), generators[1].poisson(lam[3:])])
    assert streams.poisson(lam).tolist() == expected.tolist()
    with pytest.raises(TypeError, match="not one value per row"):
        streams.random(4)  # a draw whose size is not the rows': no shard could make it alone
    with pytest.raises(TypeError, match="one value per row"):
        streams.normal(0.0, 1.0)
    with pytest.raises(AttributeError, match="draws no 'permutation'"):
        streams.permutation(5)


def test_ids_follow_offsets_and_are_unique_across_shards():
    shards = [synth(300, shard=s, offset=300 * s) for s in range(3)]
    ids = pl.concat([s["applicant_id"] for s in shards])
    assert ids.to_list() == list(range(900))
    assert shards[1]["applicant_id"][0] == 300


def test_columns_the_issue_requires_are_present(population):
    required = {
        "applicant_id", "annual_income", "monthly_debt_payments", "loan_amount",
        "loan_term_months", "interest_rate", "credit_score", "employment_years",
        "monthly_payment", "dti", "decision", "reason_codes", "policy_version",
        "first_name", "last_name", "employer", "job_title", "city", "state", "loan_purpose",
        "collateral_value", "ltv", "delinquencies_2y", "bankruptcies",
        "months_since_bankruptcy", "credit_utilization", "loan_to_income",
        *DOMAIN.protected_columns,
    }  # fmt: skip
    assert required <= set(population.columns)
    assert population.schema["reason_codes"] == pl.List(pl.String)
    assert population.schema["decision"] == pl.String


def test_values_stay_in_realistic_ranges(population):
    p = population
    assert p["credit_score"].min() >= 300 and p["credit_score"].max() <= 850
    assert 690 <= p["credit_score"].median() <= 740
    # Left-skewed like real score distributions: the mean sits below the median.
    assert p["credit_score"].mean() < p["credit_score"].median()
    income_median = p["annual_income"].median()
    assert 0.9 * KNOBS.income_median <= income_median <= 1.1 * KNOBS.income_median
    # Log-normal: a long right tail, mean well above the median.
    assert p["annual_income"].mean() > 1.1 * income_median
    assert p["credit_utilization"].is_between(0, 1).all()
    assert p["employment_years"].min() >= 0
    assert (p["employment_years"] <= p["age"] - 17.5).all()
    assert p["age"].is_between(18, 85).all()
    assert p["interest_rate"].is_between(0, 0.36).all()
    assert set(p["age_band"].unique()) == set(AGE_BANDS)
    assert set(p["marital_status"].unique()) <= set(MARITAL_STATUSES)
    assert set(p["sex"].unique()) == {"female", "male"}


def test_age_band_matches_age(population):
    edges = {"18-24": (18, 24), "25-34": (25, 34), "35-44": (35, 44), "45-54": (45, 54),
             "55-64": (55, 64), "65+": (65, 200)}  # fmt: skip
    low = population["age_band"].replace_strict({b: lo for b, (lo, _) in edges.items()})
    high = population["age_band"].replace_strict({b: hi for b, (_, hi) in edges.items()})
    assert ((population["age"] >= low) & (population["age"] <= high)).all()


def test_correlations_have_the_real_world_signs(population):
    p = population

    def corr(a: str, b: str) -> float:
        return float(np.corrcoef(p[a].to_numpy(), p[b].to_numpy())[0, 1])

    assert corr("credit_utilization", "credit_score") < -0.4
    assert float(np.corrcoef(np.log(p["annual_income"]), p["credit_score"])[0, 1]) > 0.1
    assert corr("delinquencies_2y", "credit_score") < -0.1
    assert corr("age", "credit_score") > 0.1
    # Risk-based pricing: within a purpose, better scores get lower rates.
    personal = p.filter(pl.col("loan_purpose") == "personal")
    assert np.corrcoef(personal["credit_score"], personal["interest_rate"])[0, 1] < -0.5


def test_income_follows_the_job_title_premium(population):
    pools = value_pools("en_US", 11)
    titles = pools.job_titles.to_list()
    # Titles that appear more than once in the pool carry several premiums; skip them.
    unique = {t: pools.job_pay_premium[i] for i, t in enumerate(titles) if titles.count(t) == 1}
    p = population.filter(pl.col("job_title").is_in(list(unique)))
    premium = p["job_title"].replace_strict(unique, return_dtype=pl.Float64)
    assert np.corrcoef(premium, np.log(p["annual_income"]))[0, 1] > 0.2


def test_first_names_come_from_the_pool_of_the_row_sex(population):
    pools = value_pools("en_US", 11)
    female = population.filter(pl.col("sex") == "female")["first_name"]
    male = population.filter(pl.col("sex") == "male")["first_name"]
    assert female.is_in(pools.first_names_female.implode()).all()
    assert male.is_in(pools.first_names_male.implode()).all()


def test_only_secured_loans_have_collateral_and_ltv(population):
    secured = population["loan_purpose"].is_in(["auto", "mortgage"])
    assert population.filter(secured)["collateral_value"].null_count() == 0
    assert population.filter(secured)["ltv"].null_count() == 0
    assert population.filter(~secured)["collateral_value"].null_count() == int((~secured).sum())
    assert population.filter(~secured)["ltv"].null_count() == int((~secured).sum())
    months = population["months_since_bankruptcy"]
    assert ((population["bankruptcies"] > 0) == months.is_not_null()).all()


def test_label_base_rates_are_plausible(population):
    share = population["decision"].value_counts(normalize=True)
    rates = dict(zip(share["decision"], share["proportion"], strict=True))
    assert 0.30 <= rates["approve"] <= 0.60
    assert 0.20 <= rates["refer"] <= 0.45
    assert 0.10 <= rates["deny"] <= 0.35


def test_adverse_rows_have_reasons_and_approvals_have_none(population):
    counts = population["reason_codes"].list.len()
    adverse = population["decision"].is_in(list(DOMAIN.adverse_labels))
    assert (counts.filter(adverse) >= 1).all()
    assert (counts.filter(~adverse) == 0).all()
    assert counts.max() <= DOMAIN.max_principal_reasons


def test_policy_never_reads_protected_attributes(population):
    rng = np.random.default_rng(0)
    shuffled = population.with_columns(
        pl.Series(c, population[c].to_numpy()[rng.permutation(population.height)])
        for c in DOMAIN.protected_columns
    )
    assert not shuffled["age"].equals(population["age"])
    again = DOMAIN.decide(shuffled.drop("decision", "reason_codes"), POLICY)
    assert again["decision"].equals(population["decision"])
    assert again["reason_codes"].equals(population["reason_codes"])
    dropped = DOMAIN.decide(population.drop(*DOMAIN.protected_columns), POLICY)
    assert dropped["decision"].equals(population["decision"])


def _near_threshold_share(frame: pl.DataFrame) -> float:
    labelled = DOMAIN.decide(frame, POLICY)
    dti, score = pl.col("dti"), pl.col("credit_score")
    near = (
        ((dti - POLICY.max_dti).abs() <= 0.02)
        | ((dti - POLICY.refer_dti).abs() <= 0.02)
        | ((score - POLICY.min_credit_score).abs() <= 10)
        | ((score - POLICY.refer_credit_score).abs() <= 10)
    )
    return float(labelled.select(near.mean()).item())


def test_boundary_fraction_draws_rows_near_thresholds():
    shares = [_near_threshold_share(synth(8_000, boundary_fraction=f)) for f in (0.0, 0.3, 0.8)]
    assert shares[0] < shares[1] < shares[2]
    assert shares[2] > 0.6


def test_boundary_rows_straddle_each_threshold():
    labelled = DOMAIN.decide(synth(8_000, boundary_fraction=1.0), POLICY)
    for low, high in ((0.41, 0.43), (0.43, 0.45), (0.34, 0.36), (0.36, 0.38)):
        assert labelled["dti"].is_between(low, high, closed="right").sum() > 50
    for low, high in ((610, 619), (620, 630), (670, 679), (680, 690)):
        assert labelled["credit_score"].is_between(low, high).sum() > 50


def only(**weights: float) -> dict[str, float]:
    """Purpose weights with every purpose not named set to zero."""
    return {purpose: 0.0 for purpose in LOAN_PURPOSES} | weights


def test_zero_apr_loans_are_possible_and_priced_at_zero():
    knobs = LendingDistribution(zero_apr_share=1.0, purpose_weights=only(auto=1.0))
    labelled = DOMAIN.decide(synth(2_000, distribution=knobs), POLICY)
    zero = labelled.filter(pl.col("interest_rate") == 0)
    assert zero.height > 0 and (zero["credit_score"] >= 700).all()
    expected = (zero["loan_amount"] / zero["loan_term_months"]).round(2)
    assert (zero["monthly_payment"] - expected).abs().max() < 0.011


def test_purpose_weights_choose_the_mix():
    knobs = LendingDistribution(purpose_weights=only(mortgage=1.0, medical=1.0))
    purposes = synth(2_000, distribution=knobs)["loan_purpose"]
    assert set(purposes.unique()) == {"mortgage", "medical"}
    assert 0.4 < (purposes == "mortgage").mean() < 0.6


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"yacht": 1.0}, "yacht"),
        ({"auto": -1.0}, "greater than or equal to 0"),
        (only(), "at least one loan purpose needs a weight above 0"),
    ],
)
def test_purpose_weights_are_validated(weights, message):
    with pytest.raises(ValidationError, match=message):
        LendingDistribution(purpose_weights=weights)


def test_every_distribution_knob_is_documented_and_knobs_hash():
    assert set(PurposeWeights.model_fields) == set(LOAN_PURPOSES)
    for model in (LendingDistribution, PurposeWeights):
        for name, field in model.model_fields.items():
            assert field.description, name
    # Frozen knobs hash, so callers may cache on them.
    assert hash(LendingDistribution()) == hash(LendingDistribution())


def test_recipes_configure_the_policy_and_report_bad_fields():
    recipe = parse_recipe(
        {
            "name": "lending-test",
            "description": "lending",
            "domain": "lending",
            "policy": {"max_dti": 0.5, "refer_dti": 0.4},
            "profiles": {"distribution": {"income_median": 80_000}},
        }
    )
    assert recipe.policy == LendingPolicy(max_dti=0.5, refer_dti=0.4)
    assert recipe.task == "decision_cot"
    with pytest.raises(RecipeError, match="refer_dti"):
        parse_recipe(
            {"name": "x", "description": "x", "domain": "lending", "policy": {"refer_dti": 0.5}}
        )
