"""Quick crash-safety runs (the long ones: tests/long/faults.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import Crm

from . import crash


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return crash.make_vault(tmp_path / "vault")


def test_killed_log_leaves_before_or_after_and_loses_nothing(root: Path) -> None:
    tally = crash.crash_log(root, seed=1, runs=6)
    assert tally.lost == 0 and tally.faults >= 1


def test_killed_set_leaves_before_or_after(root: Path) -> None:
    tally = crash.crash_set(root, seed=2, runs=5)
    assert tally.lost == 0 and tally.faults >= 1


def test_killed_import_writes_whole_files_and_a_rerun_completes_it(root: Path) -> None:
    tally = crash.crash_import(root, seed=3, runs=3, rows=25)
    assert tally.lost == 0 and tally.faults >= 1


def test_killed_index_build_is_recovered_by_the_next_command(root: Path) -> None:
    tally = crash.crash_index(root, seed=4, runs=3)
    assert tally.lost == 0 and tally.faults >= 1


def test_atomic_writes_keep_the_file_mode(root: Path) -> None:
    crm = Crm(root)
    path = root / crm("show", "星辰", "--json").json()["path"]
    os.chmod(path, 0o640)
    crm("log", "星辰", "--note", "权限不变")
    crm("set", "星辰", "grade=B")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    os.chmod(path, 0o604)
    crm("log", "星辰", "--note", "再来一次")
    assert stat.S_IMODE(path.stat().st_mode) == 0o604
    new = root / crm("show", crm("add", "权限测试公司", "--industry", "internet", "--contact", "王",
                                 "--phone", "13800138123").stdout.strip(), "--json").json()["path"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask
