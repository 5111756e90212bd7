"""Writers and sync at once, as real processes with a real bare remote: no
``crm log`` that reported success is ever lost to a merge (issue: entries
written while ``crm sync`` merged were replaced by git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.reliability import sync_faults


def test_logs_written_while_sync_merges_the_same_customer_are_all_kept(tmp_path: Path) -> None:
    tally = sync_faults.writers_during_sync(tmp_path, seed=7, writers=2, logs=3)
    assert tally.lost == 0, tally.notes
    assert tally.faults >= 1, tally.notes  # at least one of alice's syncs merged bob's work meanwhile


def test_a_writer_waits_while_sync_holds_the_vault_and_then_writes(tmp_path: Path) -> None:
    from crmnotes import actions
    from crmnotes.fsutil import vault_sync_lock
    from crmnotes.vault import Vault
    from tests.conftest import TODAY
    from tests.reliability.harness import child_env, crm_argv

    root = actions.create_vault(tmp_path / "v", example=True, today=TODAY)
    path = Vault(root).resolve(sync_faults.XC).path
    before = path.read_bytes()
    with vault_sync_lock(root / ".crmnotes" / "locks"):
        proc = subprocess.Popen(crm_argv(root, "log", sync_faults.XC, "--note", "等同步合并完再写"), cwd=root,
                                env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        assert proc.poll() is None and path.read_bytes() == before  # waiting, nothing written
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "等同步合并完再写" in path.read_text(encoding="utf-8")


def test_a_writer_that_cannot_wait_any_longer_writes_nothing_and_says_why(tmp_path: Path) -> None:
    import threading

    from crmnotes.errors import ConcurrentEditError
    from crmnotes.fsutil import vault_sync_lock, vault_write_lock

    locks = tmp_path / "locks"
    held, release = threading.Event(), threading.Event()

    def sync_thread() -> None:  # the TUI's auto-sync runs in a thread of the same process
        with vault_sync_lock(locks):
            held.set()
            release.wait(60)

    thread = threading.Thread(target=sync_thread)
    thread.start()
    held.wait(60)
    try:
        with pytest.raises(ConcurrentEditError) as refused, vault_write_lock(locks, "customers/x/星辰.md",
                                                                            timeout=0.2):
            pytest.fail("wrote while sync held the vault")
        message = refused.value.message
        assert "being synced" in message and "customers/x/星辰.md was not written" in message
    finally:
        release.set()
        thread.join()
    with vault_write_lock(locks, "customers/x/星辰.md", timeout=5):  # free again
        pass


def test_a_failed_sync_says_which_saves_are_not_committed(tmp_path: Path) -> None:
    """A ``crm log`` runs while sync pushes (a real writer, started by git's pre-push hook) and the
    remote refuses the push: the message must not claim that entry is committed."""
    from tests.reliability.harness import child_env, crm_argv

    remote, alice, _bob = sync_faults.team(tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    argv = " ".join(f"'{a}'" for a in crm_argv(alice, "log", sync_faults.XC, "--note", "推送时写入的记录"))
    env = child_env()
    pre_push = alice / ".git" / "hooks" / "pre-push"
    pre_push.write_text(f"#!/bin/sh\nunset GIT_DIR GIT_INDEX_FILE\nPYTHONPATH='{env['PYTHONPATH']}' {argv} >&2\n",
                        encoding="utf-8")
    pre_push.chmod(0o755)
    sync_faults.run(alice, "log", sync_faults.XC, "--note", "同步前的记录")
    done = sync_faults.run(alice, "sync", ok=False)
    assert done.returncode != 0 and "refused the push" in done.stderr
    assert "1 file(s) saved after the last commit" in done.stderr and "not committed yet" in done.stderr
    assert "everything saved in the vault is committed" not in done.stderr
    text = sync_faults.git(alice, "show", "HEAD").stdout
    assert "同步前的记录" in text and "推送时写入的记录" not in text
