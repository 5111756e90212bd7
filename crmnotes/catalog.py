"""Listing data: what list views (``crm ls``, ``crm due``, the TUI table,
reports) need, without each face opening files itself.

This is the seam between the faces and the storage.  Two caches under
``.crmnotes/`` hold one line per customer file (its path, size and mtime and
a CRC-32 of the line), kept as bytes until needed:

* ``listing.txt`` - what ``ls --json``, ``due --json`` and the TUI table read:
  the filter and sort fields as plain text, the due rules already applied for
  both sides of the day the customer turns silent (the only way "today" enters
  them), and ready-made JSON pieces (the listing JSON's static keys, the masked
  phone, the due reason), so those commands decode no JSON and build no
  customer objects.  A line whose text holds a tab or newline keeps its fields
  as one JSON array instead.
* ``catalog.txt`` - one JSON array per customer: the whole front-matter, a
  summary of every follow-up (no texts) and the file's problems; ``listing``
  rebuilds ``Listed`` customers from it and ``report_customers`` full ones.

Before every answer one ``stat`` per file (``Vault.customer_stats``) finds the
files changed since, whoever changed them, and only those are parsed again
(a first build writes both caches); so a 10,000-customer vault lists without
parsing a file and without importing Whoosh, jieba or pypinyin.  A line whose
CRC does not match (edited by hand, damaged) is made again from its file, so a
broken line can never reach the output; the cache is never pickle.  A missing,
old or corrupt cache is rebuilt, never an error, and a vault we cannot write
to still lists (from the files).

``load`` gives full customers (with follow-up texts) from the search index's
stored records, for views that need them.
"""

from __future__ import annotations

import gc
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from .config import fold
from .errors import CrmError, FileFormatError
from .filters import Filters, check_sort, has_tag
from .fsutil import atomic_write
from .model import Customer, FollowUp, Problem, format_minute
from .vault import ScanResult, Vault

CATALOG_FILE = "catalog.txt"
LISTING_FILE = "listing.txt"
OLD_CATALOG_FILES = ("catalog.json",)  # earlier layouts, removed when the new one is written
CATALOG_VERSION = 12
_DATE, _DATETIME, _DICT = "$date", "$datetime", "$dict"  # tags that keep YAML dates typed through JSON
_UTF8 = ("utf-8", "surrogatepass")  # file names that are not UTF-8 come back the same


@dataclass
class Listed(Customer):
    """A customer as the catalog keeps it, for lists only: the whole
    front-matter, but of the follow-ups only the latest one's date and next
    step (what the last contact, the due rules and the silent stage read);
    ``followup_count`` says how many there are and ``body`` is empty.  Read
    the file (``Vault.read``) for anything else."""

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
    from .due import effective_stage, next_due

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


def load(vault: Vault) -> ScanResult:
    """Every customer with all its follow-ups (body text excluded) and every
    unreadable file, like ``Vault.scan``, from the search index when it can be used."""
    try:
        from .search import load_customers  # the index is an adapter: imported only when used

        return load_customers(vault)
    except (CrmError, OSError, ImportError):
        return vault.scan()


# ------------------------------------------------------------------ one customer file, read for both caches


@dataclass
class _Record:
    """One file read now: what both caches keep of it (see ``_read``)."""

    rel: str
    size: int
    mtime: int
    head: list[bytes]  # listing.txt columns after rel, size, mtime
    detail: list[Any]  # catalog.txt's JSON columns (see _SUMMARY)


# Front-matter keys a listing reads (filters, sort keys, due rules, table columns)
LISTED_KEYS = ("id", "name", "industry", "contact", "phone", "email", "source", "stage", "grade", "owner", "tags",
               "created", "next_followup")


def _read(vault: Vault, rel: str, size: int, mtime: int) -> _Record:
    """Read one file for the caches.  The stat was taken before reading: a
    write racing with us shows as a changed stat next time."""
    from .naming import collation_key  # pypinyin for Chinese names: only when a file is (re)read

    path = vault.root / rel
    try:
        customer = vault.read(path)
    except FileFormatError as exc:
        detail = exc.message.removeprefix(vault.relative(path)).strip()
        error = f"{detail} {exc.hint}".strip()
        return _Record(rel, size, mtime, [_KIND_ERROR, _json(error)], [[error], None, None, None])
    followups = customer.followups
    latest = max((f for f in followups if f.is_contact), key=lambda f: f.at, default=None)  # what due reads
    kept = [FollowUp(at=latest.at, has_time=latest.has_time, next_date=latest.next_date,
                     next_what=latest.next_what)] if latest else []
    listed = Listed(path=path, meta=customer.meta, followups=kept, problems=customer.problems,
                    sort_key=collation_key(customer.name), followup_count=len(followups),
                    json_static=_static_json(vault, customer), masked_phone=_masked(vault, customer))
    created = customer.created
    summary = ["", listed.sort_key, len(followups), listed.masked_phone,
               [latest.at.isoformat(), latest.has_time, _iso_text(latest.next_date), latest.next_what]
               if latest else None,
               [[p.line, p.message, p.severity, p.code] for p in customer.problems],
               created.isoformat() if created else None]
    detail = [summary, listed.json_static, _tagged(customer.meta),  # what reports read of every follow-up: no texts
              [[f.at.isoformat(), f.channel, f.by, _iso_text(f.next_date), f.next_what, f.stage_from, f.stage_to,
                f.has_time] for f in followups]]
    return _Record(rel, size, mtime, _head(vault, listed, rel), detail)


def _iso_text(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _masked(vault: Vault, customer: Customer) -> str:
    from .rules import mask_phone

    phone = customer.text("phone")
    return mask_phone(phone, vault.config.phone_region) if phone else ""


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(*_UTF8)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_encode_value).encode(*_UTF8)


def _encode_value(value: Any) -> Any:
    return str(value)  # anything YAML gave that JSON has no type for (never expected)


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


@contextmanager
def _bulk() -> Iterator[None]:
    """Decoding a cache makes up to a million objects, none in a reference cycle: the cyclic
    garbage collector would walk them over and over (half the time of a report) for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ------------------------------------------------------------------ the caches on disk
#
# A line: CRC-32 of the rest \t rel \t size \t mtime \t columns...  Every column is bytes without a raw tab
# or newline; a line whose CRC does not match, or whose shape is wrong, is made again from its file.


@dataclass(frozen=True)
class _Table:
    file: str
    width: int  # columns of a customer's line in memory (rel, size, mtime included)
    make: Any  # _Record -> the columns after rel, size, mtime
    raw: tuple[int, ...] = ()  # columns of plain text, which may hold a tab or newline (then the line is JSON)


_REL, _SIZE, _MTIME = range(3)
_KIND_CUSTOMER, _KIND_JSON, _KIND_ERROR = b"C", b"J", b"E"

# listing.txt columns, in the order the commands need them (a command splits a line only as far as it reads):
# [3] kind; for a customer then the first day silent (ISO or ""), the due day on a day before it (A) and once
# silent (B) ("" none, "-" the day itself, else ISO), the name sort key, ``ls --json``'s dynamic keys for A and B
# (masked phone; "" when the due is the day itself), the due reasons and rules as JSON (or null), the JSON pieces
# of ``due --json``, plain text fields, ISO dates ("" for none), the phones as JSON, the rest of a ``Row`` as one
# JSON array, and last ``ls --json``'s static keys (last: no split scans them).  An unreadable
# file: [3] E, [4] its error as JSON.
_KIND, _SILENT, _DUE_A, _DUE_B, _SORT, _LS_A, _LS_B = range(3, 10)
_REASON_A, _RULE_A, _REASON_B, _RULE_B, _STAGE_JSON, _DUE_KEYS, _PATH_JSON, _NAME, _OWNER = range(10, 19)
_STAGE, _GRADE, _CREATED, _LAST, _NEXT, _PHONE_JSON, _MASKED_JSON, _ROW, _STATIC = range(19, 28)
_ROW_KEYS = ("id", "name", "grade", "owner", "industry", "contact", "phone", "email", "source")  # then tags, count
# columns split off for due --json, ls --json, and all of them (the static keys are never scanned for tabs)
_DUE_DEPTH, _LS_DEPTH, _FULL = _DUE_B + 1, _LS_B + 1, _STATIC
_NO_DUE = (b"", b"null", b"null")


def _head(vault: Vault, customer: Listed, rel: str) -> list[bytes]:
    """listing.txt's columns of one customer (see above)."""
    config = vault.config
    base = customer.last_contact or customer.created
    found = config.stages.find(customer.stage) if customer.stage else None
    silent_from = None
    if config.silent_stage is not None and base is not None and not (found is not None and found.closed):
        silent_from = base.date() + timedelta(days=config.silent_after_days)
    quiet_day = silent_from - timedelta(days=1) if silent_from else (base.date() if base else date.today())
    due_a, reason_a, rule_a = _due_columns(customer, config, quiet_day)
    due_b, reason_b, rule_b = _due_columns(customer, config, silent_from) if silent_from else _NO_DUE
    stage, masked = _json(customer.stage), _json(customer.masked_phone)
    row = [customer.text(key) for key in _ROW_KEYS]
    return [
        _KIND_CUSTOMER, _iso(silent_from), due_a, due_b, customer.sort_key.encode(*_UTF8),
        b"" if due_a == b"-" else _ls_dynamic(masked, stage, due_a, reason_a),
        b"" if due_b == b"-" else _ls_dynamic(masked, _json(config.silent_stage), due_b, reason_b),
        reason_a, rule_a, reason_b, rule_b, stage,
        json.dumps({"id": customer.id, "name": customer.name, "owner": customer.owner},
                   ensure_ascii=False)[1:-1].encode(*_UTF8),  # print_json's separators, like due --json
        _json(rel), *(t.encode(*_UTF8) for t in (customer.name, customer.owner, customer.stage, customer.grade)),
        _iso(customer.created), _iso(customer.last_contact), _iso(customer.next_followup),
        _json(customer.text("phone")), masked, _json([*row, customer.tags, customer.followup_count]),
        customer.json_static.encode(*_UTF8),
    ]


def _iso(value: date | None) -> bytes:
    return value.isoformat().encode() if value else b""


def _ls_dynamic(phone: bytes, stage: bytes, due: bytes, reason: bytes) -> bytes:
    """``ls --json``'s keys that depend on today or --reveal (JSON pieces in, the object's end out)."""
    when = b'"' + due + b'"' if due else b"null"
    return b'"phone":%s,"effective_stage":%s,"due":%s,"due_reason":%s}' % (phone, stage, when, reason)


def _due_columns(customer: Customer, config: Any, day: date) -> tuple[bytes, bytes, bytes]:
    from .due import next_due

    due = next_due(customer, config, day)
    if due is None:
        return _NO_DUE
    # the one rule that reads "today" itself: cadence with neither contact nor creation date
    today_itself = due.rule == "cadence" and customer.last_contact is None and customer.created is None
    return b"-" if today_itself else due.due.isoformat().encode(), _json(due.reason), _json(due.rule)


_LISTING = _Table(LISTING_FILE, _STATIC + 1, lambda record: record.head, (_SORT, _NAME, _OWNER, _STAGE, _GRADE))
# catalog.txt columns after rel, size, mtime (JSON): [error] or ["", sort key, follow-up count, masked phone,
# latest follow-up [at, has_time, next_date, next_what] or null, problems, created]; the listing JSON's static
# keys; the front-matter (tagged, see _tagged); every follow-up [at, channel, by, next_date, next_what,
# stage_from, stage_to, has_time].  listing() decodes the first three, report_customers() all but the second.
_SUMMARY, _STATIC_TEXT, _META, _FOLLOWUPS = range(3, 7)
_CATALOG = _Table(CATALOG_FILE, _FOLLOWUPS + 1, lambda record: [_dumps(part) for part in record.detail])
_TABLES = (_LISTING, _CATALOG)


def _header(vault: Vault, table: _Table) -> dict[str, Any]:
    """What a cache's first line must say to be used (it also keeps the silent stage of that config)."""
    return {"version": CATALOG_VERSION, "config": vault.config_state(), "file": table.file}


class _Lines:
    """The line of every customer file in ``Vault.scan`` order, for one table,
    made again for files changed since; ``problems`` starts with the unsafe paths."""

    def __init__(self, vault: Vault, table: _Table, depth: int = -1) -> None:
        self.vault, self.table, self.depth = vault, table, depth
        current, unsafe = vault.customer_stats()
        self.problems: list[Problem] = list(unsafe)
        self.silent_stage: str | None = None  # the config's, kept in the header: no YAML parsed to list
        cached = self._load()
        if not cached:
            self.silent_stage = vault.config.silent_stage
        self.lines: list[list[bytes]] = []
        self.packed: list[bytes] = []
        made: dict[str, _Record] = {}
        for rel, (size, mtime) in current.items():
            found = cached.get(rel.encode(*_UTF8))
            if found is None or found[0][_SIZE] != b"%d" % size or found[0][_MTIME] != b"%d" % mtime:
                made[rel] = record = _read(vault, rel, size, mtime)  # new, changed, or a line we cannot use
                found = self._made(record)
            self.lines.append(found[0])
            self.packed.append(found[1])
        if made or len(cached) != len(self.lines):
            self.save()
        if made and len(made) == len(self.lines):  # every file was read: write the other caches too
            for other in _TABLES:
                if other is not table:
                    _save(vault, other, [_pack(other, _columns(other, made[rel])) for rel in current])

    def _load(self) -> dict[bytes, tuple[list[bytes], bytes]]:
        """rel -> (columns, line as stored) of a cache written for this version and config; the
        columns from ``depth`` on stay joined in the last one (see ``_all``)."""
        try:
            data = (self.vault.cache_dir / self.table.file).read_bytes()
        except OSError:  # missing: rebuilt from the files
            return {}
        packed = _split_lines(data)
        crc, _, head = packed[0].partition(b"\t")
        try:
            header = json.loads(head) if crc.isdigit() and zlib.crc32(head) == int(crc) else None
        except ValueError:
            header = None
        if not (isinstance(header, dict) and isinstance(header.pop("silent", 0), (str, type(None)))
                and header == _header(self.vault, self.table)):
            return {}
        self.silent_stage = json.loads(head)["silent"]
        found = {}
        crc32, depth = zlib.crc32, self.depth
        width = self.table.width if depth < 0 else depth + 1
        for line in packed[1:]:
            crc, _, body = line.partition(b"\t")
            if not crc.isdigit() or crc32(body) != int(crc):
                continue  # damaged or edited by hand: its file is read again
            columns = body.split(b"\t", depth)
            if len(columns) != width and (self.table is not _LISTING or not (columns := _unpack(columns))):
                continue
            found[columns[_REL]] = (columns, line)
        return found

    def _made(self, record: _Record) -> tuple[list[bytes], bytes]:
        columns = _columns(self.table, record)
        return columns, _pack(self.table, columns)

    def remake(self, i: int) -> list[bytes]:
        """Line ``i`` read again from its file (its columns did not decode)."""
        line = self.lines[i]
        rel = line[_REL].decode(*_UTF8)
        self.lines[i], self.packed[i] = self._made(_read(self.vault, rel, int(line[_SIZE]), int(line[_MTIME])))
        return self.lines[i]

    def save(self) -> None:
        _save(self.vault, self.table, self.packed)

    def column(self, lines: list[list[bytes]], column: int, hook: Any = None,
               valid: Any = lambda value: True) -> list[Any]:
        """One JSON column of ``lines`` (some of ``self.lines``), decoded by one C
        call; a line whose column does not decode to a valid value is made again."""
        try:
            values = json.loads(b"[" + b",".join(line[column] for line in lines) + b"]", object_hook=hook)
            if len(values) == len(lines) and all(map(valid, values)):
                return values  # type: ignore[no-any-return]
        except (ValueError, TypeError, AttributeError, KeyError):  # the hook raises the last three on odd tags
            pass
        where = {id(line): i for i, line in enumerate(self.lines)}
        values = []
        for k, line in enumerate(lines):
            try:
                value = json.loads(line[column], object_hook=hook)
                if not valid(value):
                    raise ValueError("not a value we wrote")
            except (ValueError, TypeError, AttributeError, KeyError):
                lines[k] = line = self.remake(where[id(line)])
                value = json.loads(line[column], object_hook=hook)
            values.append(value)
        self.save()
        return values


def _split_lines(data: bytes) -> list[bytes]:
    """``data.split(b"\\n")`` for long lines: ``find`` looks for the newline with memchr, where
    ``split`` compares byte by byte (a tenth of ``ls --json``'s work on 15 MB)."""
    lines, start, find = [], 0, data.find
    while (end := find(b"\n", start)) >= 0:
        lines.append(data[start:end])
        start = end + 1
    lines.append(data[start:])
    return lines


def _columns(table: _Table, record: _Record) -> list[bytes]:
    return [record.rel.encode(*_UTF8), b"%d" % record.size, b"%d" % record.mtime, *table.make(record)]


def _pack(table: _Table, columns: list[bytes]) -> bytes:
    """The stored line of ``columns``: a path with a tab or newline is never matched (read every
    time); plain text with one makes the line keep its columns as one JSON array."""
    rel = columns[_REL]
    if b"\t" in rel or b"\n" in rel:
        columns = [rel.replace(b"\t", b" ").replace(b"\n", b" "), b"-1", *columns[2:]]
    if len(columns) > _KIND + 2 and any(b"\t" in columns[i] or b"\n" in columns[i] for i in table.raw):
        columns = [*columns[:_KIND], _KIND_JSON, _json([c.decode(*_UTF8) for c in columns[_KIND + 1:]])]
    body = b"\t".join(columns)
    return b"%d\t%s" % (zlib.crc32(body), body)


def _unpack(columns: list[bytes]) -> list[bytes] | None:
    """A listing.txt line kept as JSON, or an unreadable file's line; None for anything else."""
    if len(columns) != _KIND + 2:
        return None
    if columns[_KIND] == _KIND_ERROR:
        return columns
    if columns[_KIND] != _KIND_JSON:
        return None
    try:
        values = json.loads(columns[_KIND + 1])
    except ValueError:
        return None
    if not (isinstance(values, list) and len(values) == _LISTING.width - _KIND - 1
            and all(isinstance(v, str) for v in values)):
        return None
    return [*columns[:_KIND], _KIND_CUSTOMER, *(v.encode(*_UTF8) for v in values)]


def _save(vault: Vault, table: _Table, packed: list[bytes]) -> None:
    try:
        header = _json({**_header(vault, table), "silent": vault.config.silent_stage})
        atomic_write(vault.cache_dir / table.file, b"\n".join([b"%d\t%s" % (zlib.crc32(header), header), *packed]),
                     durable=False)
        for name in OLD_CATALOG_FILES:
            (vault.cache_dir / name).unlink(missing_ok=True)
    except OSError:
        pass  # a read-only vault still lists; it just reads its files every time


# ------------------------------------------------------------------ customer objects from catalog.txt


@dataclass
class _Reported(Customer):
    """A customer from catalog.txt for reports: the front-matter and every follow-up without its texts,
    with ``created`` and ``last_contact`` worked out once (reports read them many times)."""

    created_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def created(self) -> datetime | None:  # type: ignore[override]
        return self.created_at

    @property
    def last_contact(self) -> datetime | None:  # type: ignore[override]
        return self.last_at


def _customers(vault: Vault, followups: bool) -> ScanResult:
    """Every customer of catalog.txt (``Listed``, or ``_Reported`` with ``followups``) and
    every unreadable or unsafe file; a line whose columns are not what we wrote is made again."""
    with _bulk():
        return _decoded_customers(vault, _Lines(vault, _CATALOG), followups)


def _decoded_customers(vault: Vault, lines: _Lines, followups: bool) -> ScanResult:
    result = ScanResult(problems=lines.problems)
    columns = (_SUMMARY, _META, _FOLLOWUPS) if followups else (_SUMMARY, _META, _STATIC_TEXT)
    decoded = [lines.column(lines.lines, column, _untagged if column == _META else None) for column in columns]
    parents: dict[bytes, Any] = {}
    for i, parts in enumerate(zip(*decoded, strict=True)):
        folder, _, name = lines.lines[i][_REL].rpartition(b"/")
        if folder not in parents:  # a Path per folder: joining a bare name is cheaper than a whole path
            parents[folder] = vault.root / folder.decode(*_UTF8)
        path = parents[folder].joinpath(name.decode(*_UTF8))
        found = _build(path, parts, followups)
        if found is None:
            lines.remake(i)
            found = _build(path, [json.loads(lines.lines[i][c], object_hook=_untagged) for c in columns], followups)
            lines.save()
        if isinstance(found, Problem):
            result.problems.append(found)
        else:
            result.customers.append(found)
    return result


def _build(path: Any, parts: Any, followups: bool) -> Customer | Problem | None:
    """The customer (or the problem) of catalog.txt's decoded columns; None when they are not what we wrote."""
    try:
        summary, meta, more = parts
        if summary[0]:
            return Problem(path, None, str(summary[0]), code="unreadable")
        _, sort_key, count, masked, latest, problems, created = summary
        if not (isinstance(meta, dict) and isinstance(sort_key, str) and isinstance(masked, str)
                and isinstance(count, int) and isinstance(more, list if followups else str)):
            return None
        found = [Problem(path, line, message, severity, code) for line, message, severity, code in problems]
        if not followups:  # ``more`` is the listing JSON's static keys
            kept = [FollowUp(datetime.fromisoformat(latest[0]), has_time=bool(latest[1]), next_what=str(latest[3]),
                             next_date=date.fromisoformat(latest[2]) if latest[2] else None)] if latest else []
            return Listed(path=path, meta=meta, followups=kept, problems=found, sort_key=sort_key,
                          followup_count=count, json_static=more, masked_phone=masked)
        day, when = date.fromisoformat, datetime.fromisoformat
        every = [FollowUp(when(at), channel, by, "", day(next_date) if next_date else None, next_what, "",
                          stage_from, stage_to, "", has_time)
                 for at, channel, by, next_date, next_what, stage_from, stage_to, has_time in more]
        last = max((f.at for f in every), default=None)
        return _Reported(path=path, meta=meta, followups=every, problems=found, sort_key=sort_key,
                         created_at=when(created) if created else None, last_at=last)
    except (TypeError, KeyError, ValueError, IndexError, AttributeError):
        return None


def listing(vault: Vault) -> ScanResult:
    """Every customer as a ``Listed`` summary (in ``Vault.scan`` order) and every
    unreadable or unsafe file; files changed since the last call are re-read."""
    return _customers(vault, followups=False)


def report_customers(vault: Vault) -> ScanResult:
    """Every customer with its whole front-matter and a summary of every
    follow-up (time, channel, author, stage move, next step; no texts): what
    ``reports`` read, without parsing the files."""
    return _customers(vault, followups=True)


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


def listing_json_text(vault: Vault, customers: list[Customer], *, reveal: bool = False,
                      today: date | None = None) -> str:
    """The JSON array of ``listing_json`` for every customer, built from the
    cached serialized parts (a few dynamic keys are added per customer)."""
    from .due import effective_stage, next_due

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


# ------------------------------------------------------------------ ls --json, due --json, rows from listing.txt


class _Day:
    """The listing.txt columns that hold for one day: a line is silent from ``_SILENT``."""

    def __init__(self, lines: _Lines, day: date) -> None:
        self.day, self.text = day, day.isoformat().encode()
        self.silent_stage = (lines.silent_stage or "").encode(*_UTF8)
        self.silent_json = _json(lines.silent_stage)

    def silent(self, line: list[bytes]) -> bool:
        return bool(line[_SILENT]) and self.text >= line[_SILENT]

    def stage(self, line: list[bytes]) -> bytes:
        return self.silent_stage if self.silent(line) else line[_STAGE]

    def due(self, line: list[bytes]) -> tuple[bytes, bytes, bytes]:
        """(ISO day or b"" for none, reason JSON, rule JSON)."""
        if self.silent(line):
            day, reason, rule = line[_DUE_B], line[_REASON_B], line[_RULE_B]
        else:
            day, reason, rule = line[_DUE_A], line[_REASON_A], line[_RULE_A]
        return (self.text if day == b"-" else day), reason, rule

    def ls_dynamic(self, line: list[bytes], reveal: bool) -> bytes:
        """``ls --json``'s dynamic keys of a line: cached, unless revealed or due "today"."""
        silent = self.silent(line)
        cached = line[_LS_B if silent else _LS_A]
        if cached and not reveal:
            return cached
        line = _upto(line, _MASKED_JSON)
        due, reason, _ = self.due(line)
        return _ls_dynamic(line[_PHONE_JSON if reveal else _MASKED_JSON],
                           self.silent_json if silent else line[_STAGE_JSON], due, reason)


def _upto(line: list[bytes], column: int) -> list[bytes]:
    """A listing.txt line split at least as far as ``column`` (a command split it only as far as it reads)."""
    return line if len(line) > column + 1 else line[:-1] + line[-1].split(b"\t", column + 2 - len(line))


_SORT_COLUMNS = {"name": (_SORT, b""), "created": (_CREATED, b""), "last": (_LAST, b""),
                 "stage": (_STAGE, b""), "grade": (_GRADE, b"~"), "owner": (_OWNER, b""),
                 "next": (_NEXT, b"9999-12-31")}  # the empty value sorts like filters.SORT_KEYS's default


def _customer_lines(vault: Vault, depth: int = _FULL) -> tuple[_Lines, list[list[bytes]]]:
    """listing.txt's lines, the customers' apart; the unreadable files join ``problems``."""
    lines = _Lines(vault, _LISTING, depth)  # depth: how far the lines are split (_FULL: every column)
    customers = []
    for line in lines.lines:
        if line[_KIND] == _KIND_CUSTOMER:
            customers.append(line)
        else:
            message = json.loads(line[_KIND + 1])
            lines.problems.append(Problem(vault.root / line[_REL].decode(*_UTF8), None, str(message),
                                          code="unreadable"))
    return lines, customers


def _choose(vault: Vault, lines: _Lines, customers: list[list[bytes]], filters: Filters, sort: str,
            day: _Day) -> list[list[bytes]]:
    """``filters.list_customers``'s choice and order, on listing.txt lines (split in full unless
    only sorted by name)."""
    name = check_sort(sort)
    chosen = customers
    if filters.stage:
        stage = vault.config.stages.canonical(filters.stage).encode(*_UTF8)
        chosen = [line for line in chosen if day.stage(line) == stage]
    if filters.grade:
        grades = vault.config.choices.get("grades")
        grade = (grades.canonical(filters.grade) if grades else filters.grade).encode(*_UTF8)
        chosen = [line for line in chosen if line[_GRADE] == grade]
    owner = fold(filters.owner or filters.mine_user)
    if owner:
        chosen = [line for line in chosen if fold(line[_OWNER].decode(*_UTF8)) == owner]
    if filters.tag:
        found = lines.column(chosen, _ROW)
        chosen = [line for line, row in zip(chosen, found, strict=True) if has_tag(row[-2], filters.tag)]
    column, empty = _SORT_COLUMNS[name]
    key = itemgetter(column) if not empty else lambda line: line[column] or empty  # b"" or b"" is b""
    return sorted(chosen, key=key, reverse=sort.startswith("-"))


def listing_json_fast(vault: Vault, filters: Filters, sort: str = "name", limit: int = 0, *,
                      reveal: bool = False, today: date | None = None) -> tuple[bytes, list[Problem]]:
    """``crm ls --json``: the UTF-8 text ``listing_json_text`` gives for
    ``filters.list_customers``'s choice, spliced from listing.txt's JSON pieces."""
    with _bulk():
        return _listing_json(vault, filters, sort, limit, reveal, today)


def _listing_json(vault: Vault, filters: Filters, sort: str, limit: int, reveal: bool,
                  today: date | None) -> tuple[bytes, list[Problem]]:
    only_named = sort.lstrip("-") == "name" and filters == Filters()
    lines, customers = _customer_lines(vault, _LS_DEPTH if only_named else _FULL)
    day = _Day(lines, today or date.today())
    chosen = _choose(vault, lines, customers, filters, sort, day)
    if limit > 0:
        chosen = chosen[:limit]
    parts = []
    text = day.text
    for line in chosen:
        static = line[-1].rpartition(b"\t")[2]  # the last column, however far the line was split
        cached = line[_LS_B] if line[_SILENT] and text >= line[_SILENT] else line[_LS_A]  # as _Day.ls_dynamic
        parts += (b"{", static, b"," if static else b"", cached if cached and not reveal
                  else day.ls_dynamic(line, reveal), b",")
    if parts:
        parts[-1] = b""
    return b"[" + b"".join(parts) + b"]", lines.problems


def due_json_fast(vault: Vault, day: date, owner: str = "") -> tuple[bytes, list[Problem]]:
    """``crm due --json``'s UTF-8 text (``actions.due_customers`` + ``actions.due_item_json``,
    printed by ``print_json``) from listing.txt."""
    with _bulk():
        return _due_json(vault, day, owner)


def _due_json(vault: Vault, day: date, owner: str) -> tuple[bytes, list[Problem]]:
    lines, customers = _customer_lines(vault, _FULL if owner else _DUE_DEPTH)
    on = _Day(lines, day)
    if owner:
        wanted = fold(owner)
        customers = [line for line in customers if fold(line[_OWNER].decode(*_UTF8)) == wanted]
    today, first = on.text, {True: (_DUE_B, _REASON_B, _RULE_B), False: (_DUE_A, _REASON_A, _RULE_A)}
    due_items = []
    for i, line in enumerate(customers):
        silent = bool(line[_SILENT]) and today >= line[_SILENT]
        when = line[first[silent][0]]
        if when and (when == b"-" or when <= today):
            customers[i] = line = _upto(line, _OWNER)
            due_items.append((today if when == b"-" else when, line[_NAME], i, silent))
    due_items.sort()  # by day, then name, then file order (i)
    days_of: dict[bytes, int] = {}
    parts = []
    for when, _, i, silent in due_items:
        if when not in days_of:
            days_of[when] = (day - date.fromisoformat(when.decode())).days
        days = days_of[when]
        line = customers[i]
        _, reason, rule = first[silent]
        parts.append(b'{%s, "stage": %s, "due": "%s", "status": "%s", "days_overdue": %d, "rule": %s, '
                     b'"reason": %s, "path": %s}' % (line[_DUE_KEYS], on.silent_json if silent else line[_STAGE_JSON],
                                                     when, b"overdue" if days else b"due", days, line[rule],
                                                     line[reason], line[_PATH_JSON]))
    return b"[" + b", ".join(parts) + b"]", lines.problems


def rows(vault: Vault, filters: Filters | None = None, sort: str = "name", today: date | None = None) -> list[Row]:
    """The TUI table's rows: ``row_of`` for ``filters.list_customers``'s choice, from listing.txt."""
    with _bulk():
        return _rows(vault, filters or Filters(), sort, today or date.today())


def _rows(vault: Vault, filters: Filters, sort: str, today: date) -> list[Row]:
    lines, customers = _customer_lines(vault)
    day = _Day(lines, today)
    chosen = _choose(vault, lines, customers, filters, sort, day)
    found = lines.column(chosen, _ROW)
    quiet, silent = lines.column(chosen, _REASON_A), lines.column(chosen, _REASON_B)
    silent_stage, text = lines.silent_stage or "", day.text
    when, on, days = datetime.fromisoformat, date.fromisoformat, {b"": None}
    out = []
    for line, row, reason_a, reason_b in zip(chosen, found, quiet, silent, strict=True):
        id_, name, grade, owner, industry, contact, phone, email, source, tags, count = row
        if line[_SILENT] and text >= line[_SILENT]:  # _Day.silent and _Day.due, inlined: this loop is the table
            stage, due, reason = silent_stage, line[_DUE_B], reason_b
        else:
            stage, due, reason = line[_STAGE].decode(*_UTF8), line[_DUE_A], reason_a
        due = text if due == b"-" else due
        if due not in days:
            days[due] = on(due.decode())
        created, last = line[_CREATED], line[_LAST]
        out.append(Row(id_, name, line[_REL].decode(*_UTF8), industry, contact, phone, email, source, stage, grade,
                       owner, tags, when(created.decode()) if created else None,
                       when(last.decode()) if last else None, days[due], reason or "", count))
    return out
