"""crm import: real CSV (UTF-8, BOM, GBK, Big5, Shift-JIS) and XLSX files into a real vault."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from crmnotes.errors import CrmError
from crmnotes.io.importer import ImportOptions, import_file, parse_date_text
from crmnotes.io.tables import read_table
from crmnotes.vault import Vault

DATA = Path(__file__).parent / "data" / "import"
NOW = datetime(2026, 11, 25, 9, 0)


def _by_name(vault: Vault) -> dict:
    return {c.name: c for c in vault.scan().customers}


@pytest.mark.parametrize("fixture, encoding", [("chinese_gbk.csv", "gb18030"), ("chinese_bom.csv", "utf-8-sig")])
def test_chinese_csv_in_gbk_and_bom(empty_vault: Vault, fixture: str, encoding: str) -> None:
    report = import_file(empty_vault, DATA / fixture, ImportOptions(owner="张伟", now=NOW))
    assert report.encoding == encoding and report.written and not report.rejects
    customers = _by_name(empty_vault)
    mingyuan = customers["上海明远信息技术有限公司"]
    assert mingyuan.meta["phone"] == "+8613800138001"
    assert mingyuan.meta["industry"] == "internet" and mingyuan.meta["source"] == "trade-show"
    assert mingyuan.stage == "intent" and mingyuan.owner == "张伟"
    assert mingyuan.tags == ["needs/data-security", "budget/50k-plus"]
    assert mingyuan.next_followup.isoformat() == "2026-12-01"
    assert mingyuan.meta["extra"] == {"所在城市": "上海"}
    assert "关注数据安全" in mingyuan.body
    nanfang = customers["广州南方物流有限公司"]
    assert nanfang.meta["source"] == "referral" and nanfang.tags == ["region/华南", "needs/cost-down"]


def test_broken_rows_block_everything_unless_skip_bad(empty_vault: Vault, tmp_path: Path) -> None:
    report = import_file(empty_vault, DATA / "broken_rows.csv", ImportOptions(owner="x", now=NOW))
    assert report.blocked and not report.written
    assert list(empty_vault.customers_dir.rglob("*.md")) == []
    reasons = {r.row: r.reason for r in report.rejects}
    assert set(reasons) == {3, 4, 6}
    assert "name" in reasons[3] and "phone" in reasons[4] and "industry" in reasons[6]
    assert [(d.row, d.existing, d.action) for d in report.duplicates] == [(5, "row 2", "skipped")]

    again = import_file(empty_vault, DATA / "broken_rows.csv", ImportOptions(owner="x", skip_bad=True, now=NOW))
    assert again.written and [c.name for c in empty_vault.scan().customers] == ["成都天府软件有限公司"]


def test_cli_rejects_file_and_exit_code(crm_empty, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    failed = crm_empty("import", str(DATA / "broken_rows.csv"), "--rejects", str(rejects), ok=False)
    assert "row 4 rejected" in failed.stderr and "nothing was written" in failed.stderr
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["row"] for r in rows] == ["3", "4", "6"]
    assert rows[1]["客户名称"] == "重庆山城制造有限公司" and "phone" in rows[1]["reason"]
    assert crm_empty("ls", "--json").json() == []


def test_duplicates_against_the_vault_skip_and_merge(example_vault: Vault, tmp_path: Path) -> None:
    sheet = tmp_path / "dups.csv"
    sheet.write_text("公司名称,联系人,手机,行业,标签,邮箱\n"
                     "星辰科技,王经理,13800138000,互联网,status/vip,\n"
                     "新客户甲有限公司,周女士,+86 139 0000 1111,金融,,\n"
                     "Acme Analytics,Sarah,,software,,extra@acme-analytics.example\n", encoding="utf-8")
    xingchen_before = example_vault.resolve("星辰科技").path.read_bytes()
    report = import_file(example_vault, sheet, ImportOptions(owner="tester", now=NOW))
    assert {d.existing for d in report.duplicates} == {"星辰科技有限公司", "Acme Analytics Inc."}
    assert len(report.created) == 1
    assert example_vault.resolve("星辰科技").path.read_bytes() == xingchen_before

    merged = import_file(example_vault, sheet, ImportOptions(owner="tester", on_duplicate="merge", now=NOW))
    assert {d.action for d in merged.duplicates} == {"merged"}
    xingchen = example_vault.resolve("星辰科技")
    assert "status/vip" in xingchen.tags and xingchen.tags[0] == "needs/data-security"
    assert xingchen.meta["email"] == "wang.jl@xingchen-tech.cn"  # filled fields are never overwritten
    assert len(example_vault.scan().customers) == 8  # the new one was not doubled


def test_well_known_crm_exports(empty_vault: Vault) -> None:
    options = ImportOptions(owner="me", region="US", now=NOW, defaults={"industry": "other", "contact": "待补充"})
    for name in ("salesforce_leads.csv", "hubspot_companies.csv", "zoho_accounts.csv"):
        report = import_file(empty_vault, DATA / name, options)
        assert report.written and not report.rejects, (name, report.rejects)
    customers = _by_name(empty_vault)
    cyberdyne = customers["Cyberdyne Systems"]
    assert cyberdyne.meta["contact"] == "Sarah Connor" and cyberdyne.meta["phone"] == "+14155552671"
    assert cyberdyne.meta["source"] == "trade-show" and cyberdyne.stage == "intent" and cyberdyne.grade == "A"
    assert cyberdyne.owner == "alice" and cyberdyne.meta["created"] == "2024-03-05T00:00"
    assert cyberdyne.meta["lead_id"] == "00Q5g00000A1" and cyberdyne.meta["title"] == "CTO"
    assert customers["Initech LLC"].meta["source"] == "website" and customers["Initech LLC"].grade == "C"
    globex = customers["Globex Corporation"]
    assert globex.meta["contact"] == "待补充" and globex.meta["city"] == "London"
    assert globex.meta["phone"] == "+442079460958" and globex.stage == "intent"
    assert globex.meta["source"] == "online-search" and globex.meta["website_url"] == "globex.example"
    assert globex.meta["record_id"] == "9001" and globex.meta["industry"] == "manufacturing"
    umbrella = customers["Umbrella Health Ltd"]
    assert umbrella.tags == ["needs/compliance", "region/us-west"] and umbrella.owner == "李娜"
    assert "Hospital chain" in umbrella.body


def test_xlsx_written_by_openpyxl_with_formulas(empty_vault: Vault, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["客户名称", "联系人", "手机", "行业", "创建日期", "Notes"])
    sheet.append(["苏州工业园科技有限公司", "吴工", 13800138006, "制造业", datetime(2024, 5, 6, 14, 30),
                  '=HYPERLINK("x")'])
    sheet.append(["无锡太湖数据有限公司", "郑工", "13800138007", "互联网", "2024-05-07", "普通备注"])
    sheet["F2"].data_type = "s"  # a text cell that only looks like a formula
    sheet["B3"] = "=A3&\"联系人\""  # a real formula openpyxl never computes: no cached value
    path = tmp_path / "客户.xlsx"
    book.save(path)

    report = import_file(empty_vault, path, ImportOptions(owner="me", now=NOW))
    assert [r.row for r in report.rejects] == [3] and "formula" in report.rejects[0].reason
    assert not report.written
    report = import_file(empty_vault, path, ImportOptions(owner="me", now=NOW, skip_bad=True))
    suzhou = _by_name(empty_vault)["苏州工业园科技有限公司"]
    assert suzhou.meta["phone"] == "+8613800138006" and suzhou.meta["created"] == "2024-05-06T14:30"
    assert '=HYPERLINK("x")' in suzhou.body


@pytest.mark.skipif(shutil.which("libreoffice") is None and shutil.which("soffice") is None,
                    reason="LibreOffice is not installed")
def test_xlsx_saved_by_libreoffice(empty_vault: Vault, tmp_path: Path) -> None:
    import subprocess

    source = tmp_path / "in.csv"
    shutil.copy(DATA / "chinese_bom.csv", source)
    office = shutil.which("libreoffice") or shutil.which("soffice")
    subprocess.run([office, "--headless", "--convert-to", "xlsx", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120)
    report = import_file(empty_vault, tmp_path / "in.xlsx", ImportOptions(owner="me", now=NOW))
    assert report.written and len(report.created) == 2


def test_zip_bomb_and_bad_encoding_are_refused(empty_vault: Vault, tmp_path: Path) -> None:
    import zipfile

    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (60 * 2**20))
    with pytest.raises(CrmError, match="zip bomb"):
        read_table(bomb)
    mixed = tmp_path / "mixed.csv"  # a GBK sheet with Big5 rows pasted in: no one encoding reads it
    mixed.write_bytes("客户名称,联系人\n星辰科技有限公司,王建林\n".encode("gbk") + "臺北雲帆網路,李娜\n".encode("big5"))
    with pytest.raises(CrmError, match=r"is not UTF-8 text .* no other encoding reads it cleanly"):
        read_table(mixed)
    not_zip = tmp_path / "fake.xlsx"
    not_zip.write_text("hello", encoding="utf-8")
    with pytest.raises(CrmError, match=r"not a valid \.xlsx"):
        read_table(not_zip)


# Sheets as spreadsheet programs save "CSV" in each market: (encoding, reported as, column map, rows).
LEGACY_SHEETS = {
    "gbk": ("gb18030", ("客户名称", "联系人", "电话", "行业", "备注"), [
        ("星辰科技有限公司", "王建林", "13800138000", "互联网", "需要数据安全方案，下周报价"),
        ("北京云帆网络有限公司", "李娜", "13900139000", "制造业", "老客户介绍，关注成本"),
        ("广州南方物流有限公司", "黄志强", "13700137000", "物流", "仓储系统升级")]),
    "big5": ("big5", ("公司名稱", "聯絡人", "電話", "行業", "備註"), [
        ("臺北星辰科技股份有限公司", "陳建宏", "+886 912 345 678", "網際網路", "需要資料安全方案，下週報價"),
        ("高雄雲帆網路有限公司", "林淑芬", "+886 922 333 444", "製造業", "關注成本與交期"),
        ("新竹晶圓材料有限公司", "黃志明", "+886 935 111 222", "半導體", "安排工廠參訪")]),
    "cp932": ("cp932", ("会社名", "担当者", "電話", "業種", "メモ"), [
        ("株式会社星辰テック", "山田太郎", "+81 3-1234-5678", "インターネット", "来週に見積もりを送付する予定です"),
        ("雲帆ネットワーク株式会社", "佐藤花子", "+81 6-2345-6789", "製造業", "コスト削減に関心あり"),
        ("東京ロジスティクス株式会社", "鈴木一郎", "+81 3-9876-5432", "物流", "倉庫システムの更新を検討中")]),
    "utf-8-sig": ("utf-8-sig", ("客户名称", "联系人", "电话", "行业", "备注"), [
        ("上海明远信息技术有限公司", "刘经理", "13800138001", "互联网", "关注数据安全")]),
    "gb2312": ("gb18030", ("公司", "联系人", "电话", "行业", "备注"), [  # one short row reads as Korean too
        ("星辰科技", "王建林", "13800138000", "互联网", "报价")]),
    "shift_jis": ("cp932", ("会社名", "担当者", "電話", "業種", "メモ"), [
        ("星辰テック", "山田太郎", "+81 3-1234-5678", "物流", "見積もり")]),
}
TARGETS = ("name", "contact", "phone", "industry", "notes")


@pytest.mark.parametrize("encoding", sorted(LEGACY_SHEETS))
def test_sheets_in_each_markets_encoding_import_without_mojibake(crm_empty, tmp_path: Path, encoding: str) -> None:
    reported, headers, rows = LEGACY_SHEETS[encoding]
    sheet = tmp_path / f"{encoding}.csv"
    sheet.write_bytes("\r\n".join(",".join(row) for row in [headers, *rows]).encode(encoding) + b"\r\n")
    maps = [arg for header, target in zip(headers, TARGETS, strict=True) for arg in ("--map", f"{header}={target}")]
    out = crm_empty("import", str(sheet), *maps, "--json").json()
    assert out["encoding"] == reported and out["created"] == len(rows)
    for name, contact, _, _, note in rows:
        shown = crm_empty("show", name, "--json").json()
        assert (shown["name"], shown["contact"]) == (name, contact)
        assert note in (crm_empty.root / shown["path"]).read_text(encoding="utf-8")


def test_a_sheet_no_encoding_reads_cleanly_is_refused_and_nothing_is_written(crm_empty, tmp_path: Path,
                                                                            snapshot_files) -> None:
    def lines(encoding: str) -> bytes:
        _, headers, rows = LEGACY_SHEETS[encoding]
        return "".join(",".join(row) + "\n" for row in [headers, *rows]).encode(encoding)

    sheet = tmp_path / "pasted.csv"  # a Japanese sheet pasted under a Big5 one
    sheet.write_bytes(lines("big5") + lines("cp932"))
    before = snapshot_files(crm_empty.root)
    failed = crm_empty("import", str(sheet), ok=False)
    assert "pasted.csv is not UTF-8 text" in failed.stderr and "CSV UTF-8" in failed.stderr
    assert snapshot_files(crm_empty.root) == before


def test_dry_run_writes_nothing_and_map_overrides(crm_empty, empty_vault: Vault, tmp_path: Path,
                                                  snapshot_files) -> None:
    sheet = tmp_path / "odd.csv"
    sheet.write_text("单位,对方,号码,领域,无用列\n青岛海风贸易有限公司,冯经理,13800138008,零售,x\n", encoding="utf-8")
    before = snapshot_files(empty_vault.root)
    out = crm_empty("import", str(sheet), "--map", "单位=name", "--map", "对方=contact", "--map", "号码=phone",
                    "--map", "领域=industry", "--map", "无用列=-", "--dry-run", "--json").json()
    assert out["dry_run"] and not out["written"] and out["created"] == 1
    assert out["preview"][0]["name"] == "青岛海风贸易有限公司" and out["preview"][0]["industry"] == "retail"
    assert snapshot_files(empty_vault.root) == before
    crm_empty("import", str(sheet), "--map", "单位=name", "--map", "对方=contact", "--map", "号码=phone",
              "--map", "领域=industry", "--map", "无用列=-")
    shown = crm_empty("show", "青岛海风", "--json").json()
    assert shown["contact"] == "冯经理" and "无用列" not in str(shown)
    bad = crm_empty("import", str(sheet), "--map", "不存在=name", ok=False)
    assert "not in the file" in bad.stderr


def test_date_formats() -> None:
    assert parse_date_text("2024年3月5日") == datetime(2024, 3, 5)
    assert parse_date_text("3/5/2024, 2:30 PM") == datetime(2024, 3, 5, 14, 30)
    assert parse_date_text("25/3/2024") == datetime(2024, 3, 25)
    assert parse_date_text("05.03.2024") == datetime(2024, 3, 5)
    assert parse_date_text("2024-02-30") is None


@pytest.mark.slow
def test_ten_thousand_rows(empty_vault: Vault, tmp_path: Path) -> None:
    sheet = tmp_path / "big.csv"
    import random

    rng = random.Random(6)  # names far apart, so only the planted duplicate is one
    names = list(dict.fromkeys("".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(6)) for _ in range(10_000)))
    lines = ["客户名称,联系人,联系电话,行业"]
    lines += [f"{name}有限公司,联系人{i},+86138{i:08d},互联网" for i, name in enumerate(names)]
    lines.append(f"{names[42]}有限公司,重复,13900000000,互联网")
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(empty_vault, sheet, ImportOptions(owner="me", now=NOW))
    assert report.written and len(report.paths) == len(names) and len(report.duplicates) == 1


def test_duplicate_index_agrees_with_crm_add_rules() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from crmnotes.dedupe import Candidate, find_duplicates
    from crmnotes.io.dupindex import DuplicateIndex

    names = st.text(alphabet="星辰科技云帆数据有限公司北京acmeAB ", min_size=1, max_size=14)

    @settings(max_examples=150, deadline=None)
    @given(st.lists(names, min_size=1, max_size=12), names)
    def check(existing: list[str], new: str) -> None:
        index = DuplicateIndex()
        pool = [Candidate(f"c{i}", name) for i, name in enumerate(existing)]
        for candidate in pool:
            index.add(candidate, candidate)
        assert (index.find(Candidate("new", new)) is not None) == bool(find_duplicates(Candidate("new", new), pool))

    check()
