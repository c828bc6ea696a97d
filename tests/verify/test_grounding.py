"""The grounding verifier: each way an answer can leave its passage is caught and named."""

from __future__ import annotations

import pytest

from factory.domains._documents import Grounding
from factory.output import parse_output, render_output
from factory.verify.grounding import check_grounding, proper_nouns

PASSAGES = {
    "fees.md § Account fees": (
        "| Account | Monthly fee | Overdraft fee |\n|---|---|---|\n"
        "| Everyday Checking | $5 | $30 |\n| Premier Checking | $15 | $30 |"
    ),
    "about.md § Leadership": (
        "Mara Quarrie is the Chief Executive Officer.\nTobin Ashdown is the Chief Financial "
        "Officer."
    ),
    "policies.md § Privacy": "Asterfell does not sell customer data.",
    "about.md § History": "Asterfell Financial opened its first branch on March 3, 1998.",
}
FEES = Grounding(PASSAGES, ("fees.md § Account fees",), ("$5",), names=("Asterfell Financial",))


def answer(text: str, decision: str = "answered", cite: str = "fees.md § Account fees") -> str:
    body = f"{text}\n\nSource: [{cite}]" if cite else text
    return render_output(f'[{cite}] says: "..."' if cite else "Nothing.", decision, answer=body)


def check(text: str, grounding: Grounding = FEES, **kwargs) -> str | None:
    return check_grounding(parse_output(answer(text, **kwargs)), grounding)


def test_a_grounded_answer_passes():
    assert check("Everyday Checking has a monthly fee of $5.") is None
    assert check("Everyday Checking costs $5 a month; Premier Checking costs $15 a month.") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Everyday Checking has a monthly fee of $6.", "does not state $5"),
        ("Everyday Checking has a monthly fee of $5 and a $12 overdraft fee.", "$12 is not in"),
        ("Premier Checking costs $5 a month; Everyday Checking costs $15 a month.",
         "$5 is not what [fees.md § Account fees] states for Premier Checking"),
        ("Everyday Checking has a monthly fee of $5. Everyday Checking charges $30 a month.",
         "$30 is not what"),
        ("Everyday Checking has a monthly fee of $5 at Harbor Savings.", "'Harbor Savings'"),
    ],
)  # fmt: skip
def test_wrong_numbers_names_and_bindings_are_named(text, expected):
    detail = check(text)
    assert detail is not None and expected in detail


def test_citations_must_exist_and_be_the_questions():
    assert "no passage of the documents" in check("It is $5.", cite="fees.md § Card fees")
    moved = check("Mara Quarrie is the Chief Executive Officer.", cite="about.md § Leadership")
    assert "the question is answered by [fees.md § Account fees]" in moved
    assert (
        check_grounding(
            parse_output(render_output("r", "answered", answer="Everyday Checking is $5.")), FEES
        )
        == "the answer cites no section of the documents"
    )


def test_swapped_people_and_flipped_negations_are_caught():
    leaders = Grounding(PASSAGES, ("about.md § Leadership",), ("Tobin Ashdown",))
    swapped = check(
        "Tobin Ashdown is the Chief Executive Officer.", leaders, cite="about.md § Leadership"
    )
    assert "never puts 'Tobin Ashdown' and 'Chief Executive Officer' together" in swapped
    privacy = Grounding(PASSAGES, ("policies.md § Privacy",), (), names=("Asterfell",))
    assert check("No. Asterfell does not sell customer data.", privacy,
                 cite="policies.md § Privacy") is None  # fmt: skip
    flipped = check("Asterfell sells customer data.", privacy, cite="policies.md § Privacy")
    assert flipped.startswith("contradicts")


def test_dates_must_be_the_passages():
    history = Grounding(PASSAGES, ("about.md § History",), ("1998",))
    ok = "Asterfell Financial opened its first branch on March 3, 1998."
    assert check(ok, history, cite="about.md § History") is None
    wrong = check(ok.replace("March 3", "May 3"), history, cite="about.md § History")
    assert "the date May 3, 1998 is not in" in wrong


def test_abstentions_only_where_the_documents_are_silent():
    silent = Grounding(PASSAGES, absent=("mortgage",))
    assert check("The documents do not say anything about mortgages.", silent,
                 decision="not_in_documents", cite="") is None  # fmt: skip
    invented = check("Mortgages cost 6.5%.", silent, decision="answered", cite="")
    assert "does not say" in invented
    mentioned = Grounding(PASSAGES, absent=("overdraft",))
    wrong = check("The documents do not say.", mentioned, decision="not_in_documents", cite="")
    assert wrong == "abstains, but [fees.md § Account fees] mentions 'overdraft'"
    assert "abstains, but [fees.md § Account fees] answers" in check(
        "The documents do not say.", decision="not_in_documents"
    )


def test_proper_nouns_skip_sentence_openers():
    assert proper_nouns("The Voyager Travel Card has no fee. Applicants need 700.") == [
        "Voyager Travel Card"
    ]
