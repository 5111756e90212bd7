"""Building a fresh segment fast: an in-memory postings pool and the writer that feeds and empties it.

Whoosh's ``SegmentWriter`` collects every posting as a tuple ``(field,
term bytes, docnum, weight, value bytes)`` in a ``PostingPool``, sorts the
tuples and, past ``limitmb``, pickles a sorted run to a temporary file; the
commit then unpickles and heap-merges all runs and hands the postings one
by one to the codec.  On a 10,000-customer vault that per-posting Python
work was most of the build.

``MemoryPool`` keeps postings grouped by field and term instead: per term an
array of docnums, an array of weights and a list of shared value bytes,
about half the tuples' memory.  ``PoolWriter`` adds a document's postings to
it a field at a time and, at commit, writes each term's postings as whole
blocks through Whoosh's own block writer: the segment files are byte for
byte those Whoosh writes (tests/test_index_build.py compares them).  The
caller bounds memory by committing a segment once ``estimated_bytes`` passes
its limit (``index._build_segment``), so nothing ever spills.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from whoosh.writing import SegmentWriter

Posting = tuple[str, bytes, int, float, bytes | None]
Slot = tuple[array, array, list]  # docnums ("i"), weights ("d"), value bytes (shared objects)
# rough bytes per posting (array slots, list slot, value bytes) and per distinct term (key, arrays, list)
_PER_POSTING = 40
_PER_TERM = 600
# Blocks of fewer postings are stored uncompressed (the block header says so, any reader follows):
# zlib makes a one- or two-posting block bigger, and one compress() call costs ~20 µs, most of it
# setting up the compressor; 85% of a rebuilt segment's blocks are single postings.
COMPRESS_MIN_POSTINGS = 3
PAUSE_TERMS = 64


class MemoryPool:
    """The ``PostingPool`` interface Whoosh's ``SegmentWriter`` uses (``add``, ``iter_postings``,
    ``cleanup``), plus ``add_field`` and ``write`` for ``PoolWriter``."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[bytes, Slot]] = {}
        self.postings = 0
        self.term_count = 0
        self._unsorted: set[tuple[str, bytes]] = set()
        # position lists repeat (one occurrence at position 7 is the same bytes in thousands of
        # postings): one object each instead of one per posting, ~40 bytes a posting saved
        self._values: dict[bytes | None, bytes | None] = {}

    @property
    def fieldnames(self) -> set[str]:
        return set(self.fields)

    def _terms(self, fieldname: str) -> dict[bytes, Slot]:
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        return terms

    def add(self, item: Posting) -> None:
        fieldname, text, docnum, weight, value = item
        terms = self._terms(fieldname)
        slot = terms.get(text)
        if slot is None:
            slot = terms[text] = (array("i"), array("d"), [])
            self.term_count += 1
        elif slot[0] and docnum < slot[0][-1]:
            self._unsorted.add((fieldname, text))  # a merge adds out of order: sorted when written
        slot[0].append(docnum)
        slot[1].append(weight)
        slot[2].append(self._values.setdefault(value, value))
        self.postings += 1

    def add_field(self, fieldname: str, items: Iterable[tuple[bytes, int, float, bytes]], docnum: int) -> int:
        """Add one field of a new document (``field.index`` items; docnums only grow); its length."""
        terms = self._terms(fieldname)
        share = self._values.setdefault
        length = count = 0
        for text, freq, weight, value in items:
            slot = terms.get(text)
            if slot is None:
                slot = terms[text] = (array("i"), array("d"), [])
                self.term_count += 1
            slot[0].append(docnum)
            slot[1].append(weight)
            slot[2].append(share(value, value))
            length += freq
            count += 1
        self.postings += count
        return length

    @property
    def estimated_bytes(self) -> int:
        return self.postings * _PER_POSTING + self.term_count * _PER_TERM

    def _sorted_terms(self) -> Iterator[tuple[str, bytes, Slot]]:
        """(field, term, slot) in the codec's order, each slot's postings in docnum order."""
        for fieldname in sorted(self.fields):
            terms = self.fields[fieldname]
            for text in sorted(terms):
                slot = terms[text]
                if (fieldname, text) in self._unsorted:
                    rows = sorted(zip(*slot, strict=True), key=lambda row: row[0])
                    slot = (array("i", [r[0] for r in rows]), array("d", [r[1] for r in rows]), [r[2] for r in rows])
                yield fieldname, text, slot

    def iter_postings(self) -> Iterator[Posting]:
        for fieldname, text, (docnums, weights, values) in self._sorted_terms():
            for docnum, weight, value in zip(docnums, weights, values, strict=True):
                yield fieldname, text, docnum, weight, value

    def items(self) -> Iterator[Posting]:
        return self.iter_postings()

    def write(self, fieldwriter: Any, schema: Any, lengths: Any, pause: Callable[[], None] | None = None) -> None:
        """What ``FieldWriter.add_postings`` does with ``iter_postings()``, a block at a time.

        Whoosh adds each posting to the codec's postings writer, which flushes a
        block every ``blocklimit`` postings; here the writer's block buffer is
        filled with a whole block at once and flushed by the same ``_write_block``.
        ``lengths`` is the segment's per-document reader (field lengths), or None;
        ``pause`` is called every ``PAUSE_TERMS`` terms (a background merge yields there)."""
        current = None
        doclengths: list[int] = []
        level = fieldwriter._codec._compression
        for count, (fieldname, text, (docnums, weights, values)) in enumerate(self._sorted_terms()):
            if pause is not None and count % PAUSE_TERMS == 0:
                pause()
            if fieldname != current:
                if current is not None:
                    fieldwriter.finish_field()
                fieldwriter.start_field(fieldname, schema[fieldname])
                current = fieldname
                doclengths = _field_lengths(lengths, fieldname)
            fieldwriter.start_term(text)
            _fill_blocks(fieldwriter._postwriter, level, docnums, weights, values, doclengths)
            fieldwriter.finish_term()
        if current is not None:
            fieldwriter.finish_field()

    def cleanup(self) -> None:
        self.fields.clear()
        self._unsorted.clear()
        self._values.clear()
        self.postings = self.term_count = 0


def _field_lengths(lengths: Any, fieldname: str) -> list[int]:
    """Every document's length of ``fieldname`` as the codec reads it back (what its block statistics use)."""
    if lengths is None:
        return []
    found = [lengths.doc_field_length(docnum, fieldname) for docnum in range(lengths.doc_count_all())]
    return found if any(found) else []


def _fill_blocks(post: Any, level: int, docnums: array, weights: array, values: list, doclengths: list[int]) -> None:
    """Hand one term's postings to Whoosh's ``W3PostingsWriter`` as whole blocks (the same
    buffer and statistics ``add_posting`` builds one posting at a time); the term's last block
    stays buffered for ``finish_postings``, as it would there."""
    limit = post._blocklimit
    total = len(docnums)
    for start in range(0, total, limit):
        end = min(start + limit, total)
        ids = docnums[start:end]
        block_weights = weights[start:end]
        post._ids = array("I", ids)
        post._weights = array("f", block_weights)
        heaviest = max(block_weights)
        post._maxweight = heaviest if heaviest > 0 else 0
        post._values = [value for value in values[start:end] if value]
        found = [doclengths[docnum] for docnum in ids if doclengths[docnum]] if doclengths else []
        post._minlength = min(found) if found else None
        post._maxlength = max(found) if found else 0
        post._compression = level if end - start >= COMPRESS_MIN_POSTINGS else 0
        if end < total:
            post._write_block()


class PoolWriter(SegmentWriter):
    """A ``SegmentWriter`` for a fresh segment, its postings in a ``MemoryPool`` (``writer.pool``).

    ``add_document`` is Whoosh's for documents without boosts, term vectors or
    spelling fields (anything else goes through Whoosh's own), minus the tuple
    and the call per posting."""

    def __init__(self, ix: Any, **options: Any) -> None:
        super().__init__(ix, **options)
        self.pool.cleanup()  # Whoosh's pool holds nothing yet: only its (empty) temporary storage
        self.pool: MemoryPool = MemoryPool()
        self._plain = not any(field.vector or field.separate_spelling() for _, field in self.schema.items())
        self.pause: Callable[[], None] | None = None  # see MemoryPool.write

    def add_document(self, **fields: Any) -> None:
        if not self._plain or any(name.startswith("_") for name in fields):
            return super().add_document(**fields)
        self._check_state()
        schema, perdoc, docnum, pool = self.schema, self.perdocwriter, self.docnum, self.pool
        names = sorted(fields)
        self._check_fields(schema, names)
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = pool.add_field(name, field.index(value), docnum) if field.indexed else 0
                perdoc.add_field(name, field, value if field.stored else None, length if field.scorable else 0)
                if field.column_type:
                    perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1
        return None

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        self.pool.write(self.fieldwriter, self.schema, lengths, self.pause)
        self.fieldwriter.close()
        if lengths is not None:
            lengths.close()
