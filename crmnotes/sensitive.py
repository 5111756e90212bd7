"""PRC resident ID numbers and bank card numbers: find them in any text, mask them.

They must never be stored in a vault (crm check, the pre-commit hook, sync and
every write refuse them) and never be echoed in a message (``redact``).

People write them in many ways, so a number is read as digit groups: ASCII or
fullwidth (or any other decimal) digits, split by spaces, dots or hyphens (up
to three of them, fullwidth ones too) or by one line break, glued to letters
(``ID110105…``).  A run of groups is tried at every group boundary, so
``卡号 6222 0212 3456 7894 2025年`` still finds the card.  False positives stay
rare: a candidate must pass the ID's birth date and checksum or the card's
issuer prefix and Luhn check, and several groups must have the shape these
numbers are written in (6-8-4, 4-4-4-4[-3], 4-6-5, halves on two lines), so
dates, amounts and lists of phone numbers never combine into one.  Stdlib
only: errors.py masks every message with it.

Phone numbers are kept, but shown masked (``mask_phone``) wherever a customer
is listed; that lives here, beside the other masks, so a listing that reads one
changed file does not load the field rules (``rules`` re-exports it).  Only a
region outside ``COMMON_CALLING_CODES`` asks phonenumbers for its calling code.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from datetime import date
from functools import lru_cache

_X = "XxＸｘ"
_GAP = "[ \t.\\-\u3000\uff0e\uff0d\u2010-\u2015\u2212]{1,3}|[ \t\u3000]*\r?\n[ \t\u3000>]*"
_RUN = re.compile(rf"(?<!\d)\d{{3,}}[{_X}]?(?:(?:{_GAP})\d{{3,}}[{_X}]?)*")
_GROUP = re.compile(rf"\d+[{_X}]?")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Issuer prefixes of the card networks seen in China and abroad; with Luhn this
# keeps ordinary long numbers (order numbers, phones) from being flagged.
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|62|3[47]|35|6011|65|9)")
ID_KIND = "PRC resident ID number"
CARD_KIND = "bank card number"


def is_prc_id(number: str) -> bool:
    """An 18-character PRC resident ID with a valid birth date and checksum."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= birth <= date.today():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_bank_card(number: str) -> bool:
    digits = _ascii(re.sub(r"\D", "", number))
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn_valid(digits)


def _ascii(text: str) -> str:
    """Fullwidth and other decimal digits (and Ｘ) as ASCII: NFKC, then any digit left by its value."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def spans(text: str) -> list[tuple[str, int, int, str]]:
    """(kind, start, end, digits) of each PRC ID or bank card number in ``text``."""
    found = []
    for run in _RUN.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start(), _ascii(m.group()).upper())
                  for m in _GROUP.finditer(run.group())]
        found += _in_groups(groups, plus_before=run.start() > 0 and text[run.start() - 1] == "+")
    return found


def _in_groups(groups: list[tuple[int, int, str]], plus_before: bool) -> list[tuple[str, int, int, str]]:
    """Numbers made of consecutive groups, tried from each group on; a found one is not reused."""
    found = []
    i = 1 if plus_before else 0  # +49 151…: a phone's country code starts it, not a card
    while i < len(groups):
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > 19 or "X" in digits[:-1]:
                break
            kind = _kind(digits, [len(part) for _, _, part in groups[i:j + 1]])
            if kind:
                found.append((kind, groups[i][0], groups[j][1], digits))
                i = j
                break
        i += 1
    return found


def _kind(digits: str, sizes: list[int]) -> str:
    """What the digits (written in groups of ``sizes``) are, if anything.  Groups must have the
    shape people give these numbers (ID 6-8-4, card 4-4-4-4[-3], 4-6-5, or those halves on two
    lines), so a list of amounts or phone numbers does not combine into one."""
    if len(digits) == 18 and (len(sizes) == 1 or (sizes[0] >= 6 and min(sizes) >= 4)) and is_prc_id(digits):
        return ID_KIND
    card = digits.rstrip("X")
    if not 13 <= len(card) <= 19 or not (len(sizes) == 1 or _card_shape(sizes)):
        return ""
    return CARD_KIND if is_bank_card(card) else ""


def _card_shape(sizes: list[int]) -> bool:
    if tuple(sizes) in ((4, 6, 5), (4, 6, 4)):  # American Express, Diners
        return True
    return all(size % 4 == 0 for size in sizes[:-1]) and (sizes[-1] <= 4 or sizes[-1] % 4 == 0)


def find(text: str) -> list[tuple[str, str, int]]:
    """(kind, masked number, offset) for each PRC ID or bank card in the text."""
    return [(kind, mask(number), start) for kind, start, _, number in spans(text)]


def find_lines(text: str) -> list[tuple[int, str, str]]:
    """(line number from 1, kind, masked number) for each one in a multi-line text;
    a number split across two lines is reported at its first."""
    found = spans(text)
    breaks = [m.start() for m in re.finditer("\n", text)] if found else []
    return [(bisect_right(breaks, start) + 1, kind, mask(number)) for kind, start, _, number in found]


def new_numbers(before: str, after: str) -> list[tuple[str, str]]:
    """(kind, masked) of each number in ``after`` that ``before`` did not hold: what a write adds
    (a file that already holds one can still be edited; crm check keeps reporting that one)."""
    found = spans(after)
    if not found:
        return []
    old = {number for _, _, _, number in spans(before)}
    return [(kind, mask(number)) for kind, _, _, number in found if number not in old]


def redact(text: str) -> str:
    """The text with every ID or bank card number masked, for messages that
    quote what the user typed (an 'invalid date' must not echo a card)."""
    for _, start, end, number in reversed(spans(text)):
        text = text[:start] + mask(number) + text[end:]
    return text


def mask(number: str) -> str:
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# ------------------------------------------------------------------ phones


_NON_DIGIT = re.compile(r"\D")


def mask_phone(phone: str, region: str = "CN") -> str:
    """138****8000 for a number of the home region, +44 79****0123 otherwise."""
    digits = _NON_DIGIT.sub("", phone)
    if not digits:
        return phone
    national, prefix = digits, ""
    country = _country_code(region)
    if phone.strip().startswith("+"):
        if country and digits.startswith(country):
            national = digits[len(country) :]
        else:
            prefix = "+" + digits[: len(digits) - 10] + " " if len(digits) > 10 else "+"
            national = digits[len(digits) - 10 :] if len(digits) > 10 else digits
    if len(national) <= 4:
        return prefix + "*" * len(national)
    landline = _mask_cn_landline(national) if region == "CN" and not prefix else None
    if landline is not None:
        return landline
    keep_head = 3 if len(national) >= 9 else 1
    return prefix + national[:keep_head] + "*" * (len(national) - keep_head - 4) + national[-4:]


def _mask_cn_landline(national: str) -> str | None:
    """021-****5678 for a Chinese landline (with or without its trunk 0), keeping the area code whole;
    None for a mobile number (11 digits from 1) or anything else."""
    number = national.removeprefix("0")
    if number.startswith("1") and not number.startswith("10"):
        return None  # mobiles start with 1; Beijing's area code is 10
    area = 2 if number[0] in "12" else 3  # 010 and 02x, else 0xxx
    subscriber = number[area:]
    if not 7 <= len(subscriber) <= 8 or number[0] == "0":
        return None
    return f"0{number[:area]}-" + "*" * (len(subscriber) - 4) + subscriber[-4:]


# Calling codes of the regions most vaults are set to, so masking (every listing, search hit and
# export) needs no phonenumbers import; tests check them against phonenumbers, which answers for
# every other region.
COMMON_CALLING_CODES = {"CN": "86", "HK": "852", "MO": "853", "TW": "886", "SG": "65", "MY": "60", "JP": "81",
                        "KR": "82", "US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33", "AU": "61"}


@lru_cache(maxsize=64)
def _country_code(region: str) -> str:
    known = COMMON_CALLING_CODES.get(region)
    if known:
        return known
    import phonenumbers

    code = phonenumbers.country_code_for_region(region)
    return str(code) if code else ""
