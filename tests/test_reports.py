"""Reports checked against a hand-built vault whose numbers were worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from crmnotes import reports
from crmnotes.vault import Vault
from tests.conftest import Crm

UNTIL = date(2026, 6, 30)  # a Tuesday: "this week" starts Monday 2026-06-29

FILES = {
    "jia": """---
id: c-20260110-aaaaaaaa
name: 甲公司
industry: internet
contact: 甲经理
phone: '+8613800000001'
source: trade-show
stage: won
owner: 张伟
tags:
  - needs/data-security
  - budget/50k-plus
created: 2026-01-10T09:00
deals:
  - name: 平台
    stage: won
    amount: 100000
    currency: CNY
    probability: 100
---

### 2026-03-01 10:00 · visit · 张伟
初访。
stage: potential -> intent

### 2026-06-29 10:00 · phone · 张伟
签约。
stage: intent -> won
""",
    "yi": """---
id: c-20260201-bbbbbbbb
name: 乙公司
industry: internet
contact: 乙经理
phone: '+8613800000002'
source: trade-show
stage: intent
owner: 张伟
tags:
  - needs/data-security
created: 2026-02-01T09:00
deals:
  - name: 二期
    stage: proposal
    amount: 200000
    currency: CNY
    probability: 50
    close: 2026-07-15
    owner: 张伟
---

### 2026-06-23 15:00 · wechat · 张伟
发了方案。
""",
    "bing": """---
id: c-20260301-cccccccc
name: 丙公司
industry: retail
contact: 丙经理
phone: '+8613800000003'
source: referral
stage: potential
owner: 李娜
tags:
  - needs/cost-down
created: 2026-03-01T09:00
deals:
  - name: 降本
    stage: negotiation
    amount: 80000
    currency: CNY
    close: 2026-08-03
    owner: 李娜
tickets:
  - id: T1
    subject: 发票问题
    type: question
    priority: normal
    status: open
    opened: 2026-06-20
---

### 2026-06-30 09:00 · email · 李娜
回复邮件。
""",
    "ding": """---
id: c-20260105-dddddddd
name: 丁公司
industry: retail
contact: 丁经理
phone: '+8613800000004'
source: referral
stage: lost
owner: 李娜
created: 2026-01-05T09:00
---

### 2026-02-10 11:00 · phone · 李娜
选了别家。
stage: potential -> lost
""",
    "wu": """---
id: c-20251201-eeeeeeee
name: 戊公司
industry: finance
contact: 戊经理
phone: '+8613800000005'
source: ad
stage: potential
owner: 李娜
created: 2025-12-01T09:00
---
""",
    "ji": """---
id: c-20260401-ffffffff
name: 己公司
industry: finance
contact: 己经理
phone: '+8613800000006'
source: referral
stage: won
owner: 张伟
tags:
  - budget/50k-plus
created: 2026-04-01T09:00
deals:
  - name: 一期
    stage: won
    amount: 50000
    currency: CNY
---

### 2026-06-24 14:00 · visit · 张伟
上门签约。
stage: potential -> won
""",
}


@pytest.fixture
def vault(empty_vault: Vault) -> Vault:
    for name, text in FILES.items():
        path = empty_vault.customers_dir / name[0] / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return empty_vault


def _run(vault: Vault, name: str, since: date | None = None) -> reports.Report:
    return reports.build(name, vault.scan().customers, vault.config, since=since, until=UNTIL, today=UNTIL)


def _by(report: reports.Report, key: str) -> dict:
    return {row[key]: row for row in report.rows}


def test_vault_fixture_is_valid(vault: Vault) -> None:
    from crmnotes.actions import check_vault

    assert [p for p in check_vault(vault) if p.severity == "error"] == []


def test_funnel(vault: Vault) -> None:
    rows = _by(_run(vault, "funnel"), "stage")
    assert {k: r["customers"] for k, r in rows.items()} == {"potential": 1, "intent": 1, "won": 2, "silent": 1,
                                                              "lost": 1}
    assert [rows[s]["reached"] for s in ("potential", "intent", "won")] == [6, 3, 2]
    assert rows["potential"]["conversion_to_next"] == 50.0 and rows["intent"]["conversion_to_next"] == 66.7


def test_sources(vault: Vault) -> None:
    rows = _by(_run(vault, "sources"), "source")
    assert (rows["trade-show"]["customers"], rows["trade-show"]["share"], rows["trade-show"]["won"],
            rows["trade-show"]["conversion"], rows["trade-show"]["won_value"]) == (2, 33.3, 1, 50.0, {"CNY": 100000})
    assert (rows["referral"]["customers"], rows["referral"]["share"], rows["referral"]["conversion"],
            rows["referral"]["won_value"]) == (3, 50.0, 33.3, {"CNY": 50000})
    assert rows["ad"]["won"] == 0 and rows["ad"]["share"] == 16.7
    since_march = _by(_run(vault, "sources", since=date(2026, 3, 1)), "source")
    assert set(since_march) == {"referral"} and since_march["referral"]["customers"] == 2


def test_owners(vault: Vault) -> None:
    rows = _by(_run(vault, "owners"), "owner")
    assert rows["张伟"] == {"owner": "张伟", "customers": 3, "followups_this_week": 1, "overdue": 1, "open_deals": 1,
                           "weighted_pipeline": 100000, "open_tickets": 0}
    assert rows["李娜"] == {"owner": "李娜", "customers": 3, "followups_this_week": 1, "overdue": 1, "open_deals": 1,
                           "weighted_pipeline": 60000, "open_tickets": 1}


def test_activity(vault: Vault) -> None:
    report = _run(vault, "activity", since=date(2026, 6, 1))
    rows = _by(report, "week")
    assert list(rows) == ["2026-06-01", "2026-06-08", "2026-06-15", "2026-06-22", "2026-06-29"]
    assert (rows["2026-06-22"]["wechat"], rows["2026-06-22"]["visit"], rows["2026-06-22"]["total"]) == (1, 1, 2)
    assert (rows["2026-06-29"]["phone"], rows["2026-06-29"]["email"], rows["2026-06-29"]["total"]) == (1, 1, 2)
    assert report.totals["total"] == 4 and rows["2026-06-01"]["total"] == 0


def test_forecast(vault: Vault) -> None:
    report = _run(vault, "forecast")
    assert report.rows == [
        {"month": "2026-07", "owner": "张伟", "currency": "CNY", "deals": 1, "amount": 200000, "weighted": 100000},
        {"month": "2026-08", "owner": "李娜", "currency": "CNY", "deals": 1, "amount": 80000, "weighted": 60000},
    ]
    assert report.totals == {"weighted_CNY": 160000}
    july = reports.build("forecast", vault.scan().customers, vault.config, since=date(2026, 7, 1),
                         until=date(2026, 7, 31), today=UNTIL)
    assert [r["month"] for r in july.rows] == ["2026-07"]


def test_churn(vault: Vault) -> None:
    rows = _by(_run(vault, "churn", since=date(2026, 1, 1)), "name")
    assert (rows["丁公司"]["kind"], rows["丁公司"]["since"]) == ("lost", "2026-02-10")
    assert (rows["戊公司"]["kind"], rows["戊公司"]["since"]) == ("silent", "2026-03-01")
    assert set(rows) == {"丁公司", "戊公司"}
    assert _run(vault, "churn", since=date(2026, 4, 1)).rows == []


def test_tags(vault: Vault) -> None:
    report = _run(vault, "tags")
    assert [r["tag"] for r in report.rows] == ["budget/50k-plus", "needs/data-security"]
    top, second = report.rows
    assert (top["won_with_tag"], top["customers_with_tag"], top["share_of_won"], top["lift"]) == (2, 2, 100.0, 3.0)
    assert (second["share_of_won"], second["share_of_all"], second["lift"]) == (50.0, 33.3, 1.5)


def test_cli_report_json_and_table(vault: Vault) -> None:
    crm = Crm(vault.root)
    data = crm("report", "forecast", "--json", "--until", UNTIL.isoformat()).json()
    assert data["report"] == "forecast" and len(data["rows"]) == 2
    table = crm("report", "owners", "--until", UNTIL.isoformat())
    assert "张伟" in table.stdout and "李娜" in table.stdout
    bad = crm("report", "funnel", "--since", "2026-07-01", "--until", "2026-06-01", ok=False)
    assert "after" in bad.stderr
    mine = crm("report", "funnel", "--owner", "李娜", "--json").json()
    assert sum(r["customers"] for r in mine["rows"]) == 3
