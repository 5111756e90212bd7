"""Who to contact, when, and why: next follow-up dates, cadence and silence.

* An explicit next step wins: the front-matter ``next_followup`` (while it is
  still ahead of the last contact) and the ``next:`` date of the latest
  follow-up; the earlier of the two, so no planned step is missed.
* Otherwise cadence: the shorter of the stage's and the grade's interval in
  crmnotes.yaml, counted from the last contact (or from creation).
* A customer not contacted for ``silent_after_days`` is *silent*; silent and
  closed stages have no cadence, only explicit next steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .config import VaultConfig
from .model import Customer
from .tickets import open_ticket_due


@dataclass(frozen=True)
class DueInfo:
    customer: Customer
    due: date
    reason: str
    rule: str  # "next-step" | "cadence" | "ticket"

    def days_overdue(self, today: date) -> int:
        return (today - self.due).days

    def status(self, today: date) -> str:
        days = self.days_overdue(today)
        return "overdue" if days > 0 else "due" if days == 0 else "upcoming"


def effective_stage(customer: Customer, config: VaultConfig, today: date) -> str:
    """The stored stage, or the computed silent stage after long silence."""
    stage = customer.stage
    silent = config.silent_stage
    found = config.stages.find(stage) if stage else None
    if silent is None or (found is not None and found.closed):
        return stage
    last = customer.last_contact or customer.created
    if last is not None and (today - last.date()).days >= config.silent_after_days:
        return silent
    return stage


def next_due(customer: Customer, config: VaultConfig, today: date) -> DueInfo | None:
    """When this customer should next be contacted, and by which rule.

    An open service ticket counts too: the customer is due from the ticket's
    due (or opened) day when that comes before the contact rules' date.
    """
    info = _contact_due(customer, config, today)
    ticket = open_ticket_due(customer)
    if ticket is not None and (info is None or ticket[0] < info.due):
        return DueInfo(customer, ticket[0], ticket[1], "ticket")
    return info


def _contact_due(customer: Customer, config: VaultConfig, today: date) -> DueInfo | None:
    last = customer.last_contact
    planned: list[tuple[date, str]] = []
    fm_next = customer.next_followup
    if fm_next is not None and (last is None or fm_next > last.date()):
        planned.append((fm_next, ""))
    latest = max((f for f in customer.followups if f.is_contact), key=lambda f: f.at, default=None)
    if latest is not None and latest.next_date is not None:
        planned.append((latest.next_date, latest.next_what))
    if planned:
        when, what = min(planned, key=lambda p: (p[0], not p[1]))  # on a tie, the one that says what
        label = f": {what}" if what else ""
        return DueInfo(customer, when, f"next step planned for {when.isoformat()}{label}", "next-step")
    return _cadence_due(customer, config, today)


def _cadence_due(customer: Customer, config: VaultConfig, today: date) -> DueInfo | None:
    stage = effective_stage(customer, config, today)
    if stage in config.stage_cadence and config.stage_cadence[stage] is None:
        return None
    found = config.stages.find(stage) if stage else None
    if found is not None and (found.closed or found.computed):
        return None
    rules = []
    if config.stage_cadence.get(stage):
        rules.append((config.stage_cadence[stage], f"stage {stage}"))
    if config.grade_cadence.get(customer.grade):
        rules.append((config.grade_cadence[customer.grade], f"grade {customer.grade}"))
    if not rules:
        return None
    days, rule = min(rules, key=lambda r: (r[0] or 0))
    assert days is not None
    last = customer.last_contact
    if last is not None:
        base, since = last.date(), f"last contact {last.date().isoformat()}"
    elif customer.created is not None:
        base, since = customer.created.date(), f"never contacted, created {customer.created.date().isoformat()}"
    else:
        return DueInfo(customer, today, f"{rule}: every {days} days; never contacted", "cadence")
    return DueInfo(customer, base + timedelta(days=days), f"{rule}: every {days} days; {since}", "cadence")


def due_list(customers: list[Customer], config: VaultConfig, on: date) -> list[DueInfo]:
    """Customers due on or before ``on``, most overdue first."""
    items = [info for c in customers if (info := next_due(c, config, on)) is not None and info.due <= on]
    return sorted(items, key=lambda i: (i.due, i.customer.name))
