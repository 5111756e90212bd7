"""Quick concurrent-writer runs (the long ones: tests/long/faults.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import concurrency, crash


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return crash.make_vault(tmp_path / "vault")


def test_logs_and_sets_racing_on_one_customer_all_land(root: Path) -> None:
    tally = concurrency.racing_writers(root, seed=11, rounds=2, width=4)
    assert tally.lost == 0 and tally.inputs == 12


def test_an_editor_save_during_a_write_is_kept_with_the_entry(root: Path) -> None:
    tally = concurrency.editor_saves_mid_write(root, seed=12, points=4)
    assert tally.lost == 0 and tally.faults == 4
