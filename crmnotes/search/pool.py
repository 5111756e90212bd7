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

import heapq
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


class SegmentsPool:
    """The postings of whole segments a ``MergeWriter`` copies, read from them and written a term at a
    time as whole blocks: a merge holds one term's postings in memory, however big the segments are.

    Whoosh's own merge hands every posting of every segment, one at a time, to its pool, which sorts
    and spills them all; this reads each term's blocks from the segments that have it, in segment
    order (so docnums only grow), and renumbers them as their documents were copied."""

    def __init__(self) -> None:
        self.sources: list[tuple[Any, dict[int, int] | None, int]] = []  # (terms reader, docmap, base)
        self.postings = 0

    @property
    def estimated_bytes(self) -> int:
        return 0

    def add(self, item: Posting) -> None:
        raise TypeError("a merge's pool takes whole segments (MergeWriter.add_segment), not postings")

    def iter_postings(self) -> Iterator[Posting]:
        raise TypeError("a merge's postings are only written (SegmentsPool.write)")

    def write(self, fieldwriter: Any, schema: Any, lengths: Any, pause: Callable[[], None] | None = None) -> None:
        """``MemoryPool.write`` for the merged terms: the same blocks, fields and statistics."""
        current = None
        doclengths: list[int] = []
        level = fieldwriter._codec._compression
        for count, (fieldname, text, found) in enumerate(self._merged_terms(schema)):
            if pause is not None and count % PAUSE_TERMS == 0:
                pause()
            docnums, weights, values = self._postings(schema[fieldname].format, found)
            if not docnums:
                continue  # every document holding it was deleted
            if fieldname != current:
                if current is not None:
                    fieldwriter.finish_field()
                fieldwriter.start_field(fieldname, schema[fieldname])
                current = fieldname
                doclengths = _field_lengths(lengths, fieldname)
            fieldwriter.start_term(text)
            _fill_blocks(fieldwriter._postwriter, level, docnums, weights, values, doclengths)
            fieldwriter.finish_term()
            self.postings += len(docnums)
        if current is not None:
            fieldwriter.finish_field()

    def _merged_terms(self, schema: Any) -> Iterator[tuple[str, bytes, list[tuple[int, Any]]]]:
        """(field, term, [(source number, term info), ...]) in the codec's order: every segment's
        terms file lists its terms in that order already, so a heap merge of them is enough."""
        streams = [_numbered_terms(terms, number, schema) for number, (terms, _, _) in enumerate(self.sources)]
        key: tuple[str, bytes] | None = None
        found: list[tuple[int, Any]] = []
        for item_key, number, info in heapq.merge(*streams, key=lambda item: item[:2]):
            if item_key != key:
                if key is not None:
                    yield key[0], key[1], found
                key, found = item_key, []
            found.append((number, info))
        if key is not None:
            yield key[0], key[1], found

    def _postings(self, fmt: Any, found: list[tuple[int, Any]]) -> Slot:
        """One term's postings from every segment that has it, renumbered, deleted documents left out."""
        docnums, weights, values = array("i"), array("d"), []
        shared: dict[Any, Any] = {}
        for number, info in found:
            terms, docmap, base = self.sources[number]
            ids, found_weights, read_values = _read_postings(terms, info, fmt)
            # equal position lists as one object, as MemoryPool keeps them: a block's pickle then refers
            # back to the first (the bytes a build writes) instead of repeating it
            found_values = [shared.setdefault(value, value) for value in read_values]
            if docmap is None:
                docnums.extend([base + docnum for docnum in ids])
                weights.extend(found_weights)
                values.extend(found_values)
                continue
            for docnum, weight, value in zip(ids, found_weights, found_values, strict=True):
                new = docmap.get(docnum)
                if new is not None:
                    docnums.append(new)
                    weights.append(weight)
                    values.append(value)
        return docnums, weights, values

    def cleanup(self) -> None:
        self.sources.clear()


def _numbered_terms(terms: Any, number: int, schema: Any) -> Iterator[tuple[tuple[str, bytes], int, Any]]:
    """A segment's ((field, term), its number, term info), for the schema's fields."""
    for key, info in terms.items():
        if key[0] in schema:
            yield key, number, info


def _read_postings(terms: Any, info: Any, fmt: Any) -> tuple[list[int], list[float], list[Any]]:
    """Every posting of one term in one segment, a block at a time (ids, weights, values)."""
    if info.is_inlined():
        ids, weights, values = info.inlined_postings()
        return list(ids), list(weights), list(values)
    leaf = terms._codec.postings_reader(terms._postfile, info, fmt)
    ids_out: list[int] = []
    weights_out: list[float] = []
    values_out: list[Any] = []
    while True:
        leaf._read_ids()
        leaf._read_weights()
        leaf._read_values()
        ids_out.extend(leaf._ids)
        weights_out.extend(leaf._weights)
        values_out.extend(leaf._values)
        if leaf._lastblock:
            return ids_out, weights_out, values_out
        leaf._goto(leaf._nextoffset)


class MergeWriter(PoolWriter):
    """A writer of one new segment holding the documents of whole segments (``add_segment``), for
    merges: their stored fields and lengths copied a document at a time, their postings a term at a
    time (``SegmentsPool``).  The readers given must stay open until the commit."""

    def __init__(self, ix: Any, **options: Any) -> None:
        super().__init__(ix, **options)
        self.pool: SegmentsPool = SegmentsPool()  # type: ignore[assignment]  # the same interface for _flush_segment

    def add_segment(self, reader: Any) -> dict[int, int]:
        """Copy ``reader``'s undeleted documents; where each went (old docnum -> new docnum)."""
        self._check_state()
        base = self.docnum
        names = set(self.schema.names()) | {name for name in reader.indexed_field_names() if name in self.schema}
        before = dict(self.perdocwriter._fieldlengths)
        docmap = self.write_per_doc(names, reader)
        self._exact_lengths(reader, names, before)
        self.pool.sources.append((reader._terms, docmap, base))
        self._added = True
        if docmap is None:
            return {docnum: base + docnum for docnum in range(reader.doc_count_all())}
        return dict(docmap)

    def write_per_doc(self, fieldnames: set[str], reader: Any) -> dict[int, int] | None:
        """Whoosh's copy of every document's stored fields, lengths and column values, with the fields
        in name order as ``add_document`` stores them (Whoosh goes in set order): the same bytes."""
        if not self._plain:
            return super().write_per_doc(fieldnames, reader)
        from whoosh.columns import TranslatingColumnReader

        schema, perdoc = self.schema, self.perdocwriter
        docmap: dict[int, int] | None = {} if reader.has_deletions() else None
        columns = {}
        for name in fieldnames:
            column_type = schema[name].column_type
            if column_type and reader.has_column(name):
                column = reader.column_reader(name, column_type)
                columns[name] = column.raw_column() if isinstance(column, TranslatingColumnReader) else column
        for docnum, stored in reader.iter_docs():
            if docmap is not None:
                docmap[docnum] = self.docnum
            perdoc.start_doc(self.docnum)
            for name in sorted(fieldnames | {name for name in stored if name in schema}):
                field = schema[name]
                perdoc.add_field(name, field, stored.get(name), reader.doc_field_length(docnum, name))
                if name in columns:
                    perdoc.add_column_value(name, field.column_type, columns[name][docnum])
            perdoc.finish_doc()
            self.docnum += 1
        return docmap

    def _exact_lengths(self, reader: Any, names: set[str], before: dict[str, int]) -> None:
        """Each field's total length (what BM25's average length comes from) as the segment had it.

        ``write_per_doc`` adds up the documents' lengths as stored, one byte each and rounded
        for long fields, so a merged index would score slightly differently from the segments
        it joined; the totals are taken from them instead (less the deleted documents)."""
        totals = self.perdocwriter._fieldlengths
        deleted = [docnum for docnum in range(reader.doc_count_all()) if reader.is_deleted(docnum)]
        for name in names:
            exact = reader.field_length(name) - sum(reader.doc_field_length(docnum, name) for docnum in deleted)
            if exact or name in totals:
                totals[name] = before.get(name, 0) + exact
