"""A short seeded run of the randomized three-clone sync (the long one is
tests/long/sync_random.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.long.sync_random import run


@pytest.mark.parametrize("seed", [11])
def test_random_operations_and_syncs_converge_without_losing_followups(tmp_path: Path, seed: int) -> None:
    simulation = run(tmp_path, seed, rounds=12)
    assert simulation.logged  # the run did log follow-ups that were then checked
