"""The default vault speaks the guides' language (PRACTICE.md), in Chinese and English."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from crmnotes import actions, deals, rules
from crmnotes.due import next_due
from crmnotes.vault import Vault

NOW = datetime(2026, 3, 2, 9, 0)


@pytest.mark.parametrize(("typed", "stored"), [
    ("展会推荐", "trade-show"), ("线上搜索", "online-search"), ("客户转介绍", "referral"), ("线上广告", "ad"),
    ("被动咨询", "inquiry"), ("行业展会", "trade-show"), ("线上展会", "trade-show"),
    ("trade show", "trade-show"), ("展会", "trade-show"), ("网络搜索", "online-search"), ("partner", "partner"),
])
def test_the_guides_five_sources_are_known(empty_vault: Vault, typed: str, stored: str) -> None:
    values, issues = rules.prepare_fields({"source": typed}, empty_vault.config)
    assert not issues and values["source"] == stored


@pytest.mark.parametrize(("field", "typed", "stored"), [
    ("stage", "成交", "won"), ("stage", "赢单", "won"), ("stage", "成交客户", "won"),
    ("stage", "潜在客户", "potential"), ("stage", "意向客户", "intent"), ("stage", "customer", "won"),
    ("grade", "A 高价值", "A"), ("grade", "潜力", "B"), ("grade", "普通", "C"),
    ("customer_type", "企业客户", "enterprise"), ("customer_type", "个人", "individual"),
    ("company_size", "100-499人", "medium"), ("company_size", "大型", "large"),
])
def test_stage_grade_type_and_size_in_the_guides_words(empty_vault: Vault, field: str, typed: str,
                                                       stored: str) -> None:
    values, issues = rules.prepare_fields({field: typed}, empty_vault.config)
    assert not issues and values[field] == stored
    assert empty_vault.config.fields[field].label in {"阶段", "等级", "客户类型", "公司规模"}


def test_budget_in_wan_and_a_risk_family_are_tags_and_old_budget_values_stay_valid(empty_vault: Vault) -> None:
    good = ["budget/10万以下", "budget/10-50万", "budget/50万以上", "risk/高", "risk/中", "risk/低",
            "role/决策者", "budget/50k-plus"]
    assert rules.tag_issues(good, empty_vault.config) == []
    bad = rules.tag_issues(["risk/很高"], empty_vault.config)
    assert len(bad) == 1 and "高, 中, 低" in bad[0].message


def test_cadence_potential_weekly_intent_three_days_won_monthly_and_high_risk_by_tag(empty_vault: Vault) -> None:
    config = empty_vault.config
    assert config.stage_cadence["potential"] == 7
    assert config.stage_cadence["intent"] == 3
    assert config.stage_cadence["won"] == 30
    assert config.grade_cadence == {"A": 7, "B": 14, "C": 30}
    assert config.tag_cadence == {"risk/高": 2}  # about 3 times a week
    draft = actions.NewCustomer(name="新线索科技", industry="互联网", contact="王磊", phone="13800138000",
                                stage="潜在客户", grade="C")
    customer = actions.add_customer(empty_vault, draft, now=NOW - timedelta(days=20))
    info = next_due(customer, config, NOW.date())
    assert info is not None and info.due == NOW.date() - timedelta(days=13)


def test_deal_stages_include_after_sales_and_won_in_chinese(empty_vault: Vault) -> None:
    stages = deals.stages(empty_vault.config)
    assert stages.canonical("成交") == "won" and stages.canonical("赢单") == "won"
    assert stages.canonical("售后") == "after-sales" and stages.canonical("方案提交") == "proposal"
    assert not deals.is_open({"stage": "after-sales"}) and deals.is_open({"stage": "proposal"})
