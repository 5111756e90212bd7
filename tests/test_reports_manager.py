"""The manager's reports (churn-rate, cycle, conversion, trend, repeat, satisfaction, completeness,
acquisition) checked against a small vault whose every figure was worked out by hand (comments)."""

from __future__ import annotations

from datetime import date

import pytest

from crmnotes import reports
from crmnotes.cli.report import REPORT_NAMES
from crmnotes.tui.app import make_app
from crmnotes.vault import Vault
from tests.conftest import Crm
from tests.test_tui import screen_text, settle, sync

SINCE, UNTIL = date(2026, 1, 1), date(2026, 9, 30)

HEAD = "industry: internet\ncontact: 王经理\nphone: '+86138000000{n:02d}'\n"
FILES = {
    # won 03-06 after 30 days potential + 30 days intent; two won deals (55 and 30 days); two ratings
    "jia": """---
id: c-20260105-aaaaaaaa
name: 甲公司
{head}email: jia@example.com
grade: A
tags: [needs/data-security]
source: trade-show
campaign: 2026春季展会
stage: won
owner: 张伟
created: 2026-01-05T09:00
deals:
  - {{id: D1, name: 一期, stage: won, amount: 100000, currency: CNY, opened: 2026-01-10, won_on: 2026-03-06}}
  - {{id: D2, name: 二期, stage: won, amount: 50000, currency: CNY, opened: 2026-06-01, won_on: 2026-07-01}}
tickets:
  - {{id: T1, subject: 报表导出慢, type: fault, priority: normal, status: closed, opened: 2026-07-08,
     closed: 2026-07-10, satisfaction: 5}}
  - {{id: T2, subject: 权限咨询, type: question, priority: low, status: closed, opened: 2026-08-01,
     closed: 2026-08-05, satisfaction: 3}}
---

### 2026-02-04 10:00 · visit · 张伟
需求明确。
stage: potential -> intent

### 2026-03-06 10:00 · visit · 张伟
签约一期。
stage: intent -> won

### 2026-09-20 10:00 · phone · 张伟
回访使用情况。
""",
    # won 02-20 (10 days after creation), silent from 02-20 + 90 days = 05-21
    "yi": """---
id: c-20260210-bbbbbbbb
name: 乙公司
{head}grade: B
source: ad
stage: won
owner: 李娜
created: 2026-02-10T09:00
deals:
  - {{id: D1, name: 年度订阅, stage: won, amount: 80000, currency: CNY, close: 2026-02-20}}
tickets:
  - {{id: T1, subject: 发票, type: question, priority: normal, status: resolved, opened: 2026-05-01,
     closed: 2026-05-03, satisfaction: 4}}
---

### 2026-02-20 15:00 · phone · 李娜
直接签约。
stage: potential -> won
""",
    # never won: 10 days potential, 30 days intent, lost 04-10
    "bing": """---
id: c-20260301-cccccccc
name: 丙公司
{head}source: ad
stage: lost
owner: 李娜
created: 2026-03-01T09:00
tickets:
  - {{id: T1, subject: 投诉响应慢, type: complaint, priority: high, status: closed, opened: 2026-04-11,
     closed: 2026-04-12, satisfaction: 1}}
---

### 2026-03-11 10:00 · wechat · 李娜
发了资料。
stage: potential -> intent

### 2026-04-10 10:00 · phone · 李娜
选了别家。
stage: intent -> lost
""",
    # entered as won on 04-01 (deal closed that day: 0 days), lost 08-15 after 136 days as won
    "ding": """---
id: c-20260401-dddddddd
name: 丁公司
{head}source: referral
stage: lost
owner: 张伟
created: 2026-04-01T09:00
deals:
  - {{id: D1, name: 试点, stage: won, amount: 30000, currency: CNY, close: 2026-04-01}}
---

### 2026-08-15 10:00 · phone · 张伟
不再续约。
stage: won -> lost
""",
    # potential, never contacted: silent since 06-15 + 90 days = 09-13
    "wu": """---
id: c-20260615-eeeeeeee
name: 戊公司
{head}source: ad
stage: potential
owner: 张伟
created: 2026-06-15T09:00
---
""",
    # intent since 07-08 (7 days potential), last contact 09-28 + 3 days: not overdue on 09-30
    "ji": """---
id: c-20260701-ffffffff
name: 己公司
{head}email: ji@example.com
source: referral
stage: intent
owner: 李娜
created: 2026-07-01T09:00
deals:
  - {{id: D1, name: 集成, stage: negotiation, amount: 60000, currency: CNY, probability: 75}}
tickets:
  - {{id: T1, subject: 接口文档, type: question, priority: normal, status: resolved, opened: 2026-09-25,
     closed: 2026-09-26}}
---

### 2026-07-08 10:00 · meeting · 李娜
需求会。
stage: potential -> intent

### 2026-09-28 10:00 · wechat · 李娜
发了报价。
""",
}

COSTS = """
acquisition_costs:
  - {source: ad, month: 2026-02, cost: 6000}
  - {source: 广告, month: 2026-06, cost: 3000}
  - {source: trade-show, cost: 20000}
  - {campaign: 2026春季展会, cost: 5000}
"""


@pytest.fixture
def vault(empty_vault: Vault) -> Vault:
    for number, (name, text) in enumerate(FILES.items(), start=1):
        path = empty_vault.customers_dir / name[0] / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(head=HEAD.format(n=number)), encoding="utf-8")
    config = empty_vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + COSTS, encoding="utf-8")
    return Vault(empty_vault.root)


def _run(vault: Vault, name: str, since: date | None = SINCE) -> reports.Report:
    return reports.build(name, vault.scan().customers, vault.config, since=since, until=UNTIL, today=UNTIL)


def _by(report: reports.Report, key: str) -> dict:
    return {row[key]: row for row in report.rows}


def test_vault_fixture_is_valid(vault: Vault) -> None:
    from crmnotes.actions import check_vault

    assert [p for p in check_vault(vault) if p.severity == "error"] == []


def test_cli_knows_every_report() -> None:
    assert REPORT_NAMES == reports.REPORTS + reports.HISTORY_REPORTS


def test_churn_rate(vault: Vault) -> None:
    report = _run(vault, "churn-rate")
    rows = {r["month"]: (r["won_at_start"], r["lost"], r["silent"], r["churn_rate"]) for r in report.rows}
    assert rows == {"2026-01": (0, 0, 0, None), "2026-02": (0, 0, 0, None), "2026-03": (1, 0, 0, 0.0),
                    "2026-04": (2, 0, 0, 0.0), "2026-05": (3, 0, 1, 33.3), "2026-06": (2, 0, 0, 0.0),
                    "2026-07": (2, 0, 0, 0.0), "2026-08": (2, 1, 0, 50.0), "2026-09": (1, 0, 0, 0.0)}
    assert report.totals == {"won": 3, "churned": 2, "churn_rate": 66.7}


def test_cycle(vault: Vault) -> None:
    report = _run(vault, "cycle")
    assert [(r["name"], r["deal"], r["days"]) for r in report.rows] == [
        ("乙公司", "年度订阅", 10), ("甲公司", "一期", 55), ("丁公司", "试点", 0), ("甲公司", "二期", 30)]
    assert report.totals == {"deals": 4, "average_days": 23.8, "median_days": 20.0}
    assert [r["deal"] for r in _run(vault, "cycle", since=date(2026, 6, 1)).rows] == ["二期"]


def test_conversion(vault: Vault) -> None:
    report = _run(vault, "conversion")
    rows = {r["stage"]: (r["label"], r["reached"], r["advanced"], r["conversion"], r["lost"], r["average_days"])
            for r in report.rows}
    assert rows == {"potential": ("潜在", 6, 5, 83.3, 0, 14.2),  # stays 30, 10, 10, 7
                    "intent": ("意向", 5, 3, 60.0, 1, 30.0),  # stays 30, 30
                    "won": ("成交", 3, None, None, 1, 136.0)}
    assert report.totals == {"customers": 6, "won": 3, "conversion": 50.0}
    spring = _run(vault, "conversion", since=date(2026, 3, 1))  # 丙 丁 戊 己
    assert [r["reached"] for r in spring.rows] == [4, 3, 1]


def test_trend(vault: Vault) -> None:
    report = _run(vault, "trend")
    rows = {r["month"]: (r["new_customers"], r["won_customers"], r["won_deals"], r["won_value"], r["followups"])
            for r in report.rows}
    assert rows == {"2026-01": (1, 0, 0, 0, 0), "2026-02": (1, 1, 1, 80000, 2), "2026-03": (1, 1, 1, 100000, 2),
                    "2026-04": (1, 1, 1, 30000, 1), "2026-05": (0, 0, 0, 0, 0), "2026-06": (1, 0, 0, 0, 0),
                    "2026-07": (1, 0, 1, 50000, 1), "2026-08": (0, 0, 0, 0, 1), "2026-09": (0, 0, 0, 0, 2)}
    assert report.totals == {"new_customers": 6, "won_customers": 3, "won_deals": 4, "won_value": 260000,
                             "followups": 9}
    assert _run(vault, "trend", since=None).rows[0]["month"] == "2025-10"  # 12 months by default


def test_repeat(vault: Vault) -> None:
    report = _run(vault, "repeat")
    assert [(r["name"], r["won_deals"], r["won_value"]) for r in report.rows] == [
        ("甲公司", 2, 150000), ("丁公司", 1, 30000), ("乙公司", 1, 80000)]
    assert report.totals == {"buyers": 3, "repeat_buyers": 1, "repeat_rate": 33.3}


def test_satisfaction(vault: Vault) -> None:
    report = _run(vault, "satisfaction")
    rated = {r["month"]: (r["rated"], r["average"]) for r in report.rows if r["rated"]}
    assert rated == {"2026-04": (1, 1.0), "2026-05": (1, 4.0), "2026-07": (1, 5.0), "2026-08": (1, 3.0)}
    assert report.totals == {"rated": 4, "average": 3.2, "distribution": {"1": 1, "2": 0, "3": 1, "4": 1, "5": 1},
                             "satisfied": 50.0}


def test_completeness(vault: Vault) -> None:
    report = _run(vault, "completeness")
    rows = {r["field"]: (r["filled"], r["share"]) for r in report.rows}
    assert rows["name"] == (6, 100.0) and rows["email"] == (2, 33.3) and rows["grade"] == (2, 33.3)
    assert rows["tags"] == (1, 16.7) and rows["next_followup"] == (0, 0.0)
    # due: 甲 (09-20 + 7 days, grade A) overdue, 己 (09-28 + 3) not; lost and silent (乙 戊) are not due
    assert rows["followup_in_cadence"] == (1, 50.0)
    by_owner = reports.build_by("completeness", "owner", vault.scan().customers, vault.config, since=SINCE,
                                until=UNTIL, today=UNTIL)
    email = {r["owner"]: (r["filled"], r["share"]) for r in by_owner.rows if r["field"] == "email"}
    assert email == {"张伟": (1, 33.3), "李娜": (1, 33.3)}


def test_acquisition(vault: Vault) -> None:
    rows = {(r["kind"], r["name"]): r for r in _run(vault, "acquisition").rows}
    ad = rows[("source", "ad")]  # 乙 丙 戊, 乙 won; 6000 + 3000 (广告 is ad's label)
    assert (ad["label"], ad["cost"], ad["customers"], ad["won"], ad["conversion"], ad["cost_per_customer"],
            ad["cost_per_won"]) == ("广告", 9000, 3, 1, 33.3, 3000, 9000)
    show = rows[("source", "trade-show")]
    assert (show["cost"], show["customers"], show["cost_per_won"]) == (20000, 1, 20000)
    assert rows[("campaign", "2026春季展会")]["cost_per_customer"] == 5000
    march = {(r["kind"], r["name"]): r for r in _run(vault, "acquisition", since=date(2026, 3, 1)).rows}
    assert (march[("source", "ad")]["cost"], march[("source", "ad")]["customers"],
            march[("source", "ad")]["cost_per_won"]) == (3000, 2, None)


def test_bad_costs_are_refused(vault: Vault) -> None:
    config = vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "  - {source: ad}\n", encoding="utf-8")
    result = Crm(vault.root)("report", "acquisition", ok=False)
    assert "acquisition_costs" in result.stderr and "Traceback" not in result.stderr


def test_cli_table_json_and_by(vault: Vault) -> None:
    crm = Crm(vault.root)
    table = crm("report", "churn-rate", "--since", "2026-01-01", "--until", "2026-09-30").stdout
    assert "33.3%" in table and "66.7%" in table
    data = crm("report", "cycle", "--by", "owner", "--since", "2026-01-01", "--until", "2026-09-30", "--json").json()
    assert data["columns"][0] == "owner"
    assert sorted((r["owner"], r["days"]) for r in data["rows"]) == [("张伟", 0), ("张伟", 30), ("张伟", 55),
                                                                     ("李娜", 10)]
    assert data["totals"]["李娜"]["average_days"] == 10
    by_source = crm("report", "conversion", "--by", "source", "--since", "2026-01-01", "--until", "2026-09-30")
    assert "广告" in by_source.stdout and "转介绍" in by_source.stdout


@sync
async def test_tui_reports_screen_draws_trend_conversion_and_satisfaction(vault: Vault) -> None:
    from crmnotes.tui.screens.reports import ReportsScreen

    app = make_app(vault, today=UNTIL, user="张伟", poll_seconds=None)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ReportsScreen)
        await pilot.press("4")
        await pilot.pause()
        assert "赢单金额 260,000 · 赢单商机 4" in screen_text(app)  # the trend's 12 months hold every won deal
        await pilot.press("5")
        await pilot.pause()
        text = screen_text(app)
        assert "潜在 6 → 83.3% (14.2 d)" in text and "意向 5 → 60% (30 d)" in text
        await pilot.press("6")
        await pilot.pause()
        assert "评分数 4  平均分 3.2  满意（4–5） 50%" in screen_text(app)
