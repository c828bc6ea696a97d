"""The PII verifier finds identifiers and leaves amounts alone."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factory.domains._text import money, num, pct
from factory.verify.pii import PII_KINDS, find_pii, iban_valid, luhn_valid, scan_texts


def kinds(text: str) -> list[str]:
    return [hit.kind for hit in find_pii(text)]


@pytest.mark.parametrize(
    ("text", "kind", "found"),
    [
        ("card 4111 1111 1111 1111 on file", "card", "4111 1111 1111 1111"),
        ("card 4111-1111-1111-1111", "card", "4111-1111-1111-1111"),
        ("paid with 5500005555555559.", "card", "5500005555555559"),
        ("amex 3782 822463 10005", "card", "3782 822463 10005"),
        ("SSN 123-45-6789", "ssn", "123-45-6789"),
        ("SSN: 123456789", "ssn", "123456789"),
        ("social security number 123 45 6789", "ssn", "123 45 6789"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "bank_account", "GB82 WEST 1234 5698 7654 32"),
        ("to DE89370400440532013000 today", "bank_account", "DE89370400440532013000"),
        ("account number 12345678", "bank_account", "12345678"),
        ("Acct #: 9876543210", "bank_account", "9876543210"),
        ("account 1 of 2; account number 12345678", "bank_account", "12345678"),
        ("İstanbul branch, account number 12345678", "bank_account", "12345678"),
        ("routing number 021000021", "bank_account", "021000021"),
        ("write to jane.doe+loans@example.co.uk", "email", "jane.doe+loans@example.co.uk"),
        ("call (415) 555-0134", "phone", "(415) 555-0134"),
        ("call 415-555-0134", "phone", "415-555-0134"),
        ("call 415.555.0134", "phone", "415.555.0134"),
        ("call +1 415 555 0134", "phone", "+1 415 555 0134"),
        ("call +44 20 7946 0958", "phone", "+44 20 7946 0958"),
    ],
)
def test_finds_each_kind(text, kind, found):
    hits = find_pii(text)
    assert [(hit.kind, hit.text) for hit in hits] == [(kind, found)]
    assert text[hits[0].start : hits[0].start + len(found)] == found


def test_a_planted_card_is_found_inside_an_explanation():
    text = (
        "Income is $84,312 and the DTI is 43.1%, over the 43.0% limit. "
        "The card 4111 1111 1111 1111 was used 3 times. Score 712."
    )
    assert kinds(text) == ["card"]


def test_digits_of_any_script_reach_the_numeric_checks():
    # No context word: only the numeric checks, behind their byte-level prefilter, see it.
    ssn = "\u0661\u0662\u0663-\u0664\u0665-\u0666\u0667\u0668\u0669"  # Arabic-Indic
    assert kinds(f"ref {ssn}.") == ["ssn"]


@pytest.mark.parametrize(
    "text",
    [
        "income of $84,312 and assets of 1,234,567",
        "DTI 43.1%, ratio 0.4312, score 712, 36 months, in 2024",
        "a 16-digit number that fails Luhn: 4111111111111112",
        "4111 1111 1111 1112",
        "scores 712 720 735 690 700 123 over the years",
        "a net change of +3.2% and +1,234",
        "IBAN-shaped but wrong: GB82 WEST 1234 5698 7654 33",
        "an account age of 36 months and 4 open accounts",
        "reference APP-000123, loan LN-2024-000456",
        "the range 620-680 and 10-20-30",
        "No PII here at all.",
    ],
)
def test_amounts_and_identifiers_that_are_not_pii_pass(text):
    assert find_pii(text) == []


def test_luhn_and_iban_checksums():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("GB82WEST12345698765433")
    assert not iban_valid("GB82")


@given(
    value=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    cents=st.booleans(),
    digits=st.integers(0, 4),
)
def test_formatted_amounts_are_never_pii(value, cents, digits):
    text = f"{money(value, cents)} or {num(value, digits)} or {pct(value / 1e9, digits)}"
    assert find_pii(text) == []


def test_random_luhn_valid_card_numbers_are_found_in_every_grouping():
    rng = random.Random(7)
    for _ in range(200):
        body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
        check = next(d for d in "0123456789" if luhn_valid(body + d))
        card = body + check
        for text in (card, " ".join(card[i : i + 4] for i in range(0, 16, 4))):
            assert kinds(f"card {text} on file") == ["card"]


def test_scan_texts_counts_texts_per_kind():
    counts = scan_texts(
        ["clean", "mail a@b.com and c@d.org", "SSN 123-45-6789 and a@b.com", None, "$84,312"]
    )
    assert counts == {
        **dict.fromkeys(PII_KINDS, 0),
        "email": 2,
        "ssn": 1,
        "texts": 5,
        "flagged": 2,
    }


def test_digits_inside_a_hex_digest_are_not_a_card_number():
    # A manifest sha256 a card printed, whose 13-digit run passes Luhn.
    digest = "5cbb1e87fc102b4a88569ba" + "4222222222222" + "db2acc009093333f6103a4dadcec"
    assert luhn_valid("4222222222222")
    assert kinds(f"manifest sha256 `{digest}`") == []
    assert kinds("card: 4222222222222 (test)") == ["card"]
    assert kinds("card 4111 1111 1111 1111x") == []
