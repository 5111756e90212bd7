"""Crash-safe file writes, per-file locks and the vault's write lock.

A write goes to a temporary file in the same folder, is flushed and fsynced,
takes the old file's permissions, and replaces the target with one atomic
rename: a crash at any moment leaves either the old or the new file, never a
half-written one.

The vault's write lock is how writers and ``crm sync`` stay out of each
other's way: every crmnotes writer holds it shared while it saves (inside
``file_lock``, and around creating a file), and sync holds it exclusively
for the span in which git may rewrite customer files (commit and merge).  A
writer waits for that span (bounded, then a clear error: nothing written),
so git never replaces a file under a save that reported success.  A gate
lock keeps a stream of writers from starving sync: sync closes the gate,
the writers inside finish, sync takes the lock and reopens the gate.  The
git processes sync starts inherit its hold (``sync_lock_fds``), and git's
merge driver runs inside that span, so the driver must never take the
write lock itself.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TEMP_PREFIX = ".~crm-"
TEMP_SUFFIX = ".tmp"
LOCK_TIMEOUT = 10.0
VAULT_LOCK = "vault.lock"
VAULT_GATE = "vault.gate"
SYNC_WAIT = 60.0  # how long a writer waits for a sync's merge, and a sync for writers to finish


class FileChanged(Exception):
    """The target no longer holds the bytes the caller expected; nothing was written."""


def atomic_write(path: Path, data: bytes, *, exclusive: bool = False, durable: bool = True,
                 expect: bytes | None = None) -> None:
    """Replace ``path`` with ``data`` atomically.  With ``exclusive`` the call
    fails with ``FileExistsError`` when ``path`` already exists.  ``durable=False``
    skips the fsyncs for bulk writers (import) that flush once at the end.
    With ``expect``, the target is compared with those bytes just before the
    rename (after the slow fsync), and ``FileChanged`` is raised instead of
    overwriting a save some editor made meanwhile."""
    import tempfile  # with hashlib in file_lock, ~25 ms of imports that commands which only read never need

    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
        if exclusive:
            # link() fails if the target exists, unlike rename(): no silent overwrite.
            os.link(tmp, path)
            tmp.unlink()
        else:
            if expect is not None and _current(path) != expect:
                raise FileChanged(path)
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(folder)
        _sweep_stale_temps(folder)


STALE_TEMP_SECONDS = 3600


def _sweep_stale_temps(folder: Path) -> None:
    """Remove temp files a killed writer left behind.  An hour old, no live
    writer can still own one (a write takes milliseconds)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def file_lock(lock_dir: Path, key: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """An inter-process lock named after ``key`` (e.g. a file's vault path).

    Lock files live in the vault's git-ignored cache, never beside the data.
    """
    from filelock import FileLock, Timeout

    lock_dir.mkdir(parents=True, exist_ok=True)
    import hashlib

    name = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16] + ".lock"
    lock = FileLock(str(lock_dir / name), timeout=timeout)
    with vault_write_lock(lock_dir, key):
        try:
            with lock:
                yield
        except Timeout:
            from .errors import ConcurrentEditError

            raise ConcurrentEditError(
                f"{key} is being changed by another crmnotes process.", "Wait a moment and try again."
            ) from None


class LockTimeout(Exception):
    """The vault lock was not free within the time allowed."""


_held = threading.local()  # how deep this thread is inside a hold of the vault lock (shared or exclusive)


@contextlib.contextmanager
def vault_write_lock(lock_dir: Path, what: str = "the vault", timeout: float = SYNC_WAIT) -> Iterator[None]:
    """Held (shared) by every writer of customer files while it saves;
    waits while a sync merges.  Re-entrant within a thread."""
    if getattr(_held, "depth", 0):  # already inside a write (or inside this thread's sync): no second hold
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    try:
        with _vault_lock(lock_dir, exclusive=False, timeout=timeout):
            yield
    except LockTimeout:
        from .errors import ConcurrentEditError

        raise ConcurrentEditError(f"the vault is being synced (git is merging), so {what} was not written.",
                                  "Run the command again when 'crm sync' has finished.") from None


@contextlib.contextmanager
def vault_sync_lock(lock_dir: Path, timeout: float = SYNC_WAIT) -> Iterator[None]:
    """Held (exclusive) by sync while git may rewrite customer files: no
    crmnotes writer saves meanwhile.  Raises ``LockTimeout`` when writers do
    not finish in time."""
    with _vault_lock(lock_dir, exclusive=True, timeout=timeout):
        yield


@contextlib.contextmanager
def _vault_lock(lock_dir: Path, exclusive: bool, timeout: float) -> Iterator[None]:
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    try:
        import fcntl
    except ImportError:  # no shared locks here (Windows): writers and sync take turns on one exclusive lock
        from filelock import FileLock, Timeout

        try:
            with FileLock(str(lock_dir / VAULT_LOCK), timeout=timeout), _holding():
                yield
        except Timeout:
            raise LockTimeout from None
        return
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    gate = _flock(lock_dir / VAULT_GATE, mode, deadline)  # shut (exclusive) while a sync waits for the lock
    try:
        held = _flock(lock_dir / VAULT_LOCK, mode, deadline)
    finally:
        os.close(gate)  # closing a descriptor releases its flock
    try:
        with _holding(held if exclusive else None):
            yield
    finally:
        os.close(held)


@contextlib.contextmanager
def _holding(exclusive_fd: int | None = None) -> Iterator[None]:
    _held.depth, _held.exclusive_fd = 1, exclusive_fd
    try:
        yield
    finally:
        _held.depth, _held.exclusive_fd = 0, None


def sync_lock_fds() -> tuple[int, ...]:
    """The descriptor of this thread's exclusive hold, for the git processes it starts to
    inherit: the lock then lasts while any of them runs, even if this process is killed
    mid-merge and git (or its merge driver) goes on rewriting files."""
    fd = getattr(_held, "exclusive_fd", None)
    return (fd,) if fd is not None else ()


def _flock(path: Path, mode: int, deadline: float) -> int:
    """A descriptor of ``path`` holding an flock in ``mode``; polls until ``deadline``.
    Each hold has its own descriptor, so two threads of one process exclude each other too."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout from None
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        except BaseException:
            os.close(fd)
            raise


FIND_PROCESSES = 4  # at most; one per core: stat calls are kernel work and scale with the cores
FIND_SPLIT_UP_TO = 256  # top-level entries handed to the processes by name; more (a flat folder): one find


def tree_fingerprint(folder: Path) -> str | None:
    """A fingerprint of every entry below ``folder`` (type, inode, size, mtime, ctime, path), listed
    by GNU find: C processes stat a large vault several times faster than a stat per file from
    Python, so a cache that stored the fingerprint can tell "nothing changed" without the walk.

    Stricter than the walk's (size, mtime) on purpose (an inode or ctime change alone makes it
    differ): a false "changed" only costs the walk.  None when there is no GNU find (BSD find has
    no -printf), when it fails, or when a link is found (the walk stats what a link points to,
    which the link's own line does not show)."""
    return fingerprint_of(start_fingerprint(folder))


def start_fingerprint(folder: Path) -> Any:
    """``tree_fingerprint`` started: find runs while the caller does other work (``fingerprint_of``).
    The top-level entries (customers/a, customers/b, ...) are shared out by name among one find per
    core, each listing to an unnamed temporary file, not a pipe: a pipe nobody reads yet would stop
    find after 64 KB, and the listing of a large vault is megabytes."""
    import shutil

    find = shutil.which("find")
    if find is None:
        return None
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    if len(names) > FIND_SPLIT_UP_TO:
        groups = [["."]]
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        count = max(1, min(len(names), FIND_PROCESSES, cores))
        groups = [[f"./{name}" for name in names[at::count]] for at in range(count)] if names else []
    started: list[tuple[Any, Any]] = []
    for group in groups:
        one = _start_find(find, folder, group)
        if one is None:
            fingerprint_of(started)  # waited for: no stray process
            return None
        started.append(one)
    return started


def _start_find(find: str, folder: Path, starting_points: list[str]) -> tuple[Any, Any] | None:
    import subprocess
    import tempfile

    depth = ["-mindepth", "1"] if starting_points == ["."] else []
    listing = tempfile.TemporaryFile()  # noqa: SIM115 - handed to fingerprint_of, which closes it
    try:
        return listing, subprocess.Popen([find, *starting_points, *depth, "-printf", r"%y %i %s %T@ %C@ %p\0"],
                                         cwd=folder, stdout=listing, stderr=subprocess.PIPE)
    except OSError:
        listing.close()
        return None


def fingerprint_of(started: Any) -> str | None:
    """The fingerprint a ``start_fingerprint`` computes (None: see ``tree_fingerprint``)."""
    listing = listing_of(started)
    return None if listing is None else fingerprint_of_listing(listing)


def fingerprint_of_listing(listing: bytes) -> str:
    """The fingerprint of what ``listing_of`` gave (for a caller that keeps the listing too)."""
    import hashlib

    return hashlib.sha1(listing, usedforsecurity=False).hexdigest()


def listing_of(started: Any) -> bytes | None:
    """What the finds of a ``start_fingerprint`` listed, one NUL-ended line per entry (``type inode size
    mtime ctime ./path``); None as for ``tree_fingerprint``."""
    import subprocess

    if started is None:
        return None
    listings, sound = [], True
    for listing_file, find in started:  # every one waited for, even after one failed
        with listing_file:
            try:
                _, errors = find.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                find.kill()
                find.communicate()
                sound = False
                continue
            listing_file.seek(0)
            listing = listing_file.read()
        sound = sound and not (find.returncode or errors or listing.startswith(b"l ") or b"\0l " in listing)
        listings.append(listing)
    return b"".join(listings) if sound else None


def changed_files(before: bytes, after: bytes, ignored: Callable[[str, bool], bool] = lambda path, folder: False
                  ) -> list[str] | None:
    """The files, as paths relative to the folder, whose lines differ between two of its listings
    (``listing_of``); None when an entry came, went or was renamed, or anything but a file or a
    folder's times changed (then the caller works its answer out again).  Entries ``ignored(path,
    is_folder)`` are left out."""
    old, new = set(before.split(b"\0")), set(after.split(b"\0"))
    gone, came = _entries(old - new, ignored), _entries(new - old, ignored)
    if gone is None or came is None or gone != came:  # (the same paths, each of the same type)
        return None
    return sorted(path for path, folder in came.items() if not folder)


def _entries(lines: set[bytes], ignored: Callable[[str, bool], bool]) -> dict[str, bool] | None:
    """path -> is a folder, of listing lines (None when one is neither a file nor a folder)."""
    found = {}
    for line in lines:
        parts = line.split(b" ", 5)
        if len(parts) != 6 or parts[0] not in (b"f", b"d"):
            return None
        path, folder = os.fsdecode(parts[5][2:]), parts[0] == b"d"
        if not ignored(path, folder):
            found[path] = folder
    return found
