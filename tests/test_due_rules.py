"""The due rules added to the registry: birthdays (solar and lunar), deals past their close date, tickets past due,
cadence by tag, working days across Spring Festival; each against a fixed today, and the listing cache agreeing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from crmnotes import actions, catalog, note
from crmnotes.due import after_interval, is_working_day, lunar_month_day, next_due
from crmnotes.errors import ConfigError
from crmnotes.vault import Vault

TODAY = date(2026, 12, 2)
NOW = datetime(2026, 12, 2, 9, 0)


def customer(vault: Vault, name: str, fields: dict, *, contacted: date | None = date(2026, 11, 25),
             stage: str = "won", grade: str = "C", tags: str = ""):
    draft = actions.NewCustomer(name=name, industry="internet", contact="王经理", phone="13800138000",
                                stage=stage, grade=grade, owner="张伟", tags=tags)
    made = actions.add_customer(vault, draft, force=True, now=datetime(2026, 1, 5, 9, 0))
    if contacted is not None:
        entry = actions.LogEntry(note="电话沟通", at=datetime.combine(contacted, datetime.min.time()), by="张伟")
        made = actions.log_followup(vault, made, entry, now=NOW)
    if fields:
        made = vault.update(made.path, lambda doc: note.set_fields(doc, fields))
    return made


def with_config(vault: Vault, extra: str) -> Vault:
    path = vault.root / "crmnotes.yaml"
    text = path.read_text(encoding="utf-8").replace("  tags: {risk/高: 3/week}\n", "")  # the template's own
    path.write_text(text.replace("cadence:\n", "cadence:\n" + extra, 1), encoding="utf-8")
    return Vault(vault.root)


def test_solar_birthday_is_due_three_days_before_until_greeted(empty_vault: Vault) -> None:
    made = customer(empty_vault, "星辰科技", {"birthday": date(1985, 12, 6)})
    info = next_due(made, empty_vault.config, TODAY)
    assert info and (info.due, info.rule) == (date(2026, 12, 3), "birthday") and "2026-12-06" in info.reason
    assert info.status(date(2026, 12, 3)) == "due"
    entry = actions.LogEntry(note="生日祝福", at=datetime(2026, 12, 4, 10, 0), by="张伟")
    made = actions.log_followup(empty_vault, made, entry, now=NOW)
    later = next_due(made, empty_vault.config, date(2026, 12, 5))
    assert later is None or later.rule != "birthday" or later.due == date(2027, 12, 3)


@pytest.mark.parametrize(("written", "solar"), [
    ("八月十五", date(2026, 9, 25)),      # 中秋 2026
    ("08-15", date(2026, 9, 25)),
    ("正月初一", date(2027, 2, 6)),       # 春节 2027
    ("腊月廿三", date(2027, 1, 30)),      # 小年 of lunar 2026
])
def test_lunar_birthday_falls_on_its_solar_day(empty_vault: Vault, written: str, solar: date) -> None:
    day = solar - timedelta(days=20)
    made = customer(empty_vault, "农历客户", {"lunar_birthday": written}, contacted=day - timedelta(days=1))
    info = next_due(made, empty_vault.config, day)
    assert info and info.rule == "birthday" and info.due == solar - timedelta(days=3)
    assert f"农历生日 {written}" in info.reason and solar.isoformat() in info.reason


def test_lunar_month_day_forms() -> None:
    assert lunar_month_day("农历八月十五") == (8, 15)
    assert lunar_month_day("冬月初九") == (11, 9)
    assert lunar_month_day("十二月三十") == (12, 30)
    assert lunar_month_day("8月15") == (8, 15)
    assert lunar_month_day("十三月一") is None and lunar_month_day("") is None


def test_open_deal_past_its_close_date_is_due_and_a_closed_one_is_not(empty_vault: Vault) -> None:
    deals = [{"id": "D1", "name": "数据平台", "stage": "negotiation", "amount": 180000, "close": date(2026, 11, 20)},
             {"id": "D2", "name": "旧项目", "stage": "won", "amount": 1000, "close": date(2026, 10, 1)}]
    made = customer(empty_vault, "星辰科技", {"deals": deals})
    info = next_due(made, empty_vault.config, TODAY)
    assert info and (info.due, info.rule) == (date(2026, 11, 20), "deal-close") and "D1" in info.reason
    assert info.status(TODAY) == "overdue"


def test_ticket_past_its_due_date_is_overdue(empty_vault: Vault) -> None:
    tickets = [{"id": "T1", "subject": "网关离线", "status": "open", "priority": "high",
                "opened": date(2026, 11, 25), "due": date(2026, 11, 28)}]
    made = customer(empty_vault, "华东精密", {"tickets": tickets})
    info = next_due(made, empty_vault.config, TODAY)
    assert info and (info.due, info.rule, info.status(TODAY)) == (date(2026, 11, 28), "ticket", "overdue")


def test_cadence_by_tag_three_times_a_week(empty_vault: Vault) -> None:
    vault = with_config(empty_vault, "  tags: {risk/高: 3/week, risk: 14}\n")
    risky = customer(vault, "高风险客户", {}, contacted=date(2026, 11, 28), tags="risk/高")
    info = next_due(risky, vault.config, TODAY)
    assert info and (info.due, info.rule) == (date(2026, 11, 30), "tag-cadence") and "risk/高" in info.reason
    low = customer(vault, "低风险客户", {}, contacted=date(2026, 11, 28), tags="risk/低")
    info = next_due(low, vault.config, TODAY)
    assert info and info.rule == "tag-cadence" and info.due == date(2026, 12, 12)  # the namespace's 14 days


def test_a_bad_tag_cadence_is_a_clear_config_error(empty_vault: Vault) -> None:
    with pytest.raises(ConfigError, match=r"risk/高.*3/week"):  # refused when the config is read, not later
        _ = with_config(empty_vault, "  tags: {risk/高: often}\n").config


def test_working_days_across_spring_festival_2026(empty_vault: Vault) -> None:
    # chinesecalendar 1.11 knows 2004-2026: Spring Festival 2026 is off 15-23 Feb, Saturdays 14 and 28 Feb are worked
    assert is_working_day(date(2026, 2, 14)) and not is_working_day(date(2026, 2, 17))
    assert is_working_day(date(2026, 2, 28)) and not is_working_day(date(2026, 2, 22))
    vault = with_config(empty_vault, "  working_days: cn\n")
    assert after_interval(date(2026, 2, 13), 1, vault.config) == date(2026, 2, 14)
    assert after_interval(date(2026, 2, 13), 2, vault.config) == date(2026, 2, 24)  # not the first day of 春节
    assert after_interval(date(2026, 2, 13), 2, empty_vault.config) == date(2026, 2, 15)  # off by default
    made = customer(vault, "意向客户", {}, contacted=date(2026, 2, 13), stage="intent", grade="C")
    info = next_due(made, vault.config, date(2026, 2, 14))
    assert info and info.rule == "cadence" and info.due == date(2026, 2, 25) and "working days" in info.reason


def test_years_the_holiday_data_does_not_know_count_monday_to_friday() -> None:
    assert is_working_day(date(2027, 2, 8)) and not is_working_day(date(2027, 2, 6))  # 2027: weekdays only


def test_the_listing_cache_agrees_with_the_rules_on_every_day(empty_vault: Vault) -> None:
    customer(empty_vault, "生日客户", {"birthday": "12-06"})
    customer(empty_vault, "农历客户", {"lunar_birthday": "正月初一"}, contacted=date(2026, 12, 1))
    customer(empty_vault, "商机客户", {"deals": [{"id": "D1", "stage": "negotiation", "close": date(2026, 12, 10)}]})
    for offset in range(0, 80, 3):
        day = TODAY + timedelta(days=offset)
        direct = [(i.customer.name, i.due, i.rule) for i in actions.due_customers(empty_vault, day)]
        cached = [(i.entry.name, i.due, i.rule) for i in catalog.due(empty_vault, day)[0]]
        assert cached == direct, day


def test_crm_due_shows_the_new_rules(crm_empty, empty_vault: Vault) -> None:
    customer(empty_vault, "生日客户", {"birthday": "1990-12-03"})
    shown = crm_empty("due", "--on", TODAY.isoformat(), "--json").json()
    assert [(d["name"], d["rule"]) for d in shown] == [("生日客户", "birthday")]
    assert Path(empty_vault.root).exists()


def test_renewal_is_due_thirty_days_before_until_contacted_in_the_window(empty_vault: Vault) -> None:
    made = customer(empty_vault, "续约客户", {"renewal_date": date(2026, 12, 20)}, contacted=date(2026, 11, 10))
    info = next_due(made, empty_vault.config, TODAY)
    assert info and (info.due, info.rule) == (date(2026, 11, 20), "renewal") and "2026-12-20" in info.reason
    entry = actions.LogEntry(note="续约沟通", at=datetime(2026, 11, 25, 10, 0), by="张伟")
    made = actions.log_followup(empty_vault, made, entry, now=NOW)
    info = next_due(made, empty_vault.config, TODAY)
    assert info is None or info.rule != "renewal"
