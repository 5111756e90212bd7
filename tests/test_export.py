"""crm export: files parsed back with csv, openpyxl, vobject and icalendar."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from crmnotes import actions
from crmnotes.io import exporter
from crmnotes.vault import Vault
from tests.conftest import TODAY


def _add_formula_customer(vault: Vault) -> None:
    actions.add_customer(vault, actions.NewCustomer(
        name="=HYPERLINK(\"http://evil\",\"点我\")", industry="其他", contact="@SUM(1+1)", phone="13800138009",
        owner="tester", extra={"remark": "-2+3"}))


def test_csv_has_bom_neutralizes_formulas_and_masks(crm, example_vault: Vault, tmp_path: Path) -> None:
    _add_formula_customer(example_vault)
    out = tmp_path / "客户.csv"
    crm("export", "-o", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    by_name = {r["name"]: r for r in rows}
    evil = by_name["'=HYPERLINK(\"http://evil\",\"点我\")"]
    assert evil["contact"] == "'@SUM(1+1)" and evil["remark"] == "'-2+3"
    assert evil["phone"] == "138****8009"
    assert by_name["星辰科技有限公司"]["phone"] == "138****8000"
    assert not any(cell.startswith(("=", "@")) for r in rows for cell in r.values())
    revealed = tmp_path / "r.csv"
    crm("export", "-o", str(revealed), "--reveal", "--stage", "intent", "--ids")
    shown = list(csv.DictReader(io.StringIO(revealed.read_text(encoding="utf-8-sig"))))
    assert {r["stage"] for r in shown} == {"intent"}
    assert "+8613800138000" in {r["phone"] for r in shown}  # a plain number is not "neutralized"


def test_xlsx_cells_are_text_with_widths(crm, example_vault: Vault, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    _add_formula_customer(example_vault)
    out = tmp_path / "customers.xlsx"
    crm("export", "-o", str(out))
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["id", "name", "industry", "contact"] and sheet[1][0].font.b
    names = [row[1].value for row in sheet.iter_rows(min_row=2)]
    assert '=HYPERLINK("http://evil","点我")' in names
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if cell.value is not None)
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["C"].width


def test_json_export_matches_show(crm, tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    crm("export", "-o", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    xingchen = next(d for d in data if d["name"] == "星辰科技有限公司")
    assert xingchen == crm("show", "星辰科技", "--json").json()


def test_vcard_4_parsed_back_with_vobject(crm, tmp_path: Path) -> None:
    import vobject

    out = tmp_path / "contacts.vcf"
    crm("export", "-o", str(out), "--reveal")
    cards = list(vobject.readComponents(out.read_text(encoding="utf-8")))
    assert len(cards) == 7 and all(c.version.value == "4.0" for c in cards)
    wang = next(c for c in cards if c.org.value == ["星辰科技有限公司"])
    assert wang.fn.value == "王经理" and wang.tel.value == "tel:+8613800138000"
    assert wang.email.value == "wang.jl@xingchen-tech.cn"
    assert "needs/data-security" in wang.categories.value
    masked = tmp_path / "masked.vcf"
    result = crm("export", "-o", str(masked))
    assert "TEL" not in masked.read_text(encoding="utf-8") and "--reveal" in result.stderr


def test_icalendar_due_followups(crm, example_vault: Vault, tmp_path: Path) -> None:
    import icalendar

    out = tmp_path / "due.ics"
    crm("export", "-o", str(out), "--todos", "--until", (TODAY + timedelta(days=7)).isoformat())
    calendar = icalendar.Calendar.from_ical(out.read_bytes())
    todos = list(calendar.walk("VTODO"))
    due = actions.due_customers(example_vault, TODAY + timedelta(days=7))
    assert len(todos) >= len(due) > 0  # every due customer, and each of their open steps
    assert {t["UID"].split("-task-")[0].split("-due@")[0] for t in todos} == {d.customer.id for d in due}
    xingchen = next(t for t in todos if "星辰" in str(t["SUMMARY"]))
    assert xingchen["DUE"].dt == TODAY and "提交正式报价" in str(xingchen["DESCRIPTION"])
    assert "138****8000" in str(xingchen["DESCRIPTION"])
    events = tmp_path / "events.ics"
    crm("export", "-f", "ics", "-o", str(events))
    assert list(icalendar.Calendar.from_ical(events.read_bytes()).walk("VEVENT"))


def test_neutralize_rules() -> None:
    assert exporter.neutralize("=1+1") == "'=1+1"
    assert exporter.neutralize("\tcmd") == "'\tcmd"
    assert exporter.neutralize("+8613800138000") == "+8613800138000"
    assert exporter.neutralize("-5") == "-5"
    assert exporter.neutralize("星辰") == "星辰"


def test_export_then_import_round_trip(crm, tmp_path: Path) -> None:
    from crmnotes.io.importer import ImportOptions, import_file

    empty_vault = Vault(actions.create_vault(tmp_path / "second"))
    out = tmp_path / "all.csv"
    crm("export", "-o", str(out), "--reveal")
    report = import_file(empty_vault, out, ImportOptions(owner="x"))
    assert report.written and not report.rejects
    original = {c["name"]: c for c in crm("ls", "--json", "--reveal").json()}
    copied = {c.name: c for c in empty_vault.scan().customers}
    assert set(copied) == set(original)
    for name, customer in copied.items():
        assert customer.meta["phone"] == original[name]["phone"] and customer.tags == original[name]["tags"]


# ------------------------------------------------------------------ CSV, XLSX and vCard read the listing cache

ODD_CUSTOMER = """---
id: c-20250101-7k2m9q4z
name: 深圳海豚数据服务有限公司
industry: 互联网
contact: 李娜
phone: '13912345678'
stage: 意向
grade: A
owner: tester
tags: [needs/数据安全, 2025, 重点]
created: 2025-01-01T09:30:00+08:00
budget: 12.50
remark: "=1+1 合同待签"
birthday: 1990-05-04
contacts:
  - name: 王强
    phone: '13800138111'
extra:
  开票抬头: 深圳海豚
  区号: 755
deals:
  - name: 数据平台
    stage: negotiation
    amount: 50000
---

# 深圳海豚数据服务有限公司

## Follow-ups

### 2025-02-03 10:00 · phone · tester

电话沟通报价。

next: 2025-02-10 发合同

### 2025-03-01 09:00 · other · tester

商机「数据平台」阶段：proposal -> negotiation
"""


def _exports(crm, tmp_path: Path, *args: str) -> dict[str, bytes]:
    """Each format written by ``crm export`` from the listing cache, and from every file parsed."""
    from crmnotes import catalog

    out = {}
    for fmt in ("csv", "xlsx", "vcf"):
        target = tmp_path / f"导出.{fmt}"
        crm("export", "--format", fmt, "-o", str(target), *args)
        vault = Vault(crm.root)
        parsed = catalog.customers(vault, actions.Filters(stage="intent" if "--stage" in args else ""))
        reveal, labels = "--reveal" in args, (False if "--ids" in args else None)
        expected = exporter.export(vault, parsed.customers, fmt, reveal=reveal, labels=labels)
        if fmt == "xlsx":
            assert _xlsx_cells(target.read_bytes()) == _xlsx_cells(expected)  # a zip's timestamps differ
        else:
            assert target.read_bytes() == expected, fmt
        out[fmt] = target.read_bytes()
    return out


def _xlsx_cells(data: bytes) -> list[list[object]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()] + [
        [sheet.column_dimensions[c].width for c in sorted(sheet.column_dimensions)]]


def test_export_from_the_cache_equals_export_from_the_files(crm, example_vault: Vault, tmp_path: Path) -> None:
    _add_formula_customer(example_vault)
    odd = example_vault.customers_dir / "s" / "shenzhenhaitun-7k2m.md"
    odd.write_text(ODD_CUSTOMER, encoding="utf-8")
    first = _exports(crm, tmp_path)
    assert "深圳海豚".encode() in first["csv"] and b"139****5678" in first["csv"]
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(first["csv"].decode("utf-8-sig")))}
    odd_row = rows["深圳海豚数据服务有限公司"]
    assert odd_row["last_contact"] == "2025-02-03T10:00"  # the deal's stage-move record is not a contact
    assert (odd_row["stage"], odd_row["budget"], odd_row["开票抬头"]) == ("意向", "12.5", "深圳海豚")
    _exports(crm, tmp_path, "--reveal", "--ids")
    _exports(crm, tmp_path, "--stage", "intent")
    import sqlite3

    from crmnotes import catalog

    with sqlite3.connect(example_vault.cache_dir / catalog.CACHE_FILE) as db:  # stored rows changed by hand
        db.execute("UPDATE customer SET last_contact = '昨天' WHERE rowid % 2 = 0")
        db.execute("UPDATE bulky SET report = '[1]' WHERE rowid % 3 = 0")
        db.execute("""UPDATE bulky SET report = '[{"name":"假的"}' WHERE rowid % 3 = 1""")  # cut short
    damaged = _exports(crm, tmp_path)  # each format still equals the export from the files
    assert (damaged["csv"], damaged["vcf"]) == (first["csv"], first["vcf"])
    odd.write_text(ODD_CUSTOMER.replace("李娜", "陈静").replace("13912345678", "13700001111"), encoding="utf-8")
    after = _exports(crm, tmp_path)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(after["csv"].decode("utf-8-sig")))}
    edited = rows["深圳海豚数据服务有限公司"]
    assert (edited["contact"], edited["phone"]) == ("陈静", "137****1111")


SAME_NAME = """---
id: {id}
name: 杭州云杉科技有限公司
industry: 互联网
contact: {contact}
phone: {phone}
stage: intent
owner: tester
tags: [华东]
created: 2025-03-0{day}
---

# 杭州云杉科技有限公司

## Follow-ups

### 2025-03-0{day} 10:00 · phone · tester

电话沟通。
"""


def test_export_fronts_equal_the_files_for_same_names_odd_phones_and_unquoted_numbers(
        crm, example_vault: Vault, tmp_path: Path) -> None:
    """The stored fronts (masked or revealed phone from the cache row) give the bytes of an export from
    the files: two customers of one name, a phone YAML reads as a number, a foreign phone whose masked
    form starts like a formula, and none at all."""
    folder = example_vault.customers_dir / "h"
    folder.mkdir(exist_ok=True)
    for tag, (contact, phone, day) in {"a1b2": ("周杰", "13712345678", 1), "c3d4": ("吴敏", "'+44 7911 123456'", 2),
                                       "e5f6": ("郑爽", "''", 3)}.items():
        (folder / f"hangzhouyunshan-{tag}.md").write_text(
            SAME_NAME.format(id=f"c-2025030{day}-{tag}xyzw", contact=contact, phone=phone, day=day), encoding="utf-8")
    first = _exports(crm, tmp_path)
    rows = [r for r in csv.DictReader(io.StringIO(first["csv"].decode("utf-8-sig")))
            if r["name"] == "杭州云杉科技有限公司"]
    assert [r["contact"] for r in rows] == ["周杰", "吴敏", "郑爽"]  # same name: the listing's order
    assert [r["phone"] for r in rows] == ["137****5678", "'+44 791***3456", ""]  # the masked foreign one quoted
    assert rows[0]["last_contact"] == "2025-03-01T10:00"
    revealed = _exports(crm, tmp_path, "--reveal", "--ids")
    shown = [r for r in csv.DictReader(io.StringIO(revealed["csv"].decode("utf-8-sig")))
             if r["name"] == "杭州云杉科技有限公司"]
    assert [r["phone"] for r in shown] == ["13712345678", "'+44 7911 123456", ""]
    _exports(crm, tmp_path, "--stage", "intent")
