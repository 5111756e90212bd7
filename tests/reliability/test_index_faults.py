"""Quick index-fault runs (the long ones: tests/long/faults.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import crash, index_faults


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return crash.make_vault(tmp_path / "vault")


def test_corrupt_segments_are_rebuilt_by_the_next_command(root: Path) -> None:
    assert index_faults.corrupt_segments(root, seed=21, runs=2).faults == 2


def test_locks_left_by_a_dead_process_do_not_block(root: Path) -> None:
    assert index_faults.stale_locks(root).faults == 3


def test_a_half_written_index_is_rebuilt(root: Path) -> None:
    assert index_faults.half_written(root).faults == 3


def test_a_full_disk_during_an_index_write_gives_a_clear_error_and_recovers(root: Path) -> None:
    tally = index_faults.disk_full(root, seed=22, runs=1)
    assert tally.faults == 1


def test_a_full_disk_during_crm_log_keeps_the_file_as_it_was(root: Path) -> None:
    assert index_faults.disk_full_log(root, seed=23, runs=2).lost == 0
