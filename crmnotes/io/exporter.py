"""``crm export``: customers to CSV / XLSX / JSON, contacts to vCard 4.0, due
follow-ups to iCalendar.

Spreadsheet safety: a text cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return would be run as a formula by Excel or LibreOffice
(CSV injection), so it is written with a leading apostrophe in CSV; XLSX
cells are always written as explicit text, never as formulas.  Plain numbers
such as ``+8613800138000`` or ``-5`` are left alone: they cannot run anything.
Phones are masked unless ``reveal``; a phone cell, masked (``138****8000``,
``+44 79****0123``) or not, is never given the apostrophe (digits, ``*`` and
spaces cannot run anything).  Choice values (stage, industry, ...) are written
as their labels or their ids; by default labels in a Chinese vault.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import chain, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import actions, rules
from ..agenda import AgendaItem, agenda
from ..errors import CrmError
from ..fsutil import atomic_write
from ..model import Customer, format_minute, text_of
from ..vault import Vault

if TYPE_CHECKING:
    from ..catalog import Front

FORMATS = ("csv", "xlsx", "json", "vcf", "ics")
COLUMNS = ["id", "name", "industry", "contact", "phone", "email", "source", "stage", "grade", "owner", "tags",
           "created", "next_followup", "last_contact"]
_SKIP_EXTRA = {"deals", "tickets", "conflicts", "extra"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What a spreadsheet reads as a plain number (a revealed E.164 phone included).  Anything else that
# starts like a formula is quoted: a masked or spaced phone (+1 415***2671) would be evaluated.
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


def neutralize(value: str) -> str:
    """A cell text a spreadsheet will show, never evaluate."""
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _text(value: Any) -> str:
    if type(value) is str:  # most cells
        return value
    if value is None:
        return ""
    if isinstance(value, list):
        try:
            return ", ".join(value)  # tags: every item a text
        except TypeError:
            return ", ".join(map(_text, value))
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, datetime):
        return format_minute(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def labels_by_default(vault: Vault) -> bool:
    """Choice values as labels for a vault kept in Chinese (its labels are what its users read), else ids."""
    return vault.config.language.startswith("zh")


def fronts_of(customers: list[Customer]) -> list[Front]:
    """The fronts of customers read whole (their phones masked by the table)."""
    return [("", c.meta, c.last_contact, None) for c in customers]


def front_table(vault: Vault, fronts: list[Front], reveal: bool = False,
                labels: bool | None = None) -> tuple[list[str], Iterator[list[str]]]:
    """Header and rows of the customers' fronts (``catalog.exported_fronts``), extra scalar fields after
    the standard ones; a phone given is written as it is, one not given (None) is masked unless ``reveal``.
    The rows are made as they are read (a CSV is written without the whole table held)."""
    labels = labels_by_default(vault) if labels is None else labels
    metas = [front[1] for front in fronts]
    known = set(COLUMNS) | _SKIP_EXTRA
    extras = [key for key in dict.fromkeys(chain.from_iterable(metas)) if key not in known]  # first seen first
    nested = list(dict.fromkeys(k for meta in metas if isinstance(extra := meta.get("extra"), dict) for k in extra))
    flat = COLUMNS + extras
    header = flat + nested
    at = {key: index for index, key in enumerate(flat)}
    # (column, its choice, value -> label): a few values repeat over every row
    choices: list[tuple[int, Any, dict[str, str]]] = [
        (at[key], found, {}) for key in flat if (found := vault.config.choices_for(key)) is not None]
    return header, _rows(fronts, flat, nested, choices if labels else [], reveal, vault.config.phone_region)


def _rows(fronts: list[Front], flat: list[str], nested: list[str], choices: list[tuple[int, Any, dict[str, str]]],
          reveal: bool, region: str) -> Iterator[list[str]]:
    """``front_table``'s rows: ``flat`` columns of the front-matter (``choices``' values as their labels),
    then ``nested`` keys of its ``extra``."""
    last_at, phone_at = flat.index("last_contact"), flat.index("phone")
    contacts_at = flat.index("contacts") if "contacts" in flat else None
    for _, meta, last, phone in fronts:
        values = list(map(meta.get, flat))
        values[last_at] = last
        if phone is None:
            phone = text_of(values[phone_at])
            phone = phone if reveal or not phone else rules.mask_phone(phone, region)
        values[phone_at] = phone
        if contacts_at is not None and not reveal and "contacts" in meta:
            from ..contacts import masked

            values[contacts_at] = masked(values[contacts_at], region)
        for index, choice, shown in choices:
            value = values[index]
            if isinstance(value, str):
                label = shown.get(value)
                values[index] = label if label is not None else shown.setdefault(value, choice.display(value))
        extra = found if isinstance(found := meta.get("extra"), dict) else {}
        yield [v if type(v) is str else "" if v is None else _text(v) for v in values] + [
            _text(extra.get(k)) for k in nested]


def to_csv(header: list[str], rows: Iterable[list[str]]) -> bytes:
    """UTF-8 with a BOM, so that Excel opens Chinese text correctly."""
    out = io.BytesIO()
    buffer = io.TextIOWrapper(out, encoding="utf-8", newline="")  # encoded as written: no whole text held
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralize(h) for h in header])
    for row in rows:  # a cell at a time only for a row with a cell that starts like a formula (few do)
        if any(map(str.startswith, row, repeat(_FORMULA_START))):
            row = [neutralize(cell) for cell in row]
        writer.writerow(row)
    buffer.flush()
    return out.getvalue()


def to_xlsx(header: list[str], rows: list[list[str]], title: str = "customers") -> bytes:
    from openpyxl import Workbook  # deferred: only XLSX export needs it
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from rich.cells import cell_len

    book = Workbook()
    sheet = book.worksheets[0]  # a new workbook's one sheet (to the stubs, .active may be None)
    sheet.title = title
    for row_index, row in enumerate([header, *rows], start=1):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=row_index, column=column)
            cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control bytes no worksheet may hold
            cell.data_type = "s"  # text, never a formula, whatever it starts with
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for column in range(1, len(header) + 1):
        widest = max((cell_len(r[column - 1]) for r in [header, *rows[:2000]] if column - 1 < len(r)), default=8)
        sheet.column_dimensions[get_column_letter(column)].width = min(max(widest + 2, 8), 60)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_json(vault: Vault, customers: list[Customer], reveal: bool = False) -> bytes:
    data = [actions.customer_json(vault, c, reveal=reveal) for c in customers]
    return (json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n").encode("utf-8")


# ------------------------------------------------------------------ vCard / iCalendar


def _escape(value: str) -> str:
    return (value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "").replace(",", "\\,")
            .replace(";", "\\;"))


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (RFC 6350 / 5545), never inside a UTF-8 character."""
    out: list[str] = []
    current = ""
    for char in line:
        if len((current + char).encode("utf-8")) > (75 if not out else 74):
            out.append(current)
            current = ""
        current += char
    out.append(current)
    return "\r\n ".join(out)


def to_vcard(vault: Vault, customers: list[Customer], reveal: bool = False) -> bytes:
    """vCard 4.0, one card per customer's contact person (phones only when revealed:
    a masked number is of no use in an address book)."""
    cards = []
    for customer in customers:
        contact = customer.text("contact") or customer.name
        lines = ["BEGIN:VCARD", "VERSION:4.0", f"UID:urn:crmnotes:{customer.id}", f"FN:{_escape(contact)}",
                 f"ORG:{_escape(customer.name)}", "KIND:individual"]
        phone = customer.text("phone")
        if phone and reveal:
            lines.append(f"TEL;VALUE=uri;TYPE=work,voice:tel:{phone}")
        if customer.text("email"):
            lines.append(f"EMAIL;TYPE=work:{_escape(customer.text('email'))}")
        if customer.tags:
            lines.append("CATEGORIES:" + ",".join(_escape(t) for t in customer.tags))
        note_parts = [p for p in (customer.text("industry"), customer.text("source"), customer.stage) if p]
        if note_parts:
            lines.append(f"NOTE:{_escape(' / '.join(note_parts))}")
        lines.append("END:VCARD")
        cards.append("\r\n".join(_fold(line) for line in lines))
    return ("\r\n".join(cards) + "\r\n").encode("utf-8") if cards else b""


ALARM_BEFORE = "-PT15M"  # a timed task: 15 minutes before
ALL_DAY_ALARM = "PT9H"  # an all-day item: 09:00 on its day
TASK_MINUTES = 30


def to_icalendar(vault: Vault, customers: list[Customer], today: date, until: date, events: bool = True,
                 reveal: bool = False) -> bytes:
    """The agenda up to ``until`` (overdue included): each open next step at its time (all-day when it has
    none) and each customer due by another rule, as VEVENTs with a VALARM (or, ``events`` False, VTODOs).
    UIDs are stable (customer and step text), so a re-import or a refreshed feed updates instead of adding."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//crmnotes//crm export//EN", "CALSCALE:GREGORIAN",
             "X-WR-CALNAME:crmnotes"]
    for item in agenda(customers, vault.config, today, (until - today).days + 1):
        lines += _calendar_item(vault, item, stamp, events, reveal)
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")


def _calendar_uid(item: AgendaItem) -> str:
    """One per customer and step text (a snoozed or reassigned step keeps it); one per customer for other rules."""
    if item.task is None:
        return f"{item.customer.id}-due@crmnotes"
    digest = hashlib.sha1(item.what.encode("utf-8")).hexdigest()[:12] if item.what else item.day.isoformat()
    return f"{item.customer.id}-task-{digest}@crmnotes"


def _calendar_item(vault: Vault, item: AgendaItem, stamp: str, events: bool, reveal: bool) -> list[str]:
    customer = item.customer
    phone = customer.text("phone")
    shown = phone if reveal or not phone else rules.mask_phone(phone, vault.config.phone_region)
    who = f"@{item.who} " if item.who else ""
    summary = f"{who}{item.what} · {customer.name}" if item.task and item.what else f"跟进 {customer.name}"
    description = "\n".join(p for p in (item.what if item.task else item.rule + ": " + item.what,
                                        f"{customer.text('contact')} {shown}".strip(),
                                        vault.relative(customer.path)) if p)
    kind = "VEVENT" if events else "VTODO"
    lines = [f"BEGIN:{kind}", f"UID:{_calendar_uid(item)}", f"DTSTAMP:{stamp}", f"SUMMARY:{_escape(summary)}",
             f"DESCRIPTION:{_escape(description)}"]
    if item.at is not None:
        start = item.moment()
        lines.append(f"DTSTART:{start.strftime('%Y%m%dT%H%M%S')}")
        if events:
            lines.append(f"DTEND:{(start + timedelta(minutes=TASK_MINUTES)).strftime('%Y%m%dT%H%M%S')}")
        else:
            lines += [f"DUE:{start.strftime('%Y%m%dT%H%M%S')}", "STATUS:NEEDS-ACTION"]
    else:
        lines.append(f"DTSTART;VALUE=DATE:{item.day.strftime('%Y%m%d')}")
        if events:
            lines.append(f"DTEND;VALUE=DATE:{(item.day + timedelta(days=1)).strftime('%Y%m%d')}")
        else:
            lines += [f"DUE;VALUE=DATE:{item.day.strftime('%Y%m%d')}", "STATUS:NEEDS-ACTION"]
    if item.who:
        lines.append(f"CATEGORIES:{_escape(item.who)}")
    trigger = ALARM_BEFORE if item.at is not None else ALL_DAY_ALARM
    lines += ["BEGIN:VALARM", "ACTION:DISPLAY", f"TRIGGER;RELATED=START:{trigger}",
              f"DESCRIPTION:{_escape(summary)}", "END:VALARM", f"END:{kind}"]
    return lines


FEED_NAME = "calendar.ics"  # in the vault's .crmnotes/: the feed `crm calendar` writes and `crm watch` refreshes
FEED_DAYS = 60


def write_feed(vault: Vault, customers: list[Customer], today: date, days: int = FEED_DAYS,
               target: Path | None = None, reveal: bool = False) -> tuple[Path, int]:
    """Write the agenda's next ``days`` days as an iCalendar feed; (where, how many events)."""
    target = target or vault.cache_dir / FEED_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    data = to_icalendar(vault, customers, today, today + timedelta(days=days - 1), reveal=reveal)
    atomic_write(target, data)
    return target, data.count(b"BEGIN:VEVENT")


def refresh_feed(vault: Vault, today: date | None = None) -> Path | None:
    """Rewrite the vault's feed when one was made (``crm calendar``); None when there is none to keep fresh."""
    if not (vault.cache_dir / FEED_NAME).exists():
        return None
    from .. import catalog

    return write_feed(vault, catalog.report_customers(vault).customers, today or date.today())[0]


def export_table(vault: Vault, fronts: list[Front], fmt: str, *, reveal: bool = False,
                 labels: bool | None = None) -> bytes:
    """A CSV or XLSX export of the customers' fronts (``catalog.exported_fronts``)."""
    if fmt == "csv":
        return to_csv(*front_table(vault, fronts, reveal, labels))
    if fmt == "xlsx":
        header, rows = front_table(vault, fronts, reveal, labels)
        return to_xlsx(header, list(rows))
    raise ValueError(fmt)


def has_phones(fronts: list[Front]) -> bool:
    """Does any of the fronts have a phone number (which the export masks unless revealed)?"""
    return any(phone if phone is not None else text_of(meta.get("phone")) for _, meta, _, phone in fronts)


def export(vault: Vault, customers: list[Customer], fmt: str, *, reveal: bool = False, today: date | None = None,
           until: date | None = None, events: bool = True, labels: bool | None = None) -> bytes:
    today = today or date.today()
    if fmt in ("csv", "xlsx"):
        return export_table(vault, fronts_of(customers), fmt, reveal=reveal, labels=labels)
    if fmt == "json":
        return to_json(vault, customers, reveal)
    if fmt == "vcf":
        return to_vcard(vault, customers, reveal)
    if fmt == "ics":
        return to_icalendar(vault, customers, today, until or today, events, reveal)
    raise ValueError(fmt)


def write_file(path: Path, data: bytes) -> None:
    """Write an export; an empty name or a folder is refused before anything is made."""
    if not str(path).strip() or path.is_dir():
        raise CrmError(f"the export target '{path}' is a folder, not a file name.",
                       "Pass -o FILE (e.g. -o customers.csv), or leave -o out to print to the terminal.")
    atomic_write(path, data)


def write_rejects(path: Path, rejects: list[Any]) -> None:
    """Rejected import rows, as they were, with the row number and the reason."""
    headers = list(dict.fromkeys(h for r in rejects for h in r.cells))
    rows = [[str(r.row), r.reason, *(r.cells.get(h, "") for h in headers)] for r in rejects]
    atomic_write(path, to_csv(["row", "reason", *headers], rows))
