"""Masks personal data in customer text before it is logged or stored.

Covered: e-mail addresses, 18-character resident ID numbers (trailing X allowed),
bank-card numbers (16-19 digits, optionally grouped), mainland mobile numbers
(optional +86, optional separators) and landlines with an area code. Digit runs
shorter than a card and not shaped like a phone (order numbers, amounts) stay.
Full-width digits count as digits, and matching errs on the side of masking.
"""

from __future__ import annotations

import re

EMAIL_MASK = "[邮箱]"
ID_CARD_MASK = "[身份证号]"
BANK_CARD_MASK = "[银行卡号]"
MOBILE_MASK = "[手机号]"
LANDLINE_MASK = "[电话]"

_D = "[0-9０-９]"
_SEP = "[ \\-－]?"
# A number must not continue into more digits (or ID letters) on either side.
_START = "(?<![0-9０-９])"
_END = "(?![0-9０-９])"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"), EMAIL_MASK),
    # ID card: 6-digit region, 8-digit birth date, 3 digits, check digit or X; 6-8-4 grouping allowed.
    (
        re.compile(f"{_START}{_D}{{6}}{_SEP}{_D}{{8}}{_SEP}{_D}{{3}}[0-9０-９XxＸｘ](?![0-9０-９A-Za-z])"),
        ID_CARD_MASK,
    ),
    # Bank card: 16 to 19 digits, plain or in groups of four.
    (re.compile(f"{_START}{_D}{{4}}(?:{_SEP}{_D}{{4}}){{3}}(?:{_SEP}{_D}){{0,3}}{_END}"), BANK_CARD_MASK),
    # Mobile: 1[3-9]x xxxx xxxx, optionally behind +86 / 0086 / 86.
    (
        re.compile(
            f"{_START}(?:(?:\\+|＋|00)?[8８][6６]{_SEP})?[1１][3-9３-９]{_D}{_SEP}{_D}{{4}}{_SEP}{_D}{{4}}{_END}"
        ),
        MOBILE_MASK,
    ),
    # Landline: area code 0xx(x), optionally in brackets, then a 7-8 digit local number.
    (
        re.compile(
            f"{_START}(?:[(（][0０]{_D}{{2,3}}[)）]|[0０]{_D}{{2,3}}){_SEP}{_D}{{3,4}}{_SEP}{_D}{{4}}{_END}"
        ),
        LANDLINE_MASK,
    ),
)


def mask_pii(text: str) -> str:
    """Returns ``text`` with personal data replaced by placeholders such as ``[手机号]``."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text


def loggable_text(text: str, log_text: bool) -> str:
    """What a log line may say about a customer text: its masked form if opted in, else only its size."""
    return mask_pii(text) if log_text else f"<{len(text)} chars>"
