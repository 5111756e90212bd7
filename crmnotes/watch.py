"""Watch a vault's customer files and report changes, debounced and coalesced.

No UI code: ``VaultWatcher`` calls ``on_change(paths)`` from its own thread
with the set of relative paths that changed since the last call (``None``
when it cannot tell which, e.g. a folder was moved: refresh everything), and
``on_error(exc)`` if the callback fails.  The CLI's ``crm watch`` and the TUI
run the same class.

* Only ``customers/`` (recursively) and ``crmnotes.yaml`` are watched, never
  ``.git/`` (one edit + commit + gc there is tens of thousands of events) nor
  ``.crmnotes/`` (our own index writes would wake us up).
* Editor saves arrive as bursts (write temp, rename over, chmod; vim's 4913
  probe; a ``git pull`` touching hundreds of files): events are collected
  until ``quiet`` seconds pass without one, but never longer than
  ``max_delay`` after the first.  Both are short (a write is searchable
  within half a second) because the owner's work per batch is proportional
  to the paths in it (``search.refresh(vault, paths=...)``): a burst split
  in two costs a second small update, never a walk of the vault.
* Temp files (our ``.~crm-*.tmp``, editor swap and backup files) are ignored;
  a rename *onto* a ``.md`` file is reported as that file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import CONFIG_FILE
from .fsutil import TEMP_PREFIX, TEMP_SUFFIX
from .vault import MAX_FOLDER_DEPTH, is_valid_name

CUSTOMERS = "customers"
IGNORED_DIRS = {".git", ".crmnotes"}
QUIET = 0.05  # seconds without an event that end a burst
MAX_DELAY = 0.25  # a stream of events is still reported this soon after its first
ChangeCallback = Callable[[set[str] | None], None]
ErrorCallback = Callable[[BaseException], None]


def relevant(rel: str) -> bool:
    """Is this vault-relative path a customer file or the config (not a temp or swap file)?
    A name the vault walk skips (not UTF-8, nested too deep) is not: ``crm check`` reports it."""
    parts = rel.split("/")
    if any(p in IGNORED_DIRS for p in parts) or not is_valid_name(rel) or len(parts) > MAX_FOLDER_DEPTH + 2:
        return False
    name = parts[-1]
    if rel == CONFIG_FILE:
        return True
    if parts[0] != CUSTOMERS or name.startswith((TEMP_PREFIX, ".")) or name.endswith(TEMP_SUFFIX):
        return False
    return name.endswith(".md")


class VaultWatcher:
    """Debounced change notifications for one vault (start/stop, or use as a context manager)."""

    def __init__(self, root: Path, on_change: ChangeCallback, on_error: ErrorCallback | None = None,
                 quiet: float = QUIET, max_delay: float = MAX_DELAY) -> None:
        self.root = root.resolve()
        self.on_change = on_change
        self.on_error = on_error
        self.quiet = quiet
        self.max_delay = max_delay
        self._pending: set[str] = set()
        self._everything = False
        self._first = 0.0
        self._last = 0.0
        self._cond = threading.Condition()
        self._stopping = False
        self._observer: Any = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> VaultWatcher:
        from watchdog.observers import Observer  # deferred: only watching needs it

        handler: Any = _Handler(self)  # watchdog takes it by duck typing (see _Handler)
        observer = Observer()
        customers = self.root / CUSTOMERS
        with contextlib.suppress(OSError):  # a file named customers: crm check reports it
            customers.mkdir(exist_ok=True)
        if customers.is_dir():
            observer.schedule(handler, str(customers), recursive=True)
        observer.schedule(handler, str(self.root), recursive=False)  # crmnotes.yaml only; .git is below
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._deliver, name="crmnotes-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> VaultWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- events

    def notice(self, path: str | None) -> None:
        """Record one changed path (absolute), or None for 'anything may have changed'."""
        if path is None:
            rel: str | None = None
        else:
            try:
                rel = Path(path).resolve().relative_to(self.root).as_posix()
            except ValueError:
                return
            if not relevant(rel):
                return
        with self._cond:
            now = time.monotonic()
            if not self._pending and not self._everything:
                self._first = now
            self._last = now
            if rel is None:
                self._everything = True
            else:
                self._pending.add(rel)
            self._cond.notify_all()

    def _deliver(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not (self._pending or self._everything):
                    self._cond.wait()
                if self._stopping:
                    return
                now = time.monotonic()
                due = min(self._last + self.quiet, self._first + self.max_delay)
                if now < due:
                    self._cond.wait(due - now)
                    continue
                batch: set[str] | None = None if self._everything else set(self._pending)
                self._pending.clear()
                self._everything = False
            try:
                self.on_change(batch)
            except Exception as exc:  # the watcher must survive a failed refresh; the owner decides what to show
                if self.on_error is not None:
                    self.on_error(exc)


class _Handler:
    """watchdog's handler protocol without subclassing at import time."""

    def __init__(self, watcher: VaultWatcher) -> None:
        self.watcher = watcher

    def dispatch(self, event: Any) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write"):
            return
        if event.is_directory:
            # a folder moved or deleted takes its files without an event each: rescan.  A created
            # folder needs nothing: watchdog reports the files that appear in it.
            if kind in ("moved", "deleted"):
                self.watcher.notice(None)
            return
        self.watcher.notice(_text(event.src_path))
        dest = getattr(event, "dest_path", "")
        if dest:
            self.watcher.notice(_text(dest))


def _text(path: str | bytes) -> str:
    return os.fsdecode(path)  # undecodable bytes become surrogates, which ``relevant`` turns away
