"""Service tickets: stored with the customer; open ones make the customer due."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crmnotes import actions, tickets
from crmnotes.due import next_due
from crmnotes.errors import CrmError, ValidationError
from crmnotes.vault import Vault
from tests.conftest import TODAY


def test_open_update_close_roundtrip(example_vault: Vault) -> None:
    customer = example_vault.resolve("星辰科技")
    before_followups = len(customer.followups)
    updated, ticket_id = tickets.open_ticket(example_vault, customer,
                                             tickets.TicketInput(subject="登录页面报错 500", type="故障",
                                                                 priority="紧急"), today=TODAY)
    assert ticket_id == "T1"
    stored = example_vault.read(customer.path).tickets[0]
    assert stored == {"id": "T1", "subject": "登录页面报错 500", "type": "fault", "priority": "urgent",
                      "status": "open", "opened": TODAY, "owner": "张伟"}
    tickets.update_ticket(example_vault, updated, "T1", tickets.TicketInput(status="处理中"), today=TODAY)
    tickets.close_ticket(example_vault, example_vault.read(customer.path), "T1",
                         tickets.TicketInput(resolution="修复了负载均衡配置", satisfaction="4"), today=TODAY)
    final = example_vault.read(customer.path)
    assert final.tickets[0]["status"] == "closed" and final.tickets[0]["closed"] == TODAY
    assert final.tickets[0]["satisfaction"] == 4 and final.tickets[0]["resolution"] == "修复了负载均衡配置"
    assert len(final.followups) == before_followups


def test_invalid_ticket_input_is_refused(example_vault: Vault) -> None:
    customer = example_vault.resolve("星辰科技")
    before = customer.path.read_bytes()
    with pytest.raises(ValidationError, match="satisfaction"):
        tickets.open_ticket(example_vault, customer, tickets.TicketInput(subject="x", satisfaction="9"))
    with pytest.raises(ValidationError, match="subject"):
        tickets.open_ticket(example_vault, customer, tickets.TicketInput(subject="  "))
    with pytest.raises(CrmError, match="does not close"):
        tickets.close_ticket(example_vault, customer, "T1", tickets.TicketInput(status="open"))
    assert customer.path.read_bytes() == before


def test_open_ticket_makes_customer_due(example_vault: Vault) -> None:
    customer = example_vault.resolve("Acme")
    original = next_due(customer, example_vault.config, TODAY)
    opened = TODAY - timedelta(days=2)
    tickets.open_ticket(example_vault, customer, tickets.TicketInput(subject="Invoice question", priority="high"),
                        today=opened)
    info = next_due(example_vault.read(customer.path), example_vault.config, TODAY)
    assert info is not None and info.rule == "ticket" and info.due == opened
    assert "Invoice question" in info.reason
    due_ids = [i.customer.id for i in actions.due_customers(example_vault, TODAY)]
    assert customer.id in due_ids
    tickets.close_ticket(example_vault, example_vault.read(customer.path), "T1", tickets.TicketInput())
    after = next_due(example_vault.read(customer.path), example_vault.config, TODAY)
    assert (after.due, after.rule) == ((original.due, original.rule) if original else (None, None))


def test_example_in_progress_ticket_is_in_due_list(crm) -> None:
    due = crm("due", "--json").json()
    huadong = [d for d in due if d["name"].startswith("华东精密")]
    assert huadong and huadong[0]["rule"] == "ticket" and "二号车间" in huadong[0]["reason"]


def test_cli_ticket_commands(crm) -> None:
    out = crm("ticket", "open", "北京云帆", "课程平台无法登录", "--type", "fault", "--priority", "high")
    assert out.stdout.strip() == "T1"
    crm("ticket", "update", "北京云帆", "T1", "--status", "in-progress")
    listed = crm("ticket", "ls", "--json").json()
    assert {t["subject"] for t in listed} >= {"课程平台无法登录", "二号车间采集网关离线"}
    crm("ticket", "close", "北京云帆", "T1", "-r", "重置密码", "-s", "5")
    still_open = crm("ticket", "ls", "--json").json()
    assert "课程平台无法登录" not in {t["subject"] for t in still_open}
    everything = crm("ticket", "ls", "--all", "--json").json()
    closed = next(t for t in everything if t["subject"] == "课程平台无法登录")
    assert closed["status"] == "closed" and closed["satisfaction"] == 5 and closed["closed"] == date.today().isoformat()
    bad = crm("ticket", "update", "北京云帆", "T7", "--status", "open", ok=False)
    assert "no ticket matches" in bad.stderr
