"""The listing: every face's one door to "which customers, in which order, and what is due".

``crm ls`` / ``due`` / ``report`` / ``export``, the TUI table and its due,
pipeline and reports screens all ask here; nobody else walks the vault to
list it.  What they get are ``Entry`` values (named fields, one per customer),
chosen and sorted by ``filters.choose`` and answered for a day by the due
rules' ``due.Timeline``, so a rule, a filter or a sort key exists once.
``ls --json``, ``due --json`` and the TUI table read ``Stored`` instead: the
same named fields over the stored row, only the columns the face and
``filters.fields_read`` name, with the timeline step of the day.

Storage: one SQLite file, ``.crmnotes/listing.sqlite3``, one row per customer
file keyed by its path, with the file's size and mtime.  Before every answer
one ``stat`` per file (``Vault.customer_stats``) finds the files changed
since, whoever changed them; only those are read again and written back as
single rows in one transaction, so an edit costs work proportional to the
customer, not the vault.  Each row keeps the ``Entry`` fields, the due
timeline and its step of the day written (with the day it stops holding),
the ``ls --json`` keys that do not depend on the day (serialized:
``ls --json`` splices them), the front-matter with follow-up summaries
(tasks, the agenda, the pipeline), the reports' facts (``report_facts``) and
the front-matter text with what YAML made of it, so a file read again whose
front-matter did not change (a follow-up appended) loads no YAML.
The cache is disposable: a different format version or config
(``Vault.config_state``) empties it, a damaged file is deleted and rebuilt,
a row that does not decode is read again from its file, an unwritable vault
lists from its files; never pickle.  WAL and a busy timeout let several
``crm`` processes read and update it at once.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import insort
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, time
from functools import cache
from itertools import accumulate, repeat
from json.encoder import encode_basestring
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .answers import Kept, Memo, memo
from .config import fold
from .due import Answer, Timeline, answer, is_due, status_of, timeline
from .errors import CrmError, FileFormatError
from .filters import Filters, choose, fields_read, sort_key
from .fsutil import changed_files
from .model import Customer, FollowUp, Problem, format_minute
from .objects import bulk
from .report_facts import NOT_READ, PARTS, UNREAD, Facts, OneDay, facts_of, from_stored
from .report_facts import stored as stored_facts
from .safetext import json_bytes
from .sensitive import mask_phone
from .typedjson import DECODER as _META_DECODER  # an export's front-matter: see _meta_only
from .typedjson import compact as _dumps
from .typedjson import tagged as _tagged
from .typedjson import untagged as _untagged
from .vault import CUSTOMERS_DIR, TEMP_PREFIX, ScanResult, Vault

if TYPE_CHECKING:
    from .note import Document

CACHE_FILE = "listing.sqlite3"
OLD_CACHE_FILES = ("catalog.txt", "listing.txt", "catalog.json")  # earlier layouts, removed on first use
FORMAT_VERSION = 15  # SQLite's user_version: a cache of another version is emptied
BUSY_TIMEOUT = 30.0  # seconds another crm process may hold the write lock (a first build of a big vault)


@dataclass(slots=True)
class Entry:
    """One customer as every list reads it.  ``stage`` is the stored one; what holds on a day
    (the effective stage, what is due and why) is ``on(day)``."""

    path: str  # relative to the vault root
    id: str
    name: str
    industry: str
    contact: str
    phone: str
    email: str
    source: str
    stage: str
    grade: str
    owner: str
    tags: list[str]
    created: datetime | None
    last_contact: datetime | None
    next_followup: date | None
    followup_count: int
    sort_key: str  # naming.collation_key(name): pinyin order for Chinese names
    masked_phone: str  # rules.mask_phone with the vault's region
    timeline: Timeline

    def on(self, day: date) -> Answer:
        return self.timeline.at(day)


ENTRY_COLUMNS = tuple(f.name for f in fields(Entry))
_ENTRY_SELECT = ENTRY_COLUMNS[1:]  # stored in the columns of the same names; "path" is the key, "rel"
_HEAD = 4  # a stored row starts with rel, size, mtime, problem


_PARSED = {"tags": json.loads, "created": datetime.fromisoformat, "last_contact": datetime.fromisoformat,
           "next_followup": date.fromisoformat}
# The columns of a stored row every face reads, checked before any is read (see ``_from_stored``); then
# what ``filters.fields_read`` says the choice reads, then the face's own.
_ALWAYS = ("timeline", "name", "sort_key", *(f"now_{c}" for c in ("from", "stage", "due", "reason", "rule",
                                                                    "floating", "until")))
_NOW_STEP = slice(_HEAD + 3, _HEAD + 9)  # the step of the day the row was written, in the stored step form
_NOW_FROM, _NOW_UNTIL = _HEAD + 3, _HEAD + 9
_UNREAD_TIMELINE = "unread_timeline"
_ROW_COLUMNS = (_UNREAD_TIMELINE, *_ALWAYS[1:], "stage", "grade", "owner", "tags", "created", "last_contact",
                "next_followup", "id", "industry", "contact", "phone", "email", "source", "followup_count")


def _columns(filters: Filters | None, sort: str, *own: str) -> tuple[str, ...]:
    """A face's columns; the timeline is left unread (NULL): ``_from_stored`` fetches it only for
    the rows whose stored step has passed."""
    return tuple(dict.fromkeys((_UNREAD_TIMELINE, *_ALWAYS[1:], *fields_read(filters, sort), *own)))

_STEPS_AT, _NAME_AT, _SORT_KEY_AT = _HEAD, _HEAD + 1, _HEAD + 2
_LISTED_FIRST = (_UNREAD_TIMELINE, *_ALWAYS[1:])  # the columns every list's rows start with (``_columns``)


class Stored(tuple):  # a row of mixed columns, read through named properties
    """``Entry``'s named fields over a cache row as SQLite returns it (rel, size, mtime, problem, some
    ``Entry`` columns, the day listed, the timeline's step on that day), each decoded only when read: a
    list of 10,000 customers reads a few fields of each, and making an ``Entry`` of each would cost more
    than the rest of the answer.  ``_stored_class`` adds one property per column read."""

    __slots__ = ()
    path = property(itemgetter(0))
    step = property(itemgetter(-1))  # the stored timeline step that holds on the day listed

    if TYPE_CHECKING:  # the properties _stored_class may add (only the columns read are there)
        id: str
        name: str
        industry: str
        contact: str
        phone: str
        email: str
        source: str
        stage: str
        grade: str
        owner: str
        tags: list[str]
        created: datetime | None
        last_contact: datetime | None
        next_followup: date | None
        followup_count: int
        sort_key: str
        masked_phone: str
        listing: bytes
        report: str
        facts: str
        contacts: str


@cache
def _stored_class(columns: tuple[str, ...]) -> type[Stored]:
    fields_ = {name: _stored_field(_HEAD + at, _PARSED.get(name)) for at, name in enumerate(columns)
               if name != "timeline" and not name.startswith("now_")}
    return type("Stored", (Stored,), {"__slots__": (), **fields_})


def _stored_field(at: int, parse: Callable[[str], Any] | None) -> Any:
    if parse is None:
        return property(itemgetter(at))
    return property(lambda row: parse(row[at]) if row[at] else None)


E = TypeVar("E", Entry, Stored)
T = TypeVar("T")


def _from_stored(vault: Vault, columns: tuple[str, ...], day: date, answer: Callable[[list[Any]], T]
                 ) -> tuple[T, list[Problem]]:
    """``answer`` over every readable customer's stored row (a ``Stored`` with ``columns``, for ``day``),
    and the files skipped.  The timeline is decoded only for rows whose step of the day they were
    written no longer holds.  A stored value that does not decode (changed by hand) sends the rows once
    through ``_entries``, which reads such files again."""
    kind, iso = _stored_class(columns), day.isoformat()
    with_listing_json = "listing" in columns
    listing_at = _HEAD + columns.index("listing") if with_listing_json else 0
    for attempt in range(2):
        stored, problems = _stored_rows(vault, columns)
        if _stepped(vault, stored, kind, iso, listing_at):
            try:
                return answer(stored), problems
            except (ValueError, TypeError, AttributeError, IndexError):
                if attempt:
                    raise
        _entries(vault, with_listing_json)
    raise AssertionError("unreachable")


def _stepped(vault: Vault, stored: list[Any], kind: type[Stored], iso: str, listing_at: int = 0) -> bool:
    """Make each of ``stored`` (in place) a ``kind`` holding its step on ``iso``; False, leaving them as
    they were, when a stored value does not decode (changed by hand)."""
    steps: list[Any] = [row[_NOW_STEP] for row in stored]  # stored (tuples), then decoded (lists)
    passed = [at for at, row in enumerate(stored) if not (
        type(row[_NOW_FROM]) is str and row[_NOW_FROM] <= iso
        and (row[_NOW_UNTIL] is None or (type(row[_NOW_UNTIL]) is str and iso < row[_NOW_UNTIL])))]
    unread = [stored[at][0] for at in passed if stored[at][_STEPS_AT] is None]
    texts = _timelines(vault, unread) if unread else {}
    timelines = _decode_all([stored[at][_STEPS_AT] or texts.get(stored[at][0], "null") for at in passed])
    sound = all(type(s) is list and s and type(s[-1]) is list and len(s[-1]) == 6 for s in timelines) and \
        all(type(row[_NAME_AT]) is str and type(row[_SORT_KEY_AT]) is str for row in stored) and \
        (not listing_at or all(type(row[listing_at]) is bytes for row in stored))
    if not sound:
        return False
    for at, found in zip(passed, timelines, strict=True):
        steps[at] = Timeline(found).step(iso)
    for at, step in enumerate(steps):  # in place: each row is freed as its Stored is made
        stored[at] = kind((*stored[at], iso, step))
    return True


@dataclass
class Listing:
    entries: list[Entry]
    problems: list[Problem]  # files skipped: unreadable, unsafe


@dataclass(frozen=True)
class DueItem:
    """A customer due on or before the day asked: ``crm due``'s line."""

    entry: Entry
    due: date
    stage: str  # effective on the day asked
    reason: str
    rule: str

    def days_overdue(self, today: date) -> int:
        return (today - self.due).days

    def status(self, today: date) -> str:
        return status_of(self.due, today)

    def to_json(self, today: date) -> dict[str, Any]:
        return _due_record(self.entry, self.stage, self.due, self.reason, self.rule, today)


def _due_record(entry: Entry | Stored, stage: str, due: date, reason: str, rule: str, today: date) -> dict[str, Any]:
    """One customer of ``crm due --json`` (``due_json`` writes the same keys as text)."""
    return {"id": entry.id, "name": entry.name, "owner": entry.owner, "stage": stage, "due": due.isoformat(),
            **_due_status(due, today), "rule": rule, "reason": reason, "path": entry.path}


def _due_status(due: date, today: date) -> dict[str, Any]:
    return {"status": status_of(due, today), "days_overdue": max((today - due).days, 0)}


@dataclass
class Row:
    """A customer on one day, flat, for the TUI table and search hits."""

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


def _rows_on(chosen: list[Stored], day: date) -> list[Row]:
    """The rows of stored customers on ``day`` (their step of that day): tags decoded in one call and
    each due day parsed once, since the table shows every customer."""
    tags_at = _HEAD + _ROW_COLUMNS.index("tags")
    tags = _decode_all([stored[tags_at] for stored in chosen])
    if not all(type(found) is list for found in tags):
        raise ValueError("stored tags that do not decode")
    days: dict[str, date] = {}
    out = []
    for entry, tag_list in zip(chosen, tags, strict=True):
        _, stage, when, reason, _, floating = entry.step
        due_on = day if floating else days.get(when) or days.setdefault(when, date.fromisoformat(when)) \
            if when else None
        out.append(Row(entry.id, entry.name, entry.path, entry.industry, entry.contact, entry.phone, entry.email,
                       entry.source, stage, entry.grade, entry.owner, tag_list, entry.created, entry.last_contact,
                       due_on, reason, entry.followup_count))
    return out


def row_of(vault: Vault, customer: Customer, today: date) -> Row:
    """The row of a customer object (a search hit): the same due rules, asked directly."""
    found = answer(customer, vault.config, today)
    return Row(customer.id, customer.name, vault.relative(customer.path), customer.text("industry"),
               customer.text("contact"), customer.text("phone"), customer.text("email"), customer.text("source"),
               found.stage, customer.grade, customer.owner, customer.tags, customer.created, customer.last_contact,
               found.due_on(today), found.reason, len(customer.followups))


# ------------------------------------------------------------------ the door


def entries(vault: Vault, filters: Filters | None = None, sort: str = "name", today: date | None = None,
            limit: int = 0) -> Listing:
    """The customers ``filters`` keep on ``today``, in ``sort`` order, and the files skipped."""
    day = today or date.today()
    with bulk():
        found, problems = _entries(vault)
        chosen = _choose(vault, found, filters, sort, *_entry_on(day))
    return Listing(chosen[:limit] if limit > 0 else chosen, problems)


def rows(vault: Vault, filters: Filters | None = None, sort: str = "name", today: date | None = None) -> list[Row]:
    """The TUI table's rows."""
    day = today or date.today()
    with bulk():
        return _from_stored(vault, _ROW_COLUMNS, day,
                            lambda found: _rows_on(_choose(vault, found, filters, sort, *_stored_on(day)), day))[0]


_FIRST_PAGE = (" WHERE c.problem IS NULL AND c.sort_key <= (SELECT MAX(sort_key) FROM (SELECT sort_key FROM customer"
               " WHERE problem IS NULL ORDER BY sort_key LIMIT ?))")  # the first ? keys, and every row that ties


def first_rows(vault: Vault, today: date | None = None, count: int = 200, at_least: int = 0) -> list[Row] | None:
    """The first ``count`` rows (a few more when names tie) of ``rows(vault)`` (no filter, by name) as the
    cache last stored them, no file looked at: a big vault's table shows them while ``rows`` checks every
    file.  Their order is ``rows``'s (the stored collation key, ties in ``Vault.scan`` order); None when
    the cache is not there, holds fewer than ``at_least`` customers (``rows`` is as quick) or holds a
    value that does not decode (``rows`` will read the files)."""
    day = today or date.today()
    with bulk(), _Cache.open(vault) as cache:
        if cache is None or cache.db.execute("SELECT COUNT(*) FROM customer").fetchone()[0] < max(at_least, 1):
            return None
        found: list[Any] = list(cache.rows(_ROW_COLUMNS, _FIRST_PAGE, (count,)).values())
    if not found or not _stepped(vault, found, _stored_class(_ROW_COLUMNS), day.isoformat()):
        return None
    found.sort(key=lambda stored: (stored.sort_key, _walk_order(stored.path)))
    try:
        return _rows_on(found, day)
    except (ValueError, TypeError, AttributeError, IndexError):
        return None


def index_first_rows(vault: Vault) -> None:
    """Index the cache by sort key, once, so that ``first_rows`` reads its page without a pass over
    every stored row (a big vault's next TUI start)."""
    with _Cache.open(vault) as cache:
        if cache is not None:
            _index(cache, "sort_key")


def _index(cache: _Cache, column: str) -> None:
    """Index the customer table by ``column``, once; never waits for another writer (busy, it is left
    to a later call: the index is only ever a shortcut)."""
    try:
        if cache.db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (f"customer_{column}",)).fetchone():
            return
        cache.db.execute("PRAGMA busy_timeout = 0")
        cache.db.execute(f"CREATE INDEX IF NOT EXISTS customer_{column} ON customer ({column})")
    except sqlite3.Error:
        pass


def _walk_order(rel: str) -> tuple[tuple[int, str], ...]:
    """``walk_customers``'s order as a key: a folder's files by name, then its subfolders by name."""
    *folders, name = rel.split("/")
    return (*((1, folder) for folder in folders), (0, name))


def keyed_rows(vault: Vault, filters: Filters | None = None, sort: str = "name", today: date | None = None
               ) -> list[tuple[Any, Row]]:
    """``rows`` each with (its sort key (``filters.SORT_KEYS`` over the stored row), its path), so a
    workspace merges the mounts' rows into the order of one vault."""
    day = today or date.today()
    key = stored_sort_key(sort, day)

    def keyed(found: list[Stored]) -> list[tuple[Any, Row]]:
        chosen = _choose(vault, found, filters, sort, *_stored_on(day))
        return list(zip([(key(stored), stored.path) for stored in chosen], _rows_on(chosen, day), strict=True))

    with bulk():
        return _from_stored(vault, _ROW_COLUMNS, day, keyed)[0]


def due(vault: Vault, day: date, owner: str = "") -> tuple[list[DueItem], list[Problem]]:
    """Customers due on or before ``day`` (of ``owner`` when given), most overdue first, then by name."""
    with bulk():
        found, problems = _entries(vault)
        if owner:
            found = choose(found, Filters(owner=owner), "name", vault.config, *_entry_on(day))
        items = []
        for entry in found:
            answer_ = entry.timeline.due_by(day)
            if answer_ is not None:
                items.append(DueItem(entry, answer_.due_on(day) or day, answer_.stage, answer_.reason, answer_.rule))
        items.sort(key=lambda item: (item.due, item.entry.name, item.entry.path))
        return items, problems


def due_json(vault: Vault, day: date, owner: str = "") -> tuple[bytes, list[Problem]]:
    """``crm due --json``'s UTF-8 text: ``due``'s items, written from the stored rows (no ``Entry`` made),
    or replayed (``answers``), or the one kept before a few edits with their customers' items put right."""
    kept = memo(vault, "due", [owner], day)
    replayed = kept.recall_whole() if kept else None
    if replayed is None and kept:
        replayed = _patched_due(vault, kept, day, owner)
    if replayed is not None:
        return replayed, []
    items, problems = due_json_items(vault, day, owner)
    escaped = _escaped([(key, text.encode("utf-8", "surrogatepass")) for key, text in items])
    if kept and not problems:
        return _kept_due(kept, escaped), problems
    return _due_text([text for _, text in escaped]), problems


def due_json_items(vault: Vault, day: date, owner: str = "", mount: str = ""
                   ) -> tuple[list[tuple[tuple[str, str, str], str]], list[Problem]]:
    """``due_json``'s objects in its order, each with its sort key (due day, name, path), so a
    workspace merges the mounts' items into the order of one vault; ``mount`` adds a "mount" key."""
    with bulk():
        columns = _columns(Filters(owner=owner) if owner else None, "name", "id", "owner")
        return _from_stored(vault, columns, day, lambda found: _due_written(vault, found, day, owner, mount))


def _due_written(vault: Vault, found: list[Stored], day: date, owner: str, mount: str = ""
                 ) -> list[tuple[tuple[str, str, str], str]]:
    """The ``due --json`` objects of ``found`` that are due on ``day`` (of ``owner``), in order, keyed."""
    iso = day.isoformat()
    if owner:
        found = choose(found, Filters(owner=owner), "name", vault.config, *_stored_on(day))
    items = []
    for stored in found:
        step = stored.step
        if is_due(step, iso):
            items.append((iso if step[5] else step[2], stored.name, stored.path, stored, step))
    items.sort(key=_DUE_ORDER)
    status: dict[str, str] = {}  # due day -> its status keys (few distinct days among thousands of items)
    text = encode_basestring
    mount_json = f', "mount": {text(mount)}' if mount else ""
    return [((when, name, path),
             f'{{"id": {text(stored.id)}, "name": {text(name)}, "owner": {text(stored.owner)}, '
             f'"stage": {text(step[1])}, "due": "{when}", '
             f'{status.get(when) or status.setdefault(when, _status_json(date.fromisoformat(when), day))}, '
             f'"rule": {text(step[4])}, "reason": {text(step[3])}, "path": {text(path)}{mount_json}}}')
            for when, name, path, stored, step in items]


def _due_text(texts: list[bytes]) -> bytes:
    return b"[" + b", ".join(texts) + b"]"


def _kept_due(kept: Memo, items: list[tuple[tuple[str, str, str], bytes]]) -> bytes:
    """The text of ``items``, kept with the key and length of each (``_patched_due`` reads them)."""
    text = _due_text([item for _, item in items])
    for _ in kept.keep([text], [[key[2], len(item), list(key)] for key, item in items]):
        pass
    return text


def _patched_due(vault: Vault, kept: Memo, day: date, owner: str) -> bytes | None:
    """The due list kept before the last changes, the changed customers' items taken out and, where
    they are due now, put back in their place; None when more than a few files changed or any came
    or went (then it is worked out whole)."""
    found = _changed_since(vault, kept, _columns(Filters(owner=owner) if owner else None, "name", "id", "owner"), day)
    if found is None:
        return None
    previous, rows = found
    again = {row.path for row in rows}
    items: list[tuple[tuple[str, str, str], bytes]] = []
    start = 1  # after "["
    for path, length, key in previous.index:
        if path not in again:
            items.append((tuple(key), previous.answer[start:start + length]))
        start += length + 2  # ", " between
    for key, text in _escaped([(key, text.encode("utf-8", "surrogatepass"))
                               for key, text in _due_written(vault, rows, day, owner)]):
        insort(items, (key, text), key=itemgetter(0))
    return _kept_due(kept, items)


def _status_json(due: date, today: date) -> str:
    return json.dumps(_due_status(due, today))[1:-1]


_DUE_ORDER = itemgetter(0, 1, 2)  # due day (ISO), name, path: ``due``'s order


def listing_json(vault: Vault, filters: Filters | None = None, sort: str = "name", limit: int = 0, *,
                 reveal: bool = False, today: date | None = None) -> tuple[bytes, list[Problem]]:
    """``crm ls --json``'s UTF-8 text: each customer's stored keys (the shape of ``listing_keys``)
    with those that depend on the day or on ``reveal`` added, escaped as output prints them
    (``safetext.json_bytes``)."""
    parts, problems = listing_json_parts(vault, filters, sort, limit, reveal=reveal, today=today)
    return b"".join(parts), problems


LISTING_BATCH = 500  # customers whose stored keys are fetched and written at a time


def listing_json_parts(vault: Vault, filters: Filters | None = None, sort: str = "name", limit: int = 0, *,
                       reveal: bool = False, today: date | None = None) -> tuple[Iterator[bytes], list[Problem]]:
    """``listing_json`` in pieces, to be written as they come: the choice and its order are made over
    the small columns; each piece fetches the stored keys of ``LISTING_BATCH`` customers, so the
    memory held does not grow with the text (a vault of 100,000 customers lists some 70 MB).  The
    answer worked out for the same files, day and arguments is replayed instead (``answers``)."""
    day = today or date.today()
    kept = memo(vault, "ls", [repr(filters), sort, limit, reveal], day)
    replayed = kept.recall() if kept else None
    if replayed is None and kept and not limit and sort.lstrip("-") == "name":
        replayed = _patched_listing(vault, kept, filters, sort, reveal, day)
    if replayed is not None:
        return replayed, []
    chosen, problems = listing_rows(vault, filters, sort, limit, reveal=reveal, today=day)
    index: list[list[Any]] = []
    parts = spliced_listing([(vault, row, "") for row in chosen], day.isoformat(), reveal, index)
    return (kept.keep(parts, None if limit else index) if kept and not problems else parts), problems


PATCH_AT_MOST = 200  # files changed since a kept listing that it is patched for; more: worked out again


def _patched_listing(vault: Vault, kept: Memo, filters: Filters | None, sort: str, reveal: bool, day: date
                     ) -> Iterator[bytes] | None:
    """The listing kept before the last changes, with the objects of the customers changed since written
    again, when that is all that changed: the same files, each changed one chosen as before and (the list
    being by name) under the same name, so every object keeps its place.  None otherwise (then the
    listing is worked out whole).  The changed files' rows of the cache are brought up to date too."""
    found = _changed_since(vault, kept, _columns(filters, sort, "phone" if reveal else "masked_phone"), day)
    if found is None:
        return None
    previous, rows = found
    chosen = {row.path for row in _choose(vault, rows, filters, sort, *_stored_on(day))}
    starts = list(accumulate((length + 1 for _, length in previous.index), initial=1))  # "[" then "," between
    at = {rel: n for n, (rel, _) in enumerate(previous.index)}
    written: dict[int, bytes] = {}
    for row in rows:
        n = at.get(row.path)
        if (n is not None) != (row.path in chosen):
            return None  # came into the list or left it
        if n is None:
            continue
        start = starts[n]
        if json.loads(previous.answer[start:start + previous.index[n][1]])["name"] != row.name:
            return None  # renamed: its place may move
        written[n] = b"".join(spliced_listing([(vault, row, "")], day.isoformat(), reveal))[1:-1]
        if not written[n]:
            return None  # unreadable since: the whole listing leaves it out
    answer, index, last = memoryview(previous.answer), previous.index, 0
    pieces: list[memoryview] = []
    for n in sorted(written):  # the kept text between the objects written again is copied as it is
        pieces += (answer[last:starts[n]], memoryview(written[n]))
        last = starts[n] + index[n][1]
        index[n][1] = len(written[n])
    pieces.append(answer[last:])
    for _ in kept.keep(pieces, index):  # written whole, then replayed like any kept answer
        pass
    return kept.recall()


def _changed_since(vault: Vault, kept: Memo, columns: tuple[str, ...], day: date
                   ) -> tuple[Kept, list[Stored]] | None:
    """The answer kept before the last changes and the rows (``columns``, on ``day``) of the customer
    files changed since, read again; None when it cannot be patched: none kept, an entry came or went,
    more than ``PATCH_AT_MOST`` files changed, or one of them cannot be listed."""
    previous = kept.previous()
    changed = changed_files(previous.listing, kept.listing, _passed_over) if previous else None
    if previous is None or changed is None or len(changed) > PATCH_AT_MOST:
        return None
    rows = _fresh_rows(vault, [f"{CUSTOMERS_DIR}/{path}" for path in changed], columns, day)
    return None if rows is None else (previous, rows)


def _passed_over(path: str, folder: bool) -> bool:
    """Does the walk pass over this path of customers/ (a hidden or temporary file or folder, a file
    that is not markdown, such as an editor's swap file)?  Such a change changes no answer."""
    return any(part.startswith((".", TEMP_PREFIX)) for part in path.split("/")) or not (folder or path.endswith(".md"))


def _fresh_rows(vault: Vault, rels: list[str], columns: tuple[str, ...], day: date) -> list[Stored] | None:
    """The rows of ``rels`` read again from their files now (and written to the cache), each holding its
    step on ``day``; None when one cannot be read or listed (the whole listing reports it)."""
    records = []
    with _Cache.open(vault) as cache:
        known = cache.sort_keys(rels) if cache and rels else {}
        fronts = cache.fronts(rels) if cache and rels else {}
        for rel in rels:
            try:
                stat = (vault.root / rel).stat()
            except OSError:
                return None
            records.append(_record(vault, rel, stat.st_size, stat.st_mtime_ns, known, fronts.get(rel)))
        if any(record.get("problem") for record in records):
            return None
        if cache and records:
            cache.write(records, [])
    rows: list[Any] = [_row_of(record, columns) for record in records]
    return rows if _stepped(vault, rows, _stored_class(columns), day.isoformat()) else None


def listing_rows(vault: Vault, filters: Filters | None = None, sort: str = "name", limit: int = 0, *,
                 reveal: bool = False, today: date | None = None) -> tuple[list[Stored], list[Problem]]:
    """The customers ``crm ls --json`` lists, in its order, holding only the small columns."""
    day = today or date.today()

    def chosen(found: list[Stored]) -> list[Stored]:
        picked = _choose(vault, found, filters, sort, *_stored_on(day))
        return picked[:limit] if limit > 0 else picked

    with bulk():
        columns = _columns(filters, sort, "phone" if reveal else "masked_phone")
        return _from_stored(vault, columns, day, chosen)


def spliced_listing(chosen: list[tuple[Vault, Stored, str]], iso: str, reveal: bool,
                    index: list[list[Any]] | None = None) -> Iterator[bytes]:
    """The JSON array of ``chosen`` (vault, row, mount name or ""): each one's stored keys, fetched a
    batch at a time from its vault's cache, and those of the day (and its "mount").  ``index``, when
    given, receives [path, length in bytes] of each object written, in order."""
    yield b"["
    first = True
    with ExitStack() as stack:
        caches: dict[Path, _Cache | None] = {}
        for start in range(0, len(chosen), LISTING_BATCH):
            batch = chosen[start:start + LISTING_BATCH]
            stored: dict[tuple[Path, str], bytes] = {}
            for vault in {vault.root: vault for vault, _, _ in batch}.values():
                if vault.root not in caches:
                    caches[vault.root] = stack.enter_context(_Cache.open(vault))
                rels = [row.path for owner, row, _ in batch if owner.root == vault.root]
                listed = _listed(vault, caches[vault.root], rels)
                stored.update(((vault.root, rel), text) for rel, text in listed.items())
            texts: list[tuple[str, bytes]] = []
            for vault, row, mount in batch:
                text = stored.get((vault.root, row.path))
                step = row.step
                if text is not None and (reveal or mount or step[5] or step != row[_NOW_STEP]):
                    text = _respliced(vault, row, text, iso, reveal, mount)  # not the object as it was stored
                if text is not None:  # (None: unreadable since it was listed)
                    texts.append((row.path, text))
            texts = _escaped(texts)
            if index is not None:
                index += ([path, len(text)] for path, text in texts)
            if texts:
                yield (b"," if not first else b"") + b",".join(text for _, text in texts)
                first = False
    yield b"]"


def _escaped(texts: list[tuple[Any, bytes]]) -> list[tuple[Any, bytes]]:
    """JSON texts as output prints them (``safetext.json_bytes``: controls and bidi marks as ``\\uXXXX``),
    checked together: one scan of the batch, each text escaped alone only when the batch held one."""
    whole = b"\0".join(text for _, text in texts)
    if json_bytes(whole) is whole:
        return texts
    return [(label, json_bytes(text)) for label, text in texts]


def _respliced(vault: Vault, row: Stored, stored: bytes, iso: str, reveal: bool, mount: str) -> bytes | None:
    """A stored ``ls --json`` object with its keys of the day written again for ``iso``, ``reveal`` and
    ``mount`` (the stored day's keys are the last ones); None when it must be read and cannot be."""
    cut = stored.rfind(b',"phone":')
    static = stored[1:cut] if cut > 0 else b""
    if reveal and b'"contacts":' in static:  # stored with the contacts' phones masked
        return _revealed(vault, row, iso, mount)
    _, stage, when, reason, _, floating = row.step
    dynamic = _dynamic_json(row.phone if reveal else row.masked_phone, stage, iso if floating else when, reason,
                            mount)
    return b"".join((b"{", static, b"," if static else b"", dynamic.encode("utf-8", "surrogatepass")))


def _revealed(vault: Vault, row: Stored, iso: str, mount: str) -> bytes | None:
    """The ``ls --json --reveal`` object of a customer with contacts, read from its file (the cache keeps
    their phones masked only); None when it cannot be read now."""
    try:
        data = listing_keys(vault, vault.read(vault.root / row.path), reveal=True, today=date.fromisoformat(iso))
    except FileFormatError:
        return None
    return _dumps({**data, **({"mount": mount} if mount else {})}).encode("utf-8", "surrogatepass")


def _dynamic_json(phone: str, stage: str, when: str | None, reason: str, mount: str) -> str:
    """The keys of an ``ls --json`` object that depend on the day, on ``--reveal`` or on the mount, last."""
    due = f'"{when}"' if when else "null"
    why = encode_basestring(reason) if reason else "null"
    mount_json = f',"mount":{encode_basestring(mount)}' if mount else ""
    return f'"phone":{encode_basestring(phone)},"effective_stage":{encode_basestring(stage)},"due":{due},' \
           f'"due_reason":{why}{mount_json}}}'


def _listed(vault: Vault, cache: _Cache | None, rels: list[str]) -> dict[str, bytes]:
    """rel -> the stored ``ls --json`` object of ``rels`` (its keys as they were on the day it was written)."""
    return _fetched(vault, cache, rels, "listing", bytes)


def _fetched(vault: Vault, cache: _Cache | None, rels: list[str], column: str, kind: type[T]) -> dict[str, T]:
    """rel -> the stored ``column`` (of the ``listed`` or ``bulky`` table) of ``rels``, fetched only now so
    a list never holds the whole vault's; a row missing or not what we wrote is made again from its file
    (left out when the file cannot be read now)."""
    table = "listed" if column in _LISTED else "bulky"
    found: dict[str, Any] = {}
    if cache is not None:
        try:
            found.update(cache.db.execute(
                f"SELECT rel, {column} FROM {table} WHERE rel IN ({', '.join('?' * len(rels))})", rels))
        except sqlite3.Error:
            pass  # each row is made again below
    for rel in rels:
        if type(found.get(rel)) is not kind:
            record = _remake(vault, rel)
            if record is None:
                found.pop(rel, None)
            else:
                found[rel] = record[column]
    return found


def stored_sort_key(sort: str, day: date) -> Callable[[Stored], Any]:
    """``sort``'s key over stored rows listed on ``day`` (a workspace merges its mounts' rows with it)."""
    return sort_key(sort, _stored_on(day)[1])


def entry_sort_key(sort: str, day: date) -> Callable[[Entry], Any]:
    """``sort``'s key over entries listed on ``day``."""
    return sort_key(sort, _entry_on(day)[1])


@dataclass(frozen=True)
class _Named:
    """What ``Vault.resolve``'s matchers read of a customer (ID, name, contact), from the cache."""

    path: Path
    id: str
    name: str
    contact: str

    def text(self, key: str) -> str:
        return self.contact if key == "contact" else ""


def resolve(vault: Vault, ref: str) -> Customer:
    """``Vault.resolve`` with the names, IDs and contacts the cache keeps: the same answers and
    refusals, but only the file that matches is read (a name used to parse every file)."""
    from .naming import looks_like_id

    if vault.as_customer_path(ref.strip()) is not None:
        return vault.resolve(ref)
    if looks_like_id(ref.strip()):  # the file the cache names, else the one named by the ID's tag
        by_id = _by_stored_id(vault, ref.strip().lower())
        return by_id if by_id is not None else vault.resolve(ref)
    with bulk():
        stored, _ = _stored_rows(vault, ("id", "name", "contact"))
    pool = [_Named(vault.root / row[0], *row[_HEAD:_HEAD + 3]) for row in stored]
    found = vault.resolve(ref, pool)  # type: ignore[arg-type]  # the matchers read only id, name, path and text()
    return vault.read(found.path)


def _by_stored_id(vault: Vault, wanted: str) -> Customer | None:
    """The customer the cache says has the ID ``wanted``, read from its file and holding that ID still;
    None when the cache does not name exactly one file or that file does not hold it now (the caller
    looks by file name, then reads them all).  One query and one file, not a listing of every folder."""
    with _Cache.open(vault) as cache:
        if cache is None:
            return None
        _index(cache, "id")  # once: a lookup then reads one index entry, not every row
        try:
            found = cache.db.execute("SELECT rel FROM customer WHERE id = ? LIMIT 2", (wanted,)).fetchall()
        except sqlite3.Error:
            return None
    if len(found) != 1 or type(found[0][0]) is not str:
        return None
    path = vault.root / found[0][0]
    try:
        customer = vault.read(path) if path.is_file() and not path.is_symlink() else None
    except FileFormatError:
        return None
    return customer if customer is not None and customer.id == wanted else None


def report_customers(vault: Vault, owner: str = "") -> ScanResult:
    """Every customer (of ``owner`` when given) with its whole front-matter and a summary of
    every follow-up (``SUMMARY_FIELDS``: time, channel, author, stage move, next step with its time,
    assignee and ``done:`` lines; no texts): what reports, the pipeline, tasks, the agenda,
    reminders, deals and tickets of many customers read, without parsing the files."""
    with bulk():
        rows_, problems = _stored_rows(vault, ("report",))
        result = ScanResult(problems=problems)
        decoded = _decode_all([row[_HEAD] for row in rows_], _untagged)
        for rel, report in zip((row[0] for row in rows_), decoded, strict=True):
            customer = _reported(vault, rel, report)
            if customer is None:  # not what we wrote: read the file again
                record = _remake(vault, rel)
                customer = _reported(vault, rel, json.loads(record["report"], object_hook=_untagged)) \
                    if record else None
            if customer is not None and (not owner or fold(customer.owner) == fold(owner)):
                result.customers.append(customer)
    return result


def report_facts(vault: Vault, owner: str = "", parts: Collection[str] = PARTS, day: date | None = None
                 ) -> tuple[list[Facts], list[Problem]]:
    """Every customer's report facts (of ``owner`` when given), with only the ``parts`` decoded (the
    others left unread): what ``reports.build`` reads, without parsing the files or decoding their
    front-matter and follow-up summaries.  With ``day`` (the one day the report asks what holds), the
    timeline answers only for that day, from the step kept for today where it still holds."""
    read = [part for part in PARTS if part in parts]
    stored = {part: _NOW if part == "timeline" and day else (_FACT_PARTS[part],) for part in read}
    wanted = (*_FACT_HEAD, *(column for columns in stored.values() for column in columns))
    at = {part: _HEAD + wanted.index(columns[0]) for part, columns in stored.items()}  # where each part's columns start
    found: list[Facts] = []
    with bulk():
        rows_, problems = _stored_rows(vault, wanted)
        if owner:  # before decoding anything: one owner's report decodes only their customers
            rows_ = [row for row in rows_ if fold(row[_HEAD + 2] or "") == fold(owner)]
        columns = {part: _on_day(vault, rows_, at[part], day) if part == "timeline" and day
                   else _decoded_part(part, [row[at[part]] for row in rows_]) for part in read}
        decoded = [columns.get(part) or repeat(_UNREAD_PART[part]) for part in PARTS]
        for row, *values in zip(rows_, *decoded, strict=False):  # repeat() is endless
            facts = _facts(row[_HEAD:_HEAD + len(_FACT_HEAD)], values)
            if facts is None:  # not what we wrote: read the file again
                record = _remake(vault, row[0])
                facts = _facts(tuple(record.get(c) for c in _FACT_HEAD),
                               [_decoded_part(part, [record.get(_FACT_PARTS[part])])[0] if part in read
                                else _UNREAD_PART[part] for part in PARTS]) if record else None
            if facts is not None:
                found.append(facts)
    return found, problems


# The columns of the facts: the customer's own (see ``report_facts.from_stored``), then a column per part.
_FACT_HEAD = ("id", "name", "owner", "stage", "source", "created", "last_contact", "f_campaign", "f_filled")
_FACT_PARTS = {"tags": "tags", "moves": "f_moves", "reached": "f_reached", "deals": "f_deals",
               "tickets": "f_tickets", "timeline": "timeline", "contacts": "contacts"}
_UNREAD_PART: dict[str, Any] = {**dict.fromkeys(PARTS, NOT_READ), "timeline": UNREAD, "contacts": None}


_NOW = ("now_from", "now_stage", "now_due", "now_reason", "now_rule", "now_floating", "now_until")


def _on_day(vault: Vault, rows: list[tuple[Any, ...]], at: int, day: date) -> list[Any]:
    """What holds on ``day`` for each row (its ``_NOW`` columns from ``at``): the kept step where it holds
    on that day, else the timeline read and decoded (None: not what we wrote)."""
    iso = day.isoformat()
    found: list[Any] = []
    passed = []
    for index, row in enumerate(rows):
        start, until = row[at], row[at + 6]
        if type(start) is str and start <= iso and (until is None or (type(until) is str and iso < until)):
            found.append(OneDay(iso, list(row[at:at + 6])))
        else:
            found.append(None)
            passed.append(index)
    texts = _timelines(vault, [rows[index][0] for index in passed]) if passed else {}
    for index, steps in zip(passed, _decode_all([texts.get(rows[index][0], "null") for index in passed]),
                            strict=True):
        found[index] = steps
    return found


def _decoded_part(part: str, texts: list[Any]) -> list[Any]:
    """The stored texts of one part decoded (the follow-ups are kept as one text: split while counted)."""
    if part == "contacts":
        return texts
    return _decode_all(texts, _untagged if part in ("deals", "tickets") else None)


def _facts(head: tuple[Any, ...], parts: list[Any]) -> Facts | None:
    """The facts of a row's columns and its decoded ``parts`` (in ``PARTS`` order); None when they are
    not what we wrote."""
    tags, moves, reached, deals_, tickets_, steps, contacts = parts
    try:
        if not (steps is UNREAD or type(steps) is OneDay):
            if not (isinstance(steps, list) and steps):
                return None
            steps = Timeline(steps)
        return from_stored(head, tags, moves, reached, deals_, tickets_, steps, contacts)
    except (TypeError, ValueError, AttributeError):
        return None


Front = tuple[str, dict[str, Any], datetime | None, str | None]
"""An exported customer: its path (relative to the vault), its front-matter, its last contact and its
phone as the export shows it (masked unless revealed; None: not stored, the exporter masks it)."""


def exported(vault: Vault, filters: Filters | None = None, sort: str = "name",
             today: date | None = None) -> ScanResult:
    """``exported_fronts`` as customers (their front-matter and last contact, no follow-ups): what a
    vCard export reads."""
    fronts, problems = exported_fronts(vault, filters, sort, today=today)
    result = ScanResult(problems=problems)
    result.customers += [_Reported(path=vault.root / rel, meta=meta, last_at=last) for rel, meta, last, _ in fronts]
    return result


def exported_fronts(vault: Vault, filters: Filters | None = None, sort: str = "name", *, reveal: bool = False,
                    today: date | None = None) -> tuple[list[Front], list[Problem]]:
    """The chosen customers (the listing's choice and order) as the cache keeps them, no file parsed:
    the whole front-matter, the last contact and the phone (the stored masked one unless ``reveal``),
    what a CSV, XLSX or vCard export reads (follow-up texts are not kept: a JSON or iCalendar export
    reads ``customers``).  The last contact is the entry's: a deal's stage-move record does not count,
    which the follow-up summaries cannot tell.  No customer object is made: a table reads only these."""
    day = today or date.today()

    def chosen(found: list[Stored]) -> list[Stored]:
        return _choose(vault, found, filters, sort, *_stored_on(day))

    phone = "phone" if reveal else "masked_phone"
    with bulk(), _Cache.open(vault) as cache:
        rows_, problems = _from_stored(vault, _columns(filters, sort, "last_contact", phone), day, chosen)
        fronts: list[Front] = []
        while rows_:  # the front-matters fetched a batch at a time, each row let go once read
            batch = rows_[:LISTING_BATCH]
            del rows_[:LISTING_BATCH]
            reports = _fetched(vault, cache, [row.path for row in batch], "report", str)
            fronts += _exported_batch(vault, batch, reports, reveal, problems)
    return fronts, problems


def _meta_only(report: Any) -> dict[str, Any] | None:
    """The front-matter of a stored ``report`` column (``[meta, follow-up summaries, problems]``),
    decoded without the summaries an export does not read; None when it is not what we wrote."""
    try:
        if type(report) is str and report.startswith("[{") and report.endswith("]"):
            meta, end = _META_DECODER.raw_decode(report, 1)
            return meta if report[end:end + 1] == "," and type(meta) is dict else None
    except (ValueError, TypeError, KeyError, AttributeError):  # the hook raises the last two on odd tags
        pass
    return None


def _decoded_meta(text: str) -> dict[str, Any] | None:
    """A front-matter stored as ``_dumps(_tagged(meta))``; None when it is not what we wrote."""
    try:
        meta = _META_DECODER.decode(text)
    except (ValueError, TypeError, KeyError, AttributeError):  # the hook raises the last two on odd tags
        return None
    return meta if type(meta) is dict else None


def _exported_batch(vault: Vault, batch: list[Stored], reports: dict[str, str], reveal: bool,
                    problems: list[Problem]) -> list[Front]:
    """The fronts of ``batch`` from their stored rows (read from the file when one does not decode)."""
    out: list[Front] = []
    for entry in batch:
        rel = entry.path
        if rel not in reports:
            continue  # unreadable since it was listed
        meta = _meta_only(reports[rel])
        try:
            last = entry.last_contact
            phone = entry.phone if reveal else entry.masked_phone
        except (ValueError, TypeError):
            meta = None
        if meta is None or type(phone) is not str:  # not what we wrote: the file itself
            try:
                customer = vault.read(vault.root / rel)
            except FileFormatError as exc:
                problems.append(Problem(vault.root / rel, None, exc.message, code="unreadable"))
                continue
            out.append((rel, customer.meta, customer.last_contact, None))
            continue
        out.append((rel, meta, last, phone))
    return out


def customers(vault: Vault, filters: Filters | None = None, sort: str = "name",
              today: date | None = None) -> ScanResult:
    """The chosen customers read whole from their files (for an export): the choice is the listing's."""
    listing = entries(vault, filters, sort, today)
    result = ScanResult(problems=listing.problems)
    for entry in listing.entries:
        try:
            result.customers.append(vault.read(vault.root / entry.path))
        except FileFormatError as exc:  # changed since it was listed
            result.problems.append(Problem(vault.root / entry.path, None, exc.message, code="unreadable"))
    return result


def load(vault: Vault) -> ScanResult:
    """Every customer with all its follow-ups (body text excluded) and every
    unreadable file, like ``Vault.scan``, from the search index when it can be used."""
    try:
        from .search import load_customers  # the index is an adapter: imported only when used

        return load_customers(vault)
    except (CrmError, OSError, ImportError):
        return vault.scan()


def _choose(vault: Vault, found: list[E], filters: Filters | None, sort: str, stage_on_day: Callable[[E], str],
            due_on_day: Callable[[E], date | None]) -> list[E]:
    if filters is None or filters == Filters():
        from .filters import sort_key  # no config parsed for an unfiltered list

        return sorted(found, key=sort_key(sort, due_on_day), reverse=sort.startswith("-"))
    return choose(found, filters, sort, vault.config, stage_on_day, due_on_day)


def _entry_on(day: date) -> tuple[Callable[[Entry], str], Callable[[Entry], date | None]]:
    """An entry's effective stage and due date on ``day``, for ``choose``."""
    return (lambda entry: entry.on(day).stage), (lambda entry: entry.on(day).due_on(day))


def _stored_on(day: date) -> tuple[Callable[[Stored], str], Callable[[Stored], date | None]]:
    """A stored row's effective stage and due date on the day listed: its stored step's (nothing decoded)."""
    return _stored_stage, lambda stored: day if stored.step[5] else _day(stored.step[2])


def _stored_stage(stored: Stored) -> str:
    return stored.step[1]


def _day(iso: str | None) -> date | None:
    return date.fromisoformat(iso) if iso else None


# ------------------------------------------------------------------ one customer file, read for the cache

LISTING_JSON_DYNAMIC = ("phone", "effective_stage", "due", "due_reason")  # depend on the day or --reveal


def listing_keys(vault: Vault, customer: Customer, *, reveal: bool = False, today: date | None = None
                 ) -> dict[str, Any]:
    """One customer of ``ls --json``: ``shape.customer_json`` without the follow-up texts
    (``followup_count`` and ``last_contact`` instead)."""
    from .shape import customer_json

    data = customer_json(vault, customer, reveal=reveal, today=today)
    data.pop("followups", None)
    data["followup_count"] = len(customer.followups)
    return data


def _record(vault: Vault, rel: str, size: int, mtime: int, known: dict[str, str] | None = None,
            front: tuple[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A cache row of one file, read now.  The stat was taken before reading: a write
    racing with us shows as a changed stat next time.  ``known`` maps names to the sort keys
    their rows had: an edit that keeps the name keeps its key (no pinyin dictionaries loaded);
    ``front`` is the front-matter text and meta the row had (used when the text is the same)."""
    path = vault.root / rel
    try:
        doc = vault.read_document(path, front)
        customer = vault.customer_from(path, doc)
        dated = timeline(customer, vault.config)
        phone = customer.text("phone")
        masked = mask_phone(phone, vault.config.phone_region) if phone else ""
        static = listing_keys(vault, customer)
        for key in LISTING_JSON_DYNAMIC:
            static.pop(key, None)
        row = {
            "path": rel, "id": customer.id, "name": customer.name, "industry": customer.text("industry"),
            "contact": customer.text("contact"), "phone": phone, "email": customer.text("email"),
            "source": customer.text("source"), "stage": customer.stage, "grade": customer.grade,
            "owner": customer.owner, "tags": _dumps(customer.tags), "created": _iso(customer.created),
            "last_contact": _iso(customer.last_contact), "next_followup": _iso(customer.next_followup),
            "followup_count": len(customer.followups), "sort_key": _sort_key(customer.name, known),
            "masked_phone": masked,
            "timeline": _dumps(dated.steps), **(now := _now(dated)),
            "listing": _listing_json(static, masked, now),
            "report": _dumps([_tagged(customer.meta), [_summary(f) for f in customer.followups],
                              [[p.line, p.message, p.severity, p.code] for p in customer.problems]]),
        }
        row.update(_front_columns(doc, customer.meta, row["report"]))
        facts = facts_of(customer, vault.config, dated)
        row.update({column: value if column in _FACTS_AS_THEY_ARE else _dumps(_tagged(value))
                    for column, value in stored_facts(facts).items()})
    except FileFormatError as exc:
        detail = exc.message.removeprefix(vault.relative(path)).strip()
        row = {"problem": f"{detail} {exc.hint}".strip()}
    except (ValueError, TypeError, OverflowError, RecursionError, AttributeError) as exc:
        row = {"problem": f"cannot be listed: {exc}"}  # one bad value must not stop the other customers
    return {"rel": rel, "size": size, "mtime": mtime, **row}


def _front_columns(doc: Document, meta: dict[str, Any], report: str) -> dict[str, Any]:
    """The ``front`` and ``front_meta`` columns of a file read as ``doc`` (its customer's ``meta``,
    the row's ``report``): the front-matter text and, only when it differs from the report's
    front-matter (a stage written as its label), what YAML made of it.  Kept only when the stored
    JSON decodes back to exactly what YAML gave, so a reuse (``_Cache.fronts``) changes nothing."""
    raw = doc.meta
    if meta is raw:
        stored, again = None, _meta_only(report)
    else:
        stored = _dumps(_tagged(raw))
        again = _decoded_meta(stored)
    if again != raw:  # a nested key that is not a text, a NaN: parsed again next time
        return {}
    return {"front": doc.text[doc.fm_start:doc.fm_end], "front_meta": stored}


def _listing_json(static: dict[str, Any], masked_phone: str, now: dict[str, Any]) -> bytes:
    """The ``ls --json`` object of a customer as on the day its row is written (spliced as bytes, never
    decoded): its keys, then those of the day; a list on another day, with ``--reveal`` or in a workspace
    cuts the day's keys off and writes them again (``spliced_listing``)."""
    static_json = _dumps(static)[1:-1]
    dynamic = _dynamic_json(masked_phone, now["now_stage"], date.today().isoformat() if now["now_floating"]
                            else now["now_due"], now["now_reason"], "")
    return ("{" + static_json + ("," if static_json else "") + dynamic).encode("utf-8", "surrogatepass")


def _sort_key(name: str, known: dict[str, str] | None) -> str:
    if known and name in known:
        return known[name]
    from .naming import collation_key  # pypinyin for Chinese names: only for a new or renamed customer

    return collation_key(name)


def _now(steps: Timeline) -> dict[str, Any]:
    """The ``now_`` columns: the step that holds today and the day it stops holding."""
    step, until = steps.window(date.today().isoformat())
    return {**{f"now_{c}": v for c, v in zip(("from", "stage", "due", "reason", "rule", "floating"), step,
                                             strict=True)}, "now_until": until}


# The ``FollowUp`` fields a follow-up summary keeps, by name, in this order (stored as a JSON list to stay
# small): enough for reports, tasks, the agenda and the due rules.  The note is kept only for the entry a
# deal's stage move writes (``FollowUp.is_contact`` reads it); every other text is left to the file.
SUMMARY_FIELDS = ("at", "channel", "by", "next_date", "next_what", "next_at", "next_who", "stage_from", "stage_to",
                  "has_time", "done", "note")
_SUMMARY_PARSED: dict[str, Callable[[Any], Any]] = {"at": datetime.fromisoformat, "next_date": date.fromisoformat,
                                                    "next_at": time.fromisoformat}


def _summary(followup: FollowUp) -> list[Any]:
    values = {name: getattr(followup, name) for name in SUMMARY_FIELDS}
    if followup.is_contact:
        values["note"] = ""
    return [value.isoformat() if isinstance(value, (date, time)) else value for value in values.values()]


def _followup_of(summary: list[Any]) -> FollowUp:
    """The follow-up of a stored summary, every field by its name."""
    if len(summary) != len(SUMMARY_FIELDS):
        raise ValueError("a follow-up summary of another shape")
    values = {name: _SUMMARY_PARSED[name](value) if value and name in _SUMMARY_PARSED else value
              for name, value in zip(SUMMARY_FIELDS, summary, strict=True)}
    if not (isinstance(values["done"], list) and all(isinstance(text, str) for text in values["done"])):
        raise ValueError("stored done: lines that are not texts")
    return FollowUp(**values)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None




# ------------------------------------------------------------------ entries and report customers from rows


def _entries(vault: Vault, with_listing_json: bool = False) -> tuple[list[Entry], list[Problem]]:
    wanted = _ENTRY_SELECT + (("listing",) if with_listing_json else ())
    stored, problems = _stored_rows(vault, wanted)
    tags_at, steps_at = wanted.index("tags"), wanted.index("timeline")
    tags = _decode_all([row[_HEAD + tags_at] for row in stored])
    steps = _decode_all([row[_HEAD + steps_at] for row in stored])
    found = []
    for row, tag_list, step_list in zip(stored, tags, steps, strict=True):
        rel, values = row[0], row[_HEAD:]
        entry = _entry(rel, values, tag_list, step_list, with_listing_json)
        if entry is None:  # not what we wrote: read the file again
            record = _remake(vault, rel)
            if record:
                values = tuple(record.get(c) for c in wanted)
                entry = _entry(rel, values, json.loads(values[tags_at]), json.loads(values[steps_at]),
                               with_listing_json)
        if entry is not None:
            found.append(entry)
    return found, problems


def _decode_all(texts: list[Any], hook: Any = None) -> list[Any]:
    """``json.loads`` of every text, in one call of the C decoder; None for a text that does not decode."""
    try:
        values = json.loads("[" + ",".join(texts) + "]", object_hook=hook)
        if isinstance(values, list) and len(values) == len(texts):
            return values
    except (ValueError, TypeError, KeyError, AttributeError):  # the hook raises the last two on odd tags
        pass
    out = []
    for text in texts:
        try:
            out.append(json.loads(text, object_hook=hook))
        except (ValueError, TypeError, KeyError, AttributeError):
            out.append(None)
    return out


def _entry(rel: str, values: tuple[Any, ...], tags: Any, steps: Any, with_listing_json: bool) -> Entry | None:
    """The entry of a row (its tags and timeline already decoded); None when the row is not what we wrote."""
    try:
        (id_, name, industry, contact, phone, email, source, stage, grade, owner, _, created, last, next_,
         count, sort_key, masked, _, *listing) = values
        if not (isinstance(steps, list) and steps and isinstance(steps[-1], list) and len(steps[-1]) == 6):
            return None
        if with_listing_json and not isinstance(listing[0], bytes):  # only checked: ``_from_stored`` reads it
            return None
        made = Entry(
            rel, id_, name, industry, contact, phone, email, source, stage, grade, owner, tags,
            datetime.fromisoformat(created) if created else None, datetime.fromisoformat(last) if last else None,
            date.fromisoformat(next_) if next_ else None, count, sort_key, masked, Timeline(steps))
        if not (isinstance(name, str) and isinstance(sort_key, str) and isinstance(count, int)
                and isinstance(tags, list)):
            return None
        return made
    except (TypeError, ValueError, AttributeError):
        return None


def _reported(vault: Vault, rel: str, report: Any) -> _Reported | None:
    """The customer of a decoded ``report`` column; None when it is not what we wrote."""
    try:
        meta, summaries, problems = report
        path = vault.root / rel
        every = [_followup_of(summary) for summary in summaries]
        if not isinstance(meta, dict):
            return None
        found = [Problem(path, line, message, severity, code) for line, message, severity, code in problems]
        customer = _Reported(path=path, meta=meta, followups=every, problems=found,
                             last_at=max((f.at for f in every if f.is_contact), default=None))
        customer.created_at = Customer.created.fget(customer)  # type: ignore[attr-defined]  # mypy types a property read on the class as its getter
        return customer
    except (TypeError, ValueError, AttributeError, KeyError):
        return None


@dataclass
class _Reported(Customer):
    """A customer of the cache for reports: the front-matter and every follow-up without its texts,
    with ``created`` and ``last_contact`` worked out once (reports read them many times)."""

    created_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def created(self) -> datetime | None:
        if self.created_at is None:  # not worked out (an export's), or none
            return Customer.created.fget(self)  # type: ignore[attr-defined]  # mypy types a property read on the class as its getter
        return self.created_at

    @property
    def last_contact(self) -> datetime | None:
        return self.last_at


# ------------------------------------------------------------------ the SQLite file

# Four tables with the same key: what every list reads, and the serialized parts only ``ls --json``
# (listed), the customers of many-customer views (bulky) and ``crm report`` (facts) read, so a list never
# pages through what it does not need.
_COLUMNS = ("rel", "size", "mtime", "problem", *_ENTRY_SELECT, *_ALWAYS[3:])
_LISTED = ("rel", "listing")
_BULKY = ("rel", "report")
_FRONTS = ("rel", "front", "front_meta")  # read back only for a changed file: see _front_columns
# ``crm report``'s: a table of their own, so it pages through nothing else; each list a column (``PARTS``)
_FACTS = ("rel", "f_campaign", "f_filled", "f_moves", "f_reached", "f_deals", "f_tickets", "contacts")
_FACTS_AS_THEY_ARE = ("f_campaign", "f_filled", "contacts")  # stored as they are; the others as JSON
_TABLES = (("customer", "c", _COLUMNS), ("listed", "l", _LISTED), ("bulky", "b", _BULKY), ("facts", "f", _FACTS),
           ("fronts", "p", _FRONTS))
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS customer (rel TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime INTEGER NOT NULL, "
    + ", ".join(_COLUMNS[3:]) + ")",
    "CREATE TABLE IF NOT EXISTS listed (rel TEXT PRIMARY KEY, listing BLOB)",
    "CREATE TABLE IF NOT EXISTS bulky (rel TEXT PRIMARY KEY, report TEXT)",
    "CREATE TABLE IF NOT EXISTS facts (rel TEXT PRIMARY KEY, " + ", ".join(_FACTS[1:]) + ")",
    "CREATE TABLE IF NOT EXISTS fronts (rel TEXT PRIMARY KEY, front TEXT, front_meta TEXT)",
)


def _stored_rows(vault: Vault, wanted: tuple[str, ...]) -> tuple[list[tuple[Any, ...]], list[Problem]]:
    """The rows (rel, size, mtime, problem, the ``wanted`` columns) of every readable customer file in
    ``Vault.scan`` order, the cache brought up to date first; and the files skipped."""
    current, unsafe = vault.customer_stats()
    problems = list(unsafe)
    with _Cache.open(vault) as cache:
        stored = cache.rows(wanted) if cache else {}
        changed = [rel for rel, stat in current.items() if stored.get(rel, _NO_ROW)[1:3] != stat]
        gone = [rel for rel in stored if rel not in current]
        if changed:
            vault.config  # noqa: B018 (parsed now: a broken config is an error, not a problem of each file)
        known = cache.sort_keys(changed) if cache and changed else {}
        fronts = cache.fronts(changed) if cache and stored and changed else {}
        records = [_record(vault, rel, *current[rel], known, fronts.get(rel)) for rel in changed]
        if cache and (records or gone):
            cache.write(records, gone)
    for record in records:
        stored[record["rel"]] = _row_of(record, wanted)
    out = [stored[rel] for rel in current]
    if any(row[3] is not None for row in out):
        problems += [Problem(vault.root / row[0], None, str(row[3]), code="unreadable") for row in out
                     if row[3] is not None]
        out = [row for row in out if row[3] is None]
    return out, problems


_NO_ROW = (None, None, None)


def _row_of(record: dict[str, Any], wanted: tuple[str, ...]) -> tuple[Any, ...]:
    return (record["rel"], record["size"], record["mtime"], record.get("problem"), *(record.get(c) for c in wanted))


def _timelines(vault: Vault, rels: list[str]) -> dict[str, str]:
    """rel -> stored timeline text of ``rels`` (those in the cache)."""
    found: dict[str, str] = {}
    with _Cache.open(vault) as cache:
        try:
            if cache is not None:
                found.update(cache.per_rel("SELECT rel, timeline FROM customer WHERE rel IN ({rels})", rels))
        except sqlite3.Error:
            pass  # what was fetched before stays; a missing one is read again from its file
    return found


def _remake(vault: Vault, rel: str) -> dict[str, Any] | None:
    """The row of ``rel`` read again from its file (its stored columns did not decode); None if unreadable."""
    try:
        stat = (vault.root / rel).stat()
    except OSError:
        return None
    record = _record(vault, rel, stat.st_size, stat.st_mtime_ns)
    with _Cache.open(vault) as cache:
        if cache:
            cache.write([record], [])
    return None if record.get("problem") else record


class _Cache:
    """The open SQLite cache of one vault."""

    def __init__(self, vault: Vault, db: sqlite3.Connection) -> None:
        self.vault, self.db = vault, db

    @classmethod
    @contextmanager
    def open(cls, vault: Vault) -> Iterator[_Cache | None]:
        """The cache, made ready for this format and config; None when it cannot be used (then
        everything is read from the files)."""
        db = _connect(vault)
        cache = cls(vault, db) if db is not None else None
        try:
            yield cache
        finally:
            if cache is not None:
                cache.db.close()

    def rows(self, wanted: tuple[str, ...], where: str = "", parameters: tuple[Any, ...] = ()
             ) -> dict[str, tuple[Any, ...]]:
        """rel -> (rel, size, mtime, problem, the ``wanted`` columns) of every stored row (``where`` keeps)."""
        alias = {c: a for _, a, columns in reversed(_TABLES) for c in columns}
        columns = ", ".join("NULL" if c == _UNREAD_TIMELINE else f"{alias[c]}.{c}" for c in wanted)
        join = "".join(f" LEFT JOIN {table} {a} ON {a}.rel = c.rel" for table, a, columns in _TABLES[1:]
                       if set(wanted) & set(columns[1:]))
        query = f"SELECT c.rel, c.size, c.mtime, c.problem, {columns} FROM customer c{join}{where}"
        try:
            if wanted[:len(_LISTED_FIRST)] != _LISTED_FIRST:
                return {row[0]: row for row in self.db.execute(query, parameters)}
            # A list's rows: the step columns repeat a few hundred dates, stages and reasons over
            # the whole vault; one object each instead of one per row, a third of a list's memory.
            one: dict[Any, Any] = {}
            same = one.setdefault
            return {row[0]: (*row[:_NOW_FROM], same(row[_NOW_FROM], row[_NOW_FROM]), same(row[8], row[8]),
                             same(row[9], row[9]), same(row[10], row[10]), same(row[11], row[11]), row[12],
                             same(row[_NOW_UNTIL], row[_NOW_UNTIL]), *row[_NOW_UNTIL + 1:])
                    for row in self.db.execute(query, parameters)}
        except sqlite3.DatabaseError:  # damaged inside: start over (every file is read again)
            self.db.close()
            _delete(self.vault.cache_dir / CACHE_FILE)
            self.db = _connect(self.vault) or sqlite3.connect(":memory:")
            return {}

    def sort_keys(self, rels: list[str]) -> dict[str, str]:
        """name -> sort key of the stored rows of ``rels`` (keys worked out once per name)."""
        try:
            return dict(self.per_rel(
                "SELECT name, sort_key FROM customer WHERE rel IN ({rels}) AND sort_key IS NOT NULL", rels))
        except sqlite3.Error:
            return {}

    def fronts(self, rels: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """rel -> (front-matter text, what YAML made of it) of the stored rows of ``rels`` that kept one."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        try:
            for rel, front, front_meta, report in self.per_rel(
                    "SELECT p.rel, p.front, p.front_meta, b.report FROM fronts p JOIN bulky b ON b.rel = p.rel "
                    "WHERE p.rel IN ({rels}) AND p.front IS NOT NULL", rels):
                meta = _meta_only(report) if front_meta is None else _decoded_meta(front_meta)
                if type(front) is str and meta is not None:
                    found[rel] = (front, meta)
        except sqlite3.Error:
            return {}
        return found

    def per_rel(self, query: str, rels: list[str]) -> Iterator[tuple[Any, ...]]:
        """The rows ``query`` selects for ``rels`` (its ``{rels}`` stands for their placeholders), asked
        500 at a time: SQLite bounds the parameters of one statement."""
        for start in range(0, len(rels), 500):
            chunk = rels[start:start + 500]
            yield from self.db.execute(query.format(rels=", ".join("?" * len(chunk))), chunk)

    def write(self, records: list[dict[str, Any]], gone: list[str]) -> None:
        """Replace the rows of ``records`` and delete those of ``gone``, in one transaction."""
        kept = [r for r in records if _encodable(r["rel"])]
        try:
            with _transaction(self.db):
                for table, _, columns in _TABLES:  # a statement only for what there is (an edit deletes nothing)
                    if gone:
                        self.db.executemany(f"DELETE FROM {table} WHERE rel = ?", [(rel,) for rel in gone])
                    if kept:
                        self.db.executemany(f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                                            f"VALUES ({', '.join('?' * len(columns))})",
                                            [tuple(r.get(c) for c in columns) for r in kept])
        except sqlite3.Error:
            pass  # busy for too long, full disk, read-only: the files are read again next time


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the write lock first (waiting up to the busy timeout)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _encodable(rel: str) -> bool:
    """A path SQLite can store (a file name that is not UTF-8 is listed, read every time)."""
    try:
        rel.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _connect(vault: Vault) -> sqlite3.Connection | None:
    """The cache connection, emptied when written for another format or config; a damaged
    file is deleted and made again; None when the vault cannot hold one."""
    path = vault.cache_dir / CACHE_FILE
    for attempt in range(2):
        try:
            return _prepared(vault, path)
        except sqlite3.DatabaseError:  # not a database, malformed: start over
            if attempt == 0:
                _delete(path)
        except (sqlite3.Error, OSError):
            return None
    return None


def _prepared(vault: Vault, path: Path) -> sqlite3.Connection:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        for name in OLD_CACHE_FILES:
            (path.parent / name).unlink(missing_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)  # transactions: _transaction
    try:
        # A commit does not wait for the disk (WAL stays consistent; a power cut may only drop the
        # last rows written, whose files then show a changed stat and are read again).
        db.execute("PRAGMA synchronous = NORMAL")
        config = _dumps(vault.config_state())
        if not _ready(db, config):
            db.execute("PRAGMA journal_mode = WAL")  # readers never wait for a writer
            with _transaction(db):
                if not _ready(db, config):  # another process may have just done it
                    db.execute("DROP TABLE IF EXISTS customer")  # its columns may be another format's
                    db.execute("DROP TABLE IF EXISTS listed")
                    db.execute("DROP TABLE IF EXISTS bulky")
                    db.execute("DROP TABLE IF EXISTS facts")
                    db.execute("DROP TABLE IF EXISTS fronts")
                    for statement in _SCHEMA:
                        db.execute(statement)
                    db.execute("INSERT OR REPLACE INTO settings VALUES ('config', ?)", (config,))
                    db.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
        return db
    except BaseException:
        db.close()
        raise


def _ready(db: sqlite3.Connection, config: str) -> bool:
    """Was the cache written by this format for this config?"""
    if db.execute("PRAGMA user_version").fetchone()[0] != FORMAT_VERSION:
        return False
    return db.execute("SELECT value FROM settings WHERE key = 'config'").fetchone() == (config,)


def _delete(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        except OSError:
            pass
