"""Tasks: the open next steps of every customer, with their time and assignee, and the ways to close them.

A task is a next step still open by the rule in ``due.py``.  Its assignee is
the ``@who`` written with it, else the entry's author, else the customer's
owner.  Closing, snoozing and reassigning never rewrite an earlier entry: each
appends one follow-up whose ``done:`` line closes the step by its text, and
(snooze, reassign) whose ``next:`` plans it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from . import note
from .config import fold
from .due import NextStep, open_next_steps, status_of
from .errors import CrmError
from .model import Customer, FollowUp
from .vault import Vault

TASK_CHANNEL = "other"


@dataclass(frozen=True)
class Task:
    customer: Customer
    step: NextStep

    @property
    def day(self) -> date:
        return self.step.day

    @property
    def at(self) -> time | None:
        return self.step.at

    @property
    def what(self) -> str:
        return self.step.what

    @property
    def assignee(self) -> str:
        return self.step.assignee or self.customer.owner

    def moment(self) -> datetime:
        """When it is due; a task without a time sorts at the start of its day."""
        return datetime.combine(self.day, self.at or time())

    def status(self, today: date) -> str:
        return status_of(self.day, today)

    def when_text(self) -> str:
        return f"{self.day.isoformat()} {self.at.strftime('%H:%M')}" if self.at else self.day.isoformat()

    def to_json(self, vault: Vault, today: date) -> dict[str, Any]:
        return {
            "id": self.customer.id, "name": self.customer.name, "date": self.day.isoformat(),
            "time": self.at.strftime("%H:%M") if self.at else None, "assignee": self.assignee,
            "planned_by": self.step.by, "what": self.what, "status": self.status(today),
            "days_overdue": max((today - self.day).days, 0), "path": vault.relative(self.customer.path),
        }


def customer_tasks(customer: Customer) -> list[Task]:
    """The customer's open steps as tasks (the front-matter's bare ``next_followup`` is a due date, not a task)."""
    return [Task(customer, step) for step in open_next_steps(customer)]


def open_tasks(customers: list[Customer], *, assignee: str = "", due_by: date | None = None) -> list[Task]:
    """Every open task, earliest first; only ``assignee``'s, only those due on or before ``due_by``."""
    found = [task for customer in customers for task in customer_tasks(customer)]
    if assignee:
        found = [t for t in found if fold(t.assignee) == fold(assignee)]
    if due_by is not None:
        found = [t for t in found if t.day <= due_by]
    return sorted(found, key=lambda t: (t.moment(), t.customer.name))


def _pick(customer: Customer, what: str) -> list[Task]:
    """The open tasks ``what`` names (all of them when empty), or a clear refusal."""
    tasks = customer_tasks(customer)
    if not tasks:
        raise CrmError(f"{customer.name} has no open next step.", "Plan one with `crm log REF --next 'WHEN what'`.")
    if not what:
        return tasks
    chosen = [t for t in tasks if t.what == what] or [t for t in tasks if what in t.what]
    if not chosen:
        listed = "; ".join(f"{t.when_text()} {t.what}".strip() for t in tasks)
        raise CrmError(f"no open step of {customer.name} matches '{what}'.", f"Open steps: {listed}.")
    return chosen


def _step_text(task: Task) -> str:
    """What a ``done:`` line says to close ``task`` (its text; its day when it has none)."""
    return task.what or "*"


def _append(vault: Vault, customer: Customer, followup: FollowUp) -> Customer:
    return vault.update(customer.path, lambda doc: note.insert_followup(doc, followup))


def close_tasks(vault: Vault, customer: Customer, *, what: str = "", by: str = "",
                now: datetime | None = None) -> tuple[Customer, list[Task]]:
    """Mark the open steps ``what`` names done (all when empty), by appending one entry."""
    now = (now or datetime.now()).replace(second=0, microsecond=0)
    closed = _pick(customer, what)
    summary = "；".join(t.what or t.when_text() for t in closed)
    followup = FollowUp(at=now, channel=TASK_CHANNEL, by=by, note=f"完成：{summary}",
                        done=[_step_text(t) for t in closed])
    return _append(vault, customer, followup), closed


def replan_task(vault: Vault, customer: Customer, *, what: str = "", when: datetime | date | None = None,
                has_time: bool = False, assignee: str | None = None, by: str = "",
                now: datetime | None = None) -> Customer:
    """Snooze (a new day or time) or reassign (a new ``@who``) one open step: it is closed and planned again."""
    now = (now or datetime.now()).replace(second=0, microsecond=0)
    tasks = _pick(customer, what)
    if len(tasks) != 1:
        raise CrmError(f"{customer.name} has {len(tasks)} open steps; say which one.",
                       "Give part of the step's text.")
    task = tasks[0]
    day = when.date() if isinstance(when, datetime) else when or task.day
    at = when.time() if isinstance(when, datetime) and has_time else task.at if when is None else None
    who = task.step.who if assignee is None else assignee.lstrip("@")
    moved = [f"{task.when_text()} → {day.isoformat()}{' ' + at.strftime('%H:%M') if at else ''}"] if when else []
    handed = [f"{task.assignee} → {who}"] if assignee is not None else []
    followup = FollowUp(at=now, channel=TASK_CHANNEL, by=by, note=f"调整：{task.what}（{'，'.join(moved + handed)}）",
                        done=[_step_text(task)], next_date=day, next_at=at, next_who=who, next_what=task.what)
    return _append(vault, customer, followup)
