"""The listing cache (.crmnotes/listing.sqlite3) against reading the files: the TUI rows,
the reports, and text with tabs, newlines and quotes."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from crmnotes import actions, catalog, reports
from crmnotes.vault import Vault

from .conftest import Crm
from .test_catalog_fast import due_from_files, from_files

TODAY = date.today()
DAYS = (TODAY, TODAY + timedelta(days=45), TODAY + timedelta(days=400))  # silent stages move with the day


def rows_from_files(vault: Vault, filters: actions.Filters, sort: str, on: date) -> list[catalog.Row]:
    return [catalog.row_of(vault, c, on) for c in actions.list_customers(vault, filters, sort, on)]


def report_from_files(vault: Vault, name: str, **period: date) -> dict:
    return reports.build(name, vault.scan().customers, vault.config, **period).to_json()


def report_from_cache(vault: Vault, name: str, **period: date) -> dict:
    return reports.build(name, catalog.report_customers(vault).customers, vault.config, **period).to_json()


def append_followup(vault: Vault, name: str, text: str) -> None:
    path = next(p for p in sorted(vault.customers_dir.rglob("*.md")) if f"name: {name}" in p.read_text("utf-8"))
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


@pytest.mark.parametrize("sort", ["name", "-name", "-last", "created", "next", "stage", "-grade", "owner"])
def test_rows_equal_row_of_the_files(example_vault: Vault, sort: str) -> None:
    for on in DAYS:
        for filters in (actions.Filters(), actions.Filters(stage="silent"), actions.Filters(stage="意向"),
                        actions.Filters(tag="needs/"), actions.Filters(grade="A"), actions.Filters(owner="王芳")):
            assert catalog.rows(example_vault, filters, sort, on) == rows_from_files(example_vault, filters, sort, on)
    assert len(catalog.rows(example_vault, sort=sort)) == len(example_vault.scan().customers)


def test_rows_follow_a_file_changed_behind_the_tools_back(example_vault: Vault) -> None:
    catalog.rows(example_vault)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    append_followup(example_vault, "星辰科技有限公司",
                    f"\n## {yesterday} 09:30 · 微信 · 李雷\n确认预算。\nnext: {TODAY.isoformat()} 发合同\n")
    rows = catalog.rows(example_vault)
    assert rows == rows_from_files(example_vault, actions.Filters(), "name", TODAY)
    changed = next(r for r in rows if r.name == "星辰科技有限公司")
    assert changed.due == TODAY and "发合同" in changed.due_reason


@pytest.mark.parametrize("name", reports.REPORTS)
def test_reports_from_the_cache_equal_reading_the_files(example_vault: Vault, name: str) -> None:
    periods = [{}, {"since": TODAY - timedelta(days=30)}, {"since": TODAY - timedelta(days=400), "until": TODAY}]
    for period in periods:
        assert report_from_cache(example_vault, name, **period) == report_from_files(example_vault, name, **period)
    # a follow-up that moves the stage, written by an editor: the next report sees it
    append_followup(example_vault, "星辰科技有限公司",
                    f"\n## {TODAY.isoformat()} 10:00 · 拜访 · 王芳\n签约。\nstage: 成交\n")
    for period in periods:
        assert report_from_cache(example_vault, name, **period) == report_from_files(example_vault, name, **period)


def test_report_command_reads_the_cache(crm: Crm) -> None:
    vault = Vault(crm.root)
    assert crm("report", "funnel", "--json").json() == report_from_files(vault, "funnel")
    assert (vault.cache_dir / catalog.CACHE_FILE).is_file()
    assert crm("report", "owners", "--json", "--owner", "王芳").json() == reports.build(
        "owners", [c for c in vault.scan().customers if c.owner == "王芳"], vault.config).to_json()


ODD = """---
id: c-20250101-odd00001
name: "制表\\t符号 \\"引号\\" 公司"
industry: 零售
contact: "赵\\\\六"
phone: '13800138000'
stage: 意向
grade: A
owner: "王\\n芳"
tags: ["needs/数据安全", "a\\tb"]
created: 2025-01-01T08:30
---

## {day} 10:00 · 电话 · 王芳
回访。
next: {next} 演示
"""


def test_text_with_tabs_newlines_and_quotes_survives_the_cache(empty_vault: Vault) -> None:
    path = empty_vault.customers_dir / "z" / "odd.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    day = TODAY - timedelta(days=2)
    path.write_text(ODD.format(day=day.isoformat(), next=(TODAY + timedelta(days=1)).isoformat()), encoding="utf-8")
    normal = empty_vault.customers_dir / "a" / "normal.md"
    normal.parent.mkdir(parents=True, exist_ok=True)
    normal.write_text(ODD.replace("odd00001", "nml00001").replace('"制表\\t符号 \\"引号\\" 公司"', "平常公司")
                      .replace('"王\\n芳"', "王芳").replace(', "a\\tb"', "")
                      .format(day=day.isoformat(), next=TODAY.isoformat()), encoding="utf-8")
    for _ in range(2):  # built, then served from the cache
        for on in (TODAY, TODAY + timedelta(days=200)):
            for filters in (actions.Filters(), actions.Filters(owner="王\n芳"), actions.Filters(tag="a\tb")):
                text, _ = catalog.listing_json(empty_vault, filters, today=on)
                assert json.loads(text) == from_files(empty_vault, filters, "name", on) != []
                assert catalog.rows(empty_vault, filters, today=on) == rows_from_files(empty_vault, filters, "name", on)
            assert json.loads(catalog.due_json(empty_vault, on)[0]) == due_from_files(empty_vault, on) != []


def test_ls_and_due_json_still_refuse_a_broken_config(crm: Crm) -> None:
    """They answer from the cache without parsing crmnotes.yaml, but a changed config invalidates the cache."""
    crm("ls", "--json")
    config = crm.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "\nstages: [unclosed\n", encoding="utf-8")
    for args in (["ls", "--json"], ["due", "--json"], ["ls"]):
        result = crm(*args, ok=False)
        assert "crmnotes.yaml" in result.stderr and "not valid YAML" in result.stderr, result.stderr


def test_report_customers_carry_every_followup_summary_field(example_vault: Vault) -> None:
    """Each summary field lands in its own FollowUp field (a positional rebuild shifted them once)."""
    append_followup(example_vault, "星辰科技有限公司",
                    f"\n## {TODAY.isoformat()} 10:00 · 拜访 · 王芳\n谈合同。\nstage: 成交\n"
                    f"next: {(TODAY + timedelta(days=3)).isoformat()} 14:30 @李娜 发合同\n")

    def summaries(customers: list) -> dict:
        return {c.id: [(f.at, f.channel, f.by, f.next_date, f.next_what, f.next_at, f.next_who, f.stage_from,
                        f.stage_to, f.has_time) for f in c.followups] for c in customers}

    read = summaries(example_vault.scan().customers)
    assert summaries(catalog.report_customers(example_vault).customers) == read
    moved = [s for followups in read.values() for s in followups if s[8] == "won" and s[6] == "李娜"]
    assert len(moved) == 1 and moved[0][5] is not None


def _ls_json_in_a_fresh_process(vault: Vault) -> tuple[list[str], bool]:
    """``crm ls --json`` in a new interpreter: the names in order, and whether pypinyin was loaded."""
    import subprocess
    import sys

    script = ("import sys, io, contextlib\n"
              "from crmnotes.cli import main\n"
              "out = io.StringIO()\n"
              "with contextlib.redirect_stdout(out):\n"
              f"    main(['--vault', {str(vault.root)!r}, 'ls', '--json'], standalone_mode=False)\n"
              "import json\n"
              "print(json.dumps([[c['name'] for c in json.loads(out.getvalue())], 'pypinyin' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    names, loaded = json.loads(done.stdout.splitlines()[-1])
    return names, loaded


def test_an_edit_that_keeps_the_name_keeps_its_sort_key_and_a_rename_sorts_again(example_vault: Vault) -> None:
    names, _ = _ls_json_in_a_fresh_process(example_vault)  # the cache is written
    append_followup(example_vault, "星辰科技有限公司", f"\n## {TODAY.isoformat()} 10:00 · 电话 · 李雷\n报价已发。\n")
    again, loaded = _ls_json_in_a_fresh_process(example_vault)
    assert again == names and not loaded  # the stored pinyin key was kept: no dictionary loaded for one edit
    path = next(p for p in example_vault.customers_dir.rglob("*.md")
                if "name: 星辰科技有限公司" in p.read_text("utf-8"))
    path.write_text(path.read_text("utf-8").replace("name: 星辰科技有限公司", "name: 阿尔法科技有限公司"), "utf-8")
    renamed, loaded = _ls_json_in_a_fresh_process(example_vault)
    assert loaded and renamed == [c.name for c in actions.list_customers(example_vault, actions.Filters(), "name")]
    assert renamed.index("阿尔法科技有限公司") < names.index("星辰科技有限公司")  # A (a'er) before X (xingchen)


def _fronts(vault: Vault) -> dict[str, tuple[str | None, str | None]]:
    import sqlite3

    with sqlite3.connect(vault.cache_dir / catalog.CACHE_FILE) as db:
        return {rel: (front, meta) for rel, front, meta in db.execute("SELECT rel, front, front_meta FROM fronts")}


def _typed(value: object) -> object:
    """``value`` with every type spelled out: equal only when YAML and the cache give the same types."""
    if isinstance(value, dict):
        return {(type(k).__name__, k): _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, repr(value))


@pytest.mark.parametrize(("extra", "kept"), [
    ("签约日期: 2026-03-01\n回访时间: 2026-03-01T09:30:00+08:00\n金额: 1.0\n标记: [true, 0, null, '0571']\n", True),
    ("明细: {1: 一期, 2: 二期}\n", False),  # an int key inside: JSON would make it a text, so it is parsed again
    ("比例: .nan\n", False),  # NaN is not equal to itself: never proven the same, parsed again
])
def test_a_body_edit_reuses_the_stored_front_matter_only_when_it_is_exactly_what_yaml_gave(
        example_vault: Vault, extra: str, kept: bool) -> None:
    path = next(p for p in sorted(example_vault.customers_dir.rglob("*.md"))
                if "name: 星辰科技有限公司\n" in p.read_text("utf-8"))
    path.write_text(path.read_text("utf-8").replace("stage: intent\n", "stage: 意向\n" + extra, 1), "utf-8")
    catalog.listing_json(example_vault)  # built
    append_followup(example_vault, "星辰科技有限公司", f"\n### {TODAY.isoformat()} 10:00 · 电话 · 李雷\n报价已发。\n")
    text, _ = catalog.listing_json(example_vault)  # the edited file read again, its front-matter reused if kept
    rel = example_vault.relative(path)
    front, stored_meta = _fronts(example_vault)[rel]
    assert (front is not None) is kept and (stored_meta is not None) is kept  # stage 意向: its own meta stored
    listed = from_files(example_vault, actions.Filters(), "name", TODAY)
    assert json.dumps(json.loads(text), sort_keys=True) == json.dumps(listed, sort_keys=True)  # NaN too
    # the row written after the reuse holds the types YAML gives (a date stays a date); the report column keeps
    # a nested int key as a text whether reused or not, so that case is compared through the listing alone
    from_cache = {c.name: c for c in catalog.report_customers(example_vault).customers}
    for customer in example_vault.scan().customers:
        assert not kept or _typed(from_cache[customer.name].meta) == _typed(customer.meta), customer.name
        assert [f.at for f in from_cache[customer.name].followups] == [f.at for f in customer.followups]
