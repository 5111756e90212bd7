"""What ``crm check`` found in each customer file, remembered between runs.

One SQLite file in .crmnotes/ (the standard library's ``sqlite3``: transactions, so a crash
leaves the last committed state; a file that cannot be read as a database is deleted and
rebuilt).  A row per customer file, keyed by its vault-relative path and valid while the
file's (size, mtime_ns) are unchanged: the problems found in it and its ID, so the
cross-file part (duplicate IDs) is recomputed from the rows without reading any file.

What a file's problems depend on besides its bytes is the *state* of the cache: the
config file's (size, mtime_ns), today's date (a PRC ID number counts only once its birth
date has passed) and the crmnotes version.  Which checks a config edit affects cannot be
told cheaply (channels, stages, field rules all come from it), so any change of the state
drops every row and the next check re-validates everything.

With nothing changed since the last check, not even the rows are read: the last answer is
kept whole beside them, with a digest of every file's (path, size, mtime) it was found for
(``vault.files_digest``), and handed back while the digest is the same.  It is kept only
when no file was too recently modified to be cached (see ``save``).

Never pickle: problems are stored as JSON text.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from . import __version__
from .model import Problem

FILE_NAME = "check.sqlite3"
SCHEMA = 1
RACY_NS = 2_000_000_000  # a file modified this recently may change again within the same mtime tick

# (size, mtime_ns)
Stat = tuple[int, int]


class CheckCache:
    """Rows of (path -> stat, ID, problems) for one vault; see the module docstring."""

    def __init__(self, cache_dir: Path, state: list[int]) -> None:
        self.path = cache_dir / FILE_NAME
        self.state = json.dumps([SCHEMA, __version__, date.today().isoformat(), *state])
        self.started_ns = time.time_ns()
        self.db = self._open(cache_dir)

    def _open(self, cache_dir: Path) -> sqlite3.Connection | None:
        """The database, created or rebuilt as needed; None when the folder cannot be written
        (the check then runs without remembering anything)."""
        for _attempt in range(2):
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
                db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                db.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
                           "mtime_ns INTEGER NOT NULL, id TEXT, problems TEXT NOT NULL)")
                stored = db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()
                if stored is None or stored[0] != self.state:
                    with db:
                        db.execute("BEGIN IMMEDIATE")
                        db.execute("DELETE FROM files")
                        db.execute("DELETE FROM meta WHERE key = 'answer'")
                        db.execute("INSERT OR REPLACE INTO meta VALUES ('state', ?)", (self.state,))
                return db
            except sqlite3.DatabaseError:  # not a database, or damaged: start again from nothing
                try:
                    self.path.unlink(missing_ok=True)
                except OSError:
                    return None
            except OSError:
                return None
        return None

    def rows(self) -> dict[str, tuple[Stat, str | None, str]]:
        """path -> ((size, mtime_ns), ID, problems as JSON)."""
        if self.db is None:
            return {}
        try:
            return {path: ((size, mtime), id_, problems)
                    for path, size, mtime, id_, problems in self.db.execute("SELECT * FROM files")}
        except sqlite3.DatabaseError:
            return {}

    def answer(self, digest: str) -> str | None:
        """The problems (as JSON) of the last check, when it was made over files of this ``digest``."""
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'answer'").fetchone()
            if row is None:
                return None
            stored, problems = json.loads(row[0])
        except (sqlite3.DatabaseError, ValueError, TypeError):
            return None
        return problems if stored == digest and isinstance(problems, str) else None

    def save(self, changed: list[tuple[str, Stat, str | None, list[Problem]]], gone: Iterable[str],
             root: Path, answer: tuple[str, list[Problem]] | None = None) -> None:
        """Store what was checked and forget files that are gone; with ``answer`` (the digest of
        every file and the problems found in them), that too.  A file modified in the last moments
        is not stored, nor then the answer: an edit within the same mtime tick would go unseen."""
        if self.db is None:
            return
        fresh = [(path, stat[0], stat[1], id_, dump(problems, root)) for path, stat, id_, problems in changed
                 if stat[1] < self.started_ns - RACY_NS]
        whole = json.dumps([answer[0], dump(answer[1], root)]) if answer and len(fresh) == len(changed) else None
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in gone])
                self.db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", fresh)
                if whole is None:
                    self.db.execute("DELETE FROM meta WHERE key = 'answer'")
                else:
                    self.db.execute("INSERT OR REPLACE INTO meta VALUES ('answer', ?)", (whole,))
        except sqlite3.Error:
            pass  # another check holds the lock for longer than the timeout: the results stand, uncached

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def dump(problems: list[Problem], root: Path) -> str:
    prefix = str(root) + os.sep
    return json.dumps([[_stored_path(p.path, prefix), p.line, p.message, p.severity, p.code] for p in problems],
                      ensure_ascii=False)


def load(text: str, root: Path) -> list[Problem]:
    if text == "[]":  # most files: no JSON to decode
        return []
    return [Problem(None if path is None else root / path, line, message, severity, code)
            for path, line, message, severity, code in json.loads(text)]


def _stored_path(path: Path | None, prefix: str) -> str | None:
    if path is None:
        return None
    text = str(path)
    return text[len(prefix):] if text.startswith(prefix) else text  # root / an absolute path is that path
