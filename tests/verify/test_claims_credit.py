"""Claim-level verification on credit reports: a field's bare name ("revolving balances") names
its before, after and change quantities; a limit in a clause that names nothing belongs to the
previous clause's field; a decision word that describes a named quantity ("a declined score")
is a claim even after an unrelated "no"."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.output import parse_output
from factory.recipe import load_recipe
from factory.verify.claims import check_claims

RECIPES = Path(__file__).resolve().parents[2] / "recipes"

#: A stable report (score 601 -> 604): revolving balances up $179 (under the $500 listing
#: threshold), installment balances down $4,154 (over it), utilization up 2.36 points.
ROW = {
    "months_between": 12,
    "score_before": 601,
    "score_after": 604,
    "utilization_before": 0.1747,
    "utilization_after": 0.1983,
    "revolving_balance_before": 1328.0,
    "revolving_balance_after": 1507.0,
    "credit_limit_before": 7600.0,
    "credit_limit_after": 7600.0,
    "installment_balance_before": 28849.0,
    "installment_balance_after": 24695.0,
    "open_accounts_before": 7,
    "open_accounts_after": 7,
    "hard_inquiries_before": 1,
    "hard_inquiries_after": 5,
    "late_payments_before": 0,
    "late_payments_after": 0,
    "collections_before": 1,
    "collections_after": 1,
    "public_records_before": 0,
    "public_records_after": 0,
    "score_delta": 3,
    "utilization_delta": 0.0236,
    "revolving_balance_delta": 179.0,
    "credit_limit_delta": 0.0,
    "installment_balance_delta": -4154.0,
    "open_accounts_delta": 0,
    "hard_inquiries_delta": 4,
    "late_payments_delta": 0,
    "collections_delta": 0,
    "public_records_delta": 0,
    "target_revolving_balance": 2280.0,
    "paydown_to_target": 0.0,
    "decision": "stable",
}


@pytest.fixture(scope="module")
def table():
    recipe = load_recipe(RECIPES / "credit-report-summary.yaml")
    return recipe.domain_impl.rule_table(recipe.policy)


def _kinds(table, reasoning: str) -> list[str]:
    text = f"<reasoning>\n{reasoning}\n</reasoning>\n<decision>stable</decision>"
    found = check_claims(parse_output(text), table=table, row=ROW, decision="stable")
    return [f.kind for f in found]


TRUE = (
    "Revolving balances moved from $1,328 to $1,507, up $179; below the $500 threshold, too small "
    "to list.",
    "Revolving balances went from $1,328 to $1,507 (up $179), under the $500 threshold.",
    "Installment loan balances: $28,849 before, $24,695 after, down $4,154, which clears the $500 "
    "threshold, so it goes on the good list.",
    "Installment loan balances moved from $28,849 to $24,695, down $4,154; at or above the $500 "
    "threshold, it counts as a good change.",
    "Utilization was 17.47% before and 19.83% after (up 2.36 percentage points), at or above the "
    "2.0-percentage-point threshold. That is within the 30.0% target.",
    "The change in revolving balances, $179, is below the $500 threshold.",
    "No drivers are named for a stable score; nothing moved much.",
    "Total credit limits are unchanged at $7,600.",
    "Total credit limits stayed at $7,600.",
    "A 3-point move is within the stable band.",
    "Utilization rose 2.36 points, which clears the 2-point listing threshold.",
    "Hard inquiries are above the inquiry caution level.",
    "No change in open accounts, still 7.",
    "No change in open accounts at 7.",
    "No change in total credit limits at $7,600.",
    "Revolving balances: $1,328 before, $1,507 after, up $179.",
    "Utilization was 17.47% before and 19.83% after.",
    "The score, 604 now, was 601 before.",
    # in or out of a band is the size of the change, whichever way it went
    "The score moved 3 points, inside the 5-point band.",
    "The score rose 3 points, within the 5-point band, so it holds stable.",
    "Utilization of 19.83% is below the 30.0% target.",
)


@pytest.mark.parametrize("reasoning", TRUE)
def test_true_sentences_about_a_field_are_kept(table, reasoning):
    assert _kinds(table, reasoning) == []


WRONG = (
    # the limit is $500, on the field the sentence names
    ("Revolving balances moved from $1,328 to $1,507, up $179, under the $0 threshold.", "number"),
    # ... or on the field the clause before it names
    ("Revolving balances moved from $1,328 to $1,507, up $179; below the $0 threshold.", "number"),
    # a number of another field
    ("Revolving balances moved from $1,328 to $7,600, up $179.", "number"),
    ("Total credit limits stayed at $7,000.", "number"),
    ("Open accounts are unchanged at 9.", "number"),
    ("No change in open accounts at 9.", "number"),
    # a level stated as the change, or the change as a level
    ("Hard inquiries are at 4.", "number"),
    ("Hard inquiries moved from 1 to 5, up 5.", "number"),
    ("Revolving balances moved from $1,328 to $1,507, up $1,507.", "number"),
    ("Revolving balances: $1,328 before, $1,700 after.", "number"),
    ("Utilization was 17.47% before and 25.00% after.", "number"),
    # the two readings swapped: which is which is said by "before"/"after", "from"/"to"
    ("Revolving balances: $1,507 before, $1,328 after.", "number"),
    ("Revolving balances went from $1,507 to $1,328.", "number"),
    ("The score was 604 before and 601 after.", "number"),
    # comparisons the wrong way round, with the subject named or carried over a semicolon
    ("Revolving balances went from $1,328 to $1,507 (up $179), over the $500 threshold.",
     "comparison"),
    ("Installment loan balances moved from $28,849 to $24,695, down $4,154; below the $500 "
     "threshold, too small to list.", "comparison"),
    ("Installment loan balances fell by $4,154, which misses the $500 threshold.", "comparison"),
    # a param's label names the limit and its quantity, and short "points" of a utilization
    # are percentage points
    ("A 3-point move exceeds the stable band.", "comparison"),
    ("Hard inquiries are below the inquiry caution level.", "comparison"),
    ("Utilization rose 2.36 points, which falls short of the 2-point listing threshold.",
     "comparison"),
    ("Utilization rose 2.36 percentage points, under the 3-point threshold.", "number"),
    # a band holds the change's size: a 3-point move is inside a 5-point band either way
    ("The score moved 3 points, outside the 5-point band.", "comparison"),
    ("The score rose 3 points, beyond the 5-point band.", "comparison"),
    # a trend word describing the score, after a "no" about something else
    ("No drivers are named for a declined score; nothing moved much.", "conclusion"),
    ("No drivers are named for an improved score.", "conclusion"),
)  # fmt: skip


@pytest.mark.parametrize(("reasoning", "kind"), WRONG)
def test_wrong_sentences_about_a_field_are_rejected(table, reasoning, kind):
    assert kind in _kinds(table, reasoning)


MOVES_TRUE = (
    "Revolving balances rose from $1,328 to $1,507.",
    "Installment loan balances fell by $4,154.",
    "Hard inquiries moved from 1 to 5, up 4, so it goes on the bad list.",
    "Installment loan balances: $28,849 before, $24,695 after, down $4,154.",
    "The main drivers are higher credit utilization and higher revolving balances.",
    "Next step: pay down revolving balances so less of the credit limits is in use.",
    "Paying down installment loans would lower the balances further.",
    "Revolving balances did not fall.",
)


@pytest.mark.parametrize("reasoning", MOVES_TRUE)
def test_true_moves_are_kept(table, reasoning):
    assert _kinds(table, reasoning) == []


MOVES_WRONG = (
    "Revolving balances fell from $1,328 to $1,507.",
    "Installment loan balances rose by $4,154.",
    "Hard inquiries moved from 1 to 5, down 4.",
    "The main driver is lower credit utilization.",
    "Revolving balances did not rise.",
)


@pytest.mark.parametrize("reasoning", MOVES_WRONG)
def test_moves_the_wrong_way_are_rejected(table, reasoning):
    assert "comparison" in _kinds(table, reasoning)


def test_a_comparison_is_true_of_the_number_it_cites(table):
    # The latest utilization is over the target but the earlier one is not: citing the earlier
    # reading as over the target is wrong, though each number alone is one of utilization's.
    row = dict(ROW, utilization_after=0.3918, utilization_delta=0.2171, utilization_change=0.2171)
    text = (
        "<reasoning>\nUtilization of {} is above the 30.0% target.\n</reasoning>\n"
        "<decision>stable</decision>"
    )

    def kinds(cited: str) -> list[str]:
        found = check_claims(
            parse_output(text.format(cited)), table=table, row=row, decision="stable"
        )
        return [f.kind for f in found]

    assert kinds("39.18%") == []
    assert kinds("17.47%") == ["comparison"]


@pytest.mark.parametrize(
    ("reasoning", "kept"),
    [
        ("Utilization was 17.47%. That is above the 30.0% target.", False),
        ("Utilization was 39.18%. That is above the 30.0% target.", True),
        ("Utilization rose to 39.18% from 17.47%. That is above the 30.0% target.", True),
        ("Utilization rose from 17.47% to 39.18%. That puts it above the 30.0% target.", True),
        # The clause names its reading: it is about that reading, not the number before.
        ("Utilization was 17.47% on the earlier report. It is now above the 30.0% target.", True),
        # A change's amount is not the level the next sentence compares.
        (
            "Utilization went from 17.47% to 39.18% (up 21.71 percentage points). "
            "That is 9.18 percentage points over the 30.0% target.",
            True,
        ),
    ],
)
def test_a_comparison_referring_back_is_true_of_the_number_cited_before(table, reasoning, kept):
    row = dict(ROW, utilization_after=0.3918, utilization_delta=0.2171, utilization_change=0.2171)
    text = f"<reasoning>\n{reasoning}\n</reasoning>\n<decision>stable</decision>"
    found = check_claims(parse_output(text), table=table, row=row, decision="stable")
    assert ([f.kind for f in found] == []) is kept, found


@pytest.mark.parametrize(
    ("sentence", "kept"),
    [
        ("The score moved 5 points, outside the 5-point band.", True),
        ("The score moved 5 points, inside the 5-point band.", False),
        ("A move of 5 points is at least the 5-point stable band.", True),
        ("A move of 5 points is under the 5-point stable band.", False),
        ("A move of 5 points is within the 5-point stable band.", False),
    ],
)
def test_a_change_on_the_band_edge_is_outside_it(table, sentence, kept):
    # The score falls "by at least the stable band": a 5-point fall is out of a 5-point band.
    row = dict(ROW, score_after=596, score_delta=-5, score_change=5)
    text = f"<reasoning>\n{sentence}\n</reasoning>\n<decision>declined</decision>"
    found = check_claims(parse_output(text), table=table, row=row, decision="declined")
    assert ([f.kind for f in found] == []) is kept, found
