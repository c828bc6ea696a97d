"""The fraud template teacher and prompts: format, agreement with the engine, cited numbers."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from factory.domains import get_domain
from factory.domains.fraud import FraudPolicy
from factory.output import parse_output
from factory.pipeline.prompts import PromptBuilder

DOMAIN = get_domain("fraud")
TASK = DOMAIN.tasks["decision_cot"]

# Numbers as the writers print them: optional $, thousands commas, decimals, optional %.
_NUMBER = re.compile(r"\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|\$?\d+(?:\.\d+)?%?")


def _cited(text: str) -> list[tuple[float, int, bool]]:
    """(value, decimals shown, is percent) for every number in `text`."""
    out = []
    for match in _NUMBER.finditer(text):
        raw = match.group().lstrip("$")
        percent = raw.endswith("%")
        raw = raw.rstrip("%").replace(",", "")
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        out.append((float(raw), decimals, percent))
    return out


def _is_fact(value: float, decimals: int, percent: bool, facts: dict[str, Any]) -> bool:
    for fact in facts.values():
        candidates = [fact.value, abs(fact.value)]
        if fact.percent or percent:
            candidates += [fact.value * 100, abs(fact.value) * 100]
        if any(abs(round(c, decimals) - value) <= 10**-decimals / 2 + 1e-9 for c in candidates):
            return True
    return False


def _labelled(policy: FraudPolicy, n: int = 2000, seed: int = 1) -> list[dict[str, Any]]:
    profiles = DOMAIN.synthesize(
        n,
        seed=seed,
        shard=5,
        offset=10_000,
        locale="en_US",
        distribution=DOMAIN.distribution_model(fraud_rate=0.15),
        policy=policy,
        boundary_fraction=0.4,
    )
    return DOMAIN.decide(profiles, policy).to_dicts()


@pytest.fixture(scope="module", params=[FraudPolicy(), FraudPolicy(
    review_score=35, block_score=80, zscore_elevated=2.5, zscore_extreme=4.75,
    review_zscore=7.25, velocity_count=4, block_velocity=10, far_distance_km=750.0,
    max_travel_speed_kmh=850.0, night_start_hour=22, night_end_hour=6, new_account_days=45,
)], ids=["default", "custom"])  # fmt: skip
def written(request):
    policy = request.param
    rows = _labelled(policy)
    rng = random.Random(0)
    return policy, rows, [TASK.write(row, policy, rng) for row in rows]


def test_every_output_parses_and_agrees_with_the_engine(written):
    _, rows, texts = written
    assert {row["decision"] for row in rows} == set(DOMAIN.labels)
    for row, text in zip(rows, texts, strict=True):
        parsed = parse_output(text)
        assert parsed.ok, (parsed.errors, text)
        assert parsed.decision == row["decision"]
        assert list(parsed.reasons) == row["reason_codes"]
        assert list(parsed.reason_texts) == [DOMAIN.reason_texts[c] for c in row["reason_codes"]]
        assert parsed.answer is None


def test_every_cited_number_is_a_fact(written):
    policy, rows, texts = written
    for row, text in zip(rows, texts, strict=True):
        reasoning = parse_output(text).reasoning
        facts = DOMAIN.facts(row, policy)
        for value, decimals, percent in _cited(reasoning):
            assert _is_fact(value, decimals, percent, facts), (value, reasoning)


def test_conclusion_names_the_decision_and_hard_rules(written):
    _, rows, texts = written
    seen_rules = set()
    for row, text in zip(rows, texts, strict=True):
        last = parse_output(text).reasoning.splitlines()[-1].lower()
        word = {"allow": ("allow", "go through"), "review": ("review",), "block": ("block",)}
        assert any(w in last for w in word[row["decision"]]), last
        if row["rule_impossible_travel"]:
            assert "travel" in last
            seen_rules.add("travel")
        if row["rule_velocity_block"]:
            assert "velocity" in last
            seen_rules.add("velocity")
    assert seen_rules == {"travel", "velocity"}


def test_text_has_no_pii_protected_attributes_or_markup(written):
    _, rows, texts = written
    for row, text in zip(rows, texts, strict=True):
        reasoning = parse_output(text).reasoning
        for column in ("first_name", "last_name", "customer_id", "transaction_id", "home_city"):
            assert row[column] not in text
        assert not re.search(r"\b(female|male|married|single|divorced|widowed)\b", reasoning)
        assert "@" not in text
        assert ".." not in reasoning
        assert not re.search(r"\d:\d\d|\bstep \d", reasoning, re.IGNORECASE)


def test_several_phrasings_per_step(written):
    _, _, texts = written
    lines = [parse_output(t).reasoning.splitlines() for t in texts]
    openings = {" ".join(step[0].split()[:3]) for step in lines}
    conclusions = {" ".join(step[-1].split()[:2]) for step in lines}
    assert len(openings) >= 3
    assert len(conclusions) >= 3


def test_writer_is_deterministic_for_a_seed():
    policy = FraudPolicy()
    row = _labelled(policy, n=50)[7]
    first = TASK.write(row, policy, random.Random(3))
    assert first == TASK.write(row, policy, random.Random(3))


# Prompts ----------------------------------------------------------------------------------------


def test_system_prompt_states_the_policy_and_format():
    policy = FraudPolicy(block_score=75, max_travel_speed_kmh=850.0)
    text = PromptBuilder(DOMAIN, TASK, policy).system
    assert DOMAIN.policy_version(policy) in text
    assert "75 or more" in text
    assert "850 km/h" in text
    for tag in ("<reasoning>", "<decision>", "<reasons>"):
        assert tag in text
    for code, reason in DOMAIN.reason_texts.items():
        assert f"- {code}: {reason}\n" in text + "\n"


def test_user_prompt_shows_inputs_but_not_the_answer():
    policy = FraudPolicy()
    rows = [r for r in _labelled(policy, n=400) if r["decision"] == "block"]
    row = rows[0]
    text = PromptBuilder(DOMAIN, TASK, policy).user(row)
    assert f"${row['amount']:,.2f}" in text
    assert row["merchant"] in text
    assert str(row["txn_count_1h"]) in text
    # The merchant's name is free text (it could contain any word); check the rest.
    rest = "\n".join(line for line in text.splitlines() if not line.startswith("- Merchant:"))
    for hidden in ("block", "risk", "z-score", "score", "speed", "points"):
        assert hidden not in rest.lower()
    for hidden in (*row["reason_codes"], row["first_name"], row["last_name"], row["sex"]):
        assert hidden not in rest
