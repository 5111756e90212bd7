"""Writers and sync at once, as real processes with a real bare remote: no
``crm log`` that reported success is ever lost to a merge (issue: entries
written while ``crm sync`` merged were replaced by git)."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import sync_faults


def test_logs_written_while_sync_merges_the_same_customer_are_all_kept(tmp_path: Path) -> None:
    tally = sync_faults.writers_during_sync(tmp_path, seed=7, writers=2, logs=3)
    assert tally.lost == 0, tally.notes
    assert tally.faults >= 1, tally.notes  # at least one of alice's syncs merged bob's work meanwhile
