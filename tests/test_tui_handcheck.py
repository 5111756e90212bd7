"""Defects found checking issue 17 by hand in a real terminal at 80x24 and 120x35."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from crmnotes import actions
from crmnotes.tui.screens.pipeline import PipelineScreen, StageList
from crmnotes.vault import Vault

from .test_tui import DAY, app_for, settle, sync


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))


@sync
@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
async def test_pipeline_cards_line_up_with_their_stage_heading(vault: Vault, size: tuple[int, int]) -> None:
    # at 80 columns the cards filled their column to the edge, so 数据安全平台 ran into the
    # next column's Analytics with no space between, one cell left of the heading above
    app = app_for(vault)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        board = app.screen
        assert isinstance(board, PipelineScreen)
        for column in board.query(".stage-col"):
            head = column.query_one(".stage-head", Static)
            cards = column.query_one(StageList)
            assert cards.content_region.x == head.content_region.x
            assert cards.content_region.right <= column.region.right
