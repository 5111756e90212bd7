"""The TUI's start: the first rows are read while Textual starts (and are
the catalog's rows), the first frame already holds them, a file changed
meanwhile is still noticed, and the footer is rebuilt only when its keys
change.  Real vaults (Chinese example data), real Textual apps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.widgets._footer import FooterKey

from crmnotes import actions, catalog
from crmnotes.tui.app import CrmApp
from crmnotes.tui.query import QuickFilters
from crmnotes.tui.startup import FirstRows
from crmnotes.tui.widgets.customer_table import CustomerTable
from crmnotes.tui.widgets.keys_footer import KeysFooter
from crmnotes.vault import Vault

from .test_tui import DAY, XINGCHEN, app_for, sync


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))


def names(app: CrmApp) -> list[str]:
    return [row.name for row in app.main.table.all_rows]


async def until(pilot: Any, done: Callable[[], bool], tries: int = 400) -> None:
    for _ in range(tries):
        if done():
            return
        await pilot.pause(0.05)


def test_first_rows_are_the_catalog_rows_for_the_same_question(vault: Vault) -> None:
    filters = QuickFilters().to_filters("张伟")
    first = FirstRows(vault, filters, "name", DAY)
    expected = catalog.rows(vault, filters, "name", DAY)
    assert first.rows(filters, "name", DAY) == expected and any("科技" in row.name for row in expected)
    assert first.rows(filters, "-name", DAY) is None  # another sort: the screen asks the catalog itself
    assert first.rows(filters, "name", date(2026, 3, 3)) is None
    assert first.wait_baseline() is None  # no polling asked for


@sync
async def test_the_first_frame_holds_the_rows_at_the_tables_width(vault: Vault) -> None:
    app = app_for(vault)
    assert app.first_rows is not None and app.first_rows.wait(30)  # read before Textual runs
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.main.table
        assert table.row_count == len(catalog.rows(vault, today=DAY)) and app.main.base is not None
        assert app.main.first is None and app.first_rows is None  # handed over, then let go
        assert table._name_width == table._width()  # filled at its laid-out width, not before
        assert app.focused is table
        await until(pilot, lambda: app.main.side.customer is not None and bool(app.main.side.query(".d-notes")))
        assert app.main.side.customer is not None and app.main.side.customer.path == app.main.current_path()
        assert len(app.main.side.query(".d-notes")) == 1  # the notes' Markdown came with the first customer


@sync
async def test_a_file_changed_while_the_app_starts_is_noticed(vault: Vault) -> None:
    app = app_for(vault, poll=0.05)
    assert app.first_rows is not None and app.first_rows.wait(30)
    path = vault.root / XINGCHEN
    path.write_text(path.read_text(encoding="utf-8").replace("星辰科技有限公司", "星辰云计算有限公司", 1),
                    encoding="utf-8")  # after the first rows were read, before the poll started
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "星辰云计算有限公司" in names(app))
        assert "星辰云计算有限公司" in names(app) and "星辰科技有限公司" not in names(app)


@sync
async def test_the_first_rows_are_not_used_once_the_vault_changed(vault: Vault) -> None:
    app = app_for(vault)
    assert app.first_rows is not None and app.first_rows.wait(30)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main.base is not None and not app.main.stale)
        before = FirstRows(vault, QuickFilters().to_filters(""), "name", DAY)
        assert before.wait(30)
        actions.add_customer(vault, actions.NewCustomer(name="云杉数据", industry="internet", contact="李雷",
                                                        phone="13700137000"), force=True, now=datetime(2026, 3, 2, 10))
        app.main.first = before  # as if the start's rows were still waiting to be shown
        app.main.vault_changed()  # what a poll that saw the new file does
        await until(pilot, lambda: "云杉数据" in names(app))
        assert "云杉数据" in names(app) and app.main.first is None


@sync
async def test_the_footer_is_rebuilt_only_when_its_keys_change(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: len(app.screen.query(FooterKey)) > 3)
        footer = app.screen.query_one(KeysFooter)
        keys = list(app.screen.query(FooterKey))
        assert [k.description for k in keys][:2] == ["Search", "Filter"]
        await footer.recompose()  # the same keys: nothing rebuilt
        assert list(app.screen.query(FooterKey)) == keys
        await pilot.press("slash")  # the search box has its own keys
        await until(pilot, lambda: "Filter" not in [k.description for k in app.screen.query(FooterKey)])
        assert "Filter" not in [k.description for k in app.screen.query(FooterKey)]
        await pilot.press("escape")
        await until(pilot, lambda: "Filter" in [k.description for k in app.screen.query(FooterKey)])
        assert isinstance(app.focused, CustomerTable)
        assert "Filter" in [k.description for k in app.screen.query(FooterKey)]
