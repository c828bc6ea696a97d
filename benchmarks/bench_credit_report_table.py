"""The credit-report rule table against the hand-written engine it replaced, on N rows.

Labels the same profiles (the recipe's distribution, the same seed) with the frozen engine of
tests/domains/reference/credit_report_engine.py and with the compiled rule table, for the
default policy and one that moves every threshold; prints whether every column (decision,
reason codes, good/bad changes, actions, every derived number) is equal, dtype included, and
the best-of-5 time per row of each engine side by side.

    python benchmarks/bench_credit_report_table.py              # 100,000 rows
    python benchmarks/bench_credit_report_table.py --rows 20000
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory.domains import get_domain
from factory.domains.credit_report import CreditReportDistribution, CreditReportPolicy
from tests.domains.reference import credit_report_engine

POLICIES = {
    "default": CreditReportPolicy(),
    "moved": CreditReportPolicy(
        stable_band_points=12,
        min_utilization_change=0.05,
        min_balance_change=1_200.0,
        min_credit_limit_change=250.0,
        target_utilization=0.1,
        inquiry_caution_count=1,
    ),
}


def _best(fn: Callable[[], object], repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    domain = get_domain("credit_report")
    print("policy   rows     equal  mismatched  frozen us/row  table us/row  ratio")
    for name, policy in POLICIES.items():
        frame = domain.synthesize(
            args.rows,
            seed=args.seed,
            shard=0,
            offset=0,
            locale="en_US",
            distribution=CreditReportDistribution(),
            policy=policy,
            boundary_fraction=0.3,
        )
        version = domain.policy_version(policy)
        expected = credit_report_engine.decide(frame, policy, version)
        got = domain.decide(frame, policy)
        mismatched = [
            c
            for c in expected.columns
            if c not in got.columns or not got[c].equals(expected[c], check_dtypes=True)
        ]
        equal = got.columns == expected.columns and not mismatched
        frozen = _best(partial(credit_report_engine.decide, frame, policy, version)) / args.rows
        table = _best(partial(domain.decide, frame, policy)) / args.rows
        print(
            f"{name:<8} {args.rows:<8} {equal!s:<6} {len(mismatched):<11} "
            f"{frozen * 1e6:<14.2f} {table * 1e6:<13.2f} {table / frozen:.2f}x"
        )
        if not equal:
            raise SystemExit(f"columns differ: {mismatched or 'order'}")


if __name__ == "__main__":
    main()
