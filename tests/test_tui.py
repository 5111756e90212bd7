"""The Textual UI driven through Pilot on real vaults: every write is
checked in the file on disk, every view in what the screen shows."""

from __future__ import annotations

import asyncio
import functools
import io
import subprocess
import sys
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from crmnotes import actions, note
from crmnotes.naming import customer_relpath, new_id
from crmnotes.tui.app import CrmApp, make_app
from crmnotes.tui.screens.detail import DetailScreen
from crmnotes.tui.screens.due import DueScreen
from crmnotes.tui.screens.forms import AddCustomerForm, EditFieldsForm, LogForm
from crmnotes.tui.widgets.customer_table import WINDOW, CustomerTable
from crmnotes.vault import Vault

from .conftest import Crm

DAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 9, 30)
XINGCHEN = "customers/x/xingchenkeji-7f3q.md"


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async Pilot test in its own event loop (no async pytest plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    """The example vault with its dates placed around a fixed day."""
    return Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))


def app_for(vault: Vault, poll: float | None = None) -> CrmApp:
    return make_app(vault, today=DAY, now=NOW, user="张伟", poll_seconds=poll)


def screen_text(app: CrmApp) -> str:
    """What the terminal shows, as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, force_terminal=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def settle(app: CrmApp, pilot) -> None:  # type: ignore[no-untyped-def]
    """Until every worker is done and the table holds fresh rows."""
    for _ in range(500):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.main.base is not None and not app.main.stale:
            return


async def type_text(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    for char in text:
        await pilot.press(char)


async def search_for(app: CrmApp, pilot, query: str) -> None:  # type: ignore[no-untyped-def]
    """Type a query into the search box, as a person would, and wait for the rows."""
    await pilot.press("slash")
    await type_text(pilot, query)
    await settle(app, pilot)


async def open_form_on_xingchen(app: CrmApp, pilot, key: str) -> None:  # type: ignore[no-untyped-def]
    """Find 星辰 by a search, open its detail and press ``key`` there (l: the log form, e: the edit form)."""
    await settle(app, pilot)
    await search_for(app, pilot, "数据安全")
    await pilot.press("enter", key)
    await pilot.pause()


def table(app: CrmApp) -> CustomerTable:
    return app.main.table


# ------------------------------------------------------------------ main screen and search


@sync
async def test_lists_every_customer_with_cjk_names(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        names = {r.name for r in table(app).all_rows}
        assert names == {c.name for c in vault.scan().customers}
        text = screen_text(app)
        assert "星辰科技有限公" in text and "Acme Analytics" in text
        # every table line fits 80 cells: CJK characters are counted as two
        assert all(len(line) <= 80 for line in text.splitlines())


@sync
async def test_search_then_open_a_customer_with_masked_phone(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await search_for(app, pilot, "数据安全")
        assert [r.name for r in table(app).all_rows] == ["星辰科技有限公司"]
        await pilot.press("enter", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailScreen)
        text = screen_text(app)
        assert "星辰科技有限公司" in text and "王经理" in text
        assert "138****8000" in text and "13800138000" not in text
        await pilot.press("p")
        await pilot.pause()
        assert "+8613800138000" in screen_text(app)
        await pilot.press("escape")
        assert app.screen is app.main


@pytest.mark.parametrize(("query", "expected"), [
    ("stage:意向", {"星辰科技有限公司", "Acme Analytics Inc."}),
    ("tag:needs/data-security", {"星辰科技有限公司", "Acme Analytics Inc."}),
    ("owner:李娜 stage:lost", {"深圳市海豚物流有限公司"}),
    ("数据安全", {"星辰科技有限公司"}),
    ("王经理 AND 等保", {"星辰科技有限公司"}),
    ("stage:intent NOT tag:needs/integration", {"星辰科技有限公司"}),
])
@sync
async def test_search_box_query_language(vault: Vault, query: str, expected: set[str]) -> None:
    app = app_for(vault)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await search_for(app, pilot, query)
        assert {r.name for r in table(app).all_rows} == expected


@sync
async def test_quick_filters_and_sort(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        everyone = len(table(app).all_rows)
        await pilot.press("m")  # mine: the user is 张伟
        await settle(app, pilot)
        assert {r.owner for r in table(app).all_rows} == {"张伟"}
        await pilot.press("m", "d")  # due on or before the fixed day
        await settle(app, pilot)
        due = table(app).all_rows
        assert due and all(r.due is not None and r.due <= DAY for r in due)
        assert {r.name for r in due} == {i.customer.name for i in actions.due_customers(vault, DAY)}
        await pilot.press("d", "o")  # sort by last contact
        await settle(app, pilot)
        rows = table(app).all_rows
        assert len(rows) == everyone
        lasts = [r.last_contact for r in rows if r.last_contact]
        assert lasts == sorted(lasts)
        await pilot.press("O")
        await settle(app, pilot)
        lasts = [r.last_contact for r in table(app).all_rows if r.last_contact]
        assert lasts == sorted(lasts, reverse=True)


# ------------------------------------------------------------------ forms


@sync
async def test_log_followup_lands_in_the_file_as_crm_log_would(vault: Vault, tmp_path: Path) -> None:
    twin = Vault(actions.create_vault(tmp_path / "twin", example=True, today=DAY))
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form_on_xingchen(app, pilot, "l")
        assert isinstance(app.screen, LogForm)
        await type_text(pilot, "电话确认报价 陈总下周三可以见面")
        await pilot.press("tab")
        await type_text(pilot, "2026-03-11 拜访陈总")
        await pilot.press("tab")
        await type_text(pilot, "价格可以接受")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is app.main
    Crm(twin.root)("log", "星辰", "--note", "电话确认报价 陈总下周三可以见面", "--at", "2026-03-02 09:30",
                   "--by", "张伟", "--next", "2026-03-11 拜访陈总", "--feedback", "价格可以接受")
    written = (vault.root / XINGCHEN).read_bytes()
    assert written == (twin.root / XINGCHEN).read_bytes()
    customer = vault.read(vault.root / XINGCHEN)
    latest = max(customer.followups, key=lambda f: f.at)
    assert (latest.note, latest.by, latest.next_date) == ("电话确认报价 陈总下周三可以见面", "张伟", date(2026, 3, 11))


@sync
async def test_invalid_log_shows_messages_and_writes_nothing(vault: Vault) -> None:
    before = (vault.root / XINGCHEN).read_bytes()
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form_on_xingchen(app, pilot, "l")
        await pilot.press("tab")
        await type_text(pilot, "next week maybe")
        await pilot.press("ctrl+s")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, LogForm)
        text = screen_text(app)
        assert "the note is empty" in text
        assert "must start with a date" in text
    assert (vault.root / XINGCHEN).read_bytes() == before


@sync
async def test_invalid_field_value_shows_message_and_leaves_file_unchanged(vault: Vault) -> None:
    before = (vault.root / XINGCHEN).read_bytes()
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form_on_xingchen(app, pilot, "e")
        form = app.screen
        assert isinstance(form, EditFieldsForm)
        phone = form.query_one("#f-phone")
        phone.value = "12345"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        error = form.query_one("#err-phone")
        assert error.has_class("-shown") and "12345" in str(error.render())
        assert "not a valid phone number" in screen_text(app)
    assert (vault.root / XINGCHEN).read_bytes() == before


@sync
async def test_edit_fields_writes_only_the_changed_field(vault: Vault) -> None:
    path = vault.root / XINGCHEN
    before = path.read_text(encoding="utf-8")
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form_on_xingchen(app, pilot, "e")
        form = app.screen
        form.query_one("#f-contact").value = "王建国"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, EditFieldsForm)
    after = path.read_text(encoding="utf-8")
    assert after == before.replace("contact: 王经理", "contact: 王建国")


@sync
async def test_add_customer_through_the_form(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, AddCustomerForm)
        await pilot.press("ctrl+s")  # empty: refused with a message per required field
        await pilot.pause()
        for name in ("name", "industry", "contact"):
            assert form.query_one(f"#err-{name}").has_class("-shown")
        values = {"name": "苏州蓝海软件有限公司", "industry": "软件", "contact": "赵敏", "phone": "137 1234 5670",
                  "tags": "needs/automation，budget/10k-50k"}
        for name, value in values.items():
            form.query_one(f"#f-{name}").value = value  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is app.main
        assert table(app).current_row is not None and table(app).current_row.name == "苏州蓝海软件有限公司"
    added = vault.resolve("苏州蓝海")
    assert (added.text("industry"), added.text("phone"), added.owner) == ("internet", "+8613712345670", "张伟")
    assert added.tags == ["needs/automation", "budget/10k-50k"]


@sync
async def test_add_duplicate_is_refused_once_then_added_on_confirm(vault: Vault) -> None:
    count = len(vault.scan().customers)
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        for name, value in {"name": "星辰科技", "industry": "互联网", "contact": "王经理",
                            "phone": "13800138000"}.items():
            form.query_one(f"#f-{name}").value = value  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form and "looks like an existing customer" in screen_text(app)
        assert len(vault.scan().customers) == count
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is app.main
    assert len(vault.scan().customers) == count + 1


# ------------------------------------------------------------------ views and live refresh


@sync
async def test_due_view_lists_who_and_why(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        assert isinstance(app.screen, DueScreen)
        expected = actions.due_customers(vault, DAY)
        assert [i.entry.name for i in app.screen.items] == [i.customer.name for i in expected]
        text = screen_text(app)
        why = next(i for i in expected if "星辰" in i.customer.name).reason
        assert why.startswith("next step: 提交正式报价") and "提交正式报价" in text  # why 星辰 is due today
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.path == expected[0].customer.path


@sync
async def test_external_edit_appears_and_keeps_the_selection(vault: Vault) -> None:
    app = app_for(vault, poll=0.05)
    path = vault.root / XINGCHEN
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_rows(app, pilot)
        await pilot.press("slash")
        await type_text(pilot, "数据安全")
        await pilot.press("enter")
        await settle_rows(app, pilot)
        assert table(app).current_row is not None and table(app).current_row.path == XINGCHEN
        path.write_text(path.read_text(encoding="utf-8").replace("name: 星辰科技有限公司", "name: 星辰数智科技"),
                        encoding="utf-8")
        for _ in range(200):  # until the poller has seen it (bounded, no timing assertion)
            await pilot.pause(0.05)
            if any(r.name == "星辰数智科技" for r in table(app).all_rows):
                break
        assert any(r.name == "星辰数智科技" for r in table(app).all_rows)
        assert table(app).current_row is not None and table(app).current_row.path == XINGCHEN


async def settle_rows(app: CrmApp, pilot) -> None:  # type: ignore[no-untyped-def]
    """Like settle, for an app whose poller worker never completes."""
    for _ in range(100):
        await pilot.pause(0.02)
        if not any(w.is_running for w in app.workers if w.group == "rows"):
            return


@sync
async def test_large_vault_keeps_a_window_of_rows(tmp_path: Path) -> None:
    vault = Vault(actions.create_vault(tmp_path / "big"))
    names = [f"客户{i:04d}" for i in range(WINDOW + 60)]
    for i, name in enumerate(names):
        meta = {"id": new_id(datetime(2026, 1, 1)), "name": name, "industry": "internet", "contact": "张三",
                "phone": f"+86138{i:08d}", "stage": "potential", "created": "2026-01-01T09:00"}
        vault.create(customer_relpath(name, meta["id"]), note.new_file_text(meta, name))
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        grid = table(app)
        assert len(grid.all_rows) == len(names)
        assert grid.row_count <= WINDOW
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert grid.current_row is not None and grid.current_row.name == names[-1]
        assert grid.row_count <= WINDOW
        await pilot.press("ctrl+home")
        await pilot.pause()
        while grid.row_number < WINDOW + 5:  # page past the end of the first window
            await pilot.press("pagedown")
        await pilot.pause()
        await pilot.press("down")
        assert grid.current_row is not None and grid.current_row.name == names[grid.row_number]
        assert grid.row_number > WINDOW and grid.window_start > 0 and grid.row_count <= WINDOW


@sync
async def test_help_and_command_palette_list_the_actions(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Add a customer · 新增客户", "Log a follow-up · 记录跟进", "Due today · 今日待跟进"} <= titles
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "Log" in text and "Due" in text
        await pilot.press("escape")
        assert app.screen is app.main


def test_crm_tui_command_is_registered(crm: Crm) -> None:
    assert "terminal UI" in crm("tui", "--help").stdout
    # no terminal (CliRunner): plain `crm` prints the help instead of opening the TUI
    assert "Commands:" in crm().stdout




@sync
async def test_unfinished_query_while_typing_still_filters(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        await type_text(pilot, '"王经理')  # the quote is not closed yet: no error, a substring filter
        await settle(app, pilot)
        assert "星辰科技有限公司" in {r.name for r in table(app).all_rows}


def test_cli_does_not_import_textual(tmp_path: Path) -> None:
    from .conftest import run_process

    code = "import sys, crmnotes.cli; assert 'textual' not in sys.modules, 'textual imported'"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert run_process("--help", cwd=tmp_path).returncode == 0
