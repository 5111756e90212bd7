"""Duplicate detection for thousands of rows at once.

``crmnotes.dedupe.find_duplicates`` compares one new customer with every
existing one, which is right for ``crm add`` but quadratic for an import of
10,000 rows.  This index applies the same rules (same normalized name, same
phone, same email, one name containing the other, a close fuzzy match) with
hash lookups, substring search over joined keys, and a bigram prefix filter
before the fuzzy ratio: two names at least 90% alike differ by at most k
insertions/deletions (k <= 0.23 x length), each of which breaks at most two
of the new name's bigrams, so a match shares one of its 2k+1 rarest bigrams.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from ..dedupe import FUZZY_THRESHOLD, MIN_CONTAINED, Candidate, name_key
from ..rules import mask_phone

_SEP = "\x00"
_CHUNK = 64


@dataclass
class Hit:
    ref: Any  # what was registered with the candidate (a Customer, a planned row, ...)
    candidate: Candidate
    reason: str


@dataclass
class DuplicateIndex:
    refs: list[Any] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    by_key: dict[str, int] = field(default_factory=dict)
    by_phone: dict[str, int] = field(default_factory=dict)
    by_email: dict[str, int] = field(default_factory=dict)
    _blobs: list[str] = field(default_factory=list)  # joined keys, searched with `in` (C speed)
    _pending: list[str] = field(default_factory=list)
    _bigrams: dict[str, list[int]] = field(default_factory=dict)

    def add(self, candidate: Candidate, ref: Hashable | Any) -> None:
        index = len(self.refs)
        key = name_key(candidate.name)
        self.refs.append(ref)
        self.candidates.append(candidate)
        self.keys.append(key)
        if key:
            self.by_key.setdefault(key, index)
            for gram in set(_grams(key)):
                self._bigrams.setdefault(gram, []).append(index)
            self._pending.append(key)
            if len(self._pending) >= _CHUNK:
                self._blobs.append(_SEP + _SEP.join(self._pending) + _SEP)
                self._pending = []
        for phone in candidate.phones:
            if phone:
                self.by_phone.setdefault(phone, index)
        if candidate.email:
            self.by_email.setdefault(candidate.email.casefold(), index)

    def find(self, new: Candidate) -> Hit | None:
        """The first existing candidate the new one duplicates, by the strongest reason."""
        key = name_key(new.name)
        if key and key in self.by_key:
            return self._hit(self.by_key[key], "same name")
        for phone in sorted(p for p in new.phones if p):
            if phone in self.by_phone:
                return self._hit(self.by_phone[phone], f"same phone {mask_phone(phone)}")
        email = new.email.casefold()
        if email and email in self.by_email:
            return self._hit(self.by_email[email], f"same email {email}")
        if not key:
            return None
        return self._contained(key) or self._fuzzy(key)

    def _hit(self, index: int, reason: str) -> Hit:
        return Hit(self.refs[index], self.candidates[index], reason)

    def _contained(self, key: str) -> Hit | None:
        # an existing name inside the new one: look up the new key's substrings
        for length in range(MIN_CONTAINED, len(key)):
            for start in range(len(key) - length + 1):
                found = self.by_key.get(key[start : start + length])
                if found is not None:
                    return self._hit(found, "one name contains the other")
        # the new name inside an existing one: substring search over joined keys
        if len(key) >= MIN_CONTAINED and (any(key in blob for blob in self._blobs)
                                          or any(key in k for k in self._pending)):
            for index, other in enumerate(self.keys):
                if key in other and key != other:
                    return self._hit(index, "one name contains the other")
        return None

    def _fuzzy(self, key: str) -> Hit | None:
        from rapidfuzz import fuzz

        grams = sorted(set(_grams(key)), key=lambda g: len(self._bigrams.get(g, ())))
        edits = int(len(key) * (1 - FUZZY_THRESHOLD / 100) * 2 / (FUZZY_THRESHOLD / 100)) + 1
        if len(grams) <= 2 * edits:
            pool: set[int] = set().union(*(self._bigrams.get(g, ()) for g in grams))
        else:
            pool = set().union(*(self._bigrams.get(g, ()) for g in grams[: 2 * edits + 1]))
        best: tuple[float, int] | None = None
        for index in sorted(pool):
            score = fuzz.ratio(key, self.keys[index], score_cutoff=FUZZY_THRESHOLD)
            if score and (best is None or score > best[0]):
                best = (score, index)
        if best is None:
            return None
        return self._hit(best[1], f"similar name ({best[0]:.0f}% alike)")


def _grams(key: str) -> list[str]:
    return [key[i : i + 2] for i in range(len(key) - 1)] or [key]
