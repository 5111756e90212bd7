"""Cheap change detection over customers/: a signature of every customer
file's path, size and mtime.  No UI code; the app polls it from a thread worker.

Polling a few thousand ``stat`` calls twice a second costs less than a
watchdog observer's setup and sees every writer (editors that replace
files, ``git pull``, network folders where inotify is silent).  The walk is
``Vault.customer_stats``, the one every cache's freshness check uses, so the
TUI notices exactly the files the listing and the index would read again.
"""

from __future__ import annotations

from ..vault import Vault

Signature = frozenset[tuple[str, int, int]]


def signature(vault: Vault) -> Signature:
    """(vault-relative path, size, mtime_ns) of every customer file."""
    current, _ = vault.customer_stats()
    return frozenset((rel, size, mtime) for rel, (size, mtime) in current.items())


def signature_of(vaults: list[Vault]) -> Signature:
    """``signature`` of several vaults (the mounts of a workspace), each path under its vault's root."""
    return frozenset((f"{vault.root}/{rel}", size, mtime) for vault in vaults for rel, size, mtime in signature(vault))
