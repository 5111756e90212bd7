"""Plain data of the domain: customers, follow-ups, problems.  Stdlib only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

SEVERITY_ERROR = "error"
SEVERITY_WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the vault, located to a file and line when possible."""

    path: Path | None
    line: int | None
    message: str
    severity: str = SEVERITY_ERROR
    code: str = "invalid"

    def location(self, root: Path | None = None) -> str:
        if self.path is None:
            return "vault"
        shown = self.path
        if root is not None:
            try:
                shown = self.path.relative_to(root)
            except ValueError:
                pass
        return f"{shown}:{self.line}" if self.line else str(shown)

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        return {
            "path": self.location(root).rsplit(":", 1)[0] if self.line else self.location(root),
            "line": self.line,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True)
class FieldIssue:
    """A rule broken by one field's value (what forms show next to the field)."""

    field: str
    message: str
    severity: str = SEVERITY_ERROR


@dataclass
class FollowUp:
    """One dated contact with a customer, as found in (or written to) the body."""

    at: datetime
    channel: str = ""
    by: str = ""
    note: str = ""
    next_date: date | None = None
    next_what: str = ""
    next_at: time | None = None  # the next step's time of day, when one was said
    next_who: str = ""  # who the next step is for (``@李娜``); empty: the entry's author
    feedback: str = ""
    stage_from: str = ""
    stage_to: str = ""
    title: str = ""
    has_time: bool = True
    line: int | None = None  # 1-based line of the heading in its file
    done: list[str] = field(default_factory=list)  # ``done:`` lines: the earlier next steps this entry closes

    @property
    def next_text(self) -> str:
        if self.next_date is None:
            return self.next_what
        parts = [self.next_date.isoformat(), self.next_at.strftime("%H:%M") if self.next_at else "",
                 f"@{self.next_who}" if self.next_who else "", self.next_what]
        return " ".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        found = {
            "at": format_minute(self.at) if self.has_time else self.at.date().isoformat(),
            "channel": self.channel,
            "by": self.by,
            "note": self.note,
            "next": self.next_text or None,
            "next_date": self.next_date.isoformat() if self.next_date else None,
            "feedback": self.feedback or None,
            "stage_from": self.stage_from or None,
            "stage_to": self.stage_to or None,
        }
        # a task's time, assignee and closings only when written, so older readers see the same keys
        if self.next_at:
            found["next_time"] = self.next_at.strftime("%H:%M")
        if self.next_who:
            found["next_who"] = self.next_who
        if self.done:
            found["done"] = list(self.done)
        return found


@dataclass
class Customer:
    """A customer file read from the vault: its front-matter and follow-ups.

    ``meta`` is the whole front-matter as loaded (unknown keys included); the
    typed properties below read from it so that nothing is held twice.
    """

    path: Path
    meta: dict[str, Any]
    followups: list[FollowUp] = field(default_factory=list)
    body: str = ""
    problems: list[Problem] = field(default_factory=list)
    sort_key: str = ""  # precomputed naming.collation_key(name), when an index supplies it

    def text(self, key: str) -> str:
        value = self.meta.get(key)
        if value is None:
            return ""
        if isinstance(value, datetime):
            return format_minute(value)
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    @property
    def id(self) -> str:
        return self.text("id")

    @property
    def name(self) -> str:
        return self.text("name")

    @property
    def stage(self) -> str:
        return self.text("stage")

    @property
    def grade(self) -> str:
        return self.text("grade")

    @property
    def owner(self) -> str:
        return self.text("owner")

    @property
    def tags(self) -> list[str]:
        value = self.meta.get("tags")
        if value is None:
            return []
        if isinstance(value, list):
            return [str(t) for t in value if t is not None]
        return [str(value)]

    @property
    def last_contact(self) -> datetime | None:
        return max((f.at for f in self.followups), default=None)

    @property
    def created(self) -> datetime | None:
        return parse_when(self.meta.get("created"))

    @property
    def next_followup(self) -> date | None:
        when = parse_when(self.meta.get("next_followup"))
        return when.date() if when else None

    @property
    def deals(self) -> list[dict[str, Any]]:
        return _list_of_dicts(self.meta.get("deals"))

    @property
    def tickets(self) -> list[dict[str, Any]]:
        return _list_of_dicts(self.meta.get("tickets"))


def _list_of_dicts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def format_minute(when: datetime) -> str:
    """ISO date-time to the minute, the precision follow-ups are kept at."""
    return when.strftime("%Y-%m-%dT%H:%M")


def parse_when(value: Any) -> datetime | None:
    """Read a YAML date, datetime or ISO string; None when it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
    return None
