"""A rebuild's segments joined lazily (issue 19): the same answers after the merge, nothing a write
made meanwhile is lost, and a merge that stops half way leaves the index as it was."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from crmnotes import search
from crmnotes.search import index as index_module
from crmnotes.search import pool, store
from crmnotes.search.session import close_all
from crmnotes.vault import Vault

from .conftest import Crm
from .test_index_build import QUERIES, fill

WAIT = 60.0  # an upper bound for slow CI, never a timing assertion: the wait ends as soon as the merge is in
FILES = 60


def ranked(vault: Vault) -> dict[str, list[tuple[str, float]]]:
    """Every query's hits in rank order with their scores (what a merge must not change)."""
    close_all()  # as another process sees the index: nothing remembered
    return {q: [(h.rel, round(h.score, 9)) for h in search.search(vault, q, limit=0)] for q in QUERIES}


def segment_docs(vault: Vault) -> list[int]:
    from whoosh import index as windex

    ix = windex.open_dir(str(store.index_dir(vault)))
    try:
        return [segment.doc_count() for segment in ix._segments()]
    finally:
        ix.close()


@pytest.fixture
def split(empty_vault: Vault, monkeypatch: pytest.MonkeyPatch) -> Vault:
    """A vault rebuilt by two workers into many segments (a small pool fills every few files)."""
    fill(empty_vault, FILES)
    monkeypatch.setattr(index_module, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(index_module, "POOL_BYTES", 400_000)
    monkeypatch.setattr(index_module, "SMALL_SEGMENT_DOCS", 2)  # a watcher's one-file segments stay small
    search.refresh(empty_vault, rebuild=True, workers=2)
    assert len(segment_docs(empty_vault)) > index_module.MAX_BIG_SEGMENTS
    assert (store.index_dir(empty_vault) / store.MERGE_WANTED).exists()
    return empty_vault


def test_joining_a_rebuilds_segments_keeps_every_answer_and_score(split: Vault) -> None:
    before = ranked(split)
    assert before["冷链"] and before["续约"] and [rel for rel, _ in before["name:南风贸易3"]] == \
        ["customers/c3/customer-3.md"]
    index_module.merge_segments(split)
    assert segment_docs(split) == [FILES]
    assert not (store.index_dir(split) / store.MERGE_WANTED).exists()
    assert ranked(split) == before
    assert not list(split.cache_dir.glob("index.join-*"))


def test_the_joined_segment_is_the_one_a_single_process_build_writes(split: Vault, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Byte for byte: postings renumbered and re-blocked exactly as a one-segment build lays them out."""
    index_module.merge_segments(split)
    joined = segment_files(store.index_dir(split))
    monkeypatch.setattr(index_module, "POOL_BYTES", 1 << 30)
    search.refresh(split, rebuild=True, workers=1)
    assert segment_docs(split) == [FILES]
    assert segment_files(store.index_dir(split)) == joined


def segment_files(folder: Path) -> dict[str, bytes]:
    """The one segment's files by kind (their names carry a random segment id)."""
    found = {}
    for name in os.listdir(folder):
        if name.startswith("MAIN_") and "." in name and not name.endswith(".toc"):
            found[name.split(".", 1)[1]] = (folder / name).read_bytes()
    return found


def test_writes_during_the_join_are_kept_and_counted(split: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    """The merge copies the segments without the lock; a changed, a new and a deleted customer that
    land meanwhile (the watcher's way) must all be in the index it swaps in."""
    changed = split.customers_dir / "c3" / "customer-3.md"
    gone = split.customers_dir / "c5" / "customer-5.md"
    added = split.customers_dir / "c1" / "customer-new.md"
    original = index_module._swap_merged
    landed = []

    def write_first(*args: object) -> None:
        changed.write_text(changed.read_text(encoding="utf-8") + "\n改为冷库租赁 zqxchanged\n", encoding="utf-8")
        added.write_text(changed.read_text(encoding="utf-8").replace("南风贸易3", "东方新客"), encoding="utf-8")
        gone.unlink()
        stats = search.refresh(split, paths={rel(split, changed), rel(split, added), rel(split, gone)})
        landed.append((stats.changed, stats.added, stats.removed))
        original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(index_module, "_swap_merged", write_first)
    index_module.merge_segments(split)
    assert landed == [(1, 1, 1)]
    assert sum(segment_docs(split)) == FILES  # one changed (counted once), one added, one removed
    assert len(segment_docs(split)) == 2  # the join and the update's own segment
    close_all()
    assert sorted(h.rel for h in search.search(split, "zqxchanged", limit=0)) == \
        ["customers/c1/customer-new.md", "customers/c3/customer-3.md"]
    assert not search.search(split, "编号5", limit=0)
    assert search.refresh(split).changes == 0  # the manifest agrees with the index


def rel(vault: Vault, path: Path) -> str:
    return path.relative_to(vault.root).as_posix()


def test_an_interrupted_join_leaves_a_usable_index(split: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    before = ranked(split)
    segments = segment_docs(split)
    written = []

    def stop_half_way(self: pool.SegmentsPool, fieldwriter: object, *args: object) -> None:
        written.append(True)
        raise OSError("disk full")  # what a killed or failing merge amounts to: no swap

    monkeypatch.setattr(pool.SegmentsPool, "write", stop_half_way)
    index_module.merge_segments(split)
    assert written and segment_docs(split) == segments
    assert ranked(split) == before
    assert (store.index_dir(split) / store.MERGE_WANTED).exists()  # still wanted: tried again later
    assert not list(split.cache_dir.glob("index.join-*"))


def test_a_killed_joins_folder_is_removed_and_the_join_tried_again(split: Vault) -> None:
    before = ranked(split)
    leftover = split.cache_dir / "index.join-999999999"  # no such process
    leftover.mkdir()
    (leftover / "MAIN_half.pst").write_bytes(b"half written")
    search.refresh(split, rebuild=False, current=None)  # nothing changed: no lock taken, the folder stays
    with index_module.writer_lock(split):
        index_module._remove_leftovers(store.index_dir(split))
    assert not leftover.exists()
    index_module.merge_segments(split)
    assert segment_docs(split) == [FILES] and ranked(split) == before


def test_crm_index_joins_a_rebuilds_segments_in_the_background(empty_vault: Vault,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``crm index`` starts the merge in a process of its own and returns; searches answer throughout.
    (That process has the real segment sizes: four workers write four segments of 100 files.)"""
    fill(empty_vault, 400)
    monkeypatch.setattr(index_module, "PARALLEL_MIN_FILES", 1)
    search.refresh(empty_vault, rebuild=True, workers=4)
    assert segment_docs(empty_vault) == [100] * 4
    before = ranked(empty_vault)
    Crm(empty_vault.root)("index")
    folder = store.index_dir(empty_vault)
    deadline = time.monotonic() + WAIT
    while (folder / store.MERGE_WANTED).exists() and time.monotonic() < deadline:
        assert ranked(empty_vault) == before  # while the merge runs
        time.sleep(0.05)
    assert not (folder / store.MERGE_WANTED).exists()
    assert segment_docs(empty_vault) == [400] and ranked(empty_vault) == before
    assert not index_module.merge_later(empty_vault)  # nothing left to merge


def test_a_watcher_joins_a_rebuilds_segments_itself(split: Vault) -> None:
    path = split.customers_dir / "c2" / "customer-2.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n新增备注 zqxwatched\n", encoding="utf-8")
    assert search.refresh(split, paths={rel(split, path)}).changed == 1
    index_module.wait_for_merges(WAIT)
    assert not (store.index_dir(split) / store.MERGE_WANTED).exists()
    assert sorted(segment_docs(split)) == [1, FILES - 1]  # the join, and the update's small segment
    close_all()
    assert [h.rel for h in search.search(split, "zqxwatched")] == ["customers/c2/customer-2.md"]
