"""Listing data: what list views (``crm ls``, ``crm due``, the TUI table) need,
without each face opening files itself.

This is the seam between the faces and the storage.  ``listing`` serves every
customer from a compact cache, ``.crmnotes/catalog.json``: per file its size,
mtime and a *summary* (the front-matter keys a listing reads, the latest
follow-up's date and next step, the number of follow-ups, the name's sort
key, and the rest of the listing JSON already serialized).  Before every answer one
``stat`` per file (``Vault.customer_stats``) finds the files changed since,
whoever changed them, and only those are parsed again; so a 10,000-customer
vault lists without parsing a file and without importing Whoosh, jieba or
pypinyin.  The cache is JSON read with the C decoder, never pickle: a file
someone tampered with can only make us re-read the customer files.  A
missing, old or corrupt cache is rebuilt, never an error, and a vault we
cannot write to still lists (from the files).

``load`` gives full customers (all follow-ups) from the search index's stored
records, for views that need them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .actions import Filters, list_customers
from .config import CONFIG_FILE
from .due import effective_stage, next_due
from .errors import CrmError, FileFormatError
from .fsutil import atomic_write
from .model import Customer, FollowUp, Problem, format_minute
from .vault import ScanResult, Vault

CATALOG_FILE = "catalog.json"
CATALOG_VERSION = 4
_DATE, _DATETIME, _DICT = "$date", "$datetime", "$dict"  # tags that keep YAML dates typed through JSON


@dataclass
class Listed(Customer):
    """A customer as the catalog keeps it, for lists only: ``meta`` holds the
    ``LISTED_KEYS`` and the open tickets, ``followups`` only the latest entry's
    date and next step (what the last contact, the due rules and the silent
    stage read), ``followup_count`` how many there are; ``body`` is empty.
    Read the file (``Vault.read``) for anything else."""

    followup_count: int = 0
    json_static: str = ""  # the listing JSON's keys that do not depend on today or --reveal, serialized
    masked_phone: str = ""  # rules.mask_phone(phone) with the vault's region (the config is part of the cache key)


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
    count = customer.followup_count if isinstance(customer, Listed) else len(customer.followups)
    return Row(
        id=customer.id, name=customer.name, path=vault.relative(customer.path),
        industry=customer.text("industry"), contact=customer.text("contact"), phone=customer.text("phone"),
        email=customer.text("email"), source=customer.text("source"),
        stage=effective_stage(customer, vault.config, today), grade=customer.grade, owner=customer.owner,
        tags=customer.tags, created=customer.created, last_contact=customer.last_contact,
        due=due.due if due else None, due_reason=due.reason if due else "", followup_count=count,
    )


def rows(vault: Vault, filters: Filters | None = None, sort: str = "name", today: date | None = None) -> list[Row]:
    today = today or date.today()
    customers = list_customers(vault, filters or Filters(), sort, today, customers=listing(vault).customers)
    return [row_of(vault, c, today) for c in customers]


def load(vault: Vault) -> ScanResult:
    """Every customer with all its follow-ups (body text excluded) and every
    unreadable file, like ``Vault.scan``, from the search index when it can be used."""
    try:
        from .search import load_customers  # the index is an adapter: imported only when used

        return load_customers(vault)
    except (CrmError, OSError, ImportError):
        return vault.scan()


# ------------------------------------------------------------------ the listing cache


def listing(vault: Vault) -> ScanResult:
    """Every customer as a ``Listed`` summary (in ``Vault.scan`` order) and every
    unreadable or unsafe file; files changed since the last call are re-read."""
    current, unsafe = vault.customer_stats()
    cached = _load(vault)
    entries: dict[str, list[Any]] = {}
    result = ScanResult(problems=list(unsafe))
    changed = len(cached) != len(current)
    for rel, (size, mtime) in current.items():
        entry = cached.get(rel)
        customer = None
        if entry is not None and entry[0] == size and entry[1] == mtime:
            customer = _decode(vault, rel, entry)
        if customer is None:  # new, changed, or a cache entry we cannot use: read the file
            entry, customer = _read(vault, rel, size, mtime)
            changed = True
        entries[rel] = entry
        if isinstance(customer, Problem):
            result.problems.append(customer)
        else:
            result.customers.append(customer)
    if changed:
        _save(vault, entries)
    return result


def _path(vault: Vault) -> Path:
    return vault.cache_dir / CATALOG_FILE


def _config_state(vault: Vault) -> list[int]:
    # the config decides canonical channel / stage ids in the summaries
    try:
        stat = (vault.root / CONFIG_FILE).stat()
    except OSError:
        return [-1, -1]
    return [stat.st_size, stat.st_mtime_ns]


def _load(vault: Vault) -> dict[str, list[Any]]:
    try:
        data = json.loads(_path(vault).read_bytes(), object_hook=_untagged)
        if data["version"] != CATALOG_VERSION or data["config"] != _config_state(vault):
            return {}
        files = data["files"]
        return files if isinstance(files, dict) else {}
    except (OSError, ValueError, TypeError, KeyError):  # missing or damaged: rebuilt from the files
        return {}


def _save(vault: Vault, entries: dict[str, list[Any]]) -> None:
    data = {"version": CATALOG_VERSION, "config": _config_state(vault), "files": entries}
    try:
        atomic_write(_path(vault), json.dumps(data, ensure_ascii=False, separators=(",", ":"),
                                              default=_encode_value).encode("utf-8"), durable=False)
    except OSError:
        pass  # a read-only vault still lists; it just reads its files every time


# Front-matter keys a listing reads (filters, sort keys, due rules, table columns); the rest
# (deals, closed tickets, unknown keys) is only in the serialized JSON part.
LISTED_KEYS = ("id", "name", "industry", "contact", "phone", "email", "source", "stage", "grade", "owner", "tags",
               "created", "next_followup")


def _read(vault: Vault, rel: str, size: int, mtime: int) -> tuple[list[Any], Listed | Problem]:
    """The cache entry of one file, and what it holds.  The stat was taken
    before reading: a write racing with us shows as a changed stat next time.

    Entry: [size, mtime_ns, error, sort key, follow-up count, masked phone,
    listed front-matter, latest follow-up [at, has_time, next_date, next_what] or null,
    problems, serialized JSON part].
    """
    from .naming import collation_key  # pypinyin for Chinese names: only when a file is (re)read
    from .tickets import is_open

    path = vault.root / rel
    try:
        customer = vault.read(path)
    except FileFormatError as exc:
        detail = exc.message.removeprefix(vault.relative(path)).strip()
        error = f"{detail} {exc.hint}".strip()
        return [size, mtime, error], Problem(path, None, error, code="unreadable")
    followups = customer.followups
    latest = max(followups, key=lambda f: f.at) if followups else None  # the entry due.next_due reads
    meta = {k: customer.meta[k] for k in LISTED_KEYS if k in customer.meta}
    open_tickets = [t for t in customer.tickets if is_open(t)]  # the due list reads open tickets only
    if open_tickets:
        meta["tickets"] = open_tickets
    kept = FollowUp(at=latest.at, has_time=latest.has_time, next_date=latest.next_date,
                    next_what=latest.next_what) if latest else None
    listed = Listed(path=path, meta=meta, followups=[kept] if kept else [], problems=customer.problems,
                    sort_key=collation_key(customer.name), followup_count=len(followups),
                    json_static=_static_json(vault, customer), masked_phone=_masked(vault, customer))
    entry = [size, mtime, "", listed.sort_key, listed.followup_count, listed.masked_phone, _tagged(meta),
             [kept.at.isoformat(), kept.has_time, kept.next_date.isoformat() if kept.next_date else None,
              kept.next_what] if kept else None,
             [[p.line, p.message, p.severity, p.code] for p in customer.problems], listed.json_static]
    return entry, listed


def _decode(vault: Vault, rel: str, entry: Any) -> Listed | Problem | None:
    """The customer (or the problem) an entry holds; None when the entry is not one we wrote."""
    path = vault.root / rel
    try:
        if entry[2]:
            return Problem(path, None, str(entry[2]), code="unreadable")
        _, _, _, sort_key, count, masked, meta, latest, problems, static = entry
        if not (isinstance(meta, dict) and isinstance(static, str) and isinstance(masked, str)
                and isinstance(sort_key, str)):
            return None
        followups = []
        if latest is not None:
            at, has_time, next_date, next_what = latest
            followups.append(FollowUp(at=datetime.fromisoformat(at), has_time=bool(has_time),
                                      next_date=date.fromisoformat(next_date) if next_date else None,
                                      next_what=str(next_what)))
        return Listed(path=path, meta=meta, followups=followups,
                      problems=[Problem(path, line, message, severity, code)
                                for line, message, severity, code in problems],
                      sort_key=sort_key, followup_count=int(count), json_static=static, masked_phone=masked)
    except (TypeError, KeyError, ValueError, IndexError, AttributeError):
        return None


def _tagged(value: Any) -> Any:
    """Front-matter as JSON that comes back with the same Python types (see ``_untagged``)."""
    if isinstance(value, dict):
        out = {str(k): _tagged(v) for k, v in value.items()}
        if len(out) == 1 and next(iter(out)).startswith("$"):  # would read as a tag: keep it as pairs
            return {_DICT: [[k, v] for k, v in out.items()]}
        return out
    if isinstance(value, (list, tuple)):
        return [_tagged(v) for v in value]
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, date):
        return {_DATE: value.isoformat()}
    return value


def _untagged(value: dict[str, Any]) -> Any:
    """``json.loads`` object hook: the C decoder calls it for every object, innermost first."""
    if len(value) == 1:
        key, inner = next(iter(value.items()))
        if key == _DATETIME:
            return datetime.fromisoformat(inner)
        if key == _DATE:
            return date.fromisoformat(inner)
        if key == _DICT:
            return {str(k): v for k, v in inner}
    return value


def _encode_value(value: Any) -> Any:
    return str(value)  # anything YAML gave that JSON has no type for (never expected)


# ------------------------------------------------------------------ listing JSON

DYNAMIC_KEYS = ("phone", "effective_stage", "due", "due_reason")  # depend on today or --reveal


def listing_json(vault: Vault, customer: Customer, *, reveal: bool = False, today: date | None = None
                 ) -> dict[str, Any]:
    """``actions.customer_json`` without the follow-up texts: ``followup_count``
    (and ``last_contact``, always there) instead of ``followups``."""
    from .actions import customer_json

    data = customer_json(vault, customer, reveal=reveal, today=today)
    data.pop("followups", None)
    data["followup_count"] = customer.followup_count if isinstance(customer, Listed) else len(customer.followups)
    return data


def _static_json(vault: Vault, customer: Customer) -> str:
    """The keys of ``listing_json`` that stay the same until the file changes,
    serialized without the braces, so a listing only adds the dynamic ones."""
    data = listing_json(vault, customer)
    for key in DYNAMIC_KEYS:
        data.pop(key, None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)[1:-1]


def _masked(vault: Vault, customer: Customer) -> str:
    from .rules import mask_phone

    phone = customer.text("phone")
    return mask_phone(phone, vault.config.phone_region) if phone else ""


def listing_json_text(vault: Vault, customers: list[Customer], *, reveal: bool = False,
                      today: date | None = None) -> str:
    """The JSON array of ``listing_json`` for every customer, built from the
    cached serialized parts (a few dynamic keys are added per customer)."""
    today = today or date.today()
    config = vault.config
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
    parts = []
    for customer in customers:
        if not isinstance(customer, Listed) or not customer.json_static:
            parts.append(dumps(listing_json(vault, customer, reveal=reveal, today=today)))
            continue
        due = next_due(customer, config, today)
        dynamic = {
            "phone": customer.text("phone") if reveal else customer.masked_phone,
            "effective_stage": effective_stage(customer, config, today),
            "due": due.due.isoformat() if due else None, "due_reason": due.reason if due else None,
        }
        comma = "," if customer.json_static else ""
        parts.append("{" + customer.json_static + comma + dumps(dynamic)[1:])
    return "[" + ",".join(parts) + "]"
