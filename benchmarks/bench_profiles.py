"""Lending profiles: vectorised synthesize + decide against a plain Faker-per-row loop.

Measures, in one run:
  - the one-off cost of drawing the Faker value pools (reported separately);
  - our synthesize + decide throughput on --n rows (pools already warm);
  - a plain Python loop making the same columns with one Faker call per text field per row and
    the same policy applied row by row (--faker-n rows, reported as rows/s);
  - peak RSS of a fresh process that synthesizes and labels 1,000,000 rows;
  - the `fin-factory profiles recipes/lending-cot.yaml` command's wall time (a subprocess, value
    pools already in the user cache) for --cli-n rows to Parquet, against the Faker loop's time
    for as many rows (the issue's target: >= 150x), and for 1,000 rows (target: under 1.5 s).

Run:  python benchmarks/bench_profiles.py            (defaults: --n 1000000 --faker-n 20000)
      python benchmarks/bench_profiles.py --n 200000 --faker-n 5000 --cli-n 200000
"""

from __future__ import annotations

import argparse
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from faker import Faker

from factory.domains import get_domain
from factory.domains._pools import value_pools
from factory.domains.lending import LendingDistribution, LendingPolicy
from factory.domains.lending.profiles import AGE_BANDS, MARITAL_STATUSES
from factory.domains.lending.rules import REASON_ORDER

LOCALE, SEED = "en_US", 0
RSS_ROWS = 1_000_000
ROOT = Path(__file__).resolve().parents[1]
CLI_RECIPE = ROOT / "recipes" / "lending-cot.yaml"
CLI_TARGET = 150.0
SMALL_ROWS, SMALL_TARGET_S = 1_000, 1.5
_PURPOSES = {  # name: (weight, median amount, log-sigma, terms, base APR, APR per score point)
    "debt_consolidation": (0.30, 12_000, 0.6, (36, 60), 0.105, 0.0009),
    "home_improvement": (0.12, 15_000, 0.6, (36, 60, 84, 120), 0.095, 0.0009),
    "personal": (0.14, 8_000, 0.7, (12, 24, 36, 60), 0.11, 0.0009),
    "medical": (0.04, 6_000, 0.7, (12, 24, 36), 0.115, 0.0009),
    "auto": (0.25, 30_000, 0.4, (36, 48, 60, 72, 84), 0.068, 0.00035),
    "mortgage": (0.15, 0, 0.3, (180, 360), 0.062, 0.00012),
}


def ours(n: int, boundary_fraction: float = 0.2) -> pl.DataFrame:
    """Synthesizes and labels `n` applicants with the lending domain (one shard)."""
    domain = get_domain("lending")
    policy = LendingPolicy()
    profiles = domain.synthesize(
        n,
        seed=SEED,
        shard=0,
        offset=0,
        locale=LOCALE,
        distribution=LendingDistribution(),
        policy=policy,
        boundary_fraction=boundary_fraction,
    )
    return domain.decide(profiles, policy)


def faker_loop(n: int) -> pl.DataFrame:
    """The obvious alternative: Faker and `random` per row, the policy per row in Python."""
    fake = Faker(LOCALE)
    fake.seed_instance(SEED)
    rng = random.Random(SEED)
    policy = LendingPolicy()
    version = get_domain("lending").policy_version(policy)
    names, weights = list(_PURPOSES), [spec[0] for spec in _PURPOSES.values()]
    rows = []
    for i in range(n):
        sex = rng.choice(("female", "male"))
        age = min(18 + int(rng.gammavariate(2.6, 8.5)), 85)
        years = round((age - 17.5) * rng.betavariate(1.5, 2.2), 1)
        income_z = rng.gauss(0, 1)
        income = round(
            math.exp(
                math.log(62_000) + rng.gauss(0, 0.25) - 0.0007 * (age - 50) ** 2 + 0.5 * income_z
            )
        )
        latent = 0.3 * income_z + 0.3 * max(-2, min(2, (age - 40) / 13)) + 0.9 * rng.gauss(0, 1)
        score = int(max(300, min(850, round(715 + (70 if latent >= 0 else 90) * latent))))
        util_logit = -0.9 - 0.8 * latent + 0.8 * rng.gauss(0, 1)
        bankrupt = rng.random() < 0.035 * math.exp(-latent)
        purpose = rng.choices(names, weights)[0]
        _, median, sigma, terms, base, per_point = _PURPOSES[purpose]
        if purpose == "mortgage":
            amount = round(income * max(1, min(6, 2.6 * math.exp(sigma * rng.gauss(0, 1)))), -3)
        else:
            amount = round(
                median * (income / 62_000) ** 0.5 * math.exp(sigma * rng.gauss(0, 1)), -2
            )
        term = rng.choice(terms)
        secured = purpose in ("auto", "mortgage")
        apr = round(min(0.3599, base + per_point * max(0, 780 - score) + rng.gauss(0, 0.003)), 4)
        row = {
            "applicant_id": i,
            "first_name": fake.first_name_female() if sex == "female" else fake.first_name_male(),
            "last_name": fake.last_name(),
            "sex": sex,
            "age": age,
            "age_band": AGE_BANDS[sum(age >= edge for edge in (25, 35, 45, 55, 65))],
            "marital_status": rng.choice(MARITAL_STATUSES),
            "employer": fake.company(),
            "job_title": fake.job(),
            "city": fake.city(),
            "state": fake.state_abbr(),
            "employment_years": years,
            "annual_income": float(income),
            "monthly_debt_payments": round(
                0.14 * math.exp(0.25 * (util_logit + 0.9) + 0.5 * rng.gauss(0, 1)) * income / 12, 2
            ),
            "credit_score": score,
            "credit_utilization": round(1 / (1 + math.exp(-util_logit)), 4),
            "delinquencies_2y": _poisson(rng, 0.09 * math.exp(-1.2 * latent)),
            "bankruptcies": int(bankrupt),
            "months_since_bankruptcy": rng.randint(6, 120) if bankrupt else None,
            "loan_purpose": purpose,
            "loan_amount": float(amount),
            "loan_term_months": term,
            "interest_rate": apr,
            "collateral_value": float(round(amount / rng.uniform(0.5, 1.0))) if secured else None,
        }
        rows.append(_decide_row(row, policy, version))
    return pl.DataFrame(rows, infer_schema_length=None)


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small rates of delinquency counts.
    limit, count, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _decide_row(row: dict, policy: LendingPolicy, version: str) -> dict:
    """The lending rules for one row, in plain Python."""
    loan, months, rate = row["loan_amount"], row["loan_term_months"], row["interest_rate"] / 12
    payment = loan / months if rate == 0 else loan * rate / (1 - (1 + rate) ** -months)
    payment = round(payment, 2)
    income = row["annual_income"]
    dti = round((row["monthly_debt_payments"] + payment) / (income / 12), 4)
    lti = round(loan / income, 4)
    purpose, collateral = row["loan_purpose"], row["collateral_value"]
    ltv = round(loan / collateral, 4) if collateral else None
    months_since = row["months_since_bankruptcy"]
    late, score = row["delinquencies_2y"], row["credit_score"]
    max_ltv, refer_ltv = policy.max_ltv(purpose), policy.refer_ltv(purpose)
    hits = {
        "RECENT_BANKRUPTCY": months_since is not None
        and months_since < policy.bankruptcy_lookback_months,
        "CREDIT_SCORE_BELOW_MIN": score < policy.min_credit_score,
        "DTI_ABOVE_MAX": dti > policy.max_dti,
        "DELINQUENCIES_ABOVE_MAX": late >= policy.deny_delinquencies_2y,
        "LTV_ABOVE_MAX": ltv is not None and max_ltv is not None and ltv > max_ltv,
        "LOAN_TO_INCOME_ABOVE_MAX": ltv is None and lti > policy.max_loan_to_income,
    }
    hits |= {
        "DTI_ABOVE_REFER": not hits["DTI_ABOVE_MAX"] and dti > policy.refer_dti,
        "CREDIT_SCORE_BELOW_REFER": not hits["CREDIT_SCORE_BELOW_MIN"]
        and score < policy.refer_credit_score,
        "RECENT_DELINQUENCY": not hits["DELINQUENCIES_ABOVE_MAX"]
        and late >= policy.refer_delinquencies_2y,
        "LTV_ABOVE_REFER": not hits["LTV_ABOVE_MAX"]
        and ltv is not None
        and refer_ltv is not None
        and ltv > refer_ltv,
        "LOAN_TO_INCOME_ABOVE_REFER": not hits["LOAN_TO_INCOME_ABOVE_MAX"]
        and ltv is None
        and lti > policy.refer_loan_to_income,
        "HIGH_CREDIT_UTILIZATION": row["credit_utilization"] > policy.refer_credit_utilization,
        "SHORT_EMPLOYMENT": row["employment_years"] < policy.min_employment_years,
    }
    codes = [code for code in REASON_ORDER if hits[code]]
    denied = any(hits[code] for code in REASON_ORDER[:6])
    return row | {
        "monthly_income": round(income / 12, 2),
        "monthly_payment": payment,
        "total_monthly_obligations": round(row["monthly_debt_payments"] + payment, 2),
        "dti": dti,
        "ltv": ltv,
        "loan_to_income": lti,
        "decision": "deny" if denied else ("refer" if codes else "approve"),
        "reason_codes": codes[:4],
        "policy_version": version,
    }


def peak_rss_mib(rows: int) -> float:
    """Peak RSS of a fresh process that synthesizes and labels `rows` applicants."""
    subprocess.run([sys.executable, __file__, "--child", str(rows)], check=True)
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def cli_seconds(rows: int, folder: Path) -> float:
    """Wall time of `fin-factory profiles recipes/lending-cot.yaml --n ROWS --out x.parquet`."""
    command = [sys.executable, "-m", "factory.cli", "profiles", str(CLI_RECIPE), "--n", str(rows),
               "--out", str(folder / "x.parquet")]  # fmt: skip
    # As installed for a user, with bytecode: pip compiles it at install, and Python writes it at
    # the first run of an editable install. A machine that sets PYTHONDONTWRITEBYTECODE would
    # otherwise compile every module of ours from source at every start (~0.2 s here).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows for synthesize+decide")
    parser.add_argument("--faker-n", type=int, default=20_000, help="rows for the Faker loop")
    parser.add_argument("--cli-n", type=int, default=1_000_000, help="rows for the CLI timing")
    parser.add_argument("--cli-runs", type=int, default=3, help="runs of each CLI timing")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        value_pools(LOCALE, SEED)
        ours(args.child)
        return

    start = time.perf_counter()
    value_pools(LOCALE, SEED)
    warm_up = time.perf_counter() - start
    print(f"value pools warm-up (once per process): {warm_up:.2f} s")

    start = time.perf_counter()
    frame = ours(args.n)
    elapsed = time.perf_counter() - start
    our_rate = args.n / elapsed
    print(f"ours: {args.n:,} rows in {elapsed:.2f} s, {frame.width} columns")

    start = time.perf_counter()
    baseline = faker_loop(args.faker_n)
    elapsed = time.perf_counter() - start
    faker_rate = args.faker_n / elapsed
    print(f"faker loop: {args.faker_n:,} rows in {elapsed:.2f} s, {baseline.width} columns")
    missing = set(frame.columns) ^ set(baseline.columns)
    if missing:
        raise SystemExit(f"the two producers disagree on columns: {sorted(missing)}")

    rss = peak_rss_mib(RSS_ROWS)
    print(
        f"lending synth+policy: {our_rate:,.0f} rows/s; faker loop: {faker_rate:,.0f} rows/s; "
        f"ratio {our_rate / faker_rate:.1f}x; {RSS_ROWS:,} rows peak RSS {rss:,.0f} MiB"
    )

    with tempfile.TemporaryDirectory() as folder:
        cli_seconds(SMALL_ROWS, Path(folder))  # the recipe seed's value pools into the cache
        # The median of a few runs: a shared machine's noise is a tenth of a second either way.
        bigs = [cli_seconds(args.cli_n, Path(folder)) for _ in range(args.cli_runs)]
        smalls = [cli_seconds(SMALL_ROWS, Path(folder)) for _ in range(args.cli_runs)]
    big, small = statistics.median(bigs), statistics.median(smalls)
    faker_seconds = args.cli_n / faker_rate
    ratio = faker_seconds / big
    print(
        f"cli runs (s): --n {args.cli_n:,}: {_seconds(bigs)}; --n {SMALL_ROWS:,}: "
        + _seconds(smalls)
    )
    print(
        f"cli profiles --n {args.cli_n:,}: median {big:.2f} s wall "
        f"({args.cli_n / big:,.0f} rows/s); "
        f"the faker loop would take {faker_seconds:,.1f} s: ratio {ratio:.0f}x "
        f"(target >= {CLI_TARGET:.0f}x: {'met' if ratio >= CLI_TARGET else 'NOT met'})"
    )
    print(
        f"cli profiles --n {SMALL_ROWS:,}: median {small:.2f} s wall "
        f"(target < {SMALL_TARGET_S} s: {'met' if small < SMALL_TARGET_S else 'NOT met'})"
    )


def _seconds(runs: list[float]) -> str:
    return ", ".join(f"{run:.2f}" for run in runs)


if __name__ == "__main__":
    main()
