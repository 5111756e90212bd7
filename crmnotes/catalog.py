"""Listing rows: what list views (``crm ls``, the TUI table) need to show,
without each face opening files itself.

This is the seam between the faces and the storage: ``load`` serves the
customers from the search index's stored fields (refreshed incrementally
first), so a 10,000-customer vault lists without parsing every file; when
the index cannot be used (say, a read-only vault) it reads the files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from .actions import Filters, list_customers
from .due import effective_stage, next_due
from .errors import CrmError
from .model import Customer, format_minute
from .vault import ScanResult, Vault


@dataclass
class Row:
    id: str
    name: str
    path: str  # relative to the vault root
    industry: str = ""
    contact: str = ""
    phone: str = ""
    email: str = ""
    source: str = ""
    stage: str = ""  # effective stage (silent is computed)
    grade: str = ""
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    created: datetime | None = None
    last_contact: datetime | None = None
    due: date | None = None
    due_reason: str = ""
    followup_count: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("created", "last_contact"):
            data[key] = format_minute(data[key]) if data[key] else None
        data["due"] = self.due.isoformat() if self.due else None
        return data


def row_of(vault: Vault, customer: Customer, today: date) -> Row:
    due = next_due(customer, vault.config, today)
    return Row(
        id=customer.id, name=customer.name, path=vault.relative(customer.path),
        industry=customer.text("industry"), contact=customer.text("contact"), phone=customer.text("phone"),
        email=customer.text("email"), source=customer.text("source"),
        stage=effective_stage(customer, vault.config, today), grade=customer.grade, owner=customer.owner,
        tags=customer.tags, created=customer.created, last_contact=customer.last_contact,
        due=due.due if due else None, due_reason=due.reason if due else "", followup_count=len(customer.followups),
    )


def rows(vault: Vault, filters: Filters | None = None, sort: str = "name", today: date | None = None) -> list[Row]:
    today = today or date.today()
    customers = list_customers(vault, filters or Filters(), sort, today, customers=load(vault).customers)
    return [row_of(vault, c, today) for c in customers]


def load(vault: Vault) -> ScanResult:
    """Every customer (without body text) and every unreadable file, like ``Vault.scan``."""
    try:
        from .search import load_customers  # the index is an adapter: imported only when used

        return load_customers(vault)
    except (CrmError, OSError, ImportError):
        return vault.scan()
