"""The numbers verifier reads numbers the way the writers print them and vouches only for facts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factory.domains._text import money, num, pct
from factory.domains.base import Fact
from factory.verify.numbers import CitedNumber, FactTable, check_numbers, extract_numbers


def read(text: str) -> list[tuple[str, float, int, bool, bool]]:
    return [(n.text, n.value, n.decimals, n.is_percent, n.is_money) for n in extract_numbers(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("income of $84,312 a year", [("$84,312", 84312.0, 0, False, True)]),
        ("a payment of $1,234.56.", [("$1,234.56", 1234.56, 2, False, True)]),
        ("a change of -$120", [("-$120", -120.0, 0, False, True)]),
        ("DTI is 43.1%, high", [("43.1%", 43.1, 1, True, False)]),
        ("DTI is 43.1 percent", [("43.1 percent", 43.1, 1, True, False)]),
        ("over by 7.1 percentage points", [("7.1 percentage points", 7.1, 1, True, False)]),
        ("a 2.0-percentage-point rise", [("2.0-percentage-point", 2.0, 1, True, False)]),
        ("a ratio of 0.43", [("0.43", 0.43, 2, False, False)]),
        ("a score of 712.", [("712", 712.0, 0, False, False)]),
        ("over 36 months", [("36", 36.0, 0, False, False)]),
        ("for 2.5 years", [("2.5", 2.5, 1, False, False)]),
        ("1,250 accounts", [("1,250", 1250.0, 0, False, False)]),
        ("a drop of -3.2% since", [("-3.2%", -3.2, 1, True, False)]),
    ],
)
def test_reads_the_forms_writers_print(text, expected):
    assert read(text) == expected


@pytest.mark.parametrize(
    ("text", "value", "half_unit"),
    [
        ("about $84k", 84_000.0, 500.0),
        ("$1.2 million", 1_200_000.0, 50_000.0),
        ("$1.2m", 1_200_000.0, 50_000.0),
        ("$2.5bn", 2_500_000_000.0, 50_000_000.0),
        ("12 thousand", 12_000.0, 500.0),
    ],
)
def test_scale_words_scale_the_value_and_the_shown_precision(text, value, half_unit):
    (number,) = extract_numbers(text)
    assert number.value == value
    assert number.half_unit == half_unit


@pytest.mark.parametrize(
    "text",
    [
        "application APP-000123",
        "H2O and Q3 and the 3rd",
        "form W-2",
        "version 1.2.3",
        "malformed 1,2345",
        "36m without a currency sign",
        "84kg",
        "1. a list marker\n2) another",
        "  3. an indented marker",
        "Step 2: compare",
    ],
)
def test_identifiers_and_enumerations_are_not_citations(text):
    assert extract_numbers(text) == []


def test_a_range_is_two_positive_numbers():
    assert [n.value for n in extract_numbers("scores of 620-680")] == [620.0, 680.0]


def test_a_number_ending_a_sentence_inside_a_line_is_a_citation():
    assert [n.value for n in extract_numbers("The count is 3. Then 4) apply.")] == [3.0, 4.0]


def test_the_span_points_into_the_text():
    text = "Income $84,312 and DTI 43.1%."
    for number in extract_numbers(text):
        assert text[number.start : number.start + len(number.text)] == number.text


DTI = {"dti": Fact(0.4312, percent=True)}


@pytest.mark.parametrize(
    "text", ["DTI 43.1%", "DTI 43%", "DTI 0.43", "DTI 43.12", "DTI 43.1 percent"]
)
def test_a_percent_fact_may_be_cited_as_percent_or_fraction(text):
    assert check_numbers(text, DTI) == []


@pytest.mark.parametrize("text", ["DTI 44.0%", "DTI 0.43%", "DTI $43", "DTI 0.45", "DTI 45"])
def test_a_wrong_dti_is_rejected(text):
    assert [n.text for n in check_numbers(text, DTI)] == [text.removeprefix("DTI ")]


def test_a_percent_may_cite_a_plain_fact_in_percent_units():
    assert check_numbers("an APR of 7.5%", {"apr": Fact(7.5)}) == []


def test_a_negative_fact_may_be_cited_by_its_magnitude_but_not_the_reverse():
    assert check_numbers("a shortfall of $120", {"gap": Fact(-120.0)}) == []
    assert check_numbers("a change of -$120", {"gap": Fact(-120.0)}) == []
    assert [n.text for n in check_numbers("a change of -$120", {"gap": Fact(120.0)})] == ["-$120"]


def test_money_with_scale_matches_within_the_shown_precision():
    facts = {"loan": Fact(1_234_000.0)}
    assert check_numbers("a loan of $1.2 million", facts) == []
    assert [n.text for n in check_numbers("a loan of $1.3 million", facts)] == ["$1.3 million"]


def test_the_relative_tolerance_is_on_top_of_rounding():
    facts = {"income": Fact(84_312.0)}
    assert check_numbers("$84,700", facts, tolerance=0.005) == []  # 0.46% off
    assert check_numbers("$84,800", facts, tolerance=0.005) != []  # 0.58% off
    assert check_numbers("$84,313", facts, tolerance=0.0) != []


def test_every_number_must_match_and_unmatched_ones_are_reported_in_order():
    facts = {"score": Fact(712), "min": Fact(620), "term": Fact(36)}
    text = "Score 712 over the minimum of 620, for 48 months, or 3 years."
    assert [n.text for n in check_numbers(text, facts)] == ["48", "3"]


def test_missing_fact_values_vouch_for_nothing_and_break_nothing():
    facts = {"a": Fact(float("nan")), "b": Fact(None), "c": Fact(float("inf")), "d": Fact(712)}
    assert check_numbers("score 712", facts) == []
    assert [n.text for n in check_numbers("score 0 or 720", facts)] == ["0", "720"]


def test_text_without_numbers_passes_without_facts():
    assert check_numbers("The applicant meets every rule.", {}) == []


def test_fact_table_checks_many_numbers_against_one_set_of_facts():
    table = FactTable([Fact(0.4312, percent=True), Fact(84_312.0)])
    cited = extract_numbers("43.1% and $84,312 and 0.43% and $84")
    assert [table.matches(n) for n in cited] == [True, True, False, False]


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
fractions = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, allow_infinity=False)


@given(value=finite, cents=st.booleans(), tolerance=st.sampled_from([0.0, 0.005]))
def test_any_fact_printed_as_money_is_accepted(value, cents, tolerance):
    text = f"The amount is {money(value, cents)} today."
    assert check_numbers(text, {"x": Fact(value)}, tolerance) == []


@given(value=fractions, digits=st.integers(0, 3), tolerance=st.sampled_from([0.0, 0.005]))
def test_any_fact_printed_as_percent_is_accepted(value, digits, tolerance):
    text = f"The ratio is {pct(value, digits)} today."
    assert check_numbers(text, {"x": Fact(value, percent=True)}, tolerance) == []


@given(value=finite, digits=st.integers(0, 3), tolerance=st.sampled_from([0.0, 0.005]))
def test_any_fact_printed_as_a_plain_number_is_accepted(value, digits, tolerance):
    text = f"The count is {num(value, digits)} today."
    assert check_numbers(text, {"x": Fact(value)}, tolerance) == []


@given(
    value=st.floats(min_value=0.0, max_value=1e7, allow_nan=False),
    excess=st.floats(min_value=1e-4, max_value=10.0),
    tolerance=st.sampled_from([0.0, 0.005, 0.05]),
)
def test_a_number_off_by_more_than_the_tolerance_is_rejected(value, excess, tolerance):
    # Printed with two decimals, the shown value is within 0.005 of `cited`; the rule allows
    # 0.005 + tolerance * value + 1e-9 * max(1, value), so this is always out of reach.
    allowed = 0.005 + tolerance * value + 1e-9 * max(1.0, value)
    cited = value + 0.005 + allowed * (1 + excess) + 1e-6
    rejected = check_numbers(f"The amount is {num(cited, 2)}.", {"x": Fact(value)}, tolerance)
    assert [n.value for n in rejected] == [round(cited, 2)]


def test_cited_number_is_a_value_object():
    number = extract_numbers("$84,312")[0]
    assert number == CitedNumber(84312.0, 0, False, True, "$84,312", 0, 1.0)
