"""Numbers in sentences derived from the table: articles, percentage points, distinct digits."""

from __future__ import annotations

from factory.domains.rules.text import article, show, show_gap


def test_an_before_numbers_said_with_a_vowel() -> None:
    assert [article(x) for x in ("811", "800", "18", "11", "11,400", "8")] == ["an"] * 6
    assert [article(x) for x in ("620", "711", "1,800", "110", "180")] == ["a"] * 5


def test_a_gap_between_percentages_is_in_percentage_points() -> None:
    assert show_gap(0.085, "fraction") == "8.5 percentage points"
    assert show_gap(0.0001, "fraction") == "0.01 percentage points"
    assert show_gap(12.5, "money") == "$12.50"


def test_distinct_values_never_look_equal() -> None:
    assert show([0.4301, 0.43], "fraction") == ["43.01%", "43.00%"]
    assert show([1.18, 1.25], "ratio") == ["1.18x", "1.25x"]
    assert show([8.0, 2.0], "years") == ["8", "2"]
    assert show([1.95, 2.0], "years") == ["1.95", "2.00"]
