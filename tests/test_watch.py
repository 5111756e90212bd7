"""The watcher with real file events: in-place writes, editor-style atomic saves, deletes, bursts."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pytest

from crmnotes import search
from crmnotes.fsutil import atomic_write
from crmnotes.vault import Vault
from crmnotes.watch import VaultWatcher, relevant

WAIT = 15.0  # generous upper bound for slow CI; tests return as soon as the event arrives


class Recorder:
    def __init__(self) -> None:
        self.batches: list[set[str] | None] = []
        self.seen: set[str] = set()
        self.everything = 0
        self.cond = threading.Condition()

    def __call__(self, paths: set[str] | None) -> None:
        with self.cond:
            self.batches.append(paths)
            if paths is None:
                self.everything += 1
            else:
                self.seen |= paths
            self.cond.notify_all()

    def wait_for(self, check: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + WAIT
        with self.cond:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True


@pytest.fixture
def watched(empty_vault: Vault):  # type: ignore[no-untyped-def]
    recorder = Recorder()
    watcher = VaultWatcher(empty_vault.root, recorder).start()
    time.sleep(0.2)  # let the OS watches settle before the first write
    yield empty_vault, recorder
    watcher.stop()


CUSTOMER = "---\nid: c-20250101-abcd1234\nname: 星辰科技\nindustry: internet\ncontact: 王经理\n---\n\n{body}\n"


def test_relevant_paths() -> None:
    assert relevant("customers/x/xingchen-7f3q.md")
    assert relevant("crmnotes.yaml")
    assert not relevant("customers/x/.~crm-abc.tmp")
    assert not relevant("customers/x/.xingchen.md.swp")
    assert not relevant("customers/x/4913")
    assert not relevant(".git/index")
    assert not relevant(".crmnotes/index/MAIN.toc")
    assert not relevant("customers/x/notes.txt")


def test_write_in_place_is_reported(watched) -> None:  # type: ignore[no-untyped-def]
    vault, recorder = watched
    target = vault.customers_dir / "x" / "xingchen.md"
    target.parent.mkdir()
    target.write_text(CUSTOMER.format(body="北京"), encoding="utf-8")
    assert recorder.wait_for(lambda: "customers/x/xingchen.md" in recorder.seen)


def test_editor_atomic_save_reports_the_target_not_the_temp(watched) -> None:  # type: ignore[no-untyped-def]
    vault, recorder = watched
    target = vault.customers_dir / "a" / "acme.md"
    target.parent.mkdir()
    target.write_text(CUSTOMER.format(body="v1"), encoding="utf-8")
    assert recorder.wait_for(lambda: "customers/a/acme.md" in recorder.seen)
    recorder.seen.clear()
    atomic_write(target, CUSTOMER.format(body="v2").encode())  # our own temp + rename
    swap = target.with_name(".acme.md.swp")  # vim style: write a temp beside, rename over
    swap.write_text(CUSTOMER.format(body="v3"), encoding="utf-8")
    os.replace(swap, target)
    assert recorder.wait_for(lambda: "customers/a/acme.md" in recorder.seen)
    assert all(relevant(p) for p in recorder.seen)


def test_delete_is_reported_and_git_is_ignored(watched) -> None:  # type: ignore[no-untyped-def]
    vault, recorder = watched
    target = vault.customers_dir / "gone.md"
    target.write_text(CUSTOMER.format(body="x"), encoding="utf-8")
    assert recorder.wait_for(lambda: "customers/gone.md" in recorder.seen)
    git = vault.root / ".git"
    git.mkdir(exist_ok=True)
    for i in range(50):
        (git / f"object-{i}").write_text("noise")
    recorder.seen.clear()
    target.unlink()
    assert recorder.wait_for(lambda: "customers/gone.md" in recorder.seen)
    assert not any(p.startswith(".git") for p in recorder.seen)


def test_a_burst_is_coalesced(watched) -> None:  # type: ignore[no-untyped-def]
    vault, recorder = watched
    folder = vault.customers_dir / "p"
    folder.mkdir()
    expected = {f"customers/p/pull-{i}.md" for i in range(200)}
    for i in range(200):  # like a git pull touching hundreds of files
        (folder / f"pull-{i}.md").write_text(CUSTOMER.format(body=f"第{i}条"), encoding="utf-8")
    assert recorder.wait_for(lambda: expected <= recorder.seen)
    assert len(recorder.batches) < 100


def test_watcher_keeps_the_index_fresh(empty_vault: Vault) -> None:
    search.refresh(empty_vault)
    done = threading.Event()
    errors: list[BaseException] = []

    def changed(paths: set[str] | None) -> None:
        search.refresh(empty_vault)
        done.set()

    with VaultWatcher(empty_vault.root, changed, errors.append):
        time.sleep(0.2)
        target = empty_vault.customers_dir / "x" / "xingchen.md"
        target.parent.mkdir()
        atomic_write(target, CUSTOMER.format(body="客户要求冷链运输方案").encode())
        assert done.wait(WAIT)
    assert errors == []
    from crmnotes.search.index import RefreshStats  # the watcher did the work: nothing left to do

    assert search.refresh(empty_vault).changes == RefreshStats().changes
    assert [h.customer.name for h in search.search(empty_vault, "冷链运输")] == ["星辰科技"]


def test_failing_callback_goes_to_on_error_and_watching_continues(empty_vault: Vault) -> None:
    errors: list[BaseException] = []
    calls: list[int] = []

    def boom(paths: set[str] | None) -> None:
        calls.append(1)
        raise RuntimeError("refresh failed")

    with VaultWatcher(empty_vault.root, boom, errors.append):
        time.sleep(0.2)
        (empty_vault.customers_dir / "one.md").write_text("x", encoding="utf-8")
        deadline = time.monotonic() + WAIT
        while not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        (empty_vault.customers_dir / "two.md").write_text("y", encoding="utf-8")
        while len(errors) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(errors) >= 2 and all(isinstance(e, RuntimeError) for e in errors)
