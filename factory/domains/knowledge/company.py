"""The embedded default: a seeded, fabricated financial company and its fact base.

Every name here is invented (the company, its products, its people, its regulator), and the
values (fees, rates, limits, hours) are drawn from the recipe's seed, so two seeds give two
different companies. `fact_base(seed)` returns the structured facts; handbook.py renders them
into the documents and the Q&A items.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Invented names; none is meant to be a real company.
_NAMES = ("Quillmere", "Brindlewood", "Asterfell", "Corvellan", "Oakhallow", "Tamsinvale")
_CITIES = ("Port Alder", "Hollin Bay", "Marrowfield", "Eastmere")
_FIRST = ("Mara", "Tobin", "Ilse", "Corin", "Wren", "Dalia", "Emrys", "Sunniva")
_LAST = ("Ellingsworth", "Haverkamp", "Quarrie", "Vantreight", "Ashdown", "Penhallow")


@dataclass(frozen=True)
class Account:
    name: str
    kind: str  # checking or savings
    monthly_fee: float
    waiver_balance: float
    overdraft_fee: float | None
    opening_deposit: float
    min_age: int
    max_age: int | None = None
    apy: float | None = None  # percent units: 3.25 means 3.25%
    withdrawals: int | None = None


@dataclass(frozen=True)
class Card:
    name: str
    annual_fee: float
    apr: float  # percent units
    foreign_fee: float  # percent units
    cash_back: float | None
    credit_limit: float
    min_score: int


@dataclass(frozen=True)
class Loan:
    name: str
    apr_low: float
    apr_high: float
    amount_low: float
    amount_high: float
    max_term: int
    origination_fee: float  # percent units
    min_score: int


@dataclass(frozen=True)
class Company:
    """The fact base of one fabricated company."""

    name: str
    short: str
    city: str
    founded: int
    members: int
    branches: int
    registration: str
    regulator: str
    routing_note: str
    ceo: str
    cfo: str
    founder: str
    milestones: tuple[tuple[int, str], ...]
    accounts: tuple[Account, ...]
    cards: tuple[Card, ...]
    loans: tuple[Loan, ...]
    phone_weekday: tuple[int, int]  # opening and closing hour, 24h clock
    phone_saturday: tuple[int, int]
    dispute_days: int
    provisional_days: int
    resolution_days: int
    overdraft_cap: int
    overdraft_buffer: float
    complaint_ack_days: int
    complaint_reply_days: int
    retention_years: int


def fact_base(seed: int) -> Company:
    """The fabricated company of `seed` (deterministic)."""
    rng = random.Random(f"knowledge-company:{seed}")
    short = rng.choice(_NAMES)
    name = f"{short} Financial"

    def person() -> str:
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"

    founded = rng.randint(1988, 2009)
    fee = rng.choice((5.0, 6.0, 8.0, 10.0))
    overdraft = rng.choice((25.0, 29.0, 32.0, 35.0))
    accounts = (
        Account(
            "Everyday Checking", "checking", fee, rng.choice((500.0, 1000.0, 1500.0)),
            overdraft, rng.choice((25.0, 50.0)), 18,
        ),
        Account(
            "Premier Checking", "checking", fee + rng.choice((10.0, 15.0, 20.0)),
            rng.choice((10000.0, 15000.0, 25000.0)), overdraft, rng.choice((100.0, 250.0)), 18,
        ),
        Account(
            "High-Yield Savings", "savings", 0.0, 0.0, None, rng.choice((100.0, 200.0)), 18,
            apy=round(rng.uniform(3.1, 4.6), 2), withdrawals=6,
        ),
        Account(
            "Youth Savings", "savings", 0.0, 0.0, None, 10.0, 13, 17,
            apy=round(rng.uniform(1.5, 2.9), 2), withdrawals=rng.choice((2, 4)),
        ),
    )  # fmt: skip
    cards = (
        Card("Cashback Card", 0.0, round(rng.uniform(19.5, 26.5), 2), 3.0,
             rng.choice((1.5, 2.0)), rng.choice((5000.0, 7500.0)), rng.choice((640, 660))),
        Card("Voyager Travel Card", rng.choice((95.0, 125.0, 195.0)),
             round(rng.uniform(20.5, 28.5), 2), 0.0, None, rng.choice((15000.0, 20000.0)),
             rng.choice((700, 720, 740))),
    )  # fmt: skip
    loans = (
        Loan("Personal Loan", round(rng.uniform(6.9, 8.9), 2), round(rng.uniform(21.0, 24.9), 2),
             1000.0, rng.choice((40000.0, 50000.0)), rng.choice((60, 72)),
             rng.choice((0.0, 1.0, 2.0)), rng.choice((620, 640, 660))),
        Loan("Auto Loan", round(rng.uniform(4.9, 6.4), 2), round(rng.uniform(13.0, 17.9), 2),
             5000.0, rng.choice((75000.0, 100000.0)), rng.choice((72, 84)), 0.0,
             rng.choice((600, 620))),
    )  # fmt: skip
    return Company(
        name=name,
        short=short,
        city=rng.choice(_CITIES),
        founded=founded,
        members=rng.choice((120000, 185000, 240000, 310000)),
        branches=rng.randint(9, 40),
        registration=f"RDI-{rng.randint(10000, 99999)}",
        regulator="Registry of Deposit Institutions",
        routing_note=f"Deposits are protected up to $250,000 per depositor by the {short} "
        "Deposit Guarantee Scheme",
        ceo=person(),
        cfo=person(),
        founder=person(),
        milestones=(
            (founded, "opened its first branch"),
            (founded + rng.randint(5, 9), "launched online banking"),
            (founded + rng.randint(12, 16), "introduced the mobile app"),
        ),
        accounts=accounts,
        cards=cards,
        loans=loans,
        phone_weekday=(rng.choice((7, 8)), rng.choice((19, 20, 21))),
        phone_saturday=(9, rng.choice((13, 14, 15))),
        dispute_days=rng.choice((60, 90)),
        provisional_days=rng.choice((5, 10)),
        resolution_days=rng.choice((30, 45)),
        overdraft_cap=rng.choice((2, 3, 4)),
        overdraft_buffer=rng.choice((25.0, 50.0)),
        complaint_ack_days=rng.choice((2, 3, 5)),
        complaint_reply_days=rng.choice((10, 15, 20)),
        retention_years=rng.choice((5, 7)),
    )
