"""Import v2 with real files: a messy 200-row XLSX with a follow-up sheet, a GBK CSV saved the way
Excel saves it, the guides' headers and values, past follow-ups as entries, re-import, --limit,
merge reports, value mapping and refused ID numbers."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook

from crmnotes import actions
from crmnotes.due import effective_stage
from crmnotes.vault import Vault
from tests.conftest import TODAY, Crm

HEADERS = ["客户编号", "客户名称*", "客户行业", "联系人", "手机号码", "联系邮箱", "客户来源", "客户级别", "客户类型",
           "公司规模", "客户标签", "客户阶段", "负责人", "创建日期", "最近跟进时间", "跟进方式", "跟进记录",
           "下一步计划", "下次跟进时间"]
SOURCES = ["展会推荐", "线上广告", "线上搜索", "客户转介绍", "被动咨询", " 展会推荐 ", "线上展会"]
INDUSTRIES = ["互联网", "制造业", "金融", "教育", "医疗", "零售", "新能源", "物流"]
GRADES = ["A 高价值", "B 潜力", "C 普通", "A", "b"]
STAGES = ["潜在客户", "意向客户", "成交客户", "意向", "潜在"]
CHANNELS = ["电话", "微信", "邮件", "面谈", "拜访"]
OWNERS = ["张伟", "李娜", "王芳"]
TAGS = ["budget/10-50万", "budget/50万以上, risk/高", "budget/10万以下", "needs/data-security，risk/中", ""]
SID = "11010519491231002X"  # the standard's example resident ID (valid checksum)


def phone_of(number: int) -> str:
    digits = f"139{number:08d}"
    return random.Random(number).choice([digits, f"{digits[:3]} {digits[3:7]} {digits[7:]}",
                                         f"+86-{digits[:3]}-{digits[3:7]}-{digits[7:]}", f"{digits}\t"])


def customer_rows(count: int) -> list[list[object]]:
    rng = random.Random(20240310)
    rows = []
    for n in range(1, count + 1):
        last = TODAY - timedelta(days=rng.choice([2, 5, 9, 20, 40, 120, 200]))
        when = rng.choice([last.isoformat(), f"{last.year}/{last.month}/{last.day}",
                           f"{last.year}年{last.month}月{last.day}日",
                           datetime(last.year, last.month, last.day, 15, 30)])
        next_day = TODAY + timedelta(days=rng.choice([-3, 2, 10]))
        rows.append([f"CRM2024031{n:04d}", f"{['华东', '深圳', '北京', '成都'][n % 4]}客户{n:03d}科技有限公司",
                     rng.choice(INDUSTRIES), f"联系人{n:03d}", phone_of(n), f"contact{n}@example.com" if n % 3 else "",
                     rng.choice(SOURCES), rng.choice(GRADES), rng.choice(["企业客户", "个人", "政府机构"]),
                     rng.choice(["20人以下", "100-499人", "大型", ""]), rng.choice(TAGS), rng.choice(STAGES),
                     OWNERS[n % 3], f"2024-03-{1 + n % 28:02d}", when, rng.choice(CHANNELS),
                     f"第{n}号客户：介绍了数据安全方案，客户关心部署周期 😊", "发送报价单" if n % 2 else "",
                     next_day.isoformat() if n % 5 == 0 else ""])
    return rows


def history_rows(count: int) -> list[list[object]]:
    rows = []
    for n in range(1, count + 1):
        for back, text in ((300, "首次电话沟通，了解到年底有采购计划"),
                           (250, "微信发送产品资料[图片]，客户说会转给技术负责人")):
            rows.append([f"CRM2024031{n:04d}", (TODAY - timedelta(days=back)).isoformat() + " 10:00", OWNERS[n % 3],
                         "微信" if "微信" in text else "电话", text, "有兴趣", "", ""])
    return rows


def write_workbook(path: Path, count: int = 200) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "客户基本信息表"
    sheet.append(HEADERS)
    for row in customer_rows(count):
        sheet.append(row)
    history = book.create_sheet("跟进记录表")
    history.append(["客户编号", "跟进时间", "跟进人", "跟进方式", "跟进内容", "客户反馈", "下一步计划", "提醒时间"])
    for row in history_rows(count):
        history.append(row)
    book.save(path)
    return path


def write_excel_gbk_csv(path: Path, rows: list[list[str]], headers: list[str]) -> Path:
    """What Excel on a Chinese Windows writes for 'CSV (逗号分隔)': GBK, CRLF, quotes only where needed."""
    def cell(value: str) -> str:
        return f'"{value.replace(chr(34), chr(34) * 2)}"' if any(c in value for c in ',"\n') else value
    lines = [",".join(cell(str(v)) for v in row) for row in [headers, *rows]]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return path


def test_a_messy_200_row_workbook_comes_in_with_its_history(empty_vault: Vault, tmp_path: Path,
                                                            snapshot_files) -> None:
    crm = Crm(empty_vault.root)
    book = write_workbook(tmp_path / "客户资料.xlsx")
    dry = crm("import", str(book), "--dry-run", "--limit", "100")
    assert "客户行业→industry" in dry.stdout and "联系邮箱→email" in dry.stdout
    assert "最近跟进时间→followup_at" in dry.stdout
    assert "100 new" in dry.stdout and "Dry run" in dry.stdout and not any((empty_vault.customers_dir).rglob("*.md"))

    first = crm("import", str(book), "--limit", "100", "--json").json()
    assert first["created"] == 100 and first["rejects"] == [] and first["followups"] == 300

    second = crm("import", str(book), "--json").json()
    assert second["created"] == 100 and len(second["duplicates"]) == 100 and second["followups"] == 300
    customers = empty_vault.scan().customers
    assert len(customers) == 200
    assert sum(len(c.followups) for c in customers) == 600

    one = next(c for c in customers if c.meta.get("source_id") == "CRM20240310005")
    assert one.meta["industry"] and one.meta["phone"] == "+8613900000005"
    assert one.meta["customer_type"] in ("enterprise", "individual", "government")
    entries = sorted(one.followups, key=lambda f: f.at)
    assert entries[0].note == "首次电话沟通，了解到年底有采购计划" and entries[0].by == OWNERS[5 % 3]
    assert entries[-1].channel in ("phone", "wechat", "email", "visit", "other") and "😊" in entries[-1].note
    assert one.next_followup is not None  # row 5 has a 下次跟进时间

    due = {item["id"] for item in crm("due", "--json").json()}
    silent = [c for c in customers if effective_stage(c, empty_vault.config, TODAY) == "silent"]
    for customer in customers:
        last = customer.last_contact.date()
        if (TODAY - last).days > 90 and customer.stage != "lost":
            assert customer in silent
        if customer.next_followup and customer.next_followup <= TODAY:
            assert customer.id in due
    assert silent and len(silent) < 200

    before = snapshot_files(empty_vault.root)
    again = crm("import", str(book), "--json").json()
    assert again["created"] == 0 and again["followups"] == 0
    assert snapshot_files(empty_vault.root) == before  # importing the same file twice changes nothing
    assert crm("check", "--json").json()["errors"] == 0


def test_a_gbk_csv_with_a_separate_followup_sheet_and_a_value_to_map(empty_vault: Vault, tmp_path: Path) -> None:
    crm = Crm(empty_vault.root)
    headers = ["客户名称", "所属行业", "联系人", "联系电话", "客户来源", "客户等级", "最近跟进时间", "跟进记录"]
    rows = [["杭州云帆科技有限公司", "互联网", "周杰", "0571-8888 1234", "网上搜索来的", "A", "2024/11/5",
             "电话：确认预算"],
            ["苏州精工制造", "制造业", "吴敏", "139 1234 5678", "展会推荐", "B", "", ""]]
    sheet = write_excel_gbk_csv(tmp_path / "客户.csv", rows, headers)
    history = write_excel_gbk_csv(tmp_path / "跟进.csv", [
        ["苏州精工制造", "2024-12-01 14:00", "李娜", "拜访", "上门演示，客户技术负责人参加", "很满意", "发合同"],
        ["不存在的公司", "2024-12-02", "李娜", "电话", "打错了", "", ""],
    ], ["客户名称", "跟进时间", "跟进人", "跟进方式", "跟进内容", "客户反馈", "下一步计划"])

    refused = crm("import", str(sheet), "--followups", str(history), ok=False)
    assert "'网上搜索来的' is not a known source" in refused.stderr + refused.stdout
    assert "--map-value 'source:网上搜索来的=" in refused.stderr + refused.stdout
    assert "matches no customer" in refused.stderr + refused.stdout
    assert not any(empty_vault.customers_dir.rglob("*.md"))

    crm("import", str(sheet), "--followups", str(history), "--map-value", "source:网上搜索来的=online-search",
        "--skip-bad")
    customers = {c.name: c for c in empty_vault.scan().customers}
    assert customers["杭州云帆科技有限公司"].meta["source"] == "online-search"
    assert customers["杭州云帆科技有限公司"].meta["phone"] == "+8657188881234"
    visit = customers["苏州精工制造"].followups
    assert len(visit) == 1 and visit[0].channel == "visit" and visit[0].feedback == "很满意"
    assert visit[0].at == datetime(2024, 12, 1, 14, 0) and visit[0].by == "李娜"
    assert customers["杭州云帆科技有限公司"].followups[0].at.date() == date(2024, 11, 5)


def test_a_typo_of_a_source_gets_a_suggestion(empty_vault: Vault, tmp_path: Path) -> None:
    crm = Crm(empty_vault.root)
    sheet = write_excel_gbk_csv(tmp_path / "a.csv", [["星河传媒", "互联网", "许晴", "13800138000", "线上广吿"]],
                                ["客户名称", "行业", "联系人", "手机", "来源"])
    out = crm("import", str(sheet), "--dry-run", ok=None)
    assert "did you mean 广告?" in out.stderr + out.stdout


@pytest.mark.parametrize("policy", ["merge", "newest"])
def test_merge_says_what_it_did_with_every_conflicting_value(empty_vault: Vault, tmp_path: Path, policy: str) -> None:
    crm = Crm(empty_vault.root)
    draft = actions.NewCustomer(name="明远教育", industry="教育", contact="孙老师", phone="13800138000",
                                email="old@mingyuan.cn", source="展会", grade="B", owner="张伟")
    path = actions.add_customer(empty_vault, draft).path
    sheet = write_excel_gbk_csv(tmp_path / "b.csv",
                                [["明远教育", "13900139000", "new@mingyuan.cn", "A", "教育", "孙老师"]],
                                ["客户名称", "手机号码", "联系邮箱", "客户级别", "所属行业", "联系人"])
    out = crm("import", str(sheet), "--duplicates", policy).stdout
    stored = empty_vault.read(path).meta
    if policy == "newest":
        assert "phone 138****8000 → 139****9000 (the import is newer)" in out
        assert "grade B → A (the import is newer)" in out
        assert stored["phone"] == "+8613900139000" and stored["email"] == "new@mingyuan.cn" and stored["grade"] == "A"
    else:
        assert "phone kept 138****8000 (the import had 139****9000)" in out
        assert "email kept old@mingyuan.cn (the import had new@mingyuan.cn)" in out
        assert stored["phone"] == "+8613800138000" and stored["grade"] == "B"


def test_id_and_card_numbers_in_any_cell_are_refused_at_import(empty_vault: Vault, tmp_path: Path) -> None:
    crm = Crm(empty_vault.root)
    sheet = write_excel_gbk_csv(tmp_path / "c.csv", [
        ["宏达贸易", "13800138000", f"法人身份证 {SID}", ""],
        ["顺丰达物流", "13800138001", "", "付款卡号 6222 0212 3456 7890 128"],
    ], ["客户名称", "电话", "备注", "跟进记录"])
    out = crm("import", str(sheet), "--default", "industry=other", "--default", "contact=王总",
              "--default", "stage=potential", ok=False)
    text = out.stderr + out.stdout
    assert "row 2 rejected: 备注: a PRC resident ID number (1101**********002X)" in text
    assert "row 3 rejected" in text and "bank card number" in text
    assert not any(empty_vault.customers_dir.rglob("*.md"))


def test_the_dry_run_writes_a_value_map_to_edit_and_import_with(empty_vault: Vault, tmp_path: Path) -> None:
    crm = Crm(empty_vault.root)
    sheet = write_excel_gbk_csv(tmp_path / "线索.csv", [
        ["星河传媒", "互联网", "许晴", "13800138000", "线上广吿"],
        ["蓝鲸数据", "互联网", "高远", "13800138001", "抖音直播"],
    ], ["客户名称", "行业", "联系人", "手机", "来源"])
    dry = crm("import", str(sheet), "--dry-run", ok=None)
    map_file = tmp_path / "线索.values.txt"
    assert str(map_file) in dry.stderr + dry.stdout
    lines = map_file.read_text(encoding="utf-8").splitlines()
    assert "source:线上广吿=ad" in lines and "source:抖音直播=" in lines
    map_file.write_text(map_file.read_text(encoding="utf-8").replace("source:抖音直播=", "source:抖音直播=线上广告"),
                        encoding="utf-8")
    crm("import", str(sheet), "--map-values", str(map_file))
    assert {c.name: c.meta["source"] for c in empty_vault.scan().customers} == {"星河传媒": "ad", "蓝鲸数据": "ad"}
