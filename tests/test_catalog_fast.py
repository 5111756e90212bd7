"""`crm ls --json` / `crm due --json` from the catalog's compact columns against reading the files."""

from __future__ import annotations

import json
import zlib
from datetime import date, timedelta

import pytest

from crmnotes import actions, catalog
from crmnotes.vault import Vault

from .conftest import Crm

TODAY = date.today()


def from_files(vault: Vault, filters: actions.Filters, sort: str, on: date, limit: int = 0,
               reveal: bool = False) -> list[dict]:
    """The listing JSON computed by parsing every file (no catalog)."""
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
    return [actions.due_item_json(vault, item, on) for item in actions.due_customers(vault, on, owner)]


def due_bytes(vault: Vault, on: date, owner: str = "") -> bytes:
    """What ``crm due --json`` printed (``print_json`` to a pipe) before the fast path, from the files."""
    return json.dumps(due_from_files(vault, on, owner), ensure_ascii=False).encode()


def listing_bytes(vault: Vault, filters: actions.Filters, sort: str, on: date, limit: int = 0,
                  reveal: bool = False) -> bytes:
    """What ``crm ls --json`` printed before the fast path: ``listing_json_text`` of the chosen summaries."""
    chosen = actions.list_customers(vault, filters, sort, on, customers=catalog.listing(vault).customers)
    return catalog.listing_json_text(vault, chosen[:limit] if limit else chosen, reveal=reveal, today=on).encode()


@pytest.mark.parametrize("sort", ["name", "-last", "created", "next", "stage", "-grade", "owner"])
def test_fast_listing_equals_the_files(example_vault: Vault, sort: str) -> None:
    for on in (TODAY, TODAY + timedelta(days=45), TODAY + timedelta(days=400)):  # silent moves with the day
        for filters in (actions.Filters(), actions.Filters(stage="silent"), actions.Filters(stage="意向"),
                        actions.Filters(tag="needs/"), actions.Filters(grade="A"), actions.Filters(owner="王芳")):
            text, problems = catalog.listing_json_fast(example_vault, filters, sort, today=on)
            assert json.loads(text) == from_files(example_vault, filters, sort, on), (sort, filters, on)
            assert text == listing_bytes(example_vault, filters, sort, on)
            assert problems == []
    text, _ = catalog.listing_json_fast(example_vault, actions.Filters(), sort, 2, reveal=True)
    assert json.loads(text) == from_files(example_vault, actions.Filters(), sort, TODAY, 2, reveal=True)
    assert text == listing_bytes(example_vault, actions.Filters(), sort, TODAY, 2, reveal=True)


def test_fast_due_equals_the_files(example_vault: Vault) -> None:
    owners = {c.owner for c in example_vault.scan().customers}
    for on in (TODAY, TODAY + timedelta(days=30), TODAY + timedelta(days=400)):
        for owner in ("", *sorted(owners)):
            text, problems = catalog.due_json_fast(example_vault, on, owner)
            assert text == due_bytes(example_vault, on, owner), (on, owner)
            assert problems == []
    assert json.loads(catalog.due_json_fast(example_vault, TODAY + timedelta(days=400))[0])  # not vacuous


def test_customer_without_dates_is_due_today(empty_vault: Vault) -> None:
    path = empty_vault.customers_dir / "n" / "nodate.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\nid: c-20240101-abcd1234\nname: 无日期公司\nstage: potential\ngrade: A\n---\n",
                    encoding="utf-8")
    for on in (TODAY, TODAY + timedelta(days=3)):
        assert catalog.due_json_fast(empty_vault, on)[0] == due_bytes(empty_vault, on)
        text, _ = catalog.listing_json_fast(empty_vault, actions.Filters(), today=on)
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


@pytest.mark.parametrize("damage", ["truncate", "column", "columns", "binary", "forged"])
def test_damaged_lines_are_made_again_from_the_files(example_vault: Vault, damage: str) -> None:
    expected = from_files(example_vault, actions.Filters(), "name", TODAY)
    catalog.listing_json_fast(example_vault, actions.Filters())
    cache = example_vault.cache_dir / catalog.LISTING_FILE
    data = cache.read_bytes()
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
    elif damage == "binary":
        data = data[:200] + b"\xff\x00\xfe" + data[200:]
    else:
        header, *lines = data.split(b"\n")
        out = []
        for line in lines:
            columns = line.split(b"\t")
            if damage == "column":  # a value changed, the CRC left as it was
                columns[5] = b"2000-01-01"
            elif damage == "columns":
                columns = columns[:5]
            else:  # too few columns under a CRC that matches them: the shape is checked too
                body = b"\t".join(columns[1:6])
                columns = [b"%d" % zlib.crc32(body), body]
            out.append(b"\t".join(columns))
        data = b"\n".join([header, *out])
    cache.write_bytes(data)
    text, problems = catalog.listing_json_fast(example_vault, actions.Filters())
    assert json.loads(text) == expected and problems == []
    assert catalog.due_json_fast(example_vault, TODAY)[0] == due_bytes(example_vault, TODAY)
    text, _ = catalog.listing_json_fast(example_vault, actions.Filters())  # repaired on disk too
    assert json.loads(text) == expected
    assert cache.read_bytes() != data


def test_unreadable_files_are_reported_by_the_fast_paths(example_vault: Vault) -> None:
    bad = example_vault.customers_dir / "z" / "坏文件.md"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text("---\nname: [unclosed\n---\n", encoding="utf-8")
    scanned = [(p.path, p.message) for p in example_vault.scan().problems]
    for _ in range(2):  # built, then served from the catalog
        assert [(p.path, p.message) for p in catalog.listing_json_fast(example_vault, actions.Filters())[1]] == scanned
        assert [(p.path, p.message) for p in catalog.due_json_fast(example_vault, TODAY)[1]] == scanned
