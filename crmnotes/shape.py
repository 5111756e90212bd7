"""The SPEC's JSON shape of a customer: what ``show --json``, ``ls --json`` (via the listing cache),
exports and person records print.  Kept apart from ``actions`` so reading one customer into the
listing cache loads no write commands (duplicate checks, editors, file moves)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .due import effective_stage
from .model import Customer, format_minute
from .secret import opened
from .sensitive import mask_phone
from .vault import Vault


def customer_json(
    vault: Vault, customer: Customer, *, reveal: bool = False, today: date | None = None
) -> dict[str, Any]:
    """The SPEC's JSON shape of one customer (extra front-matter keys included)."""
    from .due import next_due

    today = today or date.today()
    customer = opened(customer)
    data: dict[str, Any] = {k: jsonable(v) for k, v in customer.meta.items()}
    phone = customer.text("phone")
    due = next_due(customer, vault.config, today)
    data.update({
        "id": customer.id, "name": customer.name, "industry": customer.text("industry"),
        "contact": customer.text("contact"),
        "phone": phone if reveal or not phone else mask_phone(phone, vault.config.phone_region),
        "email": customer.text("email"), "source": customer.text("source"), "stage": customer.stage,
        "effective_stage": effective_stage(customer, vault.config, today), "grade": customer.grade,
        "owner": customer.owner, "tags": customer.tags, "created": customer.text("created"),
        "next_followup": customer.text("next_followup") or None,
        "last_contact": format_minute(customer.last_contact) if customer.last_contact else None,
        "due": due.due.isoformat() if due else None, "due_reason": due.reason if due else None,
        "path": vault.relative(customer.path),
        "followups": [f.to_json() for f in customer.followups],
        "deals": [jsonable(d) for d in customer.deals], "tickets": [jsonable(t) for t in customer.tickets],
    })
    if "contacts" in customer.meta and not reveal:
        from .contacts import masked

        data["contacts"] = jsonable(masked(customer.meta["contacts"], vault.config.phone_region))
    return data


def jsonable(value: Any) -> Any:
    """Front-matter values as JSON can hold them: dates as ISO text, date-times to the minute."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return format_minute(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
