"""The one table of words shown to people: headings, record columns and report keys in the vault's
language (``language: zh`` → Chinese; any other language → English).  Ids stay ids everywhere a
program reads them (``--json``, the files' keys); only the faces call these.

A key missing from a language falls back to its English word, then to the key with spaces for
underscores, so a new report column is readable before it is translated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import VaultConfig
    from .reports import Report

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        # headings and record columns (customer page, deals, tickets)
        "notes": "备注", "followups": "跟进记录", "deals": "商机", "tickets": "服务工单", "newest-first": "最新在前",
        "oldest-first": "最早在前", "id": "编号", "name": "名称", "stage": "阶段", "amount": "金额",
        "probability": "概率", "close": "预计成交", "owner": "负责人", "subject": "主题", "type": "类型",
        "priority": "优先级", "status": "状态", "opened": "创建", "due": "答复期限", "resolution": "解决方案",
        "satisfaction": "满意度", "closed": "关闭", "next": "下一步", "feedback": "反馈",
        # report columns and totals
        "label": "名称", "customers": "客户数", "reached": "曾到达", "conversion_to_next": "转入下一阶段",
        "source": "来源", "share": "占比", "won": "赢单", "conversion": "转化率", "won_value": "赢单金额",
        "followups_this_week": "本周跟进", "overdue": "逾期", "open_deals": "进行中商机",
        "weighted_pipeline": "加权金额", "open_tickets": "未结工单", "week_start": "周一", "week": "周",
        "total": "合计", "month": "月份", "currency": "币种", "weighted": "加权金额", "kind": "类别",
        "since": "起始", "until": "截止", "report": "报表", "last_contact": "最近联系", "tag": "标签",
        "won_with_tag": "赢单含此标签",
        "customers_with_tag": "客户含此标签", "share_of_won": "赢单占比", "share_of_all": "全部占比", "lift": "提升",
        "won_at_start": "月初已赢单", "lost": "流失", "silent": "沉默", "churn_rate": "流失率", "churned": "已流失",
        "deal": "商机", "won_on": "赢单日", "days": "天数", "average_days": "平均天数", "median_days": "天数中位数",
        "advanced": "进入下一阶段", "new_customers": "新客户", "won_customers": "赢单客户", "won_deals": "赢单商机",
        "first_won": "首次赢单", "last_won": "最近赢单", "buyers": "购买客户", "repeat_buyers": "复购客户",
        "repeat_rate": "复购率", "rated": "评分数", "average": "平均分", "distribution": "分布",
        "satisfied": "满意（4–5）", "field": "字段", "required": "必填", "filled": "已填",
        "average_share": "平均填写率", "cost": "成本", "cost_per_customer": "获客成本", "cost_per_won": "赢单成本",
        "campaign": "活动", "followup_in_cadence": "按节奏跟进",
        "from": "从", "to": "到", "close_before": "原预计成交", "new": "新增",
        "moved back": "回退", "slipped": "延期", "now": "当前", "ever reached": "曾到达", "rating": "评分",
        "weighted_of": "加权金额 {currency}",
        # report titles ({week}, {currency}, {since}, {until} filled in; " by" + the group when grouped)
        "title:funnel": "阶段漏斗", "title:sources": "来源：占比、转化、赢单金额",
        "title:owners": "负责人（{week} 这周）", "title:activity": "每周跟进（按渠道）",
        "title:forecast": "按预计成交月的加权商机", "title:churn": "沉默或流失的客户",
        "title:tags": "赢单客户的标签", "title:churn-rate": "流失率：赢单客户流失或沉默",
        "title:cycle": "成交周期（开启 → 赢单，天）", "title:conversion": "本期新客户的阶段转化",
        "title:trend": "每月销售趋势（{currency}）", "title:repeat": "复购：赢单超过一个商机的客户",
        "title:satisfaction": "已关闭工单的满意度（1–5）", "title:completeness": "各字段的资料完整度",
        "title:acquisition": "获客成本（{currency}）", "title:movement": "商机变化 {since} → {until}",
        "title:by": "{title}（按{by}）",
    },
    "en": {
        "notes": "Notes", "followups": "Follow-ups", "deals": "Deals", "tickets": "Tickets",
        "newest-first": "newest first", "oldest-first": "oldest first", "close": "close date", "due": "answer by",
        "conversion_to_next": "to next stage", "won_value": "won value", "followups_this_week": "follow-ups this week",
        "open_deals": "open deals", "weighted_pipeline": "weighted pipeline", "open_tickets": "open tickets",
        "week_start": "week of", "last_contact": "last contact", "won_with_tag": "won with tag",
        "customers_with_tag": "customers with tag", "share_of_won": "share of won", "share_of_all": "share of all",
        "won_at_start": "won at start", "churn_rate": "churn rate", "won_on": "won on", "average_days": "average days",
        "median_days": "median days", "new_customers": "new customers", "won_customers": "won customers",
        "won_deals": "won deals", "first_won": "first won", "last_won": "last won", "repeat_buyers": "repeat buyers",
        "repeat_rate": "repeat rate", "satisfied": "satisfied (4–5)", "average_share": "average share",
        "cost_per_customer": "cost per customer", "cost_per_won": "cost per won", "close_before": "close before",
        "weighted_of": "weighted {currency}", "followup_in_cadence": "followed up",
        "title:funnel": "Stage funnel", "title:sources": "Sources: share, conversion, won value",
        "title:owners": "Owners (week of {week})", "title:activity": "Follow-ups per week by channel",
        "title:forecast": "Weighted pipeline by close month", "title:churn": "Customers turned silent or lost",
        "title:tags": "Tags of won customers", "title:churn-rate": "Churn rate: won customers lost or turned silent",
        "title:cycle": "Deal cycle time (opened → won, days)",
        "title:conversion": "Stage conversion of the customers created in the period",
        "title:trend": "Sales trend by month ({currency})",
        "title:repeat": "Repeat purchase: customers with more than one won deal",
        "title:satisfaction": "Satisfaction of closed tickets (1-5)",
        "title:completeness": "Data completeness per field",
        "title:acquisition": "Acquisition cost ({currency})", "title:movement": "Pipeline movement {since} → {until}",
        "title:by": "{title} by {by}",
    },
}


def language_of(language: str) -> str:
    """The table a vault's ``language`` setting reads: Chinese for zh, zh-CN, zh_TW…, else English."""
    return "zh" if language.lower().startswith("zh") else "en"


def word(language: str, key: str) -> str:
    """``key`` in ``language`` (a vault's ``language`` setting)."""
    found = WORDS[language_of(language)].get(key) or WORDS["en"].get(key)
    return found if found is not None else key.replace("_", " ")


def report_word(config: VaultConfig, key: str) -> str:
    """A report's column or totals key as people read it: channel ids by the vault's channel labels,
    ``weighted_USD`` as "加权金额 USD"."""
    if key.startswith("weighted_") and key != "weighted_pipeline":
        return word(config.language, "weighted_of").format(currency=key.removeprefix("weighted_"))
    if key in config.channels.ids:
        return config.channels.display(key)
    return word(config.language, key)


def report_title(report: Report, config: VaultConfig) -> str:
    """The report's title in the vault's language (``report.title`` stays English for ``--json``)."""
    template = WORDS[language_of(config.language)].get(f"title:{report.name}")
    if template is None:
        return report.title
    title = template.format(week=report.totals.get("week_start", ""), currency=config.currency,
                            since=report.since.isoformat() if report.since else "",
                            until=report.until.isoformat() if report.until else "")
    if report.by:
        title = word(config.language, "title:by").format(title=title, by=report_word(config, report.by))
    return title


def report_value(config: VaultConfig, column: str, value: Any) -> Any:
    """A cell as people read it: the ``kind`` of a churn, movement or acquisition row in words."""
    return report_word(config, value) if column == "kind" and isinstance(value, str) else value


def report_labels(report: Report, config: VaultConfig) -> list[str]:
    """The report's column headings."""
    return [report_word(config, column) for column in report.columns]


def totals_line(report: Report, config: VaultConfig, cell: Any) -> str:
    """The totals as "label: value" pairs; ``cell(value, percent)`` formats a value."""
    def pair(key: str, value: Any) -> str:
        if report.by and isinstance(value, dict):
            inner = ", ".join(pair(k, v) for k, v in value.items())  # --by: the totals of each group
            return f"{key}: {inner}"
        return f"{report_word(config, key)}: {cell(value, key in report.percent)}"

    return "  ".join(pair(key, value) for key, value in report.totals.items())
