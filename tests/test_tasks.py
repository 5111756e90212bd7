"""Next steps as tasks: time and assignee, open until closed, done / snooze / reassign written losslessly."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from crmnotes import actions, tasks
from crmnotes.errors import CrmError
from crmnotes.vault import Vault

NOW = datetime(2026, 12, 2, 9, 0)  # a Wednesday
TODAY = NOW.date()


def add(vault: Vault, name: str, owner: str = "张伟"):
    draft = actions.NewCustomer(name=name, industry="internet", contact="王经理", phone="13800138000",
                                stage="intent", grade="B", owner=owner)
    return actions.add_customer(vault, draft, force=True, now=NOW - timedelta(days=10))


def log(vault: Vault, customer, days_ago: int = 0, by: str = "张伟", **kw):
    entry = actions.LogEntry(note="电话沟通", at=NOW - timedelta(days=days_ago), by=by, **kw)
    return actions.log_followup(vault, customer, entry, now=NOW)


def test_tasks_carry_time_and_assignee_and_sort_by_moment(empty_vault: Vault) -> None:
    star = log(empty_vault, add(empty_vault, "星辰科技"), next="12月5日 下午3点 @李娜 发送报价")
    oasis = log(empty_vault, add(empty_vault, "杭州绿洲", owner="王五"), by="王五", next="明天 回访")
    found = tasks.open_tasks([star, oasis])
    assert [(t.customer.name, t.day, t.at, t.assignee, t.what) for t in found] == [
        ("杭州绿洲", date(2026, 12, 3), None, "王五", "回访"),
        ("星辰科技", date(2026, 12, 5), time(15, 0), "李娜", "发送报价"),
    ]
    assert [t.customer.name for t in tasks.open_tasks([star, oasis], assignee="李娜")] == ["星辰科技"]
    assert tasks.open_tasks([star, oasis], due_by=TODAY) == []
    assert [t.customer.name for t in tasks.open_tasks([star, oasis], due_by=date(2026, 12, 3))] == ["杭州绿洲"]


def test_a_later_contact_on_the_day_closes_the_task(empty_vault: Vault) -> None:
    star = log(empty_vault, add(empty_vault, "星辰科技"), days_ago=3, next="前天 15:00 @李娜 发送报价")
    assert tasks.customer_tasks(star)[0].day == TODAY - timedelta(days=2)  # typed: relative to today
    star = log(empty_vault, star, days_ago=2, by="李娜")
    assert tasks.customer_tasks(star) == []


def test_done_appends_one_entry_and_leaves_earlier_bytes_alone(empty_vault: Vault) -> None:
    star = log(empty_vault, add(empty_vault, "星辰科技"), next="2026-12-20 @李娜 发送报价")
    star = log(empty_vault, star, by="李娜", next="2026-12-21 安排演示")
    before = star.path.read_bytes()
    with pytest.raises(CrmError, match="Open steps"):
        tasks.close_tasks(empty_vault, star, what="签合同", by="李娜", now=NOW)
    star, closed = tasks.close_tasks(empty_vault, star, what="报价", by="李娜", now=NOW)
    assert [t.what for t in closed] == ["发送报价"]
    after = star.path.read_bytes()
    assert after.startswith(before) and "done: 发送报价" in after[len(before):].decode()
    assert [t.what for t in tasks.customer_tasks(empty_vault.read(star.path))] == ["安排演示"]


def test_snooze_and_reassign_replan_the_step(empty_vault: Vault) -> None:
    star = log(empty_vault, add(empty_vault, "星辰科技"), next="2026-12-03 10:00 @李娜 发送报价")
    before = star.path.read_bytes()
    star = tasks.replan_task(empty_vault, star, when=datetime(2026, 12, 7, 14, 30), has_time=True, by="张伟", now=NOW)
    (task,) = tasks.customer_tasks(star)
    assert (task.day, task.at, task.assignee, task.what) == (date(2026, 12, 7), time(14, 30), "李娜", "发送报价")
    star = tasks.replan_task(empty_vault, star, assignee="@赵六", by="张伟", now=NOW)
    (task,) = tasks.customer_tasks(star)
    assert (task.day, task.at, task.assignee) == (date(2026, 12, 7), time(14, 30), "赵六")
    assert star.path.read_bytes().startswith(before)
    assert "next: 2026-12-07 14:30 @赵六 发送报价" in star.path.read_text(encoding="utf-8")


def test_cli_tasks_done_snooze_reassign(crm_empty) -> None:
    crm_empty("add", "星辰科技", "--industry", "internet", "--contact", "王经理", "--phone", "13800138000")
    crm_empty("log", "星辰", "--note", "电话沟通", "--next", "2026-12-05 15:00 @李娜 发送报价")
    listed = crm_empty("tasks", "--json", "--on", "2026-12-06").json()
    assert [(t["name"], t["date"], t["time"], t["assignee"], t["status"]) for t in listed] == [
        ("星辰科技", "2026-12-05", "15:00", "李娜", "overdue")]
    assert crm_empty("tasks", "--json", "--overdue", "--on", "2026-12-04").json() == []
    assert "李娜" in crm_empty("tasks", "--on", "2026-12-06").stdout
    crm_empty("reassign", "星辰", "@赵六")
    assert crm_empty("tasks", "--json", "--assignee", "赵六").json()[0]["what"] == "发送报价"
    crm_empty("snooze", "星辰", "2099-01-05 09:00")
    assert crm_empty("tasks", "--json").json()[0]["date"] == "2099-01-05"
    crm_empty("done", "星辰")
    assert crm_empty("tasks", "--json").json() == []
    failed = crm_empty("done", "星辰", ok=False)
    assert "no open next step" in failed.stderr
