"""The Whoosh schema and the analyzer of Chinese + English text.

Whoosh release: **whoosh-reloaded 2.7.5**, pinned exactly in pyproject:
``evaluate`` and ``pool`` read private Whoosh structures.  Measured alternatives: Whoosh 2.7.4 warns on import under
Python 3.11; whoosh-reloaded imports cleanly and keeps the classic API and
on-disk format, so an index stays readable by any classic 2.7 reader and we
are never locked in (its repository is archived, but the code is small, pure
Python and stable, and the index is a rebuildable cache).  ``whoosh3`` is
slightly faster to build but is published by an automated maintainer at a pace
of 100 releases in two months; ``whoosh-ng`` builds faster still but writes
an index the others cannot read and auto-loads plugins.  Trust and an
exit path weigh more than that margin; the build is made fast by indexing in
worker processes instead (see ``index.rebuild``).

Text fields use ``CjkTokenizer``: Latin words are lowercased and stemmed
(renewal ~ renewing), CJK runs become overlapping bigrams *with positions*,
so a phrase of bigrams finds any Chinese substring.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from whoosh.analysis import Token, Tokenizer
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.formats import Positions
from whoosh.lang.porter import stem

from . import text as textmod


class CjkTokenizer(Tokenizer):
    """Words for Latin text, overlapping bigrams for CJK runs.

    At index time a CJK run also yields its last character alone (at the
    position of the last bigram), so that a one-character query (王) is
    found by a prefix search wherever it sits.
    With ``mode="query"`` that extra token is left out, so a run's bigrams
    stay consecutive in a phrase query.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CjkTokenizer)

    def __hash__(self) -> int:
        return hash(CjkTokenizer)

    def __call__(self, value: str, positions: bool = False, chars: bool = False, keeporiginal: bool = False,
                 removestops: bool = True, start_pos: int = 0, start_char: int = 0, tokenize: bool = True,
                 mode: str = "", **kwargs: Any) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for is_cjk, run, start, end in textmod.runs(value):
            pieces: list[tuple[str, int, int]]
            if not is_cjk:
                pieces = [(_latin_term(run), start, end)]
            else:
                pieces = [(g, start + i, start + i + len(g)) for i, g in enumerate(textmod.bigrams(run))]
            for index, (piece, s, e) in enumerate(pieces):
                token.text = piece
                token.boost = 1.0
                token.stopped = False
                if keeporiginal:
                    token.original = piece
                if positions:
                    token.pos = pos
                if chars:
                    token.startchar = start_char + s
                    token.endchar = start_char + e
                pos += 1
                yield token
                if is_cjk and len(run) > 1 and index == len(pieces) - 1 and mode != "query":
                    # the run's last character, at the same position as the last bigram,
                    # so it never breaks the adjacency of the tokens around it
                    token.text = run[-1]
                    if positions:
                        token.pos = pos - 1
                    if chars:
                        token.startchar = start_char + end - 1
                        token.endchar = start_char + end
                    yield token


class BigramText(TEXT):
    """A ``TEXT`` field of ``CjkTokenizer`` text that indexes without Token objects.

    Whoosh's path (``Positions.word_values`` over the tokenizer's generator,
    one mutable Token per token, two generator layers) was a third of a
    rebuild's CPU.  ``index`` yields the same (term bytes, frequency, weight,
    positions value) items from ``term_positions``; ``CjkTokenizer`` stays the
    analyzer, for queries and for anything else that tokenizes.
    """

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if not isinstance(value, str) or kwargs.get("mode", "index") != "index":
            yield from super().index(value, **kwargs)
            return
        boost = self.format.field_boost
        encode = _encode_positions
        for term, poslist in term_positions(value).items():
            count = len(poslist)
            yield term.encode("utf-8"), count, float(count) * boost, encode(poslist)


def term_positions(value: str) -> dict[str, list[int]]:
    """Every index-mode token of ``CjkTokenizer`` with its positions, in token order."""
    found: dict[str, list[int]] = {}
    add = found.setdefault
    pos = 0
    for run, word in textmod.runs_pattern().findall(value):  # (CJK run, other word): one of them is ""
        if word:
            add(_latin_term(word), []).append(pos)
            pos += 1
        elif len(run) == 1:
            add(run, []).append(pos)
            pos += 1
        else:
            for i in range(len(run) - 1):
                add(run[i : i + 2], []).append(pos)
                pos += 1
            add(run[-1], []).append(pos - 1)  # the run's last character, at its last bigram's position
    return found


_single: dict[int, bytes] = {}


def _encode_positions(poslist: list[int]) -> bytes:
    """``Positions.encode``; a single position (half of all postings) is remembered, one bytes object each."""
    if len(poslist) != 1:
        return _POSITIONS.encode(poslist)
    value = _single.get(poslist[0])
    if value is None:
        value = _single[poslist[0]] = _POSITIONS.encode(poslist)
    return value


_POSITIONS = Positions()


def _remember_missing_columns() -> None:
    """Whoosh's per-document reader looks a field's length column up again
    (a ``stat`` of the segment file) for every posting of a field that has
    none (ID and KEYWORD fields), and reads a length through two layers of
    file access per posting: a large share of a commit.  A segment's files
    never change, so a missing column is remembered like a found one, and a
    length column (one byte per document) is read once into a list."""
    from whoosh.codec import whoosh3

    reader_class = whoosh3.W3PerDocReader
    original = reader_class._cached_reader
    if getattr(original, "remembers_missing", False):
        return

    def cached_reader(self: Any, fieldname: str, column: Any) -> Any:
        if fieldname not in self._readers:
            reader = original(self, fieldname, column)
            if reader is not None and column is whoosh3.LENGTHS_COLUMN:
                reader = list(reader)  # one byte a document: indexing a list beats a file read per posting
            self._readers[fieldname] = reader
        return self._readers[fieldname]

    cached_reader.remembers_missing = True  # type: ignore[attr-defined]  # a mark on the function: patched once per process
    reader_class._cached_reader = cached_reader


_remember_missing_columns()


@lru_cache(maxsize=50000)
def _latin_term(word: str) -> str:
    """Normalized, lowercased and Porter-stemmed (renewal ~ renewing): what
    ``LowercaseFilter | StemFilter`` did, once per distinct word instead of two
    filter stages on every token (CJK bigrams included) of every document."""
    return stem(textmod.normalize(word).lower())


def text_analyzer() -> Any:
    return CjkTokenizer()


def build_schema() -> Schema:
    analyzer = text_analyzer()
    return Schema(  # change INDEX_VERSION in store.py with any change here
        path=ID(stored=True, unique=True, sortable=True),  # a column: hit -> path without the record
        id=ID(stored=True),
        name=BigramText(analyzer=analyzer, field_boost=4.0),
        contact=BigramText(analyzer=analyzer, field_boost=2.0),
        body=BigramText(analyzer=analyzer),
        labels=BigramText(analyzer=analyzer, field_boost=0.5),  # tags and choice labels: below name and notes
        pinyin=KEYWORD(),
        phone=KEYWORD(),
        industry=ID(),
        source=ID(),
        stage=ID(),
        grade=ID(),
        owner=ID(),
        tags=KEYWORD(commas=True),
        channel=KEYWORD(),
        created=DATETIME(),
        last=DATETIME(),
        activity=DATETIME(),  # last contact, else created: what "silent" is computed from
        next=DATETIME(),
        record=STORED(),
    )
