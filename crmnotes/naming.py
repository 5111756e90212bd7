"""Customer IDs and file names.

IDs look like ``c-20261123-k7f3q9mz``: the creation date, then 40 random
bits in Crockford base32.  No counter and no coordination are needed, so
teammates creating customers offline on the same day do not collide (two
IDs of one day clash with probability 1 in 10^12 per pair; the vault is
also checked before an ID is handed out).

File names come from the customer name: Chinese as pinyin, other scripts
reduced to ASCII letters and digits, with the ID's first random characters
appended so that two "张三" created on two laptops never fight over one
path.  Files are spread over one folder per initial (``customers/x/...``):
git diffs small trees much faster than one flat folder of 10,000 files.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
MAX_SLUG = 48
# CJK ideographs (unified + extension A + compatibility), kana and hangul: scripts written without spaces.
CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
MAX_PINYIN_CHARS = 16  # longer names only get keys for their first characters
ID_PATTERN = re.compile(r"^c-\d{8}-[0-9a-z]{8}$")


def new_id(now: datetime | None = None) -> str:
    import secrets  # (with hmac and hashlib, ~10 ms): only a new customer needs it, not every file read

    stamp = (now or datetime.now()).strftime("%Y%m%d")
    suffix = "".join(secrets.choice(_CROCKFORD) for _ in range(8))
    return f"c-{stamp}-{suffix}"


def looks_like_id(text: str) -> bool:
    return bool(ID_PATTERN.match(text.strip().lower()))


# Legal-form suffixes that say nothing about which company it is.
COMPANY_SUFFIXES = (
    "股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司", "工作室", "事务所",
    "co ltd", "co., ltd.", "company limited", "limited", "ltd", "inc", "incorporated", "corp",
    "corporation", "co", "company", "llc", "llp", "plc", "gmbh", "ag", "sa", "sarl", "bv", "pte", "pty",
)
_LATIN_SUFFIXES = sorted((s for s in COMPANY_SUFFIXES if s.isascii()), key=len, reverse=True)
_CJK_SUFFIXES = sorted((s for s in COMPANY_SUFFIXES if not s.isascii()), key=len, reverse=True)
# Latin suffixes need a separator before them ("Cosco" keeps its "co").
_SUFFIX_RE = re.compile(
    r"(?:[\s,.]+(?:" + "|".join(re.escape(s) for s in _LATIN_SUFFIXES) + r")\.?"
    r"|[\s,.]*(?:" + "|".join(re.escape(s) for s in _CJK_SUFFIXES) + r"))+$",
    re.I,
)


def strip_company_suffix(name: str) -> str:
    """星辰科技有限公司 -> 星辰科技; "Acme Co., Ltd." -> Acme (never to nothing)."""
    stripped = _SUFFIX_RE.sub("", name.strip()).strip(" ,.")
    return stripped or name.strip()


def slugify(name: str) -> str:
    """ASCII slug of a name: 星辰科技有限公司 -> xingchenkeji, "Acme Corp." -> acme."""
    from pypinyin import Style, lazy_pinyin  # deferred: only file creation needs it

    words: list[str] = []
    for chunk in re.split(r"[\s\W_]+", unicodedata.normalize("NFKC", strip_company_suffix(name))):
        if not chunk:
            continue
        if _CJK.search(chunk):
            chunk = "".join(lazy_pinyin(chunk, style=Style.NORMAL, errors="default"))
        ascii_only = unicodedata.normalize("NFKD", chunk).encode("ascii", "ignore").decode().lower()
        ascii_only = re.sub(r"[^a-z0-9]+", "", ascii_only)
        if ascii_only:
            words.append(ascii_only)
    slug = "-".join(words)[:MAX_SLUG].strip("-")
    if not slug or slug in _WINDOWS_RESERVED:
        slug = f"customer-{slug}".strip("-")
    return slug


def collation_key(name: str) -> str:
    """Sort key that files Chinese names by pinyin among Latin ones
    (阿里 with A, 星辰 with X).  ASCII names skip the pinyin import."""
    folded = unicodedata.normalize("NFKC", name).casefold().strip()
    if folded.isascii():
        return re.sub(r"[^a-z0-9]+", "", folded) + "\0" + folded
    from pypinyin import Style, lazy_pinyin  # ~0.5 s import: only for non-ASCII names

    return "".join(lazy_pinyin(folded, style=Style.NORMAL, errors="default")) + "\0" + folded


def customer_relpath(name: str, customer_id: str) -> Path:
    """Path inside ``customers/`` for a new customer: ``x/xingchenkeji-k7f3.md``."""
    slug = slugify(name)
    tag = customer_id.rsplit("-", 1)[-1][:4]
    return Path(slug[0]) / f"{slug}-{tag}.md"


def pinyin_keys(text: str) -> list[str]:
    """Keys that let a phone-contacts style query find a Chinese name.

    For 星辰科技: full pinyin and initials from every syllable on
    (xingchenkeji, chenkeji, keji, ji, xckj, ckj, kj), so both ``xingchen``
    and ``xckj`` (matched as prefixes) and ``keji`` find it.  Search indexes
    them; a customer reference (``crm log xingchen``) matches them too.
    """
    runs = re.findall(f"[{CJK_CLASS}]+", text)
    if not runs:
        return []
    from pypinyin import Style, lazy_pinyin  # deferred: 0.4 s to import

    keys: set[str] = set()
    for run in runs:
        syllables = [s for s in lazy_pinyin(run[:MAX_PINYIN_CHARS], style=Style.NORMAL, errors="ignore") if s.isascii()]
        for i in range(len(syllables)):
            rest = syllables[i:]
            keys.add("".join(rest))
            keys.add("".join(s[0] for s in rest if s))
    return sorted(k for k in keys if k)
