"""Deal rules from crmnotes.yaml: fields required from 商务谈判 on, proposal and contract links kept
inside the vault, the won deal's date and contract, the after-sales stage (售后)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from crmnotes import deals, reports
from crmnotes.errors import CrmError, ValidationError
from crmnotes.vault import Vault
from tests.conftest import Crm

NOW = datetime(2026, 10, 8, 10, 0)


def _xingchen(vault: Vault):  # type: ignore[no-untyped-def]
    return vault.resolve("星辰科技")


def test_negotiation_needs_amount_probability_and_proposal(example_vault: Vault) -> None:
    crm = Crm(example_vault.root)
    path = _xingchen(example_vault).path
    before = path.read_bytes()
    refused = crm("deal", "add", "星辰科技", "三期", "--stage", "商务谈判", ok=False)
    assert "商务谈判 needs its amount (--amount), proposal (--proposal)" in refused.stderr
    assert "Traceback" not in refused.stderr and path.read_bytes() == before
    crm("deal", "add", "星辰科技", "三期", "--stage", "商务谈判", "--amount", "12万",
        "--proposal", "https://pan.example.com/三期方案.pdf")
    added = _xingchen(example_vault).deals[-1]
    assert (added["stage"], added["amount"], added["probability"]) == ("negotiation", 120000, 75)  # stage default
    assert added["opened"] == date.today()
    early = crm("deal", "add", "星辰科技", "四期", "--stage", "需求确认")  # nothing required before 商务谈判
    assert early.exit_code == 0


def test_attachment_links_stay_in_the_vault(example_vault: Vault) -> None:
    customer = _xingchen(example_vault)
    (example_vault.root / "attachments" / "星辰").mkdir(parents=True)
    (example_vault.root / "attachments" / "星辰" / "方案.pdf").write_bytes(b"%PDF-1.4")
    (example_vault.root.parent / "secret.pdf").write_bytes(b"x")
    for link, why in (("../secret.pdf", "inside the vault"), ("attachments/../../secret.pdf", "inside the vault"),
                      ("/etc/passwd", "inside the vault"), ("customers/x.md", "under attachments/"),
                      ("attachments/星辰/没有.pdf", "does not exist")):
        with pytest.raises(ValidationError, match=why):
            deals.set_deal(example_vault, customer, "1", deals.DealInput(proposal=link), now=NOW)
    (example_vault.root / "attachments" / "out").symlink_to(example_vault.root.parent)
    with pytest.raises(ValidationError, match="out of the vault"):
        deals.set_deal(example_vault, customer, "1", deals.DealInput(proposal="attachments/out/secret.pdf"), now=NOW)
    deals.set_deal(example_vault, customer, "1", deals.DealInput(proposal="attachments/星辰/方案.pdf"), now=NOW)
    assert _xingchen(example_vault).deals[0]["proposal"] == "attachments/星辰/方案.pdf"


def test_won_deal_records_the_win_and_contract_and_wins_the_customer(example_vault: Vault) -> None:
    crm = Crm(example_vault.root)
    (example_vault.root / "attachments").mkdir()
    (example_vault.root / "attachments" / "HT-2026-018.pdf").write_bytes(b"%PDF-1.4")
    customer = _xingchen(example_vault)
    assert customer.stage != "won"
    no_contract_yet = crm("deal", "set", "星辰科技", "1", "--contract-number", "HT-1", ok=False)
    assert "when the deal is won" in no_contract_yet.stderr
    crm("deal", "set", "星辰科技", "1", "--stage", "won", "--proposal", "https://pan.example.com/方案.pdf",
        "--contract-number", "HT-2026-018", "--contract-file", "attachments/HT-2026-018.pdf")
    won = _xingchen(example_vault)
    deal = won.deals[0]
    assert won.stage == "won" and deal["won_on"] == date.today()
    assert (deal["contract_number"], deal["contract_date"], deal["contract_value"], deal["contract_file"]) == (
        "HT-2026-018", date.today(), deal["amount"], "attachments/HT-2026-018.pdf")
    assert won.followups[-1].stage_to == "won"
    crm("deal", "set", "星辰科技", "1", "--stage", "售后", "-n", "进入售后")
    after = _xingchen(example_vault)
    assert after.deals[0]["stage"] == "after-sales" and after.deals[0]["won_on"] == date.today()  # kept
    assert not deals.is_open(after.deals[0]) and deals.is_won(after.deals[0])
    trend = reports.build("trend", [after], example_vault.config, today=date.today())
    assert trend.totals["won_value"] == deal["amount"] == sum(r["won_value"] for r in trend.rows)


def test_deal_rules_of_the_config_are_checked(example_vault: Vault) -> None:
    config = example_vault.root / "crmnotes.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("  negotiation: [amount, probability, proposal]", "  negotiation: [budget]"),
                      encoding="utf-8")
    vault = Vault(example_vault.root)
    with pytest.raises(CrmError, match=r"deal_rules\.negotiation"):
        deals.add_deal(vault, _xingchen(vault), deals.DealInput(name="x", stage="negotiation"))
    config.write_text(text.replace("  negotiation: [amount, probability, proposal]", "  negotiation: [close]"),
                      encoding="utf-8")
    vault = Vault(example_vault.root)
    with pytest.raises(ValidationError, match="close"):
        deals.add_deal(vault, _xingchen(vault), deals.DealInput(name="x", stage="negotiation", amount="1"))


def test_deal_added_as_won_wins_the_customer(example_vault: Vault) -> None:
    customer = _xingchen(example_vault)
    deals.add_deal(example_vault, customer, deals.DealInput(name="续费", stage="赢单", amount="6万",
                                                            proposal="https://pan.example.com/续费.pdf",
                                                            contract_number="HT-2026-031"), by="张伟", now=NOW)
    won = _xingchen(example_vault)
    deal = won.deals[-1]
    logged = next(f for f in won.followups if f.at == NOW)
    assert won.stage == "won" and (logged.stage_from, logged.stage_to) == ("intent", "won")
    assert (deal["opened"], deal["won_on"], deal["contract_date"], deal["contract_value"]) == (
        NOW.date(), NOW.date(), NOW.date(), 60000)
    assert "续费" in logged.note and logged.by == "张伟"
