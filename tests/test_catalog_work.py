"""Tasks, the agenda, reminders, deals and tickets list through the catalog (``report_customers``), not by
parsing every file: what they give from the cache is exactly what they give from the files, and an
edited file is seen at the next command."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crmnotes import catalog, deals, tickets
from crmnotes.agenda import agenda
from crmnotes.due import answer
from crmnotes.model import Customer
from crmnotes.tasks import open_tasks
from crmnotes.vault import Vault

from .conftest import TODAY, Crm


def varied(crm: Crm) -> None:
    """The example vault (Chinese and English names, deals, a ticket) with tasks that carry a time and an
    assignee, a ``done:`` line, a deal's stage move (no contact) after a planned step, and a new ticket."""
    crm("log", "星辰", "--note", "电话沟通报价", "--by", "张伟",
        "--next", f"{(TODAY + timedelta(days=2)).isoformat()} 15:00 @李娜 发送报价")
    crm("log", "Acme", "--note", "Call about the renewal", "--by", "alice",
        "--next", f"{(TODAY + timedelta(days=1)).isoformat()} send the quote")
    crm("log", "Acme", "--note", "Sent it", "--by", "bob",
        "--next", f"{(TODAY + timedelta(days=3)).isoformat()} 09:30 @alice demo")
    crm("done", "Acme", "quote", "--by", "bob")
    crm("log", "华东", "--note", "上门拜访", "--by", "李娜",
        "--next", f"{(TODAY + timedelta(days=4)).isoformat()} 安排技术交流")
    # a deal's stage move after the step: no contact, the step stays open
    crm("deal", "set", "华东", "1", "--stage", "negotiation", "--proposal", "https://pan.example.com/方案.pdf")
    crm("ticket", "open", "北京云帆", "登录页面报错 500", "--priority", "high")


def work_of(vault: Vault, customers: list[Customer]) -> dict[str, Any]:
    """Everything the tasks, agenda, reminders, deal ls and ticket ls print, from these customers."""
    config = vault.config
    return {
        "tasks": [t.to_json(vault, TODAY) for t in open_tasks(customers)],
        "agenda": [i.to_json(vault, TODAY) for i in agenda(customers, config, TODAY, 14)],
        "due": sorted((vault.relative(c.path), answer(c, config, TODAY)) for c in customers),
        "last_contact": sorted((vault.relative(c.path), c.last_contact) for c in customers),
        "deals": [(vault.relative(c.path), i, d) for c, i, d in deals.deal_rows(customers)],
        "tickets": [(vault.relative(c.path), t) for c, t in tickets.ticket_rows(customers, open_only=False)],
    }


def test_work_from_the_catalog_equals_parsing_the_files(crm: Crm) -> None:
    varied(crm)
    vault = Vault(crm.root)
    from_files = work_of(vault, vault.scan().customers)
    assert any(t["time"] and t["assignee"] == "李娜" for t in from_files["tasks"])
    assert not any(t["what"] == "send the quote" for t in from_files["tasks"])  # closed by done:
    assert any(t["what"] == "安排技术交流" for t in from_files["tasks"])  # the deal move left it open
    assert from_files["tickets"] and from_files["deals"]
    for _ in range(2):  # built, then read back from the SQLite file
        assert work_of(vault, catalog.report_customers(vault).customers) == from_files
    assert crm("tasks", "--json").json() == from_files["tasks"]
    assert crm("agenda", "--days", "14", "--json").json() == from_files["agenda"]
    names = {d["customer"] for d in crm("deal", "ls", "--json").json()}
    assert names == {c.name for c in vault.scan().customers if c.deals}
    assert {t["subject"] for t in crm("ticket", "ls", "--json").json()} >= {"登录页面报错 500"}


def test_an_edited_file_is_seen_by_tasks_and_deals(crm: Crm) -> None:
    assert crm("tasks", "--json").json() is not None  # the cache is built
    vault = Vault(crm.root)
    path = vault.resolve("星辰").path
    text = path.read_text(encoding="utf-8")
    step = (TODAY + timedelta(days=9)).isoformat()
    path.write_text(text.rstrip("\n") + f"\n\n### {TODAY.isoformat()} 11:00 · phone · 王芳\n\n客户来电。\n\n"
                    f"next: {step} 16:00 @赵六 寄送合同\n", encoding="utf-8")
    found = [t for t in crm("tasks", "--json").json() if t["what"] == "寄送合同"]
    assert [(t["date"], t["time"], t["assignee"]) for t in found] == [(step, "16:00", "赵六")]
    path.write_text(path.read_text(encoding="utf-8").replace("数据安全平台一期", "数据安全平台二期"), encoding="utf-8")
    assert "数据安全平台二期" in {d.get("name") for d in crm("deal", "ls", "--json").json()}
