"""Duplicate detection: the same customer typed twice, or imported twice.

A new customer is a likely duplicate of an existing one when their
normalized names are equal (case, width, punctuation and legal suffixes such
as Ltd / 有限公司 ignored, look-alike letters read as the letter they imitate),
when one name contains the other, when the names are a close fuzzy match, or
when they share a phone number or email.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .naming import strip_company_suffix

FUZZY_THRESHOLD = 90
MIN_CONTAINED = 4


@dataclass(frozen=True)
class Candidate:
    """What duplicate detection needs to know of one customer."""

    id: str
    name: str
    phones: tuple[str, ...] = ()
    email: str = ""
    path: Any = None


@dataclass(frozen=True)
class DuplicateMatch:
    existing: Candidate
    reason: str


# Look-alikes of Latin letters and digits (Unicode TR39 confusables.txt, the prototypes of the Greek,
# Cyrillic and other letters people actually mistype or forge in company names), as pairs
# "look-alike, what it imitates".  NFKC already folds fullwidth and styled (𝐀, Ａ) forms.
_CONFUSABLE_PAIRS = (
    "ΑAΒBΕEΖZΗHΙIΚKΜMΝNΟOΡPΤTΥYΧXϹCϲcϳjοoνvρpϱpαaιiκkυuχxτtγyϜFϝf"  # Greek
    "АAВBЕEЅSІIЈJКKМMНHОOРPСCТTХXУYԌGԚQԜWҮYӀIЁEЇI"  # Cyrillic capitals
    "аaсcеeоoрpхxуyѕsіiјjԁdԛqԝwһhӏlёeїiѵvʏyℓlı"  # Cyrillic small and odd Latin
    "iȷjƖlǀlᏴBᎪAᎬEᎻHᏆIᎫJᏦKᎷMᏃZՕOօoՍUսuᴠvᴡwᴢzꓐBꓑPꓓDꓔTꓟMꓠN"  # Armenian, Cherokee, Lisu, small caps
    "0O1l|l"  # digits and the bar that pass for letters
)
_SKELETON = str.maketrans(dict(zip(_CONFUSABLE_PAIRS[::2], _CONFUSABLE_PAIRS[1::2], strict=True)))


def skeleton(text: str) -> str:
    """NFKC, then each look-alike letter replaced by the letter it imitates ("Κ" Greek -> "K")."""
    return unicodedata.normalize("NFKC", text).translate(_SKELETON)


def name_key(name: str) -> str:
    """星辰科技有限公司 / 星辰科技 (北京) -> 星辰科技北京; "ACME, Inc." -> acme; "ΑCΜΕ" (Greek) -> acme."""
    text = skeleton(name).casefold()
    text = strip_company_suffix(text)
    return re.sub(r"[\W_]+", "", text)


def look_alike_reason(name: str) -> str:
    return "same name once look-alike letters (Greek, Cyrillic, ...) are read as the letters they imitate"


def _plain_key(name: str) -> str:
    return re.sub(r"[\W_]+", "", strip_company_suffix(unicodedata.normalize("NFKC", name).casefold()))


def find_duplicates(new: Candidate, existing: Iterable[Candidate]) -> list[DuplicateMatch]:
    from rapidfuzz import fuzz  # deferred: only add/import need it

    key, plain = name_key(new.name), _plain_key(new.name)
    phones = {p for p in new.phones if p}
    email = new.email.casefold()
    matches = []
    for other in existing:
        if other.id and other.id == new.id:
            continue
        reason = _reason(key, phones, email, other, fuzz.ratio, plain)
        if reason:
            matches.append(DuplicateMatch(other, reason))
    return matches


def _reason(key: str, phones: set[str], email: str, other: Candidate, ratio: Any, plain: str = "") -> str:
    other_key = name_key(other.name)
    if key and key == other_key:
        return "same name" if plain == _plain_key(other.name) else look_alike_reason(other.name)
    shared = phones.intersection(other.phones)
    if shared:
        from .rules import mask_phone  # the refusal names the other customer: never its full number

        return f"same phone {mask_phone(sorted(shared)[0])}"
    if email and email == other.email.casefold():
        return f"same email {email}"
    if not key or not other_key:
        return ""
    shorter, longer = sorted((key, other_key), key=len)
    if len(shorter) >= MIN_CONTAINED and shorter in longer:
        return "one name contains the other"
    score = ratio(key, other_key)
    if score >= FUZZY_THRESHOLD:
        return f"similar name ({score:.0f}% alike)"
    return ""
