"""Sorting by ``next`` sorts by what the "next" column shows: the due date of the day listed
(from the due rules' timeline), not the front-matter ``next_followup`` that few customers have.
Undated customers come last, ties go by name; the CLI and the TUI share the one sort key."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from crmnotes import actions, catalog
from crmnotes.naming import collation_key
from crmnotes.tui.app import make_app
from crmnotes.vault import Vault

from .conftest import TODAY, Crm
from .test_tui import settle, sync, table


def customer_file(vault: Vault, slug: str, name: str, *, stage: str, created: date, next_followup: date | None = None,
                  contacted: date | None = None) -> None:
    """One customer written as a person would, with at most one follow-up (on ``contacted``)."""
    lines = ["---", f"id: c-20250101-{slug[:4]}", f"name: {name}", f"stage: {stage}", "owner: 张伟",
             f"created: {created.isoformat()}T09:00"]
    if next_followup is not None:
        lines.append(f"next_followup: {next_followup.isoformat()}")
    lines += ["---", "", f"# {name}", "", "## 跟进记录", ""]
    if contacted is not None:
        lines += [f"### {contacted.isoformat()} 10:00 · phone · 张伟", "", "电话沟通，客户在比较方案。", ""]
    path = vault.customers_dir / slug[0] / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def sorting_vault(root: Path, day: date) -> Vault:
    """Customers whose due dates (of ``day``) order differently from their ``next_followup``."""
    vault = Vault(actions.create_vault(root))
    # far front-matter step: due then (a step is open, so no cadence)
    customer_file(vault, "anhuijiafang-a1b2", "安徽甲方科技", stage="intent", created=day - timedelta(days=5),
                  next_followup=day + timedelta(days=60), contacted=day - timedelta(days=1))
    # no next_followup at all: the intent cadence from creation makes it overdue, the first to call
    customer_file(vault, "yixinshuju-c3d4", "乙信数据", stage="intent", created=day - timedelta(days=10))
    # lost: nothing is due, listed last whatever its front-matter says
    customer_file(vault, "bingchenwuliu-e5f6", "丙辰物流", stage="lost", created=day - timedelta(days=200),
                  contacted=day - timedelta(days=100))
    # two due on the same day: by name (pinyin: ding before wu)
    customer_file(vault, "dingshengjixie-g7h8", "丁盛机械", stage="intent", created=day - timedelta(days=2),
                  next_followup=day + timedelta(days=5), contacted=day - timedelta(days=1))
    customer_file(vault, "wuyuanyiliao-i9j0", "戊源医疗", stage="intent", created=day - timedelta(days=2),
                  next_followup=day + timedelta(days=5), contacted=day - timedelta(days=1))
    # contacted 85 days before the day: overdue by cadence now, silent (nothing due) ten days later
    customer_file(vault, "gengxinnengyuan-k1l2", "庚新能源", stage="intent", created=day - timedelta(days=300),
                  contacted=day - timedelta(days=85))
    return vault


BY_DUE = ["庚新能源", "乙信数据", "丁盛机械", "戊源医疗", "安徽甲方科技", "丙辰物流"]  # sorting_vault on its day


def by_what_is_shown(rows: list[tuple[str, date | None]]) -> list[tuple[str, date | None]]:
    return sorted(rows, key=lambda row: (row[1] is None, row[1] or date.max, collation_key(row[0])))


def test_ls_sort_next_follows_the_due_column(tmp_path: Path) -> None:
    vault = sorting_vault(tmp_path / "vault", TODAY)
    crm = Crm(vault.root)
    listed = crm("ls", "--sort", "next", "--json").json()
    shown = [(c["name"], date.fromisoformat(c["due"]) if c["due"] else None) for c in listed]
    assert shown == by_what_is_shown(shown)
    assert [name for name, _ in shown] == BY_DUE
    reverse = [c["name"] for c in crm("ls", "--sort", "-next", "--json").json()]
    assert reverse == ["安徽甲方科技", "戊源医疗", "丁盛机械", "乙信数据", "庚新能源", "丙辰物流"]  # undated still last
    table_text = crm("ls", "--sort", "next").stdout
    assert table_text.index("庚新能源") < table_text.index("乙信数据") < table_text.index("丙辰物流")


def test_every_day_sorts_by_its_own_due_dates(tmp_path: Path) -> None:
    vault = sorting_vault(tmp_path / "vault", TODAY)
    for day in (TODAY - timedelta(days=30), TODAY, TODAY + timedelta(days=10), TODAY + timedelta(days=400)):
        rows = [(r.name, r.due) for r in catalog.rows(vault, sort="next", today=day)]
        assert rows == by_what_is_shown(rows), day
        entries = catalog.entries(vault, sort="next", today=day).entries
        assert [e.name for e in entries] == [name for name, _ in rows], day
    later = [r.name for r in catalog.rows(vault, sort="next", today=TODAY + timedelta(days=10))]
    assert later[-2:] == ["丙辰物流", "庚新能源"]  # silent by then: nothing due, so with the undated


@sync
async def test_tui_o_sorts_by_the_next_column(tmp_path: Path) -> None:
    vault = sorting_vault(tmp_path / "vault", TODAY)
    app = make_app(vault, today=TODAY, now=datetime.combine(TODAY, datetime.min.time()), user="张伟", poll_seconds=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("o", "o")  # name -> last -> next
        await settle(app, pilot)
        assert app.main.quick.sort == "next"
        shown = [(r.name, r.due) for r in table(app).all_rows]
        assert [name for name, _ in shown] == BY_DUE
        assert shown == by_what_is_shown(shown)
