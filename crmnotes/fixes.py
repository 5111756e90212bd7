"""``crm check --fix``: the safe repairs of files written by hand.

A fix is one front-matter value a machine can put right without guessing:
a missing id or creation time, a choice written as a label or alias (when
the vault writes ids) or with a known typo, a phone in a local format, tags
typed as one string.  Each fix is applied with ``note.set_fields`` (only
that key's lines change) under the vault's lock, re-planned on the file's
fresh text so a concurrent edit is never overwritten.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import note, rules
from .config import Choice, ChoiceSet, VaultConfig, fold
from .errors import CrmError
from .model import format_minute, parse_when
from .naming import new_id
from .vault import Vault

_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)


@dataclass(frozen=True)
class Fix:
    path: Path
    field: str
    old: Any
    new: Any
    why: str

    def describe(self, vault: Vault) -> str:
        old = "(missing)" if self.old in (None, "", []) else _shown(self.old)
        return f"{vault.relative(self.path)}: {self.field} {old} → {_shown(self.new)} ({self.why})"


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def closest_choice(choices: ChoiceSet, value: str) -> Choice | None:
    """The one choice ``value`` is a typo of (an edit or two away from an id, label or alias), else None.

    Short words allow one edit, longer ones two; a typo close to two different choices is left alone.
    """
    from rapidfuzz.distance import Levenshtein

    typed = fold(value)
    if not typed:
        return None
    found: dict[str, Choice] = {}
    for item in choices.items:
        if item.computed:
            continue
        for spelling in (item.id, item.label, *item.aliases):
            known = fold(spelling)
            if not known or min(len(known), len(typed)) < 2:
                continue
            allowed = 1 if max(len(known), len(typed)) <= 5 else 2
            if Levenshtein.distance(typed, known, score_cutoff=allowed) <= allowed:
                found[item.id] = item
    return next(iter(found.values())) if len(found) == 1 else None


def planned_fixes(path: Path, meta: dict[str, Any], body: str, config: VaultConfig,
                  modified: datetime | None = None) -> list[Fix]:
    """Every safe fix of one file's front-matter (``meta`` as written, not as read)."""
    fixes: list[Fix] = []
    if _empty(meta.get("id")):
        when = parse_when(meta.get("created")) or modified or datetime.now()
        fixes.append(Fix(path, "id", meta.get("id"), new_id(when), "a file written by hand gets its id"))
    if _empty(meta.get("created")) and "created" in config.fields and modified is not None:
        fixes.append(Fix(path, "created", meta.get("created"), format_minute(modified),
                         "the file's last change stands for its creation"))
    if _empty(meta.get("name")) and "name" in config.fields:
        title = _TITLE.search(body)
        if title:
            fixes.append(Fix(path, "name", meta.get("name"), title.group(1).strip(), "the file's title"))
    if _empty(meta.get("stage")) and config.fields.get("stage") and config.fields["stage"].required:
        fixes.append(Fix(path, "stage", meta.get("stage"), config.initial_stage, "the stage of a new customer"))
    for name, value in meta.items():
        definition = config.fields.get(name)
        if definition is None or _empty(value):
            continue
        fixed = _fixed_value(name, definition.type, value, config)
        if fixed is not None:
            fixes.append(Fix(path, name, value, fixed[0], fixed[1]))
    return fixes


def _fixed_value(name: str, kind: str, value: Any, config: VaultConfig) -> tuple[Any, str] | None:
    if kind == "choice" and isinstance(value, str):
        return _fixed_choice(name, value, config)
    if kind == "phone":
        return _fixed_phones(value, config.phone_region)
    if kind == "tags" and isinstance(value, str):
        return rules.split_tags(value), "tags are a list"
    if kind == "contacts" and isinstance(value, list):
        return _fixed_contacts(value, config.phone_region)
    if kind == "credit_code" and isinstance(value, str):
        try:
            code = rules.normalize_credit_code(value)
        except ValueError:
            return None
        return (code, "credit code in capitals") if code != value else None
    return None


def _fixed_contacts(value: list[Any], region: str) -> tuple[Any, str] | None:
    fixed = []
    for item in value:
        if isinstance(item, dict) and item.get("phone"):
            phone = _fixed_phones(item["phone"], region)
            item = {**item, "phone": phone[0]} if phone else item
        fixed.append(item)
    return (fixed, "contact phones in E.164") if fixed != value else None


def _fixed_choice(name: str, value: str, config: VaultConfig) -> tuple[str, str] | None:
    choices = config.choices_for(name)
    if choices is None:
        return None
    found = choices.find(value)
    if found is None:
        typo = closest_choice(choices, value)
        if typo is None:
            return None
        return _preferred(typo, config), f"a typo of {typo.display}"
    if found.computed:
        return None
    preferred = _preferred(found, config)
    if preferred == value:
        return None
    return preferred, "written as its id" if config.write_choices_as == "id" else "written as its label"


def _preferred(choice: Choice, config: VaultConfig) -> str:
    return choice.label if config.write_choices_as == "label" and choice.label else choice.id


def _fixed_phones(value: Any, region: str) -> tuple[Any, str] | None:
    phones = value if isinstance(value, list) else [value]
    fixed = []
    for phone in phones:
        try:
            fixed.append(rules.normalize_phone(str(phone), region))
        except ValueError:
            fixed.append(phone)  # not a number a machine can fix: 'crm check' still reports it
    result = fixed if isinstance(value, list) else fixed[0]
    return (result, "phone in E.164") if result != value else None


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def vault_fixes(vault: Vault) -> list[Fix]:
    """Every safe fix in the vault, file by file (nothing is written)."""
    fixes: list[Fix] = []
    for path in vault.customer_paths():
        if not isinstance(path, Path):
            continue
        fixes += _file_fixes(vault, path)
    return fixes


def _file_fixes(vault: Vault, path: Path) -> list[Fix]:
    try:
        doc = vault.read_document(path)
        modified = datetime.fromtimestamp(path.stat().st_mtime).replace(second=0, microsecond=0)
    except (CrmError, OSError):
        return []  # unreadable: 'crm check' reports it, no fix can be safe
    return planned_fixes(path, doc.meta, doc.body, vault.config, modified)


def apply_fixes(vault: Vault, fixes: list[Fix], progress: Callable[[Fix], None] | None = None) -> list[Fix]:
    """Apply ``fixes`` file by file, each re-planned on the file's current text; returns what was applied."""
    applied: list[Fix] = []
    by_path: dict[Path, set[str]] = {}
    for fix in fixes:
        by_path.setdefault(fix.path, set()).add(fix.field)
    for path, wanted in by_path.items():
        done: list[Fix] = []

        def edit(doc: note.Document, path: Path = path, wanted: set[str] = wanted, done: list[Fix] = done) -> str:
            planned = {f.field: f for f in planned_fixes(path, doc.meta, doc.body, vault.config,
                                                         _mtime(path)) if f.field in wanted}
            done[:] = list(planned.values())
            return _edited(doc, {name: fix.new for name, fix in planned.items()}) if planned else doc.text

        try:
            vault.update(path, edit, durable=False)  # thousands of files: one flush of all of them below
        except CrmError:
            continue  # laid out in a way set_fields cannot splice: left for a person, 'crm check' says so
        for fix in done:
            applied.append(fix)
            if progress:
                progress(fix)
    if applied and hasattr(os, "sync"):
        os.sync()
    return applied


def _edited(doc: note.Document, changes: dict[str, Any]) -> str:
    """``set_fields``, with a new id put first in the front-matter, where every tool writes it."""
    new_id_value = changes.pop("id", None) if "id" not in doc.meta else None
    text = note.set_fields(doc, changes) if changes else doc.text
    if new_id_value is None:
        return text
    return text[: doc.fm_start] + f"id: {new_id_value}{doc.newline}" + text[doc.fm_start :]


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime).replace(second=0, microsecond=0)
