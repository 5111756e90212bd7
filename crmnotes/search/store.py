"""Which files the index holds and in which state: the manifest (no Whoosh here).

The manifest sits inside the index folder (so a rebuild swaps both at once)
and records, per customer file, size, mtime and content hash, or why the
file could not be read.  Comparing it with a ``stat`` of every file tells
what changed without opening the index: ``crm index`` with nothing to do
costs one folder walk and one small JSON read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import CONFIG_FILE
from ..fsutil import atomic_write
from ..model import Problem
from ..vault import Vault
from .records import FileState

INDEX_VERSION = 5  # schema + analysis + record layout; a different number means rebuild
INDEX_DIR = "index"
MANIFEST = "manifest.json"


@dataclass
class Entry:
    state: FileState
    error: str = ""  # set when the file could not be read; it is not in the index then


@dataclass
class Manifest:
    config_state: list[int]
    files: dict[str, Entry] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"version": INDEX_VERSION, "config": self.config_state,
                "files": {rel: [*e.state.to_json(), e.error] for rel, e in sorted(self.files.items())}}


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
    try:
        stat = (vault.root / CONFIG_FILE).stat()
    except OSError:
        return [-1, -1]
    return [stat.st_size, stat.st_mtime_ns]


def load_manifest(folder: Path) -> Manifest | None:
    """The manifest, or None when it is missing, unreadable or of another version."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if data.get("version") != INDEX_VERSION:
            return None
        files = {rel: Entry(FileState(int(v[0]), int(v[1]), str(v[2])), str(v[3])) for rel, v in data["files"].items()}
        return Manifest([int(x) for x in data["config"]], files)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def save_manifest(folder: Path, manifest: Manifest) -> None:
    atomic_write(folder / MANIFEST, json.dumps(manifest.to_json(), ensure_ascii=False).encode("utf-8"))


def current_files(vault: Vault) -> tuple[dict[str, tuple[int, int]], list[Problem]]:
    """(relative path -> (size, mtime_ns)) of every customer file, and unsafe paths skipped."""
    return vault.customer_stats()


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
