"""Answering a compiled Whoosh query from decoded posting lists instead of Whoosh's matchers.

Whoosh walks its matcher tree one posting at a time in pure Python (``is_active``,
``_find_next``, a BM25 call and a field-length read per posting, span objects
per phrase candidate), so a query touching a few thousand files spends its time in
the interpreter, not in reading.  Here each term's posting list of a segment is read in one
piece and decoded in whole blocks (pickle and zlib, in C) into docnums and weights once per
open searcher, scored on demand into ``{docnum: score}``, and queries combine those dicts.
A query whose parts narrow each other (an AND of a rare and a common part, a NOT) first
finds its matches with set operations, in C, and then scores those documents alone.  When
``limit`` hits are asked for, a segment whose best possible score (``_bound``) cannot beat
the ``limit`` best found so far is not read at all (a field filter: every hit scores the
same, and the first segment holds the top 20).

The answers are Whoosh's, score for score: every node follows the matcher
Whoosh would build for it (the same BM25F scorer parameters, the same
union/intersection tree shapes and therefore the same float additions, the
pre-loaded OR Whoosh picks for small segments with its sequential sums and
its constant score for prefix expansions, deleted documents skipped).  Two
differences are Whoosh bugs not copied: the result is the true top ``limit``
(Whoosh's top-N collector swaps a union for an intersection from a score
bound that underestimates its pre-loaded ORs, and so drops a few hits: 2 of
the top 20 of the benchmark's boolean query), and an AndNot excludes its
first document too (Whoosh's AndNotMatcher keeps it when the excluded side
starts earlier: a silent customer was listed under ``stage:intent``).

A phrase is first answered by its terms alone: its candidates carry an upper
bound of their score and are *unsure*.  The best candidates are then
re-evaluated for their own docnums only, where a phrase reads its terms'
positions, until ``limit`` hits are certain.  A query part this module does
not reproduce raises ``Unsupported`` and the caller asks Whoosh itself.
"""

from __future__ import annotations

import heapq
import struct
import zlib
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable
from io import BytesIO
from itertools import accumulate
from operator import neg
from pickle import Unpickler, loads
from typing import Any

from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, _lenfield
from whoosh.query import qcore
from whoosh.query.ranges import NumericRange, TermRange
from whoosh.query.terms import MultiTerm
from whoosh.query.wrappers import ConstantScoreQuery
from whoosh.scoring import BM25F, BM25FScorer, WeightScorer
from whoosh.util.numeric import byte_to_length

from ..objects import bulk

CACHE_POSTINGS = 400_000  # decoded postings kept per open searcher (~150 bytes each)
RESOLVE_BATCH = 16  # unsure candidates re-evaluated together
MANY_DOCS = 5000  # Whoosh's Or pre-loads scores in segments of at most this many documents
TOO_MANY_CLAUSES = wq.Or.TOO_MANY_CLAUSES
BOUND_SLACK = 1 + 1e-9  # a bound's sums run in another order than a score's: room for the rounding
_LENGTHS = [0] + [byte_to_length(b) for b in range(1, 256)]


class Unsupported(Exception):
    """A query part whose Whoosh semantics this module does not reproduce."""


class Found:
    """One node's matches in one segment: ``scores`` (local docnum -> score,
    read-only: it may be a cached dict) and the docnums whose match and score
    are only an upper bound until a phrase's positions are read."""

    __slots__ = ("scores", "unsure")

    def __init__(self, scores: dict[int, float], unsure: frozenset[int] | set[int] = frozenset()) -> None:
        self.scores = scores
        self.unsure = unsure

    def __len__(self) -> int:
        return len(self.scores)


NOTHING = Found({})
_PER_DOCUMENT: frozenset[int] = frozenset({-1})  # contains(): phrases inside, ask document by document


class Context:
    """Whoosh's ``SearchContext`` as far as matchers differ on it."""

    __slots__ = ("members", "needs_current", "scored")

    def __init__(self, scored: bool, needs_current: bool, members: bool = False) -> None:
        self.scored = scored
        self.needs_current = needs_current
        self.members = members  # only which documents match is used above (scores are dropped): no BM25

    def key(self) -> tuple[bool, bool, bool]:
        return self.scored, self.needs_current, self.members

    def members_only(self) -> Context:
        return self if self.members else Context(self.scored, self.needs_current, True)


TOP = Context(True, False)  # Searcher.search
BOOLEAN = Context(False, False, True)  # Searcher.boolean_context(): the excluded side of AndNot
STANDALONE = Context(True, True)  # query.matcher(searcher) without a context


class Within(set[int]):
    """``only`` that restricts a node to these docnums without confirming phrases: their
    candidates stay unsure, as without ``only`` (the scoring pass of ``Evaluator.top``)."""


class Postings:
    """One term's postings in one segment: documents and term weights as decoded, scored on
    demand (all in order, or only the documents a query still needs), positions for phrases."""

    __slots__ = ("_rate", "_scores", "_weights", "btext", "field", "format", "ids", "segment", "tfs", "values")

    def __init__(self, ids: list[int], tfs: list[float], values: Any, format_: Any,
                 segment: Segment, field: str, btext: bytes) -> None:
        self.ids = ids
        self.tfs = tfs  # the weights (a None rate: the scores themselves)
        self.values = values
        self.format = format_
        self.segment, self.field, self.btext = segment, field, btext
        self._rate: tuple[float, float, list[float]] | bool | None = False  # False: not asked yet
        self._scores: dict[int, float] | None = None
        self._weights: dict[int, float] | None = None

    @property
    def rate(self) -> tuple[float, float, list[float]] | None:
        """BM25's (idf, K1 + 1, per-document length part), or None where the weight is the score;
        asked for only when scoring (a term that only decides matches needs no scorer)."""
        if self._rate is False:
            segment = self.segment
            scorer = segment.evaluator.scorer(segment, self.field, self.btext)
            self._rate = (scorer.idf, scorer.K1 + 1, segment.norms(self.field, scorer)) \
                if type(scorer) is BM25FScorer else None
        return self._rate  # type: ignore[return-value]  # not False any more

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def weights(self) -> dict[int, float]:
        """docnum -> weight of the matching (not deleted) documents."""
        if self._weights is None:
            self._weights = self._live(dict(zip(self.ids, self.tfs, strict=True)))
        return self._weights

    @property
    def scores(self) -> dict[int, float]:
        """docnum -> score of every matching document."""
        if self._scores is None:
            if self.rate is None:
                self._scores = self.weights
            else:
                idf, k1_plus_1, norms = self.rate
                # whoosh.scoring.bm25 (idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))), with
                # the length part per document computed once: the same operations, so every float is the same
                found = [idf * ((tf * k1_plus_1) / (tf + norms[d])) for d, tf in zip(self.ids, self.tfs, strict=True)]
                self._scores = self._live(dict(zip(self.ids, found, strict=True)))
        return self._scores

    def members(self) -> dict[int, float]:
        """The matching documents as keys (values: weights or scores, whichever is at hand)."""
        return self._scores if self._scores is not None else self.weights

    def restricted(self, only: set[int]) -> dict[int, float]:
        """docnum -> score of the matching documents among ``only``."""
        known = self.members()
        common = known.keys() & only
        if self.rate is None or known is self._scores:
            return {d: known[d] for d in common}
        idf, k1_plus_1, norms = self.rate
        return {d: idf * ((tf * k1_plus_1) / (tf + norms[d]))
                for d, tf in zip(common, map(known.__getitem__, common), strict=True)}

    def _live(self, found: dict[int, float]) -> dict[int, float]:
        for docnum in self.segment.deleted & found.keys():
            del found[docnum]
        return found

    def positions(self, docnum: int) -> list[int]:
        if self.values is None:
            raise Unsupported("postings without positions")
        at = bisect_left(self.ids, docnum)
        return self.format.decode_positions(self.values[at])


class Segment:
    """A leaf searcher of the open index and what is read from it once."""

    def __init__(self, evaluator: Evaluator, number: int, searcher: Any, offset: int) -> None:
        self.evaluator = evaluator
        self.number = number
        self.searcher = searcher
        self.reader = searcher.reader()
        self.offset = offset
        self.doc_count_all = searcher.doc_count_all()
        self.deleted: frozenset[int] = frozenset(self.reader.deleted_docs_set) if self.reader.has_deletions() \
            else frozenset()
        self._lengths: dict[str, list[int] | None] = {}
        self._every: list[int] | None = None
        self._frequencies: dict[tuple[str, bytes], int] = {}
        self.doc_count = self.reader.doc_count()
        self._norms: dict[tuple[str, float, float, float], list[float]] = {}
        self._least: dict[tuple[str, float, float, float], float] = {}
        self.sizes: dict[int, tuple[Any, int]] = {}  # id(query) -> (query, size) of the query being answered
        self.expansions: dict[int, tuple[Any, list[bytes]]] = {}  # id(query) -> (query, terms), like sizes

    def lengths(self, field: str) -> list[int] | None:
        """Per-document field lengths as Whoosh's scorer sees them (None: no length column)."""
        if field not in self._lengths:
            perdoc = self.reader._perdoc
            column = _lenfield(field)
            found = None
            if perdoc.has_column(column):
                reader = perdoc.column_reader(column, LENGTHS_COLUMN)
                raw = reader._dbfile.get(reader._basepos, reader._count)  # one byte a document
                found = [_LENGTHS[b] for b in raw] + [0] * (self.doc_count_all - len(raw))
            self._lengths[field] = found
        return self._lengths[field]

    def norms(self, field: str, scorer: Any) -> list[float]:
        """``K1 * ((1 - B) + B * fl / avgfl)`` of every document: BM25's length part, the same for every term."""
        key = (field, scorer.B, scorer.K1, scorer.avgfl)
        found = self._norms.get(key)
        if found is None:
            lengths = self.lengths(field) or [1] * self.doc_count_all  # Whoosh's default without a column
            b, k1, avgfl = scorer.B, scorer.K1, scorer.avgfl
            one_minus_b = 1 - b
            found = self._norms[key] = [k1 * (one_minus_b + b * fl / avgfl) for fl in lengths]
        return found

    def least_norm(self, field: str, scorer: Any) -> float:
        """The smallest of ``norms``: the shortest document's."""
        key = (field, scorer.B, scorer.K1, scorer.avgfl)
        found = self._least.get(key)
        if found is None:
            found = self._least[key] = min(self.norms(field, scorer), default=0.0)
        return found

    def every(self) -> list[int]:
        if self._every is None:
            self._every = list(self.reader.all_doc_ids())
        return self._every

    def size(self, query: Any) -> int:
        """``query.estimate_size`` on this segment: what orders Whoosh's matcher trees
        (term frequencies remembered: every evaluation asks for them again; the sizes of the
        query being answered too: each node asks for its children's, and a prefix's expands it)."""
        known = self.sizes.get(id(query))
        if known is not None and known[0] is query:
            return known[1]
        kind = type(query)
        if kind is wq.Term:
            btext = self.btext(query.fieldname, query.text)
            found = 0 if btext is None else self.doc_frequency(query.fieldname, btext)
        elif kind is wq.And:
            found = min(self.size(q) for q in query.subqueries)
        elif kind is wq.Or:
            found = min(sum(self.size(q) for q in query.subqueries), self.doc_count)
        elif kind in _EXPANDING and type(query).estimate_size is MultiTerm.estimate_size:
            field = query.field()
            found = sum(self.doc_frequency(field, btext) for btext in self.expanded(query))
        else:
            found = query.estimate_size(self.reader)
        self.sizes[id(query)] = (query, found)
        return found

    def expanded(self, query: Any) -> list[bytes]:
        """The terms a prefix or range stands for here (``MultiTerm._btexts``), looked up once
        for the query being answered (its size, its matches and its scores ask for them)."""
        known = self.expansions.get(id(query))
        if known is None or known[0] is not query:
            known = self.expansions[id(query)] = (query, [btext for _, btext in query.expanded_terms(self.reader)])
        return known[1]

    def btext(self, field: str, text: Any) -> bytes | None:
        """The indexed form of a term's text (None: the field does not take it)."""
        return self.evaluator.btext(field, text)

    def doc_frequency(self, field: str, btext: bytes) -> int:
        """Documents holding the term, deleted ones included (0: not in this segment)."""
        key = (field, btext)
        found = self._frequencies.get(key)
        if found is None:
            found = self._frequencies[key] = self.reader.doc_frequency(field, btext) if key in self.reader else 0
        return found


class Evaluator:
    """Queries over one open Whoosh searcher; lives as long as that searcher."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.segments = [Segment(self, n, s, offset) for n, (s, offset) in enumerate(searcher.leaf_searchers())]
        self.cache: OrderedDict[tuple[Any, ...], Postings | Found] = OrderedDict()
        self.cached = 0
        self._asked: dict[int, tuple[Any, frozenset[int] | None]] = {}  # contains() of this search, by query
        self._scorers: dict[tuple[str, bytes], Any] = {}
        self._btexts: dict[tuple[str, Any], bytes | None] = {}

    def forget(self) -> None:
        """Drop every decoded posting list (field lengths and frequencies stay: they come with the open index)."""
        self.cache.clear()
        self.cached = 0
        self._asked.clear()
        self._scorers.clear()
        self._btexts.clear()
        for segment in self.segments:
            segment.sizes.clear()
            segment.expansions.clear()

    def btext(self, field: str, text: Any) -> bytes | None:
        """The indexed form of a term's text (None: the field does not take it), the same in every segment."""
        key = (field, text)
        try:
            found = self._btexts.get(key, False)
        except TypeError:  # an unhashable text: Whoosh's field says what it makes of it
            return _btext(self.searcher.schema, field, text)
        if found is False:
            found = self._btexts[key] = _btext(self.searcher.schema, field, text)
        return found  # type: ignore[return-value]  # not False any more

    def scorer(self, segment: Segment, field: str, btext: bytes) -> Any:
        """The term's scorer as Whoosh's searcher makes it for each segment: its parameters (idf,
        average field length, B, K1) are the whole index's, so one serves every segment (making
        one asks every segment for the field's length: 31 segments, 31 times, per term)."""
        key = (field, btext)
        found = self._scorers.get(key)
        if found is None:
            searcher = segment.searcher
            found = self._scorers[key] = searcher.weighting.scorer(searcher, field, btext)
        return found

    # ---------------------------------------------------------------- answers

    def top(self, query: Any, limit: int, accept: Callable[[int], bool] | None = None) -> list[tuple[int, float]]:
        """(docnum, score) of the best ``limit`` (0: all) matches, best first, ties
        by docnum; ``accept`` (if given) must also hold for a hit."""
        with bulk():  # decoded postings: lists and dicts of numbers, no cycle for the collector to find
            return self._top(query, limit, accept)

    def _top(self, query: Any, limit: int, accept: Callable[[int], bool] | None) -> list[tuple[int, float]]:
        self._asked.clear()
        for segment in self.segments:
            segment.sizes.clear()  # another query: its nodes are other objects
            segment.expansions.clear()
        ranked: list[tuple[float, int]] = []  # (-score, docnum): the best sorts first
        unsure: set[int] = set()
        narrowing = _narrows(query)
        skipping = limit > 0 and accept is None  # hits beyond the best ``limit`` found so far can be ruled out
        leading: list[float] = []  # the ``limit`` best scores so far, the worst first
        for segment in self.segments:
            if skipping and len(leading) == limit:
                bound = _bound(segment, query)
                if bound is not None and leading[0] >= bound:
                    continue  # (later segments hold later docnums: a tie ranks after the kept hit)
                skipping = bound is not None
            found = _scored(segment, query) if narrowing else evaluate(segment, query, TOP, None)
            # (pairs built by map and zip, in C: a query can match half the index)
            docnums = found.scores.keys() if segment.offset == 0 else map(segment.offset.__add__, found.scores)
            ranked.extend(zip(map(neg, found.scores.values()), docnums, strict=True))
            unsure.update(map(segment.offset.__add__, found.unsure))
            if skipping:
                skipping = not unsure
                leading = heapq.nlargest(limit, [*leading, *heapq.nlargest(limit, found.scores.values())])[::-1]
        if not unsure and accept is None:
            best = heapq.nsmallest(limit, ranked) if 0 < limit < len(ranked) else sorted(ranked)
            return [(d, -negated) for negated, d in best]
        heapq.heapify(ranked)
        return self._confirmed(query, ranked, unsure, limit, accept)

    def _confirmed(self, query: Any, candidates: list[tuple[float, int]], unsure: set[int], limit: int,
                   accept: Callable[[int], bool] | None) -> list[tuple[int, float]]:
        """Take candidates from the heap best bound first, the unsure ones resolved a
        chunk at a time; stop when ``limit`` hits beat every bound still to come."""
        kept: list[tuple[float, int]] = []  # heap of (score, -docnum): the worst kept hit first
        size = max(RESOLVE_BATCH, limit)
        while candidates:
            chunk = [heapq.heappop(candidates) for _ in range(min(size, len(candidates)))]
            size *= 2
            exact = self._resolve(query, [d for _, d in chunk if d in unsure])
            for negated, docnum in chunk:
                bound = -negated
                if limit > 0 and len(kept) >= limit and _beats(kept[0], bound, docnum):
                    return _best_first(kept)
                score = exact[docnum] if docnum in unsure else bound
                if score is None or (accept is not None and not accept(docnum)):
                    continue
                if limit <= 0 or len(kept) < limit:
                    heapq.heappush(kept, (score, -docnum))
                elif (score, -docnum) > kept[0]:
                    heapq.heapreplace(kept, (score, -docnum))
        return _best_first(kept)

    def _resolve(self, query: Any, docnums: list[int]) -> dict[int, float | None]:
        """Exact scores (None: no match) of these docnums, phrases checked by position."""
        out: dict[int, float | None] = dict.fromkeys(docnums)
        if not docnums:
            return out
        for segment in self.segments:
            local = {d - segment.offset for d in docnums if segment.offset <= d < segment.offset
                     + segment.doc_count_all}
            if local:
                found = evaluate(segment, query, TOP, local)
                out.update((segment.offset + d, s) for d, s in found.scores.items())
        return out

    def contains(self, query: Any, docnum: int) -> bool:
        """Does the document match ``query`` (as ``query.matcher(searcher)`` would say)?
        Asked again about the same query (hits verified one by one), every match is
        found at once, unless phrases would need their positions for all of them."""
        asked = self._asked.get(id(query))
        if asked is None or asked[0] is not query:
            if len(self._asked) > 64:  # asked outside a search (top() starts afresh)
                self._asked.clear()
            self._asked[id(query)] = (query, None)  # the first time: this document only
        else:
            known = asked[1]
            if known is None:
                known = self._members(query)
                self._asked[id(query)] = (query, known)
            if known is not _PER_DOCUMENT:
                return docnum in known
        for segment in self.segments:
            if segment.offset <= docnum < segment.offset + segment.doc_count_all:
                local = docnum - segment.offset
                return local in evaluate(segment, query, STANDALONE, {local}).scores
        return False

    def _members(self, query: Any) -> frozenset[int]:
        """Every match of ``query``: the same documents in every context, so found without scores."""
        found: set[int] = set()
        for segment in self.segments:
            matches = evaluate(segment, query, BOOLEAN, None)
            if matches.unsure:
                return _PER_DOCUMENT
            found.update(map(segment.offset.__add__, matches.scores))
        return frozenset(found)

    # ---------------------------------------------------------------- postings

    def postings(self, segment: Segment, field: str, btext: bytes) -> Postings:
        """A term's decoded postings (scored only when asked: matching needs its documents alone)."""
        return self.remember((segment.number, field, btext),  # type: ignore[return-value]  # a term's key holds Postings
                             lambda: _decode(segment, field, btext))

    def remember(self, key: tuple[Any, ...], compute: Callable[[], Postings | Found]) -> Postings | Found:
        """A cached decoding (postings, or a range's or prefix's matches), least recently used dropped."""
        found = self.cache.get(key)
        if found is not None:
            self.cache.move_to_end(key)
            return found
        found = self.cache[key] = compute()
        self.cached += len(found)
        while self.cached > CACHE_POSTINGS and len(self.cache) > 1:
            self.cached -= len(self.cache.popitem(last=False)[1])
            self._scorers.clear()  # (a long session asks for many terms: these go with the postings)
            self._btexts.clear()
        return found


def _bound(segment: Segment, query: Any) -> float | None:
    """At least the score of any document of this segment for ``query`` in TOP context
    (None: not known without evaluating it): each term's best possible BM25 from its
    highest weight in the segment and the shortest field length there, summed and
    boosted as the node sums and boosts them."""
    kind = type(query)
    if kind is wq.Term:
        return _term_bound(segment, query.fieldname, query.text) * query.boost
    if kind is wq.Phrase:
        return _summed([_term_bound(segment, query.fieldname, word) for word in query.words]) * query.boost
    if kind is wq.AndNot:
        return _bound(segment, query.a)
    if kind in (wq.And, wq.Or):
        parts = [_bound(segment, q) for q in query.subqueries]
        if None in parts:
            return None
        # one part: the node answers with it, unboosted (see _and, _or)
        return parts[0] if len(parts) == 1 else _summed(parts) * query.boost  # type: ignore[arg-type]
    if kind is wq.Every:
        return query.boost or 1.0
    return 0.0 if query is qcore.NullQuery else None  # ranges and prefixes: as many terms as they expand to


def _summed(bounds: list[float]) -> float:
    """A bound of a sum: scores are summed in another order, which may round up (one term: exact)."""
    return (bounds[0] if len(bounds) == 1 else sum(bounds) * BOUND_SLACK) if bounds else 0.0


def _term_bound(segment: Segment, field: str, text: Any) -> float:
    btext = segment.btext(field, text)
    if btext is None or not segment.doc_frequency(field, btext):
        return 0.0
    scorer = segment.evaluator.scorer(segment, field, btext)
    weight = segment.reader._terms.term_info(field, btext).max_weight()
    if type(scorer) is WeightScorer or weight <= 0:
        return weight
    if type(scorer) is not BM25FScorer:
        return float("inf")
    # scores rise with the weight and fall with the length part: its smallest in the segment bounds them all
    return scorer.idf * ((weight * (scorer.K1 + 1)) / (weight + segment.least_norm(field, scorer)))


def _btext(schema: Any, field: str, text: Any) -> bytes | None:
    if field not in schema:
        return None
    try:
        return schema[field].to_bytes(text)
    except ValueError:
        return None


def _scored(segment: Segment, query: Any) -> Found:
    """``evaluate`` in TOP context, for a query whose parts narrow each other: which documents
    match is found first (sets of docnums, in C), then only those are scored, unless Whoosh's
    estimate says they hold most of the postings anyway (finding them would be extra work, and
    scoring whole posting lists in order costs less per posting)."""
    sizes = _scored_sizes(segment, query)
    estimate = _matches_at_most(segment, query)
    if sum(min(size, estimate) for size in sizes) * 3 >= sum(sizes) * 2:
        return evaluate(segment, query, TOP, None)
    matches = evaluate(segment, query, BOOLEAN, None)
    return evaluate(segment, query, TOP, Within(matches.scores)) if matches.scores else NOTHING


def _matches_at_most(segment: Segment, query: Any) -> int:
    """An upper bound of the query's matches from term frequencies alone (``Segment.size`` is
    Whoosh's estimate, which adds what an AndNot excludes and expands ranges)."""
    kind = type(query)
    if kind is wq.Term:
        return segment.size(query)
    if kind is wq.Phrase:
        return min(_scored_sizes(segment, query), default=0)
    if kind is wq.AndNot:
        return _matches_at_most(segment, query.a)
    if kind is wq.And:
        return min(_matches_at_most(segment, q) for q in query.subqueries)
    if kind is wq.Or:
        return min(sum(_matches_at_most(segment, q) for q in query.subqueries), segment.doc_count)
    return segment.doc_count


def _scored_sizes(segment: Segment, query: Any) -> list[int]:
    """Posting list lengths of the terms that score (phrase words too; not what an AndNot excludes)."""
    kind = type(query)
    if kind is wq.Term:
        return [segment.size(query)]
    if kind is wq.Phrase:
        return [segment.size(wq.Term(query.fieldname, word)) for word in query.words]
    if kind is wq.AndNot:
        return _scored_sizes(segment, query.a)
    if kind in (wq.And, wq.Or):
        return [size for q in query.subqueries for size in _scored_sizes(segment, q)]
    return []


def _narrows(query: Any) -> bool:
    """Does the query intersect or exclude (an AND, a NOT, a phrase), so that fewer documents
    match than its terms hold?  Else every posting is a match and is scored at once."""
    kind = type(query)
    if kind in (wq.And, wq.AndNot, wq.Phrase):
        return True
    return kind in (wq.Or, ConstantScoreQuery) and any(_narrows(q) for q in query.children())


def _best_first(kept: list[tuple[float, int]]) -> list[tuple[int, float]]:
    return [(-negdoc, score) for score, negdoc in sorted(kept, key=lambda item: (-item[0], -item[1]))]


def _beats(worst: tuple[float, int], bound: float, docnum: int) -> bool:
    """Does the worst kept hit rank before any hit with score at most ``bound`` at ``docnum``?"""
    score, negdoc = worst
    return score > bound or (score == bound and -negdoc < docnum)


# ------------------------------------------------------------------ decoding


def _decode(segment: Segment, field: str, btext: bytes) -> Postings:
    """Read a term's postings, to be scored as Whoosh's searcher would score them."""
    searcher = segment.searcher
    fmt = searcher.schema[field].format
    positions = fmt.supports("positions")
    terms = segment.reader._terms  # the codec's terms reader (SegmentReader.postings would skip deletions)
    info = terms.term_info(field, btext)
    if not info.is_inlined() and (type(searcher.weighting) is BM25F
                                  or type(segment.evaluator.scorer(segment, field, btext)) in _SCORERS):
        offset, length = info.extent()
        length = length[0] if isinstance(length, tuple) else length  # W3TermInfo.from_bytes leaves it unpacked
        decoded, weights, blocks = _read_blocks(terms._postfile, offset, length)
        return Postings(decoded, weights, _BlockValues(terms._postfile, blocks) if positions else None, fmt,
                        segment, field, btext)
    # inlined postings, or anything else: Whoosh's own calls, with the scorer of this segment's lengths
    leaf = terms.matcher(field, btext, fmt, scorer=searcher.weighting.scorer(searcher, field, btext))
    ids: list[int] = []
    found: list[float] = []
    values: list[Any] | None = [] if positions else None
    while leaf.is_active():
        ids.append(leaf.id())
        found.append(leaf.score())
        if values is not None:
            values.append(leaf.value())
        leaf.next()
    postings = Postings(ids, found, values, fmt, segment, field, btext)
    postings._rate = None  # scored already
    return postings


_SCORERS = (BM25FScorer, WeightScorer)


# Whoosh pickles a block as (ids, weights, values) with protocol 2, where every
# encoded position list is a call of _codecs.encode: most of the unpickling
# time.  Ids and weights are read alone by ending the pickle before the values.
_VALUES_START = b"(c_codecs\nencode\n"
_PAIR_END = b"\x86."  # TUPLE2, STOP
_HEAD_BYTES = 2048  # ids and weights of a full block take about 1.5 KB
_BLOCK_SIZE = struct.Struct("!i")  # StructFile.write_int
_MAGIC_SIZE = len(WHOOSH3_HEADER_MAGIC)


def _read_blocks(postfile: Any, offset: int, length: int
                 ) -> tuple[list[int], list[float], list[tuple[int, int, int, bool]]]:
    """Ids and weights of every block of a W3 posting list, and where each block's data is.

    The list is read in one piece and walked here: W3LeafMatcher reads each block's length,
    info and data with a seek and a read apiece, in Python.  A block is its length (a 4-byte
    int, negative for the last block), its info pickled (count, last id, max weight,
    compression, min and max length byte) and its data."""
    raw = postfile.get(offset, length)
    if raw[:_MAGIC_SIZE] != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"not a posting list at {offset}")
    ids: list[int] = []
    weights: list[float] = []
    blocks: list[tuple[int, int, int, bool]] = []  # (first index, data offset, length, compressed)
    reader = BytesIO(raw)
    info = Unpickler(reader)
    at = _MAGIC_SIZE
    while True:
        (size,) = _BLOCK_SIZE.unpack_from(raw, at)
        end = at + _BLOCK_SIZE.size + abs(size)
        reader.seek(at + _BLOCK_SIZE.size)
        count, _, _, compression, _, _ = info.load()
        start = reader.tell()
        blocks.append((len(ids), offset + start, end - start, bool(compression)))
        block_ids, block_weights = _ids_and_weights(raw[start:end], compression)
        ids.extend(accumulate(block_ids))  # delta coded per block
        if block_weights is None:
            weights.extend([1.0] * count)
        elif isinstance(block_weights, float):
            weights.extend([block_weights] * count)
        else:
            weights.extend(block_weights)
        if size < 0 or end >= len(raw):
            return ids, weights, blocks
        at = end


def _ids_and_weights(data: bytes, compressed: bool) -> tuple[Any, Any]:
    """The first two items of a block's pickle, decompressing only as far as they go."""
    if not compressed:
        cut = data.find(_VALUES_START)
        return loads(data[:cut] + _PAIR_END) if cut > 0 else loads(data)[:2]
    inflate = zlib.decompressobj()
    head = inflate.decompress(data, _HEAD_BYTES)
    while True:
        cut = head.find(_VALUES_START)
        if cut > 0:
            return loads(head[:cut] + _PAIR_END)
        if inflate.eof or not inflate.unconsumed_tail:
            return loads(head + inflate.flush())[:2]
        head += inflate.decompress(inflate.unconsumed_tail, _HEAD_BYTES)


class _BlockValues:
    """The encoded positions of a W3 posting list, unpickled block by block when a phrase asks."""

    def __init__(self, postfile: Any, blocks: list[tuple[int, int, int, bool]]) -> None:
        self.postfile = postfile
        self.blocks = blocks
        self.starts = [b[0] for b in blocks]
        self.read: dict[int, Any] = {}

    def __getitem__(self, index: int) -> Any:
        number = bisect_right(self.starts, index) - 1
        values = self.read.get(number)
        if values is None:
            _, offset, length, compressed = self.blocks[number]
            data = self.postfile.get(offset, length)
            values = self.read[number] = loads(zlib.decompress(data) if compressed else data)[2]
        return values[index - self.starts[number]]


# ------------------------------------------------------------------ evaluation


def evaluate(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    """The matches of ``query`` in one segment as Whoosh's matcher would give
    them; ``only``: just these local docnums, exactly (phrases checked)."""
    kind = type(query)
    handler = _HANDLERS.get(kind)
    if handler is None:
        if query is qcore.NullQuery:
            return NOTHING
        raise Unsupported(kind.__name__)
    if getattr(query, "boost", 1.0) <= 0 or getattr(query, "score", 1.0) <= 0:
        raise Unsupported("a boost that is not positive")  # every score here is then above zero (see _preloaded)
    return handler(segment, query, context, only)


def _term(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    postings = _term_postings(segment, query.fieldname, query.text)
    if postings is None:
        return NOTHING
    if context.members:  # the weights: their keys are the matches, and no score is computed
        return Found(postings.members() if only is None else dict.fromkeys(postings.members().keys() & only, 1.0))
    scores = postings.scores if only is None else postings.restricted(only)
    if query.boost != 1.0:
        boost = query.boost
        scores = {d: s * boost for d, s in scores.items()}
    return Found(scores)


def _term_postings(segment: Segment, field: str, text: Any) -> Postings | None:
    btext = segment.btext(field, text)
    if btext is None or not segment.doc_frequency(field, btext):
        return None
    return segment.evaluator.postings(segment, field, btext)


def _and(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    subs = query.subqueries
    if len(subs) <= 1:
        return evaluate(segment, subs[0], context, only) if subs else NOTHING
    weighted = [(0 - segment.size(q), evaluate(segment, q, context, only)) for q in subs]
    return _boosted(_weighted_tree(weighted, _meet if context.members else _intersection), query.boost)


def _or(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    subs = query.subqueries
    if len(subs) <= 1:
        return evaluate(segment, subs[0], context, only) if subs else NOTHING
    if query.scale:
        raise Unsupported("Or with a coordination scale")
    if len(subs) < TOO_MANY_CLAUSES and (context.needs_current or len(subs) == 2
                                          or segment.doc_count_all > MANY_DOCS):
        weighted = [(segment.size(q), evaluate(segment, q, context, only)) for q in subs]
        return _boosted(_weighted_tree(weighted, _join if context.members else _union), query.boost)
    parts_context = context if context.scored else context.members_only()
    return _preloaded([evaluate(segment, q, parts_context, only) for q in subs], query.boost, context.scored)


def _and_not(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    kept = evaluate(segment, query.a, context, only)
    excluded = evaluate(segment, query.b, BOOLEAN, only)
    if not excluded.scores or not kept.scores:
        return kept
    out = {d: s for d, s in kept.scores.items() if d not in excluded.scores or d in excluded.unsure}
    unsure = (kept.unsure | excluded.unsure) & out.keys() if kept.unsure or excluded.unsure else frozenset()
    return Found(out, unsure)


def _phrase(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    schema = segment.searcher.schema
    field = query.fieldname
    if field not in schema:
        return NOTHING
    if not schema[field].format or not schema[field].format.supports("positions"):
        raise Unsupported("phrase on a field without positions")  # Whoosh raises its own QueryError
    postings = []
    for word in query.words:
        found = _term_postings(segment, field, word)
        if found is None:
            return NOTHING
        postings.append(found)
    if context.members:
        parts = [Found(p.members() if only is None else dict.fromkeys(p.members().keys() & only, 1.0))
                 for p in postings]
    else:
        parts = [Found(p.scores if only is None else p.restricted(only)) for p in postings]
    joined = _binary_tree(parts, _meet if context.members else _intersection)  # SpanNear2's, in word order
    if len(postings) > 1:
        if only is None or type(only) is Within:
            joined = Found(joined.scores, set(joined.scores))
        else:
            joined = Found({d: s for d, s in joined.scores.items() if _adjacent(postings, d)})
    return _boosted(joined, query.boost)


def _adjacent(postings: list[Postings], docnum: int) -> bool:
    """Do the words stand at consecutive positions somewhere (Whoosh's phrase, slop 1)?"""
    starts = set(postings[0].positions(docnum))
    for shift, later in enumerate(postings[1:], start=1):
        starts &= {p - shift for p in later.positions(docnum)}
        if not starts:
            return False
    return True


def _multi_term(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    if type(query) is wq.Prefix and query.text == "":
        raise Unsupported("empty prefix")  # Whoosh reads the whole lexicon of the field
    return _expansion(segment, query, context, only, _expanded)


def _expansion(segment: Segment, query: Any, context: Context, only: set[int] | None,
               expand: Callable[[Segment, Any, Context], Found]) -> Found:
    """A query that stands for many terms (prefix, range), remembered whole like a term's postings."""
    key = (segment.number, "expanded", repr(query), context.key())
    found: Found = segment.evaluator.remember(key, lambda: expand(segment, query, context))  # type: ignore[assignment]  # an expansion's key holds Found
    if only is None:
        return found
    return Found({d: found.scores[d] for d in only if d in found.scores})


def _expanded(segment: Segment, query: Any, context: Context) -> Found:
    """MultiTerm.matcher: one term alone, else an Or of the terms (unscored when the score is constant)."""
    field = query.field()
    words = [btext for btext in segment.expanded(query) if btext]
    if not words:
        return NOTHING
    if context.members:  # only the union counts (every OR gives the same one): no term lookups again
        found: dict[int, float] = {}
        for word in words:
            found.update(segment.evaluator.postings(segment, field, word).members())
        return Found(found)
    terms = [wq.Term(field, w) for w in words]
    if len(terms) == 1:
        return evaluate(segment, terms[0], context, None)
    inner = Context(False, context.needs_current, context.members) if query.constantscore else context
    return evaluate(segment, wq.Or(terms, boost=query.boost), inner, None)


def _numeric_range(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    return _expansion(segment, query, context, only,
                      lambda seg, q, ctx: evaluate(seg, q._compile_query(seg.reader), ctx, None))


def _constant_score(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    if context.needs_current:
        return evaluate(segment, query.child, context, only)  # Whoosh hands out the child's own matcher
    found = evaluate(segment, query.child, context.members_only(), only)
    return Found(dict.fromkeys(found.scores, query.score or 1.0), found.unsure)


def _every(segment: Segment, query: Any, context: Context, only: set[int] | None) -> Found:
    if query.fieldname not in (None, "", "*"):
        raise Unsupported("Every on one field")
    docs: Iterable[int] = segment.every() if only is None else \
        sorted(d for d in only if d < segment.doc_count_all and d not in segment.deleted)
    return Found(dict.fromkeys(docs, query.boost or 1.0))


_EXPANDING = (wq.Prefix, TermRange)  # MultiTerm queries evaluated here (see _multi_term)

_HANDLERS: dict[type, Callable[[Segment, Any, Context, set[int] | None], Found]] = {
    wq.Term: _term, wq.And: _and, wq.Or: _or, wq.AndNot: _and_not, wq.Phrase: _phrase, wq.Prefix: _multi_term,
    TermRange: _multi_term, NumericRange: _numeric_range, wq.DateRange: _numeric_range,
    ConstantScoreQuery: _constant_score, wq.Every: _every,
}


# ------------------------------------------------------------------ combining


def _union(a: Found, b: Found) -> Found:
    """Whoosh's UnionMatcher: either side, the sum where both match."""
    if not a.scores:
        return b
    if not b.scores:
        return a
    small, big = (a, b) if len(a.scores) <= len(b.scores) else (b, a)
    out = dict(big.scores)
    for d, s in small.scores.items():
        other = out.get(d)
        out[d] = s if other is None else other + s  # float addition commutes exactly
    return Found(out, a.unsure | b.unsure if a.unsure or b.unsure else frozenset())


def _join(a: Found, b: Found) -> Found:
    """``_union`` where only the matches count (members): a copy and an update, in C."""
    if not a.scores or not b.scores:
        return b if not a.scores else a
    small, big = (a, b) if len(a.scores) <= len(b.scores) else (b, a)
    out = dict(big.scores)
    out.update(small.scores)
    return Found(out, a.unsure | b.unsure if a.unsure or b.unsure else frozenset())


def _meet(a: Found, b: Found) -> Found:
    """``_intersection`` where only the matches count (members): a set operation, in C."""
    out = dict.fromkeys(a.scores.keys() & b.scores.keys(), 1.0)
    unsure = (a.unsure | b.unsure) & out.keys() if a.unsure or b.unsure else frozenset()
    return Found(out, unsure)


def _intersection(a: Found, b: Found) -> Found:
    """Whoosh's IntersectionMatcher: both sides, their sum."""
    small, big = (a.scores, b.scores) if len(a.scores) <= len(b.scores) else (b.scores, a.scores)
    out = {d: s + big[d] for d, s in small.items() if d in big}
    unsure = (a.unsure | b.unsure) & out.keys() if a.unsure or b.unsure else frozenset()
    return Found(out, unsure)


def _preloaded(parts: list[Found], boost: float, scored: bool) -> Found:
    """Whoosh's ArrayUnionMatcher: scores summed in the order of the parts; a
    document matches when its sum is above zero, which every sum is (BM25 with
    Whoosh's idf, weights and boosts are all positive)."""
    out: dict[int, float] = {}
    if not scored:
        for part in parts:
            out.update(dict.fromkeys(part.scores, 1.0))
    else:
        # A document in one part scores 0.0 + s * boost, which is s * boost: copied (in C); only
        # documents in several parts are summed, in the order of the parts.
        seen: set[int] = set()
        shared: set[int] = set()
        for part in parts:
            shared.update(part.scores.keys() & seen)
            seen.update(part.scores)
            out.update(part.scores if boost == 1.0 else
                       zip(part.scores, map(boost.__rmul__, part.scores.values()), strict=True))
        for d in shared:
            total = 0.0
            for part in parts:
                s = part.scores.get(d)
                if s is not None:
                    total += s * boost
            out[d] = total
    unsure: set[int] = set()
    for part in parts:
        unsure |= part.unsure
    return Found(out, unsure & out.keys() if unsure else frozenset())


def _boosted(found: Found, boost: float) -> Found:
    if boost == 1.0:
        return found
    return Found({d: s * boost for d, s in found.scores.items()}, found.unsure)


def _weighted_tree(weighted: list[tuple[int, Found]], combine: Callable[[Found, Found], Found]) -> Found:
    """whoosh.util.make_weighted_tree: join the two lightest, put the join back
    after every equal weight (Whoosh's matchers compare as equal, so its sorts
    keep the original order of ties)."""
    items = sorted(weighted, key=lambda item: item[0])
    while len(items) > 1:
        (wa, a), (wb, b) = items[0], items[1]
        del items[:2]
        weight = wa + wb
        items.insert(bisect_right([w for w, _ in items], weight), (weight, combine(a, b)))
    return items[0][1]


def _binary_tree(parts: list[Found], combine: Callable[[Found, Found], Found]) -> Found:
    """whoosh.util.make_binary_tree: halves, in order."""
    if len(parts) == 1:
        return parts[0]
    half = len(parts) // 2
    return combine(_binary_tree(parts[:half], combine), _binary_tree(parts[half:], combine))
