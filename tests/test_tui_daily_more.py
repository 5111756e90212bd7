"""Daily use of the TUI, more of it: the pipeline board after a deal save, the
author on the log form, uncommitted edits on the history screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crmnotes import actions, deals
from crmnotes.sync.repo import init_repo
from crmnotes.sync.sync import sync as run_sync
from crmnotes.tui.screens.detail import DetailScreen
from crmnotes.tui.screens.forms import LogForm
from crmnotes.tui.screens.history import HistoryScreen
from crmnotes.tui.screens.pipeline import PipelineScreen, StageList
from crmnotes.tui.screens.records import DealForm
from crmnotes.vault import Vault

from .conftest import Crm
from .test_tui import DAY, app_for, screen_text, settle, sync
from .test_tui_work import press_on_xingchen, until


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))


@sync
async def test_pipeline_board_opens_on_a_real_card_and_redraws_once_after_a_deal_save(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        board = app.screen
        assert isinstance(board, PipelineScreen)
        # the highlighted card is the one enter and D act on, without moving first
        first = board.current_path()
        assert first is not None and board.current_record() is not None
        await pilot.press("D")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DealForm)
        form.query_one("#f-amount").value = "190000"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        board.vault_changed()  # the file watcher sees the same save a moment later
        await settle(app, pilot)
        await until(pilot, lambda: not any(w.is_running for w in app.workers))
        await settle(app, pilot)
        assert app.screen is board
        stages = len(deals.pipeline(vault.scan().customers, vault.config))
        assert len(board.query(".stage-col")) == stages
        assert sum(len(c.cards) for c in board.query(StageList)) == sum(len(c.deals) for c in board.columns)
        assert board.current_path() == first
        # the save's reload and the watcher's reload finishing together draw one board, not two
        columns = deals.pipeline(vault.scan().customers, vault.config)
        await asyncio.gather(board.show(columns), board.show(columns))
        await pilot.pause()
        assert len(board.query(".stage-col")) == stages
        assert sum(len(c.cards) for c in board.query(StageList)) == sum(len(c.deals) for c in board.columns)


@sync
async def test_log_form_says_who_will_be_recorded(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(120, 35)) as pilot:
        await press_on_xingchen(app, pilot, "l")
        await pilot.pause()
        assert isinstance(app.screen, LogForm)
        assert "recorded as 张伟" in screen_text(app)


@sync
async def test_history_says_uncommitted_edits_are_not_history_yet_when_auto_commit_is_off(vault: Vault) -> None:
    init_repo(vault.root)
    run_sync(vault.root, "初始")
    Crm(vault.root)("log", "星辰", "--note", "电话确认新号码", "--by", "张伟")
    app = app_for(vault)
    async with app.run_test(size=(120, 35)) as pilot:
        await press_on_xingchen(app, pilot, "enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.changes is not None)
        text = " ".join(screen_text(app).split())
        assert "not history yet" in text and "crm sync" in text and "auto_commit: true" in text
    run_sync(vault.root, "记录")
    app = app_for(vault)
    async with app.run_test(size=(120, 35)) as pilot:
        await press_on_xingchen(app, pilot, "enter", "h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.changes is not None)
        assert "not history yet" not in screen_text(app)
