"""How transactions are drawn: the legitimate majority and four fraud patterns.

Each pattern function draws the transaction-level features of `m` rows (numpy, vectorised) given
the spend level of each row's customer. The mixture lives here; the customers, ids and names
live in profiles.py and the near-threshold hard cases in _boundary.py.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from factory.domains._pools import MERCHANT_CATEGORIES

CATEGORIES: tuple[str, ...] = tuple(MERCHANT_CATEGORIES)
CAT_MU = np.array([MERCHANT_CATEGORIES[c][0] for c in CATEGORIES])
CAT_SIGMA = np.array([MERCHANT_CATEGORIES[c][1] for c in CATEGORIES])
HIGH_RISK = np.array([MERCHANT_CATEGORIES[c][2] for c in CATEGORIES])

CHANNELS: tuple[str, ...] = ("card_present", "contactless", "online")
CARD_PRESENT, CONTACTLESS, ONLINE = range(3)

PATTERNS: tuple[str, ...] = (
    "none",
    "card_testing",
    "account_takeover",
    "impossible_travel",
    "high_risk_merchant",
)


def _categories(rng: np.random.Generator, m: int, mix: dict[str, float]) -> np.ndarray:
    """`m` merchant-category indices drawn from `mix` (category -> weight)."""
    return rng.choice(len(CATEGORIES), size=m, p=_weights(mix))


def _weights(mix: dict[str, float]) -> np.ndarray:
    w = np.array([mix.get(c, 0.0) for c in CATEGORIES])
    return w / w.sum()


#: Everyday spending: groceries, restaurants and fuel dominate, high-risk categories are rare.
LEGIT_WEIGHTS = _weights(
    {
        "grocery": 0.22, "restaurants": 0.17, "fuel": 0.11, "pharmacy": 0.06, "utilities": 0.06,
        "apparel": 0.07, "travel": 0.025, "online_retail": 0.14, "entertainment": 0.07,
        "electronics": 0.03, "jewelry": 0.005, "gift_cards": 0.015, "money_transfer": 0.01,
        "crypto_exchange": 0.003, "gambling": 0.007,
    }
)  # fmt: skip

#: Spending abroad leans to travel, hotels and eating out.
ABROAD_WEIGHTS = _weights(
    {
        "grocery": 0.1, "restaurants": 0.25, "fuel": 0.05, "pharmacy": 0.03, "apparel": 0.08,
        "travel": 0.3, "online_retail": 0.04, "entertainment": 0.1, "electronics": 0.03,
        "jewelry": 0.01, "gift_cards": 0.01,
    }
)  # fmt: skip

#: Share of each category's legitimate spending made online (the rest is in person).
ONLINE_SHARE = np.array(
    [
        {
            "grocery": 0.08, "restaurants": 0.1, "fuel": 0.02, "pharmacy": 0.1, "utilities": 0.85,
            "apparel": 0.3, "travel": 0.75, "online_retail": 0.97, "entertainment": 0.5,
            "electronics": 0.45, "jewelry": 0.2, "gift_cards": 0.6, "money_transfer": 0.9,
            "crypto_exchange": 1.0, "gambling": 0.8,
        }.get(c, 0.5)
        for c in CATEGORIES
    ]
)  # fmt: skip


def _hours(weights: list[float]) -> np.ndarray:
    w = np.array(weights)
    return w / w.sum()


#: People shop by day; the small hours are quiet.
DAY_HOURS = _hours(
    [0.8, 0.5, 0.35, 0.3, 0.3, 0.6, 1.5, 3.0, 4.5, 5.2, 5.6, 6.2,
     6.8, 6.4, 5.8, 5.6, 6.0, 6.5, 6.6, 6.0, 5.0, 4.0, 3.0, 1.8]
)  # fmt: skip
#: Fraudsters keep no office hours, and favour the night when the cardholder is asleep.
FRAUD_HOURS = _hours(
    [5.0, 5.5, 5.5, 5.0, 4.5, 3.5, 2.5, 2.5, 3.0, 3.5, 3.5, 4.0,
     4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.5, 4.5]
)  # fmt: skip


@dataclass
class Txns:
    """Transaction-level features of a batch of rows (categorical ones as integer codes)."""

    category: np.ndarray
    channel: np.ndarray
    amount: np.ndarray
    hour: np.ndarray
    foreign: np.ndarray
    distance_km: np.ndarray
    minutes: np.ndarray
    count_1h: np.ndarray
    new_device: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Txns:
        """A batch of `n` rows, every feature zero/False until `put` fills it."""
        ints = ("category", "channel", "hour", "minutes", "count_1h")
        bools = ("foreign", "new_device")
        return cls(
            **{
                f.name: np.zeros(
                    n, dtype=np.int64 if f.name in ints else bool if f.name in bools else np.float64
                )
                for f in fields(cls)
            }
        )

    def put(self, index: np.ndarray, part: Txns) -> None:
        """Writes `part` into the rows at `index`."""
        for f in fields(self):
            getattr(self, f.name)[index] = getattr(part, f.name)


def history_moments() -> tuple[float, float]:
    """Mean and standard deviation of one legitimate transaction at spend level 0.

    A customer's legitimate amounts are a mixture over categories of lognormals scaled by
    exp(level); their history statistics are this mixture's moments scaled the same way.
    """
    m1 = float((LEGIT_WEIGHTS * np.exp(CAT_MU + CAT_SIGMA**2 / 2)).sum())
    m2 = float((LEGIT_WEIGHTS * np.exp(2 * CAT_MU + 2 * CAT_SIGMA**2)).sum())
    return m1, float(np.sqrt(m2 - m1 * m1))


def legit(
    rng: np.random.Generator, level: np.ndarray, foreign_rate: float, new_device_rate: float
) -> Txns:
    """Everyday spending drawn from the customer's own habits."""
    m = level.size
    foreign = rng.random(m) < foreign_rate
    category = np.where(
        foreign,
        rng.choice(len(CATEGORIES), size=m, p=ABROAD_WEIGHTS),
        rng.choice(len(CATEGORIES), size=m, p=LEGIT_WEIGHTS),
    )
    amount = np.exp(CAT_MU[category] + level + CAT_SIGMA[category] * rng.standard_normal(m))
    channel = _channel(rng, ONLINE_SHARE[category])
    distance, minutes = _everyday_geo(rng, foreign)
    # Device fingerprints exist only where a phone or browser is involved.
    new_device = (channel != CARD_PRESENT) & (rng.random(m) < new_device_rate)
    return Txns(
        category=category,
        channel=channel,
        amount=amount,
        hour=rng.choice(24, size=m, p=DAY_HOURS),
        foreign=foreign,
        distance_km=distance,
        minutes=minutes,
        count_1h=_count_1h(rng, minutes, 0.3),
        new_device=new_device,
    )


def card_testing(rng: np.random.Generator, level: np.ndarray) -> Txns:
    """Bursts of tiny online charges checking whether stolen card numbers work."""
    m = level.size
    category = _categories(
        rng,
        m,
        {"online_retail": 0.4, "gift_cards": 0.3, "entertainment": 0.15, "electronics": 0.15},
    )
    minutes = rng.integers(1, 6, m)
    foreign = rng.random(m) < 0.4
    # A card-testing script runs from anywhere: a foreign IP sits continents away.
    distance = np.where(
        foreign,
        rng.uniform(1000.0, 9000.0, m),
        np.minimum(rng.lognormal(np.log(30.0), 1.2, m), 300.0),
    )
    return Txns(
        category=category,
        channel=np.full(m, ONLINE),
        amount=rng.uniform(0.5, 5.0, m),
        hour=rng.choice(24, size=m, p=FRAUD_HOURS),
        foreign=foreign,
        distance_km=distance,
        minutes=minutes,
        count_1h=np.minimum(1 + rng.geometric(0.2, m), 40),
        new_device=rng.random(m) < 0.75,
    )


def account_takeover(rng: np.random.Generator, level: np.ndarray) -> Txns:
    """A fraudster logs in from a new device and buys resellable goods, often from abroad."""
    m = level.size
    category = _categories(
        rng,
        m,
        {
            "electronics": 0.3,
            "jewelry": 0.15,
            "gift_cards": 0.2,
            "money_transfer": 0.2,
            "crypto_exchange": 0.15,
        },
    )
    # Fraud amounts follow the category's ticket, pushed well above this customer's norm.
    amount = np.exp(
        CAT_MU[category] + level + 1.0 + 0.7 * CAT_SIGMA[category] * rng.standard_normal(m)
    )
    minutes = _minutes(rng, m, 180.0, 1.0)
    foreign = rng.random(m) < 0.5
    distance = np.where(
        foreign, rng.uniform(1500.0, 9500.0, m), rng.lognormal(np.log(200.0), 1.0, m)
    )
    return Txns(
        category=category,
        channel=np.where(rng.random(m) < 0.85, ONLINE, CONTACTLESS),
        amount=amount,
        hour=rng.choice(24, size=m, p=FRAUD_HOURS),
        foreign=foreign,
        distance_km=distance,
        minutes=minutes,
        count_1h=_count_1h(rng, minutes, 1.0),
        new_device=rng.random(m) < 0.9,
    )


def impossible_travel(rng: np.random.Generator, level: np.ndarray) -> Txns:
    """A cloned card used in person far from where the real card was just used."""
    m = level.size
    category = _categories(
        rng,
        m,
        {
            "electronics": 0.25,
            "jewelry": 0.1,
            "fuel": 0.15,
            "apparel": 0.15,
            "grocery": 0.15,
            "restaurants": 0.1,
            "gift_cards": 0.1,
        },
    )
    amount = np.exp(CAT_MU[category] + level + 0.6 + CAT_SIGMA[category] * rng.standard_normal(m))
    channel = np.where(rng.random(m) < 0.7, CARD_PRESENT, CONTACTLESS)
    minutes = rng.integers(5, 241, m)
    foreign = rng.random(m) < 0.8
    distance = np.where(foreign, rng.uniform(1500.0, 10000.0, m), rng.uniform(600.0, 4000.0, m))
    return Txns(
        category=category,
        channel=channel,
        amount=amount,
        hour=rng.choice(24, size=m, p=FRAUD_HOURS),
        foreign=foreign,
        distance_km=distance,
        minutes=minutes,
        count_1h=_count_1h(rng, minutes, 0.3),
        new_device=(channel == CONTACTLESS) & (rng.random(m) < 0.3),
    )


def high_risk_merchant(rng: np.random.Generator, level: np.ndarray) -> Txns:
    """A compromised card cashed out at gambling, crypto or money-transfer merchants."""
    m = level.size
    category = _categories(
        rng, m, {"gambling": 0.35, "crypto_exchange": 0.3, "money_transfer": 0.35}
    )
    amount = np.exp(CAT_MU[category] + level + 0.7 + CAT_SIGMA[category] * rng.standard_normal(m))
    foreign = rng.random(m) < 0.15
    distance, minutes = _everyday_geo(rng, foreign)
    return Txns(
        category=category,
        channel=np.full(m, ONLINE),
        amount=amount,
        hour=rng.choice(24, size=m, p=FRAUD_HOURS),
        foreign=foreign,
        distance_km=distance,
        minutes=minutes,
        count_1h=_count_1h(rng, minutes, 0.5),
        new_device=rng.random(m) < 0.35,
    )


FRAUD_DRAWS = (card_testing, account_takeover, impossible_travel, high_risk_merchant)


def _channel(rng: np.random.Generator, online_share: np.ndarray) -> np.ndarray:
    m = online_share.size
    in_person = np.where(rng.random(m) < 0.45, CONTACTLESS, CARD_PRESENT)
    return np.where(rng.random(m) < online_share, ONLINE, in_person)


def _minutes(rng: np.random.Generator, m: int, median: float, sigma: float) -> np.ndarray:
    # At least one minute, at most two weeks since the previous transaction.
    return np.clip(np.rint(rng.lognormal(np.log(median), sigma, m)), 1, 20_160).astype(np.int64)


def _everyday_geo(rng: np.random.Generator, foreign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from the previous transaction and the minutes since it, for honest travel."""
    m = foreign.size
    minutes = _minutes(rng, m, 480.0, 1.3)
    # Around town: a few km, no faster than a car.
    distance = np.minimum(rng.lognormal(np.log(5.0), 1.1, m), 1.2 * minutes)
    # Half the foreign transactions are the first abroad (a long hop); a few domestic ones are
    # trips. Either way the elapsed time covers a flight or a drive, plus time on the ground.
    trip = np.where(foreign, rng.random(m) < 0.5, rng.random(m) < 0.02)
    hop = np.where(foreign, rng.uniform(300.0, 9000.0, m), rng.uniform(150.0, 2500.0, m))
    travel = hop / rng.uniform(200.0, 750.0, m) * 60.0 + rng.uniform(60.0, 600.0, m)
    minutes = np.where(trip, np.maximum(minutes, np.ceil(travel).astype(np.int64)), minutes)
    return np.where(trip, hop, distance), minutes


def _count_1h(rng: np.random.Generator, minutes: np.ndarray, extra: float) -> np.ndarray:
    """Earlier transactions in the past hour: at least the previous one when it was that recent."""
    recent = minutes <= 60
    return np.where(recent, 1 + rng.poisson(extra, minutes.size), 0)
