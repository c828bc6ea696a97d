"""The PII verifier: personal identifiers must never reach a dataset's assistant text.

`find_pii` reports, by kind:
    * ssn: "123-45-6789", or nine digits after "SSN" / "social security number"
      ("SSN 123456789", "SSN: 123 45 6789");
    * card: 13 to 19 digits, run together or in groups split by single spaces or dashes, whose
      Luhn checksum holds ("4111 1111 1111 1111"); every group but the last has at least four
      digits, so a list of scores ("712 720 735 ...") is not read as one number;
    * bank_account: an IBAN whose mod-97 checksum holds ("GB82 WEST 1234 5698 7654 32"); 6 to 17
      digits after "account number", "account no.", "account #", "acct" or "a/c"; 9 digits after
      "routing number", "ABA" or "RTN";
    * email: "name@example.com";
    * phone: North American numbers "(415) 555-0134", "415-555-0134", "415.555.0134",
      "+1 415 555 0134" (area code and exchange start with 2-9), and international numbers
      written with a "+" country code, "+44 20 7946 0958".

Amounts are never PII: "$84,312", "1,234,567", "43.1%", "712", "0.4312", years, and long
digit strings whose Luhn checksum fails pass. A card-shaped number that happens to pass Luhn is
reported anyway; for a dataset a false alarm costs one example, a leak costs a release.

`scan_texts` counts, over many texts, how many contain each kind (the publish gate's view).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

#: Every kind `find_pii` reports, in report order.
PII_KINDS = ("ssn", "card", "bank_account", "email", "phone")

# Prefilters, so that clean prose costs one scan: every SSN, card, phone and IBAN shape below
# holds a stretch of at least seven characters of digits and separators, from digit to digit
# (an IBAN's account part is a run of digits in every national format); the other patterns
# need their context words.
_NUMERIC_HINT = re.compile(r"\d[\d .()+-]{5,}\d")
# The same test on UTF-8 bytes, first: digits and every non-ASCII byte (a Unicode digit is
# several of them) map to 2, the hint's separators to 1, and a regex with a literal first byte
# skips through the rest several times faster than the hint scans text. A text it passes holds
# no hint, so only the texts it flags are scanned with the hint itself.
_HINT_BYTES = bytes(
    2 if 48 <= byte <= 57 or byte >= 0x80 else 1 if byte in b" .()+-" else 0 for byte in range(256)
)
_HINT_IN_BYTES = re.compile(rb"\x02[\x01\x02]{5,}\x02")
_SSN_WORDS = ("ssn", "social security")
_ACCOUNT_WORDS = ("account", "acct", "a/c")
_ROUTING_WORDS = ("routing", "aba", "rtn")
_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
_SSN_CONTEXT = re.compile(
    r"\b(?:SSN|social\s+security(?:\s+(?:number|no\.?|#))?)\s*(?:is|:|#|=)?\s*"
    r"(\d{3}[ -]?\d{2}[ -]?\d{4})(?!\d)",
    re.IGNORECASE,
)
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?:[ -]\d+)*")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_ACCOUNT = re.compile(
    r"\b(?:account|acct|a/c)\.?(?:\s*(?:number|num|no\.?|#))?\s*(?:is|:|#|=)?\s*"
    r"(\d(?:[ -]?\d){5,16})(?!\d)",
    re.IGNORECASE,
)
_ROUTING = re.compile(
    r"\b(?:routing|aba|rtn)(?:\s*(?:number|num|no\.?|#))?\s*(?:is|:|#|=)?\s*(\d{9})(?!\d)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE_NANP = re.compile(
    r"(?<![\w+])(?:"
    r"\+1[ .-]?\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]?\d{4}"  # +1 415 555 0134
    r"|\([2-9]\d{2}\)\s?[2-9]\d{2}[ .-]\d{4}"  # (415) 555-0134
    r"|[2-9]\d{2}([.-])[2-9]\d{2}\1\d{4}"  # 415-555-0134, 415.555.0134
    r")(?![\d-])"
)
_PHONE_INTL = re.compile(r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?\d){6,13}(?!\d)")


class PiiHit(NamedTuple):
    """One piece of personal data found in a text.

    Attributes:
        kind: one of PII_KINDS.
        text: the matched characters.
        start: offset of `text` in the scanned string.
    """

    kind: str
    text: str
    start: int


def find_pii(text: str) -> list[PiiHit]:
    """Finds SSNs, card numbers, bank accounts, emails and phone numbers in `text`.

    Args:
        text: any text (the whole assistant message for the verifier).

    Returns:
        The hits ordered by position; empty when the text is clean.
    """
    hits: list[PiiHit] = []
    if "@" in text:
        hits.extend(PiiHit("email", m.group(), m.start()) for m in _EMAIL.finditer(text))
    if _numeric_hint(text):
        hits.extend(PiiHit("ssn", m.group(), m.start()) for m in _SSN.finditer(text))
        hits.extend(_cards(text))
        hits.extend(_ibans(text))
        hits.extend(_phones(text))
    lowered = text.lower()
    for match in _after_words(text, lowered, _SSN_WORDS, _SSN_CONTEXT):
        if not _SSN.fullmatch(match[1]):  # "SSN 123-45-6789" is already reported
            hits.append(PiiHit("ssn", match[1], match.start(1)))
    for words, pattern in ((_ACCOUNT_WORDS, _ACCOUNT), (_ROUTING_WORDS, _ROUTING)):
        for match in _after_words(text, lowered, words, pattern):
            hits.append(PiiHit("bank_account", match[1], match.start(1)))
    hits.sort(key=lambda hit: hit.start)
    return hits


def scan_texts(texts: Iterable[str | None]) -> dict[str, int]:
    """Counts, for each PII kind, the texts that contain it.

    Args:
        texts: the texts to scan (None counts as empty).

    Returns:
        A count per kind in PII_KINDS (zero included), plus "texts": how many were scanned and
        "flagged": how many contain any PII.
    """
    counts = dict.fromkeys(PII_KINDS, 0)
    scanned = flagged = 0
    for text in texts:
        scanned += 1
        kinds = {hit.kind for hit in find_pii(text or "")}
        flagged += bool(kinds)
        for kind in kinds:
            counts[kind] += 1
    return {**counts, "texts": scanned, "flagged": flagged}


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum of card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Whether a compact IBAN ("GB82WEST12345698765432") passes its mod-97 checksum."""
    if not 15 <= len(iban) <= 34 or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


def _numeric_hint(text: str) -> bool:
    """Whether `text` holds a stretch of digits and separators that numeric PII would need."""
    data = text.encode("utf-8", "surrogatepass").translate(_HINT_BYTES)
    return _HINT_IN_BYTES.search(data) is not None and _NUMERIC_HINT.search(text) is not None


def _after_words(
    text: str, lowered: str, words: tuple[str, ...], pattern: re.Pattern[str]
) -> Iterable[re.Match[str]]:
    """Matches of a context pattern, tried only where one of its words starts (a full scan of
    every text costs more than finding the rare words first)."""
    if len(lowered) != len(text):  # lower() moved offsets (rare non-ASCII): scan everything
        yield from pattern.finditer(text)
        return
    starts = set()
    for word in words:
        at = lowered.find(word)
        while at >= 0:
            starts.add(at)
            at = lowered.find(word, at + 1)
    end = -1
    for start in sorted(starts):
        if start < end:
            continue  # inside the previous match
        match = pattern.match(text, start)
        if match:
            end = match.end()
            yield match


def _cards(text: str) -> Iterable[PiiHit]:
    for run in _DIGIT_RUN.finditer(text):
        raw = run.group()
        if len(raw) < 13 or sum(char.isdigit() for char in raw) < 13:
            continue
        start, end = run.span()
        if (start and text[start - 1].isalpha()) or (end < len(text) and text[end].isalpha()):
            # Digits glued to letters belong to a token (a sha256, an id), not a card number:
            # about one sha256 hex digest in 250 holds a Luhn-valid run of 13 to 19 digits.
            continue
        hit = _card_in_run(raw)
        if hit is not None:
            offset, card = hit
            yield PiiHit("card", card, run.start() + offset)


def _card_in_run(raw: str) -> tuple[int, str] | None:
    """The first span of whole digit groups in `raw` that is shaped like a card and passes Luhn."""
    groups = [(m.start(), m.group()) for m in re.finditer(r"\d+", raw)]
    for first in range(len(groups)):
        digits = ""
        for last in range(first, len(groups)):
            if last > first and len(groups[last - 1][1]) < 4:
                break  # only the last group of a card may be short
            digits += groups[last][1]
            if len(digits) > 19:
                break
            shaped = len(digits) >= 13 and _one_separator(raw, groups, first, last)
            if shaped and luhn_valid(digits):
                start = groups[first][0]
                end = groups[last][0] + len(groups[last][1])
                return start, raw[start:end]
    return None


def _one_separator(raw: str, groups: list[tuple[int, str]], first: int, last: int) -> bool:
    separators = {raw[groups[i][0] - 1] for i in range(first + 1, last + 1)}
    return len(separators) <= 1


def _ibans(text: str) -> Iterable[PiiHit]:
    for match in _IBAN.finditer(text):
        pieces = match.group().split(" ")
        for end in range(len(pieces), 0, -1):  # a trailing capitalised word may have joined
            candidate = "".join(pieces[:end])
            if iban_valid(candidate):
                yield PiiHit("bank_account", " ".join(pieces[:end]), match.start())
                break


def _phones(text: str) -> Iterable[PiiHit]:
    starts = set()
    for pattern in (_PHONE_NANP, _PHONE_INTL):
        for match in pattern.finditer(text):
            if match.start() not in starts:  # "+1 415 555 0134" matches both patterns
                starts.add(match.start())
                yield PiiHit("phone", match.group(), match.start())
