"""The listing cache (.crmnotes/listing.sqlite3) against the files themselves:
same answers, changes seen at once, never an error."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

from crmnotes import actions, catalog
from crmnotes.vault import Vault

from .conftest import Crm
from .test_cli_lazy import modules_after

TODAY = date.today()


def full_listing(vault: Vault, on: date = TODAY) -> list[dict]:
    """What the listing must say, computed from parsing every file."""
    out = []
    for customer in vault.scan().customers:
        data = actions.customer_json(vault, customer, today=on)
        data["followup_count"] = len(data.pop("followups"))
        out.append(data)
    return out


def cached_listing(vault: Vault, on: date = TODAY) -> list[dict]:
    return json.loads(catalog.listing_json(vault, today=on)[0])


def test_catalog_agrees_with_reading_the_files(example_vault: Vault) -> None:
    first = cached_listing(example_vault)  # builds the catalog from the files
    assert (example_vault.cache_dir / catalog.CACHE_FILE).is_file()
    assert first == full_listing(example_vault)
    assert cached_listing(example_vault) == first  # served from the catalog this time
    later = TODAY + timedelta(days=200)  # silent stages and due dates move with the day, not the cache
    assert cached_listing(example_vault, later) == full_listing(example_vault, later)


def test_entries_sort_filter_and_fall_due_like_the_files(example_vault: Vault) -> None:
    for sort in ("name", "-last", "created", "next", "stage"):
        for filters in (actions.Filters(), actions.Filters(stage="silent"), actions.Filters(tag="needs/")):
            from_cache = [e.id for e in catalog.entries(example_vault, filters, sort).entries]
            from_files = [c.id for c in actions.list_customers(example_vault, filters, sort)]
            assert from_cache == from_files, (sort, filters)
    for day in (TODAY, TODAY + timedelta(days=30)):
        cached = [(d.entry.id, d.due, d.reason) for d in catalog.due(example_vault, day)[0]]
        assert cached == [(d.customer.id, d.due, d.reason) for d in actions.due_customers(example_vault, day)]
    rows = catalog.rows(example_vault)
    assert sum(r.followup_count for r in rows) == sum(len(c.followups) for c in example_vault.scan().customers)


def test_a_file_changed_behind_the_tools_back_is_seen_by_the_next_ls(crm: Crm) -> None:
    before = {c["name"]: c for c in crm("ls", "--json").json()}
    path = crm.root / before["星辰科技有限公司"]["path"]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("name: 星辰科技有限公司", "name: 星辰云科技有限公司", 1), encoding="utf-8")
    after = {c["name"]: c for c in crm("ls", "--json").json()}
    assert "星辰云科技有限公司" in after and "星辰科技有限公司" not in after
    entry = "\n## 2026-01-05 10:00 · 电话 · 王芳\n回访。\n"
    path.write_text(path.read_text(encoding="utf-8") + entry, encoding="utf-8")
    counted = {c["name"]: c["followup_count"] for c in crm("ls", "--json").json()}
    assert counted["星辰云科技有限公司"] == before["星辰科技有限公司"]["followup_count"] + 1
    path.unlink()
    assert len(crm("ls", "--json").json()) == len(before) - 1


def test_same_size_edit_with_a_new_mtime_is_seen(example_vault: Vault) -> None:
    catalog.entries(example_vault)
    path = next(example_vault.customers_dir.rglob("*.md"))
    text = path.read_text(encoding="utf-8")
    grade = example_vault.read(path).grade
    other = "C" if grade != "C" else "B"
    stat = path.stat()
    path.write_text(text.replace(f"grade: {grade}", f"grade: {other}", 1), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert path.stat().st_size == stat.st_size
    by_path = {e.path: e for e in catalog.entries(example_vault).entries}
    assert by_path[example_vault.relative(path)].grade == other


def test_unreadable_files_are_problems_in_both(example_vault: Vault) -> None:
    bad = example_vault.customers_dir / "z" / "坏文件.md"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text("---\nname: [unclosed\n---\n", encoding="utf-8")
    for _ in range(2):  # built, then served from the catalog
        listed = catalog.entries(example_vault)
        scanned = example_vault.scan()
        assert [(p.path, p.message, p.code) for p in listed.problems] == \
            [(p.path, p.message, p.code) for p in scanned.problems]
        assert len(listed.entries) == len(scanned.customers)


def test_dates_and_odd_keys_survive_the_cache(empty_vault: Vault) -> None:
    path = empty_vault.customers_dir / "a" / "odd.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\nid: c-20250101-aaaaaaaa\nname: 奇怪客户\nindustry: 零售\ncontact: 赵六\n"
                    "phone: '13800138000'\ncreated: 2025-01-01T08:30\nnext_followup: 2025-02-03\n"
                    "extra:\n  $date: 不是日期\n"
                    "tickets:\n- id: T1\n  subject: 发票\n  status: open\n  opened: 2025-01-02\n---\n",
                    encoding="utf-8")
    catalog.report_customers(empty_vault)
    reported = catalog.report_customers(empty_vault).customers[0]
    original = empty_vault.read(path)
    assert reported.meta == original.meta
    assert reported.tickets == original.tickets
    assert cached_listing(empty_vault) == full_listing(empty_vault)


def test_ls_json_shape_and_full(crm: Crm) -> None:
    short = crm("ls", "--json").json()
    full = crm("ls", "--json", "--full").json()
    assert [c["id"] for c in short] == [c["id"] for c in full]
    for brief, whole in zip(short, full, strict=True):
        assert "followups" not in brief and brief["followup_count"] == len(whole["followups"])
        assert (brief["last_contact"] is None) == (not whole["followups"])
        whole.pop("followups")
        brief.pop("followup_count")
        assert brief == whole
    assert crm("due", "--json").json() == crm("due", "--json").json()


def test_listing_needs_no_search_or_pinyin_imports(example_vault: Vault) -> None:
    catalog.entries(example_vault)
    for args in (["ls", "--json"], ["due", "--json"]):
        _, loaded = modules_after(args, example_vault.root)
        assert not {"whoosh", "jieba", "pypinyin", "phonenumbers", "git"} & set(loaded), args
