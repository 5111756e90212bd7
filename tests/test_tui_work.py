"""The TUI's deal and ticket forms, pipeline board, reports, history, sync
(against a real bare remote), side pane, ranked search and due wrapping,
driven through Pilot on real vaults.  Writes are compared byte for byte
with what the real ``crm`` command writes on a twin vault."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from textual.widgets import Button

from crmnotes import actions
from crmnotes.sync.repo import init_repo
from crmnotes.sync.sync import sync as run_sync
from crmnotes.tui.app import CrmApp, make_app
from crmnotes.tui.screens.detail import DetailScreen
from crmnotes.tui.screens.due import DueScreen
from crmnotes.tui.screens.history import HistoryScreen
from crmnotes.tui.screens.pipeline import PipelineScreen
from crmnotes.tui.screens.records import DealForm, TicketForm
from crmnotes.tui.screens.reports import ZERO_WIDTH, ReportsScreen
from crmnotes.vault import Vault

from .conftest import Crm
from .test_tui import DAY, NOW, XINGCHEN, app_for, screen_text, search_for, settle, sync, type_text

FormT = TypeVar("FormT", DealForm, TicketForm)

HUADONG = "customers/h/huadongjingmizhizao-2k8d.md"


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))


@pytest.fixture
def twin(tmp_path: Path) -> Vault:
    """A second copy of the same vault, for the CLI to write what the TUI writes."""
    return Vault(actions.create_vault(tmp_path / "twin", example=True, today=DAY))


async def select(app: CrmApp, pilot, rel: str) -> None:  # type: ignore[no-untyped-def]
    """Move the table's cursor to the customer in ``rel`` with the keys."""
    await settle(app, pilot)
    paths = [r.path for r in app.main.table.all_rows]
    await pilot.press("g", *["down"] * paths.index(rel))
    assert app.main.table.current_row is not None and app.main.table.current_row.path == rel


async def press_on_xingchen(app: CrmApp, pilot, *keys: str) -> None:  # type: ignore[no-untyped-def]
    """Select 星辰科技 in the table and press ``keys`` on it (enter: its detail; l, e, n, D, t: its forms)."""
    await select(app, pilot, XINGCHEN)
    await pilot.press(*keys)


async def open_form(app: CrmApp, pilot, key: str, kind: type[FormT]) -> FormT:  # type: ignore[no-untyped-def]
    """Select 星辰科技 and open its deal (``D``) or ticket (``t``) form."""
    await press_on_xingchen(app, pilot, key)
    await pilot.pause()
    form = app.screen
    assert isinstance(form, kind)
    return form


async def until(pilot, done, tries: int = 400) -> None:  # type: ignore[no-untyped-def]
    """Pause until ``done()`` (bounded; the assertion after it says what failed)."""
    for _ in range(tries):
        if done():
            return
        await pilot.pause(0.05)


def messages(app: CrmApp) -> str:
    return "\n".join(f"{n.title}: {n.message}" for n in app._notifications)


# ------------------------------------------------------------------ deals


@sync
async def test_new_deal_form_writes_what_crm_deal_add_writes(vault: Vault, twin: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot, "D", DealForm)
        await type_text(pilot, "数据安全平台二期")
        form.query_one("#f-stage").value = "needs-confirmed"  # type: ignore[attr-defined]
        form.query_one("#f-amount").value = "26万"  # type: ignore[attr-defined]
        form.query_one("#f-close").value = "2026-06-30"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is app.main
    Crm(twin.root)("deal", "add", "星辰", "数据安全平台二期", "--stage", "需求确认", "--amount", "26万",
                   "--close", "2026-06-30")
    assert (vault.root / XINGCHEN).read_bytes() == (twin.root / XINGCHEN).read_bytes()
    added = vault.read(vault.root / XINGCHEN).deals[-1]
    assert (added["amount"], added["probability"], added["currency"]) == (260000, 30, "CNY")


@sync
async def test_deal_update_passes_only_changed_fields_like_crm_deal_set(vault: Vault, twin: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot, "D", DealForm)
        form.query_one("#f-record").value = "1"  # type: ignore[attr-defined]
        await pilot.pause()
        assert form.query_one("#f-name").value == "数据安全平台一期"  # type: ignore[attr-defined]
        assert form.query_one("#f-amount").value == "180000"  # type: ignore[attr-defined]
        form.query_one("#f-amount").value = "200000"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is app.main
        Crm(twin.root)("deal", "set", "星辰", "1", "--amount", "200000")
        assert (vault.root / XINGCHEN).read_bytes() == (twin.root / XINGCHEN).read_bytes()

        # A stage move without a probability takes the stage's default and is logged, as on the CLI.
        await pilot.press("D")
        await pilot.pause()
        form = app.screen
        form.query_one("#f-record").value = "1"  # type: ignore[attr-defined]
        await pilot.pause()
        form.query_one("#f-stage").value = "negotiation"  # type: ignore[attr-defined]
        form.query_one("#f-proposal").value = "https://pan.example.com/方案.pdf"  # type: ignore[attr-defined]
        form.query_one("#f-note").value = "陈总同意进入商务谈判"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    customer = vault.read(vault.root / XINGCHEN)
    moved = customer.deals[0]
    assert (moved["stage"], moved["probability"], moved["amount"]) == ("negotiation", 75, 200000)
    logged = max(customer.followups, key=lambda f: f.at)
    assert (logged.at, logged.by) == (NOW, "张伟")
    assert "方案报价 → 商务谈判" in logged.note and "陈总同意进入商务谈判" in logged.note


@sync
async def test_invalid_deal_shows_messages_by_the_fields_and_writes_nothing(vault: Vault) -> None:
    before = (vault.root / XINGCHEN).read_bytes()
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot, "D", DealForm)
        form.query_one("#f-amount").value = "很多"  # type: ignore[attr-defined]
        form.query_one("#f-probability").value = "150"  # type: ignore[attr-defined]
        form.query_one("#f-close").value = "下个月"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        for name, words in (("name", "needs a name"), ("amount", "not an amount"),
                            ("probability", "not a probability"), ("close", "not a date")):
            error = form.query_one(f"#err-{name}")
            assert error.has_class("-shown") and words in str(error.render()), name
    assert (vault.root / XINGCHEN).read_bytes() == before


# ------------------------------------------------------------------ tickets


@sync
async def test_ticket_open_update_close_write_what_crm_ticket_writes(vault: Vault, twin: Vault) -> None:
    today = date.today()  # `crm ticket` stamps opened/closed with the real day; so does this app
    app = make_app(vault, today=today, now=NOW, user="张伟", poll_seconds=None)
    cli = Crm(twin.root)
    path = vault.root / XINGCHEN
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot, "t", TicketForm)
        assert form.query_one("#f-status").disabled  # `crm ticket open` takes no status
        await type_text(pilot, "报价单金额有误")
        form.query_one("#f-type").value = "complaint"  # type: ignore[attr-defined]
        form.query_one("#f-priority").value = "high"  # type: ignore[attr-defined]
        form.query_one("#f-due").value = "2030-01-10"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        cli("ticket", "open", "星辰", "报价单金额有误", "--type", "投诉", "--priority", "high", "--due", "2030-01-10")
        assert path.read_bytes() == (twin.root / XINGCHEN).read_bytes()

        await pilot.press("t")
        await pilot.pause()
        form = app.screen
        form.query_one("#f-record").value = "T1"  # type: ignore[attr-defined]
        await pilot.pause()
        assert form.query_one("#f-subject").value == "报价单金额有误"  # type: ignore[attr-defined]
        form.query_one("#f-status").value = "in-progress"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        cli("ticket", "update", "星辰", "T1", "--status", "in-progress")
        assert path.read_bytes() == (twin.root / XINGCHEN).read_bytes()

        await pilot.press("t")
        await pilot.pause()
        form = app.screen
        form.query_one("#f-record").value = "T1"  # type: ignore[attr-defined]
        await pilot.pause()
        form.query_one("#f-resolution").value = "重新出具报价单"  # type: ignore[attr-defined]
        form.query_one("#f-satisfaction").value = "9"  # type: ignore[attr-defined]
        await pilot.click("#close-ticket")
        await pilot.pause()
        assert app.screen is form and form.query_one("#err-satisfaction").has_class("-shown")
        assert path.read_bytes() == (twin.root / XINGCHEN).read_bytes()  # refused: nothing written
        form.query_one("#f-satisfaction").value = "5"  # type: ignore[attr-defined]
        await pilot.pause()
        form.query_one("#close-ticket", Button).press()  # the error lines pushed the button below the 24 rows
        await pilot.pause()
        await settle(app, pilot)
        assert app.screen is app.main
    cli("ticket", "close", "星辰", "T1", "-r", "重新出具报价单", "-s", "5")
    assert path.read_bytes() == (twin.root / XINGCHEN).read_bytes()
    closed = vault.read(path).tickets[0]
    assert (closed["status"], closed["satisfaction"], closed["closed"]) == ("closed", 5, today)


# ------------------------------------------------------------------ views


@sync
async def test_pipeline_board_totals_forecast_and_deal_edit(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        board = app.screen
        assert isinstance(board, PipelineScreen)
        text = screen_text(app)
        for label in ("初步接触", "方案报价", "商务谈判", "赢单", "输单"):
            assert label in text
        # 180000 CNY at 50% and 36000 USD at 75% are open; 420000 CNY is won: currencies never mix
        assert "open CNY 180,000 · USD 36,000" in text
        assert "weighted forecast CNY 90,000 · USD 27,000" in text and "won CNY 420,000" in text
        assert "≈90,000" in text and "≈27,000" in text
        titles = {c.title.split(" · ")[0] for c in app.get_system_commands(board)}  # English part of the title
        assert {"Sync", "Pipeline board", "Reports", "Deal: add or update", "Ticket: open, update or close",
                "History"} <= titles
        # the board opens on the first column with a card: 方案报价
        assert board.current_path() == vault.root / XINGCHEN and board.current_record() == "1"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen) and app.screen.path == vault.root / XINGCHEN
        assert sum(isinstance(s, DetailScreen) for s in app.screen_stack) == 1
        await pilot.press("escape")
        assert app.screen is board
        await pilot.press("D")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DealForm) and form.query_one("#f-name").value == "数据安全平台一期"  # type: ignore[attr-defined]
        form.query_one("#f-stage").value = "won"  # type: ignore[attr-defined]
        form.query_one("#f-proposal").value = "https://pan.example.com/方案.pdf"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is board
        text = screen_text(app)
        assert "open USD 36,000" in text and "won CNY 600,000" in text
        await pilot.press("escape")
    customer = vault.read(vault.root / XINGCHEN)
    assert customer.deals[0]["stage"] == "won" and customer.stage == "won"  # a won deal wins the customer


@sync
async def test_reports_screen_draws_funnel_sources_and_activity(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        customers = vault.scan().customers
        text = screen_text(app).replace(ZERO_WIDTH, "")  # CJK chart labels are padded for plotext
        assert f"阶段漏斗 (客户数 {len(customers)})" in text  # the vault's language
        assert "■ 曾到达" in text and "意向 2" in text
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app).replace(ZERO_WIDTH, "")
        assert "转介绍┤" in text and "转介绍 2 赢单 1 (50%)" in text
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app).replace(ZERO_WIDTH, "")
        start = DAY - timedelta(weeks=12)
        expected = sum(1 for c in customers for f in c.followups if start <= f.at.date() <= DAY)
        assert "每周跟进（按渠道）" in text and expected > 0
        assert f"合计 {expected}" in text


@sync
async def test_history_key_shows_git_history_with_masked_phones(vault: Vault) -> None:
    init_repo(vault.root)
    Crm(vault.root)("set", "星辰", "phone=13900139000")
    Crm(vault.root)("log", "星辰", "--note", "确认新号码", "--at", "2026-03-01 10:00", "--by", "张伟")
    run_sync(vault.root, "新号码")
    app = app_for(vault)
    async with app.run_test(size=(100, 30)) as pilot:
        await press_on_xingchen(app, pilot, "enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.changes is not None)
        screen = app.screen
        assert isinstance(screen, HistoryScreen) and screen.changes is not None and len(screen.changes) == 2
        text = screen_text(app)
        assert "新号码" in text and "+ 2026-03-01 10:00 phone 张伟: 确认新号码" in text
        assert "phone: 138****8000 → 139****9000" in text and "13900139000" not in text
        await pilot.press("p")
        await until(pilot, lambda: "+8613900139000" in screen_text(app))
        assert "phone: +8613800138000 → +8613900139000" in screen_text(app)


@sync
async def test_wide_terminal_shows_the_detail_beside_the_table(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(160, 30)) as pilot:
        await select(app, pilot, XINGCHEN)
        await pilot.pause()
        side = app.main.side
        assert side.display and side.customer is not None and side.customer.name == "星辰科技有限公司"
        assert "王经理" in screen_text(app)
        await pilot.press("up")
        await pilot.pause()
        assert side.customer is not None and side.customer.path != vault.root / XINGCHEN
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.screen is app.main and app.focused is side  # no separate screen when it fits
        await pilot.press("escape")
        assert app.focused is app.main.table
    narrow = app_for(vault)
    async with narrow.run_test(size=(80, 24)) as pilot:
        await settle(narrow, pilot)
        assert not narrow.main.side.display


@sync
async def test_search_results_come_best_match_first(vault: Vault) -> None:
    # "Aaa" sorts first by name but mentions 等保 once; "Zzz" mentions it often.
    for name, times in (("Aaa 测试公司", 1), ("Zzz 测试公司", 6)):
        draft = actions.NewCustomer(name=name, industry="internet", contact="测试", phone="13700137000")
        customer = actions.add_customer(vault, draft, force=True, now=NOW)
        actions.log_followup(vault, customer, actions.LogEntry(note=" ".join(["等保 测评"] * times), by="张伟"),
                             now=NOW)
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        by_name = [r.name for r in app.main.table.all_rows if r.name.endswith("测试公司")]
        assert by_name == ["Aaa 测试公司", "Zzz 测试公司"]
        await search_for(app, pilot, "等保")
        shown = [r.name for r in app.main.table.all_rows]
        assert shown.index("Zzz 测试公司") < shown.index("Aaa 测试公司")
        assert "by rank" in screen_text(app)


@sync
async def test_due_reasons_wrap_instead_of_being_cut(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        assert isinstance(app.screen, DueScreen)
        text = screen_text(app)
        flat = "".join(text.split())
        for item in actions.due_customers(vault, DAY):
            assert "".join(item.reason.split()) in flat, item.reason
        assert all(len(line) <= 80 for line in text.splitlines())


# ------------------------------------------------------------------ sync


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture
def shared(vault: Vault, tmp_path: Path) -> tuple[Vault, Path, Crm]:
    """The vault pushed to a bare remote, and bob's clone of it."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(remote))
    init_repo(vault.root)
    git(vault.root, "remote", "add", "origin", str(remote))
    assert run_sync(vault.root).pushed
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(tmp_path / "bob"))
    for key, value in (("user.name", "bob"), ("user.email", "bob@example.com")):
        git(tmp_path / "bob", "config", key, value)
    return vault, remote, Crm(tmp_path / "bob")


@sync
async def test_sync_key_merges_and_pushes_then_reports_failure(shared: tuple[Vault, Path, Crm]) -> None:
    vault, remote, bob = shared
    bob("log", "星辰", "--note", "bob 微信发送合同", "--at", "2026-03-01 16:30", "--by", "bob")
    bob("sync")
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on_xingchen(app, pilot, "l")
        await pilot.pause()
        await type_text(pilot, "alice 电话确认报价")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("S")
        await until(pilot, lambda: "Synced" in messages(app))
        assert "Synced" in messages(app) and "pushed to origin/main" in messages(app)
        assert "merged 1 commit(s) from origin/main" in messages(app)
        assert app.sync_steps == ["starting", "committing local changes", "fetching from origin",
                                  "merging origin/main", "pushing to origin"]  # each step was on the status line
        assert "sync:" not in screen_text(app)  # and is gone once done
        notes = [f.note for f in vault.read(vault.root / XINGCHEN).followups]
        assert "bob 微信发送合同" in notes and "alice 电话确认报价" in notes
        assert "alice 电话确认报价" in git(remote, "show", "main:" + XINGCHEN)

        remote.rename(remote.with_name("gone.git"))  # the remote disappears: a message, not a crash
        await pilot.press("S")
        await until(pilot, lambda: "Sync failed" in messages(app))
        assert "Sync failed" in messages(app) and "cannot reach the remote" in messages(app)
        assert app.is_running and app.screen is app.main and not app.syncing


@sync
async def test_auto_sync_pulls_on_the_configured_period(shared: tuple[Vault, Path, Crm]) -> None:
    vault, _remote, bob = shared
    config = vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("auto_sync_minutes: 0 ", "auto_sync_minutes: 0.005 "),
                      encoding="utf-8")
    vault = Vault(vault.root)  # read the new setting
    bob("log", "星辰", "--note", "bob 自动同步测试", "--at", "2026-03-01 17:00", "--by", "bob")
    bob("sync")
    app = app_for(vault)
    path = vault.root / XINGCHEN
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await until(pilot, lambda: "bob 自动同步测试" in path.read_text(encoding="utf-8"))
        assert "bob 自动同步测试" in path.read_text(encoding="utf-8")
        await until(pilot, lambda: not app.syncing)
    git(bob.root, "fetch", "-q")
    assert "auto_sync_minutes: 0.005" in git(bob.root, "show", "origin/main:crmnotes.yaml")  # pushed too


@sync
async def test_bad_auto_sync_setting_is_a_message_not_a_crash(vault: Vault) -> None:
    config = vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("auto_sync_minutes: 0 ", "auto_sync_minutes: 每天 "),
                      encoding="utf-8")
    app = app_for(Vault(vault.root))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "Auto-sync is off" in messages(app) and "auto_sync_minutes" in messages(app)
        assert app.is_running and not app.syncing and len(app.main.table.all_rows) == len(vault.scan().customers)
