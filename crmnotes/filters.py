"""Which customers a list shows, in which order: the filters and sort keys of
``crm ls``, the TUI table and the catalog's fast paths.

Kept apart from ``actions`` so a listing imports neither the note parser nor
the validation rules; the due rules and the name collation are imported when
a list is actually chosen from customer objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .config import fold
from .errors import CrmError

if TYPE_CHECKING:
    from .model import Customer
    from .vault import Vault


@dataclass
class Filters:
    stage: str = ""
    tag: str = ""
    owner: str = ""
    grade: str = ""
    mine_user: str = ""  # set when --mine: the vault user


def _collation_key(customer: Customer) -> str:
    if customer.sort_key:
        return customer.sort_key
    from .naming import collation_key  # pypinyin for Chinese names

    return collation_key(customer.name)


SORT_KEYS: dict[str, Callable[[Customer], Any]] = {
    "name": _collation_key,
    "created": lambda c: c.created or datetime.min,
    "last": lambda c: c.last_contact or datetime.min,
    "stage": lambda c: c.stage,
    "grade": lambda c: c.grade or "~",
    "owner": lambda c: c.owner,
    "next": lambda c: c.next_followup or date.max,
}


def check_sort(sort: str) -> str:
    """The sort key name of ``sort`` (``-`` reverses); a clear error for an unknown one."""
    name = sort.lstrip("-")
    if name not in SORT_KEYS:
        raise CrmError(f"cannot sort by '{sort}'.", f"Use one of: {', '.join(SORT_KEYS)} (prefix - to reverse).")
    return name


def has_tag(tags: list[str], wanted: str) -> bool:
    """``needs/data-security`` matches itself; ``needs`` or ``needs/`` the whole namespace."""
    prefix = wanted.rstrip("/") + "/"
    return any(t == wanted or t.startswith(prefix) for t in tags)


def list_customers(vault: Vault, filters: Filters, sort: str = "name", today: date | None = None,
                   customers: list[Customer] | None = None) -> list[Customer]:
    from .due import effective_stage

    config = vault.config
    today = today or date.today()
    pool = customers if customers is not None else vault.scan().customers
    stage = config.stages.canonical(filters.stage) if filters.stage else ""
    grades = config.choices.get("grades")
    grade = grades.canonical(filters.grade) if grades and filters.grade else filters.grade
    owner = filters.owner or filters.mine_user
    chosen = []
    for customer in pool:
        if stage and effective_stage(customer, config, today) != stage:
            continue
        if grade and customer.grade != grade:
            continue
        if owner and fold(customer.owner) != fold(owner):
            continue
        if filters.tag and not has_tag(customer.tags, filters.tag):
            continue
        chosen.append(customer)
    key = SORT_KEYS[check_sort(sort)]
    return sorted(chosen, key=key, reverse=sort.startswith("-"))
