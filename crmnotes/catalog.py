"""Listing data: what list views (``crm ls``, ``crm due``, the TUI table) need,
without each face opening files itself.

This is the seam between the faces and the storage.  ``listing`` serves every
customer from a compact cache, ``.crmnotes/catalog.txt``: one line per file
with its size, mtime and three JSON columns, kept as raw text until needed:

* **compact** - what filters, sorting and the due rules read (name sort key,
  stage, grade, owner, tags, dates, phone) and the due date *precomputed* for
  both sides of the day the customer turns silent (the only way "today"
  enters the due rules), so ``ls --json`` / ``due --json`` build no objects;
* **entry** - the summary a ``Listed`` customer is rebuilt from (front-matter
  keys a listing reads, the latest follow-up, problems), for the TUI and tables;
* **static** - the listing JSON's keys that do not depend on today, already
  serialized: ``ls --json`` splices it into its output without decoding it.

Before every answer one ``stat`` per file (``Vault.customer_stats``) finds the
files changed since, whoever changed them, and only those are parsed again;
so a 10,000-customer vault lists without parsing a file and without importing
Whoosh, jieba or pypinyin.  The cache is JSON read with the C decoder, never
pickle: a line someone tampered with can only make us re-read that file.  A
missing, old or corrupt cache (or line) is rebuilt, never an error, and a
vault we cannot write to still lists (from the files).

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

CATALOG_FILE = "catalog.txt"
OLD_CATALOG_FILES = ("catalog.json",)  # earlier layouts, removed when the new one is written
CATALOG_VERSION = 5
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
    lines, result = _fresh_lines(vault)
    entries = _column(vault, lines, _ENTRY, _untagged)
    statics = [line[_STATIC] for line in lines]
    for line, entry, static in zip(lines, entries, statics, strict=True):
        customer = _decode(vault, line[_REL], [*entry, static]) if isinstance(entry, list) else None
        if customer is None:  # not an entry we wrote: read the file
            customer = _read(vault, line[_REL], int(line[_SIZE]), int(line[_MTIME]))[1]
        if isinstance(customer, Problem):
            result.problems.append(customer)
        else:
            result.customers.append(customer)
    return result


# Columns of a catalog line (tab-separated; JSON never holds a raw tab or newline)
_REL, _SIZE, _MTIME, _COMPACT, _ENTRY, _STATIC = range(6)
_COLUMNS = 6


def _fresh_lines(vault: Vault) -> tuple[list[list[str]], ScanResult]:
    """The catalog line of every customer file in ``Vault.scan`` order, re-made
    for files changed since; the result holds the unsafe paths and, for
    ``listing``, receives the rest."""
    current, unsafe = vault.customer_stats()
    cached = _load(vault)
    lines: list[list[str]] = []
    changed = len(cached) != len(current)
    for rel, (size, mtime) in current.items():
        line = cached.get(rel)
        if line is None or line[_SIZE] != str(size) or line[_MTIME] != str(mtime):
            line = _line(vault, rel, size, mtime)  # new, changed, or a line we cannot use: read the file
            changed = True
        lines.append(line)
    if changed:
        _save(vault, lines)
    return lines, ScanResult(problems=list(unsafe))


def _path(vault: Vault) -> Path:
    return vault.cache_dir / CATALOG_FILE


def _config_state(vault: Vault) -> list[int]:
    # the config decides canonical channel / stage ids and the due rules in the summaries
    try:
        stat = (vault.root / CONFIG_FILE).stat()
    except OSError:
        return [-1, -1]
    return [stat.st_size, stat.st_mtime_ns]


def _header(vault: Vault) -> str:
    return json.dumps({"version": CATALOG_VERSION, "config": _config_state(vault)}, separators=(",", ":"))


def _load(vault: Vault) -> dict[str, list[str]]:
    """rel -> line of a cache written for this version and config; lines that do not
    have the expected shape are left out (their files are read again)."""
    try:
        text = _path(vault).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):  # missing or damaged: rebuilt from the files
        return {}
    lines = text.split("\n")
    if lines[0] != _header(vault):
        return {}
    found = {}
    for raw in lines[1:]:
        line = raw.split("\t")
        if len(line) == _COLUMNS and _well_formed(line):
            found[line[_REL]] = line
    return found


def _well_formed(line: list[str]) -> bool:
    """Cheap shape check at load; the JSON columns are checked when decoded (``_column``)."""
    return line[_SIZE].isdigit() and line[_MTIME].lstrip("-").isdigit()


def _column(vault: Vault, lines: list[list[str]], column: int, hook: Any = None) -> list[Any]:
    """One JSON column of every line, decoded by one C call; a line that does not
    decode (damaged cache) is made again from its file."""
    joined = ",".join(line[column] for line in lines)
    try:
        values = json.loads("[" + joined + "]", object_hook=hook)
        if len(values) == len(lines):
            return values  # type: ignore[no-any-return]
    except (ValueError, TypeError, AttributeError):  # the object hook raises the last two on odd tags
        pass
    values = []
    repaired = False
    for i, line in enumerate(lines):
        try:
            values.append(json.loads(line[column], object_hook=hook))
        except (ValueError, TypeError, AttributeError):
            lines[i] = _line(vault, line[_REL], int(line[_SIZE]), int(line[_MTIME]))
            values.append(json.loads(lines[i][column], object_hook=hook))
            repaired = True
    if repaired:
        _save(vault, lines)
    return values


def _save(vault: Vault, lines: list[list[str]]) -> None:
    text = "\n".join([_header(vault), *("\t".join(line) for line in lines)])
    try:
        atomic_write(_path(vault), text.encode("utf-8"), durable=False)
        for name in OLD_CATALOG_FILES:
            (vault.cache_dir / name).unlink(missing_ok=True)
    except OSError:
        pass  # a read-only vault still lists; it just reads its files every time


def _line(vault: Vault, rel: str, size: int, mtime: int) -> list[str]:
    """The catalog line of one file, read now (see ``_read``)."""
    entry, customer = _read(vault, rel, size, mtime)
    dumps = _dumps
    if isinstance(customer, Problem):
        compact: list[Any] = [customer.message]
        static = ""
    else:
        compact = _compact(vault, customer)
        static = customer.json_static
    kept = entry if isinstance(customer, Problem) else entry[:-1]  # the static JSON has a column of its own
    line = [rel, str(size), str(mtime), dumps(compact), dumps(kept), static]  # static: JSON text, no raw tab/newline
    if any(("\t" in part or "\n" in part) for part in line):  # a path with a tab or newline: never cached
        line[_SIZE] = "-1"
        line[_REL] = rel.replace("\t", " ").replace("\n", " ")
    return line


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_encode_value)


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


# ------------------------------------------------------------------ ls --json / due --json without objects
#
# compact column: [sort key, id, name, stage, grade, owner, tags, created, last contact, next_followup,
# phone, masked phone, silent from, due while not silent, due once silent] - dates as ISO text, a due as
# [date or null (= today), reason, rule] or null.  An unreadable file's line is [error].

_C_SORT, _C_ID, _C_NAME, _C_STAGE, _C_GRADE, _C_OWNER, _C_TAGS, _C_CREATED, _C_LAST, _C_NEXT = range(10)
_C_PHONE, _C_MASKED, _C_SILENT, _C_DUE, _C_DUE_SILENT = range(10, 15)
_COMPACT_LEN = 15


def _compact(vault: Vault, customer: Listed) -> list[Any]:
    """What filters, sorting and the due rules read, with the due rules already
    applied: "today" enters them only through the silent stage, so the due is
    computed for a day before the customer turns silent and for that day."""
    from datetime import timedelta

    config = vault.config
    base = customer.last_contact or customer.created
    found = config.stages.find(customer.stage) if customer.stage else None
    silent_from = None
    if config.silent_stage is not None and base is not None and not (found is not None and found.closed):
        silent_from = base.date() + timedelta(days=config.silent_after_days)
    quiet_day = silent_from - timedelta(days=1) if silent_from else (base.date() if base else date.today())
    created, last, upcoming = customer.created, customer.last_contact, customer.next_followup
    return [
        customer.sort_key, customer.id, customer.name, customer.stage, customer.grade, customer.owner,
        customer.tags, created.isoformat() if created else "", last.isoformat() if last else "",
        upcoming.isoformat() if upcoming else "", customer.text("phone"), customer.masked_phone,
        silent_from.isoformat() if silent_from else None, _due_of(customer, config, quiet_day),
        _due_of(customer, config, silent_from) if silent_from else None,
    ]


def _due_of(customer: Customer, config: Any, day: date) -> list[Any] | None:
    due = next_due(customer, config, day)
    if due is None:
        return None
    # the one rule that reads "today" itself: cadence with neither contact nor creation date
    today_itself = due.rule == "cadence" and customer.last_contact is None and customer.created is None
    return [None if today_itself else due.due.isoformat(), due.reason, due.rule]


def _compact_ok(row: Any) -> bool:
    return (isinstance(row, list) and len(row) == _COMPACT_LEN and isinstance(row[_C_TAGS], list)
            and all(isinstance(row[i], str) for i in (_C_SORT, _C_ID, _C_NAME, _C_STAGE, _C_GRADE, _C_OWNER,
                                                       _C_CREATED, _C_LAST, _C_NEXT, _C_PHONE, _C_MASKED)))


def _compact_rows(vault: Vault) -> tuple[list[tuple[list[str], list[Any]]], list[Problem]]:
    """(line, compact) of every readable customer, and the unreadable/unsafe files."""
    lines, result = _fresh_lines(vault)
    compacts = _column(vault, lines, _COMPACT)
    rows: list[tuple[list[str], list[Any]]] = []
    problems = result.problems
    for i, (line, compact) in enumerate(zip(lines, compacts, strict=True)):
        if not (_compact_ok(compact) or (isinstance(compact, list) and len(compact) == 1)):
            line = lines[i] = _line(vault, line[_REL], int(line[_SIZE]), int(line[_MTIME]))  # damaged line
            compact = json.loads(line[_COMPACT])
            _save(vault, lines)
        if len(compact) == 1:
            problems.append(Problem(vault.root / line[_REL], None, str(compact[0]), code="unreadable"))
        else:
            rows.append((line, compact))
    return rows, problems


def _stage_on(config: Any, row: list[Any], day: date) -> str:
    silent = row[_C_SILENT]
    return config.silent_stage if silent is not None and day.isoformat() >= silent else row[_C_STAGE]


def _due_on(row: list[Any], day: date) -> tuple[str, str, str] | None:
    silent = row[_C_SILENT]
    due = row[_C_DUE_SILENT] if silent is not None and day.isoformat() >= silent else row[_C_DUE]
    if due is None:
        return None
    return (due[0] or day.isoformat(), due[1], due[2])


_SORT_COLUMNS = {"name": (_C_SORT, ""), "created": (_C_CREATED, ""), "last": (_C_LAST, ""),
                 "stage": (_C_STAGE, ""), "grade": (_C_GRADE, "~"), "owner": (_C_OWNER, ""),
                 "next": (_C_NEXT, "9999-12-31")}  # the empty value sorts like actions.SORT_KEYS's default


def listing_json_fast(vault: Vault, filters: Filters, sort: str = "name", limit: int = 0, *,
                      reveal: bool = False, today: date | None = None) -> tuple[str, list[Problem]]:
    """``crm ls --json``: the text ``listing_json_text`` gives for
    ``actions.list_customers``'s choice, from the compact and static columns
    only (no customer objects, no decoding of the static JSON)."""
    from .actions import SORT_KEYS, has_tag
    from .config import fold

    today = today or date.today()
    config = vault.config
    descending = sort.startswith("-")
    if sort.lstrip("-") not in SORT_KEYS or sort.lstrip("-") not in _SORT_COLUMNS:
        raise CrmError(f"cannot sort by '{sort}'.", f"Use one of: {', '.join(SORT_KEYS)} (prefix - to reverse).")
    rows, problems = _compact_rows(vault)
    stage = config.stages.canonical(filters.stage) if filters.stage else ""
    grades = config.choices.get("grades")
    grade = grades.canonical(filters.grade) if grades and filters.grade else filters.grade
    owner = fold(filters.owner or filters.mine_user)
    chosen = [(line, row) for line, row in rows
              if (not stage or _stage_on(config, row, today) == stage) and (not grade or row[_C_GRADE] == grade)
              and (not owner or fold(row[_C_OWNER]) == owner) and (not filters.tag or has_tag(row[_C_TAGS],
                                                                                              filters.tag))]
    column, empty = _SORT_COLUMNS[sort.lstrip("-")]
    chosen.sort(key=lambda item: item[1][column] or empty, reverse=descending)
    if limit > 0:
        chosen = chosen[:limit]
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    parts = []
    for line, row in chosen:
        due = _due_on(row, today)
        dynamic = dumps({"phone": row[_C_PHONE] if reveal else row[_C_MASKED],
                         "effective_stage": _stage_on(config, row, today),
                         "due": due[0] if due else None, "due_reason": due[1] if due else None})
        static = line[_STATIC]
        parts.append("{" + static + ("," if static else "") + dynamic[1:])
    return "[" + ",".join(parts) + "]", problems


def due_json_fast(vault: Vault, day: date, owner: str = "") -> tuple[list[dict[str, Any]], list[Problem]]:
    """``crm due --json``'s items (``actions.due_customers`` + ``actions.due_item_json``) from the compact column."""
    from .config import fold

    config = vault.config
    wanted = fold(owner) if owner else ""
    rows, problems = _compact_rows(vault)
    text_day = day.isoformat()
    items = []
    for line, row in rows:
        if wanted and fold(row[_C_OWNER]) != wanted:
            continue
        due = _due_on(row, day)
        if due is None or due[0] > text_day:
            continue
        when = date.fromisoformat(due[0])
        days = (day - when).days
        items.append({"id": row[_C_ID], "name": row[_C_NAME], "owner": row[_C_OWNER],
                      "stage": _stage_on(config, row, day), "due": due[0],
                      "status": "overdue" if days > 0 else "due" if days == 0 else "upcoming",
                      "days_overdue": max(days, 0), "rule": due[2], "reason": due[1], "path": line[_REL]})
    items.sort(key=lambda item: (item["due"], item["name"]))
    return items, problems
