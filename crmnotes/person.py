"""PIPL requests about one person: what the vault holds about them, and erasing it.

China's Personal Information Protection Law gives a person the right to a copy
of their data (``crm person export``) and to its deletion (``crm person
erase``).  The person is a customer file's subject (the customer and its
contact); other customer files that mention their name, phone or email are
listed, never rewritten silently: a mention in someone else's follow-up is
for a person to judge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .model import Customer
from .vault import Vault


@dataclass
class PersonRecord:
    customer: Customer
    data: dict[str, Any]  # the customer's JSON: fields, follow-ups, deals, tickets
    mentions: list[str] = field(default_factory=list)  # other customer files naming the person

    def to_json(self) -> dict[str, Any]:
        return {"person": self.data, "mentioned_in": self.mentions}


def traces(customer: Customer) -> list[str]:
    """The strings that identify the person: names (a company's also without 有限公司 / Ltd), phones (as
    stored and as dialled at home), emails."""
    from .naming import strip_company_suffix

    found = [customer.name, strip_company_suffix(customer.name), customer.text("contact")]
    for key in ("phone", "email"):
        value = customer.meta.get(key)
        found += [str(v) for v in value] if isinstance(value, list) else [str(value or "")]
    found += [t.removeprefix("+86") for t in found if t.startswith("+86")]
    return sorted({t.strip() for t in found if len(t.strip()) >= 2}, key=lambda t: (-len(t), t))


def collect(vault: Vault, customer: Customer, today: date | None = None) -> PersonRecord:
    """Everything the working tree holds about the person (unmasked: it is their own data)."""
    from .shape import customer_json

    record = PersonRecord(customer, customer_json(vault, customer, reveal=True, today=today))
    wanted = traces(customer)
    for path in vault.customer_paths():
        if not isinstance(path, Path) or path == customer.path:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if any(t in text for t in wanted):
            record.mentions.append(vault.relative(path))
    return record


def erase(vault: Vault, customer: Customer) -> list[str]:
    """Delete the customer's file and the caches that copy its text (search index, listing); the
    relative paths removed.  History still holds it until it is purged."""
    removed = [vault.relative(customer.path)]
    customer.path.unlink()
    cache = vault.cache_dir
    if cache.is_dir():
        for folder, _, files in os.walk(cache, topdown=False):
            for name in files:
                if not name.endswith(".lock"):  # another process may hold a lock: leave the file
                    Path(folder, name).unlink(missing_ok=True)
    return removed
