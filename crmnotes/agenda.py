"""The agenda: tasks and due customers interleaved by time, in three parts (overdue, today, the coming days).

A customer due by the next-step rule is shown through its tasks (with their
times and assignees); a customer due by any other rule (cadence, a ticket, a
renewal, a birthday, ...) is one line at the start of its day, for its owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from .config import VaultConfig, fold
from .due import next_due
from .model import Customer
from .tasks import Task, customer_tasks
from .vault import Vault

SECTIONS = ("overdue", "today", "upcoming")


@dataclass(frozen=True)
class AgendaItem:
    customer: Customer
    day: date
    at: time | None
    who: str
    what: str
    rule: str  # "task" or the due rule's name
    task: Task | None = None

    def moment(self) -> datetime:
        return datetime.combine(self.day, self.at or time())

    def section(self, today: date) -> str:
        return "overdue" if self.day < today else "today" if self.day == today else "upcoming"

    def when_text(self) -> str:
        return f"{self.day.isoformat()} {self.at.strftime('%H:%M')}" if self.at else self.day.isoformat()

    def to_json(self, vault: Vault, today: date) -> dict[str, Any]:
        return {"section": self.section(today), "date": self.day.isoformat(),
                "time": self.at.strftime("%H:%M") if self.at else None, "kind": "task" if self.task else "due",
                "rule": self.rule, "id": self.customer.id, "name": self.customer.name, "assignee": self.who,
                "what": self.what, "path": vault.relative(self.customer.path)}


def customer_agenda(customer: Customer, config: VaultConfig, today: date) -> list[AgendaItem]:
    """What the customer puts on the agenda: its tasks, or its due date by another rule."""
    items = [AgendaItem(customer, t.day, t.at, t.assignee, t.what, "task", t) for t in customer_tasks(customer)]
    due = next_due(customer, config, today)
    if due is not None and not (due.rule == "next-step" and items):
        items.append(AgendaItem(customer, due.due, None, customer.owner, due.reason, due.rule))
    return items


def agenda(customers: list[Customer], config: VaultConfig, today: date, days: int = 7,
           assignee: str = "") -> list[AgendaItem]:
    """Everything overdue, due today or in the next ``days`` days, by time."""
    last = today + timedelta(days=max(days - 1, 0))
    found = [item for c in customers for item in customer_agenda(c, config, today) if item.day <= last]
    if assignee:
        found = [i for i in found if fold(i.who) == fold(assignee)]
    return sorted(found, key=lambda i: (i.moment(), i.customer.name, i.what))
