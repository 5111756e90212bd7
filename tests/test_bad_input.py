"""SPEC "Bad input": each gets a clear message, the rest of the vault keeps
working, and nothing existing is modified."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crmnotes import note

from .conftest import Crm

BAD_FILES = {
    "malformed.md": (b"---\nname: [broken\nstage: intent\n---\n", "malformed YAML"),
    "object-tag.md": (b"---\nname: !!python/object/apply:os.system ['touch /tmp/crm-pwned']\n---\n", "unsafe"),
    "no-front-matter.md": ("# 只是笔记\n没有字段\n".encode(), "no front-matter"),
    "binary.md": (bytes(range(256)) * 4, "binary"),
    "gbk.md": ("---\nname: 星辰\n---\n".encode("gbk"), "not UTF-8"),
    "bomb.md": (b"---\na: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                b"c: [*b,*b,*b,*b,*b,*b,*b,*b]\n---\n", "anchors"),
    "dupe-keys.md": (b"---\nname: a\nname: b\n---\n", "duplicate key"),
}


@pytest.fixture
def broken_vault(crm: Crm) -> Crm:
    folder = crm.root / "customers" / "z"
    folder.mkdir()
    for name, (content, _) in BAD_FILES.items():
        (folder / name).write_bytes(content)
    huge = folder / "huge.md"
    huge.write_bytes(b"---\nname: huge\n---\n" + b"x" * (note.MAX_FILE_BYTES + 10))
    return crm


def test_ls_and_check_report_bad_files_and_keep_working(broken_vault: Crm, snapshot_files) -> None:
    before = snapshot_files(broken_vault.root)
    listed = broken_vault("ls")
    assert "7 customers" in listed.stdout
    for name, (_, message) in BAD_FILES.items():
        assert f"customers/z/{name}" in listed.stderr and message in listed.stderr
    assert "too large" in listed.stderr
    assert len(broken_vault("ls", "--json").json()) == 7
    report = broken_vault("check", "--json", ok=False).json()
    unreadable = {p["path"] for p in report["problems"] if p["code"] == "unreadable"}
    assert unreadable == {f"customers/z/{n}" for n in [*BAD_FILES, "huge.md"]}
    assert snapshot_files(broken_vault.root) == before
    assert not Path("/tmp/crm-pwned").exists()


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_writing_to_a_bad_file_is_refused(broken_vault: Crm, name: str) -> None:
    path = broken_vault.root / "customers" / "z" / name
    before = path.read_bytes()
    out = broken_vault("log", str(path), "--note", "不应写入", ok=False)
    assert out.stderr.startswith("crm: error:") and "Traceback" not in out.stderr
    assert path.read_bytes() == before


def test_a_name_that_tries_to_escape_stays_in_customers(crm_empty: Crm) -> None:
    out = crm_empty("add", "../../../etc/passwd", "--industry", "internet", "--contact", "x", "--phone", "13800138000")
    path = crm_empty.root / crm_empty("show", out.stdout.strip(), "--json").json()["path"]
    assert path.resolve().is_relative_to((crm_empty.root / "customers").resolve())
    assert not (crm_empty.root.parent / "etc").exists()


def test_a_symlink_out_of_the_vault_is_not_followed(crm: Crm, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\nid: c-20250101-aaaaaaaa\nname: 外部文件\n---\n", encoding="utf-8")
    (crm.root / "customers" / "link.md").symlink_to(secret)
    listed = crm("ls", "--json")
    assert "外部文件" not in listed.stdout and "outside the vault" in listed.stderr
    assert "not inside" in crm("log", str(secret), "--note", "x", ok=False).stderr


def test_unknown_stage_in_a_file_is_reported_with_its_line(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    path.write_text(path.read_text(encoding="utf-8").replace("stage: intent", "stage: 火热"), encoding="utf-8")
    problems = crm("check", "--json", ok=False).json()["problems"]
    stage = [p for p in problems if p["code"] == "field:stage"]
    assert stage and stage[0]["line"] == 9 and "火热" in stage[0]["message"]
    assert crm("log", "星辰", "--note", "still works").exit_code == 0  # the file is still usable


def test_concurrent_writers_both_land(crm: Crm) -> None:
    """Several real processes append to the same customer at the same moment."""
    procs = [
        subprocess.Popen([sys.executable, "-m", "crmnotes", "--vault", str(crm.root), "log", "星辰", "--note",
                          f"并发记录 {i}", "--at", f"2030-01-01 10:{i:02d}"], stderr=subprocess.PIPE)
        for i in range(6)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    notes = [f["note"] for f in crm("show", "星辰", "--json").json()["followups"]]
    assert sorted(n for n in notes if n.startswith("并发记录")) == [f"并发记录 {i}" for i in range(6)]


def test_a_write_never_overwrites_a_concurrent_editor_save(crm: Crm) -> None:
    """If the file changes between read and write, the edit is re-applied to the new text."""
    from crmnotes import actions
    from crmnotes.vault import Vault

    vault = Vault(crm.root)
    customer = vault.resolve("星辰")
    path = customer.path
    calls = []

    def edit(doc: note.Document) -> str:
        if not calls:  # an editor saves right after our first read
            path.write_text(doc.text + "\n编辑器里加的一行\n", encoding="utf-8")
        calls.append(1)
        return note.set_fields(doc, {"grade": "B"})

    vault.update(path, edit)
    text = path.read_text(encoding="utf-8")
    assert "编辑器里加的一行" in text and "grade: B" in text and len(calls) == 2
    assert actions.check_customer(vault, vault.read(path)) == []


def test_a_temp_file_left_by_a_killed_writer_is_swept_by_the_next_write(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    stale, fresh = path.parent / ".~crm-dead.tmp", path.parent / ".~crm-live.tmp"
    for leftover in (stale, fresh):
        leftover.write_text("half a file", encoding="utf-8")
    old = stale.stat().st_mtime - 7200
    os.utime(stale, (old, old))
    assert len(crm("ls", "--json").json()) == 7  # ignored by readers
    crm("log", "星辰", "--note", "清理测试")
    assert not stale.exists() and fresh.exists()  # a young one may belong to a live writer


# ------------------------------------------------------------------ one bad value, the rest keeps working

BAD_VALUES = {
    "impossible-date": "created: 2024-02-30",
    "not-a-leap-year": "visited: 2021-02-29",
    "huge-integer": "count: " + "9" * 5000,
    "float-tag": "f: !!float abc",
    "int-tag": "n: !!int 十二",
    "bool-tag": "b: !!bool 也许",
    "hour-25": "seen: 2024-01-01T25:00:00",
    "binary-tag": "blob: !!binary 5L2g5aW9",
    "set-tag": "s: !!set {甲, 乙}",
    "map-tag-on-a-word": "m: !!map 甲",
    "nested-timestamp": "deals:\n  - name: 年度合同\n    close: 2025-13-01",
}


def _bad_value_file(crm: Crm, line: str) -> Path:
    path = crm.root / "customers" / "q" / "huaizhi.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text("---\nid: c-20250101-huaizhi1\nname: 坏值公司\nindustry: internet\ncontact: 王伟\n"
                    f"phone: '13800138000'\nstage: intent\n{line}\n---\n\n### 2025-01-02 10:00 · phone · alice\n"
                    "谈了报价。\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_one_bad_value_is_reported_and_the_rest_of_the_vault_keeps_working(crm: Crm, case: str) -> None:
    path = _bad_value_file(crm, BAD_VALUES[case])
    before = path.read_bytes()
    listed = crm("ls", "--json")
    assert len(listed.json()) == 7 and "customers/q/huaizhi.md" in listed.stderr
    assert len(crm("ls").stdout) and crm("due", "--json").exit_code == 0 and crm("report").exit_code == 0
    problems = crm("check", "--json", ok=False).json()["problems"]
    bad = [p for p in problems if p["path"] == "customers/q/huaizhi.md"]
    value_line = 8 + BAD_VALUES[case].count("\n")  # the file's line 8 starts the bad value
    assert len(bad) == 1 and bad[0]["code"] == "unreadable" and bad[0]["line"] == value_line
    assert "invalid value" in bad[0]["message"] or "not plain data" in bad[0]["message"]
    crm("log", "星辰", "--note", "其他客户照常记录")
    crm("set", "星辰", "grade=B")
    refused = crm("log", str(path), "--note", "不应写入", ok=False)
    assert refused.exit_code == 2 and "customers/q/huaizhi.md" in refused.stderr
    assert path.read_bytes() == before


def test_tags_that_are_not_a_list_of_words_are_reported_not_fatal(crm: Crm) -> None:
    path = _bad_value_file(crm, "tags:\n  - [嵌套, 列表]\n  - {键: 值}\n  - 预算/50万以上")
    shown = crm("show", str(path), "--json").json()
    assert shown["tags"] == ["预算/50万以上"]
    problems = crm("check", "--json", ok=False).json()["problems"]
    assert [p for p in problems if p["code"] == "field:tags" and p["path"] == "customers/q/huaizhi.md"]
    assert len(crm("ls", "--json").json()) == 8


# ------------------------------------------------------------------ one accepted range of dates


@pytest.mark.parametrize("at", ["9999-12-20 10:00", "0001-01-01 00:00", "1899-12-31 23:59", "3000-01-01 00:00"])
def test_a_follow_up_outside_the_accepted_dates_is_refused_before_writing(crm: Crm, at: str) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    before = path.read_bytes()
    out = crm("log", "星辰", "--note", "很久以后", "--at", at, ok=False)
    assert out.exit_code == 2 and "1900-01-01 to 2999-12-31" in out.stderr and "internal" not in out.stderr
    out = crm("log", "星辰", "--note", "下一步太远", "--next", f"{at[:10]} 回访", ok=False)
    assert "1900-01-01 to 2999-12-31" in out.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize(("args", "words"), [
    (("due", "--on", ""), "not a date"), (("due", "--on", "9999-12-31"), "1900-01-01 to 2999-12-31"),
    (("report", "activity", "--since", "0001-01-01"), "1900-01-01 to 2999-12-31"),
    (("search", "created:9999-12-31.."), "1900-01-01 to 2999-12-31"),
    (("search", "last:<99999999999d"), "36,500 days"),
    (("set", "星辰", "next_followup=9999-12-31"), "1900-01-01 to 2999-12-31"),
])
def test_dates_outside_the_accepted_range_are_refused_in_one_sentence(crm: Crm, args: tuple[str, ...],
                                                                      words: str) -> None:
    out = crm(*args, ok=False)
    assert out.exit_code == 2 and out.stderr.startswith("crm: error:") and words in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_file_already_holding_extreme_dates_is_reported_and_the_rest_works(crm: Crm) -> None:
    path = crm.root / "customers" / "q" / "yuanjiu.md"
    path.parent.mkdir()
    path.write_text("---\nid: c-20250101-yuanjiu1\nname: 远久公司\nindustry: internet\ncontact: 李娜\n"
                    "phone: '13800138000'\nstage: intent\ncreated: 9999-12-31T23:59\nnext_followup: 0001-01-01\n"
                    "---\n\n### 2025-03-01 10:00 · phone · alice\n正常的记录\nnext: 9999-12-31 太远的下一步\n\n"
                    "### 9999-12-20 10:00 · phone · alice\n未来的记录\n\n### 0001-01-01 00:00 · visit\n远古的记录\n",
                    encoding="utf-8")
    for args in (("ls",), ("ls", "--json"), ("due",), ("due", "--json"), ("report",), ("report", "churn"),
                 ("report", "activity"), ("show", "远久公司"), ("search", "记录"), ("export", "--format", "ics")):
        out = crm(*args)
        assert "internal" not in out.stderr
    shown = crm("show", "远久公司", "--json").json()
    assert [f["note"] for f in shown["followups"]] == ["正常的记录"]
    problems = {(p["line"], p["code"]) for p in crm("check", "--json", ok=False).json()["problems"]
                if p["path"] == "customers/q/yuanjiu.md"}
    assert {(8, "field:created"), (9, "field:next_followup"), (14, "next-without-date"), (16, "malformed-entry"),
            (19, "malformed-entry")} <= problems
    crm("log", "远久公司", "--note", "照常追加", "--at", "2025-03-02 09:00")
    assert "照常追加" in path.read_text(encoding="utf-8")


def test_the_config_refuses_spans_no_date_arithmetic_can_hold(crm: Crm) -> None:
    config = crm.root / "crmnotes.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("silent_after_days: 90", "silent_after_days: 99999999999"), encoding="utf-8")
    out = crm("ls", ok=False)
    assert out.exit_code == 2 and "36,500" in out.stderr
    config.write_text(text.replace("  stages:\n    strict: true\n    items:\n", "  stages: {items: []}\n  old:\n"
                                   "    items:\n"), encoding="utf-8")
    out = crm("add", "新客户", "--industry", "internet", "--contact", "王", "--phone", "13800138000", ok=False)
    assert out.exit_code == 2 and "stages" in out.stderr and "internal" not in out.stderr


# ------------------------------------------------------------------ clear errors instead of internal ones


@pytest.mark.parametrize("query", ["(" * 500 + "数据" + ")" * 500, "NOT " * 3000 + "数据", "-" + "(" * 60 + "a"])
def test_a_query_nested_too_deep_is_refused_in_one_sentence(crm: Crm, query: str) -> None:
    out = crm("search", "--", query, ok=False)
    assert out.exit_code == 2 and "more than 50 deep" in out.stderr


def test_huge_deal_amounts_and_probabilities_are_refused(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    before = path.read_bytes()
    for option, value in (("--amount", "9" * 5000), ("--amount", "9" * 400), ("--amount", "2000000000000000"),
                          ("--probability", "9" * 5000)):
        out = crm("deal", "add", "星辰", "超大订单", option, value, ok=False)
        assert out.exit_code == 2 and "internal" not in out.stderr and len(out.stderr) < 300
    assert path.read_bytes() == before
    crm("deal", "add", "星辰", "正常订单", "--amount", "1000000000000000")


def test_xlsx_export_drops_control_characters_a_worksheet_refuses(crm: Crm, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("grade: A", 'grade: A\ncity: "北\\x01京\\x1b[31m"', 1), encoding="utf-8")
    out = tmp_path / "x.xlsx"
    crm("export", "-o", str(out))
    sheet = load_workbook(out).active
    assert sheet is not None
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value]
    assert "北京[31m" in cells


@pytest.mark.parametrize(("target", "words"), [("", "not a file name"), (".", "is a directory")])
def test_export_to_a_folder_or_an_empty_name_is_refused(crm: Crm, target: str, words: str) -> None:
    out = crm("export", "-o", target, ok=False)
    assert out.exit_code == 2 and words in out.stderr and "internal" not in out.stderr
    assert not list(crm.root.glob(".~crm-*"))


def test_add_when_customers_is_a_plain_file_is_refused(crm_empty: Crm) -> None:
    folder = crm_empty.root / "customers"
    folder.rmdir()
    folder.write_text("不是文件夹", encoding="utf-8")
    out = crm_empty("add", "新客户", "--industry", "internet", "--contact", "王伟", "--phone", "13800138000", ok=False)
    assert out.exit_code == 2 and "customers/ is a file" in out.stderr
    assert "is a file" in crm_empty("check", ok=False).stdout
    assert folder.read_text(encoding="utf-8") == "不是文件夹"


# ------------------------------------------------------------------ smaller holes (symlinks, permissions, look-alikes)


def test_a_symlinked_customers_folder_is_refused_like_a_symlinked_subfolder(crm_empty: Crm, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = crm_empty.root / "customers"
    folder.rmdir()
    folder.symlink_to(outside, target_is_directory=True)
    out = crm_empty("add", "外面的客户", "--industry", "internet", "--contact", "王伟", "--phone", "13800138000",
                    ok=False)
    assert out.exit_code == 2 and "symlink" in out.stderr
    assert list(outside.rglob("*")) == []
    (outside / "planted.md").write_text("---\nid: c-20250101-planted1\nname: 外部文件\n---\n", encoding="utf-8")
    listed = crm_empty("ls", "--json")
    assert listed.json() == [] and "symlink" in listed.stderr
    assert crm_empty("log", str(outside / "planted.md"), "--note", "x", ok=False).exit_code == 2
    assert "x" not in (outside / "planted.md").read_text(encoding="utf-8").split("---")[-1]


def test_a_read_only_customer_file_is_not_rewritten(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    before = path.read_bytes()
    path.chmod(0o444)
    for args in (("log", "星辰", "--note", "只读文件"), ("set", "星辰", "grade=B"),
                 ("deal", "add", "星辰", "只读订单")):
        out = crm(*args, ok=False)
        assert out.exit_code == 2 and "read-only" in out.stderr
    assert path.read_bytes() == before and path.stat().st_mode & 0o777 == 0o444
    path.chmod(0o644)
    crm("log", "星辰", "--note", "可写了")


@pytest.mark.parametrize("name", ["Αcme Αnalytics Inc.", "ΝΟRΤΗWΙΝD Traders", "Асме Analytics", "Acme Ana1ytics Inc."])
def test_a_name_written_with_look_alike_letters_is_a_likely_duplicate(crm: Crm, name: str) -> None:
    out = crm("add", name, "--industry", "internet", "--contact", "王伟", "--phone", "13900139000", ok=False)
    assert out.exit_code != 0 and "looks like an existing customer" in out.stderr


def test_look_alike_letters_share_a_skeleton_and_chinese_names_are_untouched() -> None:
    from crmnotes.dedupe import name_key, skeleton

    assert skeleton("Κ") == "K" and skeleton("Ｋ") == "K" and skeleton("К") == "K"
    assert name_key("ΚΙΝG 科技") == name_key("KING 科技") != name_key("KlNG 科技x")
    assert skeleton("星辰科技有限公司") == "星辰科技有限公司"


def test_an_import_row_with_a_date_outside_the_range_is_rejected_with_its_reason(crm_empty: Crm,
                                                                                  tmp_path: Path) -> None:
    sheet = tmp_path / "客户.csv"
    sheet.write_text("客户名称,联系人,联系电话,所属行业,创建时间\n远古贸易有限公司,冯经理,13800138008,零售,0001-01-01\n"
                     "未来贸易有限公司,冯经理,13800138009,零售,9999/12/31\n正常贸易有限公司,冯经理,13800138010,零售,2024/3/5\n",
                     encoding="utf-8")
    out = crm_empty("import", str(sheet), "--json", ok=False).json()
    reasons = {r["row"]: r["reason"] for r in out["rejects"]}
    assert len(reasons) == 2 and all("1900-01-01 to 2999-12-31" in r for r in reasons.values())
    assert "internal" not in str(out)


def test_deal_numbers_no_pipeline_can_use_are_reported_and_count_as_nothing(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    text = path.read_text(encoding="utf-8")
    text = text.replace("amount: 180000", "amount: .inf", 1).replace("probability: 50", "probability: .nan", 1)
    path.write_text(text, encoding="utf-8")
    problems = [p for p in crm("check", "--json", ok=False).json()["problems"] if p["code"] == "field:deals"]
    assert len(problems) == 2 and "数据安全平台一期" in problems[0]["message"]
    forecast = crm("report", "forecast", "--json").stdout
    assert "inf" not in forecast.lower() and "nan" not in forecast.lower()


# ------------------------------------------------------------------ the TUI: same rules, same messages


def test_the_tui_lists_the_good_customers_beside_a_bad_value_and_refuses_an_extreme_date(tmp_path: Path) -> None:
    import asyncio

    from textual.widgets import Input

    from crmnotes import actions
    from crmnotes.tui.screens.forms import LogForm
    from crmnotes.vault import Vault

    from .test_tui import DAY, XINGCHEN, app_for, screen_text, search_for, settle, type_text

    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))
    bad = vault.root / "customers" / "q" / "huaizhi.md"
    bad.parent.mkdir()
    bad.write_text("---\nid: c-20250101-huaizhi1\nname: 坏值公司\ncreated: 2024-02-30\n---\n", encoding="utf-8")
    before = (vault.root / XINGCHEN).read_bytes()

    async def run() -> None:
        app = app_for(vault)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            assert len(app.main.table.all_rows) == 7
            await search_for(app, pilot, "数据安全")
            await pilot.press("enter", "l")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, LogForm)
            form.query_one("#f-at", Input).value = "9999-12-20 10:00"
            await type_text(pilot, "未来的记录")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, LogForm) and "1900-01-01 to 2999-12-31" in screen_text(app)

    asyncio.run(run())
    assert (vault.root / XINGCHEN).read_bytes() == before
