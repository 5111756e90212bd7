"""Due rules: explicit next steps, cadence by stage and grade, silence."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

from crmnotes import actions
from crmnotes.due import RULES, DueInfo, answer, due_list, effective_stage, next_due, open_next_steps, timeline
from crmnotes.tui.app import make_app
from crmnotes.vault import Vault

from .conftest import Crm

NOW = datetime(2026, 3, 2, 9, 0)
TODAY = NOW.date()


def add(vault: Vault, name: str, stage: str = "potential", grade: str = "C", created_days_ago: int = 1):
    draft = actions.NewCustomer(name=name, industry="internet", contact="王经理", phone="13800138000",
                                stage=stage, grade=grade, owner="张伟")
    return actions.add_customer(vault, draft, force=True, now=NOW - timedelta(days=created_days_ago))


def log(vault: Vault, customer, days_ago: int, **kw):
    entry = actions.LogEntry(note="电话沟通", at=NOW - timedelta(days=days_ago), by="张伟", **kw)
    return actions.log_followup(vault, customer, entry, now=NOW)


def test_cadence_takes_the_shorter_of_stage_and_grade(empty_vault: Vault) -> None:
    intent_c = log(empty_vault, add(empty_vault, "意向客户", stage="intent", grade="C"), days_ago=5)
    won_a = log(empty_vault, add(empty_vault, "成交客户", stage="won", grade="A"), days_ago=5)
    info = next_due(intent_c, empty_vault.config, TODAY)
    assert info and info.due == TODAY - timedelta(days=2) and info.rule == "cadence"
    assert "stage intent: every 3 days" in info.reason
    info = next_due(won_a, empty_vault.config, TODAY)
    assert info and info.due == TODAY + timedelta(days=2) and "grade A: every 7 days" in info.reason


def test_explicit_next_step_wins_over_cadence(empty_vault: Vault) -> None:
    customer = log(empty_vault, add(empty_vault, "星辰科技", stage="intent"), days_ago=1, next="2026-03-20 发报价")
    info = next_due(customer, empty_vault.config, TODAY)
    assert info and info.due == date(2026, 3, 20) and info.rule == "next-step" and "发报价" in info.reason
    assert customer.meta["next_followup"] == date(2026, 3, 20)


def test_a_later_contact_fulfils_the_old_next_followup(empty_vault: Vault) -> None:
    customer = log(empty_vault, add(empty_vault, "星辰科技", stage="intent"), days_ago=10, next="2026-02-25 回访")
    customer = log(empty_vault, customer, days_ago=3)  # contacted after the planned day, no new plan
    info = next_due(customer, empty_vault.config, TODAY)
    assert info and info.rule == "cadence" and info.due == TODAY  # 3 days after the last contact


def test_silence_after_threshold_and_no_cadence_for_silent_or_lost(empty_vault: Vault) -> None:
    quiet = log(empty_vault, add(empty_vault, "沉默客户", grade="A", created_days_ago=200), days_ago=120)
    assert effective_stage(quiet, empty_vault.config, TODAY) == "silent"
    assert next_due(quiet, empty_vault.config, TODAY) is None
    lost = log(empty_vault, add(empty_vault, "流失客户", stage="lost", created_days_ago=300), days_ago=200)
    assert effective_stage(lost, empty_vault.config, TODAY) == "lost"
    assert next_due(lost, empty_vault.config, TODAY) is None


def test_never_contacted_counts_from_creation(empty_vault: Vault) -> None:
    # potential is followed up weekly (the guides), so a customer made 20 days ago was due 13 days ago
    customer = add(empty_vault, "新客户", stage="potential", grade="B", created_days_ago=20)
    info = next_due(customer, empty_vault.config, TODAY)
    assert info and info.due == TODAY - timedelta(days=13) and "never contacted" in info.reason


def test_due_list_orders_most_overdue_first(empty_vault: Vault) -> None:
    a = log(empty_vault, add(empty_vault, "甲", stage="intent"), days_ago=10)
    b = log(empty_vault, add(empty_vault, "乙", stage="intent"), days_ago=4)
    c = log(empty_vault, add(empty_vault, "丙", stage="intent"), days_ago=1)
    items = due_list([c, b, a], empty_vault.config, TODAY)
    assert [i.customer.name for i in items] == ["甲", "乙"]
    assert items[0].status(TODAY) == "overdue" and items[0].days_overdue(TODAY) == 7


def test_every_open_next_step_stays_due(empty_vault: Vault) -> None:
    """Two people each plan a next step (as after a sync merged both): the earliest is due and both are named."""
    customer = add(empty_vault, "华夏物流", stage="intent")
    visit = actions.LogEntry(note="约好上门", at=NOW - timedelta(days=2), by="李娜", next="2026-03-08 上门访谈")
    customer = actions.log_followup(empty_vault, customer, visit, now=NOW)
    call = actions.LogEntry(note="电话确认", at=NOW - timedelta(days=1), by="张伟", next="2026-03-09 上门")
    customer = actions.log_followup(empty_vault, customer, call, now=NOW)
    assert customer.next_followup == date(2026, 3, 9)  # the front-matter only knows the latest plan
    assert [(s.day, s.what, s.by) for s in open_next_steps(customer)] == [
        (date(2026, 3, 8), "上门访谈", "李娜"), (date(2026, 3, 9), "上门", "张伟")]
    info = next_due(customer, empty_vault.config, date(2026, 3, 8))
    assert info and info.due == date(2026, 3, 8) and info.rule == "next-step"
    assert "上门访谈" in info.reason and "2026-03-09: 上门" in info.reason


def test_a_step_closes_when_its_author_replans_or_someone_is_in_touch_on_its_day(empty_vault: Vault) -> None:
    customer = add(empty_vault, "长城电子", stage="intent")

    def logged(days_ago: int, by: str, next_step: str = "") -> None:
        nonlocal customer
        entry = actions.LogEntry(note="沟通", at=NOW - timedelta(days=days_ago), by=by, next=next_step)
        customer = actions.log_followup(empty_vault, customer, entry, now=NOW)

    logged(9, "李娜", "2026-03-05 发报价")
    logged(8, "李娜", "2026-03-06 改为周五发报价")  # re-planned by its author: the first plan is gone
    logged(7, "张伟", "2026-03-04 演示")
    logged(6, "王芳")  # a note without a plan, before the days planned: nothing closes
    assert [s.what for s in open_next_steps(customer)] == ["演示", "改为周五发报价"]
    logged(-2, "王芳")  # anyone in touch on 03-04: the demo is done
    assert [s.what for s in open_next_steps(customer)] == ["改为周五发报价"]


def test_authorless_steps_are_replanned_by_authorless_entries(empty_vault: Vault) -> None:
    path = empty_vault.customers_dir / "w" / "wuming.md"
    path.parent.mkdir(parents=True)
    path.write_text("---\nid: c-20260101-wuming01\nname: 无名公司\nstage: intent\ncreated: 2026-01-01\n---\n\n"
                    "## 2026-02-01 10:00 · 电话\n初次沟通。\nnext: 2026-03-10 寄样品\n\n"
                    "## 2026-02-02 10:00 · 电话 · 李娜\n补充。\nnext: 2026-03-12 回访\n\n"
                    "## 2026-02-03 10:00 · 电话\n改期。\nnext: 2026-03-11 寄样品（改期）\n", encoding="utf-8")
    steps = open_next_steps(empty_vault.read(path))
    assert [s.what for s in steps] == ["寄样品（改期）", "回访"]


def test_the_timeline_answers_every_day_like_the_rules(example_vault: Vault) -> None:
    config = example_vault.config
    customers = example_vault.scan().customers
    start = date.today() - timedelta(days=400)
    for customer in customers:
        found = timeline(customer, config)
        for offset in range(0, 900, 7):
            day = start + timedelta(days=offset)
            assert found.at(day) == answer(customer, config, day), (customer.name, day)
        assert len(found.steps) <= 4  # a few steps, whatever the number of days


def test_renewal_date_falls_due_a_notice_period_before(empty_vault: Vault) -> None:
    path = empty_vault.customers_dir / "x" / "xufei.md"
    path.parent.mkdir(parents=True)
    path.write_text("---\nid: c-20250101-xufei001\nname: 续费客户\nstage: lost\ncreated: 2025-01-01\n"
                    "renewal_date: 2026-04-30\n---\n", encoding="utf-8")
    customer = empty_vault.read(path)
    assert next_due(customer, empty_vault.config, date(2026, 3, 1)) == \
        DueInfo(customer, date(2026, 3, 31), "contract renews on 2026-04-30", "renewal")
    assert next_due(customer, empty_vault.config, date(2026, 5, 1)) is None  # the date has passed
    assert timeline(customer, empty_vault.config).at(date(2026, 5, 1)).due is None


RENEWING = "---\nid: c-20250101-xufei002\nname: 续约科技\nstage: lost\ncreated: 2025-01-01\n{renewal}---\n"


def _faces_due(vault: Vault, day: date) -> dict[str, bool]:
    """Is 续约科技 due on ``day`` in ``crm due``, ``due --json``, ``ls --json`` (real processes)
    and the TUI's due filter?"""
    import asyncio

    from .conftest import run_process
    from .test_tui import settle, table

    def crm(*args: str) -> str:
        done = run_process("--vault", str(vault.root), *args, cwd=vault.root)
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = {c["name"]: c for c in json.loads(crm("ls", "--json"))}
    seen = {"crm due": "续约科技" in crm("due", "--on", day.isoformat()),
            "due --json": "续约科技" in {i["name"] for i in json.loads(crm("due", "--json", "--on", day.isoformat()))},
            "ls --json": listed["续约科技"]["due"] is not None and listed["续约科技"]["due"] <= day.isoformat()}

    async def tui() -> None:
        app = make_app(vault, today=day, now=datetime.combine(day, datetime.min.time()), user="张伟", poll_seconds=None)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("d")  # due on or before today
            await settle(app, pilot)
            seen["TUI due filter"] = "续约科技" in {r.name for r in table(app).all_rows}

    asyncio.run(tui())
    return seen


def test_a_rule_of_due_py_reaches_every_face_together(empty_vault: Vault) -> None:
    """``renewal`` lives in due.py alone (registered with ``due_rule``); every face lists through
    ``catalog`` and its timeline, so they all change together."""
    path = empty_vault.customers_dir / "x" / "xuyue.md"
    path.parent.mkdir(parents=True)
    today = date.today()
    path.write_text(RENEWING.format(renewal=""), encoding="utf-8")
    assert _faces_due(empty_vault, today) == dict.fromkeys(["crm due", "due --json", "ls --json", "TUI due filter"],
                                                           False)
    renews = today + timedelta(days=10)
    path.write_text(RENEWING.format(renewal=f"renewal_date: {renews.isoformat()}\n"), encoding="utf-8")
    assert _faces_due(empty_vault, today) == dict.fromkeys(["crm due", "due --json", "ls --json", "TUI due filter"],
                                                           True)
    assert "renewal" in {registered.name for registered in RULES}


def test_both_clones_next_steps_stay_due_after_sync(tmp_path: Path) -> None:
    """A and B each plan a visit on the same customer before syncing: after ``crm sync`` the
    front-matter holds one next_followup, yet both visits are still due, in both clones."""
    from .test_sync import XC, clone, git, set_identity

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(remote))
    Crm(tmp_path)("init", str(tmp_path / "a"), "--example")
    set_identity(tmp_path / "a", "李娜")
    git(tmp_path / "a", "remote", "add", "origin", str(remote))
    a = Crm(tmp_path / "a")
    a("sync")
    b = clone(remote, tmp_path / "b", "张伟")
    visit, call = date.today() + timedelta(days=6), date.today() + timedelta(days=7)
    a("log", XC, "--note", "约好上门", "--by", "李娜", "--next", f"{visit.isoformat()} 上门访谈")
    b("log", XC, "--note", "电话沟通", "--by", "张伟", "--next", f"{call.isoformat()} 上门")
    a("sync")
    b("sync")  # merges A's entry into B's file
    a("sync")
    for clone_ in (a, b):
        assert clone_("show", XC, "--json").json()["next_followup"] in (visit.isoformat(), call.isoformat())
        due = {i["name"]: i for i in clone_("due", "--json", "--on", visit.isoformat()).json()}
        assert due[XC]["due"] == visit.isoformat() and due[XC]["rule"] == "next-step"
        assert "上门访谈" in due[XC]["reason"] and f"{call.isoformat()}: 上门" in due[XC]["reason"]
        listed = {c["name"]: c for c in clone_("ls", "--json").json()}
        assert listed[XC]["due"] == visit.isoformat()
        assert "上门访谈" in clone_("due", "--on", visit.isoformat()).stdout
