"""The agenda (CLI and TUI) and the TUI tasks view: interleaved by time; snooze / reassign / done written losslessly."""

from __future__ import annotations

from datetime import date, time

from crmnotes import actions, tasks
from crmnotes.agenda import agenda
from crmnotes.tui.screens.agenda import AgendaScreen, AskScreen
from crmnotes.vault import Vault

from .test_tui import DAY, NOW, app_for, screen_text, settle, sync, type_text


def plan(vault: Vault, ref: str, next_step: str, by: str = "张伟"):
    customer = vault.resolve(ref)
    entry = actions.LogEntry(note="电话沟通", at=NOW, by=by, next=next_step)
    return actions.log_followup(vault, customer, entry, now=NOW)


def test_agenda_interleaves_tasks_and_due_customers_by_time(tmp_path) -> None:
    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))
    plan(vault, "星辰", "明天下午3点 @李娜 发送报价")
    plan(vault, "绿洲", "明天上午9点 @王五 回访")
    items = agenda(vault.scan().customers, vault.config, DAY, 7)
    moments = [i.moment() for i in items]
    assert moments == sorted(moments)
    tomorrow = [(i.at, i.who, i.what) for i in items if i.day == date(2026, 3, 3) and i.task]
    assert tomorrow[:2] == [(time(9, 0), "王五", "回访"), (time(15, 0), "李娜", "发送报价")]
    assert {i.section(DAY) for i in items} <= {"overdue", "today", "upcoming"}
    assert all(i.day <= date(2026, 3, 8) for i in items)
    mine = agenda(vault.scan().customers, vault.config, DAY, 7, "李娜")
    assert {i.who for i in mine} == {"李娜"} and "发送报价" in [i.what for i in mine]


def test_cli_agenda_json_and_text(tmp_path) -> None:
    from .conftest import Crm

    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))
    plan(vault, "星辰", "2026-03-03 15:00 @李娜 发送报价")
    crm = Crm(vault.root)
    found = crm("agenda", "--days", "3", "--on", DAY.isoformat(), "--json").json()
    task = next(i for i in found if i["kind"] == "task" and i["name"] == "星辰科技有限公司")
    assert (task["date"], task["time"], task["assignee"], task["section"]) == ("2026-03-03", "15:00", "李娜",
                                                                              "upcoming")
    assert all(i["date"] <= "2026-03-04" for i in found)
    text = crm("agenda", "--on", DAY.isoformat()).stdout
    assert "发送报价" in text and "Next 6 days" in text


@sync
async def test_tui_agenda_snooze_reassign_done(tmp_path) -> None:
    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))
    star = plan(vault, "星辰", "2026-03-03 15:00 @李娜 发送报价")
    before = star.path.read_bytes()
    app = app_for(vault)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, AgendaScreen)
        assert "发送报价" in screen_text(app) and "李娜" in screen_text(app)
        row = next(n for n, i in enumerate(screen.items) if i.task and i.what == "发送报价")
        screen.query_one("DataTable").move_cursor(row=row)
        await pilot.press("z")
        await pilot.pause()
        assert isinstance(app.screen, AskScreen)
        await type_text(pilot, "后天 10:00")
        await pilot.press("enter")
        await settle(app, pilot)
        (task,) = tasks.customer_tasks(vault.read(star.path))
        assert (task.day, task.at, task.assignee) == (date(2026, 3, 4), time(10, 0), "李娜")
        row = next(n for n, i in enumerate(screen.items) if i.task and i.what == "发送报价")
        screen.query_one("DataTable").move_cursor(row=row)
        await pilot.press("A")
        await pilot.pause()
        await type_text(pilot, "赵六")
        await pilot.press("enter")
        await settle(app, pilot)
        (task,) = tasks.customer_tasks(vault.read(star.path))
        assert (task.day, task.assignee) == (date(2026, 3, 4), "赵六")
        row = next(n for n, i in enumerate(screen.items) if i.task and i.what == "发送报价")
        screen.query_one("DataTable").move_cursor(row=row)
        await pilot.press("d")
        await settle(app, pilot)
        assert tasks.customer_tasks(vault.read(star.path)) == []
    after = star.path.read_bytes()
    assert after.startswith(before)
    assert after.decode().count("done: 发送报价") == 3


@sync
async def test_tui_tasks_view_lists_open_steps(tmp_path) -> None:
    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))
    plan(vault, "星辰", "2026-04-20 @李娜 发送报价")
    app = app_for(vault)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        await pilot.press("T")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, AgendaScreen) and screen.tasks_only
        assert all(i.task is not None for i in screen.items)
        assert ("星辰科技有限公司", date(2026, 4, 20)) in [(i.customer.name, i.day) for i in screen.items]
        assert "open task(s)" in screen_text(app)


@sync
async def test_log_form_takes_a_spoken_date_with_time_and_assignee(tmp_path) -> None:
    from crmnotes.tui.screens.forms import LogForm

    from .test_tui import XINGCHEN, open_form_on_xingchen

    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form_on_xingchen(app, pilot, "l")
        assert isinstance(app.screen, LogForm)
        await type_text(pilot, "电话确认报价")
        await pilot.press("tab")
        await type_text(pilot, "下周一 下午3点 @李娜 发送报价")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is app.main
    (task,) = [t for t in tasks.customer_tasks(vault.read(vault.root / XINGCHEN)) if t.what == "发送报价"]
    assert (task.day, task.at, task.assignee) == (date(2026, 3, 9), time(15, 0), "李娜")  # DAY is a Monday
    assert "next: 2026-03-09 15:00 @李娜 发送报价" in (vault.root / XINGCHEN).read_text(encoding="utf-8")
