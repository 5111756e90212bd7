"""Reports over the vault: funnel, sources, owners, activity, forecast, churn, tags, and the
manager's measures: churn-rate, cycle, conversion, trend, repeat, satisfaction, completeness,
acquisition.

Each report is a ``Report`` (title, columns, rows as dicts, totals) that the
CLI prints as a table or JSON and the TUI charts.  They read the customers'
front-matter and follow-ups once; no report opens a file itself.

Periods: ``since`` / ``until`` (inclusive).  funnel, sources and tags look at
the customers *created* in the period; activity at follow-ups in it; forecast
at deals expected to close in it; churn at customers who turned silent or
were lost in it; owners at the week that ends the period.

Dates the history knows: a customer's stage moves are the ``stage: a -> b``
lines of its follow-ups; it was won on its first move to ``won`` (or on its
creation when it was entered as won).  A deal was opened on its ``opened:``
date (else its customer's creation) and won on its ``won_on:`` date (else its
``close:`` date, else its customer's move to won).  Percentages are numbers
(``33.3``); the columns named in ``Report.percent`` are printed with ``%``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, TypeGuard

from . import deals, tickets
from .config import VaultConfig
from .model import Customer, parse_when
from .report_facts import Facts, facts_of
from .team import team_of
from .typedjson import DECODER, compact, tagged
from .words import word

REPORTS = ("funnel", "sources", "owners", "activity", "forecast", "churn", "tags", "churn-rate", "cycle",
           "conversion", "trend", "repeat", "satisfaction", "completeness", "acquisition")
GROUPS = ("owner", "source")  # --by: the report once per group of customers
# The parts of the facts (``report_facts.PARTS``) each report reads besides the customer's own columns
# (id, name, owner, stage, source, campaign, created, last contact, filled fields): only those are decoded.
# moves: ``won_on``; timeline: what holds on a day; contacts: the follow-ups counted.
READS: dict[str, tuple[str, ...]] = {
    "funnel": ("reached", "timeline"), "sources": ("deals",), "owners": ("deals", "tickets", "timeline", "contacts"),
    "activity": ("contacts",), "forecast": ("deals",), "churn": ("moves", "timeline"), "tags": ("tags",),
    "churn-rate": ("moves", "timeline"), "cycle": ("deals", "moves"), "conversion": ("reached", "moves"),
    "trend": ("moves", "deals", "contacts"), "repeat": ("deals", "moves"), "satisfaction": ("tickets",),
    "completeness": ("timeline",), "acquisition": ("moves",)}
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
    percent: tuple[str, ...] = ()  # columns (and totals) holding a percentage
    by: str | None = None  # the group column of a report built once per owner or source

    def to_json(self) -> dict[str, Any]:
        return {"report": self.name, "title": self.title, "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "columns": self.columns,
                "rows": self.rows, "totals": self.totals}

    def kept(self) -> str | None:
        """The report as text ``from_kept`` makes it again from, equal, types included; None when it
        would not be (a value JSON does not keep: then it is not kept)."""
        text = compact(tagged(asdict(self)))
        return text if Report.from_kept(text) == self else None

    @staticmethod
    def from_kept(text: str) -> Report | None:
        """The report ``kept`` wrote (None when the text is not one)."""
        try:
            fields_ = DECODER.decode(text)
            return Report(**{**fields_, "percent": tuple(fields_["percent"])})
        except (ValueError, TypeError, KeyError):
            return None


def as_facts(customers: Sequence[Customer | Facts], config: VaultConfig) -> list[Facts]:
    """The report facts of customers read whole (facts from the cache are taken as they are)."""
    return [c if isinstance(c, Facts) else facts_of(c, config) for c in customers]


def build(name: str, customers: Sequence[Customer | Facts], config: VaultConfig, *, since: date | None = None,
          until: date | None = None, today: date | None = None) -> Report:
    """The report ``name`` of these customers (their facts: ``report_facts``)."""
    today = today or date.today()
    until = until or today
    builders = {"funnel": funnel, "sources": sources, "owners": owners, "activity": activity,
                "forecast": forecast, "churn": churn, "tags": tags, "churn-rate": churn_rate, "cycle": cycle,
                "conversion": conversion, "trend": trend, "repeat": repeat, "satisfaction": satisfaction,
                "completeness": completeness, "acquisition": acquisition}
    if name not in builders:
        from .errors import CrmError

        raise CrmError(f"there is no report '{name}'.", f"Choose one of: {', '.join(REPORTS)}.")
    report = builders[name](as_facts(customers, config), config, since, until)
    report.since, report.until = since, until
    return report


def build_by(name: str, by: str, customers: Sequence[Customer | Facts], config: VaultConfig, *,
             since: date | None = None,
             until: date | None = None, today: date | None = None) -> Report:
    """The report once per owner or source, its rows prefixed with the group (``--by``)."""
    if by not in GROUPS:
        from .errors import CrmError

        raise CrmError(f"reports cannot be grouped by '{by}'.", f"Choose one of: {', '.join(GROUPS)}.")
    groups: dict[str, list[Facts]] = defaultdict(list)
    for customer in as_facts(customers, config):
        groups[customer.text(by) or NO_VALUE].append(customer)
    labels = config.choices_for(by)
    parts = {group: build(name, members, config, since=since, until=until, today=today)
             for group, members in sorted(groups.items())}
    first = next(iter(parts.values()), None) or build(name, [], config, since=since, until=until, today=today)
    rows = [{by: labels.display(group) if labels else group, **row}
            for group, part in parts.items() for row in part.rows]
    totals = {(labels.display(group) if labels else group): part.totals for group, part in parts.items()}
    return Report(first.name, f"{first.title} by {by}", [by, *first.columns], rows, totals, since, until,
                  first.percent, by)


def _created_in(customers: list[Facts], since: date | None, until: date) -> list[Facts]:
    chosen = []
    for customer in customers:
        created = customer.created
        if created is not None and (created > until or (since and created < since)):
            continue
        chosen.append(customer)
    return chosen


def _pct(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def pipeline_stages(config: VaultConfig) -> list[str]:
    return [c.id for c in config.stages.items if not c.computed and not c.closed]


def funnel(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """Customers per stage now, how many ever reached each pipeline stage, and
    the conversion from each pipeline stage to the next."""
    cohort = _created_in(customers, since, until)
    order = pipeline_stages(config)
    now = Counter(c.timeline.at(until).stage for c in cohort)
    reached: Counter[str] = Counter()
    for customer in cohort:
        for index in range(_best_reached(customer, order) + 1):
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
                  {"customers": len(cohort)}, percent=("conversion_to_next",))


def _won_value(customer: Facts) -> dict[str, float]:
    values: dict[str, float] = defaultdict(float)
    for deal in customer.deals:
        if deals.is_won(deal):
            values[str(deal.get("currency") or "")] += deals.amount_of(deal)
    return values


def sources(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    cohort = _created_in(customers, since, until)
    groups: dict[str, list[Facts]] = defaultdict(list)
    for customer in cohort:
        groups[customer.source or NO_VALUE].append(customer)
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
                  {"customers": len(cohort)}, percent=("share", "conversion"))


def owners(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    week_start = until - timedelta(days=until.weekday())
    who = team_of(config).name_of  # a member's aliases and pinyin count as the member
    overdue = Counter(who(c.owner) for c in customers if _overdue(c, until))
    groups: dict[str, list[Facts]] = defaultdict(list)
    for customer in customers:
        groups[who(customer.owner) or NO_VALUE].append(customer)
    first, last = week_start.isoformat(), until.isoformat()  # ISO days compare as texts
    authors = Counter(by for c in customers for _, _, by in c.contacts(first, last))
    done_this_week: Counter[str] = Counter()
    for author, count in authors.items():
        done_this_week[who(author)] += count
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


def _overdue(customer: Facts, until: date) -> bool:
    """Was something due before ``until`` (what ``due.due_list`` lists as overdue on it)?"""
    due = customer.timeline.at(until).due_on(until)
    return due is not None and due < until


def activity(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    since = since or until - timedelta(weeks=12)
    first, last = since.isoformat(), until.isoformat()
    per_day = Counter((day, channel) for c in customers for day, channel, _ in c.contacts(first, last))
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for (iso, channel), count in per_day.items():
        day = date.fromisoformat(iso)
        counts[day - timedelta(days=day.weekday())][channel or "other"] += count
    channels = sorted({ch for week in counts.values() for ch in week},
                      key=lambda ch: (config.channels.ids.index(ch) if ch in config.channels.ids else 99, ch))
    rows: list[dict[str, Any]] = []
    week = since - timedelta(days=since.weekday())
    while week <= until:
        found = counts.get(week, Counter())
        rows.append({"week": week.isoformat(), **{ch: found.get(ch, 0) for ch in channels},
                     "total": sum(found.values())})
        week += timedelta(weeks=1)
    totals = {ch: sum(r[ch] for r in rows) for ch in channels}
    totals["total"] = sum(r["total"] for r in rows)
    return Report("activity", "Follow-ups per week by channel", ["week", *channels, "total"], rows, totals)


def forecast(customers: list[Facts], config: VaultConfig, since: date | None, until: date | None) -> Report:
    """Open deals by expected close month and owner: amount and probability-weighted amount."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for customer, deal in ((c, d) for c in customers for d in c.deals if deals.is_open(d)):
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


def churned(customer: Facts, config: VaultConfig, until: date) -> tuple[str, date | None]:
    """("lost" | "silent", since when) for a customer lost or silent on ``until``, else ("", None)."""
    last = customer.last_contact or customer.created
    stored = config.stages.find(customer.stage) if customer.stage else None
    if stored is not None and stored.closed:
        moves = [day for day, _, to in customer.moves if to == customer.stage]
        return "lost", max(moves) if moves else None
    if customer.timeline.at(until).stage == config.silent_stage and last is not None:
        return "silent", last + timedelta(days=config.silent_after_days)
    return "", None


def churn(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    rows = []
    for customer in customers:
        kind, when = churned(customer, config, until)
        if not kind:
            continue
        if when is not None and (when > until or (since and when < since)):
            continue
        if when is None and since is not None:
            continue
        rows.append({"name": customer.name, "id": customer.id, "owner": customer.owner, "kind": kind,
                     "since": when.isoformat() if when else None,
                     "last_contact": customer.last_contact.isoformat() if customer.last_contact else None})
    rows.sort(key=lambda r: (r["since"] or "", r["name"]))
    return Report("churn", "Customers turned silent or lost", ["name", "owner", "kind", "since", "last_contact"],
                  rows, {"silent": sum(r["kind"] == "silent" for r in rows),
                         "lost": sum(r["kind"] == "lost" for r in rows)})


def tags(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """Tags over-represented among won customers: lift = share among won / share among all."""
    cohort = _created_in(customers, since, until)
    won = [c for c in cohort if c.stage == "won"]
    all_counts = Counter(t for c in cohort for t in set(c.tags))
    won_counts = Counter(t for c in won for t in set(c.tags))
    rows: list[dict[str, Any]] = []
    for tag, won_with in won_counts.items():
        share_won, share_all = won_with / len(won), all_counts[tag] / len(cohort)
        rows.append({"tag": tag, "won_with_tag": won_with, "customers_with_tag": all_counts[tag],
                     "share_of_won": round(100 * share_won, 1), "share_of_all": round(100 * share_all, 1),
                     "lift": round(share_won / share_all, 2)})
    rows.sort(key=lambda r: (-r["lift"], -r["won_with_tag"], r["tag"]))
    return Report("tags", "Tags of won customers", ["tag", "won_with_tag", "customers_with_tag", "share_of_won",
                                                    "share_of_all", "lift"], rows,
                  {"won": len(won), "customers": len(cohort)}, percent=("share_of_won", "share_of_all"))


# ------------------------------------------------------------------ what the history knows


def _when(value: Any) -> date | None:
    found = parse_when(value)
    return found.date() if found else None


def _within(day: date | None, since: date | None, until: date) -> TypeGuard[date]:
    return day is not None and day <= until and (since is None or day >= since)


def _months(since: date | None, until: date, default: int = 12) -> list[date]:
    """The first day of every month from ``since`` (default: ``default`` months back) to ``until``."""
    last = until.replace(day=1)
    first = since.replace(day=1) if since else _add_months(last, 1 - default)
    found = []
    while first <= last:
        found.append(first)
        first = _add_months(first, 1)
    return found


def _add_months(day: date, count: int) -> date:
    index = day.year * 12 + day.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _month_end(first: date) -> date:
    return _add_months(first, 1) - timedelta(days=1)


def won_on(customer: Facts) -> date | None:
    """The day of the first move to won; the creation day for a customer entered as won."""
    moves = customer.moves
    won = [day for day, _, to in moves if to == "won"]
    first_stage = moves[0][1] if moves else customer.stage
    created = customer.created
    if first_stage == "won" and created:
        return created
    return won[0] if won else None


def deal_opened(deal: dict[str, Any], customer: Facts) -> date | None:
    return _when(deal.get("opened")) or customer.created


def deal_won_on(deal: dict[str, Any], customer: Facts) -> date | None:
    if not deals.is_won(deal):
        return None
    return _when(deal.get("won_on")) or deals.close_of(deal) or won_on(customer)


def _won_deals(customers: list[Facts]) -> list[tuple[Facts, dict[str, Any], date | None]]:
    return [(c, d, deal_won_on(d, c)) for c in customers for d in c.deals if deals.is_won(d)]


def days_in_stages(customer: Facts) -> dict[str, list[int]]:
    """Days spent in each stage the customer has left, from its creation and its stage moves."""
    moves = customer.moves
    created = customer.created
    found: dict[str, list[int]] = defaultdict(list)
    if created is None or not moves:
        return found
    start, current = created, moves[0][1] or customer.stage
    for day, _, to in moves:
        found[current].append(max((day - start).days, 0))
        start, current = day, to
    return found


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


# ------------------------------------------------------------------ the manager's measures


def churn_rate(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """Per month: won customers at its start (not yet lost or silent) and how many of them were lost
    or turned silent in it; the totals: customers won by the end and not gone before the start, and how
    many of them went in the period.  Silent means silent on ``until``; a customer contacted again since is not
    counted as churned in the past."""
    facts = []
    for customer in customers:
        won = won_on(customer)
        if won is not None:
            kind, gone = churned(customer, config, until)
            facts.append((won, kind, gone))
    rows = []
    for first in _months(since, until):
        end = min(_month_end(first), until)
        base = [(kind, gone) for won, kind, gone in facts if won < first and not (gone and gone < first)]
        lost = sum(1 for kind, gone in base if kind == "lost" and _within(gone, first, end))
        silent = sum(1 for kind, gone in base if kind == "silent" and _within(gone, first, end))
        rows.append({"month": first.strftime("%Y-%m"), "won_at_start": len(base), "lost": lost, "silent": silent,
                     "churn_rate": _pct(lost + silent, len(base))})
    start = _months(since, until)[0]
    base = [(kind, gone) for won, kind, gone in facts if won <= until and not (gone and gone < start)]
    gone_in = sum(1 for kind, gone in base if kind and _within(gone, start, until))
    return Report("churn-rate", "Churn rate: won customers lost or turned silent",
                  ["month", "won_at_start", "lost", "silent", "churn_rate"], rows,
                  {"won": len(base), "churned": gone_in, "churn_rate": _pct(gone_in, len(base))},
                  percent=("churn_rate",))


def cycle(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """Deals won in the period: days from opened to won."""
    rows: list[dict[str, Any]] = []
    for customer, deal, won in _won_deals(customers):
        opened = deal_opened(deal, customer)
        if not _within(won, since, until) or opened is None or won is None:
            continue
        rows.append({"name": customer.name, "deal": str(deal.get("name") or ""),
                     "owner": str(deal.get("owner") or customer.owner), "opened": opened.isoformat(),
                     "won_on": won.isoformat(), "days": (won - opened).days, "amount": deals.amount_of(deal)})
    rows.sort(key=lambda r: (r["won_on"], r["name"]))
    days = sorted(r["days"] for r in rows)
    middle = len(days) // 2
    median = (days[middle] if len(days) % 2 else (days[middle - 1] + days[middle]) / 2) if days else None
    return Report("cycle", "Deal cycle time (opened → won, days)",
                  ["name", "deal", "owner", "opened", "won_on", "days", "amount"], rows,
                  {"deals": len(rows), "average_days": _mean(days), "median_days": median})


def _best_reached(customer: Facts, order: list[str]) -> int:
    seen = [customer.stage, *customer.reached]
    return max((order.index(s) for s in seen if s in order), default=-1)


def conversion(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """The customers created in the period: how many reached each pipeline stage, moved on to the next,
    were lost from it, and the average days they stayed in it (where the history knows it)."""
    cohort = _created_in(customers, since, until)
    order = pipeline_stages(config)
    best = {id(c): _best_reached(c, order) for c in cohort}
    lost_stages = {c.id for c in config.stages.items if c.closed}
    stays: dict[str, list[float]] = defaultdict(list)
    for customer in cohort:
        for stage, days in days_in_stages(customer).items():
            stays[stage].extend(days)
    rows: list[dict[str, Any]] = []
    for position, stage in enumerate(order):
        reached = sum(1 for c in cohort if best[id(c)] >= position)
        advanced = sum(1 for c in cohort if best[id(c)] > position) if position + 1 < len(order) else None
        lost = sum(1 for c in cohort if best[id(c)] == position and c.stage in lost_stages)
        rows.append({"stage": stage, "label": config.stages.display(stage), "reached": reached,
                     "advanced": advanced, "conversion": _pct(advanced, reached) if advanced is not None else None,
                     "lost": lost, "average_days": _mean(stays.get(stage, []))})
    won = sum(1 for c in cohort if c.stage == "won" or won_on(c) is not None)
    return Report("conversion", "Stage conversion of the customers created in the period",
                  ["stage", "label", "reached", "advanced", "conversion", "lost", "average_days"], rows,
                  {"customers": len(cohort), "won": won, "conversion": _pct(won, len(cohort))},
                  percent=("conversion",))


def trend(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """Per month: new customers, customers won, deals won and their value (in the vault's currency),
    follow-ups."""
    months = _months(since, until)
    start = months[0]
    key: dict[str, dict[str, Any]]  # a row per month, as the report holds it
    key = {m.strftime("%Y-%m"): {"month": m.strftime("%Y-%m"), "new_customers": 0, "won_customers": 0,
                                   "won_deals": 0, "won_value": 0.0, "followups": 0} for m in months}

    def bump(day: date | None, column: str, amount: float = 1) -> None:
        if _within(day, start, until):
            key[day.strftime("%Y-%m")][column] += amount

    for customer in customers:
        bump(customer.created, "new_customers")
        bump(won_on(customer), "won_customers")
    first, last = start.isoformat(), until.isoformat()  # the days ``bump`` counts
    for day, count in Counter(day for c in customers for day, _, _ in c.contacts(first, last)).items():
        bump(date.fromisoformat(day), "followups", count)
    for _customer, deal, won in _won_deals(customers):
        if str(deal.get("currency") or config.currency) == config.currency:
            bump(won, "won_deals")
            bump(won, "won_value", deals.amount_of(deal))
    rows = list(key.values())
    columns = ["month", "new_customers", "won_customers", "won_deals", "won_value", "followups"]
    totals = {c: sum(r[c] for r in rows) for c in columns[1:]}
    return Report("trend", f"Sales trend by month ({config.currency})", columns, rows, totals)


def repeat(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """Customers with a deal won in the period, and how many of them have won more than one deal."""
    by_customer: dict[int, list[tuple[dict[str, Any], date | None]]] = defaultdict(list)
    owners_of = {}
    for customer, deal, won in _won_deals(customers):
        if won is None or won <= until:
            by_customer[id(customer)].append((deal, won))
            owners_of[id(customer)] = customer
    rows: list[dict[str, Any]] = []
    for key, won_deals in by_customer.items():
        days = sorted(d for _, d in won_deals if d)
        if since is not None and not any(_within(d, since, until) for d in days):
            continue
        customer = owners_of[key]
        rows.append({"name": customer.name, "owner": customer.owner, "won_deals": len(won_deals),
                     "won_value": round(sum(deals.amount_of(d) for d, _ in won_deals), 2),
                     "first_won": days[0].isoformat() if days else None,
                     "last_won": days[-1].isoformat() if days else None})
    rows.sort(key=lambda r: (-r["won_deals"], r["name"]))
    repeaters = sum(1 for r in rows if r["won_deals"] > 1)
    return Report("repeat", "Repeat purchase: customers with more than one won deal",
                  ["name", "owner", "won_deals", "won_value", "first_won", "last_won"], rows,
                  {"buyers": len(rows), "repeat_buyers": repeaters, "repeat_rate": _pct(repeaters, len(rows))},
                  percent=("repeat_rate",))


RATINGS = ("1", "2", "3", "4", "5")


def satisfaction(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """Ticket satisfaction ratings (1-5) by the month the ticket was closed (else opened)."""
    months = _months(since, until)
    per_month: dict[str, list[int]] = {m.strftime("%Y-%m"): [] for m in months}
    for customer in customers:
        for ticket in customer.tickets:
            rating = ticket.get("satisfaction")
            day = _when(ticket.get("closed")) or _when(ticket.get("opened"))
            if isinstance(rating, int) and 1 <= rating <= 5 and _within(day, months[0], until):
                per_month[day.strftime("%Y-%m")].append(rating)
    rows = []
    for month, ratings in per_month.items():
        counts = Counter(str(r) for r in ratings)
        rows.append({"month": month, "rated": len(ratings), "average": _mean([float(r) for r in ratings]),
                     **{r: counts.get(r, 0) for r in RATINGS}})
    every = [r for ratings in per_month.values() for r in ratings]
    counts = Counter(str(r) for r in every)
    return Report("satisfaction", "Satisfaction of closed tickets (1-5)", ["month", "rated", "average", *RATINGS],
                  rows, {"rated": len(every), "average": _mean([float(r) for r in every]),
                         "distribution": {r: counts.get(r, 0) for r in RATINGS},
                         "satisfied": _pct(sum(1 for r in every if r >= 4), len(every))},
                  percent=("satisfied",))


def completeness(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """How many customers created in the period have each field filled, and how many of those with a
    cadence or a planned step are not overdue (``followup_in_cadence``, share of those)."""
    cohort = _created_in(customers, since, until)
    rows: list[dict[str, Any]] = []
    for at, (name, definition) in enumerate(config.fields.items()):
        filled = sum(1 for c in cohort if c.filled >> at & 1)
        rows.append({"field": name, "label": definition.label or name, "required": definition.required,
                     "filled": filled, "share": _pct(filled, len(cohort))})
    due = [found for c in cohort if (found := c.timeline.at(until).due_on(until)) is not None]  # cadence or a step
    in_cadence = sum(1 for day in due if day >= until)
    rows.append({"field": "followup_in_cadence", "label": word(config.language, "followup_in_cadence"),
                 "required": False, "filled": in_cadence, "share": _pct(in_cadence, len(due))})
    optional = [r["share"] for r in rows if not r["required"] and r["share"] is not None]
    return Report("completeness", "Data completeness per field", ["field", "label", "required", "filled", "share"],
                  rows, {"customers": len(cohort), "average_share": _mean(optional)},
                  percent=("share", "average_share"))


COSTS_KEY = "acquisition_costs"  # crmnotes.yaml: [{source: ad, month: 2026-06, cost: 12000}, {campaign: x, cost: 1}]


def recorded_costs(config: VaultConfig) -> list[dict[str, Any]]:
    """The acquisition costs of crmnotes.yaml, checked."""
    from .errors import ConfigError

    found = config.raw.get(COSTS_KEY) or []
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise ConfigError(f"crmnotes.yaml: {COSTS_KEY} must be a list of {{source or campaign, month, cost}}.",
                          "See the example in the README (Reports).")
    for item in found:
        if not (item.get("source") or item.get("campaign")) or not isinstance(item.get("cost"), (int, float)):
            raise ConfigError(f"crmnotes.yaml: every {COSTS_KEY} entry needs a source or campaign and a cost "
                              f"number (found {item}).", "Fix the entry.")
    return found


def acquisition(customers: list[Facts], config: VaultConfig, since: date | None, until: date) -> Report:
    """Per source and per campaign with a recorded cost: cost in the period, customers acquired in it,
    won, and the cost per customer and per won customer."""
    cohort = _created_in(customers, since, until)
    costs: dict[tuple[str, str], float] = defaultdict(float)
    for item in recorded_costs(config):
        month = str(item.get("month") or "")
        if month:
            first = _when(f"{month}-01")
            if first is None or not (since is None or _month_end(first) >= since) or first > until:
                continue
        kind = "campaign" if item.get("campaign") else "source"
        value = str(item[kind])
        costs[(kind, config.choice_set("sources").canonical(value) if kind == "source" else value)] += item["cost"]
    rows = []
    for (kind, value), cost in sorted(costs.items()):
        members = [c for c in cohort if c.text(kind) == value]
        won = sum(1 for c in members if won_on(c) is not None)
        label = config.choice_set("sources").display(value) if kind == "source" else value
        rows.append({"kind": kind, "name": value, "label": label, "cost": round(cost, 2),
                     "customers": len(members), "won": won, "conversion": _pct(won, len(members)),
                     "cost_per_customer": round(cost / len(members), 2) if members else None,
                     "cost_per_won": round(cost / won, 2) if won else None})
    return Report("acquisition", f"Acquisition cost ({config.currency})",
                  ["kind", "name", "label", "cost", "customers", "won", "conversion", "cost_per_customer",
                   "cost_per_won"], rows, {"cost": round(sum(costs.values()), 2)}, percent=("conversion",))


# ------------------------------------------------------------------ between two days (from git history)

HISTORY_REPORTS = ("movement",)  # need the customers on two days: crm report movement --since --until


def movement(before: list[Customer], after: list[Customer], config: VaultConfig, since: date, until: date
             ) -> Report:
    """Deals that moved between two days: new, won, lost, advanced, moved back, or slipped (a later close
    date, or a close date that passed while the deal stayed open)."""
    order = deals.stages(config).ids
    then = {key: deal for key, _, deal in _deal_keys(before)}
    rows: list[dict[str, Any]] = []
    for key, customer, deal in _deal_keys(after):
        old = then.get(key)
        stage, was = str(deal.get("stage", "")), str((old or {}).get("stage", ""))
        kind = _moved(old, deal, was, stage, order, until)
        if not kind:
            continue
        close_then = deals.close_of(old) if old else None
        rows.append({"name": customer.name, "deal": str(deal.get("name") or ""), "kind": kind,
                     "from": deals.stages(config).display(was) if was else None,
                     "to": deals.stages(config).display(stage), "amount": deals.amount_of(deal),
                     "close_before": close_then.isoformat() if close_then else None,
                     "close": close.isoformat() if (close := deals.close_of(deal)) else None})
    rows.sort(key=lambda r: (MOVES.index(r["kind"]), r["name"], r["deal"]))
    counts = Counter(r["kind"] for r in rows)
    won_value = sum(r["amount"] for r in rows if r["kind"] == "won")
    return Report("movement", f"Pipeline movement {since.isoformat()} → {until.isoformat()}",
                  ["name", "deal", "kind", "from", "to", "amount", "close_before", "close"], rows,
                  {**{kind: counts.get(kind, 0) for kind in MOVES}, "won_value": won_value}, since, until)


MOVES = ("won", "lost", "new", "advanced", "moved back", "slipped")


def _deal_keys(customers: list[Customer]) -> list[tuple[tuple[str, str], Customer, dict[str, Any]]]:
    return [((customer.id or customer.path.name, str(deal.get("id") or deal.get("name") or index)), customer, deal)
            for customer in customers for index, deal in enumerate(customer.deals)]


def _moved(old: dict[str, Any] | None, deal: dict[str, Any], was: str, stage: str, order: list[str],
           until: date) -> str:
    if old is None:
        return "new"
    if stage != was:
        if deals.is_won(deal) and not deals.is_won(old):
            return "won"
        if stage == deals.LOST:
            return "lost"
        if stage in order and was in order:
            return "advanced" if order.index(stage) > order.index(was) else "moved back"
    if deals.is_open(deal):
        close_then, close_now = deals.close_of(old), deals.close_of(deal)
        if close_then and close_now and close_now > close_then:
            return "slipped"
        if close_then and close_then < until and close_now == close_then:
            return "slipped"
    return ""
