"""Crash-safe file writes and per-file locks.

A write goes to a temporary file in the same folder, is flushed and fsynced,
takes the old file's permissions, and replaces the target with one atomic
rename: a crash at any moment leaves either the old or the new file, never a
half-written one.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".~crm-"
TEMP_SUFFIX = ".tmp"
LOCK_TIMEOUT = 10.0


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
    try:
        with lock:
            yield
    except Timeout:
        from .errors import ConcurrentEditError

        raise ConcurrentEditError(
            f"{key} is being changed by another crmnotes process.", "Wait a moment and try again."
        ) from None
