"""A big vault's TUI start: the first frame shows the first page of the list
read from the listing cache (``catalog.first_rows``), in ``crm ls --sort
name``'s order, and the whole list takes its place once read; End, the
search box and a file changed on disk then work over every customer.
"Big" is lowered to a few dozen customers here (``startup.PAGE_FROM``):
the path is the same at 100,000.  Real vaults (Chinese names, names that
tie in different folders), real Textual apps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crmnotes import actions, catalog
from crmnotes.catalog import Row
from crmnotes.tui import startup
from crmnotes.tui.widgets.customer_table import CustomerTable
from crmnotes.vault import Vault

from .conftest import Crm
from .test_tui import DAY, XINGCHEN, app_for, sync
from .test_tui_startup import names, until

WORDS = ("华为", "阿里", "字节", "腾讯", "美团", "京东", "百度", "网易", "小米", "蔚来", "理想", "比亚迪",
         "Acme", "Zeta", "Omega", "Beta")
TIE = "重名科技有限公司"  # three files of one name, in folders walked in different orders
TIE_FILES = ("customers/c/chongming-a001.md", "customers/c/zz/chongming-a002.md", "customers/a/chongming-a003.md")
LAST = "左岸咖啡有限公司"  # zuoan: last by pinyin, never in the first page


def _customer(vault: Vault, rel: str, name: str, number: int) -> None:
    """A copy of 星辰科技 under another name and ID."""
    text = (vault.root / XINGCHEN).read_text(encoding="utf-8").replace("星辰科技有限公司", name)
    text = re.sub(r"(?m)^id: .*$", f"id: c-20250310-{number:04d}mzkq", text, count=1)
    path = vault.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Vault:
    """The example vault and 68 more customers, its listing cache written (as any earlier crm run does)."""
    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))
    for number in range(64):
        name = f"{WORDS[number % len(WORDS)]}{WORDS[number // len(WORDS)]}公司{number}"
        _customer(vault, f"customers/g/gen-{number:04d}.md", name, number)
    for number, rel in enumerate(TIE_FILES, start=100):
        _customer(vault, rel, TIE, number)
    _customer(vault, "customers/z/zuoan-0200.md", LAST, 200)
    catalog.rows(vault, today=DAY)
    monkeypatch.setattr(startup, "PAGE", 10)
    monkeypatch.setattr(startup, "PAGE_FROM", 20)
    return vault


def listed(vault: Vault, sort: str = "name") -> list[str]:
    """``crm ls --sort SORT``'s paths, in its order."""
    out = Crm(vault.root)("ls", "--sort", sort, "--json").stdout
    return [vault.relative(vault.root / item["path"]) if not item["path"].startswith("customers/")
            else item["path"] for item in json.loads(out)]


def test_the_first_rows_are_the_head_of_the_listing_ties_and_all(big: Vault) -> None:
    every = catalog.rows(big, today=DAY)
    assert [row.path for row in every] == listed(big) and len(every) > 70
    ties = [row.path for row in every if row.name == TIE]
    assert ties == ["customers/a/chongming-a003.md", "customers/c/chongming-a001.md",
                    "customers/c/zz/chongming-a002.md"]  # a folder's files before its subfolders
    at = next(i for i, row in enumerate(every) if row.name == TIE)
    for indexed in (False, True):  # a pass over every stored row, then the sort key's index
        if indexed:
            catalog.index_first_rows(big)
            catalog.index_first_rows(big)  # once
        for count in (1, 5, at + 1, at + 2, 30, len(every) + 5):
            first = catalog.first_rows(big, DAY, count)
            assert first is not None and first == every[:len(first)] and len(first) >= min(count, len(every))
        assert len(catalog.first_rows(big, DAY, at + 1) or []) == at + 3  # a tie is never cut in two
    assert catalog.first_rows(big, DAY, 10, at_least=len(every) + 1) is None  # small: the whole list is as quick


def test_first_rows_without_a_cache_is_none(tmp_path: Path) -> None:
    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))
    assert catalog.first_rows(vault, DAY, 10) is None  # nothing listed yet: nothing to show early


@sync
async def test_a_big_vaults_first_frame_is_the_first_page_then_every_customer(
        big: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[list[Row]] = []
    show = CustomerTable.show

    def recorded(table: CustomerTable, rows: list[Row], keep: str | None = None) -> None:
        shown.append(list(rows))
        show(table, rows, keep)

    monkeypatch.setattr(CustomerTable, "show", recorded)
    order = listed(big)
    app = app_for(big, poll=0.05)
    first = app.first_rows
    assert first is not None and first.wait_page(30) is not None
    assert not first.wait(0)  # the whole list waits for the first frame
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: len(app.main.table.all_rows) == len(order))
        page = [row.path for row in shown[0]]
        assert 10 <= len(page) < len(order) and page == order[:len(page)]  # the first frame: the first page
        table = app.main.table
        assert [row.path for row in table.all_rows] == order and not app.main.partial
        assert f"{len(order)} of {len(order)}" in str(app.main.query_one("#status").render())
        await pilot.press("end")
        assert table.current_row is not None and table.current_row.name == LAST
        await pilot.press("home", "slash", *"左岸")
        await until(pilot, lambda: names(app) == [LAST])
        assert names(app) == [LAST]  # found beyond the first page
        await pilot.press("escape", "c")  # back to the table, the search box cleared
        await until(pilot, lambda: len(names(app)) == len(order))
        assert [row.path for row in table.all_rows] == order
        path = big.root / "customers/g/gen-0003.md"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("name: 腾讯华为公司3", "name: 阿阿新名公司"), encoding="utf-8")
        await until(pilot, lambda: "阿阿新名公司" in names(app))
        assert names(app)[0] == "阿阿新名公司" and len(names(app)) == len(order)


@sync
async def test_a_sort_key_pressed_at_once_sorts_every_customer(big: Vault) -> None:
    order = listed(big, "last")
    app = app_for(big, poll=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")  # at once: the first page may still be all there is
        await until(pilot, lambda: [row.path for row in app.main.table.all_rows] == order)
        assert [row.path for row in app.main.table.all_rows] == order and app.main.quick.sort == "last"
        assert f"{len(order)} of {len(order)}" in str(app.main.query_one("#status").render())
