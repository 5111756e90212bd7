"""Commit messages that say which customers changed and how.

``log: 星辰科技 (phone); set: Acme grade=A; add: 海豚物流`` — built from the
staged changes by comparing each customer file with its committed version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import note
from ..errors import FileFormatError
from ..model import FollowUp
from .repo import git_run, read_blobs

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
SUBJECT_LIMIT = 180
SHOWN_VALUE_LIMIT = 24
PRIVATE_FIELDS = {"phone", "email"}  # commit messages travel further than the vault's masking


@dataclass
class Change:
    """One staged file: git status letter and its old and new paths."""

    status: str
    old_path: str
    new_path: str


@dataclass
class Parts:
    """Message pieces grouped by verb, in a stable order."""

    by_verb: dict[str, list[str]] = field(default_factory=dict)

    def add(self, verb: str, text: str) -> None:
        self.by_verb.setdefault(verb, []).append(text)

    def items(self) -> list[str]:
        order = ["add", "log", "set", "rename", "delete", "edit"]
        return [f"{verb}: {', '.join(self.by_verb[verb])}" for verb in order if verb in self.by_verb]


def staged_changes(root: Path, base: str) -> list[Change]:
    raw = git_run(root, "diff", "--cached", "--name-status", "-z", "-M", base).decode("utf-8", "surrogateescape")
    fields = raw.split("\0")
    changes: list[Change] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i][0]
        if status in "RC":
            changes.append(Change(status, fields[i + 1], fields[i + 2]))
            i += 3
        else:
            changes.append(Change(status, fields[i + 1], fields[i + 1]))
            i += 2
    return changes


def describe_staged(root: Path, base: str) -> tuple[str, str]:
    """(subject, body) describing what is staged relative to ``base``."""
    changes = staged_changes(root, base)
    specs = []
    for change in changes:
        specs += [f"{base}:{change.old_path}" if base != EMPTY_TREE else "", f":{change.new_path}"]
    wanted = [s for s in specs if s]
    found = dict(zip(wanted, read_blobs(root, wanted), strict=True))
    blobs = [found.get(s) if s else None for s in specs]
    parts = Parts()
    for index, change in enumerate(changes):
        old, new = blobs[2 * index], blobs[2 * index + 1]
        describe_change(parts, change, None if change.status == "A" else old, None if change.status == "D" else new)
    items = parts.items()
    subject = "; ".join(items) or "sync"
    body = ""
    if len(subject) > SUBJECT_LIMIT:
        body = "\n".join(items)
        subject = subject[: SUBJECT_LIMIT - 1].rsplit(",", 1)[0] + f" … ({len(changes)} files)"
    return subject, body


def describe_change(parts: Parts, change: Change, old: bytes | None, new: bytes | None) -> None:
    if not change.new_path.startswith("customers/") or not change.new_path.endswith(".md"):
        parts.add("delete" if change.status == "D" else "edit", change.new_path)
        return
    old_doc, new_doc = _parse(old), _parse(new)
    name = _name(new_doc or old_doc, change.new_path)
    if new_doc is None and change.status == "D":
        parts.add("delete", name)
        return
    if old_doc is None:
        parts.add("add", name)
        return
    if new_doc is None:
        parts.add("edit", name)
        return
    added = added_followups(old_doc, new_doc)
    if added:
        parts.add("log", f"{name} ({', '.join(dict.fromkeys(f.channel or 'other' for f in added))})")
    changed = field_changes(old_doc.meta, new_doc.meta)
    explained = _explained_by(added)
    shown = [_shown(key, new) for key, (_old, new) in changed.items() if explained.get(key, object()) != new]
    if shown:
        parts.add("set", f"{name} {' '.join(shown)}")
    if change.status == "R":
        parts.add("rename", f"{name} ({Path(change.old_path).name} -> {Path(change.new_path).name})")
    if not added and not shown and change.status != "R":
        parts.add("edit", name)


def _parse(blob: bytes | None) -> note.Document | None:
    if blob is None:
        return None
    try:
        return note.parse(blob)
    except FileFormatError:
        return None


def _name(doc: note.Document | None, path: str) -> str:
    name = str(doc.meta.get("name") or "") if doc else ""
    return " ".join(name.split()) or Path(path).stem


_MISSING = object()


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """key -> (old, new) for every front-matter key that differs (None = absent)."""
    keys = list(new) + [k for k in old if k not in new]
    return {k: (old.get(k), new.get(k)) for k in keys if old.get(k, _MISSING) != new.get(k, _MISSING)}


def followup_key(followup: FollowUp) -> tuple[Any, ...]:
    return (followup.at, followup.channel, followup.by, followup.note)


def added_followups(old: note.Document, new: note.Document) -> list[FollowUp]:
    before = {followup_key(f) for f in old.followups}
    return [f for f in new.followups if followup_key(f) not in before]


def _explained_by(added: list[FollowUp]) -> dict[str, Any]:
    """Fields a logged follow-up sets by itself (its stage move, its next date)."""
    explained: dict[str, Any] = {}
    for followup in added:
        if followup.stage_to:
            explained["stage"] = followup.stage_to
        if followup.next_date:
            explained["next_followup"] = followup.next_date
    return explained


def _shown(key: str, value: Any) -> str:
    if value is None:
        return f"-{key}"
    if key in PRIVATE_FIELDS or isinstance(value, (list, dict)):
        return key
    text = " ".join(str(value).split())
    return f"{key}={text}" if len(text) <= SHOWN_VALUE_LIMIT else key
