"""Answering queries: ranked hits with highlighted snippets, and list data from stored fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .. import note
from ..errors import FileFormatError
from ..model import Customer, Problem
from ..vault import ScanResult, Vault
from . import store
from .index import _corrupt_errors, open_index, refresh
from .query import compile_query, parse
from .records import customer_of

SNIPPET_CHARS = 120


@dataclass
class Snippet:
    """A piece of the customer's text around the best match; ``spans`` are (start, end) to highlight."""

    text: str = ""
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Hit:
    customer: Customer
    score: float
    rel: str
    snippet: Snippet


def search(vault: Vault, query: str, limit: int = 20, today: date | None = None) -> list[Hit]:
    """Ranked customers matching ``query`` (SPEC "Search"); the index is refreshed first."""
    today = today or date.today()
    compiled = compile_query(parse(query), vault.config, today)  # a bad query fails before any index work
    try:
        hits = _run(vault, compiled.query, limit)
    except _corrupt_errors():
        refresh(vault, rebuild=True)  # a damaged index is rebuilt, never an error
        hits = _run(vault, compiled.query, limit)
    for hit in hits:
        hit.snippet = snippet_of(vault, hit.rel, compiled.needles)
    return hits


def _run(vault: Vault, query: Any, limit: int) -> list[Hit]:
    ix = open_index(vault)
    try:
        with ix.searcher() as searcher:
            results = searcher.search(query, limit=limit if limit > 0 else None)
            return [Hit(customer_of(vault.root, r["path"], r["record"]), float(r.score or 0.0), r["path"], Snippet())
                    for r in results]
    finally:
        ix.close()


def snippet_of(vault: Vault, rel: str, needles: list[str], width: int = SNIPPET_CHARS) -> Snippet:
    """The window of the file's body with the most matches, matches marked."""
    if not needles:
        return Snippet()
    try:
        body = note.parse((vault.root / rel).read_bytes()).body
    except (OSError, FileFormatError):
        return Snippet()
    text = " ".join(body.split())  # one line: snippets are shown in tables and JSON
    folded = text.lower()
    spans = sorted(_find_all(folded, needles))
    if not spans:
        return Snippet()
    start = max(0, _best_start(spans, width) - width // 4)
    end = min(len(text), start + width)
    start = max(0, end - width)
    prefix, suffix = ("…" if start > 0 else ""), ("…" if end < len(text) else "")
    shown = [(s - start + len(prefix), e - start + len(prefix)) for s, e in spans if s >= start and e <= end]
    return Snippet(prefix + text[start:end] + suffix, shown)


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
