"""An in-memory postings pool for building a fresh segment (no temporary run files).

Whoosh's ``SegmentWriter`` collects every posting as a tuple ``(field,
term bytes, docnum, weight, value bytes)`` in a ``PostingPool``, sorts the
tuples and, past ``limitmb``, pickles a sorted run to a temporary file; the
commit then unpickles and heap-merges all runs.  On a 10,000-customer vault
that round trip (about 7 µs per posting, a third of a million postings per
thousand files) made the build superlinear.

``MemoryPool`` keeps postings grouped by term instead: per term an array of
docnums, an array of weights and a list of shared value bytes, about half the
tuples' memory, and ``iter_postings`` yields them in the order Whoosh's
codec expects (field, term, docnum) with one sort of the distinct terms.
The caller bounds memory by committing a segment once ``estimated_bytes``
passes its limit (``index._build_segment``), so nothing ever spills.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

Posting = tuple[str, bytes, int, float, bytes | None]
# rough bytes per posting (array slots, list slot, value bytes) and per distinct term (key tuple, arrays, list)
_PER_POSTING = 40
_PER_TERM = 600


class MemoryPool:
    """The ``PostingPool`` interface Whoosh's ``SegmentWriter`` uses: ``add``, ``iter_postings``, ``cleanup``."""

    def __init__(self) -> None:
        self.terms: dict[tuple[str, bytes], tuple[array[int], array[float], list[bytes | None]]] = {}
        self.fieldnames: set[str] = set()
        self.postings = 0
        self._unsorted: set[tuple[str, bytes]] = set()
        # position lists repeat (one occurrence at position 7 is the same bytes in thousands of
        # postings): one object each instead of one per posting, ~40 bytes a posting saved
        self._values: dict[bytes | None, bytes | None] = {}

    def add(self, item: Posting) -> None:
        fieldname, text, docnum, weight, value = item
        key = (fieldname, text)
        slot = self.terms.get(key)
        if slot is None:
            slot = self.terms[key] = (array("i"), array("d"), [])
            self.fieldnames.add(fieldname)
        elif slot[0] and docnum < slot[0][-1]:
            self._unsorted.add(key)  # documents are added in docnum order; anything else is sorted at the end
        slot[0].append(docnum)
        slot[1].append(weight)
        slot[2].append(self._values.setdefault(value, value))
        self.postings += 1

    @property
    def estimated_bytes(self) -> int:
        return self.postings * _PER_POSTING + len(self.terms) * _PER_TERM

    def iter_postings(self) -> Iterator[Posting]:
        for key in sorted(self.terms):
            fieldname, text = key
            docnums, weights, values = self.terms[key]
            rows: Any = zip(docnums, weights, values, strict=True)
            if key in self._unsorted:
                rows = sorted(rows, key=lambda row: row[0])
            for docnum, weight, value in rows:
                yield fieldname, text, docnum, weight, value

    def items(self) -> Iterator[Posting]:
        return self.iter_postings()

    def cleanup(self) -> None:
        self.terms.clear()
        self._unsorted.clear()
        self._values.clear()
        self.postings = 0


def install(writer: Any) -> MemoryPool:
    """Give a fresh ``SegmentWriter`` (nothing added yet) a ``MemoryPool`` instead of its spilling pool."""
    old = writer.pool
    pool = MemoryPool()
    writer.pool = pool
    old.cleanup()  # it holds nothing yet; this only drops its (empty) temporary storage bookkeeping
    return pool
