"""Quick sync-fault runs with real git and bare remotes (long: tests/long/faults.py)."""

from __future__ import annotations

from pathlib import Path

from . import sync_faults


def test_remote_dropping_mid_fetch_keeps_everything_and_says_so(tmp_path: Path) -> None:
    assert sync_faults.dropped_fetch(tmp_path).lost == 0


def test_a_push_the_remote_refuses_is_explained(tmp_path: Path) -> None:
    assert sync_faults.refused_push(tmp_path).lost == 0


def test_sync_killed_while_merging_loses_nothing(tmp_path: Path) -> None:
    assert sync_faults.killed_sync(tmp_path, seed=31, runs=3).lost == 0


def test_a_vault_left_mid_merge_by_git_pull_is_explained(tmp_path: Path) -> None:
    assert sync_faults.plain_git_pull_mid_merge(tmp_path).lost == 0
