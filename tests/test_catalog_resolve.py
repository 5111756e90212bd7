"""A customer reference (REF) resolved through the listing cache gives exactly what parsing every
file gives: the same customer, or the same refusal naming the same candidates; only the matched
file is read, so ``crm show 星辰`` no longer parses the whole vault."""

from __future__ import annotations

import pytest

from crmnotes import actions, catalog
from crmnotes.errors import CrmError
from crmnotes.vault import Vault

from .conftest import Crm

NAMES = [("星辰科技有限公司", "王经理"), ("星辰数据有限公司", "李娜"), ("小鹿教育", "Bob Lee"),
         ("Acme Analytics Inc.", "Alice"), ("Acme Robotics", "王经理"), ("北京云帆教育科技有限公司", "张伟"),
         ("深圳市海豚物流有限公司", "陈静")]
REFS = ["星辰", "星辰科技", "星辰科技有限公司", "小鹿", "xiaolu", "xckj", "acme", "Acme Analytics", "acme robotics",
        "王经理", "李娜", "bob lee", "云帆", "bjyf", "海豚", "nobody", "Inc.", "教育", "", "  星辰数据  "]


@pytest.fixture
def vault(empty_vault: Vault) -> Vault:
    for n, (name, contact) in enumerate(NAMES):
        draft = actions.NewCustomer(name=name, contact=contact, industry="internet", phone=f"1390000{n:04d}")
        actions.add_customer(empty_vault, draft, force=True)
    return empty_vault


def _answer(resolve: object, ref: str) -> tuple[str, ...]:
    try:
        found = resolve(ref)  # type: ignore[operator]
    except CrmError as exc:
        return ("refused", exc.message, exc.hint, *getattr(exc, "candidates", []))
    return ("found", str(found.path), found.name, found.id)


@pytest.mark.parametrize("ref", REFS)
def test_the_cache_resolves_every_reference_as_the_files_do(vault: Vault, ref: str) -> None:
    customers = vault.scan().customers
    by_files = _answer(lambda r: vault.resolve(r, customers), ref)
    assert _answer(lambda r: catalog.resolve(vault, r), ref) == by_files


def test_ids_and_paths_resolve_through_the_cache_door_too(vault: Vault) -> None:
    some = vault.scan().customers[0]
    assert catalog.resolve(vault, some.id).path == some.path
    assert catalog.resolve(vault, str(some.path)).path == some.path
    assert catalog.resolve(vault, vault.relative(some.path)).path == some.path


def test_a_name_changed_by_hand_is_found_by_its_new_name(vault: Vault) -> None:
    path = catalog.resolve(vault, "海豚").path
    catalog.entries(vault)  # the cache holds the old name
    text = path.read_text(encoding="utf-8").replace("深圳市海豚物流有限公司", "深圳市鲸鱼物流有限公司")
    path.write_text(text, encoding="utf-8")
    assert catalog.resolve(vault, "鲸鱼").path == path
    with pytest.raises(CrmError, match="no customer matches"):
        catalog.resolve(vault, "海豚")


def test_show_by_name_finds_the_customer_and_names_every_candidate(vault: Vault) -> None:
    other = vault.customers_dir / "zz-broken.md"  # a file no name lookup may need to parse
    other.write_text("---\nname: [unclosed\n---\n", encoding="utf-8")
    shown = Crm(vault.root)("show", "小鹿")
    assert "小鹿教育" in shown.stdout and "Bob Lee" in shown.stdout
    ambiguous = Crm(vault.root)("show", "星辰", ok=False)
    assert "星辰科技有限公司" in ambiguous.stderr and "星辰数据有限公司" in ambiguous.stderr


def test_a_customer_file_named_by_path_that_does_not_parse_is_refused_as_before(vault: Vault) -> None:
    broken = vault.customers_dir / "broken.md"
    broken.write_text("---\nname: [unclosed\n---\n", encoding="utf-8")
    with pytest.raises(CrmError):
        catalog.resolve(vault, "customers/broken.md")


def _by_files(vault: Vault, ref: str) -> tuple[str, ...]:
    return _answer(vault.resolve, ref)  # an ID by the file named with its tag, else every file read


def test_an_id_is_looked_up_in_the_cache_and_its_file_checked_as_the_files_answer(vault: Vault) -> None:
    """An ID is found by one query of the cache and one file read; a cache that no longer tells the truth
    (a file renamed, an ID edited, the same ID twice) gives the answer of the files."""
    customers = vault.scan().customers
    catalog.entries(vault)  # the cache holds every ID
    for customer in customers:
        assert _answer(lambda r: catalog.resolve(vault, r), customer.id) == _by_files(vault, customer.id)
        assert catalog.resolve(vault, f"  {customer.id.upper()} ").path == customer.path
    import sqlite3

    with sqlite3.connect(vault.cache_dir / catalog.CACHE_FILE) as db:  # made by the first lookup, kept
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'customer_id'").fetchone() == (1,)
    moved = customers[0].path.with_name("星辰-手改的名字.md")  # no longer named by its ID's tag
    customers[0].path.rename(moved)
    assert _answer(lambda r: catalog.resolve(vault, r), customers[0].id) == ("found", str(moved), customers[0].name,
                                                                            customers[0].id)
    edited = customers[1].path
    edited.write_text(edited.read_text(encoding="utf-8").replace(customers[1].id, "c-20250101-zzzz9999"),
                      encoding="utf-8")
    for ref in (customers[1].id, "c-20250101-zzzz9999"):
        assert _answer(lambda r: catalog.resolve(vault, r), ref) == _by_files(vault, ref)
    twin = customers[2].path.with_name("copy-" + customers[2].path.name)  # named with the same tag
    twin.write_bytes(customers[2].path.read_bytes())
    catalog.entries(vault)  # the cache holds the ID twice
    refused = _answer(lambda r: catalog.resolve(vault, r), customers[2].id)
    assert refused[0] == "refused" and refused == _by_files(vault, customers[2].id)
