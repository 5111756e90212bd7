"""Plain data of the domain: customers, follow-ups, problems.  Stdlib only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .sensitive import redact

SEVERITY_ERROR = "error"
SEVERITY_WARNING = "warning"

# The one range of dates crmnotes accepts anywhere: typed (CLI options, TUI forms), imported, read from a
# file (front-matter dates, follow-up headings, next steps) or searched.  Anything outside it is refused
# with ``date_issue``'s sentence.  With every span capped at ``MAX_DAYS`` (config.py, search), no date
# arithmetic (a cadence after a last contact, a week before --since) can leave what Python's datetime
# holds (years 1-9999), so none of it needs a guard of its own.
MIN_YEAR, MAX_YEAR = 1900, 2999
DATE_RANGE_TEXT = f"{MIN_YEAR}-01-01 to {MAX_YEAR}-12-31"
MAX_DAYS = 36_500  # the longest span in days (cadence, silent_after_days, search "last:<Nd"): 100 years


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the vault, located to a file and line when possible."""

    path: Path | None
    line: int | None
    message: str
    severity: str = SEVERITY_ERROR
    code: str = "invalid"

    def __post_init__(self) -> None:
        # a message may quote a value from the file (an unknown channel, a bad date): never a full ID or card number
        object.__setattr__(self, "message", redact(self.message))

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


# The first line of the follow-up a deal's stage move writes: 商机「name」阶段：from → to
DEAL_MOVE_NOTE = re.compile(r"商机「[^\n]*」阶段：")


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
    def is_contact(self) -> bool:
        """False for the entry a deal's stage move writes (``deals``): a record, not a talk with the customer,
        so it neither counts as the last contact nor replaces the next step planned before it."""
        return not (self.channel == "other" and DEAL_MOVE_NOTE.match(self.note) is not None)

    @property
    def next_text(self) -> str:
        if self.next_date is None:
            return self.next_what
        parts = [self.next_date.isoformat(), self.next_at.strftime("%H:%M") if self.next_at else "",
                 f"@{self.next_who}" if self.next_who else "", self.next_what]
        return " ".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
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
        return text_of(self.meta.get(key))

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
        if isinstance(value, list):  # nested lists or mappings are no tags: check reports them
            return [str(t) for t in value if isinstance(t, (str, int, float)) and not isinstance(t, bool)]
        return [str(value)] if isinstance(value, (str, int, float)) and not isinstance(value, bool) else []

    @property
    def last_contact(self) -> datetime | None:
        return max((f.at for f in self.followups if f.is_contact), default=None)

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


def money(value: Any) -> str:
    """180,000 / 1,234.50: an amount as people read it (not a number: as it is written)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return "" if value is None else str(value)


def text_of(value: Any) -> str:
    """A front-matter value as text (``Customer.text``): none is empty, a date-time is to the minute."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_minute(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def format_minute(when: datetime) -> str:
    """ISO date-time to the minute, the precision follow-ups are kept at (the wall time, no offset)."""
    return (when.replace(tzinfo=None) if when.tzinfo else when).isoformat(timespec="minutes")


def in_range(when: date) -> bool:
    """Is this date (or date-time) inside the accepted range?"""
    return MIN_YEAR <= when.year <= MAX_YEAR


def parse_when(value: Any) -> datetime | None:
    """Read a YAML date, datetime or ISO string; None when it is not one or lies
    outside the accepted range (``date_issue`` says which, for a message)."""
    when = _read_when(value)
    return when if when is not None and in_range(when) else None


def out_of_range(value: Any) -> bool:
    """Is ``value`` a real date that lies outside the accepted range?"""
    when = _read_when(value)
    return when is not None and not in_range(when)


def date_issue(value: Any, example: str = "YYYY-MM-DD", what: str = "date") -> str:
    """Why ``value`` is refused as a date, as the end of a sentence."""
    shown = str(value) if len(str(value)) <= 40 else str(value)[:37] + "..."
    if out_of_range(value):
        return f"'{shown}' is outside the dates crmnotes accepts ({DATE_RANGE_TEXT})"
    return f"'{shown}' is not a {what} (use {example})"


def _read_when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        match = _TYPED_WHEN.match(value)
        if match is None:
            return None
        try:
            return datetime(*(int(part) for part in match.groups(default="0")))  # type: ignore[arg-type]  # _TYPED_WHEN has six groups: year to second
        except ValueError:  # 2026-02-30, 25:00
            return None
    return None


# What people type and what files hold: 2026-12-05, 2026/12/05, 2026.12.5, 2026年12月5日, each with an optional
# time (14:30, 14：30, T14:30:00).  The one parser of dates typed in the CLI and the TUI's forms.
_TYPED_WHEN = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                         r"(?:(?:\s+|T)(\d{1,2})\s*[:：]\s*(\d{2})(?::(\d{2}))?)?\s*$")
