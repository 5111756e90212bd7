"""Defects found checking issue 17 by hand in a real terminal at 80x24 and 120x35."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from crmnotes import actions
from crmnotes.tui.app import make_app
from crmnotes.tui.screens.pipeline import PipelineScreen, StageList
from crmnotes.tui.widgets.customer_table import CustomerTable
from crmnotes.vault import Vault

from .test_tui import DAY, NOW, app_for, screen_text, search_for, settle, sync


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


@sync
async def test_agenda_fits_80_columns_and_keeps_room_for_what_to_do(vault: Vault) -> None:
    # the fixed columns took 77 of 80 cells, so "what" (follow up on the brochure, 提交正式报价…)
    # sat off screen behind a horizontal scroll, cut to its first word
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert table.columns["what"].width >= 16
        assert "follow up on the" in screen_text(app)
        assert "提交正式报价" in screen_text(app)


@sync
@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
async def test_main_table_fits_the_screen_and_cuts_tags_with_an_ellipsis(vault: Vault, size: tuple[int, int]) -> None:
    # the tags column took the width of the longest tag list, so it ran off screen behind a
    # horizontal scroll, cut mid-word (needs/data-securi) with nothing to say there was more
    app = app_for(vault)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        table = app.main.query_one(CustomerTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        text = screen_text(app)
        xingchen = next(line for line in text.splitlines() if "星辰" in line)
        assert xingchen.rstrip(" ▁▂▃▄▅▆▇█▊▋▌▍▎▏").endswith("…")


@sync
async def test_due_rows_keep_status_and_owner_on_one_line_at_80_columns(vault: Vault) -> None:
    # long overdue ("overdue 387d") and a seven-letter owner wrapped inside their narrow columns:
    # "overdue" over "387d", "mallor" over "y"
    path = vault.resolve("Northwind").path
    path.write_bytes(path.read_bytes().replace(b"owner: alice", b"owner: mallory", 1))
    app = make_app(vault, today=DAY + timedelta(days=400), now=NOW, user="张伟", poll_seconds=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        lines = screen_text(app).splitlines()
        row = next(line for line in lines if "Northwind" in line)
        assert re.search(r"overdue \d{3}d", row)
        assert "mallo…" in row


@sync
async def test_empty_pipeline_and_agenda_say_what_to_do(empty_vault: Vault) -> None:
    # the board said "0 deals · D edit deal" with no card to edit, the agenda "0 item(s)"; and at
    # 80 columns "初步接触 0" wrapped its count under the stage while "方案报价 0" did not
    app = app_for(empty_vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        text = screen_text(app)
        assert "no deals yet" in text and "press D" in text
        assert "初步接触 0" in text and "商务谈判 0" in text
        await pilot.press("escape", "w")
        await settle(app, pilot)
        assert "nothing in the next 7 days" in screen_text(app)


@sync
async def test_the_nothing_matches_hint_names_a_key_that_clears_the_search(vault: Vault) -> None:
    # it said "esc clears the search", but esc only leaves the search box: the words stayed
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await search_for(app, pilot, "zzqx")
        assert app.main.shown_count == 0
        assert "nothing matches: esc, then c clears the search" in screen_text(app)
        await pilot.press("escape", "c")
        await settle(app, pilot)
        assert app.main.shown_count == 7


@sync
async def test_the_footer_names_quit_and_help_while_typing_in_the_search_box(vault: Vault) -> None:
    # typing in the box, q is a letter: the footer showed only "/ Search  f1 Help", no way out
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "x")
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "^q Quit" in footer and "f1 Help" in footer
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running
