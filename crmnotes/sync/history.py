"""``crm history``: one customer's timeline from git.

One ``git log`` lists the commits that touched the file (and its path at
each: ``--follow``, when the oldest is not the repository's first commit, follows
renames); one ``git cat-file --batch`` reads
every version; consecutive versions are compared as customer files: which
fields changed from what to what, which follow-ups were added.  Customer
files live in per-initial subfolders, which keeps ``--follow`` fast on large
vaults (git diffs small trees).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import CrmError
from ..team import EMPTY, Member, Team, team_of
from .message import _parse, added_followups, field_changes
from .repo import git_run, read_blobs

RECORD = "\x1e"
# (sha, author, email, date, subject, path, old path, status letter, parents)
LogEntry = tuple[str, str, str, str, str, str, str, str, str]
UNIT = "\x1f"


@dataclass
class Change:
    """One commit's change to the customer."""

    commit: str
    author: str
    email: str
    date: str
    subject: str
    path: str
    kind: str  # added, changed, renamed, deleted
    fields: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    member: str = ""  # the team member's id, when the git email or name maps to one
    git_author: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "author": self.author, "member": self.member or None,
                "git_author": self.git_author or self.author, "email": self.email, "date": self.date,
                "subject": self.subject, "path": self.path, "kind": self.kind, "fields": self.fields,
                "followups": self.followups}


def customer_history(root: Path, relpath: str) -> list[Change]:
    """Oldest first: every committed change to the customer at ``relpath``."""
    commits = _log(root, relpath, follow=False)
    if commits and commits[-1][7] == "A" and commits[-1][8]:
        # Added by a commit with a parent: perhaps renamed from another path, so follow it.  Not when
        # the root commit added it: following would compare that commit's every file (all of an
        # imported vault) for a rename that cannot be there.
        commits = _log(root, relpath, follow=True)
    commits.reverse()
    # Each version is compared with the file in the commit's parent (its old
    # path for a rename), so a change is shown once, where it was made.
    specs = []
    for sha, *_, path, old_path, _status, _parents in commits:
        specs += [f"{sha}^:{old_path}", f"{sha}:{path}"]
    blobs = read_blobs(root, specs)
    changes: list[Change] = []
    team = team_at(root)
    for index, (sha, author, email, when, subject, path, _old, status, _parents) in enumerate(commits):
        kind = {"A": "added", "D": "deleted", "R": "renamed"}.get(status, "changed")
        member = member_of(team, author, email)
        change = Change(sha, member.name if member else author, email, when, subject, path, kind,
                        member=member.id if member else "", git_author=author)
        _describe(change, blobs[2 * index], blobs[2 * index + 1])
        changes.append(change)
    return changes


def team_at(root: Path) -> Team:
    """The team crmnotes.yaml lists in the working tree (none when it cannot be read: names are a nicety)."""
    from ..config import CONFIG_FILE, load_config

    try:
        return team_of(load_config(root / CONFIG_FILE))
    except CrmError:
        return EMPTY


def member_of(team: Team, git_name: str, email: str) -> Member | None:
    """The member behind a git author: by email, else by name (an id, alias or pinyin)."""
    if not team:
        return None
    return team.by_email(email) or team.find(git_name)


def mask_phones(changes: list[Change], region: str) -> None:
    """Mask phone numbers in the field changes (shown unless the user asks to reveal them)."""
    from ..rules import mask_phone

    for change in changes:
        for item in change.fields:
            if item["field"] == "phone":
                item.update({k: mask_phone(str(item[k]), region) for k in ("old", "new") if item[k]})


def _log(root: Path, relpath: str, follow: bool) -> list[LogEntry]:
    """``_parse_log`` of the commits that touched ``relpath`` (across renames when ``follow``)."""
    raw = git_run(root, "log", *(["--follow", "-M"] if follow else []), "--name-status", "-z", "--no-merges",
                  f"--format={RECORD}%H{UNIT}%an{UNIT}%ae{UNIT}%aI{UNIT}%P{UNIT}%s", "--", relpath, check=False)
    return _parse_log(raw.decode("utf-8", errors="replace"))


def _parse_log(text: str) -> list[LogEntry]:
    """(sha, author, email, date, subject, path, old path, status letter, parents) per commit, newest first."""
    out = []
    for record in text.split(RECORD)[1:]:
        header, _, rest = record.partition("\n")
        sha, author, email, when, parents, subject = (header.rstrip("\0").split(UNIT, 5) + [""] * 6)[:6]
        names = [n for n in rest.strip("\n\0").split("\0") if n != ""]
        status, path, old_path = "M", "", ""
        if names:
            status = names[0].strip()[:1]
            path, old_path = names[-1], names[1] if len(names) > 1 else names[-1]
        out.append((sha, author, email, when, subject, path, old_path, status, parents))
    return out


def _describe(change: Change, before: bytes | None, after: bytes | None) -> None:
    old_doc, new_doc = _parse(before), _parse(after)
    if new_doc is None:
        return
    old_meta = old_doc.meta if old_doc else {}
    change.fields = [{"field": k, "old": _plain(o), "new": _plain(n)}
                     for k, (o, n) in field_changes(old_meta, new_doc.meta).items()]
    added = added_followups(old_doc, new_doc) if old_doc else new_doc.followups
    change.followups = [f.to_json() for f in added]


def _plain(value: Any) -> Any:
    """YAML values as JSON-friendly data (dates as ISO text)."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def uncommitted(root: Path, relpath: str) -> bool:
    """Does the customer's file hold edits git has not committed (changed, or never added)?"""
    return bool(git_run(root, "status", "--porcelain", "--", relpath, check=False).strip())
