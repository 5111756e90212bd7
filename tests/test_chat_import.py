"""Chat records as follow-ups: sample exports written for these tests (tests/data/chat)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from crmnotes import actions
from crmnotes.io.chat import read_messages
from crmnotes.vault import Vault
from tests.conftest import Crm

CHATS = Path(__file__).parent / "data" / "chat"


def customers(vault: Vault) -> dict[str, actions.Customer]:
    for name, contact, phone in (("星辰科技有限公司", "王磊", "13800138000"), ("杭州云帆科技", "陈思远", "13912345678"),
                                 ("明远教育", "孙老师", "13700137000")):
        draft = actions.NewCustomer(name=name, industry="互联网", contact=contact, phone=phone, owner="张伟")
        actions.add_customer(vault, draft)
    mingyuan = vault.resolve("明远教育")
    actions.add_contact(vault, mingyuan, "林晓", "决策人", "13811112222")
    return {c.name: c for c in vault.scan().customers}


def test_the_forwarded_text_keeps_senders_lines_emoji_and_placeholders() -> None:
    messages = read_messages(CHATS / "forwarded_wangl.txt")
    assert [(m.at, m.sender) for m in messages] == [
        (datetime(2024, 11, 5, 10, 15), "王磊"), (datetime(2024, 11, 5, 10, 17), "张伟"),
        (datetime(2024, 11, 8, 9, 2), "王磊"), (datetime(2024, 11, 8, 9, 5), "张伟")]
    assert messages[0].text == "张经理您好，方案收到了👍\n我们技术负责人下周看一下"
    assert messages[1].text.startswith("好的王总，[图片]") and messages[2].text == "[语音]"


def test_a_forwarded_chat_becomes_one_wechat_entry_per_day_and_never_twice(empty_vault: Vault,
                                                                           snapshot_files) -> None:
    crm = Crm(empty_vault.root)
    customers(empty_vault)
    out = crm("import-chat", str(CHATS / "forwarded_wangl.txt"), "--me", "张伟").stdout
    assert "2 conversation day(s) added" in out
    xingchen = empty_vault.resolve("星辰科技")
    entries = [f for f in xingchen.followups if f.channel == "wechat"]
    assert [f.at for f in entries] == [datetime(2024, 11, 5, 10, 15), datetime(2024, 11, 8, 9, 2)]
    assert entries[0].by == "张伟"
    assert "10:15 王磊：张经理您好，方案收到了👍" in entries[0].note and "[图片]" in entries[0].note
    assert "10:17 张伟：好的王总" in entries[0].note and "有问题随时找我😊" in entries[0].note
    before = snapshot_files(empty_vault.root)
    again = crm("import-chat", str(CHATS / "forwarded_wangl.txt"), "--me", "张伟").stdout
    assert "0 conversation day(s) added, 2 already there" in again
    assert snapshot_files(empty_vault.root) == before
    assert crm("check", "--json").json()["errors"] == 0


def test_an_export_tool_txt_is_matched_by_contact_and_signed_by_me(empty_vault: Vault) -> None:
    crm = Crm(empty_vault.root)
    customers(empty_vault)
    crm("import-chat", str(CHATS / "export_tool.txt"), "--me", "李娜")
    yunfan = [f for f in empty_vault.resolve("杭州云帆").followups if f.channel == "wechat"]
    assert [f.at.date().isoformat() for f in yunfan] == ["2024-12-01", "2024-12-02"]
    assert "14:05 李娜：[文件] 云帆报价单v3.pdf" in yunfan[0].note
    assert "看了，价格还需要再谈 🙏" in yunfan[1].note and "预算要等下个月审批" in yunfan[1].note


def test_a_csv_export_matches_a_remark_name_to_a_contacts_person_and_reports_strangers(empty_vault: Vault) -> None:
    crm = Crm(empty_vault.root)
    customers(empty_vault)
    result = crm("import-chat", str(CHATS / "wechat_export.csv"))
    assert "1 message(s) with '不认识的人' match no single customer" in result.stderr
    entries = [f for f in empty_vault.resolve("明远教育").followups if f.channel == "wechat"]
    assert len(entries) == 1 and entries[0].at == datetime(2024, 12, 11, 9, 0)
    assert "林晓-明远教育：林老师这边想了解一下续费政策" in entries[0].note
    assert "09:05 tester：好的林老师，续费可以享受老客户8折🎉" in entries[0].note
    assert "合同我下午发您" in entries[0].note
    assert "[图片]" in entries[0].note
    assert crm("import-chat", str(CHATS / "wechat_export.csv"), "--dry-run").stdout.count("would be added") == 1


def test_a_chat_with_an_id_number_is_refused_for_that_day(empty_vault: Vault, tmp_path: Path) -> None:
    crm = Crm(empty_vault.root)
    customers(empty_vault)
    chat = tmp_path / "id.txt"
    chat.write_text("2024-12-03 10:00:00 王磊\n我的身份证号是11010519491231002X\n", encoding="utf-8")
    result = crm("import-chat", str(chat))
    assert "ID or bank card number" in result.stderr and "0 conversation day(s) added" in result.stdout
    assert "11010519491231002X" not in empty_vault.resolve("星辰科技").path.read_text(encoding="utf-8")
