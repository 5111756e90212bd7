"""``crm index`` with nothing changed answers from the stamp (no manifest read); any change still gets through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crmnotes import fsutil, search
from crmnotes.config import CONFIG_FILE
from crmnotes.search import index, store
from crmnotes.vault import Vault

CUSTOMER = "---\nid: c-20250101-{id}\nname: {name}\ncontact: 王经理\n---\n\n# {name}\n\n{body}\n"


def write(vault: Vault, rel: str, name: str, body: str, ident: str) -> Path:
    path = vault.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CUSTOMER.format(id=ident, name=name, body=body), encoding="utf-8")
    return path


@pytest.fixture
def indexed(empty_vault: Vault) -> Vault:
    write(empty_vault, "customers/x/xingchen.md", "星辰科技", "客户关注冷链运输", "aaaa1111")
    write(empty_vault, "customers/h/haiyang.md", "海洋物流", "需要仓储方案", "bbbb2222")
    assert search.refresh(empty_vault, rebuild=True).rebuilt
    return empty_vault


def stamp_path(vault: Vault) -> Path:
    return store.index_dir(vault) / store.STAMP


def test_a_rebuild_leaves_a_stamp_that_answers_without_the_manifest(indexed: Vault) -> None:
    assert stamp_path(indexed).exists()
    manifest = store.index_dir(indexed) / store.MANIFEST
    stat = manifest.stat()
    manifest.write_bytes(b"x" * stat.st_size)  # unreadable, but the same size and mtime: the stamp still vouches
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    store._cache.clear()
    stats = search.refresh(indexed)
    assert stats.changes == 0 and not stats.rebuilt and stats.total == 2


def test_every_kind_of_change_gets_past_the_stamp(indexed: Vault) -> None:
    path = indexed.root / "customers/x/xingchen.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("冷链运输", "跨境电商"), encoding="utf-8")  # same size, new mtime
    assert search.refresh(indexed).changed == 1
    assert [h.customer.name for h in search.search(indexed, "跨境电商")] == ["星辰科技"]
    write(indexed, "customers/a/acme.md", "Acme Freight", "asked for a renewal quote", "cccc3333")
    assert search.refresh(indexed).added == 1
    (indexed.root / "customers/h/haiyang.md").unlink()
    assert search.refresh(indexed).removed == 1
    assert search.refresh(indexed).changes == 0
    config = indexed.root / CONFIG_FILE
    config.write_text(config.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert search.refresh(indexed).rebuilt


def test_a_manifest_written_by_a_watcher_voids_the_stamp(indexed: Vault) -> None:
    before = json.loads(stamp_path(indexed).read_bytes())
    path = write(indexed, "customers/x/xingchen.md", "星辰科技", "第二次 跟进", "aaaa1111")
    assert search.refresh(indexed, paths={"customers/x/xingchen.md"}).changed == 1  # no stamp written here
    assert not store.stamped(indexed, store.index_dir(indexed), store.current_files(indexed)[0])
    assert search.refresh(indexed).changes == 0  # the slow check agrees, and stamps again
    after = json.loads(stamp_path(indexed).read_bytes())
    assert after["manifest"] != before["manifest"] and after["files"] != before["files"]
    assert store.stamped(indexed, store.index_dir(indexed), store.current_files(indexed)[0])
    assert path.exists()


@pytest.mark.parametrize("damage", [b"", b"{", b"[]", b'{"files": null}', b'{"version": 6, "files": "x"}'])
def test_a_damaged_stamp_only_means_the_slow_check(indexed: Vault, damage: bytes) -> None:
    stamp_path(indexed).write_bytes(damage)
    assert search.refresh(indexed).changes == 0
    assert store.stamped(indexed, store.index_dir(indexed), store.current_files(indexed)[0])


def test_crm_index_as_a_process_with_nothing_changed(indexed: Vault) -> None:
    done = subprocess.run([sys.executable, "-m", "crmnotes", "--vault", str(indexed.root), "index", "--json"],
                          capture_output=True, text=True, check=True, timeout=120)
    data = json.loads(done.stdout)
    assert (data["total"], data["added"], data["changed"], data["removed"], data["rebuilt"]) == (2, 0, 0, 0, False)


def vouched(vault: Vault) -> int | None:
    """What the index's stamp says of customers/ as find lists it now (see ``index.witnessed_fresh``)."""
    return index.witnessed_fresh(vault, fsutil.tree_fingerprint(vault.customers_dir))


def stamp(vault: Vault) -> dict[str, object]:
    return json.loads(stamp_path(vault).read_bytes())


def rename(vault: Vault) -> None:
    old = vault.root / "customers/h/haiyang.md"
    old.rename(old.with_name("海洋物流.md"))


def edit_same_size(vault: Vault) -> None:
    path = vault.root / "customers/x/xingchen.md"
    path.write_text(path.read_text(encoding="utf-8").replace("冷链运输", "跨境电商"), encoding="utf-8")


def add_in_new_folder(vault: Vault) -> None:
    write(vault, "customers/新/acme.md", "Acme Freight", "asked for a renewal quote", "cccc3333")


def delete(vault: Vault) -> None:
    (vault.root / "customers/h/haiyang.md").unlink()


@pytest.mark.parametrize("change", [edit_same_size, rename, add_in_new_folder, delete])
def test_a_second_check_answers_from_the_fingerprint_of_customers_and_no_change_gets_past_it(
        indexed: Vault, change: object) -> None:
    assert isinstance(stamp(indexed)["witness"], str) and stamp(indexed)["count"] == 2  # the rebuild's
    assert vouched(indexed) == 2
    assert search.refresh(indexed).total == 2
    change(indexed)  # type: ignore[operator]
    assert vouched(indexed) is None
    stats = search.refresh(indexed)
    assert stats.changes >= 1 and stats.total == len(store.current_files(indexed)[0])
    assert vouched(indexed) is None  # an update writes no stamp: the next check walks, then stamps
    assert search.refresh(indexed).changes == 0 and vouched(indexed) == stats.total


def test_a_search_process_started_after_a_change_finds_it(indexed: Vault) -> None:
    """A new process's first search trusts the fingerprint only when it matches the stored one."""
    assert search.refresh(indexed).changes == 0
    edit_same_size(indexed)
    done = subprocess.run([sys.executable, "-m", "crmnotes", "--vault", str(indexed.root), "search", "跨境电商",
                           "--json"], capture_output=True, text=True, check=True, timeout=120)
    assert [hit["name"] for hit in json.loads(done.stdout)] == ["星辰科技"]
    again = subprocess.run([sys.executable, "-m", "crmnotes", "--vault", str(indexed.root), "search", "冷链运输",
                            "--json"], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(again.stdout) == []


def test_a_link_among_customers_means_the_walk(indexed: Vault) -> None:
    """The walk stats what a link points to; the link's own entry would not show an edit of it."""
    target = indexed.root / "customers/x/xingchen.md"
    (indexed.root / "customers/link.md").symlink_to(target)
    assert fsutil.tree_fingerprint(indexed.customers_dir) is None
    assert search.refresh(indexed).added == 1
    assert search.refresh(indexed).changes == 0 and vouched(indexed) is None
    edit_same_size(indexed)
    assert search.refresh(indexed).changed == 2


def test_the_fingerprint_sees_an_edit_that_keeps_size_and_mtime(indexed: Vault) -> None:
    """Stricter than the walk (the change time moves): a false "changed" costs one walk, never a stale answer."""
    assert search.refresh(indexed).changes == 0
    before = fsutil.tree_fingerprint(indexed.customers_dir)
    path = indexed.root / "customers/x/xingchen.md"
    stat = path.stat()
    edit_same_size(indexed)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert before is not None and fsutil.tree_fingerprint(indexed.customers_dir) not in (None, before)


def test_a_new_sessions_first_answer_stands_only_when_the_fingerprint_vouches_for_the_index(indexed: Vault) -> None:
    """The first search of a session runs while find fingerprints customers/; an answer from a stale
    index is thrown away and asked again after the walk, and a long-lived session walks from then on."""
    from crmnotes.search import session as session_mod

    session_mod.close_all()
    assert [h.customer.name for h in search.search(indexed, "冷链运输")] == ["星辰科技"]  # vouched for
    session_mod.close_all()
    edit_same_size(indexed)  # the stamp no longer vouches: the answer from the index as it was must not stand
    assert [h.customer.name for h in search.search(indexed, "跨境电商")] == ["星辰科技"]
    assert search.search(indexed, "冷链运输") == []
    assert vouched(indexed) is None  # an update stamps nothing; the next check that finds
    assert search.refresh(indexed).changes == 0 and vouched(indexed) == 2  # nothing to do does
    session_mod.close_all()
    assert [h.customer.name for h in search.search(indexed, "跨境电商")] == ["星辰科技"]
    add_in_new_folder(indexed)  # the same session, a later search: it walks, as before
    assert [h.customer.name for h in search.search(indexed, "renewal quote")] == ["Acme Freight"]
    session_mod.close_all()
