"""Text analysis without Whoosh: CJK runs and bigrams, pinyin keys, phone keys.

Why bigrams and no word segmenter: an unspaced Chinese sentence has no word
boundaries, and a segmenter can glue a name to its neighbour (``张三是``), so
a query for 张三 would miss.  Character bigrams make every substring of two
or more characters findable (a phrase of consecutive bigrams *is* a
substring match, the recall of ``grep``), with no dictionary to load.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache

# CJK_CLASS: ideographs, kana and hangul (all written without spaces, so they get the same bigram
# treatment); it and the pinyin keys live in the core, where references by pinyin need them too.
from ..naming import CJK_CLASS, MAX_PINYIN_CHARS, pinyin_keys  # noqa: F401

RUNS_PATTERN = rf"(?P<cjk>[{CJK_CLASS}]+)|(?P<word>[^\W{CJK_CLASS}]+)"
MIN_PHONE_RUN = 4


@cache
def pattern(source: str) -> re.Pattern[str]:
    """Compiled on first use: ``re`` builds a big Unicode class in pure Python, for these two
    more than a ``crm index`` with nothing to do spends on anything of its own."""
    return re.compile(source)


def runs_pattern() -> re.Pattern[str]:
    return pattern(RUNS_PATTERN)


def has_cjk(text: str) -> bool:
    return pattern(f"[{CJK_CLASS}]").search(text) is not None


def runs(text: str) -> Iterator[tuple[bool, str, int, int]]:
    """(is_cjk, text, start, end) for every CJK run and every other word."""
    for match in runs_pattern().finditer(text):
        yield match.lastgroup == "cjk", match.group(0), match.start(), match.end()


def bigrams(run: str) -> list[str]:
    """数据安全 -> 数据 据安 安全; a single character stays itself."""
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def normalize(text: str) -> str:
    """Width- and case-folded form (full-width ＡＢＣ and abc match)."""
    return unicodedata.normalize("NFKC", text).lower()


# ------------------------------------------------------------------ pinyin


# ------------------------------------------------------------------ phones


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def phone_keys(phones: list[str]) -> list[str]:
    """Every suffix of 4+ digits of each number, national and international
    form alike: any run of 4+ consecutive digits (1381234, 5678, 8613...) is the
    prefix of one of them, so a prefix query finds it with a tenth of the
    terms that indexing every run would take."""
    keys: set[str] = set()
    for phone in phones:
        digits = digits_of(phone)
        for start in range(len(digits) - MIN_PHONE_RUN + 1):
            keys.add(digits[start:])
    return sorted(keys)
