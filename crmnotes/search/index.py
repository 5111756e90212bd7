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
  its own (the postings are where the time goes, see ``pool``), and the
  segments are joined under one table of contents without merging.
* **Updates** add one segment each and are searchable at once; they never
  merge the big segments of a rebuild (Whoosh's default policy would fold a
  third of a 100,000-customer index into one segment inside a ``crm index``):
  a full refresh folds only the small segments into its own, a watcher's
  small segments are merged in the background, beside the index, so no
  update waits for a merge.  Folders a killed rebuild or merge left behind
  are removed by the next refresh that holds the lock.
* **No compound segments** (see ``_writer``); an index an older version
  merged into one is split into separate files (``split_compound_segments``).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import CONFIG_FILE
from ..errors import CrmError
from ..fsutil import tree_fingerprint
from ..vault import Vault
from . import store
from . import text as textmod
from .records import FileState, Prepared, prepare

Progress = Callable[[int, int], None]
PARALLEL_MIN_FILES = 400  # below this, starting worker processes costs more than it saves
MAX_WORKERS = 4
# Rebuild, all workers together: postings held in memory before a segment is written (``MemoryPool``'s
# estimate; a worker's resident memory grows by about 1.5 times it).  Split between the workers, so the
# process tree stays under 600 MB at 100,000 customers however many there are.
POOL_BYTES = 208 * 1024 * 1024
SMALL_SEGMENTS = 12  # a watcher's one-document segments are merged (in the background) once there are this many
MAX_SMALL_SEGMENTS = 48  # ... and in place, by the update, should background merges fall this far behind
SMALL_SEGMENT_DOCS = 100
LOCK_TIMEOUT = 60.0
STALE_MERGE_SECONDS = 3600.0
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


class RebuildFailed(CrmError):
    """A rebuild worker process failed: nothing of the new index is kept, the old one still answers."""


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
            paths: Iterable[str] | None = None, witness: str | None = None) -> RefreshStats:
    """Bring the index up to date with the files (or rebuild it) and say what changed.

    ``current`` is a ``Vault.customer_stats`` the caller just took (saves a walk), and ``witness``
    the customers/ fingerprint it took before that walk (stamped with the result when it was up to date).
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
    if current is None and not rebuild:
        witness = tree_fingerprint(vault.customers_dir)  # before the walk: a change after it shows next time
        count = witnessed_fresh(vault, witness)
        if count is not None:
            return RefreshStats(total=count, seconds=time.perf_counter() - started)
    if current is None:
        current, _ = store.current_files(vault)
    if not rebuild:
        if store.stamped(vault, folder, current) and store.index_present(folder):
            if witness is not None:
                store.write_stamp(vault, folder, store.manifest_identity(folder), current, witness)
            return RefreshStats(total=len(current), seconds=time.perf_counter() - started)
        manifest, identity = store.read_manifest(folder)
        if _usable(vault, folder, manifest) and store.plan(manifest, current).empty:  # type: ignore[arg-type]  # _usable is True only for a manifest
            store.write_stamp(vault, folder, identity, current, witness)
            return RefreshStats(total=len(current), seconds=time.perf_counter() - started)
    with writer_lock(vault):
        _remove_leftovers(folder)
        manifest = None if rebuild else store.load_manifest(folder)  # a rebuild never reads the old one
        rebuilding = rebuild or not _usable(vault, folder, manifest)
        witness = tree_fingerprint(vault.customers_dir) if rebuilding else None  # a rebuild stamps its result
        current, _ = store.current_files(vault)  # another process may have written meanwhile
        if rebuilding:
            stats = _rebuild(vault, current, progress, workers, witness)
        else:
            assert manifest is not None
            try:
                stats = _update(vault, folder, manifest, current, progress)
            except _corrupt_errors():  # evaluated only when something was raised
                stats = _rebuild(vault, current, progress, workers)
    stats.seconds = time.perf_counter() - started
    return stats


def witnessed_fresh(vault: Vault, witness: str | None) -> int | None:
    """The number of customer files, when the index holds them all as the customers/ fingerprint
    ``witness`` (``fsutil.tree_fingerprint``) shows them: the check without a walk of the vault.
    None when that cannot be told this way (no fingerprint, or none stored that matches)."""
    folder = store.index_dir(vault)
    if witness is None or not store.index_present(folder):
        return None
    return store.witnessed(vault, folder, witness)


def _refresh_paths(vault: Vault, wanted: set[str]) -> RefreshStats | None:
    """Re-index only ``wanted`` (None: the index is not usable, do the full refresh)."""
    with _updating:
        return _refresh_paths_now(vault, wanted)


def _refresh_paths_now(vault: Vault, wanted: set[str]) -> RefreshStats | None:
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
                _merge_small_segments(vault, folder)
        except _corrupt_errors():
            return None
    stats.total = len(manifest.files)
    stats.seconds = time.perf_counter() - started
    return stats


def warm_up(vault: Vault) -> None:
    """Load what an update needs (Whoosh's writer, codec and searcher, the schema, the pinyin tables,
    the manifest) so that a watcher's first change is as quick to become searchable as the rest."""
    import filelock  # noqa: F401 - the writer lock's
    from whoosh import index as windex

    from . import pool  # noqa: F401 - Whoosh's writer
    from .schema import build_schema

    build_schema()
    textmod.pinyin_keys("星辰")
    textmod.runs_pattern()
    folder = store.index_dir(vault)
    store.load_manifest(folder)  # kept in memory for the updates
    with contextlib.suppress(*_corrupt_errors()):
        split_compound_segments(vault)  # once, for an index an older version merged into a compound file
    with contextlib.suppress(*_corrupt_errors()):
        ix = windex.open_dir(str(folder))
        try:
            with ix.searcher() as searcher:  # what an update's delete_by_term uses
                searcher.document_number(path="")
        finally:
            ix.close()


def _usable(vault: Vault, folder: Path, manifest: store.Manifest | None) -> bool:
    return manifest is not None and manifest.config_state == store.config_state(vault) and store.index_present(folder)


def _corrupt_errors() -> tuple[type[BaseException], ...]:
    # What a damaged index raises on open/read: missing segment files,
    # truncated pickles, bad structs, compressed postings that no longer inflate.  CrmError and
    # KeyboardInterrupt pass.
    import zlib

    from whoosh.filedb.filetables import FileFormatError as WhooshFileFormatError  # a stored-fields header
    from whoosh.index import IndexError as WhooshIndexError

    return (OSError, EOFError, ValueError, KeyError, IndexError, pickle.UnpicklingError, struct.error, zlib.error,
            WhooshIndexError, WhooshFileFormatError, AttributeError, TypeError)


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
    if stats.changes:
        _split_compound(folder)  # an older version's merge (see split_compound_segments)
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
    writer = _writer(ix, pooled=True, timeout=5.0)
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
        # Only the small segments merge into the new one: Whoosh's own policy would, on the first
        # update after a rebuild, merge two thirds of the index (minutes at 100,000 customers).
        if merge:
            writer.commit(mergetype=_merge_small_only)
        else:
            writer.commit(merge=False)
    except BaseException:
        writer.cancel()
        raise
    # After the commit: a crash in between only means re-indexing again.
    store.save_manifest(folder, manifest, changed=[*work.removed, *todo])
    return stats


def _merge_small_segments(vault: Vault, folder: Path) -> None:
    """Keep the one-file segments a watcher's updates leave bounded, without delaying the next update.

    Once there are ``SMALL_SEGMENTS`` of them, a background thread merges them
    into one segment in a folder of its own, holding no lock (a merge reads
    every small segment, and an update arriving meanwhile would wait for
    it); only swapping the merged segment in takes the writer lock, for a few
    milliseconds.  Should merges fall behind (``MAX_SMALL_SEGMENTS``), the
    update merges in place before returning."""
    small = _small_segments(folder)
    if len(small) >= MAX_SMALL_SEGMENTS:
        _merge_in_place(folder)
    elif len(small) >= SMALL_SEGMENTS:
        _start_merge(vault, folder)


def split_compound_segments(vault: Vault) -> int:
    """Rewrite each big compound segment (an index updated by an older version) as separate files, so
    opening the index stops copying it into memory; how many were split.  The parts are copied out of
    the compound file as they are, nothing is re-indexed; the table of contents then names the segment
    as separate files and the compound file goes.  A crash before that table is written leaves only
    stray copies (the next split overwrites them); after it, only the compound file (removed next time)."""
    with writer_lock(vault):
        return _split_compound(store.index_dir(vault))


def _split_compound(folder: Path) -> int:
    """``split_compound_segments`` with the writer lock held."""
    from whoosh import index as windex

    ix = windex.open_dir(str(folder))
    try:
        big = {s.segment_id(): s for s in ix._segments() if s.is_compound() and s.doc_count_all() >= SMALL_SEGMENT_DOCS}
        for segment in big.values():
            _copy_parts(folder, segment)
        if big:
            writer = _writer(ix, timeout=5.0)
            try:
                writer.commit(mergetype=lambda _w, segments: [_separate(s, big) for s in segments])
            except BaseException:
                writer.cancel()
                raise
        separate = {s.segment_id() for s in ix._segments() if not s.is_compound()}
    finally:
        ix.close()
    for name in os.listdir(folder):  # this split's, or what one cut short by a crash left
        segment_id, _, extension = name.partition(".")
        if (extension == "seg" and segment_id in separate) or (name.startswith(".") and name.endswith(".split")):
            with contextlib.suppress(OSError):  # still open elsewhere (Windows): the next split removes it
                os.remove(folder / name)
    return len(big)


def _copy_parts(folder: Path, segment: Any) -> None:
    """Each file of a compound segment, copied out beside it under its own name (temp file + rename)."""
    source = folder / segment.make_filename(segment.COMPOUND_EXT)
    from whoosh.filedb.filestore import FileStorage

    parts = segment.open_compound_file(FileStorage(str(folder)))
    try:
        ranges = {name: parts.range(name) for name in parts.list()}
    finally:
        parts.close()
    with source.open("rb") as handle:
        for name, (offset, length) in ranges.items():
            temp = folder / f".{name}.split"
            handle.seek(offset)
            with temp.open("wb") as out:
                while length > 0:
                    chunk = handle.read(min(length, 1 << 20))
                    if not chunk:
                        raise EOFError(f"{source.name} ends inside {name}")
                    out.write(chunk)
                    length -= len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, folder / name)


def _separate(segment: Any, split: dict[str, Any]) -> Any:
    if segment.segment_id() in split:
        segment.compound = False
    return segment


def _small_segments(folder: Path) -> list[Any]:
    from whoosh import index as windex

    ix = windex.open_dir(str(folder))
    try:
        return [segment for segment in ix._segments() if segment.doc_count_all() < SMALL_SEGMENT_DOCS]
    finally:
        ix.close()


def _merge_in_place(folder: Path) -> None:
    from whoosh import index as windex

    ix = windex.open_dir(str(folder))
    try:
        writer = _writer(ix, timeout=5.0)
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


class _Updates:
    """How many watched updates run in this process now; a background merge waits while any does
    (both are Python, one GIL: a merge running alongside would halve the update's speed)."""

    def __init__(self) -> None:
        self.running = 0
        self.idle = threading.Condition()

    def __enter__(self) -> None:
        with self.idle:
            self.running += 1

    def __exit__(self, *exc: object) -> None:
        with self.idle:
            self.running -= 1
            self.idle.notify_all()

    def wait(self) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.running == 0)


_updating = _Updates()
_merging: dict[str, threading.Thread] = {}
_merging_guard = threading.Lock()
PAUSE_EVERY = 128  # postings a merge copies between looks at whether an update is waiting


def _start_merge(vault: Vault, folder: Path) -> None:
    with _merging_guard:
        running = _merging.get(str(folder))
        if running is not None and running.is_alive():
            return
        thread = threading.Thread(target=_merge_beside, args=(vault, folder), name="crmnotes-merge", daemon=True)
        _merging[str(folder)] = thread
        thread.start()


def wait_for_merges(timeout: float = 60.0) -> None:
    """Let background merges finish (tests, and a process about to exit)."""
    with _merging_guard:
        threads = list(_merging.values())
    for thread in threads:
        thread.join(timeout)


def _merge_beside(vault: Vault, folder: Path) -> None:
    """Merge the small segments into a segment built beside the index, then swap it in under the lock.

    Whatever goes wrong (a rebuild replaced the index, another process merged
    first, a file vanished) only means this merge is dropped: the next update
    tries again."""
    from whoosh import index as windex
    from whoosh.reading import SegmentReader

    work = folder.with_name(f"{folder.name}.merge-{os.getpid()}")
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        ix = windex.open_dir(str(folder))
        try:
            small = [s for s in ix._segments() if s.doc_count_all() < SMALL_SEGMENT_DOCS]
            if len(small) < SMALL_SEGMENTS:
                return
            merged_ix = windex.create_in(str(work), ix.schema, indexname=ix.indexname)
            writer = _writer(merged_ix, pooled=True)
            writer.pause = _updating.wait
            docmaps = []
            for segment in small:
                docmaps.append(_live_docmap(segment, writer.docnum))
                reader = SegmentReader(ix.storage, ix.schema, segment)
                writer.add_reader(_Yielding(reader))
                reader.close()
            writer.commit(merge=False)
            merged = merged_ix._segments()[0] if merged_ix._segments() else None
        finally:
            ix.close()
        _swap_merged(vault, folder, work, small, docmaps, merged)
    except Exception:  # an optimisation that failed: the segments stay as they were
        pass
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Yielding:
    """A segment reader whose postings stop flowing while a watched update runs (see ``_Updates``)."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def iter_postings(self) -> Iterator[Any]:
        for count, posting in enumerate(self._reader.iter_postings()):
            if count % PAUSE_EVERY == 0:
                _updating.wait()
            yield posting


def _live_docmap(segment: Any, base: int) -> dict[int, int]:
    """Where ``add_reader`` puts each undeleted document of ``segment`` (in order, from ``base``)."""
    live = [docnum for docnum in range(segment.doc_count_all()) if not segment.is_deleted(docnum)]
    return {docnum: base + i for i, docnum in enumerate(live)}


def _swap_merged(vault: Vault, folder: Path, work: Path, small: list[Any], docmaps: list[dict[int, int]],
                 merged: Any) -> None:
    """Replace ``small`` by ``merged`` in the index, carrying over deletions made since the merge began."""
    from whoosh import index as windex

    ids = [segment.segment_id() for segment in small]
    with writer_lock(vault):
        ix = windex.open_dir(str(folder))
        try:
            now = {segment.segment_id(): segment for segment in ix._segments()}
            if any(i not in now for i in ids):
                return  # merged or rebuilt by someone else meanwhile
            for segment_id, docmap in zip(ids, docmaps, strict=True):
                for docnum in now[segment_id].deleted_docs():
                    if merged is not None and docnum in docmap:
                        merged.delete_document(docmap[docnum])
            if merged is not None:
                for name in os.listdir(work):
                    if name.startswith(merged.segment_id() + "."):
                        os.replace(work / name, folder / name)
            writer = _writer(ix, timeout=5.0)
            try:
                writer.commit(mergetype=lambda _w, segments: [s for s in segments if s.segment_id() not in ids]
                              + ([merged] if merged is not None and merged.doc_count() else []))
            except BaseException:
                writer.cancel()
                raise
        finally:
            ix.close()


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


def _writer(ix: Any, pooled: bool = False, **options: Any) -> Any:
    """A writer of ``ix``: Whoosh's own, or with ``pooled`` one whose new segment's postings go through
    ``pool.PoolWriter`` (the same segment files with far less work; the one user of Whoosh's private writer
    fields, which is why whoosh-reloaded is pinned exactly).  Every writer of the index comes from here.

    Segments are left as separate files, never one compound file: Whoosh copies a compound
    file's parts into memory (``BytesIO``) on every open, a cost that grows with the vault
    (at 100,000 customers a search process read a merged 580 MB segment into memory)."""
    options.setdefault("compound", False)
    if not pooled:
        return ix.writer(**options)
    from .pool import PoolWriter

    return PoolWriter(ix, **options)


# ------------------------------------------------------------------ rebuild


def _rebuild(vault: Vault, current: dict[str, tuple[int, int]], progress: Progress | None,
             workers: int | None, witness: str | None = None) -> RefreshStats:
    folder = store.index_dir(vault)
    fresh = folder.with_name(f"{folder.name}.new-{os.getpid()}")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    manifest = store.Manifest(store.config_state(vault))
    stats = RefreshStats(total=len(current), rebuilt=True)
    rels = sorted(current)
    count = default_workers() if workers is None else max(1, workers)
    try:
        if count <= 1 or len(rels) < PARALLEL_MIN_FILES:
            entries = _build_segment(vault, str(fresh), rels, progress, pool_bytes=POOL_BYTES)
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
    store.write_stamp(vault, fresh, store.read_manifest(fresh)[1], manifest.states(), witness)
    _swap(fresh, folder)
    return stats


def default_workers() -> int:
    """One rebuild worker per core, at most ``MAX_WORKERS`` (they share ``POOL_BYTES`` of postings)."""
    return min(os.cpu_count() or 1, MAX_WORKERS)


def _build_segment(vault: Vault, target: str, rels: list[str], progress: Progress | None = None,
                   total: int = 0, pool_bytes: int = 0) -> list[tuple[str, FileState, str]]:
    """Index ``rels`` into a new index in ``target``; (rel, state, error) of each file."""
    from whoosh import index as windex

    from .schema import build_schema

    ix = windex.create_in(target, build_schema())
    writer = _writer(ix, pooled=True)
    entries = []
    try:
        for done, rel in enumerate(rels, start=1):
            item = prepare(vault, rel)
            if item.fields is not None:
                writer.add_document(**item.fields)
            entries.append((item.rel, item.state, item.error))
            if writer.pool.estimated_bytes > (pool_bytes or POOL_BYTES):  # bounded: close this segment, start another
                writer.commit(merge=False)
                writer = _writer(ix, pooled=True)
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
    """Each worker process indexes a share of the files into segments of its
    own (reading, parsing, analysis and the postings all in parallel); the
    segments are then joined under one table of contents, without a merge.

    A share is a run of consecutive paths, and the segments are joined in
    share order: documents get the numbers a one-process build gives them,
    so equal scores rank in the same order however many workers built it."""
    from whoosh import index as windex
    from whoosh.filedb.filestore import FileStorage

    from .schema import build_schema

    bounds = [len(rels) * i // count for i in range(count + 1)]
    shares = [rels[bounds[i]:bounds[i + 1]] for i in range(count)]
    parts = [fresh / f"part-{i}" for i in range(count)]
    entries = _run_workers(vault, parts, shares, progress, len(rels))
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
    return entries


def _run_workers(vault: Vault, parts: list[Path], shares: list[list[str]], progress: Progress | None,
                 total: int) -> list[tuple[str, FileState, str]]:
    """Run ``_worker_build`` on every share at once; their entries in share order.

    The first worker to fail (an exception, or a process that died) stops the
    others at once rather than after their share, and fails the rebuild."""
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    # spawn, not fork: the TUI and the watcher run threads, and forking a threaded process can deadlock.
    context = multiprocessing.get_context("spawn")
    # one share per process, which exits when done: an idle worker would keep its postings' memory
    # (Python seldom gives it back) while the others finish and the parent collects the entries
    pool = ProcessPoolExecutor(len(shares), mp_context=context, max_tasks_per_child=1)
    try:
        futures = [pool.submit(_worker_build, str(vault.root), str(part), share, max(1, POOL_BYTES // len(shares)))
                   for part, share in zip(parts, shares, strict=True)]
        pending, done = set(futures), 0
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                if future.exception() is not None:
                    raise RebuildFailed(f"the index rebuild failed: a worker process stopped ({future.exception()!r}).",
                                        "The previous index is kept. Try again, or with --jobs 1.") \
                        from future.exception()
                done += len(future.result())
            if progress:
                progress(done, total)
        return [entry for future in futures for entry in future.result()]
    except BaseException:
        _stop(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop(pool: Any) -> None:
    """End a pool's worker processes now (``shutdown`` alone waits for every running share to finish)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()


def _worker_build(root: str, target: str, rels: list[str], pool_bytes: int) -> list[tuple[str, FileState, str]]:
    os.makedirs(target, exist_ok=True)
    return _build_segment(Vault(Path(root)), target, rels, pool_bytes=pool_bytes)


def _remove_leftovers(folder: Path) -> None:
    """Remove what killed processes left beside the index: rebuilds (``index.new-PID``, ``index.old-PID``)
    and background merges (``index.merge-PID``).

    Called with the writer lock held, so no rebuild or swap is running in any
    process: their folders are leftovers whoever made them.  A merge works
    without the lock, so its folder goes only once its process is gone (or
    after ``STALE_MERGE_SECONDS``, far longer than any merge takes)."""
    prefix = folder.name + "."
    try:
        names = [name for name in os.listdir(folder.parent) if name.startswith(prefix)]
    except OSError:
        return
    for name in names:
        kind, _, pid = name[len(prefix):].partition("-")
        path = folder.parent / name
        if not pid.isdigit() or kind not in ("new", "old", "merge"):
            continue
        if kind == "merge" and _process_alive(int(pid)) and not _older_than(path, STALE_MERGE_SECONDS):
            continue
        shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":
        return True  # our own merge may be running; elsewhere there is no harmless probe (age decides)
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but belongs to someone else
    return True


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


def _swap(fresh: Path, folder: Path) -> None:
    old = folder.with_name(f"{folder.name}.old-{os.getpid()}")
    if folder.exists():
        os.replace(folder, old)
    os.replace(fresh, folder)
    shutil.rmtree(old, ignore_errors=True)
