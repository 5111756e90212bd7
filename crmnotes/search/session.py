"""An open index per vault, kept for the life of the process, and when it must be refreshed.

Searching used to refresh the index (a ``stat`` of every customer file plus
the manifest) and reopen it before every query; the TUI asks on every
keystroke.  A ``Session`` keeps the Whoosh searcher open and decides
freshness with cheap signals:

* **Every search** stats the config file, the index folder and each folder
  under ``customers/`` (~30 ``stat`` calls at 10,000 customers: files are
  sharded by initial).  A file created, deleted or renamed in a folder moves
  that folder's mtime, and editors that save by writing a temp file and
  renaming it over (vim, most IDEs, ``Vault.update``/``atomic_write``) are
  renames; any such move triggers the full check below before answering.
* **The full check** stats every customer file (``Vault.customer_stats``) and
  compares with the last one; only a difference refreshes the index.  It
  runs on every search while a folder's mtime is less than ``SETTLE_SECONDS``
  old (a second change in the same clock tick would not move it again).
* **The periodic check**, every ``FULL_CHECK_SECONDS``, catches an in-place
  write (an editor that rewrites the file, ``echo >>``), which moves no
  folder.  Where GNU find is installed it runs in the background: find
  fingerprints ``customers/`` while searches go on from the open index, and
  the first search after it finished either finds the fingerprint the index
  was stamped with or does the full check.  Elsewhere it is the full check.
* **A watcher** that runs in the process calls ``invalidate`` with what it
  saw; the next search then does the full check at once.

So the guarantee: a search sees every create, delete, rename and
``crmnotes.yaml`` change made before it started (the settings are read again,
so new choice aliases work in queries and in the rebuilt index), every in-place write
reported by ``invalidate``, and any other in-place write at most
``FULL_CHECK_SECONDS`` (plus the time find takes) after it happened.  A one-shot process (``crm
search``) always does one full check: it has no earlier state.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import VaultConfig
from ..vault import Vault
from . import store

FULL_CHECK_SECONDS = 2.0
SETTLE_SECONDS = 1.0  # mtime granularity of common filesystems (FAT: 2 s, but it is rare under a vault)
RESULT_CACHE = 32  # recent queries answered from memory while nothing changed
MAX_SESSIONS = 8  # open vaults per process; the least recently used one is closed beyond this
_sessions: OrderedDict[str, Session] = OrderedDict()
_sessions_guard = threading.Lock()


def session_of(vault: Vault) -> Session:
    """The process's session for this vault (created on first use)."""
    key = str(vault.root)
    with _sessions_guard:
        found = _sessions.get(key)
        if found is None:
            found = _sessions[key] = Session(vault)
        _sessions.move_to_end(key)
        evicted = _sessions.popitem(last=False)[1] if len(_sessions) > MAX_SESSIONS else None
    if evicted is not None:
        evicted.close()
    return found


def invalidate(vault: Vault) -> None:
    """Tell this process's search that files changed (a watcher's callback): the next search checks every file."""
    with _sessions_guard:
        found = _sessions.get(str(vault.root))
    if found is not None:
        found.invalidate()


def close_all() -> None:
    """Close every open searcher (tests, and a process about to delete a vault)."""
    with _sessions_guard:
        sessions = list(_sessions.values())
        _sessions.clear()
    for item in sessions:
        item.close()


class Session:
    """One vault's open searcher, the state it was checked against, and a small result cache."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.lock = threading.RLock()
        self.index: Any = None
        self.searcher: Any = None
        self.paths: PathColumn | list[str] = []  # docnum -> vault-relative path (the index's path column)
        self.files: dict[str, tuple[int, int]] | None = None
        self.folders: dict[str, int] = {}
        self.config: list[int] | None = None
        self.index_state: tuple[int, int] | None = None
        self.checked_at = float("-inf")  # time.monotonic() of the last full check
        self.settled = False
        self.dirty = True
        self.results: OrderedDict[Any, list[tuple[int, float]]] = OrderedDict()
        self.generation = 0  # bumped whenever the searcher is reopened
        self._evaluator: Any = None  # evaluate.Evaluator of the open searcher: decoded postings
        self.config_file = store.config_state(vault)  # the caller's settings are taken as read from this file
        self.pending: tuple[Any, list[int]] | None = None  # (find still running, settings) of an unchecked open
        self.witness: str | None = None  # a fingerprint that did not vouch: stamped by the walk that follows
        self.background: Any = None  # the periodic check's find, still running (``_check_in_background``)

    def invalidate(self) -> None:
        self.dirty = True

    def forget(self) -> None:
        """Drop remembered answers and decoded postings (the next query does all its work;
        the benchmark's cold figure)."""
        with self.lock:
            self.results.clear()
            if self._evaluator is not None:
                self._evaluator.forget()

    def close(self) -> None:
        with self.lock:
            self._close_searcher()

    # ---------------------------------------------------------------- freshness

    def current_config(self) -> VaultConfig:
        """The vault's settings (choice lists and aliases decide field queries and
        what the index stores), read again once crmnotes.yaml changed; a broken
        file raises its ``ConfigError`` (call with ``lock`` held)."""
        state = store.config_state(self.vault)
        if state != self.config_file:
            self.vault = Vault(self.vault.root)
            self.config_file = state
        return self.vault.config

    def fresh(self) -> Any:
        """The open searcher, after whatever freshness check is due (call with ``lock`` held)."""
        self.current_config()
        config = self.config_file
        self._judge_background()
        due = time.monotonic() - self.checked_at > FULL_CHECK_SECONDS
        if self.dirty or config != self.config or not self._quiet() or (due and not self._check_in_background()):
            self._full_check(config)
        elif self.searcher is None or _index_state(self.vault) != self.index_state:
            self._reopen()
        return self.searcher

    def _check_in_background(self) -> bool:
        """The periodic check, started without waiting: find fingerprints customers/ while searches go on
        (a walk of 100,000 files is most of a second of Python, a stutter every ``FULL_CHECK_SECONDS``
        while typing); a later search judges it (``_judge_background``).  False without GNU find."""
        from ..fsutil import start_fingerprint

        if self.background is None:
            self.background = start_fingerprint(self.vault.customers_dir)
            if self.background is None:
                return False
        self.checked_at = time.monotonic()
        return True

    def _judge_background(self) -> None:
        """A finished background check: the index's stamp vouches for the files, or the next search
        walks them (and stamps this fingerprint when the index holds what it finds)."""
        from ..fsutil import fingerprint_of
        from .index import witnessed_fresh

        if self.background is None or any(find.poll() is None for _, find in self.background):
            return
        witness, self.background = fingerprint_of(self.background), None
        if witness is None or witnessed_fresh(self.vault, witness) is None:
            self.witness, self.dirty = witness, True

    def _quiet(self) -> bool:
        """No sign of change since the last full check (the files known, their folders unmoved)."""
        if self.files is None or not self.settled:
            return False
        for folder, mtime in self.folders.items():
            try:
                if os.stat(folder).st_mtime_ns != mtime:
                    return False
            except OSError:
                return False
        return True

    def _full_check(self, config: list[int]) -> None:
        from .index import refresh

        self.dirty = False  # cleared first: an invalidate() during the check is kept for the next search
        if self.files is None and self.searcher is None and self._open_unchecked(config):
            return  # the caller answers from it, then asks ``confirm``
        witness, self.witness = self.witness, None
        wall = time.time_ns()
        folders: dict[str, int] = {}
        current, _ = self.vault.customer_stats(folders)
        self.checked_at = time.monotonic()
        self.settled = all(wall - mtime > SETTLE_SECONDS * 1e9 for mtime in folders.values())
        self.folders = folders
        settings_changed = config != self.config
        if current != self.files or settings_changed or witness is not None:
            # nothing to do when another process already indexed it; then the fingerprint is stamped
            refresh(self.vault, current=current, witness=witness)
            self.files, self.config = current, config
        # A refresh that changed the index moved its state; one that found nothing to do leaves the
        # open searcher right (the first walk after a fingerprint check usually finds nothing).
        if settings_changed or self.searcher is None or _index_state(self.vault) != self.index_state:
            self._reopen()

    def _open_unchecked(self, config: list[int]) -> bool:
        """A new session (a `crm search` process): open the index while find fingerprints customers/,
        without waiting for it; the query runs meanwhile and ``confirm`` says whether it may stand."""
        from ..fsutil import fingerprint_of, start_fingerprint

        if self.pending is not None or not store.index_present(store.index_dir(self.vault)):
            return False  # (a rebuild while an unchecked answer waits walks instead: one find at a time)
        started = start_fingerprint(self.vault.customers_dir)
        if started is None:
            return False
        try:
            self._reopen()
        except BaseException:
            fingerprint_of(started)  # waited for: no stray process
            raise
        self.pending = (started, config)
        return True

    def confirm(self) -> bool:
        """Does the answer just given stand?  False when it came from an index opened unchecked
        that the customers/ fingerprint does not vouch for: the next ``fresh`` walks every file
        (and stamps the fingerprint with what it finds), and the caller asks again."""
        from ..fsutil import fingerprint_of
        from .index import witnessed_fresh

        if self.pending is None:
            return True
        started, config = self.pending
        self.pending = None
        witness = fingerprint_of(started)
        if witnessed_fresh(self.vault, witness) is not None and _index_state(self.vault) == self.index_state:
            self.config = config  # ``files`` stays unknown: the next search of a long-lived session walks
            return True
        self.witness = witness
        self.dirty = True
        return False

    def _reopen(self) -> None:
        from .index import _corrupt_errors, refresh

        self._close_searcher()
        folder = store.index_dir(self.vault)
        state = _index_state(self.vault)  # before opening: a commit after it makes the next search reopen
        try:
            self._open(folder)
        except _corrupt_errors():  # a commit between reading the TOC and opening its segments: once more
            state = _index_state(self.vault)
            try:
                self._open(folder)
            except _corrupt_errors():
                refresh(self.vault, rebuild=True)
                state = _index_state(self.vault)
                self._open(folder)
        self.paths = PathColumn(self.searcher)
        self.index_state = state
        self.results.clear()
        self.generation += 1

    def _open(self, folder: Path) -> None:
        from whoosh import index as windex

        self.index = windex.open_dir(str(folder))
        self.searcher = self.index.searcher()

    def reopen(self) -> None:
        """Read the index as it is now (call with ``lock`` held): another process's commit (a merge
        swapped in) may have removed a segment file the open searcher had not read yet."""
        self._reopen()

    def rebuild(self) -> None:
        """The index could not be read: rebuild it and reopen (call with ``lock`` held)."""
        from .index import refresh

        self._close_searcher()
        refresh(self.vault, rebuild=True)
        self.files = None
        self.dirty = True
        self.fresh()

    def _close_searcher(self) -> None:
        if self.searcher is not None:
            self.searcher.close()
        if self.index is not None:
            self.index.close()
        self.searcher = self.index = None
        self._evaluator = None
        self.index_state = None
        self.results.clear()

    # ---------------------------------------------------------------- answers

    def ranked(self, query: Any, limit: int) -> list[tuple[int, float]]:
        """(docnum, score) of the best matches (call with ``lock`` held); repeated
        queries on an unchanged index come from memory."""
        return self.remember((repr(query), limit), lambda: self.top(query, limit))

    def top(self, query: Any, limit: int, accept: Callable[[int], bool] | None = None) -> list[tuple[int, float]]:
        """The best ``limit`` (0: all) matches of ``query`` for which ``accept`` holds
        (call with ``lock`` held), from decoded postings (``evaluate``)."""
        from .evaluate import Unsupported

        try:
            return self.evaluator().top(query, limit, accept)
        except Unsupported:
            return self._whoosh_top(query, limit, accept)

    def contains(self, query: Any, docnum: int) -> bool:
        """Does document ``docnum`` match ``query``?"""
        from .evaluate import Unsupported

        try:
            return self.evaluator().contains(query, docnum)
        except Unsupported:
            matcher = query.matcher(self.searcher)
            if matcher.is_active() and matcher.id() < docnum:
                matcher.skip_to(docnum)
            return bool(matcher.is_active() and matcher.id() == docnum)

    def evaluator(self) -> Any:
        if self._evaluator is None:
            from .evaluate import Evaluator

            self._evaluator = Evaluator(self.searcher)
        return self._evaluator

    def _whoosh_top(self, query: Any, limit: int, accept: Callable[[int], bool] | None) -> list[tuple[int, float]]:
        """Whoosh's own search, for a query ``evaluate`` does not reproduce: with
        ``accept``, a few more than ``limit`` are asked for, and more if too few hold."""
        kept: list[tuple[int, float]] = []
        fetch, seen = (limit * 2 + 10 if limit > 0 and accept is not None else limit), 0
        while True:
            # optimize=False: Whoosh's block-quality skipping costs more than it saves on these posting lists
            results = self.searcher.search(query, limit=fetch if fetch > 0 else None, optimize=False)
            found = [(results.docnum(i), float(results.score(i) or 0.0)) for i in range(results.scored_length())]
            for docnum, score in found[seen:]:
                if accept is None or accept(docnum):
                    kept.append((docnum, score))
                    if 0 < limit <= len(kept):
                        return kept
            seen = len(found)
            if fetch <= 0 or len(found) < fetch:
                return kept  # every hit of the index was looked at
            fetch *= 4

    def remember(self, key: Any, compute: Callable[[], list[tuple[int, float]]]) -> list[tuple[int, float]]:
        """A derived answer (e.g. verified hits) kept like ``ranked``'s until the searcher changes."""
        found = self.results.get(key)
        if found is None:
            found = self.results[key] = compute()
        self.results.move_to_end(key)
        if len(self.results) > RESULT_CACHE:
            self.results.popitem(last=False)
        return found

    def record(self, docnum: int, generation: int) -> dict[str, Any] | None:
        """The stored record of a hit, if the searcher that found it is still the open one."""
        with self.lock:
            if generation != self.generation or self.searcher is None:
                return None
            return self.searcher.stored_fields(docnum).get("record")


def _index_state(vault: Vault) -> tuple[int, int] | None:
    """The index folder's inode and mtime: a commit adds files to it, a rebuild swaps it."""
    try:
        stat = os.stat(store.index_dir(vault))
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


class PathColumn:
    """docnum -> vault-relative path, read from the index's path column per
    document asked for: a search shows a few hits, and reading all 10,000
    paths up front cost more than answering the query."""

    def __init__(self, searcher: Any) -> None:
        reader = searcher.reader()
        self._column = reader.column_reader("path") if reader.has_column("path") else None
        self._reader = reader
        self._known: dict[int, str] = {}

    def __getitem__(self, docnum: int) -> str:
        found = self._known.get(docnum)
        if found is None:
            if not 0 <= docnum < self._reader.doc_count_all():
                raise IndexError(docnum)
            if self._column is not None:
                found = self._column[docnum]
                if not str(found).endswith(".md") and not self._reader.is_deleted(docnum):
                    # a truncated or overwritten column file reads as defaults, not as an error
                    raise ValueError(f"the index's path column is damaged at document {docnum}")
            else:
                fields = self._reader.stored_fields(docnum) if not self._reader.is_deleted(docnum) else None
                found = fields.get("path", "") if fields else ""
            self._known[docnum] = found
        return found
