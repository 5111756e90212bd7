"""Keeping the Whoosh index of a vault fresh: incremental update, rebuild, locking.

* **Fresh before every answer**: ``refresh`` compares a ``stat`` of every
  customer file with the manifest; files whose size or mtime moved are read
  and hashed, and only real changes are re-indexed.  A missing, old-version
  or corrupt index is rebuilt, never reported as an error.
* **One writer**: Whoosh allows one writer per index and raises ``LockError``
  for a second, even in the same process.  Every write goes through
  ``writer_lock``: a thread lock per index inside the process plus an OS file
  lock (fcntl / LockFileEx via ``filelock``) across processes.  The kernel
  drops an OS lock when its process dies, so a killed ``crm`` never blocks
  the next one.
* **Rebuild** writes a new index beside the old one and swaps the folders,
  so readers keep answering from the old index meanwhile; with many files,
  each core's worker process indexes a share of the files into a segment of
  its own (the postings are where the time goes), and the segments are
  joined under one table of contents without merging.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import CONFIG_FILE
from ..errors import CrmError
from ..vault import Vault
from . import store
from .records import FileState, Prepared, prepare

Progress = Callable[[int, int], None]
PARALLEL_MIN_FILES = 400  # below this, starting worker processes costs more than it saves
MAX_WORKERS = 4
POOL_BYTES = 192 * 1024 * 1024  # rebuild, per worker: postings held in memory before a segment is written
SMALL_SEGMENTS = 12  # a watcher's one-document segments are merged once there are this many
SMALL_SEGMENT_DOCS = 100
LOCK_TIMEOUT = 60.0
_thread_locks: dict[str, threading.RLock] = {}
_thread_locks_guard = threading.Lock()


@dataclass
class RefreshStats:
    """What one refresh did."""

    total: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    rebuilt: bool = False
    unreadable: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changes(self) -> int:
        return self.added + self.changed + self.removed


class IndexBusy(CrmError):
    """Another process held the index lock for too long."""


@contextlib.contextmanager
def writer_lock(vault: Vault, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    from filelock import FileLock, Timeout

    key = str(vault.cache_dir)
    with _thread_locks_guard:
        local = _thread_locks.setdefault(key, threading.RLock())
    with local:
        vault.cache_dir.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(vault.cache_dir / "index.lock"), timeout=timeout):
                yield
        except Timeout:
            raise IndexBusy("the search index is being rebuilt by another crmnotes process.",
                            "Wait for it to finish and try again.") from None


def refresh(vault: Vault, *, rebuild: bool = False, progress: Progress | None = None,
            workers: int | None = None, current: dict[str, tuple[int, int]] | None = None,
            paths: Iterable[str] | None = None) -> RefreshStats:
    """Bring the index up to date with the files (or rebuild it) and say what changed.

    ``current`` is a ``Vault.customer_stats`` the caller just took (saves a walk).
    ``paths`` (vault-relative) limits the work to those files, for a watcher that
    knows what changed: no walk of the vault.  ``crmnotes.yaml`` among them, or
    an index that needs a rebuild, means the full refresh."""
    if paths is not None and not rebuild and current is None:
        wanted = set(paths)
        if CONFIG_FILE not in wanted:
            stats = _refresh_paths(vault, wanted)
            if stats is not None:
                return stats
    started = time.perf_counter()
    folder = store.index_dir(vault)
    if current is None:
        current, _ = store.current_files(vault)
    if not rebuild:
        manifest = store.load_manifest(folder)
        if _usable(vault, folder, manifest) and store.plan(manifest, current).empty:  # type: ignore[arg-type]
            return RefreshStats(total=len(current), seconds=time.perf_counter() - started)
    with writer_lock(vault):
        current, _ = store.current_files(vault)  # another process may have written meanwhile
        manifest = store.load_manifest(folder)
        if rebuild or not _usable(vault, folder, manifest):
            stats = _rebuild(vault, current, progress, workers)
        else:
            assert manifest is not None
            try:
                stats = _update(vault, folder, manifest, current, progress)
            except _corrupt_errors():  # evaluated only when something was raised
                stats = _rebuild(vault, current, progress, workers)
    stats.seconds = time.perf_counter() - started
    return stats


def _refresh_paths(vault: Vault, wanted: set[str]) -> RefreshStats | None:
    """Re-index only ``wanted`` (None: the index is not usable, do the full refresh)."""
    started = time.perf_counter()
    folder = store.index_dir(vault)
    with writer_lock(vault):
        manifest = store.load_manifest(folder)
        if not _usable(vault, folder, manifest):
            return None
        assert manifest is not None
        work = store.plan_paths(manifest, store.stat_paths(vault, wanted))
        try:
            stats = _apply(vault, folder, manifest, work, None, merge=False)
            if stats.changes:
                _merge_small_segments(folder)
        except _corrupt_errors():
            return None
    stats.total = len(manifest.files)
    stats.seconds = time.perf_counter() - started
    return stats


def _usable(vault: Vault, folder: Path, manifest: store.Manifest | None) -> bool:
    return manifest is not None and manifest.config_state == store.config_state(vault) and store.index_present(folder)


def _corrupt_errors() -> tuple[type[BaseException], ...]:
    # What a damaged index raises on open/read: missing segment files,
    # truncated pickles, bad structs.  CrmError and KeyboardInterrupt pass.
    import pickle
    import struct

    from whoosh.index import IndexError as WhooshIndexError

    return (OSError, EOFError, ValueError, KeyError, IndexError, pickle.UnpicklingError, struct.error,
            WhooshIndexError, AttributeError, TypeError)


def open_index(vault: Vault) -> Any:
    """The up-to-date index, ready for searching (rebuilt if it cannot be opened)."""
    from whoosh import index as windex

    refresh(vault)
    folder = store.index_dir(vault)
    try:
        return windex.open_dir(str(folder))
    except _corrupt_errors():
        refresh(vault, rebuild=True)
        return windex.open_dir(str(folder))


# ------------------------------------------------------------------ update


def _update(vault: Vault, folder: Path, manifest: store.Manifest, current: dict[str, tuple[int, int]],
            progress: Progress | None) -> RefreshStats:
    stats = _apply(vault, folder, manifest, store.plan(manifest, current), progress)
    stats.total = len(current)
    return stats


def _apply(vault: Vault, folder: Path, manifest: store.Manifest, work: store.Plan,
           progress: Progress | None, merge: bool = True) -> RefreshStats:
    from whoosh import index as windex

    stats = RefreshStats()
    if work.empty:
        return stats
    todo = work.added + work.suspect
    prepared = [prepare(vault, rel) for rel in todo]
    ix = windex.open_dir(str(folder))
    writer = _writer(ix)
    try:
        for rel in work.removed:
            writer.delete_by_term("path", rel)
            manifest.files.pop(rel, None)
            stats.removed += 1
        for done, item in enumerate(prepared, start=1):
            old = manifest.files.get(item.rel)
            if old is not None and not old.error and item.state.sha1 == old.state.sha1 and item.fields is not None:
                manifest.files[item.rel] = store.Entry(item.state)  # touched, not changed: nothing to re-index
            else:
                _put(writer, manifest, item, stats, new=old is None)
            if progress:
                progress(done, len(prepared))
        writer.commit(merge=merge)
    except BaseException:
        writer.cancel()
        raise
    store.save_manifest(folder, manifest)  # after the commit: a crash in between only means re-indexing again
    return stats


def _merge_small_segments(folder: Path) -> None:
    """Merge the one-file segments a watcher's updates leave, once there are ``SMALL_SEGMENTS`` of them.

    Done as a commit of its own after the update's (which is searchable at once),
    all small segments in one go: Whoosh's default merge on every commit cost a
    watched write ~0.5 s every fifth change at 10,000 customers."""
    from whoosh import index as windex

    ix = windex.open_dir(str(folder))
    try:
        small = sum(1 for segment in ix._segments() if segment.doc_count_all() < SMALL_SEGMENT_DOCS)
        if small >= SMALL_SEGMENTS:
            writer = _writer(ix)
            try:
                writer.commit(mergetype=_merge_small_only)  # nothing added: only the merge runs
            except BaseException:
                writer.cancel()
                raise
    finally:
        ix.close()


def _merge_small_only(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh merge policy: every small segment into the new one, the big ones kept as they are."""
    from whoosh.reading import SegmentReader

    kept = []
    for segment in segments:
        if segment.doc_count_all() < SMALL_SEGMENT_DOCS:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            writer.add_reader(reader)
            reader.close()
        else:
            kept.append(segment)
    return kept


def _put(writer: Any, manifest: store.Manifest, item: Prepared, stats: RefreshStats, new: bool) -> None:
    if item.fields is None:
        writer.delete_by_term("path", item.rel)
        stats.unreadable[item.rel] = item.error
    else:
        writer.update_document(**item.fields)
    manifest.files[item.rel] = store.Entry(item.state, item.error)
    if new:
        stats.added += 1
    else:
        stats.changed += 1


def _writer(ix: Any, **options: Any) -> Any:
    return ix.writer(timeout=5.0, **options)


# ------------------------------------------------------------------ rebuild


def _rebuild(vault: Vault, current: dict[str, tuple[int, int]], progress: Progress | None,
             workers: int | None) -> RefreshStats:
    folder = store.index_dir(vault)
    fresh = folder.with_name(f"{folder.name}.new-{os.getpid()}")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    manifest = store.Manifest(store.config_state(vault))
    stats = RefreshStats(total=len(current), rebuilt=True)
    rels = sorted(current)
    count = workers if workers is not None else min(os.cpu_count() or 1, MAX_WORKERS)
    try:
        if count <= 1 or len(rels) < PARALLEL_MIN_FILES:
            entries = _build_segment(vault, str(fresh), rels, progress)
        else:
            entries = _build_parallel(vault, fresh, rels, count, progress)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    for rel, state, error in entries:
        manifest.files[rel] = store.Entry(state, error)
        if error:
            stats.unreadable[rel] = error
    stats.added = len(current)
    store.save_manifest(fresh, manifest)
    _swap(fresh, folder)
    return stats


def _build_segment(vault: Vault, target: str, rels: list[str], progress: Progress | None = None,
                   total: int = 0) -> list[tuple[str, FileState, str]]:
    """Index ``rels`` into a new index in ``target``; (rel, state, error) of each file.

    Segments are left as separate files, not one compound file: Whoosh copies
    a compound file's parts into memory (``BytesIO``) on every open, ~0.1 s
    per searcher at 10,000 customers, and every incremental update opens one."""
    from whoosh import index as windex

    from . import pool
    from .schema import build_schema

    ix = windex.create_in(target, build_schema())
    writer = pool.PoolWriter(ix, compound=False)
    entries = []
    try:
        for done, rel in enumerate(rels, start=1):
            item = prepare(vault, rel)
            if item.fields is not None:
                writer.add_document(**item.fields)
            entries.append((item.rel, item.state, item.error))
            if writer.pool.estimated_bytes > POOL_BYTES:  # memory stays bounded: close this segment, start another
                writer.commit(merge=False)
                writer = pool.PoolWriter(ix, compound=False)
            if progress:
                progress(done, total or len(rels))
        writer.commit(merge=False)
    except BaseException:
        writer.cancel()
        raise
    finally:
        ix.close()
    return entries


def _build_parallel(vault: Vault, fresh: Path, rels: list[str], count: int,
                    progress: Progress | None) -> list[tuple[str, FileState, str]]:
    """Each worker process indexes a share of the files into a segment of its
    own (reading, parsing, analysis and the postings all in parallel); the
    segments are then joined under one table of contents, without a merge."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from whoosh import index as windex
    from whoosh.filedb.filestore import FileStorage

    from .schema import build_schema

    shares = [rels[i::count] for i in range(count)]
    parts = [fresh / f"part-{i}" for i in range(count)]
    # spawn, not fork: the TUI and the watcher run threads, and forking a threaded process can deadlock.
    context = multiprocessing.get_context("spawn")
    entries: list[tuple[str, FileState, str]] = []
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        futures = [pool.submit(_worker_build, str(vault.root), str(part), share)
                   for part, share in zip(parts, shares, strict=True)]
        for future in futures:
            entries.extend(future.result())
            if progress:
                progress(len(entries), len(rels))
    segments = []
    for part in parts:
        sub = windex.open_dir(str(part))
        segments.extend(sub._segments())
        sub.close()
        for name in os.listdir(part):
            if not name.endswith(".toc") and not name.endswith(".lock"):
                os.replace(part / name, fresh / name)
        shutil.rmtree(part, ignore_errors=True)
    storage = FileStorage(str(fresh))
    windex.TOC(build_schema(), segments, 1).write(storage, windex._DEF_INDEX_NAME)
    entries.sort()
    return entries


def _worker_build(root: str, target: str, rels: list[str]) -> list[tuple[str, FileState, str]]:
    os.makedirs(target, exist_ok=True)
    return _build_segment(Vault(Path(root)), target, rels)


def _swap(fresh: Path, folder: Path) -> None:
    old = folder.with_name(f"{folder.name}.old-{os.getpid()}")
    if folder.exists():
        os.replace(folder, old)
    os.replace(fresh, folder)
    shutil.rmtree(old, ignore_errors=True)
