"""Snapshot tests of the main screens at 80x24 (the smallest terminal we promise) and 160x45 (a
wide one) on the example vault, with its dates fixed so due dates and "silent" stages never drift.

Update after a deliberate UI change: pytest tests/test_tui_snapshots.py --snapshot-update -k NAME
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from crmnotes import actions
from crmnotes.tui.app import CrmApp, make_app
from crmnotes.vault import Vault

DAY = date(2026, 3, 2)

# Every screen at both sizes; the id names the snapshot file (test_main_screen[80x24].svg).
SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])


@pytest.fixture
def app(tmp_path: Path) -> CrmApp:
    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))
    return make_app(vault, today=DAY, now=datetime(2026, 3, 2, 9, 30), user="张伟", poll_seconds=None)


async def loaded(pilot: Any) -> None:
    """Until the rows are on screen (the loading worker may not have started yet)."""
    for _ in range(500):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if pilot.app.main.base is not None and not pilot.app.main.stale:
            return


@SIZES
def test_main_screen(snap_compare: Any, app: CrmApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=loaded)


@SIZES
def test_detail_screen(snap_compare: Any, app: CrmApp, size: tuple[int, int]) -> None:
    async def open_xingchen(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"xingchen", "enter", "enter")
        await loaded(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_xingchen)


@SIZES
def test_log_form(snap_compare: Any, app: CrmApp, size: tuple[int, int]) -> None:
    async def open_form(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("l")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_form)


@SIZES
def test_due_screen(snap_compare: Any, app: CrmApp, size: tuple[int, int]) -> None:
    async def open_due(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("u")
        await loaded(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_due)


@SIZES
def test_help_screen(snap_compare: Any, app: CrmApp, size: tuple[int, int]) -> None:
    async def open_help(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_help)


@SIZES
def test_pipeline_screen(snap_compare: Any, app: CrmApp, size: tuple[int, int]) -> None:
    async def open_board(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("b")
        await loaded(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_board)


@SIZES
def test_reports_screen(snap_compare: Any, app: CrmApp, size: tuple[int, int]) -> None:
    async def open_reports(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("r")
        await loaded(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_reports)


@SIZES
def test_reports_activity_chart(snap_compare: Any, app: CrmApp, size: tuple[int, int]) -> None:
    async def open_activity(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("r")
        await loaded(pilot)
        await pilot.press("3")
        await pilot.wait_for_scheduled_animations()  # the tab underline slides
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_activity)


@SIZES
def test_agenda_screen(snap_compare: Any, app: CrmApp, size: tuple[int, int]) -> None:
    async def open_agenda(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("w")
        await loaded(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_agenda)
