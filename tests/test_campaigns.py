"""Campaigns under campaigns/: written losslessly, linked by customers' campaign:, evaluated against
figures worked out by hand on the manager's report vault."""

from __future__ import annotations

import pytest

from crmnotes import campaigns
from crmnotes.tui.app import make_app
from crmnotes.vault import Vault
from tests.conftest import Crm
from tests.test_reports_manager import UNTIL, vault  # noqa: F401  (the hand-computed vault)
from tests.test_tui import screen_text, settle, sync


@pytest.fixture
def linked(vault: Vault) -> Vault:  # noqa: F811
    crm = Crm(vault.root)
    crm("campaign", "add", "2026春季展会", "--id", "spring-expo", "--channel", "展会", "--start", "2026-01-03",
        "--end", "2026-01-05", "--budget", "6000", "--cost", "5000", "--goal-leads", "2", "--goal-won", "1",
        "--goal-revenue", "30万", "--owner", "张伟")
    crm("campaign", "add", "二季度信息流广告", "--id", "ad-q2", "--channel", "ad", "--start", "2026-04-01",
        "--budget", "9000", "--goal-leads", "10")
    crm("set", "丁公司", "campaign=spring-expo")  # 甲公司 names the campaign by its name
    crm("set", "丙公司", "campaign=ad-q2")
    crm("set", "戊公司", "campaign=ad-q2")
    return vault


def test_campaign_files_are_plain_markdown(linked: Vault) -> None:
    text = (linked.root / "campaigns" / "spring-expo.md").read_text(encoding="utf-8")
    assert text.startswith("---\nid: spring-expo\nname: 2026春季展会\nchannel: trade-show\nstart: 2026-01-03\n")
    assert "goal_revenue: 300000\nowner: 张伟\n---\n\n# 2026春季展会\n" in text


def test_report_against_hand_figures(linked: Vault) -> None:
    rows = {r["id"]: r for r in Crm(linked.root)("campaign", "report", "--json").json()}
    expo = rows["spring-expo"]  # leads 甲 (won 150000) and 丁 (won 30000); cost 5000
    assert (expo["leads"], expo["won"], expo["conversion"], expo["won_value"], expo["cost"]) == (2, 2, 100.0,
                                                                                               180000, 5000)
    assert (expo["cost_per_lead"], expo["cost_per_won"], expo["roi"]) == (2500, 2500, 3500.0)
    assert (expo["goal_leads"], expo["goal_won"], expo["goal_revenue"]) == (100.0, 200.0, 60.0)
    ads = rows["ad-q2"]  # leads 丙 (lost) and 戊; no cost recorded: the budget 9000 counts
    assert (ads["leads"], ads["won"], ads["cost"], ads["cost_per_lead"], ads["cost_per_won"], ads["roi"]) == (
        2, 0, 9000, 4500, None, -100.0)
    assert ads["goal_leads"] == 20.0 and ads["goal_won"] is None
    table = Crm(linked.root)("campaign", "report").stdout
    assert "3500%" in table and "-100%" in table


def test_set_changes_only_the_given_field(linked: Vault) -> None:
    path = linked.root / "campaigns" / "ad-q2.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n投放渠道：信息流。 # 手写备注\n", encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    Crm(linked.root)("campaign", "set", "二季度", "--cost", "8500")
    after = path.read_text(encoding="utf-8")
    assert after == before.replace("goal_leads: 10\n", "goal_leads: 10\ncost: 8500\n")  # a new key goes last
    assert campaigns.find(linked, "ad-q2").spent == 8500


def test_ls_show_and_refusals(linked: Vault) -> None:
    crm = Crm(linked.root)
    listed = crm("campaign", "ls").stdout
    assert "2026春季展会" in listed and "ad-q2" in listed and "展会" in listed  # names may be shortened
    shown = crm("campaign", "show", "spring-expo", "--json").json()
    assert sorted(c["name"] for c in shown["leads_list"]) == ["丁公司", "甲公司"]
    again = crm("campaign", "add", "重复", "--id", "spring-expo", ok=False)
    assert "already exists" in again.stderr
    bad = crm("campaign", "add", "坏的", "--channel", "地推", "--start", "2026-05-01", "--end", "2026-04-01", ok=False)
    assert "not a source" in bad.stderr and "Traceback" not in bad.stderr
    assert not (linked.root / "campaigns" / "huaide.md").exists()
    assert "no campaign matches" in crm("campaign", "show", "没有", ok=False).stderr


@sync
async def test_tui_campaigns_screen(linked: Vault) -> None:
    from crmnotes.tui.screens.campaigns import CampaignsScreen

    app = make_app(linked, today=UNTIL, user="张伟", poll_seconds=None)
    async with app.run_test(size=(110, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CampaignsScreen)
        text = screen_text(app)
        assert "2026春季展会" in text and "3500%" in text and "-100%" in text
        assert "spring-expo: 2 leads" in text and "甲公司 (成交)" in text
        await pilot.press("down")
        await pilot.pause()
        assert "ad-q2: 2 leads" in screen_text(app)
