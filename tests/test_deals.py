"""Deals: stored in the customer's front-matter, stage moves logged as follow-ups."""

from __future__ import annotations

from datetime import datetime

import pytest

from crmnotes import deals, note
from crmnotes.errors import CrmError, ValidationError
from crmnotes.vault import Vault

NOW = datetime(2026, 11, 25, 10, 30)


def _xingchen(vault: Vault):
    return vault.resolve("星辰科技")


def test_parse_amount_accepts_chinese_units() -> None:
    assert deals.parse_amount("18万") == 180000
    assert deals.parse_amount("1.5w") == 15000
    assert deals.parse_amount("36k") == 36000
    assert deals.parse_amount("¥180,000") == 180000
    with pytest.raises(ValueError):
        deals.parse_amount("很多")


def test_add_deal_changes_only_the_deals_block(example_vault: Vault) -> None:
    customer = _xingchen(example_vault)
    before = customer.path.read_text(encoding="utf-8")
    updated = deals.add_deal(example_vault, customer, deals.DealInput(name="二期扩容", amount="30万",
                                                                       close="2027-03-01", stage="需求确认"))
    after = customer.path.read_text(encoding="utf-8")
    new = updated.deals[-1]
    # the hand-written first deal has no id: the new one is D2, i.e. also its position
    assert new["id"] == "D2" and new["stage"] == "needs-confirmed" and new["probability"] == 30
    assert new["amount"] == 300000 and new["currency"] == "CNY" and new["owner"] == "张伟"
    reread = example_vault.read(customer.path)
    assert reread.deals[-1]["close"].isoformat() == "2027-03-01"
    # everything outside the deals block is byte-identical (the comment after it too)
    head, tail = before.split("deals:", 1)
    assert after.startswith(head)
    assert after.endswith(tail[tail.index("# 合同由法务部") :])
    assert len(reread.followups) == len(customer.followups)


def test_stage_move_is_logged_as_followup_and_win_moves_customer(example_vault: Vault) -> None:
    customer = _xingchen(example_vault)
    deals.set_deal(example_vault, customer, "数据安全", deals.DealInput(stage="商务谈判", note="陈总同意进入商务阶段",
                                                                   proposal="https://pan.example.com/方案.pdf"),
                   by="张伟", now=NOW)
    reread = example_vault.read(customer.path)
    assert reread.deals[0]["stage"] == "negotiation" and reread.deals[0]["probability"] == 75
    last = reread.followups[-1]
    assert last.at == NOW and last.by == "张伟"
    assert "方案报价 → 商务谈判" in last.note and "陈总同意" in last.note
    assert reread.stage == "intent" and not last.stage_to

    deals.set_deal(example_vault, reread, "1", deals.DealInput(stage="won"), by="张伟",
                   now=NOW.replace(hour=11))
    won = example_vault.read(customer.path)
    assert won.stage == "won" and won.deals[0]["probability"] == 100
    assert (won.followups[-1].stage_from, won.followups[-1].stage_to) == ("intent", "won")
    assert len(won.followups) == len(customer.followups) + 2


def test_set_without_stage_change_logs_nothing(example_vault: Vault) -> None:
    customer = _xingchen(example_vault)
    deals.set_deal(example_vault, customer, "1", deals.DealInput(amount="20万", probability="60%"))
    reread = example_vault.read(customer.path)
    assert reread.deals[0]["amount"] == 200000 and reread.deals[0]["probability"] == 60
    assert len(reread.followups) == len(customer.followups)


def test_bad_input_writes_nothing(example_vault: Vault) -> None:
    customer = _xingchen(example_vault)
    before = customer.path.read_bytes()
    with pytest.raises(ValidationError, match="stage"):
        deals.add_deal(example_vault, customer, deals.DealInput(name="x", stage="大概成交"))
    with pytest.raises(ValidationError, match="amount"):
        deals.add_deal(example_vault, customer, deals.DealInput(name="x", amount="很多"))
    with pytest.raises(CrmError, match="no deal matches"):
        deals.set_deal(example_vault, customer, "D9", deals.DealInput(stage="won"))
    assert customer.path.read_bytes() == before


def test_cli_deal_add_set_ls(crm, example_vault: Vault) -> None:
    crm("deal", "add", "星辰科技", "二期扩容", "--amount", "300000", "--stage", "proposal", "--close", "2027-01-15")
    crm("deal", "set", "星辰科技", "D2", "--stage", "negotiation", "-n", "报价已确认", "--proposal",
        "https://pan.example.com/二期方案.pdf")
    listed = crm("deal", "ls", "--json").json()
    mine = [d for d in listed if d["customer"] == "星辰科技有限公司" and d["name"] == "二期扩容"]
    assert mine and mine[0]["stage"] == "negotiation" and mine[0]["weighted"] == 225000
    open_only = crm("deal", "ls", "--open", "--json").json()
    assert all(d["stage"] not in ("won", "lost") for d in open_only)
    shown = crm("show", "星辰科技", "--json").json()
    assert "二期扩容" in shown["followups"][-1]["note"]
    failed = crm("deal", "set", "星辰科技", "D2", "--stage", "nope", ok=False)
    assert "not a deal stage" in failed.stderr
    assert note.parse(example_vault.resolve("星辰科技").path.read_bytes()).problems == []
