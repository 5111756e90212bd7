"""Answering queries: ranked hits with highlighted snippets, and list data from stored fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .. import note
from ..errors import FileFormatError
from ..model import Customer, Problem
from ..vault import ScanResult, Vault
from . import store
from . import text as textmod
from .index import _corrupt_errors, refresh
from .query import TEXT_FIELDS, AllOf, AnyOf, Check, Compiled, Substring, compile_query, parse
from .records import customer_of
from .session import Session, session_of

SNIPPET_CHARS = 120


@dataclass
class Snippet:
    """A piece of the customer's text around the best match; ``spans`` are (start, end) to highlight."""

    text: str = ""
    spans: list[tuple[int, int]] = field(default_factory=list)


class Hit:
    """One ranked customer.  ``customer`` (from the index's stored record) and
    ``snippet`` (from the file) are built on first use: the TUI asks for every
    match and reads only ``rel`` and ``score``."""

    def __init__(self, vault: Vault, rel: str, score: float, needles: list[str] | None = None,
                 source: tuple[Session, int, int] | None = None) -> None:
        self.vault = vault
        self.rel = rel
        self.score = score
        self.needles = needles or []
        self._source = source  # (session, docnum, searcher generation) to read the stored record from
        self._customer: Customer | None = None
        self._snippet: Snippet | None = None

    @property
    def customer(self) -> Customer:
        if self._customer is None:
            self._customer = self._load_customer()
        return self._customer

    @customer.setter
    def customer(self, value: Customer) -> None:
        self._customer = value

    @property
    def snippet(self) -> Snippet:
        if self._snippet is None:
            self._snippet = snippet_of(self.vault, self.rel, self.needles)
        return self._snippet

    @snippet.setter
    def snippet(self, value: Snippet) -> None:
        self._snippet = value

    def _load_customer(self) -> Customer:
        record = None
        if self._source is not None:
            session, docnum, generation = self._source
            try:
                record = session.record(docnum, generation)
            except _corrupt_errors():
                record = None
        if record is not None:
            return customer_of(self.vault.root, self.rel, record)
        path = self.vault.root / self.rel  # the index moved on since the search: the file is the truth
        try:
            return self.vault.read(path)
        except (FileFormatError, OSError):
            return Customer(path=path, meta={}, followups=[], body="")

    def __repr__(self) -> str:
        return f"Hit({self.rel!r}, {self.score:.3f})"


def search(vault: Vault, query: str, limit: int = 20, today: date | None = None) -> list[Hit]:
    """Ranked customers matching ``query`` (SPEC "Search") from the process's
    open index, refreshed when the files changed (see ``session``)."""
    today = today or date.today()
    tree = parse(query)  # a bad query fails before any index work
    session = session_of(vault)
    with session.lock:
        compiled = compile_query(tree, session.current_config(), today)  # the settings as the file has them now
        found = _answer(session, compiled, limit)
        if not session.confirm():  # answered from an index opened before its freshness was known
            found = _answer(session, compiled, limit)
        paths, generation = session.paths, session.generation
    return [Hit(vault, paths[docnum], score, compiled.needles, (session, docnum, generation))
            for docnum, score in found]


def _answer(session: Session, compiled: Compiled, limit: int) -> list[tuple[int, float]]:
    """``_ranked`` from the fresh index; a damaged or moved index is read again or rebuilt, never an error."""
    try:
        session.fresh()
        return _ranked(session, compiled, limit)
    except _corrupt_errors():
        try:
            session.reopen()  # the index moved on under the open searcher (a merge swapped in)
            return _ranked(session, compiled, limit)
        except _corrupt_errors():
            session.rebuild()
            return _ranked(session, compiled, limit)


def _ranked(session: Session, compiled: Compiled, limit: int) -> list[tuple[int, float]]:
    """The best ``limit`` (0: all) hits that really match: when the query has
    loose parts (a Chinese word as an AND of its bigrams), hits are verified
    best first and a false one is skipped, until ``limit`` hold."""
    check = compiled.check
    if check is None:
        return session.ranked(compiled.query, limit)
    verifier = Verifier(session, check)
    return session.remember(("verified", repr(compiled.query), limit),
                            lambda: session.top(compiled.query, limit, verifier.ok))


class Verifier:
    """Decides ``Check`` for one hit: Chinese substrings against the file's text
    (or the stored front-matter field), the exact parts with the index."""

    def __init__(self, session: Session, check: Check) -> None:
        self.session = session
        self.check = check
        self.docnum = -1
        self.data: bytes | None = None
        self.text: str | None = None

    def ok(self, docnum: int) -> bool:
        self.docnum, self.data, self.text = docnum, None, None
        return self.holds(self.check)

    def holds(self, check: Check) -> bool:
        if isinstance(check, AllOf):  # substrings first: cheap, and what decides a false hit
            return all(self.holds(c) for c in sorted(check.children, key=_cost))
        if isinstance(check, AnyOf):
            return any(self.holds(c) for c in sorted(check.children, key=_cost))
        if isinstance(check, Substring):
            # the text is there: the index holds its bigrams (text fields) or the field has it; a file
            # holding it only outside the text fields (e.g. industry) counts too, as for grep
            return self.contains(check)
        if check.implied:
            return True
        return self.index_matches(check.query) != check.negate

    def contains(self, check: Substring) -> bool:
        if check.fields != TEXT_FIELDS:  # name: / contact: - the stored front-matter value
            record = self.session.record(self.docnum, self.session.generation) or {}
            meta = record.get("meta") or {}
            return any(check.text in textmod.normalize(str(meta.get(f) or "")) for f in check.fields)
        if self.data is None:
            try:
                self.data = (self.vault_root() / self.session.paths[self.docnum]).read_bytes()
            except (OSError, IndexError):
                self.data = b""  # gone since it was indexed: it cannot be shown as holding the word
        if check.text.encode("utf-8") in self.data:  # the common case, at C speed
            return True
        if self.text is None:  # the file may spell it in another width or form (NFKC), or hold it as a label
            self.text = textmod.normalize(self.data.decode("utf-8", errors="replace")) + "\n" + self.labels()
        return check.text in self.text

    def labels(self) -> str:
        """The choice labels the index holds for the hit (互联网 for ``industry: internet``)."""
        from .records import labels_text

        record = self.session.record(self.docnum, self.session.generation) or {}
        return textmod.normalize(labels_text(self.session.vault.config, record.get("meta") or {}))

    def vault_root(self) -> Path:
        return self.session.vault.root

    def index_matches(self, query: Any) -> bool:
        return self.session.contains(query, self.docnum)


def _cost(check: Check) -> int:
    if isinstance(check, Substring):
        return 0
    return 1 if isinstance(check, (AllOf, AnyOf)) or check.implied else 2


def snippet_of(vault: Vault, rel: str, needles: list[str], width: int = SNIPPET_CHARS) -> Snippet:
    """The window of the file's body with the most matches, matches marked."""
    if not needles:
        return Snippet()
    try:
        body = body_of((vault.root / rel).read_bytes())
    except (OSError, FileFormatError):
        return Snippet()
    found = [(spans, text) for text in _paragraphs(body) if (spans := sorted(_find_all(text.lower(), needles)))]
    if not found:
        return Snippet()
    spans, text = max(found, key=lambda pair: len(pair[0]))  # the first paragraph with the most matches
    start = max(0, _best_start(spans, width) - width // 4)
    end = min(len(text), start + width)
    start = max(0, end - width)
    prefix, suffix = ("…" if start > 0 else ""), ("…" if end < len(text) else "")
    shown = [(s - start + len(prefix), e - start + len(prefix)) for s, e in spans if s >= start and e <= end]
    return Snippet(prefix + text[start:end] + suffix, shown)


_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]|$)")


def _paragraphs(body: str) -> list[str]:
    """The body's prose, each paragraph on one line (snippets are shown in tables and JSON); headings,
    the section titles and entry date/channel/author lines, are no text a user searched for."""
    paragraphs: list[str] = []
    lines: list[str] = []
    for line in [*body.splitlines(), ""]:
        if line.strip() and not _HEADING.match(line):
            lines.append(line)
        elif lines:
            paragraphs.append(" ".join(" ".join(lines).split()))
            lines = []
    return paragraphs
_FENCE_OPEN = re.compile(r"---[ \t]*\r?\n")  # the same fences as note.parse
_FENCE_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.M)


def body_of(data: bytes) -> str:
    """``note.parse(data).body`` without loading the YAML or scanning entries (snippets need only the text)."""
    text, _ = note.decode(data)
    opening = _FENCE_OPEN.match(text)
    closing = _FENCE_CLOSE.search(text, opening.end()) if opening else None
    if opening is None or closing is None:
        return note.parse(text).body  # raises the file's FileFormatError
    start = closing.end()
    start += 2 if text.startswith("\r\n", start) else 1 if text.startswith("\n", start) else 0
    return text[start:]


def _find_all(folded: str, needles: list[str]) -> list[tuple[int, int]]:
    taken = [False] * len(folded)
    spans = []
    for needle in needles:  # longest first, so a phrase wins over its words
        needle = needle.lower()
        at = folded.find(needle)
        while at >= 0 and needle:
            if not any(taken[at : at + len(needle)]):
                spans.append((at, at + len(needle)))
                for i in range(at, at + len(needle)):
                    taken[i] = True
            at = folded.find(needle, at + len(needle))
    return spans


def _best_start(spans: list[tuple[int, int]], width: int) -> int:
    best, best_count = spans[0][0], 0
    for i, (start, _) in enumerate(spans):
        count = sum(1 for s, e in spans[i:] if e <= start + width)
        if count > best_count:
            best, best_count = start, count
    return best


# ------------------------------------------------------------------ list data


def load_customers(vault: Vault) -> ScanResult:
    """Every customer as stored in the (refreshed) index, and the files that
    could not be read: the same ``ScanResult`` as ``Vault.scan`` without
    opening a customer file when nothing changed."""
    refresh(vault)
    try:
        result = _stored_customers(vault)
    except _corrupt_errors():
        refresh(vault, rebuild=True)
        result = _stored_customers(vault)
    return result


def _stored_customers(vault: Vault) -> ScanResult:
    from whoosh import index as windex

    folder = store.index_dir(vault)
    manifest = store.load_manifest(folder)
    result = ScanResult()
    ix = windex.open_dir(str(folder))
    try:
        with ix.searcher() as searcher:
            for stored in searcher.reader().all_stored_fields():
                result.customers.append(customer_of(vault.root, stored["path"], stored["record"]))
    finally:
        ix.close()
    result.customers.sort(key=lambda c: c.path)  # the order Vault.scan gives
    if manifest is not None:
        result.problems = [Problem(vault.root / rel, None, entry.error, code="unreadable")
                           for rel, entry in sorted(manifest.files.items()) if entry.error]
    _, unsafe = store.current_files(vault)
    result.problems = unsafe + result.problems
    return result
