"""Which files the index holds and in which state: the manifest (no Whoosh here).

The manifest sits inside the index folder (so a rebuild swaps both at once)
and records, per customer file, size, mtime and content hash, or why the
file could not be read.  Comparing it with a ``stat`` of every file tells
what changed without opening the index.  ``crm index`` with nothing to do
does not even read the manifest: a *stamp* beside it holds a digest of every
file's (path, size, mtime) it was last found equal to, valid while the
manifest file is the same one (inode, size, mtime); so the answer costs one
folder walk, a digest and a tiny JSON read.

An update of a few files (a watcher's) does not rewrite the whole manifest:
it appends one JSON line of the entries it changed to a *journal* beside it,
whose first line names the manifest file it extends (inode, size, mtime), so
a journal left over from an older manifest is never applied.  Once the
journal outgrows a quarter of the manifest, the next update rewrites the
manifest and drops the journal.  A line cut short by a crash ends the
journal: what it missed only reads as changed files, indexed again.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fsutil import TEMP_PREFIX, atomic_write
from ..model import Problem
from ..vault import CUSTOMERS_DIR, MAX_FOLDER_DEPTH, Vault, files_digest, is_valid_name
from .records import FileState

INDEX_VERSION = 9  # schema + analysis + record layout; a different number means rebuild
INDEX_DIR = "index"
MANIFEST = "manifest.json"
JOURNAL = "manifest.journal"
JOURNAL_MIN_BYTES = 65536  # a journal this short is always appended to (a small vault's manifest is smaller)
STAMP = "unchanged.json"
Identity = tuple[int, ...]  # the manifest's inode, size, mtime and the journal's size, mtime


@dataclass
class Entry:
    state: FileState
    error: str = ""  # set when the file could not be read; it is not in the index then


@dataclass
class Manifest:
    config_state: list[int]
    files: dict[str, Entry] = field(default_factory=dict)

    def states(self) -> dict[str, tuple[int, int]]:
        """(size, mtime_ns) of every file, as ``current_files`` gives them."""
        return {rel: (entry.state.size, entry.state.mtime_ns) for rel, entry in self.files.items()}

    def to_json(self) -> dict[str, Any]:
        return {"version": INDEX_VERSION, "config": self.config_state,
                "files": {rel: _entry_json(e) for rel, e in sorted(self.files.items())}}


def _entry_json(entry: Entry) -> list[Any]:
    return [*entry.state.to_json(), entry.error]


def _entry_of(value: list[Any]) -> Entry:
    return Entry(FileState(int(value[0]), int(value[1]), str(value[2])), str(value[3]))


@dataclass
class Plan:
    """What an incremental update has to do."""

    added: list[str] = field(default_factory=list)
    suspect: list[str] = field(default_factory=list)  # size or mtime differ: read and hash to know
    removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.suspect or self.removed)


def index_dir(vault: Vault) -> Path:
    return vault.cache_dir / INDEX_DIR


def config_state(vault: Vault) -> list[int]:
    """Choice lists decide the canonical ids stored in the index, so a config change means rebuild."""
    return vault.config_state()


# A long-running process (crm watch, the TUI) re-reads the manifest on every change: 10,000
# entries are ~0.1 s of JSON.  The last one this process read or wrote is kept, keyed by the
# file's identity, and handed out as a copy (callers replace entries, never mutate them).
_cache: dict[str, tuple[Identity, Manifest]] = {}
_cache_guard = threading.Lock()


def manifest_identity(folder: Path) -> Identity | None:
    """The manifest file's (inode, size, mtime) and its journal's (size, mtime; zeros without one)."""
    try:
        stat = (folder / MANIFEST).stat()
    except OSError:
        return None
    try:
        journal = (folder / JOURNAL).stat()
    except OSError:
        return stat.st_ino, stat.st_size, stat.st_mtime_ns, 0, 0
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, journal.st_size, journal.st_mtime_ns


def _remember(folder: Path, identity: Identity | None, manifest: Manifest) -> None:
    with _cache_guard:
        _cache.clear()  # one vault's manifest at a time is all a process needs
        if identity is not None:
            _cache[str(folder)] = (identity, _copy(manifest))


def _copy(manifest: Manifest) -> Manifest:
    return Manifest(list(manifest.config_state), dict(manifest.files))


def load_manifest(folder: Path) -> Manifest | None:
    """The manifest, or None when it is missing, unreadable or of another version."""
    return read_manifest(folder)[0]


def read_manifest(folder: Path) -> tuple[Manifest | None, Identity | None]:
    """The manifest and the identity of the file it was read from (None: not known to be that one)."""
    path = folder / MANIFEST
    identity = manifest_identity(folder)
    with _cache_guard:
        cached = _cache.get(str(folder))
    if cached is not None and identity is not None and cached[0] == identity:
        return _copy(cached[1]), identity
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != INDEX_VERSION:
            return None, None
        files = {rel: _entry_of(v) for rel, v in data["files"].items()}
        manifest = Manifest([int(x) for x in data["config"]], files)
        if identity is not None and identity[3]:
            _replay(folder / JOURNAL, identity, files)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None, None
    if identity is not None and identity == manifest_identity(folder):  # not replaced nor appended to while we read it
        _remember(folder, identity, manifest)
        return manifest, identity
    return manifest, None


def _replay(journal: Path, identity: Identity, files: dict[str, Entry]) -> None:
    """Apply the journal's lines to the entries of the manifest file it was written over."""
    try:
        lines = journal.read_bytes().split(b"\n")
    except OSError:
        return  # removed since: the manifest it belonged to was replaced
    try:
        if json.loads(lines[0]) != list(identity[:3]):
            return  # left over from an older manifest file
    except ValueError:
        return
    for line in lines[1:]:
        try:
            changes = json.loads(line)
        except ValueError:
            return  # the end, or a line a crash cut short (and nothing after it counts)
        for rel, value in changes.items():
            if value is None:
                files.pop(rel, None)
            else:
                files[rel] = _entry_of(value)


def save_manifest(folder: Path, manifest: Manifest, changed: Iterable[str] | None = None) -> None:
    """Write the manifest: the entries of ``changed`` (paths an update touched) as one line of the
    journal while it is short, else the whole file anew (the journal removed)."""
    if changed is None or not _append(folder, manifest, changed):
        atomic_write(folder / MANIFEST, json.dumps(manifest.to_json(), ensure_ascii=False).encode("utf-8"))
        try:
            (folder / JOURNAL).unlink(missing_ok=True)  # belongs to the replaced file: never applied again
        except OSError:
            pass
    _remember(folder, manifest_identity(folder), manifest)


def _append(folder: Path, manifest: Manifest, changed: Iterable[str]) -> bool:
    """One journal line of ``changed``; False when the whole manifest should be written instead (no
    manifest file yet, a journal grown past a quarter of it or ending in a cut line, an error)."""
    identity = manifest_identity(folder)
    if identity is None or identity[3] > max(JOURNAL_MIN_BYTES, identity[1] // 4):
        return False
    line = json.dumps({rel: _entry_json(entry) if (entry := manifest.files.get(rel)) else None for rel in changed},
                      ensure_ascii=False).encode("utf-8")
    try:
        with (folder / JOURNAL).open("a+b") as handle:
            if handle.seek(0, os.SEEK_END) == 0:
                handle.write(json.dumps(list(identity[:3])).encode("utf-8") + b"\n")
            else:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    return False
            handle.write(line + b"\n")
    except OSError:
        return False
    return True


def _stamp(vault: Vault, identity: Identity, digest: str) -> dict[str, Any]:
    return {"version": INDEX_VERSION, "manifest": list(identity), "config": config_state(vault), "files": digest}


def write_stamp(vault: Vault, folder: Path, identity: Identity | None, states: dict[str, tuple[int, int]],
                witness: str | None = None) -> None:
    """Record that the manifest file with ``identity`` holds exactly these files' ``states``;
    ``witness`` is the customers/ fingerprint (``fsutil.tree_fingerprint``) taken before they were
    walked, so that the next check can trust the stamp on the fingerprint alone."""
    if identity is None:
        return
    stamp = _stamp(vault, identity, files_digest(states))
    if witness is not None:
        stamp |= {"witness": witness, "count": len(states)}
    try:  # a cache: lost or torn, it only means the slow check
        atomic_write(folder / STAMP, json.dumps(stamp).encode("utf-8"), durable=False)
    except OSError:
        pass


def _valid_stamp(vault: Vault, folder: Path) -> dict[str, Any] | None:
    """The stamp, when the manifest and the config are still those it was written for."""
    identity = manifest_identity(folder)
    try:
        stamp = json.loads((folder / STAMP).read_bytes())
    except (OSError, ValueError):
        return None
    if identity is None or not isinstance(stamp, dict) or not isinstance(stamp.get("files"), str):
        return None
    expected = _stamp(vault, identity, stamp["files"])
    return stamp if all(stamp.get(key) == value for key, value in expected.items()) else None


def stamped(vault: Vault, folder: Path, current: dict[str, tuple[int, int]]) -> bool:
    """Does the stamp say the index holds exactly ``current`` (manifest and config unchanged since)?"""
    stamp = _valid_stamp(vault, folder)
    return stamp is not None and stamp["files"] == files_digest(current)


def witnessed(vault: Vault, folder: Path, witness: str) -> int | None:
    """How many customer files the index holds, when the stamp was written for this customers/
    fingerprint (manifest and config unchanged since); None when it was not."""
    stamp = _valid_stamp(vault, folder)
    if stamp is None or stamp.get("witness") != witness or not isinstance(stamp.get("count"), int):
        return None
    return int(stamp["count"])


def current_files(vault: Vault) -> tuple[dict[str, tuple[int, int]], list[Problem]]:
    """(relative path -> (size, mtime_ns)) of every customer file, and unsafe paths skipped."""
    return vault.customer_stats()


def stat_paths(vault: Vault, rels: Iterable[str]) -> dict[str, tuple[int, int] | None]:
    """(size, mtime_ns) of each vault-relative path, or None when it is not (or no longer) a
    customer file ``current_files`` would list: gone, hidden, a temp file, behind a folder link,
    a link leading outside the vault.  A watcher's changes, checked without walking the vault."""
    root = str(vault.root.resolve())
    found: dict[str, tuple[int, int] | None] = {}
    for rel in rels:
        found[rel] = _stat_one(vault, root, rel)
    return found


def _stat_one(vault: Vault, root: str, rel: str) -> tuple[int, int] | None:
    parts = rel.split("/")
    name = parts[-1]
    if (parts[0] != CUSTOMERS_DIR or len(parts) < 2 or any(p.startswith(".") or p in ("", "..") for p in parts)
            or not name.endswith(".md") or name.startswith(TEMP_PREFIX)
            or not is_valid_name(rel) or len(parts) > MAX_FOLDER_DEPTH + 2):  # what walk_customers skips
        return None
    path = os.path.join(str(vault.root), *parts)
    try:
        if os.path.realpath(os.path.dirname(path)) != os.path.join(root, *parts[:-1]):
            return None  # reached through a folder link: the walk does not follow those either
        if os.path.islink(path) and (os.path.isdir(path) or
                                     not os.path.realpath(path).startswith(os.path.join(root, CUSTOMERS_DIR) + os.sep)):
            return None
        stat = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return stat.st_size, stat.st_mtime_ns


def plan_paths(manifest: Manifest, states: dict[str, tuple[int, int] | None]) -> Plan:
    """``plan`` restricted to the paths a watcher reported."""
    result = Plan()
    for rel, state in sorted(states.items()):
        entry = manifest.files.get(rel)
        if state is None:
            if entry is not None:
                result.removed.append(rel)
        elif entry is None:
            result.added.append(rel)
        elif (entry.state.size, entry.state.mtime_ns) != state:
            result.suspect.append(rel)
    return result


def plan(manifest: Manifest, current: dict[str, tuple[int, int]]) -> Plan:
    result = Plan()
    for rel, (size, mtime) in current.items():
        entry = manifest.files.get(rel)
        if entry is None:
            result.added.append(rel)
        elif (entry.state.size, entry.state.mtime_ns) != (size, mtime):
            result.suspect.append(rel)
    result.removed = [rel for rel in manifest.files if rel not in current]
    return result


def index_present(folder: Path) -> bool:
    """A Whoosh table of contents exists (checked without importing Whoosh)."""
    try:
        return any(name.endswith(".toc") for name in os.listdir(folder))
    except OSError:
        return False
