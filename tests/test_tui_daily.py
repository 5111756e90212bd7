"""The TUI in daily use (Pilot, real vaults): keys typed in a burst, forms that
are ready for the first key, dropdowns, deal probabilities, notes, the order
of follow-ups, the palette in Chinese, Home/End, empty states, 80 columns."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Select

from crmnotes import actions
from crmnotes.tui.app import CrmApp
from crmnotes.tui.screens.forms import AddCustomerForm, EditFieldsForm, FormScreen, LogForm
from crmnotes.vault import Vault

from .test_tui import DAY, XINGCHEN, app_for, screen_text, settle, sync
from .test_tui_work import press_on_xingchen, select, until


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(actions.create_vault(tmp_path / "vault", example=True, today=DAY))


def burst(app: CrmApp, *keys: str) -> None:
    """Keys sent as a terminal sends a paste or a fast typist's keys: all queued at once,
    none waiting for the one before it to be handled (``pilot.press`` waits after each)."""
    for key in keys:
        char = " " if key == "space" else key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)  # type: ignore[union-attr]


def typed(text: str) -> list[str]:
    return ["space" if ch == " " else ch for ch in text]


async def form_ready(app: CrmApp, pilot) -> FormScreen:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.keys_before_ready is None)
    await pilot.pause()
    assert isinstance(app.screen, FormScreen)
    return app.screen


# ------------------------------------------------------------------ 5, 6: keys land in the field they were typed for


@sync
async def test_a_burst_of_keys_opening_the_add_form_lands_field_by_field(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        burst(app, "a", *typed("Foo Corp"), "tab", *typed("internet"), "tab", *typed("鲍勃"), "tab",
              *typed("13900001111"))
        form = await form_ready(app, pilot)
        assert isinstance(form, AddCustomerForm)
        await until(pilot, lambda: form.value("phone") == "13900001111")
        assert [form.value(n) for n in ("name", "industry", "contact", "phone")] == [
            "Foo Corp", "internet", "鲍勃", "13900001111"]


@sync
async def test_a_burst_in_an_open_form_moves_field_by_field(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        form = await form_ready(app, pilot)
        burst(app, *typed("苏州蓝海"), "tab", *typed("软件"), "tab", *typed("赵敏"), "tab", *typed("13712345670"))
        await until(pilot, lambda: form.value("phone") == "13712345670")
        assert [form.value(n) for n in ("name", "industry", "contact", "phone")] == [
            "苏州蓝海", "软件", "赵敏", "13712345670"]


@sync
async def test_edit_form_takes_the_first_key_and_labels_stand_apart(vault: Vault) -> None:
    actions.set_fields(vault, vault.read(vault.root / XINGCHEN), {"next_followup": "2026-12-08"})
    app = app_for(vault)
    async with app.run_test(size=(120, 35)) as pilot:
        await select(app, pilot, XINGCHEN)
        burst(app, "e", *typed("新"))
        form = await form_ready(app, pilot)
        assert isinstance(form, EditFieldsForm)
        first = form.query_one("#f-name")
        assert app.focused is first
        await until(pilot, lambda: form.value("name") == "星辰科技有限公司新")
        await pilot.pause()
        await pilot.press("2")  # typed once the field has focus: added, not replacing a selected value
        assert form.value("name") == "星辰科技有限公司新2"
        text = screen_text(app)
        assert "next_followup 2026-12-08" in " ".join(text.split()) and "next_followup2026" not in text


@sync
async def test_log_form_takes_dates_written_with_slashes(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on_xingchen(app, pilot, "l")
        form = await form_ready(app, pilot)
        assert isinstance(form, LogForm) and app.focused is form.query_one("#f-note")
        form.query_one("#f-at").value = "2026/03/02 10:15"  # type: ignore[attr-defined]
        form.query_one("#f-next").value = "2026/03/05 发送合同"  # type: ignore[attr-defined]
        burst(app, *typed("电话确认报价"))
        await until(pilot, lambda: form.value("note") == "电话确认报价")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is app.main)
    customer = vault.read(vault.root / XINGCHEN)
    assert customer.text("next_followup") == "2026-03-05"
    latest = customer.followups[-1]
    assert (latest.note, latest.next_what, latest.at.isoformat()) == ("电话确认报价", "发送合同", "2026-03-02T10:15:00")


# ------------------------------------------------------------------ 7: dropdown rows keep their Chinese characters


def broken_options(app: CrmApp, select: Select[str]) -> list[str]:
    """Options of ``select`` whose id shows on screen without their whole label beside it."""
    text = screen_text(app)
    return [str(prompt) for prompt, _ in select._options  # type: ignore[attr-defined]
            if "(" in str(prompt) and str(prompt)[str(prompt).index("("):] in text and str(prompt) not in text]


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 35)])
@sync
async def test_open_dropdowns_show_whole_chinese_labels(vault: Vault, size: tuple[int, int]) -> None:
    app = app_for(vault)
    async with app.run_test(size=size) as pilot:
        await select(app, pilot, XINGCHEN)
        for key in ("a", "e"):
            await pilot.press(key)
            form = await form_ready(app, pilot)
            for dropdown in list(form.query(Select)):
                dropdown.focus()
                await pilot.pause()
                await pilot.press("enter")
                await until(pilot, lambda d=dropdown: d.expanded)
                await pilot.pause()
                assert broken_options(app, dropdown) == [], dropdown.id
                assert not form.query_one(".buttons").visible  # no button edge cuts through the rows
                await pilot.press("escape")
                await until(pilot, lambda d=dropdown: not d.expanded)
                await pilot.pause()
                assert form.query_one(".buttons").visible
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.main)


# ------------------------------------------------------------------ 8: the deal form shows what it will save


@sync
async def test_deal_form_shows_the_probability_a_stage_move_will_save(vault: Vault) -> None:
    from crmnotes.tui.screens.records import DealForm

    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on_xingchen(app, pilot, "D")
        form = await form_ready(app, pilot)
        assert isinstance(form, DealForm)
        form.query_one("#f-record", Select).value = "1"
        await until(pilot, lambda: form.value("probability") == "50")
        probability = form.query_one("#f-probability")
        form.query_one("#f-stage", Select).value = "negotiation"  # 商务谈判: default 75
        await until(pilot, lambda: form.value("probability") == "75")
        form.query_one("#f-stage", Select).value = "proposal"  # back: the deal's own 50 again
        await until(pilot, lambda: form.value("probability") == "50")
        form.query_one("#f-stage", Select).value = "negotiation"
        await until(pilot, lambda: form.value("probability") == "75")
        assert probability.value == "75" and "75" in screen_text(app)  # type: ignore[attr-defined]
        form.query_one("#f-proposal").value = "https://example.com/数据安全方案.pdf"  # 商务谈判 needs one (deal_rules)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is app.main)
        assert vault.read(vault.root / XINGCHEN).deals[0]["probability"] == 75

        await pilot.press("D")  # a probability typed by hand stays through a stage move
        form = await form_ready(app, pilot)
        form.query_one("#f-record", Select).value = "1"
        await until(pilot, lambda: form.value("probability") == "75")
        form.query_one("#f-probability").value = "60"  # type: ignore[attr-defined]
        form.query_one("#f-stage", Select).value = "won"
        await pilot.pause()
        await pilot.pause()
        assert form.value("probability") == "60"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is app.main)
    deal = vault.read(vault.root / XINGCHEN).deals[0]
    assert (deal["stage"], deal["probability"]) == ("won", 60)


# ------------------------------------------------------------------ 10, 18: notes near the top, editable


def line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if line.strip().startswith(start))


@sync
async def test_detail_shows_notes_above_records_and_follow_ups(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(120, 60)) as pilot:
        await press_on_xingchen(app, pilot, "enter")
        await until(pilot, lambda: "北京的 SaaS 公司" in screen_text(app))
        text = screen_text(app)
        order = [line_of(text, start) for start in ("备注", "北京的 SaaS 公司", "商机", "跟进记录")]
        assert order == sorted(order)
        assert "跟进记录 (3, 最新在前)" in text
        dates = [line.strip()[:16] for line in text.splitlines() if line.strip()[:4].isdigit() and "  " in line]
        assert dates == sorted(dates, reverse=True) and len(dates) == 3


@sync
async def test_follow_up_order_comes_from_the_vault_config(vault: Vault) -> None:
    config = vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("followups: newest-first", "followups: oldest-first"),
                      encoding="utf-8")
    app = app_for(Vault(vault.root))
    async with app.run_test(size=(120, 60)) as pilot:
        await press_on_xingchen(app, pilot, "enter")
        await until(pilot, lambda: "跟进记录 (3, 最早在前)" in screen_text(app))
        text = screen_text(app)
        dates = [line.strip()[:16] for line in text.splitlines() if line.strip()[:4].isdigit() and "  " in line]
        assert dates == sorted(dates) and len(dates) == 3


@sync
async def test_notes_form_rewrites_only_the_notes(vault: Vault) -> None:
    from crmnotes.tui.screens.forms import NotesForm

    path = vault.root / XINGCHEN
    before = path.read_text(encoding="utf-8")
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on_xingchen(app, pilot, "n")
        form = await form_ready(app, pilot)
        assert isinstance(form, NotesForm) and app.focused is form.query_one("#f-notes")
        assert form.value("notes").startswith("北京的 SaaS 公司")
        form.query_one("#f-notes").text = "客户偏好电话沟通，对响应时间敏感。"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is app.main)
    after = path.read_text(encoding="utf-8")
    old_notes = before[before.index("北京的 SaaS"):before.index("## 跟进记录")]
    assert after == before.replace(old_notes, "客户偏好电话沟通，对响应时间敏感。\n\n")


@sync
async def test_editor_key_opens_the_file_and_comes_back_to_the_same_customer(vault: Vault, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\ntext = p.read_text(encoding='utf-8')\n"
                      "p.write_text(text.replace('约 300 人', '约 350 人'), encoding='utf-8')\n", encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    app = app_for(vault)
    async with app.run_test(size=(140, 40)) as pilot:
        await press_on_xingchen(app, pilot, "E")
        await until(pilot, lambda: "约 350 人" in screen_text(app))
        await settle(app, pilot)
        assert app.main.table.current_row is not None and app.main.table.current_row.path == XINGCHEN
    assert "约 350 人" in (vault.root / XINGCHEN).read_text(encoding="utf-8")


# ------------------------------------------------------------------ 20: palette in Chinese, Home/End, empty states


@sync
async def test_palette_understands_chinese_and_lists_each_command_once(vault: Vault) -> None:
    from textual.command import CommandList, CommandPalette

    app = app_for(vault)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert len(titles) == len(set(titles)) and "Keys" not in titles
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press("跟", "进")
        results = app.screen.query_one(CommandList)
        await until(pilot, lambda: results.option_count > 0)
        await pilot.pause(0.3)
        first = str(results.get_option_at_index(0).prompt)
        assert "Log a follow-up" in first


@sync
async def test_home_and_end_jump_to_the_first_and_last_row(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.main.table
        await pilot.press("end")
        assert table.current_row is not None and table.current_row.path == table.all_rows[-1].path
        await pilot.press("home")
        assert table.current_row is not None and table.current_row.path == table.all_rows[0].path
        await pilot.press("slash", *typed("Acme"), "home")  # in the search box Home is the text's start
        assert app.focused is app.main.query_one("#search") and app.focused.cursor_position == 0  # type: ignore[union-attr]


@sync
async def test_empty_states_say_what_to_do(empty_vault: Vault) -> None:
    app = app_for(empty_vault)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(app, pilot)
        assert "press a to add a customer" in screen_text(app)
        await pilot.press("u")
        await until(pilot, lambda: "nobody is due today" in screen_text(app))


# ------------------------------------------------------------------ 15: the footer at 80 columns


@sync
async def test_footer_shows_help_and_quit_on_every_screen_at_80_columns(vault: Vault) -> None:
    app = app_for(vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await select(app, pilot, XINGCHEN)
        for key in ("", "enter", "u", "b", "r"):
            if key:
                await pilot.press(key)
                await pilot.pause(0.3)
            footer = screen_text(app).rstrip("\n").splitlines()[-1]
            assert "? Help" in footer and "q Quit" in footer, (key, footer)
            if key:
                await pilot.press("escape")
                await until(pilot, lambda: app.screen is app.main)
