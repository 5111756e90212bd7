"""Service tickets of a customer, kept in its front-matter ``tickets:`` list.

A ticket is a small mapping::

    tickets:
      - id: T1
        subject: 二号车间采集网关离线
        type: fault
        priority: high
        status: in-progress
        opened: 2026-11-20
        owner: 张伟
        resolution: 更换网关电源
        satisfaction: 5
        closed: 2026-11-22

Types, priorities and statuses come from crmnotes.yaml (``ticket_types``,
``ticket_priorities``, ``ticket_statuses``).  Writes replace only the
``tickets:`` block.  A ticket that is not resolved or closed makes its
customer due (see ``open_ticket_due``, used by ``crmnotes.due``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from . import note, rules
from .config import ChoiceSet, VaultConfig, fold
from .errors import CrmError, refuse_errors
from .model import Customer, FieldIssue, date_issue, parse_when
from .team import person_value
from .vault import Vault

TYPES, PRIORITIES, STATUSES = "ticket_types", "ticket_priorities", "ticket_statuses"
DONE_STATUSES = ("resolved", "closed")
OPEN_STATUS = "open"
PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


@dataclass
class TicketInput:
    """A ticket as typed; empty strings mean "not given"."""

    subject: str = ""
    type: str = ""
    priority: str = ""
    status: str = ""
    owner: str = ""
    resolution: str = ""
    satisfaction: str = ""
    due: str = ""


def is_open(ticket: dict[str, Any]) -> bool:
    return str(ticket.get("status", OPEN_STATUS)) not in DONE_STATUSES


def _choice(config: VaultConfig, list_name: str, field_name: str, value: str,
            issues: list[FieldIssue]) -> str | None:
    choices: ChoiceSet = config.choice_set(list_name)
    found = choices.find(value)
    if found is None:
        options = ", ".join(f"{c.id} ({c.label})" if c.label else c.id for c in choices.items)
        issues.append(FieldIssue(field_name, f"'{value}' is not a ticket {field_name} (choose one of: {options})"))
        return None
    return found.id


def prepare_ticket(config: VaultConfig, draft: TicketInput, base: dict[str, Any] | None = None,
                   today: date | None = None) -> tuple[dict[str, Any], list[FieldIssue]]:
    """The stored mapping for a new ticket (``base`` None) or an updated one."""
    today = today or date.today()
    creating = base is None
    ticket: dict[str, Any] = dict(base or {})
    issues: list[FieldIssue] = []
    subject = " ".join(note.clean_text(draft.subject).split())
    if subject:
        ticket["subject"] = subject
    elif creating:
        issues.append(FieldIssue("subject", "a ticket needs a subject (what the customer asks or reports)"))
    defaults = {"type": "question", "priority": "normal", "status": OPEN_STATUS} if creating else {}
    for key, list_name, given in (("type", TYPES, draft.type), ("priority", PRIORITIES, draft.priority),
                                  ("status", STATUSES, draft.status)):
        value = given.strip() or defaults.get(key, "")
        if value:
            chosen = _choice(config, list_name, key, value, issues)
            if chosen:
                ticket[key] = chosen
    if creating:
        ticket["opened"] = today
    for key, text in (("owner", draft.owner), ("resolution", draft.resolution)):
        if text.strip():
            ticket[key] = note.clean_text(text).strip()
    if ticket.get("owner") and draft.owner.strip():
        ticket["owner"] = person_value(config, ticket["owner"], "owner", issues)
    if draft.satisfaction.strip():
        if re.fullmatch(r"[1-5]", draft.satisfaction.strip()):
            ticket["satisfaction"] = int(draft.satisfaction.strip())
        else:
            issues.append(FieldIssue("satisfaction", f"'{draft.satisfaction}' is not a rating from 1 to 5"))
    if draft.due.strip():
        when = parse_when(draft.due)
        if when is None:
            issues.append(FieldIssue("due", date_issue(draft.due)))
        else:
            ticket["due"] = when.date()
    was_open = is_open(base or {})
    if not is_open(ticket) and (creating or was_open):
        ticket["closed"] = today
    elif is_open(ticket):
        ticket.pop("closed", None)
    for kind, masked, _ in rules.find_sensitive(" ".join(str(v) for v in ticket.values())):
        issues.append(FieldIssue("ticket", f"a {kind} ({masked}) must not be stored in the vault"))
    return ticket, issues


def find_ticket(tickets: list[dict[str, Any]], ref: str) -> int:
    ref = ref.strip()
    for i, ticket in enumerate(tickets):
        if fold(str(ticket.get("id", ""))) == fold(ref):
            return i
    if ref.isdigit() and 1 <= int(ref) <= len(tickets):
        return int(ref) - 1
    shown = "; ".join(f"{t.get('id') or i + 1} {t.get('subject', '')}" for i, t in enumerate(tickets)) or "none"
    raise CrmError(f"no ticket matches '{ref}' (tickets: {shown}).", "Use the ticket id (T1, T2, ...).")


def next_ticket_id(tickets: list[dict[str, Any]]) -> str:
    numbers = [int(m.group(1)) for t in tickets if (m := re.fullmatch(r"T(\d+)", str(t.get("id", ""))))]
    return f"T{max([*numbers, len(tickets)]) + 1}"


def _tickets_in(doc: note.Document) -> list[dict[str, Any]]:
    value = doc.meta.get("tickets")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise CrmError("the customer's 'tickets:' field is not a list of tickets.", "Fix it with 'crm edit'.")
    return [dict(t) for t in value]


def open_ticket(vault: Vault, customer: Customer, draft: TicketInput, *, by: str = "",
                today: date | None = None) -> tuple[Customer, str]:
    """Add a ticket; returns the updated customer and the new ticket's id."""
    if not draft.owner.strip():
        draft.owner = customer.owner or by
    ticket, issues = prepare_ticket(vault.config, draft, today=today)
    refuse_errors(issues)
    new_id: list[str] = []

    def edit(doc: note.Document) -> str:
        current = _tickets_in(doc)
        new_id[:] = [next_ticket_id(current)]
        return note.set_fields(doc, {"tickets": [*current, {"id": new_id[0], **ticket}]})

    updated = vault.update(customer.path, edit)
    return updated, new_id[0]


def update_ticket(vault: Vault, customer: Customer, ref: str, draft: TicketInput, *,
                  today: date | None = None) -> Customer:
    """Change a ticket's fields (status, priority, resolution, satisfaction, ...)."""
    index = find_ticket(customer.tickets, ref)
    _, issues = prepare_ticket(vault.config, draft, customer.tickets[index], today)
    refuse_errors(issues)

    def edit(doc: note.Document) -> str:
        current = _tickets_in(doc)
        position = find_ticket(current, ref)  # the fresh file may differ from what was read
        updated, _ = prepare_ticket(vault.config, draft, current[position], today)
        if updated == current[position]:
            return doc.text
        current[position] = updated
        return note.set_fields(doc, {"tickets": current})

    return vault.update(customer.path, edit)


def close_ticket(vault: Vault, customer: Customer, ref: str, draft: TicketInput, *,
                 today: date | None = None) -> Customer:
    """Close a ticket (status ``closed`` unless another done status is given)."""
    if not draft.status.strip():
        draft.status = "closed"
    found = vault.config.choice_set(STATUSES).find(draft.status)
    if found is not None and found.id not in DONE_STATUSES:
        raise CrmError(f"'{draft.status}' does not close a ticket.", "Use resolved or closed, or 'crm ticket update'.")
    return update_ticket(vault, customer, ref, draft, today=today)


def ticket_rows(customers: list[Customer], *, status: str = "", open_only: bool = False, owner: str = ""
                ) -> list[tuple[Customer, dict[str, Any]]]:
    rows = []
    for customer in customers:
        for ticket in customer.tickets:
            if status and str(ticket.get("status", "")) != status:
                continue
            if open_only and not is_open(ticket):
                continue
            if owner and fold(str(ticket.get("owner") or customer.owner)) != fold(owner):
                continue
            rows.append((customer, ticket))
    rows.sort(key=lambda r: (PRIORITY_ORDER.get(str(r[1].get("priority")), 9), str(r[1].get("opened", ""))))
    return rows


def open_ticket_due(customer: Customer) -> tuple[date, str] | None:
    """(due day, reason) of the customer's most pressing open ticket, or None.

    An open ticket is due from its ``due:`` date when it has one, else from
    the day it was opened: a waiting customer is always someone to contact.
    """
    best: tuple[date, int, str] | None = None
    for ticket in customer.tickets:
        if not is_open(ticket):
            continue
        when = parse_when(ticket.get("due")) or parse_when(ticket.get("opened"))
        if when is None:
            continue
        priority = str(ticket.get("priority", "normal"))
        key = (when.date(), PRIORITY_ORDER.get(priority, 9),
               f"open ticket {ticket.get('id', '')} ({priority}, {ticket.get('status', OPEN_STATUS)}): "
               f"{ticket.get('subject', '')}")
        if best is None or key[:2] < best[:2]:
            best = key
    return (best[0], best[2]) if best else None


def ticket_opened_at(ticket: dict[str, Any]) -> datetime | None:
    return parse_when(ticket.get("opened"))
