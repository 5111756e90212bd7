"""`crm ls --json` / `crm due --json` from the SQLite listing cache against reading the files,
and the cache itself: per-row updates, damage, config changes, several processes at once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date, timedelta

import pytest

from crmnotes import actions, catalog
from crmnotes.due import effective_stage
from crmnotes.vault import Vault

from .conftest import Crm

TODAY = date.today()


def from_files(vault: Vault, filters: actions.Filters, sort: str, on: date, limit: int = 0,
               reveal: bool = False) -> list[dict]:
    """The listing JSON computed by parsing every file (no cache)."""
    chosen = actions.list_customers(vault, filters, sort, on)
    if limit:
        chosen = chosen[:limit]
    out = []
    for customer in chosen:
        data = actions.customer_json(vault, customer, today=on, reveal=reveal)
        data["followup_count"] = len(data.pop("followups"))
        out.append(data)
    return out


def due_from_files(vault: Vault, on: date, owner: str = "") -> list[dict]:
    out = []
    for item in actions.due_customers(vault, on, owner):
        customer = item.customer
        out.append({"id": customer.id, "name": customer.name, "owner": customer.owner,
                    "stage": effective_stage(customer, vault.config, on), "due": item.due.isoformat(),
                    "status": item.status(on), "days_overdue": max(item.days_overdue(on), 0), "rule": item.rule,
                    "reason": item.reason, "path": vault.relative(customer.path)})
    return out


def cache_db(vault: Vault) -> sqlite3.Connection:
    return sqlite3.connect(vault.cache_dir / catalog.CACHE_FILE, isolation_level=None)


@pytest.mark.parametrize("sort", ["name", "-last", "created", "next", "stage", "-grade", "owner"])
def test_listing_json_equals_the_files(example_vault: Vault, sort: str) -> None:
    for on in (TODAY, TODAY + timedelta(days=45), TODAY + timedelta(days=400)):  # silent moves with the day
        for filters in (actions.Filters(), actions.Filters(stage="silent"), actions.Filters(stage="意向"),
                        actions.Filters(tag="needs/"), actions.Filters(grade="A"), actions.Filters(owner="王芳")):
            text, problems = catalog.listing_json(example_vault, filters, sort, today=on)
            assert json.loads(text) == from_files(example_vault, filters, sort, on), (sort, filters, on)
            assert problems == []
    text, _ = catalog.listing_json(example_vault, actions.Filters(), sort, 2, reveal=True)
    assert json.loads(text) == from_files(example_vault, actions.Filters(), sort, TODAY, 2, reveal=True)


def test_due_json_equals_the_files(example_vault: Vault) -> None:
    owners = {c.owner for c in example_vault.scan().customers}
    for on in (TODAY, TODAY + timedelta(days=30), TODAY + timedelta(days=400)):
        for owner in ("", *sorted(owners)):
            text, problems = catalog.due_json(example_vault, on, owner)
            assert json.loads(text) == due_from_files(example_vault, on, owner), (on, owner)
            assert problems == []
    assert json.loads(catalog.due_json(example_vault, TODAY + timedelta(days=400))[0])  # not vacuous


def test_customer_without_dates_is_due_on_the_day_asked(empty_vault: Vault) -> None:
    path = empty_vault.customers_dir / "n" / "nodate.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\nid: c-20240101-abcd1234\nname: 无日期公司\nstage: potential\ngrade: A\n---\n",
                    encoding="utf-8")
    for on in (TODAY, TODAY + timedelta(days=3)):
        assert json.loads(catalog.due_json(empty_vault, on)[0]) == due_from_files(empty_vault, on) != []
        text, _ = catalog.listing_json(empty_vault, actions.Filters(), today=on)
        assert json.loads(text) == from_files(empty_vault, actions.Filters(), "name", on)


def test_ls_and_due_json_after_an_edit_behind_the_tools_back(crm: Crm) -> None:
    vault = Vault(crm.root)
    assert crm("ls", "--json").json() == from_files(vault, actions.Filters(), "name", TODAY)
    first = next(p for p in sorted(vault.customers_dir.rglob("*.md"))
                 if "name: 星辰科技有限公司" in p.read_text(encoding="utf-8"))
    text = first.read_text(encoding="utf-8")
    edited = text.replace("name: 星辰科技有限公司", "name: 星辰云科技有限公司", 1)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    edited += f"\n## {yesterday} 10:00 · 电话 · 王芳\n回访，下周演示。\nnext: {TODAY.isoformat()} 演示\n"
    first.write_text(edited, encoding="utf-8")
    listed = crm("ls", "--json").json()
    assert listed == from_files(vault, actions.Filters(), "name", TODAY)
    assert "星辰云科技有限公司" in {c["name"] for c in listed}
    assert crm("due", "--json").json() == due_from_files(vault, TODAY)
    assert crm("ls", "--json", "--stage", "silent", "--sort", "-last").json() == \
        from_files(vault, actions.Filters(stage="silent"), "-last", TODAY)


def test_one_changed_file_rewrites_its_row_only(example_vault: Vault) -> None:
    catalog.entries(example_vault)
    paths = sorted(example_vault.customers_dir.rglob("*.md"))
    changed, other = example_vault.relative(paths[0]), example_vault.relative(paths[1])
    with cache_db(example_vault) as db:  # a mark a rewrite of the other row would remove
        db.execute("UPDATE customer SET contact = '标记' WHERE rel = ?", (other,))
    paths[0].write_text(paths[0].read_text(encoding="utf-8") + "\n## 2026-01-05 10:00 · 电话 · 王芳\n已回访。\n",
                        encoding="utf-8")
    listed = {e.path: e for e in catalog.entries(example_vault).entries}
    assert listed[other].contact == "标记"  # served from its row as stored
    assert listed[changed].last_contact is not None and listed[changed].last_contact.date() >= date(2026, 1, 5)
    with cache_db(example_vault) as db:
        assert db.execute("SELECT count(*) FROM customer").fetchone()[0] == len(paths)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_cache_file_is_rebuilt_silently(example_vault: Vault, damage: str) -> None:
    expected = from_files(example_vault, actions.Filters(), "name", TODAY)
    catalog.listing_json(example_vault)
    cache = example_vault.cache_dir / catalog.CACHE_FILE
    for suffix in ("-wal", "-shm"):
        (example_vault.cache_dir / f"{catalog.CACHE_FILE}{suffix}").unlink(missing_ok=True)
    data = cache.read_bytes()
    cache.write_bytes({"truncate": data[: len(data) // 3], "garbage": b"\xff\x00\xfe" * 3000, "empty": b""}[damage])
    text, problems = catalog.listing_json(example_vault)
    assert json.loads(text) == expected and problems == []
    assert json.loads(catalog.due_json(example_vault, TODAY)[0]) == due_from_files(example_vault, TODAY)


@pytest.mark.parametrize("column, value", [("timeline", "[[1,2"), ("tags", "{"), ("created", "昨天"),
                                           ("followup_count", "多"), ("listing", None), ("report", "[1]")])
def test_a_row_that_does_not_decode_is_read_again(example_vault: Vault, column: str, value: str | None) -> None:
    """Damage SQLite cannot see (a value changed by hand): the row is read again from its file."""
    expected = from_files(example_vault, actions.Filters(), "name", TODAY)
    catalog.listing_json(example_vault)
    with cache_db(example_vault) as db:
        table = {"listing": "listed", "report": "bulky"}.get(column, "customer")
        db.execute(f"UPDATE {table} SET {column} = ?", (value,))
    text, problems = catalog.listing_json(example_vault)
    assert json.loads(text) == expected and problems == []
    assert len(catalog.report_customers(example_vault).customers) == len(expected)


def test_a_config_change_empties_the_cache(example_vault: Vault) -> None:
    catalog.entries(example_vault)
    with cache_db(example_vault) as db:
        db.execute("UPDATE customer SET contact = '旧配置'")
    config = example_vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "\n# 改了配置\n", encoding="utf-8")
    fresh = Vault(example_vault.root)
    assert "旧配置" not in {e.contact for e in catalog.entries(fresh).entries}


def test_unreadable_files_are_skipped_and_reported(example_vault: Vault) -> None:
    bad = example_vault.customers_dir / "z" / "坏文件.md"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text("---\nname: [unclosed\n---\n", encoding="utf-8")
    scanned = [(p.path, p.message) for p in example_vault.scan().problems]
    count = len(example_vault.scan().customers)
    for _ in range(2):  # built, then served from the cache
        text, problems = catalog.listing_json(example_vault)
        assert [(p.path, p.message) for p in problems] == scanned and len(json.loads(text)) == count
        assert [(p.path, p.message) for p in catalog.due_json(example_vault, TODAY)[1]] == scanned


def test_a_vault_that_cannot_hold_a_cache_still_lists(example_vault: Vault) -> None:
    expected = from_files(example_vault, actions.Filters(), "name", TODAY)
    example_vault.cache_dir.mkdir(exist_ok=True)
    (example_vault.cache_dir / catalog.CACHE_FILE).mkdir()  # a folder where the file should be
    assert json.loads(catalog.listing_json(example_vault)[0]) == expected


def test_several_processes_build_and_read_the_cache_at_once(example_vault: Vault) -> None:
    expected = from_files(example_vault, actions.Filters(), "name", TODAY)
    paths = sorted(example_vault.customers_dir.rglob("*.md"))
    command = [sys.executable, "-m", "crmnotes", "--vault", str(example_vault.root), "ls", "--json"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    for index, path in enumerate(paths[:3]):  # files change while they list
        path.write_text(path.read_text(encoding="utf-8") + f"\n## 2026-01-0{index + 1} 09:00 · 电话\n并发。\n",
                        encoding="utf-8")
    runs += [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0 and err == b"", err.decode()
        assert {c["id"] for c in json.loads(out)} == {c["id"] for c in expected}
    assert json.loads(catalog.listing_json(example_vault)[0]) == \
        from_files(example_vault, actions.Filters(), "name", TODAY)


def test_ls_json_is_written_in_pieces_of_a_few_customers(example_vault: Vault, crm: Crm,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of 2 customers: every batch boundary falls between two customers of the example vault."""
    monkeypatch.setattr(catalog, "LISTING_BATCH", 2)
    expected = from_files(example_vault, actions.Filters(), "-last", TODAY)
    parts, problems = catalog.listing_json_parts(example_vault, actions.Filters(), "-last")
    pieces = list(parts)
    assert len(pieces) == 2 + (len(expected) + 1) // 2 and problems == []
    assert json.loads(b"".join(pieces)) == expected
    assert crm("ls", "--json", "--sort", "-last").json() == expected
    with cache_db(example_vault) as db:  # a stored row damaged by hand is made again from its file
        db.execute("UPDATE listed SET listing = '不是字节' WHERE rowid % 2 = 0")
    assert crm("ls", "--json", "--sort", "-last").json() == expected
    assert json.loads(catalog.listing_json(example_vault, actions.Filters(), "-last", 3)[0]) == expected[:3]


def test_listing_of_a_customer_whose_contacts_have_phones_on_any_day(crm: Crm, example_vault: Vault) -> None:
    """A stored object is spliced as it was written, or its keys of the day are cut off and written
    again: a "phone" inside the contacts must not be taken for the day's own."""
    assert crm("contact", "星辰科技有限公司", "王经理", "--phone", "13911112222", "--role", "采购").exit_code == 0
    for on in (TODAY, TODAY + timedelta(days=400)):
        for reveal in (False, True):
            text, _ = catalog.listing_json(example_vault, actions.Filters(), "name", today=on, reveal=reveal)
            assert json.loads(text) == from_files(example_vault, actions.Filters(), "name", on, reveal=reveal)
    listed = json.loads(catalog.listing_json(example_vault)[0])
    star = next(c for c in listed if c["name"] == "星辰科技有限公司")
    assert star["contacts"][-1]["phone"] == "139****2222" and star["phone"] != star["contacts"][-1]["phone"]
