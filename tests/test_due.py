"""Due rules: explicit next steps, cadence by stage and grade, silence."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from crmnotes import actions
from crmnotes.due import due_list, effective_stage, next_due
from crmnotes.vault import Vault

NOW = datetime(2026, 3, 2, 9, 0)
TODAY = NOW.date()


def add(vault: Vault, name: str, stage: str = "potential", grade: str = "C", created_days_ago: int = 1):
    draft = actions.NewCustomer(name=name, industry="internet", contact="王经理", phone="13800138000",
                                stage=stage, grade=grade, owner="张伟")
    return actions.add_customer(vault, draft, force=True, now=NOW - timedelta(days=created_days_ago))


def log(vault: Vault, customer, days_ago: int, **kw):
    entry = actions.LogEntry(note="电话沟通", at=NOW - timedelta(days=days_ago), by="张伟", **kw)
    return actions.log_followup(vault, customer, entry, now=NOW)


def test_cadence_takes_the_shorter_of_stage_and_grade(empty_vault: Vault) -> None:
    intent_c = log(empty_vault, add(empty_vault, "意向客户", stage="intent", grade="C"), days_ago=5)
    won_a = log(empty_vault, add(empty_vault, "成交客户", stage="won", grade="A"), days_ago=5)
    info = next_due(intent_c, empty_vault.config, TODAY)
    assert info and info.due == TODAY - timedelta(days=2) and info.rule == "cadence"
    assert "stage intent: every 3 days" in info.reason
    info = next_due(won_a, empty_vault.config, TODAY)
    assert info and info.due == TODAY + timedelta(days=2) and "grade A: every 7 days" in info.reason


def test_explicit_next_step_wins_over_cadence(empty_vault: Vault) -> None:
    customer = log(empty_vault, add(empty_vault, "星辰科技", stage="intent"), days_ago=1, next="2026-03-20 发报价")
    info = next_due(customer, empty_vault.config, TODAY)
    assert info and info.due == date(2026, 3, 20) and info.rule == "next-step" and "发报价" in info.reason
    assert customer.meta["next_followup"] == date(2026, 3, 20)


def test_a_later_contact_fulfils_the_old_next_followup(empty_vault: Vault) -> None:
    customer = log(empty_vault, add(empty_vault, "星辰科技", stage="intent"), days_ago=10, next="2026-02-25 回访")
    customer = log(empty_vault, customer, days_ago=3)  # contacted after the planned day, no new plan
    info = next_due(customer, empty_vault.config, TODAY)
    assert info and info.rule == "cadence" and info.due == TODAY  # 3 days after the last contact


def test_silence_after_threshold_and_no_cadence_for_silent_or_lost(empty_vault: Vault) -> None:
    quiet = log(empty_vault, add(empty_vault, "沉默客户", grade="A", created_days_ago=200), days_ago=120)
    assert effective_stage(quiet, empty_vault.config, TODAY) == "silent"
    assert next_due(quiet, empty_vault.config, TODAY) is None
    lost = log(empty_vault, add(empty_vault, "流失客户", stage="lost", created_days_ago=300), days_ago=200)
    assert effective_stage(lost, empty_vault.config, TODAY) == "lost"
    assert next_due(lost, empty_vault.config, TODAY) is None


def test_never_contacted_counts_from_creation(empty_vault: Vault) -> None:
    # potential is followed up weekly (the guides), so a customer made 20 days ago was due 13 days ago
    customer = add(empty_vault, "新客户", stage="potential", grade="B", created_days_ago=20)
    info = next_due(customer, empty_vault.config, TODAY)
    assert info and info.due == TODAY - timedelta(days=13) and "never contacted" in info.reason


def test_due_list_orders_most_overdue_first(empty_vault: Vault) -> None:
    a = log(empty_vault, add(empty_vault, "甲", stage="intent"), days_ago=10)
    b = log(empty_vault, add(empty_vault, "乙", stage="intent"), days_ago=4)
    c = log(empty_vault, add(empty_vault, "丙", stage="intent"), days_ago=1)
    items = due_list([c, b, a], empty_vault.config, TODAY)
    assert [i.customer.name for i in items] == ["甲", "乙"]
    assert items[0].status(TODAY) == "overdue" and items[0].days_overdue(TODAY) == 7
