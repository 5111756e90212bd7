"""A watcher's refresh touches only the paths it reported (no walk of the vault), and
``crm watch`` as a real process makes writes searchable."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crmnotes import search
from crmnotes.fsutil import atomic_write
from crmnotes.search import store
from crmnotes.search.index import RefreshStats
from crmnotes.vault import Vault
from crmnotes.watch import VaultWatcher

WAIT = 30.0  # an upper bound for slow CI, never a timing assertion: every wait ends as soon as the result is there

CUSTOMER = "---\nid: c-20250101-{id}\nname: {name}\nindustry: internet\ncontact: 王经理\n---\n\n# {name}\n\n{body}\n"


def write_customer(vault: Vault, rel: str, name: str, body: str, ident: str = "abcd1234") -> Path:
    path = vault.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, CUSTOMER.format(id=ident, name=name, body=body).encode("utf-8"))
    return path


def names(vault: Vault, query: str) -> list[str]:
    return sorted(hit.customer.name for hit in search.search(vault, query))


@pytest.fixture
def indexed(empty_vault: Vault) -> Vault:
    write_customer(empty_vault, "customers/x/xingchen.md", "星辰科技", "客户关注冷链运输", "aaaa1111")
    write_customer(empty_vault, "customers/h/haiyang.md", "海洋物流", "需要仓储方案", "bbbb2222")
    write_customer(empty_vault, "customers/a/acme.md", "Acme Freight", "asked for a renewal quote", "cccc3333")
    assert search.refresh(empty_vault).added == 3
    return empty_vault


def test_refresh_of_paths_reindexes_only_those_paths(indexed: Vault) -> None:
    write_customer(indexed, "customers/x/xingchen.md", "星辰科技", "客户改为询问跨境电商报关", "aaaa1111")
    write_customer(indexed, "customers/h/haiyang.md", "海洋物流", "港口吞吐量统计", "bbbb2222")
    stats = search.refresh(indexed, paths={"customers/x/xingchen.md"})
    assert (stats.added, stats.changed, stats.removed, stats.total) == (0, 1, 0, 3)
    session_free = Vault(indexed.root)  # a fresh Vault: nothing cached about the files
    manifest = store.load_manifest(store.index_dir(session_free))
    assert manifest is not None
    # the other changed file was not looked at: the manifest still holds its old state
    old_size = manifest.files["customers/h/haiyang.md"].state.size
    assert old_size != (indexed.root / "customers/h/haiyang.md").stat().st_size
    assert manifest.files["customers/x/xingchen.md"].state.size == (
        indexed.root / "customers/x/xingchen.md").stat().st_size
    # and the next full refresh (what any search does) catches up with it
    assert search.refresh(indexed).changed == 1
    assert names(indexed, "跨境电商") == ["星辰科技"]
    assert names(indexed, "吞吐量") == ["海洋物流"]
    assert names(indexed, "冷链") == []


def test_refresh_of_paths_adds_removes_and_ignores_what_a_walk_ignores(indexed: Vault, tmp_path: Path) -> None:
    root = indexed.root
    write_customer(indexed, "customers/n/nanfeng.md", "南风贸易", "新客户：茶叶出口", "dddd4444")
    (root / "customers/a/acme.md").unlink()
    write_customer(indexed, "customers/t/.~crm-half.md", "半截", "临时文件", "eeee5555")
    write_customer(indexed, "customers/.hidden/secret.md", "隐藏", "隐藏文件夹", "ffff6666")
    outside = tmp_path / "outside.md"
    outside.write_text(CUSTOMER.format(id="gggg7777", name="外部", body="外部链接"), encoding="utf-8")
    os.symlink(outside, root / "customers/link.md")
    stats = search.refresh(indexed, paths={
        "customers/n/nanfeng.md", "customers/a/acme.md", "customers/t/.~crm-half.md",
        "customers/.hidden/secret.md", "customers/link.md", "customers/missing.md", "../outside.md"})
    assert (stats.added, stats.changed, stats.removed) == (1, 0, 1)
    assert names(indexed, "茶叶") == ["南风贸易"]
    assert names(indexed, "renewal") == []
    assert names(indexed, "外部链接") == [] and names(indexed, "临时文件") == [] and names(indexed, "隐藏文件夹") == []
    full = store.current_files(indexed)[0]
    assert set(full) == set(store.load_manifest(store.index_dir(indexed)).files)  # type: ignore[union-attr]


def test_a_config_change_among_the_paths_means_the_full_refresh(indexed: Vault) -> None:
    config = indexed.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "\n# 改动\n", encoding="utf-8")
    write_customer(indexed, "customers/h/haiyang.md", "海洋物流", "集装箱堆场", "bbbb2222")
    stats = search.refresh(indexed, paths={"crmnotes.yaml"})
    assert stats.rebuilt and stats.total == 3
    assert names(indexed, "集装箱") == ["海洋物流"]


def test_a_missing_index_is_built_even_when_paths_are_given(empty_vault: Vault) -> None:
    write_customer(empty_vault, "customers/x/xingchen.md", "星辰科技", "客户关注冷链运输", "aaaa1111")
    write_customer(empty_vault, "customers/h/haiyang.md", "海洋物流", "需要仓储方案", "bbbb2222")
    stats = search.refresh(empty_vault, paths={"customers/x/xingchen.md"})
    assert stats.rebuilt and stats.total == 2
    assert names(empty_vault, "仓储") == ["海洋物流"]


def test_the_manifest_read_by_this_process_follows_a_write_by_another(indexed: Vault) -> None:
    folder = store.index_dir(indexed)
    first = store.load_manifest(folder)
    assert first is not None and len(first.files) == 3
    script = ("import sys; from pathlib import Path; from crmnotes.search import store\n"
              "folder = Path(sys.argv[1]); m = store.load_manifest(folder)\n"
              "m.files.pop('customers/a/acme.md'); store.save_manifest(folder, m)\n")
    subprocess.run([sys.executable, "-c", script, str(folder)], check=True, timeout=120)
    again = store.load_manifest(folder)
    assert again is not None and set(again.files) == {"customers/x/xingchen.md", "customers/h/haiyang.md"}
    again.files.clear()  # a caller's changes never leak into what the next caller gets
    assert len(store.load_manifest(folder).files) == 2  # type: ignore[union-attr]


def test_watcher_batches_feed_refresh_of_paths(indexed: Vault) -> None:
    batches: list[set[str] | None] = []
    results: list[RefreshStats] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def changed(paths: set[str] | None) -> None:
        batches.append(paths)
        results.append(search.refresh(indexed, paths=paths))
        if names(indexed, "报关") == ["星辰科技"]:
            done.set()

    with VaultWatcher(indexed.root, changed, errors.append):
        time.sleep(0.2)
        path = indexed.root / "customers/x/xingchen.md"
        temp = path.with_name(".xingchen.md.swp")  # an editor's save: temp file, then rename over
        temp.write_text(CUSTOMER.format(id="aaaa1111", name="星辰科技", body="跨境电商报关"), encoding="utf-8")
        os.replace(temp, path)
        assert done.wait(WAIT)
    assert errors == []
    assert all(batch is not None and batch <= {"customers/x/xingchen.md"} for batch in batches)
    assert sum(r.changed for r in results) == 1 and all(r.total == 3 for r in results)


def indexed_terms(vault: Vault, word: str) -> int:
    """Documents whose body holds ``word``, read from the index as it is (no refresh first)."""
    from whoosh import index as windex

    from crmnotes.search.schema import text_analyzer

    term = next(token.text for token in text_analyzer()(word))
    try:
        ix = windex.open_dir(str(store.index_dir(vault)))
        with ix.searcher() as searcher:
            return int(searcher.reader().doc_frequency("body", term))
    except Exception:  # the index is being committed this instant: ask again
        return 0


def test_crm_watch_process_makes_writes_searchable(indexed: Vault) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "crmnotes", "--vault", str(indexed.root), "watch"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
                            env=env)
    try:
        assert proc.stdout is not None
        assert "watching" in proc.stdout.readline()
        for word, rename in (("reefer", False), ("bonded", True)):
            path = indexed.root / "customers/h/haiyang.md"
            text = CUSTOMER.format(id="bbbb2222", name="海洋物流", body=f"冷藏集装箱 {word}")
            if rename:
                temp = path.with_name(".haiyang.md.swp")
                temp.write_text(text, encoding="utf-8")
                os.replace(temp, path)
            else:
                path.write_text(text, encoding="utf-8")
            deadline = time.monotonic() + WAIT
            while not indexed_terms(indexed, word) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert indexed_terms(indexed, word) == 1  # the watcher process put it there; nobody else refreshed
    finally:
        proc.terminate()
        proc.wait(WAIT)
    assert names(indexed, "bonded") == ["海洋物流"] and names(indexed, "reefer") == []


def segment_sizes(vault: Vault) -> list[int]:
    from whoosh import index as windex

    ix = windex.open_dir(str(store.index_dir(vault)))
    try:
        assert ix.doc_count() == 3  # never a customer missing or twice, merge or no merge
        return [segment.doc_count() for segment in ix._segments()]
    finally:
        ix.close()


def update_xingchen(vault: Vault, i: int) -> None:
    write_customer(vault, "customers/x/xingchen.md", "星辰科技", f"第{i}次更新 marker{i}", "aaaa1111")
    assert search.refresh(vault, paths={"customers/x/xingchen.md"}).changed == 1


def test_many_watched_updates_keep_the_segment_count_bounded(indexed: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmnotes.search import index as index_module

    monkeypatch.setattr(index_module, "SMALL_SEGMENTS", 3)
    counts = []
    for i in range(8):
        update_xingchen(indexed, i)
        segment_sizes(indexed)  # consistent while a merge runs in the background
        index_module.wait_for_merges()
        counts.append(len(segment_sizes(indexed)))
    assert max(counts) <= 3 and min(counts) < max(counts)  # merged along the way, never piling up
    assert not list(indexed.cache_dir.glob("index.merge-*"))  # the merge's own folder is gone
    assert names(indexed, "marker7") == ["星辰科技"] and names(indexed, "marker6") == []
    assert names(indexed, "仓储方案") == ["海洋物流"] and names(indexed, "renewal") == ["Acme Freight"]


def test_an_update_during_a_background_merge_is_kept(indexed: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    """The merge copies the small segments without the lock; an update that lands meanwhile deletes
    the old copy of its customer in a small segment, and that deletion must reach the merged one."""
    from crmnotes.search import index as index_module

    monkeypatch.setattr(index_module, "SMALL_SEGMENTS", 3)
    original = index_module._swap_merged
    landed = []

    def update_first(*args: object) -> None:
        if not landed:
            landed.append(True)
            update_xingchen(indexed, 100)  # its old copy sits in a segment being merged
        original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(index_module, "_swap_merged", update_first)
    for i in range(3):
        update_xingchen(indexed, i)
    index_module.wait_for_merges()
    assert landed
    assert segment_sizes(indexed) and names(indexed, "marker100") == ["星辰科技"]
    assert names(indexed, "marker2") == [] and names(indexed, "星辰科技") == ["星辰科技"]


def test_updates_merge_in_place_when_background_merges_fall_behind(indexed: Vault,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from crmnotes.search import index as index_module

    monkeypatch.setattr(index_module, "SMALL_SEGMENTS", 2)
    monkeypatch.setattr(index_module, "MAX_SMALL_SEGMENTS", 4)
    monkeypatch.setattr(index_module, "_start_merge", lambda vault, folder: None)  # never gets to run
    counts = []
    for i in range(9):
        update_xingchen(indexed, i)
        counts.append(len(segment_sizes(indexed)))
    assert max(counts) <= 5 and min(counts) < max(counts)
    assert names(indexed, "marker8") == ["星辰科技"] and names(indexed, "marker7") == []


def test_warm_up_before_watching_works_with_or_without_an_index(indexed: Vault) -> None:
    import shutil

    from crmnotes.search import index as index_module

    index_module.warm_up(indexed)
    shutil.rmtree(store.index_dir(indexed))
    index_module.warm_up(indexed)  # nothing to open: still fine
    write_customer(indexed, "customers/x/xingchen.md", "星辰科技", "marker1", "aaaa1111")
    search.refresh(indexed, paths={"customers/x/xingchen.md"})  # a missing index is rebuilt, as before
    assert names(indexed, "marker1") == ["星辰科技"]


def test_a_background_merge_waits_while_an_update_runs(indexed: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmnotes.search import index as index_module

    monkeypatch.setattr(index_module, "SMALL_SEGMENTS", 3)
    monkeypatch.setattr(index_module, "_start_merge", lambda vault, folder: None)  # started by hand below
    for i in range(3):
        update_xingchen(indexed, i)
    before = len(segment_sizes(indexed))
    with index_module._updating:  # an update is running in this process
        merge = threading.Thread(target=index_module._merge_beside, args=(indexed, store.index_dir(indexed)))
        merge.start()
        merge.join(0.5)
        assert merge.is_alive()  # paused, not done: it cannot finish before the update does
        assert len(segment_sizes(indexed)) == before
    merge.join(WAIT)
    assert not merge.is_alive() and len(segment_sizes(indexed)) < before
    assert names(indexed, "marker2") == ["星辰科技"]


# ------------------------------------------------------------------ the manifest's journal


def fresh_manifest(folder: Path) -> dict | None:
    """The manifest as another process reads it (nothing remembered in this one)."""
    import json

    script = ("import json, sys; from pathlib import Path; from crmnotes.search import store\n"
              "m = store.load_manifest(Path(sys.argv[1])); print(json.dumps(m and m.to_json()))\n")
    done = subprocess.run([sys.executable, "-c", script, str(folder)], check=True, timeout=120,
                          capture_output=True, text=True)
    return json.loads(done.stdout)


def test_a_watched_update_appends_a_journal_line_not_the_whole_manifest(indexed: Vault) -> None:
    folder = store.index_dir(indexed)
    manifest_file = folder / store.MANIFEST
    before = (manifest_file.read_bytes(), manifest_file.stat().st_ino)
    write_customer(indexed, "customers/x/xingchen.md", "星辰科技", "客户改为询问跨境电商报关", "aaaa1111")
    assert search.refresh(indexed, paths={"customers/x/xingchen.md"}).changed == 1
    write_customer(indexed, "customers/d/dongfang.md", "东方电气", "招标文件已发", "dddd4444")
    assert search.refresh(indexed, paths={"customers/d/dongfang.md"}).added == 1
    (indexed.root / "customers/h/haiyang.md").unlink()
    assert search.refresh(indexed, paths={"customers/h/haiyang.md"}).removed == 1
    assert (manifest_file.read_bytes(), manifest_file.stat().st_ino) == before
    assert len((folder / store.JOURNAL).read_bytes().splitlines()) == 4  # the manifest it extends, 3 updates
    in_process = store.load_manifest(folder)
    assert in_process is not None and fresh_manifest(folder) == in_process.to_json()
    assert set(in_process.files) == {"customers/x/xingchen.md", "customers/d/dongfang.md", "customers/a/acme.md"}
    stats = search.refresh(Vault(indexed.root))
    assert (stats.added, stats.changed, stats.removed) == (0, 0, 0)
    assert names(indexed, "跨境电商") == ["星辰科技"] and names(indexed, "招标") == ["东方电气"]
    assert names(indexed, "仓储") == []


def test_a_journal_cut_short_or_left_from_an_older_manifest_is_not_applied(indexed: Vault) -> None:
    folder = store.index_dir(indexed)
    journal = folder / store.JOURNAL
    write_customer(indexed, "customers/x/xingchen.md", "星辰科技", "冷链车队扩容到三十台", "aaaa1111")
    search.refresh(indexed, paths={"customers/x/xingchen.md"})
    write_customer(indexed, "customers/a/acme.md", "Acme Freight", "renewal signed", "cccc3333")
    search.refresh(indexed, paths={"customers/a/acme.md"})
    journal.write_bytes(journal.read_bytes()[:-5])  # a crash in the middle of the last line
    read = fresh_manifest(folder)
    assert read is not None
    acme = read["files"]["customers/a/acme.md"]
    assert acme[0] != (indexed.root / "customers/a/acme.md").stat().st_size  # that update is not applied
    assert read["files"]["customers/x/xingchen.md"][0] == (indexed.root / "customers/x/xingchen.md").stat().st_size
    write_customer(indexed, "customers/h/haiyang.md", "海洋物流", "港口吞吐量统计", "bbbb2222")
    search.refresh(indexed, paths={"customers/h/haiyang.md"})  # no line after a cut one: the manifest is rewritten
    assert not journal.exists()
    stats = search.refresh(Vault(indexed.root))
    assert (stats.added, stats.changed, stats.removed) == (0, 1, 0)  # what the cut line missed: indexed again
    assert names(indexed, "renewal") == ["Acme Freight"] and names(indexed, "冷链车队") == ["星辰科技"]
    write_customer(indexed, "customers/a/acme.md", "Acme Freight", "renewal cancelled", "cccc3333")
    search.refresh(indexed, paths={"customers/a/acme.md"})
    old_journal = journal.read_bytes()
    manifest = store.load_manifest(folder)
    assert manifest is not None
    store.save_manifest(folder, manifest)  # the whole file written anew: a journal left beside it is another's
    journal.write_bytes(old_journal.replace(b'"customers/a/acme.md": [', b'"customers/x/xingchen.md": [1, '))
    assert fresh_manifest(folder) == manifest.to_json()


def test_a_long_journal_is_folded_into_the_manifest(indexed: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "JOURNAL_MIN_BYTES", 0)  # a quarter of this small manifest is two lines or so
    folder = store.index_dir(indexed)
    rewrites = 0
    for round_ in range(8):
        inode = (folder / store.MANIFEST).stat().st_ino
        write_customer(indexed, "customers/x/xingchen.md", "星辰科技", f"第{round_}次报价", "aaaa1111")
        search.refresh(indexed, paths={"customers/x/xingchen.md"})
        rewrites += (folder / store.MANIFEST).stat().st_ino != inode
        size = (folder / store.MANIFEST).stat().st_size
        assert not (folder / store.JOURNAL).exists() or (folder / store.JOURNAL).stat().st_size < size
    assert rewrites >= 2
    assert fresh_manifest(folder) == store.load_manifest(folder).to_json()  # type: ignore[union-attr]
    assert names(indexed, "第7次报价") == ["星辰科技"]
