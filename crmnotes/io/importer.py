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
from ..dedupe import Candidate
from ..errors import CrmError
from ..model import SEVERITY_ERROR, Customer, format_minute
from ..naming import customer_relpath, new_id
from ..vault import Vault
from .dupindex import DuplicateIndex
from .mapping import EXTRA_KEY, IGNORE, map_headers, map_value
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
    on_duplicate: str = "skip"  # skip | merge
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


@dataclass
class Duplicate:
    row: int
    name: str
    existing: str  # name of the vault customer or "row N"
    existing_id: str
    reason: str
    action: str  # skipped | merged


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
    written: bool = False
    dry_run: bool = False
    paths: list[Path] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """Nothing was written because some rows were rejected."""
        return bool(self.rejects) and not self.written and not self.dry_run

    def to_json(self, vault: Vault, preview: int = 5) -> dict[str, Any]:
        return {
            "file": self.file, "encoding": self.encoding, "rows": self.rows, "dry_run": self.dry_run,
            "written": self.written, "created": len(self.created), "merged_into_existing": len(self.merges),
            "duplicates": [vars(d) for d in self.duplicates],
            "rejects": [{"row": r.row, "reason": r.reason} for r in self.rejects],
            "columns": [{"column": c, "field": f} for c, f in self.columns],
            "preview": [actions._jsonable(p.meta) for p in self.created[:preview]],
            "paths": [vault.relative(p) for p in self.paths],
        }


def parse_date_text(text: str) -> datetime | None:
    """2024-03-05, 2024/3/5, 2024年3月5日, 3/5/2024 (US exports), 05.03.2024, with an optional time."""
    text = text.strip()
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


def _draft(vault: Vault, row: _Row, options: ImportOptions) -> tuple[actions.NewCustomer, list[str]]:
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
    for name in ("source", "stage", "grade"):
        choices = config.choices_for(name)
        if name in values and choices is not None and choices.find(values[name]) is None:
            values[name] = map_value(name, values[name])
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
                errors.append(f"{name}: '{values[name]}' is not a date")
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
                 "created", "notes", "first_name", "last_name"}


def _prepare(vault: Vault, row: _Row, options: ImportOptions, now: datetime) -> tuple[Planned | None, str]:
    draft, errors = _draft(vault, row, options)
    if not draft.name.strip():
        return None, "name: the customer name is empty"
    meta, issues = actions.prepare_new_customer(vault, draft, now)
    errors += [f"{i.field}: {i.message}" for i in issues if i.severity == SEVERITY_ERROR]
    for kind, masked, _ in rules.find_sensitive("\n".join(row.nested_extra.values())):
        errors.append(f"{EXTRA_KEY}: a {kind} ({masked}) must not be stored in the vault")
    if errors:
        return None, "; ".join(dict.fromkeys(errors))
    created = row.values.get("created")
    if created:
        when = parse_date_text(created)
        if when:
            meta["created"] = format_minute(when)
    if row.nested_extra:
        meta[EXTRA_KEY] = dict(row.nested_extra)
    return Planned(row.number, meta, row.values.get("notes", "")), ""


def _candidate(meta: dict[str, Any]) -> Candidate:
    phones = tuple(str(meta[k]) for k in ("phone", "phone_2") if meta.get(k))
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
    if options.on_duplicate not in ("skip", "merge"):
        raise CrmError(f"unknown duplicate policy '{options.on_duplicate}'.", "Use skip or merge.")
    now = (options.now or datetime.now()).replace(second=0, microsecond=0)
    table = read_table(path)
    targets = map_headers(table.headers, vault.config, options.overrides)
    if "name" not in targets:
        raise CrmError(f"no column of {path.name} holds the customer name (columns: {', '.join(table.headers)}).",
                       "Name it 客户名称 / Company / Account Name, or pass --map COLUMN=name.")
    report = ImportReport(path.name, table.encoding, len(table.rows), list(zip(table.headers, targets, strict=True)),
                          dry_run=options.dry_run)
    index = DuplicateIndex()
    for customer in vault.scan().customers:
        index.add(_candidate({**customer.meta, "id": customer.id, "name": customer.name}), customer)
    for done, (number, cells) in enumerate(table.rows, start=1):
        row = _split_row(table, targets, number, cells)
        if number in table.problems:
            report.rejects.append(Reject(number, table.problems[number], row.cells))
            continue
        planned, reason = _prepare(vault, row, options, now)
        if planned is None:
            report.rejects.append(Reject(number, reason, row.cells))
        else:
            _place(report, index, planned, options)
        if progress and (done % 200 == 0 or done == len(table.rows)):
            progress("checking", done, len(table.rows))
    if options.dry_run or (report.rejects and not options.skip_bad):
        return report
    _write(vault, report, progress)
    return report


def _place(report: ImportReport, index: DuplicateIndex, planned: Planned, options: ImportOptions) -> None:
    hit = index.find(_candidate(planned.meta))
    if hit is None:
        report.created.append(planned)
        index.add(_candidate(planned.meta), planned)
        return
    other = hit.ref
    merge = options.on_duplicate == "merge"
    if isinstance(other, Customer):
        existing, existing_id = other.name, other.id
        if merge:
            pending = report.merges.setdefault(other.path, {})
            pending.update(_fill_blanks({**other.meta, **pending}, planned.meta))
    else:
        existing, existing_id = f"row {other.row}", str(other.meta["id"])
        if merge:
            other.meta.update(_fill_blanks(other.meta, planned.meta))
    report.duplicates.append(Duplicate(planned.row, str(planned.meta["name"]), existing, existing_id, hit.reason,
                                       "merged" if merge else "skipped"))


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
            vault.update(target, lambda doc, changes=changes: note.set_fields(doc, changes))
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
    return text
