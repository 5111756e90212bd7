"""What users do with a vault: the use cases both faces (CLI, TUI) call.

Each function validates through ``rules``, refuses with a ``CrmError``
before touching a file, and writes through ``Vault`` (locked, atomic).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import note, rules
from .config import CONFIG_FILE, fold
from .dedupe import Candidate, DuplicateMatch, find_duplicates
from .due import DueInfo, due_list, effective_stage
from .errors import CrmError, DuplicateError, ValidationError, refuse_errors
from .filters import SORT_KEYS, Filters, has_tag, list_customers  # noqa: F401 (re-exported: the faces use actions.X)
from .model import (
    SEVERITY_ERROR,
    Customer,
    FieldIssue,
    FollowUp,
    Problem,
    date_issue,
    format_minute,
    money,
    out_of_range,
    parse_when,
)
from .naming import customer_relpath, new_id
from .secret import opened, seal_values
from .sensitive import find_lines
from .shape import customer_json, jsonable  # noqa: F401 (re-exported: the faces use actions.X)
from .team import person_value
from .vault import CUSTOMERS_DIR, Vault
from .when import ACCEPTED_FORMS, parse_step
from .words import word as word_in

TEMPLATE_DIR_NAMES = ("_vault_template", "../vault_template")
EXAMPLES_DIR = "examples"


def template_dir() -> Path:
    """vault_template/ in a checkout, or its copy inside an installed wheel."""
    here = Path(__file__).parent
    for name in TEMPLATE_DIR_NAMES:
        candidate = (here / name).resolve()
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise CrmError("the vault template is missing from this installation.", "Reinstall crmnotes.")


# ------------------------------------------------------------------ init


def create_vault(path: Path, example: bool = False, today: date | None = None) -> Path:
    """Copy the template into ``path`` (new or empty folder)."""
    path = path.expanduser()
    if (path / CONFIG_FILE).exists():
        raise CrmError(f"{path} is already a crmnotes vault.", "Use it as it is, or choose another folder.")
    if path.exists() and any(p.name != ".git" for p in path.iterdir()):
        raise CrmError(f"{path} is not empty.", "Choose a new or empty folder for the vault.")
    source = template_dir()
    path.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name in (EXAMPLES_DIR, CUSTOMERS_DIR, "__pycache__"):
            continue
        if item.is_dir():
            shutil.copytree(item, path / item.name)
        else:
            shutil.copy2(item, path / item.name)
    (path / CUSTOMERS_DIR).mkdir(exist_ok=True)
    if example:
        _copy_examples(source / EXAMPLES_DIR, path / CUSTOMERS_DIR, today or date.today())
    return path


_DAY_PLACEHOLDER = re.compile(r"\{\{D([+-]\d+)(?:([ T])(\d\d:\d\d))?\}\}")


def _copy_examples(source: Path, target: Path, today: date) -> None:
    """Copy the sample customers with their dates placed relative to today
    (``{{D-3 10:00}}`` is three days ago at 10:00), so the demo's due list
    and silent customers look the same whenever it is run."""

    def render(match: re.Match[str]) -> str:
        day = (today + timedelta(days=int(match.group(1)))).isoformat()
        return f"{day}{match.group(2)}{match.group(3)}" if match.group(3) else day

    for item in sorted(source.rglob("*.md")):
        out = target / item.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_DAY_PLACEHOLDER.sub(render, item.read_text(encoding="utf-8")), encoding="utf-8")


# ------------------------------------------------------------------ add


@dataclass
class NewCustomer:
    """What a person types to create a customer (strings, as from a form)."""

    name: str
    industry: str = ""
    contact: str = ""
    phone: str = ""
    email: str = ""
    source: str = ""
    stage: str = ""
    grade: str = ""
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)


def prepare_new_customer(vault: Vault, draft: NewCustomer, now: datetime) -> tuple[dict[str, Any], list[FieldIssue]]:
    """Front-matter for a new customer and every problem with the input."""
    raw: dict[str, Any] = {
        "name": draft.name, "industry": draft.industry, "contact": draft.contact, "phone": draft.phone,
        "email": draft.email, "source": draft.source, "stage": draft.stage or vault.config.initial_stage,
        "grade": draft.grade, "owner": draft.owner, "tags": draft.tags, **draft.extra,
    }
    values, issues = rules.prepare_fields(raw, vault.config)
    meta: dict[str, Any] = {"id": new_id(now)}
    meta.update({k: v for k, v in values.items() if v is not None})
    meta["created"] = format_minute(now)
    issued = {i.field for i in issues}
    issues += [i for i in rules.validate_meta(meta, vault.config) if i.field not in issued]
    return meta, issues


def add_customer(vault: Vault, draft: NewCustomer, *, force: bool = False, now: datetime | None = None,
                 existing: list[Customer] | None = None) -> Customer:
    now = (now or datetime.now()).replace(second=0, microsecond=0)
    meta, issues = prepare_new_customer(vault, draft, now)
    refuse_errors(issues)
    if not force:
        matches = duplicates_of(vault, meta, existing)
        if matches:
            shown = "; ".join(f"{m.existing.name} ({m.existing.id}, {m.reason})" for m in matches[:5])
            raise DuplicateError(f"'{meta['name']}' looks like an existing customer: {shown}.",
                                 [m.existing.id for m in matches], hint="Use --force to add it anyway.")
    relpath = customer_relpath(str(meta["name"]), str(meta["id"]))
    meta = seal_values(vault.config, meta, str(meta.get("owner") or ""))  # fields crmnotes.yaml encrypts
    text = note.new_file_text(meta, str(meta["name"]), vault.config.language)
    return vault.read(vault.create(relpath, text))


def duplicates_of(vault: Vault, meta: dict[str, Any], existing: list[Customer] | None = None) -> list[DuplicateMatch]:
    pool = existing if existing is not None else vault.scan().customers
    phone = meta.get("phone")
    new = Candidate(str(meta.get("id", "")), str(meta.get("name", "")), (str(phone),) if phone else (),
                    str(meta.get("email") or ""))
    return find_duplicates(new, vault.candidates(pool))


# ------------------------------------------------------------------ log


@dataclass
class LogEntry:
    """A follow-up as typed: strings and optional values, as from a form."""

    note: str
    channel: str = "phone"
    at: str | datetime | None = None
    by: str = ""
    next: str = ""
    feedback: str = ""
    stage: str = ""


def prepare_followup(vault: Vault, customer: Customer, entry: LogEntry,
                     now: datetime) -> tuple[FollowUp, list[FieldIssue]]:
    config = vault.config
    issues: list[FieldIssue] = []
    text = note.clean_text(entry.note).strip()
    if not text:
        issues.append(FieldIssue("note", "say what was discussed (the note is empty)"))
    at = parse_when(entry.at) if entry.at else now
    if at is None:
        issues.append(FieldIssue("at", date_issue(entry.at, "'YYYY-MM-DD HH:MM'", "date-time")))
        at = now
    channel = config.channels.find(entry.channel or "phone")
    if channel is None and config.channels.strict:
        known = ", ".join(config.channels.ids)
        issues.append(FieldIssue("channel", f"'{entry.channel}' is not a known channel ({known})"))
    followup = FollowUp(at=at.replace(second=0, microsecond=0),
                        channel=channel.id if channel else entry.channel.strip(),
                        by=person_value(config, entry.by.strip(), "by", issues),
                        note=text, feedback=note.clean_text(entry.feedback).strip())
    if entry.next.strip():
        _parse_next_step(entry.next, followup, issues, now.date())
    if entry.stage.strip():
        values, stage_issues = rules.prepare_fields({"stage": entry.stage}, config)
        issues += stage_issues
        followup.stage_to = values.get("stage") or ""
        followup.stage_from = effective_stage(customer, config, at.date())
        if followup.stage_to and followup.stage_to == customer.stage:
            issues.append(FieldIssue("stage", f"the customer is already at stage '{customer.stage}'"))
    typed = {name: str(getattr(entry, name) or "") for name in ("note", "channel", "at", "by", "next", "feedback")}
    issues += rules.sensitive_issues(typed)  # every option, not only the texts (--channel <card> too)
    return followup, issues


def _parse_next_step(raw: str, followup: FollowUp, issues: list[FieldIssue], today: date) -> None:
    """``2026-12-05 15:00 @李娜 发送报价``, ``明天下午3点 回访``: relative dates count from ``today``."""
    text = note.clean_text(raw).strip()
    step = parse_step(text, today)
    head = text.partition(" ")[0]
    if step is None and out_of_range(head):
        issues.append(FieldIssue("next", date_issue(head)))
        return
    if step is None:
        issues.append(FieldIssue("next", f"'{raw}' must start with a date (e.g. '2026-12-01 15:00 @李娜 send the "
                                         f"quote'; accepted: {ACCEPTED_FORMS})"))
        return
    followup.next_date, followup.next_at = step.when.day, step.when.at
    followup.next_who, followup.next_what = step.who, step.what


def log_followup(vault: Vault, customer: Customer, entry: LogEntry, *, now: datetime | None = None) -> Customer:
    """Append a follow-up; a stage move and a next step also update the fields."""
    now = (now or datetime.now()).replace(second=0, microsecond=0)
    followup, issues = prepare_followup(vault, customer, entry, now)
    refuse_errors(issues)

    def edit(doc: note.Document) -> str:
        changes: dict[str, Any] = {}
        if followup.stage_to:
            changes["stage"] = followup.stage_to
        if followup.next_date:
            changes["next_followup"] = followup.next_date
        text = doc.text
        if changes:
            text = note.set_fields(doc, changes)
            doc = note.parse(doc.encode(text))
        return note.insert_followup(doc, followup)

    return vault.update(customer.path, edit)


# ------------------------------------------------------------------ set


def set_fields(vault: Vault, customer: Customer, raw: dict[str, str]) -> Customer:
    """Change front-matter fields from strings; an empty value removes the field."""
    values, issues = rules.prepare_fields(raw, vault.config)
    refuse_errors(issues)
    merged = dict(customer.meta)
    merged.update({k: v for k, v in values.items() if v is not None})
    for key in [k for k, v in values.items() if v is None]:
        merged.pop(key, None)
    changed = set(values)
    refuse_errors([i for i in rules.validate_meta(merged, vault.config) if i.field in changed])
    values = seal_values(vault.config, values, str(merged.get("owner") or ""))  # fields crmnotes.yaml encrypts
    changes = {k: (note.DELETE if v is None else v) for k, v in values.items()}

    def edit(doc: note.Document) -> str:
        return note.set_fields(doc, {**changes, **_resolved_conflicts(doc.meta, changes)})

    return vault.update(customer.path, edit)


def preview_set(vault: Vault, customers: list[Customer], raw: dict[str, str]
                ) -> list[tuple[Customer, list[tuple[str, str, str]]]]:
    """(customer, [(field, old, new)]) of a change to several customers; refuses (nothing written) when
    any of them would be refused, naming it."""
    preview = []
    for customer in customers:
        values, issues = rules.prepare_fields(list_edits(customer, raw), vault.config)
        errors = [i for i in issues if i.severity == SEVERITY_ERROR]
        if errors:
            raise ValidationError(errors, hint=f"Nothing was changed ({customer.name} refused it).")
        diff = []
        for key, value in values.items():
            old, new = customer.text(key), _as_text(value)
            if isinstance(customer.meta.get(key), list):
                old = ", ".join(str(v) for v in customer.meta[key])
            if old != new:
                diff.append((key, old, new))
        preview.append((customer, diff))
    return preview


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def add_contact(vault: Vault, customer: Customer, name: str, role: str = "", phone: str = "",
                email: str = "") -> Customer:
    """Add a person to the customer's ``contacts:`` (or update the one of that name)."""
    from .contacts import CONTACTS_KEY, prepared_contact, with_contact

    item, issues = prepared_contact(name, role, phone, email, vault.config)
    if not item.get("name"):
        issues.insert(0, FieldIssue(CONTACTS_KEY, "the contact needs a name"))
    refuse_errors(issues)

    def edit(doc: note.Document) -> str:
        fresh = Customer(path=customer.path, meta=doc.meta)
        return note.set_fields(doc, {CONTACTS_KEY: with_contact(fresh, item)})

    return vault.update(customer.path, edit)


def list_edits(customer: Customer, raw: dict[str, str]) -> dict[str, str]:
    """``tags+=x`` and ``tags-=x`` (parsed as keys ``tags+`` / ``tags-``) -> ``tags=`` the whole new list."""
    result = {k: v for k, v in raw.items() if not k.endswith(("+", "-"))}
    for key in [k for k in raw if k.endswith(("+", "-"))]:
        name = key[:-1]
        current = result.get(name)
        items = rules.split_tags(current) if current is not None else _stored_list(customer.meta.get(name))
        changed = rules.split_tags(raw[key])
        if key.endswith("+"):
            items += [item for item in changed if item not in items]
        else:
            items = [item for item in items if item not in changed]
        result[name] = ",".join(items)
    return result


def _stored_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else rules.split_tags(str(value))


ARCHIVE_DIR = "archive"


def archive_customer(vault: Vault, customer: Customer) -> Path:
    """Move a customer's file to ``archive/`` (same sub-path): out of listings, due and check, still in
    git's history and in the file system; never deleted.  Returns the new path."""
    import os

    relative = customer.path.resolve().relative_to(vault.customers_dir.resolve())
    target = vault.root / ARCHIVE_DIR / relative
    if target.exists():
        raise CrmError(f"{vault.relative(target)} already exists.", "Move or rename it, then archive again.")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(customer.path, target)
    return target


def archived_matches(vault: Vault, words: list[str]) -> list[Customer]:
    """Archived customers whose file holds every word (case- and width-insensitive): what
    ``crm search --all`` adds to the index's results (archive/ is not indexed)."""
    wanted = [fold(w) for w in words if w.strip() and ":" not in w and w.upper() not in ("AND", "OR", "NOT")]
    found = []
    for path in sorted((vault.root / ARCHIVE_DIR).rglob("*.md")):
        try:
            text = fold(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError):
            continue
        if wanted and all(w.strip('"') in text for w in wanted):
            try:
                found.append(vault.customer_from(path, vault.read_document(path)))
            except CrmError:
                continue
    return found


def _resolved_conflicts(meta: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Setting a field a sync left in conflict resolves that conflict."""
    from .merge import CONFLICTS_KEY

    recorded = meta.get(CONFLICTS_KEY)
    if not isinstance(recorded, list) or CONFLICTS_KEY in changes:
        return {}
    kept = [c for c in recorded
            if not (isinstance(c, dict) and re.split(r"[.\[]", str(c.get("field", "")))[0] in changes)]
    if len(kept) == len(recorded):
        return {}
    return {CONFLICTS_KEY: kept or note.DELETE}


# ------------------------------------------------------------------ check


def check_vault(vault: Vault, passed: list[str] | None = None) -> list[Problem]:
    """Every problem in the vault, each located to a file and line.  A file unchanged since the
    last check is not read again: its problems and ID come from the check cache (checkcache.py).
    ``passed`` receives what the walk of customers/ passed over (``Vault.customer_stats``)."""
    from .checkcache import CheckCache, load
    from .vault import files_digest

    stats, skipped = vault.customer_stats(passed=passed)
    problems: list[Problem] = []
    cache = CheckCache(vault.cache_dir, vault.config_state())
    try:
        digest = files_digest(stats)
        answer = cache.answer(digest)
        if answer is not None:  # not one file changed since the last check
            return sorted(skipped + load(answer, vault.root), key=_problem_order)
        known = cache.rows()
        checked: list[tuple[str, tuple[int, int], str | None, list[Problem]]] = []
        ids: dict[str, str] = {}  # ID -> the vault-relative path that uses it first
        codes: dict[str, str] = {}  # credit code -> the vault-relative path that uses it first
        for rel, stat in stats.items():  # a Path is made only for a file with something to say
            row = known.get(rel)
            if row is not None and row[0] == stat:
                found, keys = load(row[2], vault.root), row[1]
            else:
                found, keys = check_file(vault, vault.root / rel)
                checked.append((rel, stat, keys, found))
            problems += found
            customer_id, _, code = (keys or "").partition(KEY_SEPARATOR)
            if code and code in codes:
                path, first = vault.root / rel, vault.read_or_problem(vault.root / codes[code])
                named = f"{first.name} ({codes[code]})" if isinstance(first, Customer) else codes[code]
                problems.append(Problem(path, _line_of(path, "credit_code"),
                                        f"credit code {code} is also used by {named}: the same company twice?",
                                        "warning", code="duplicate-credit-code"))
            elif code:
                codes[code] = rel
            if customer_id in ids:
                path = vault.root / rel
                problems.append(Problem(path, _line_of(path, "id"),
                                        f"id {customer_id} is also used by {ids[customer_id]}", code="duplicate-id"))
            elif customer_id:
                ids[customer_id] = rel
        cache.save(checked, known.keys() - stats.keys(), vault.root, (digest, problems))
    finally:
        cache.close()
    return sorted(skipped + problems, key=_problem_order)


def _problem_order(problem: Problem) -> tuple[str, int]:
    return str(problem.path or ""), problem.line or 0


KEY_SEPARATOR = "\x1f"  # between a file's ID and its credit code in the check cache's key column


def check_file(vault: Vault, path: Path) -> tuple[list[Problem], str | None]:
    """The problems of one customer file alone, and the keys the cross-file checks compare: its ID
    and, when it has one, its 统一社会信用代码 (None when the file cannot be read)."""
    read = vault.read_or_problem(path)
    if isinstance(read, Problem):
        return [read, *merge_markers(path)], None
    code = read.text("credit_code").strip().upper()
    return read.problems + check_customer(vault, read), f"{read.id}{KEY_SEPARATOR}{code}" if code else read.id


def check_customer(vault: Vault, customer: Customer) -> list[Problem]:
    problems = []
    from .deals import deal_issues

    for issue in rules.validate_meta(customer.meta, vault.config) + deal_issues(customer):
        line = _line_of(customer.path, issue.field)
        problems.append(Problem(customer.path, line, issue.message, issue.severity, code=f"field:{issue.field}"))
    body_start = _body_start_line(customer.path)
    for line, kind, masked in find_lines(customer.body):  # a number split across two lines too
        problems.append(Problem(customer.path, body_start + line - 1,
                                f"a {kind} ({masked}) must not be stored in the vault", code="sensitive"))
    problems += sync_conflicts(customer, body_start)
    for followup in customer.followups:
        if followup.channel and vault.config.channels.find(followup.channel) is None:
            problems.append(Problem(customer.path, followup.line, f"unknown channel '{followup.channel}'",
                                    "warning", code="unknown-channel"))
        for stage in (followup.stage_from, followup.stage_to):
            if stage and vault.config.stages.find(stage) is None:
                problems.append(Problem(customer.path, followup.line, f"unknown stage '{stage}' in a stage move",
                                        code="unknown-stage"))
    return problems


GIT_MARKERS_MESSAGE = ("git conflict markers: a merge without the crmnotes merge driver left two versions here; "
                       "run 'crm repair' on this file to merge them")
BLOCK_MESSAGE = "a sync kept two versions of this text; keep the right one and delete the rest of the marked block"


def sync_conflicts(customer: Customer, body_start: int) -> list[Problem]:
    """What a sync merge left for a person to decide: values recorded under
    ``conflicts:``, marked blocks of prose and git's conflict markers."""
    from .merge import CONFLICTS_KEY, conflict_lines, describe_conflict, git_marker_lines

    problems = []
    recorded = customer.meta.get(CONFLICTS_KEY)
    if recorded:
        line = _line_of(customer.path, CONFLICTS_KEY)
        for item in recorded if isinstance(recorded, list) else [recorded]:
            problems.append(Problem(customer.path, line, describe_conflict(item) + "; keep the right value and "
                                    f"delete this item from '{CONFLICTS_KEY}:'", code="sync-conflict"))
    for line in conflict_lines(customer.body):
        problems.append(Problem(customer.path, body_start + line - 1, BLOCK_MESSAGE, code="sync-conflict"))
    for line in git_marker_lines(customer.body):
        problems.append(Problem(customer.path, body_start + line - 1, GIT_MARKERS_MESSAGE, code="git-conflict"))
    return problems


def merge_markers(path: Path) -> list[Problem]:
    """Conflict markers anywhere in a file that does not parse (often because they sit in its front-matter)."""
    from .merge import conflict_lines, git_marker_lines

    try:
        text = note.decode(path.read_bytes())[0]
    except (OSError, CrmError):
        return []
    return [Problem(path, line, BLOCK_MESSAGE, code="sync-conflict") for line in conflict_lines(text)] + \
        [Problem(path, line, GIT_MARKERS_MESSAGE, code="git-conflict") for line in git_marker_lines(text)]


def _line_of(path: Path, key: str) -> int | None:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for number, line in enumerate(lines[1:], start=2):
        if line.startswith(f"{key}:") or line.startswith(f'"{key}":'):
            return number
        if line.strip() in ("---", "..."):
            break
    return 1


def _body_start_line(path: Path) -> int:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() in ("---", "..."):
            return number + 1
    return 1


# ------------------------------------------------------------------ listing


def due_customers(vault: Vault, on: date, owner: str = "", customers: list[Customer] | None = None) -> list[DueInfo]:
    """``due.due_list`` over customer objects (every file when not given); the faces ask ``catalog.due``."""
    customers = customers if customers is not None else vault.scan().customers
    if owner:
        customers = [c for c in customers if fold(c.owner) == fold(owner)]
    return due_list(customers, vault.config, on)


# ------------------------------------------------------------------ editor


def run_editor(path: Path) -> None:
    """Open ``path`` in the user's editor ($VISUAL, $EDITOR, else vi / notepad) and wait for it to close."""
    import os
    import shlex
    import subprocess

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or ("notepad" if os.name == "nt" else "vi")
    try:
        subprocess.run([*shlex.split(editor), str(path)], check=False)
    except OSError as exc:
        raise CrmError(f"cannot start the editor '{editor}' ({exc.strerror}).", "Set $EDITOR to your editor.") from None


# ------------------------------------------------------------------ display


def choice_label(vault: Vault, list_name: str, value: str) -> str:
    """The configured label of a stored choice id (意向 for intent), else the value."""
    found = vault.config.choices.get(list_name)
    return found.display(value) if found and value else value


def display_fields(vault: Vault, customer: Customer, today: date, *, reveal: bool = False) -> list[tuple[str, str]]:
    """(field, text) pairs of one customer as both faces show them: labels for
    choices, the computed stage, a masked phone unless revealed, the next due
    date with its reason, then every other front-matter key.  Empty ones are
    left out."""
    from .due import next_due

    customer = opened(customer)
    phone = customer.text("phone")
    stage = effective_stage(customer, vault.config, today)
    stage_text = choice_label(vault, "stages", stage)
    if stage != customer.stage:
        stage_text += f" (set: {customer.stage})"
    rows = [
        ("industry", choice_label(vault, "industries", customer.text("industry"))),
        ("contact", customer.text("contact")),
        ("phone", phone if reveal or not phone else rules.mask_phone(phone, vault.config.phone_region)),
        ("email", customer.text("email")),
        ("source", choice_label(vault, "sources", customer.text("source"))),
        ("stage", stage_text),
        ("grade", customer.grade),
        ("owner", customer.owner),
        ("tags", ", ".join(customer.tags)),
        ("created", customer.text("created")),
    ]
    due = next_due(customer, vault.config, today)
    if due:
        rows.append(("next", f"{due.due.isoformat()} ({due.reason})"))
    from .contacts import masked

    people = masked(customer.meta.get("contacts"), vault.config.phone_region) if not reveal else \
        [c for c in customer.meta.get("contacts") or [] if isinstance(c, dict)]
    rows.append(("contacts", "; ".join(" ".join(str(c.get(k)) for k in ("name", "role", "phone", "email")
                                                 if c.get(k)) for c in people)))
    known = {"id", "name", "deals", "tickets", "next_followup", "conflicts", *(r[0] for r in rows)}
    rows += [(k, customer.text(k)) for k in customer.meta if k not in known]
    return [(key, value) for key, value in rows if value]


_RECORD_COLUMNS = {
    "deals": ("id", "name", "stage", "amount", "probability", "close", "owner"),
    "tickets": ("id", "subject", "type", "priority", "status", "opened", "due", "owner", "resolution", "satisfaction",
                "closed"),
}
_RECORD_CHOICES = {"deals": {"stage": "deal_stages"},
                   "tickets": {"type": "ticket_types", "priority": "ticket_priorities", "status": "ticket_statuses"}}


def word(vault: Vault, key: str) -> str:
    """A heading or column name in the vault's language (English for other languages)."""
    return word_in(vault.config.language, key)


def followups_in_order(vault: Vault, customer: Customer) -> list[FollowUp]:
    """The customer's follow-ups in the order crmnotes.yaml asks for (display.followups)."""
    return sorted(customer.followups, key=lambda f: f.at, reverse=vault.config.newest_first)


def followup_when(followup: FollowUp) -> str:
    """"2026-12-02 15:30", or the date alone for an entry written without a time."""
    return format_minute(followup.at).replace("T", " ") if followup.has_time else followup.at.date().isoformat()


def record_table(vault: Vault, kind: str, items: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Deals or tickets (``kind``) as column headings and rows of text in the vault's language:
    choice labels, amounts with currency, probabilities in %; columns empty in every row left out."""
    from . import deals

    choices = _RECORD_CHOICES[kind]
    known = _RECORD_COLUMNS[kind]
    extra = [str(k) for item in items for k in item if str(k) not in known and k != "currency"]
    keys = [*known, *dict.fromkeys(extra)]
    rows = []
    for index, item in enumerate(items):
        cells = {key: "" if item.get(key) is None else str(jsonable(item.get(key))) for key in keys}
        cells["id"] = str(item.get("id") or index + 1)
        for key, list_name in choices.items():
            cells[key] = choice_label(vault, list_name, cells[key])
        if kind == "deals":
            amount = money(item.get("amount"))
            cells["amount"] = f"{deals.currency_of(item, vault.config)} {amount}" if amount else ""
            cells["probability"] = f"{deals.probability_of(item, vault.config):.0f}%"
        rows.append([cells[key] for key in keys])
    shown = [i for i, _ in enumerate(keys) if any(row[i] for row in rows)]
    return [word(vault, keys[i]) for i in shown], [[row[i] for i in shown] for row in rows]


# ------------------------------------------------------------------ JSON
