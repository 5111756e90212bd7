"""Reports over the vault: funnel, sources, owners, activity, forecast, churn, tags.

Each report is a ``Report`` (title, columns, rows as dicts, totals) that the
CLI prints as a table or JSON and the TUI charts.  They read the customers'
front-matter and follow-ups once; no report opens a file itself.

Periods: ``since`` / ``until`` (inclusive).  funnel, sources and tags look at
the customers *created* in the period; activity at follow-ups in it; forecast
at deals expected to close in it; churn at customers who turned silent or
were lost in it; owners at the week that ends the period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from . import deals, tickets
from .config import VaultConfig
from .due import due_list, effective_stage
from .model import Customer
from .team import team_of

REPORTS = ("funnel", "sources", "owners", "activity", "forecast", "churn", "tags")
NO_VALUE = "(none)"


@dataclass
class Report:
    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)
    since: date | None = None
    until: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {"report": self.name, "title": self.title, "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "columns": self.columns,
                "rows": self.rows, "totals": self.totals}


def build(name: str, customers: list[Customer], config: VaultConfig, *, since: date | None = None,
          until: date | None = None, today: date | None = None) -> Report:
    today = today or date.today()
    until = until or today
    builders = {"funnel": funnel, "sources": sources, "owners": owners, "activity": activity,
                "forecast": forecast, "churn": churn, "tags": tags}
    if name not in builders:
        from .errors import CrmError

        raise CrmError(f"there is no report '{name}'.", f"Choose one of: {', '.join(REPORTS)}.")
    report = builders[name](customers, config, since, until)
    report.since, report.until = since, until
    return report


def _created_in(customers: list[Customer], since: date | None, until: date) -> list[Customer]:
    chosen = []
    for customer in customers:
        when = customer.created  # parsed from the front-matter at every access
        created = when.date() if when else None
        if created is not None and (created > until or (since and created < since)):
            continue
        chosen.append(customer)
    return chosen


def _pct(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def pipeline_stages(config: VaultConfig) -> list[str]:
    return [c.id for c in config.stages.items if not c.computed and not c.closed]


def funnel(customers: list[Customer], config: VaultConfig, since: date | None, until: date) -> Report:
    """Customers per stage now, how many ever reached each pipeline stage, and
    the conversion from each pipeline stage to the next."""
    cohort = _created_in(customers, since, until)
    order = pipeline_stages(config)
    now = Counter(effective_stage(c, config, until) for c in cohort)
    reached = Counter()
    for customer in cohort:
        seen = [customer.stage, *(f.stage_to for f in customer.followups), *(f.stage_from for f in customer.followups)]
        best = max((order.index(s) for s in seen if s in order), default=-1)
        for index in range(best + 1):
            reached[order[index]] += 1
    rows = []
    for choice in config.stages.items:
        row: dict[str, Any] = {"stage": choice.id, "label": choice.display, "customers": now.get(choice.id, 0)}
        if choice.id in order:
            position = order.index(choice.id)
            row["reached"] = reached[choice.id]
            following = order[position + 1] if position + 1 < len(order) else None
            row["conversion_to_next"] = _pct(reached[following], reached[choice.id]) if following else None
        rows.append(row)
    return Report("funnel", "Stage funnel", ["stage", "label", "customers", "reached", "conversion_to_next"], rows,
                  {"customers": len(cohort)})


def _won_value(customer: Customer) -> dict[str, float]:
    values: dict[str, float] = defaultdict(float)
    for deal in customer.deals:
        if deal.get("stage") in (deals.WON, deals.AFTER_SALES):
            values[str(deal.get("currency") or "")] += deals.amount_of(deal)
    return values


def sources(customers: list[Customer], config: VaultConfig, since: date | None, until: date) -> Report:
    cohort = _created_in(customers, since, until)
    groups: dict[str, list[Customer]] = defaultdict(list)
    for customer in cohort:
        groups[customer.text("source") or NO_VALUE].append(customer)
    rows = []
    for source, members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        won = [c for c in members if c.stage == "won"]
        value: dict[str, float] = defaultdict(float)
        for customer in members:
            for currency, amount in _won_value(customer).items():
                value[currency] += amount
        rows.append({"source": source, "label": config.choice_set("sources").display(source)
                     if "sources" in config.choices else source, "customers": len(members),
                     "share": _pct(len(members), len(cohort)), "won": len(won),
                     "conversion": _pct(len(won), len(members)), "won_value": dict(value)})
    return Report("sources", "Sources: share, conversion, won value",
                  ["source", "label", "customers", "share", "won", "conversion", "won_value"], rows,
                  {"customers": len(cohort)})


def owners(customers: list[Customer], config: VaultConfig, since: date | None, until: date) -> Report:
    week_start = until - timedelta(days=until.weekday())
    who = team_of(config).name_of  # a member's aliases and pinyin count as the member
    overdue = Counter(who(i.customer.owner) for i in due_list(customers, config, until) if i.due < until)
    groups: dict[str, list[Customer]] = defaultdict(list)
    for customer in customers:
        groups[who(customer.owner) or NO_VALUE].append(customer)
    done_this_week = Counter(who(f.by) for c in customers for f in c.followups if week_start <= f.at.date() <= until)
    rows = []
    for owner, members in sorted(groups.items()):
        open_deals = [d for c in members for d in c.deals if deals.is_open(d)]
        rows.append({
            "owner": owner, "customers": len(members), "followups_this_week": done_this_week.get(owner, 0),
            "overdue": overdue.get(owner, 0) if owner != NO_VALUE else overdue.get("", 0),
            "open_deals": len(open_deals),
            "weighted_pipeline": round(sum(deals.amount_of(d) * deals.probability_of(d, config) / 100
                                           for d in open_deals), 2),
            "open_tickets": sum(1 for c in members for t in c.tickets if tickets.is_open(t)),
        })
    return Report("owners", f"Owners (week of {week_start.isoformat()})",
                  ["owner", "customers", "followups_this_week", "overdue", "open_deals", "weighted_pipeline",
                   "open_tickets"], rows, {"week_start": week_start.isoformat()})


def activity(customers: list[Customer], config: VaultConfig, since: date | None, until: date) -> Report:
    since = since or until - timedelta(weeks=12)
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for customer in customers:
        for followup in customer.followups:
            day = followup.at.date()
            if since <= day <= until:
                counts[day - timedelta(days=day.weekday())][followup.channel or "other"] += 1
    channels = sorted({ch for week in counts.values() for ch in week},
                      key=lambda ch: (config.channels.ids.index(ch) if ch in config.channels.ids else 99, ch))
    rows = []
    week = since - timedelta(days=since.weekday())
    while week <= until:
        found = counts.get(week, Counter())
        rows.append({"week": week.isoformat(), **{ch: found.get(ch, 0) for ch in channels},
                     "total": sum(found.values())})
        week += timedelta(weeks=1)
    totals = {ch: sum(r[ch] for r in rows) for ch in channels}
    totals["total"] = sum(r["total"] for r in rows)
    return Report("activity", "Follow-ups per week by channel", ["week", *channels, "total"], rows, totals)


def forecast(customers: list[Customer], config: VaultConfig, since: date | None, until: date | None) -> Report:
    """Open deals by expected close month and owner: amount and probability-weighted amount."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for customer, _, deal in deals.deal_rows(customers, open_only=True):
        close = deals.close_of(deal)
        if since is not None and (close is None or not since <= close <= (until or close)):
            continue  # with a period: only deals expected to close in it
        month = close.strftime("%Y-%m") if close else NO_VALUE
        owner = str(deal.get("owner") or customer.owner or NO_VALUE)
        groups[(month, owner, str(deal.get("currency") or config.currency))].append(deal)
    rows = []
    for (month, owner, currency), items in sorted(groups.items()):
        amount = sum(deals.amount_of(d) for d in items)
        weighted = sum(deals.amount_of(d) * deals.probability_of(d, config) / 100 for d in items)
        rows.append({"month": month, "owner": owner, "currency": currency, "deals": len(items),
                     "amount": round(amount, 2), "weighted": round(weighted, 2)})
    totals: dict[str, Any] = defaultdict(float)
    for row in rows:
        totals[f"weighted_{row['currency']}"] += row["weighted"]
    return Report("forecast", "Weighted pipeline by close month",
                  ["month", "owner", "currency", "deals", "amount", "weighted"], rows, dict(totals))


def churn(customers: list[Customer], config: VaultConfig, since: date | None, until: date) -> Report:
    rows = []
    for customer in customers:
        last = customer.last_contact or customer.created
        kind, when = "", None
        stored = config.stages.find(customer.stage) if customer.stage else None
        if stored is not None and stored.closed:
            kind = "lost"
            moves = [f.at.date() for f in customer.followups if f.stage_to == customer.stage]
            when = max(moves) if moves else None
        elif effective_stage(customer, config, until) == config.silent_stage and last is not None:
            kind, when = "silent", last.date() + timedelta(days=config.silent_after_days)
        if not kind:
            continue
        if when is not None and (when > until or (since and when < since)):
            continue
        if when is None and since is not None:
            continue
        rows.append({"name": customer.name, "id": customer.id, "owner": customer.owner, "kind": kind,
                     "since": when.isoformat() if when else None,
                     "last_contact": customer.last_contact.date().isoformat() if customer.last_contact else None})
    rows.sort(key=lambda r: (r["since"] or "", r["name"]))
    return Report("churn", "Customers turned silent or lost", ["name", "owner", "kind", "since", "last_contact"],
                  rows, {"silent": sum(r["kind"] == "silent" for r in rows),
                         "lost": sum(r["kind"] == "lost" for r in rows)})


def tags(customers: list[Customer], config: VaultConfig, since: date | None, until: date) -> Report:
    """Tags over-represented among won customers: lift = share among won / share among all."""
    cohort = _created_in(customers, since, until)
    won = [c for c in cohort if c.stage == "won"]
    all_counts = Counter(t for c in cohort for t in set(c.tags))
    won_counts = Counter(t for c in won for t in set(c.tags))
    rows = []
    for tag, won_with in won_counts.items():
        share_won, share_all = won_with / len(won), all_counts[tag] / len(cohort)
        rows.append({"tag": tag, "won_with_tag": won_with, "customers_with_tag": all_counts[tag],
                     "share_of_won": round(100 * share_won, 1), "share_of_all": round(100 * share_all, 1),
                     "lift": round(share_won / share_all, 2)})
    rows.sort(key=lambda r: (-r["lift"], -r["won_with_tag"], r["tag"]))
    return Report("tags", "Tags of won customers", ["tag", "won_with_tag", "customers_with_tag", "share_of_won",
                                                    "share_of_all", "lift"], rows,
                  {"won": len(won), "customers": len(cohort)})
