"""Cheap change detection over customers/: a signature of every file's
name, size and mtime.  No UI code; the app polls it from a thread worker.

Polling a few thousand ``stat`` calls twice a second costs less than a
watchdog observer's setup and sees every writer (editors that replace
files, ``git pull``, network folders where inotify is silent).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..vault import Vault

Signature = frozenset[tuple[str, int, int]]


def signature(vault: Vault) -> Signature:
    """(path, mtime_ns, size) of every markdown file under customers/."""
    entries: list[tuple[str, int, int]] = []
    _walk(vault.customers_dir, entries)
    return frozenset(entries)


def _walk(folder: Path | str, out: list[tuple[str, int, int]]) -> None:
    try:
        with os.scandir(folder) as items:
            for item in items:
                if item.name.startswith("."):
                    continue
                if item.is_dir(follow_symlinks=False):
                    _walk(item.path, out)
                elif item.name.endswith(".md"):
                    try:
                        stat = item.stat()
                    except OSError:  # deleted between listing and stat: the next poll sees it
                        continue
                    out.append((item.path, stat.st_mtime_ns, stat.st_size))
    except OSError:
        return
