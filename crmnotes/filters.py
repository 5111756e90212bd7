"""Which customers a list shows, in which order: the filters and sort keys of
every list (``crm ls``, ``crm export``, the TUI table), defined once in ``choose``.

Kept apart from ``actions`` so a listing imports neither the note parser nor
the validation rules; the due rules and the name collation are imported when
a list is actually chosen from customer objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .config import fold
from .errors import CrmError

if TYPE_CHECKING:
    from .config import VaultConfig
    from .model import Customer
    from .vault import Vault


@dataclass
class Filters:
    stage: str = ""
    tag: str = ""
    owner: str = ""
    grade: str = ""
    mine_user: str = ""  # set when --mine: the vault user


def _collation_key(customer: Listable) -> str:
    if customer.sort_key:
        return customer.sort_key
    from .naming import collation_key  # pypinyin for Chinese names

    return collation_key(customer.name)


SORT_KEYS: dict[str, Callable[[Any], Any] | None] = {  # over anything Listable; ``sort_key`` gives each
    "name": _collation_key,
    "created": lambda c: c.created or datetime.min,
    "last": lambda c: c.last_contact or datetime.min,
    "stage": lambda c: c.stage,
    "grade": lambda c: c.grade or "~",
    "owner": lambda c: c.owner,
    "next": None,  # the due date of the day listed, the one the "next" column shows: made by ``sort_key``
}


SORT_FIELDS: dict[str, tuple[str, ...]] = {  # the fields each of SORT_KEYS reads (the due day is not a field)
    "name": ("sort_key", "name"), "created": ("created",), "last": ("last_contact",), "stage": ("stage",),
    "grade": ("grade",), "owner": ("owner",), "next": ("sort_key", "name"),
}


def sort_key(sort: str, due_on_day: Callable[[Any], date | None]) -> Callable[[Any], Any]:
    """The key of ``sort``, for ``sorted(..., reverse=sort.startswith("-"))``.  ``next`` sorts by
    ``due_on_day`` (what is due on the day listed, as the column shows it, not the front-matter
    ``next_followup``), ties by name, customers with nothing due last in either direction."""
    name = check_sort(sort)
    key = SORT_KEYS[name]
    if key is not None:
        return key
    if sort.startswith("-"):  # reversed, the undated flag must sort low to stay last
        return lambda item: ((due := due_on_day(item)) is not None, due or date.min, _collation_key(item))
    return lambda item: ((due := due_on_day(item)) is None, due or date.max, _collation_key(item))


def fields_read(filters: Filters | None, sort: str) -> tuple[str, ...]:
    """The ``Listable`` fields ``choose`` reads for ``filters`` and ``sort``, so a store can load only
    those (the stage on the day is read through ``stage_on_day``, not a field)."""
    wanted = SORT_FIELDS[check_sort(sort)]
    if filters is not None:
        asked = {"grade": filters.grade, "owner": filters.owner or filters.mine_user, "tags": filters.tag}
        wanted += tuple(name for name, value in asked.items() if value)
    return wanted


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


class Listable(Protocol):
    """What the filters and sort keys read: a ``Customer`` or a listing cache ``catalog.Entry``."""

    @property
    def name(self) -> str: ...
    sort_key: str

    @property
    def stage(self) -> str: ...
    @property
    def grade(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def created(self) -> datetime | None: ...
    @property
    def last_contact(self) -> datetime | None: ...
    @property
    def next_followup(self) -> date | None: ...


L = TypeVar("L", bound=Listable)


def choose(items: Iterable[L], filters: Filters, sort: str, config: VaultConfig,
           stage_on_day: Callable[[L], str], due_on_day: Callable[[L], date | None]) -> list[L]:
    """The items ``filters`` keep, in ``sort`` order (ties keep the given order): the one
    definition every list uses.  ``stage_on_day`` is an item's effective stage on the day listed,
    ``due_on_day`` what is due then (read only to sort by ``next``)."""
    key = sort_key(sort, due_on_day)
    stage = config.stages.canonical(filters.stage) if filters.stage else ""
    grades = config.choices.get("grades")
    grade = grades.canonical(filters.grade) if grades and filters.grade else filters.grade
    owner = fold(filters.owner or filters.mine_user)
    chosen = [item for item in items
              if (not stage or stage_on_day(item) == stage) and (not grade or item.grade == grade)
              and (not owner or fold(item.owner) == owner) and (not filters.tag or has_tag(item.tags, filters.tag))]
    return sorted(chosen, key=key, reverse=sort.startswith("-"))


def list_customers(vault: Vault, filters: Filters, sort: str = "name", today: date | None = None,
                   customers: list[Customer] | None = None) -> list[Customer]:
    """``choose`` over customer objects (every file when ``customers`` is not given)."""
    from .due import answer, effective_stage

    config = vault.config
    day = today or date.today()
    pool = customers if customers is not None else vault.scan().customers
    return choose(pool, filters, sort, config, lambda customer: effective_stage(customer, config, day),
                  lambda customer: answer(customer, config, day).due_on(day))
