"""``crm import``: spreadsheet rows -> new customer files, through the same
rules as ``crm add`` (``actions.prepare_new_customer``).

The vault is scanned once; every row is prepared and checked against the
vault and the rows before it in memory (``DuplicateIndex``), then, only if
nothing was rejected (or ``skip_bad``), the files are written with
``Vault.create``.  A failure while writing removes the files this import
created, so an import lands whole or not at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import actions, note, rules
from ..config import fold
from ..dedupe import Candidate
from ..errors import CrmError
from ..model import DATE_RANGE_TEXT, SEVERITY_ERROR, Customer, FollowUp, format_minute, in_range
from ..naming import customer_relpath, new_id
from ..vault import Vault
from .dupindex import DuplicateIndex
from .mapping import EXTRA_KEY, FOLLOWUP_FIELDS, IGNORE, map_headers, map_value
from .tables import Table, cell_text, read_table

Progress = Callable[[str, int, int], None]
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::\d{2})?\s*([AaPp][Mm])?)?$")
_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*日)?"
                  r"(?:\s*[ T]\s*(\d{1,2})[:：](\d{2})(?::\d{2})?)?")
_DMY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class ImportOptions:
    overrides: dict[str, str] = field(default_factory=dict)  # --map COL=FIELD
    defaults: dict[str, str] = field(default_factory=dict)  # --default FIELD=VALUE for empty cells
    owner: str = ""  # owner of rows without one
    region: str = ""  # phone region (default: the vault's)
    on_duplicate: str = "skip"  # skip | merge (fill empty fields) | newest (the imported values win)
    value_map: dict[tuple[str, str], str] = field(default_factory=dict)  # --map-value FIELD:VALUE=CHOICE
    limit: int = 0  # only the first N data rows (the guides' "100 rows first")
    followups_file: Path | None = None  # a follow-up sheet (跟进记录表) matched to the customers
    skip_bad: bool = False
    dry_run: bool = False
    now: datetime | None = None


@dataclass
class Reject:
    row: int
    reason: str
    cells: dict[str, str]


@dataclass
class Planned:
    row: int
    meta: dict[str, Any]
    notes: str = ""
    followups: list[FollowUp] = field(default_factory=list)


@dataclass
class Duplicate:
    row: int
    name: str
    existing: str  # name of the vault customer or "row N"
    existing_id: str
    reason: str
    action: str  # skipped | merged
    changes: list[str] = field(default_factory=list)  # every field a merge changed or kept, for the report


@dataclass
class ImportReport:
    file: str
    encoding: str
    rows: int
    columns: list[tuple[str, str]]
    created: list[Planned] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    merges: dict[Path, dict[str, Any]] = field(default_factory=dict)
    history: dict[Path, list[FollowUp]] = field(default_factory=dict)  # past follow-ups for existing customers
    followups_waiting: int = 0  # follow-up sheet rows of customers beyond --limit
    unknown_values: dict[tuple[str, str], str] = field(default_factory=dict)  # (field, value) -> suggested id
    written: bool = False
    dry_run: bool = False
    skip_bad: bool = False
    paths: list[Path] = field(default_factory=list)

    @property
    def followup_count(self) -> int:
        """Past follow-ups written (or, in a dry run, to be written) as entries."""
        return sum(len(p.followups) for p in self.created) + sum(len(v) for v in self.history.values())

    @property
    def blocked(self) -> bool:
        """Nothing was written because some rows were rejected."""
        return bool(self.rejects) and not self.written and not self.dry_run

    @property
    def would_write(self) -> bool:
        """Whether the same import without --dry-run writes (rejected rows stop it unless skipped)."""
        return not self.rejects or self.skip_bad

    def to_json(self, vault: Vault, preview: int = 5) -> dict[str, Any]:
        return {
            "file": self.file, "encoding": self.encoding, "rows": self.rows, "dry_run": self.dry_run,
            "written": self.written, "would_write": self.would_write, "created": len(self.created),
            "merged_into_existing": len(self.merges),
            "followups": self.followup_count,
            "duplicates": [vars(d) for d in self.duplicates],
            "rejects": [{"row": r.row, "reason": r.reason} for r in self.rejects],
            "columns": [{"column": c, "field": f} for c, f in self.columns],
            "preview": [actions.jsonable(p.meta) for p in self.created[:preview]],
            "paths": [vault.relative(p) for p in self.paths],
        }


def parse_date_text(text: str) -> datetime | None:
    """2024-03-05, 2024/3/5, 2024年3月5日, 3/5/2024 (US exports), 05.03.2024, with an optional time;
    None for anything else and for dates outside the accepted range (model.DATE_RANGE_TEXT)."""
    when = _date_text(text.strip())
    return when if when is not None and in_range(when) else None


def _date_text(text: str) -> datetime | None:
    found = _YMD.match(text)
    try:
        if found:
            y, m, d, hh, mm = found.groups()
            return datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0))
        found = _US_DATE.match(text)
        if found:
            m, d, y, hh, mm, ampm = found.groups()
            if int(m) > 12:  # 25/3/2024 can only be day first
                m, d = d, m
            hour = int(hh or 0) % 12 + (12 if ampm and ampm.lower() == "pm" else 0) if ampm else int(hh or 0)
            return datetime(int(y), int(m), int(d), hour, int(mm or 0))
        found = _DMY.match(text)
        if found:
            d, m, y = found.groups()
            return datetime(int(y), int(m), int(d))
    except ValueError:
        return None
    return None


# ------------------------------------------------------------------ rows


@dataclass
class _Row:
    number: int
    values: dict[str, str]  # field -> text
    top_extra: dict[str, str]
    nested_extra: dict[str, str]
    cells: dict[str, str]


def _split_row(table: Table, targets: list[str], number: int, cells: list[Any]) -> _Row:
    row = _Row(number, {}, {}, {}, {})
    for column, header in enumerate(table.headers):
        text = note.clean_text(cell_text(cells[column] if column < len(cells) else None)).strip()
        row.cells[header or f"column {column + 1}"] = text
        target = targets[column]
        if not text or target == IGNORE:
            continue
        if target.startswith(f"{EXTRA_KEY}:"):
            row.nested_extra[target.split(":", 1)[1]] = text
        elif target not in row.values:
            row.values[target] = text
        elif text != row.values[target]:  # a second column for one field (Phone and Mobile): keep it too
            row.top_extra.setdefault(f"{target}_2", text)
    return row


def _draft(vault: Vault, row: _Row, options: ImportOptions,
           unknown: dict[tuple[str, str], str] | None = None) -> tuple[actions.NewCustomer, list[str]]:
    config, values, errors = vault.config, dict(row.values), []
    if "contact" not in values and ("first_name" in values or "last_name" in values):
        first, last = values.get("first_name", ""), values.get("last_name", "")
        joined = last + first if _CJK.search(first + last) else f"{first} {last}"
        values["contact"] = joined.strip()
    for key in ("first_name", "last_name"):
        if key in values and "contact" in row.values:
            row.top_extra[key] = values[key]
    for name, value in options.defaults.items():  # after the name parts had their chance to fill contact
        values.setdefault(name, value)
    for name, value in list(values.items()):
        mapped = options.value_map.get((name, fold(value)))
        if mapped is not None:
            values[name] = mapped
    for name in ("source", "stage", "grade"):
        choices = config.choices_for(name)
        if name in values and choices is not None and choices.find(values[name]) is None:
            values[name] = map_value(name, values[name])
    errors += _unknown_choices(vault, values, {} if unknown is None else unknown)
    region = options.region or config.phone_region
    if values.get("phone") and region != config.phone_region:
        try:
            values["phone"] = rules.normalize_phone(values["phone"], region)
        except ValueError as exc:
            errors.append(f"phone: {exc}")
    if "phone_2" in row.top_extra:
        try:
            row.top_extra["phone_2"] = rules.normalize_phone(row.top_extra["phone_2"], region)
        except ValueError:
            pass  # a second number is kept as written
    for name in ("next_followup", "created"):
        if name in values:
            when = parse_date_text(values[name])
            if when is None:
                errors.append(f"{name}: '{values[name]}' is not a date from {DATE_RANGE_TEXT}")
            else:
                values[name] = format_minute(when) if name == "created" else when.date().isoformat()
    draft = actions.NewCustomer(
        name=values.get("name", ""), industry=values.get("industry", ""), contact=values.get("contact", ""),
        phone=values.get("phone", ""), email=values.get("email", ""), source=values.get("source", ""),
        stage=values.get("stage", ""), grade=values.get("grade", ""), owner=values.get("owner", options.owner),
        tags=rules.split_tags(values.get("tags", "")),
        extra={**row.top_extra, **{k: v for k, v in values.items() if k not in _DRAFT_FIELDS}},
    )
    return draft, errors


_DRAFT_FIELDS = {"name", "industry", "contact", "phone", "email", "source", "stage", "grade", "owner", "tags",
                 "created", "notes", "first_name", "last_name", *FOLLOWUP_FIELDS}


def _unknown_choices(vault: Vault, values: dict[str, str], unknown: dict[tuple[str, str], str]) -> list[str]:
    """A refusal with a suggestion for each value a strict choice list does not know (removed from ``values``);
    ``unknown`` collects (field, value) -> the suggested id ('' when there is none)."""
    from ..fixes import closest_choice

    errors = []
    for name in [n for n in values if vault.config.fields.get(n) and vault.config.fields[n].type == "choice"]:
        choices = vault.config.choices_for(name)
        if choices is None or not choices.strict or choices.find(values[name]) is not None:
            continue
        value = values.pop(name)
        near = closest_choice(choices, value)
        hint = f"did you mean {near.display}? " if near else ""
        target = near.id if near else choices.ids[0]
        unknown[(name, value)] = near.id if near else ""
        errors.append(f"{name}: '{value}' is not a known {name}; {hint}(map it with --map-value "
                      f"'{name}:{value}={target}')")
    return errors


def _row_followup(vault: Vault, values: dict[str, str], owner: str) -> tuple[FollowUp | None, list[str]]:
    """The follow-up columns of a row (最近跟进时间, 跟进记录, 跟进方式...) as one dated entry."""
    text = values.get("followup_note", "").strip()
    when_text = values.get("followup_at", "").strip()
    if not text and not when_text:
        return None, []
    when = parse_date_text(when_text) if when_text else None
    if when is None:
        return None, [f"followup_at: '{when_text}' is not a date" if when_text else
                      "followup_at: a follow-up needs its date (最近跟进时间)"]
    channel_text = values.get("followup_channel", "").strip()
    channel = vault.config.channels.find(channel_text) if channel_text else None
    followup = FollowUp(at=when, channel=channel.id if channel else ("other" if channel_text else "phone"),
                        by=values.get("followup_by", "").strip() or owner,
                        note=text or "最近一次跟进（表格只记了日期）",
                        feedback=values.get("followup_feedback", "").strip(),
                        has_time=bool(when.hour or when.minute))
    next_what = values.get("followup_next", "").strip()
    next_day = parse_date_text(values.get("next_followup", "")) if values.get("next_followup") else None
    if next_what or next_day:
        followup.next_what = next_what
        followup.next_date = next_day.date() if next_day else None
    return followup, []


def _prepare(vault: Vault, row: _Row, options: ImportOptions, now: datetime,
             unknown: dict[tuple[str, str], str] | None = None) -> tuple[Planned | None, str]:
    draft, errors = _draft(vault, row, options, unknown)
    if not draft.name.strip():
        return None, "name: the customer name is empty"
    meta, issues = actions.prepare_new_customer(vault, draft, now)
    errors += [f"{i.field}: {i.message}" for i in issues if i.severity == SEVERITY_ERROR]
    for column, text in row.cells.items():  # every cell, notes and follow-ups included: refused before writing
        for kind, masked, _ in rules.find_sensitive(text):
            errors.append(f"{column}: a {kind} ({masked}) must not be stored in the vault")
    followup, followup_errors = _row_followup(vault, row.values, draft.owner)
    errors += followup_errors
    if errors:
        return None, "; ".join(dict.fromkeys(errors))
    created = row.values.get("created")
    if created:
        when = parse_date_text(created)
        if when:
            meta["created"] = format_minute(when)
    if row.nested_extra:
        meta[EXTRA_KEY] = dict(row.nested_extra)
    return Planned(row.number, meta, row.values.get("notes", ""), [followup] if followup else []), ""


def _candidate(meta: dict[str, Any]) -> Candidate:
    from ..contacts import contact_phones

    phones = tuple(str(meta[k]) for k in ("phone", "phone_2") if meta.get(k)) + tuple(contact_phones(meta))
    return Candidate(str(meta["id"]), str(meta["name"]), phones, str(meta.get("email") or ""))


def _fill_blanks(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Values of ``source`` for keys ``target`` lacks (tags: the union)."""
    changes: dict[str, Any] = {}
    for key, value in source.items():
        if key in ("id", "created", "stage"):
            continue
        if key == "tags":
            union = list(dict.fromkeys([*(target.get("tags") or []), *value]))
            if union != list(target.get("tags") or []):
                changes["tags"] = union
        elif key == EXTRA_KEY and isinstance(target.get(EXTRA_KEY), dict):
            merged = {**value, **target[EXTRA_KEY]}
            if merged != target[EXTRA_KEY]:
                changes[EXTRA_KEY] = merged
        elif target.get(key) in (None, "", []):
            changes[key] = value
    return changes


# ------------------------------------------------------------------ import


def import_file(vault: Vault, path: Path, options: ImportOptions | None = None,
                progress: Progress | None = None) -> ImportReport:
    options = options or ImportOptions()
    if options.on_duplicate not in DUPLICATE_POLICIES:
        raise CrmError(f"unknown duplicate policy '{options.on_duplicate}'.", "Use skip, merge or newest.")
    now = (options.now or datetime.now()).replace(second=0, microsecond=0)
    table = read_table(path)
    targets = map_headers(table.headers, vault.config, options.overrides)
    if "name" not in targets:
        raise CrmError(f"no column of {path.name} holds the customer name (columns: {', '.join(table.headers)}).",
                       "Name it 客户名称 / Company / Account Name, or pass --map COLUMN=name.")
    report = ImportReport(path.name, table.encoding, len(table.rows), list(zip(table.headers, targets, strict=True)),
                          dry_run=options.dry_run, skip_bad=options.skip_bad)
    index = DuplicateIndex()
    for customer in vault.scan().customers:
        index.add(_candidate({**customer.meta, "id": customer.id, "name": customer.name}), customer)
    if options.limit > 0:
        table.rows = table.rows[: options.limit]
        report.rows = len(table.rows)
    for done, (number, cells) in enumerate(table.rows, start=1):
        row = _split_row(table, targets, number, cells)
        if number in table.problems:
            report.rejects.append(Reject(number, table.problems[number], row.cells))
            continue
        planned, reason = _prepare(vault, row, options, now, report.unknown_values)
        if planned is None:
            report.rejects.append(Reject(number, reason, row.cells))
        else:
            _place(report, index, planned, options)
        if progress and (done % 200 == 0 or done == len(table.rows)):
            progress("checking", done, len(table.rows))
    _import_history(vault, path, options, report, index)
    if options.dry_run or (report.rejects and not options.skip_bad):
        return report
    _write(vault, report, progress)
    return report


DUPLICATE_POLICIES = ("skip", "merge", "newest")


def value_map_text(report: ImportReport, vault: Vault) -> str:
    """The values no choice list knows, as lines of FIELD:VALUE=CHOICE for ``--map-values FILE`` (a person
    checks each suggestion; a line left without a CHOICE keeps the row refused)."""
    lines = ["# Values of the sheet that no choice list of crmnotes.yaml knows.",
             "# Fill in or correct the choice after '=' (an id, a label or an alias), then import with",
             "#   crm import FILE --map-values THIS_FILE"]
    for (name, value), suggested in sorted(report.unknown_values.items()):
        choices = vault.config.choices_for(name)
        known = ", ".join(choices.ids) if choices else ""
        lines += [f"# {name}: {known}", f"{name}:{value}={suggested}"]
    return "\n".join(lines) + "\n"


def read_value_map(path: Path) -> list[str]:
    """The FIELD:VALUE=CHOICE lines of a value map file (comments and lines without a choice left out)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CrmError(f"cannot read {path}: {exc}.", "Give the file the dry run wrote.") from None
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#") and line.strip().partition("=")[2].strip()]


def _import_history(vault: Vault, path: Path, options: ImportOptions, report: ImportReport,
                    index: DuplicateIndex) -> None:
    """The follow-up sheet: --followups FILE, else a workbook's second sheet shaped like one."""
    from .history import attach_history, looks_like_followup_sheet
    from .tables import read_second_sheet

    if options.followups_file is not None:
        attach_history(vault, report, read_table(options.followups_file), index, partial=options.limit > 0)
        return
    sheet = read_second_sheet(path)
    if sheet is not None and looks_like_followup_sheet(sheet):
        attach_history(vault, report, sheet, index, partial=options.limit > 0)


def _place(report: ImportReport, index: DuplicateIndex, planned: Planned, options: ImportOptions) -> None:
    hit = index.find(_candidate(planned.meta))
    if hit is None:
        report.created.append(planned)
        index.add(_candidate(planned.meta), planned)
        return
    other = hit.ref
    merge = options.on_duplicate in ("merge", "newest")
    changes: list[str] = []
    if isinstance(other, Customer):
        existing, existing_id = other.name, other.id
        add_history(report, other, planned.followups)
        if merge:
            pending = report.merges.setdefault(other.path, {})
            current = {**other.meta, **pending}
            pending.update(_merged(current, planned.meta, options.on_duplicate, changes))
    else:
        existing, existing_id = f"row {other.row}", str(other.meta["id"])
        other.followups += [f for f in planned.followups if not _has_entry(other.followups, f)]
        if merge:
            other.meta.update(_merged(dict(other.meta), planned.meta, options.on_duplicate, changes))
    action = ("merged, newest wins" if options.on_duplicate == "newest" else "merged") if merge else "skipped"
    report.duplicates.append(Duplicate(planned.row, str(planned.meta["name"]), existing, existing_id, hit.reason,
                                       action, changes))


def _merged(current: dict[str, Any], incoming: dict[str, Any], policy: str, changes: list[str]) -> dict[str, Any]:
    """What a merge writes: blanks filled, and for ``newest`` the imported value where the two differ;
    every change and every conflicting value kept is described in ``changes``."""
    result = _fill_blanks(current, incoming)
    changes += [f"{key} set to {_shown(key, value)}" for key, value in result.items() if key != "tags"]
    if "tags" in result:
        changes.append(f"tags added: {', '.join(t for t in result['tags'] if t not in (current.get('tags') or []))}")
    for key, value in incoming.items():
        if key in ("id", "created", "tags", EXTRA_KEY) or key in result or current.get(key) in (None, "", []):
            continue
        if current[key] == value:
            continue
        if policy == "newest":
            result[key] = value
            changes.append(f"{key} {_shown(key, current[key])} → {_shown(key, value)} (the import is newer)")
        else:
            changes.append(f"{key} kept {_shown(key, current[key])} (the import had {_shown(key, value)})")
    return result


def _shown(key: str, value: Any) -> str:
    if key.startswith("phone") and isinstance(value, str):
        return rules.mask_phone(value)  # reports are shown and shared: phones masked as everywhere
    return str(value)


def _has_entry(entries: list[FollowUp], followup: FollowUp) -> bool:
    """An entry at the same minute with the same text is already there (importing twice adds nothing)."""
    key = (followup.at.replace(second=0, microsecond=0), fold(followup.note))
    return any((e.at.replace(second=0, microsecond=0), fold(e.note)) == key for e in entries)


def add_history(report: ImportReport, customer: Customer, followups: list[FollowUp]) -> None:
    """Queue past follow-ups for an existing customer, leaving out those its file already has."""
    queued = report.history.setdefault(customer.path, [])
    for followup in followups:
        if not _has_entry(customer.followups, followup) and not _has_entry(queued, followup):
            queued.append(followup)


def _write(vault: Vault, report: ImportReport, progress: Progress | None) -> None:
    from ..fsutil import vault_write_lock

    taken: set[Path] = set()
    with vault_write_lock(vault.cache_dir / "locks", "this import"):  # a sync commits all of it or none
        try:
            _create_all(vault, report, progress, taken)
        except BaseException:
            for created in report.paths:  # all or nothing: remove what this import wrote
                created.unlink(missing_ok=True)
            report.paths.clear()
            raise
    if hasattr(os, "sync"):
        os.sync()
    for target, changes in report.merges.items():
        if changes:
            vault.update(target, lambda doc, changes=changes: note.set_fields(doc, changes))  # type: ignore[misc]  # mypy cannot type a lambda whose default binds the loop's value
    for target, followups in report.history.items():
        for followup in sorted(followups, key=lambda f: f.at):
            vault.update(target, lambda doc, f=followup: doc.text if _has_entry(doc.followups, f)  # type: ignore[misc]  # mypy cannot type a lambda whose default binds the loop's value
                         else note.insert_followup(doc, f))
    report.written = True


def _create_all(vault: Vault, report: ImportReport, progress: Progress | None, taken: set[Path]) -> None:
    for done, planned in enumerate(report.created, start=1):
        # no fsync per file (thousands of them): one flush of everything after
        report.paths.append(vault.create(_free_path(vault, planned, taken), _file_text(vault, planned),
                                         durable=False))
        if progress and (done % 200 == 0 or done == len(report.created)):
            progress("writing", done, len(report.created))


def _free_path(vault: Vault, planned: Planned, taken: set[Path]) -> Path:
    """A relative path no other file (or other row) uses; a new id when they clash."""
    while True:
        relpath = customer_relpath(str(planned.meta["name"]), str(planned.meta["id"]))
        if relpath not in taken and not (vault.customers_dir / relpath).exists():
            taken.add(relpath)
            return relpath
        planned.meta["id"] = new_id()


def _file_text(vault: Vault, planned: Planned) -> str:
    text = note.new_file_text(planned.meta, str(planned.meta["name"]), vault.config.language)
    notes = note.clean_text(planned.notes).strip()
    if notes:
        heading = "## 备注\n" if vault.config.language.startswith("zh") else "## Notes\n"
        escaped = "\n".join("\\" + line if line.lstrip().startswith("#") else line for line in notes.splitlines())
        text = text.replace(heading, f"{heading}\n{escaped}\n", 1)
    for followup in sorted(planned.followups, key=lambda f: f.at):
        text = note.insert_followup(note.parse(text), followup)
    return text
