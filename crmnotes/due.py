"""Who to contact, when, and why: the due rules, and the only module that knows about time.

* **Next steps.** Every next step still open counts, not only the latest
  entry's (two people may each have planned one before a sync).  The next
  step of entry E is open until

  a) a later entry by the same author re-plans (an authorless entry is
     re-planned by a later authorless one): the newer plan replaces it, or
  b) any later entry is dated on or after the step's day: someone was in
     touch when it fell due, or
  c) a later entry says ``done:`` with the step's text (``crm done``); a
     bare ``done:`` line (or ``done: *``) closes every earlier step.

  The front-matter ``next_followup`` counts too, while it is still ahead of
  the last contact.  The earliest open step is the due date; the reason
  names every open step.
* **Cadence**, when no step is open: the shorter of the stage's and the
  grade's interval in crmnotes.yaml, counted from the last contact (or from
  creation).
* **Silence**: a customer not contacted for ``silent_after_days`` is
  *silent*; silent and closed stages have no cadence, only explicit steps.
* **Tickets**: an open service ticket is due from its due (or opened) day.
* **Renewals**: a front-matter ``renewal_date`` is due ``RENEWAL_NOTICE``
  before it, until the customer is contacted in that window or the date has passed.
* **Birthdays**: ``birthday`` (solar: ``1985-03-12`` or ``03-12``) and
  ``lunar_birthday`` (农历: ``08-15``, ``八月十五``, ``腊月廿三``) are due
  ``BIRTHDAY_NOTICE`` before each year's day, until contacted in that window.
* **Deals past their close date**: an open deal is due on its expected
  ``close`` day and stays due until it is closed or its date moves.
* **Cadence by tag**: ``cadence: tags: {risk/高: 3/week}`` in crmnotes.yaml
  (days, or ``N/week`` / ``N/month``), when no step is open, from the last
  contact; a tag namespace (``risk``) matches all its values.
* **Working days**: ``cadence: working_days: cn`` counts the cadence
  intervals in Chinese working days (public holidays and 调休 make-up days,
  from the optional ``chinesecalendar`` package; Monday to Friday for years
  it does not know); ``auto`` does so for a vault whose phone region is CN.
  Off by default.

Each rule is a function registered with ``due_rule``; the earliest date any
rule gives wins (on a tie, the rule registered first).  A rule whose answer
depends on the day asked says on which days it may change (``changes``), so
``timeline`` can tell once, for every future day, what is due: the listing
cache stores that timeline and answers any "today" without reading the file.
Adding a rule is a change to this module only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from .config import VaultConfig
from .filters import has_tag
from .model import Customer, FollowUp, parse_when

RENEWAL_NOTICE = timedelta(days=30)
BIRTHDAY_NOTICE = timedelta(days=3)
BIRTHDAY_YEARS_AHEAD = 10  # how many years of birthdays a timeline lists ahead of the day it is made


@dataclass(frozen=True)
class DueInfo:
    customer: Customer
    due: date
    reason: str
    rule: str  # the registered rule's name: "next-step" | "cadence" | "ticket" | "renewal" | "birthday" | ...

    def days_overdue(self, today: date) -> int:
        return (today - self.due).days

    def status(self, today: date) -> str:
        return status_of(self.due, today)


def status_of(due: date, today: date) -> str:
    days = (today - due).days
    return "overdue" if days > 0 else "due" if days == 0 else "upcoming"


@dataclass(frozen=True)
class NextStep:
    """A planned next step that is still open (see the module's rule): a task."""

    day: date
    what: str = ""
    by: str = ""
    at: time | None = None  # the time of day, when one was said
    who: str = ""  # the assignee, when named with @; else the author is
    planned_on: date | None = None  # the day of the entry that planned it

    @property
    def assignee(self) -> str:
        return self.who or self.by

    def describe(self) -> str:
        return f"{self.day.isoformat()}: {self.what}" if self.what else self.day.isoformat()


@dataclass(frozen=True)
class Candidate:
    """What one rule says is due; ``due`` None: due on whatever day is asked (never contacted, no creation date)."""

    due: date | None
    reason: str
    rule: str


@dataclass(frozen=True)
class Answer:
    """What holds for a customer on a day: its effective stage and what is due."""

    stage: str
    due: date | None = None  # see ``floating``
    reason: str = ""
    rule: str = ""
    floating: bool = False  # due on the day asked itself

    def due_on(self, day: date) -> date | None:
        return day if self.floating else self.due


Rule = Callable[[Customer, VaultConfig, date], "Candidate | None"]
ChangeDays = Callable[[Customer, VaultConfig], Iterable[date]]


@dataclass(frozen=True)
class _Registered:
    name: str
    rule: Rule
    changes: ChangeDays | None


RULES: list[_Registered] = []


def rule_docs() -> list[tuple[str, str]]:
    """(name, docstring) of every registered rule, in order: what ``crm help due`` prints."""
    import inspect

    return [(registered.name, inspect.getdoc(registered.rule) or "") for registered in RULES]


def due_rule(name: str, changes: ChangeDays | None = None) -> Callable[[Rule], Rule]:
    """Register a due rule: ``rule(customer, config, day)`` gives a ``Candidate`` or None.

    ``changes(customer, config)`` lists the days from which the rule's answer
    may differ (beyond silence, which every rule may read through
    ``effective_stage``); a rule that does not read the day needs none."""

    def register(rule: Rule) -> Rule:
        RULES.append(_Registered(name, rule, changes))
        return rule

    return register


# ------------------------------------------------------------------ stage and silence


def silent_from(customer: Customer, config: VaultConfig) -> date | None:
    """The first day the customer counts as silent, or None when it never will (closed, no dates, no silent stage)."""
    if config.silent_stage is None:
        return None
    found = config.stages.find(customer.stage) if customer.stage else None
    if found is not None and found.closed:
        return None
    last = customer.last_contact or customer.created
    return _later(last.date(), config.silent_after_days) if last is not None else None


def _later(day: date, days: int) -> date | None:
    """``day`` plus ``days``, or None past the calendar's end (a date nobody will live to see)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def effective_stage(customer: Customer, config: VaultConfig, today: date) -> str:
    """The stored stage, or the computed silent stage after long silence."""
    silent = silent_from(customer, config)
    return config.silent_stage or "" if silent is not None and today >= silent else customer.stage


# ------------------------------------------------------------------ next steps


def open_next_steps(customer: Customer) -> list[NextStep]:
    """The follow-ups' next steps still open, earliest first (see the module's rule)."""
    entries = sorted(customer.followups, key=lambda f: f.at)
    found = []
    for index, entry in enumerate(entries):
        if entry.next_date is not None and not any(_closes(later, entry) for later in entries[index + 1:]):
            found.append(NextStep(entry.next_date, entry.next_what, entry.by, entry.next_at, entry.next_who,
                                  entry.at.date()))
    return sorted(found, key=lambda s: (s.day, not s.what))


def _closes(later: FollowUp, planned: FollowUp) -> bool:
    assert planned.next_date is not None
    if not later.is_contact and not later.done:  # a deal's stage move is no contact: the step stays open
        return False
    replanned = later.next_date is not None and later.by == planned.by
    done = any(text.strip() in ("", "*", planned.next_what) for text in later.done)
    return replanned or done or later.at.date() >= planned.next_date


def _planned(customer: Customer) -> list[NextStep]:
    steps = open_next_steps(customer)
    fm_next, last = customer.next_followup, customer.last_contact
    if fm_next is not None and (last is None or fm_next > last.date()) and all(s.day != fm_next for s in steps):
        steps.append(NextStep(fm_next))
        steps.sort(key=lambda s: (s.day, not s.what))
    return steps


# ------------------------------------------------------------------ the rules, in order of precedence on a tie


@due_rule("next-step")
def _next_step(customer: Customer, config: VaultConfig, day: date) -> Candidate | None:
    """Every planned next step still open counts, not only the latest entry's: two people may each have
    planned one before a sync (``李娜: next 2026-12-08 上门访谈``, ``张伟: next 2026-12-09 上门``); the
    earliest is the due day and the reason names them all.  A step stays open until a later entry by the
    same author plans again, any later entry is dated on or after the step's day, or a later entry says
    ``done:`` with its text (``crm done``; a bare ``done:`` closes every earlier step).  ``next_followup``
    in the front-matter counts too while it is after the last contact."""
    steps = _planned(customer)
    if not steps:
        return None
    first, others = steps[0], steps[1:]
    # what comes first: a narrow table cuts the end of the reason, and the date has its own column
    reason = (f"next step: {first.what} (planned for {first.day.isoformat()})" if first.what
              else f"next step planned for {first.day.isoformat()}")
    if others:
        reason += "; also " + "; ".join(s.describe() for s in others)
    return Candidate(first.day, reason, "next-step")


@due_rule("cadence")
def _cadence(customer: Customer, config: VaultConfig, day: date) -> Candidate | None:
    """When no step is open: the shorter of the stage's and the grade's interval in crmnotes.yaml
    (``cadence: stages: {intent: 3}``, ``grades: {A: 7}``), counted from the last contact, or from creation.
    A customer not contacted for ``silent_after_days`` is silent; silent and closed stages have no
    cadence.  ``cadence: working_days: cn`` counts in Chinese working days (holidays and 调休)."""
    if _planned(customer):
        return None  # an explicit step replaces the cadence
    stage = effective_stage(customer, config, day)
    if stage in config.stage_cadence and config.stage_cadence[stage] is None:
        return None
    found = config.stages.find(stage) if stage else None
    if found is not None and (found.closed or found.computed):
        return None
    rules = []
    if config.stage_cadence.get(stage):
        rules.append((config.stage_cadence[stage] or 0, f"stage {stage}"))
    if config.grade_cadence.get(customer.grade):
        rules.append((config.grade_cadence[customer.grade] or 0, f"grade {customer.grade}"))
    if not rules:
        return None
    days, rule = min(rules, key=lambda r: r[0])
    last = customer.last_contact
    if last is not None:
        base, since = last.date(), f"last contact {last.date().isoformat()}"
    elif customer.created is not None:
        base, since = customer.created.date(), f"never contacted, created {customer.created.date().isoformat()}"
    else:
        return Candidate(None, f"{rule}: every {days} days; never contacted", "cadence")
    due = after_interval(base, days, config)
    unit = "working days" if working_days_on(config) else "days"
    return Candidate(due, f"{rule}: every {days} {unit}; {since}", "cadence") if due else None


@due_rule("ticket")
def _ticket(customer: Customer, config: VaultConfig, day: date) -> Candidate | None:
    """An open service ticket is due from its ``due`` (else its ``opened``) day."""
    if not customer.meta.get("tickets"):
        return None
    from .tickets import open_ticket_due  # the validation rules it imports: only for customers with tickets

    found = open_ticket_due(customer)
    return Candidate(found[0], found[1], "ticket") if found else None


def _renewal_date(customer: Customer) -> date | None:
    when = parse_when(customer.meta.get("renewal_date"))
    return when.date() if when else None


def _renewal_changes(customer: Customer, config: VaultConfig) -> list[date]:
    renewal = _renewal_date(customer)
    after = _later(renewal, 1) if renewal else None
    return [after] if after else []


@due_rule("renewal", changes=_renewal_changes)
def _renewal(customer: Customer, config: VaultConfig, day: date) -> Candidate | None:
    """A front-matter ``renewal_date: 2027-03-01`` is due 30 days before it (``RENEWAL_NOTICE``), until
    the customer is contacted in that window or the date has passed."""
    renewal = _renewal_date(customer)
    if renewal is None or day > renewal:
        return None
    notice = renewal - RENEWAL_NOTICE if renewal > date.min + RENEWAL_NOTICE else renewal
    last = customer.last_contact
    if last is not None and last.date() >= notice:
        return None  # contacted since the notice day: the renewal is in hand
    return Candidate(notice, f"contract renews on {renewal.isoformat()}", "renewal")


def _birthday_changes(customer: Customer, config: VaultConfig) -> list[date]:
    """The day after each birthday (the next one then becomes the year after's), for the years around now."""
    this_year = date.today().year
    found = []
    for year in range(this_year - 1, this_year + BIRTHDAY_YEARS_AHEAD + 1):
        for day in birthdays_in(customer, year):
            after = _later(day, 1)
            if after:
                found.append(after)
    return found


@due_rule("birthday", changes=_birthday_changes)
def _birthday(customer: Customer, config: VaultConfig, day: date) -> Candidate | None:
    """``birthday`` (``1985-03-12`` or ``03-12``) and ``lunar_birthday`` (农历: ``08-15``, ``八月十五``,
    ``腊月廿三``) are due 3 days before each year's day (``BIRTHDAY_NOTICE``), until contacted then."""
    upcoming = sorted(b for year in (day.year, day.year + 1) for b in birthdays_in(customer, year) if b >= day)
    if not upcoming:
        return None
    birthday = upcoming[0]
    notice = birthday - BIRTHDAY_NOTICE
    last = customer.last_contact
    if last is not None and last.date() >= notice:
        return None  # greeted in the window
    lunar = customer.text("lunar_birthday")
    which = f"农历生日 {lunar}" if lunar and birthday in _lunar_birthdays(customer, birthday.year) else "birthday"
    return Candidate(notice, f"{which} on {birthday.isoformat()}", "birthday")


def birthdays_in(customer: Customer, year: int) -> list[date]:
    """The solar days in ``year`` of the customer's birthday and lunar birthday."""
    found = _lunar_birthdays(customer, year)
    solar = _month_day(customer.meta.get("birthday"))
    if solar is not None:
        month, day = solar
        try:
            found.append(date(year, month, day))
        except ValueError:  # 29 February in a common year: the 28th
            found.append(date(year, month, day - 1))
    return found


def _month_day(value: Any) -> tuple[int, int] | None:
    if value is None or value == "":  # no birthday, as for most customers: no pattern is tried (or compiled)
        return None
    when = parse_when(value)
    if when is not None:
        return when.month, when.day
    found = re.fullmatch(r"\s*(\d{1,2})\s*[-/月]\s*(\d{1,2})\s*[日号]?\s*", str(value or ""))
    if found and 1 <= int(found[1]) <= 12 and 1 <= int(found[2]) <= 31:
        return int(found[1]), int(found[2])
    return None


_LUNAR_MONTHS = {"正": 1, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
                 "冬": 11, "十一": 11, "腊": 12, "十二": 12}
_LUNAR_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def lunar_month_day(value: Any) -> tuple[int, int] | None:
    """``08-15``, ``8月15``, ``八月十五``, ``正月初一``, ``腊月廿三`` as (month, day); None when unreadable."""
    text = str(value or "").strip().removeprefix("农历").removeprefix("闰")
    if not text:
        return None
    numeric = _month_day(text) if re.match(r"\d", text) else None
    if numeric is not None:
        return numeric if numeric[1] <= 30 else None
    found = re.fullmatch(r"(正|冬|腊|十[一二]?|[一二三四五六七八九])月"
                         r"(初[一二三四五六七八九十]|十|十[一二三四五六七八九]|二十|廿[一二三四五六七八九]|三十)", text)
    if found is None:
        return None
    day_text = found[2]
    if day_text.startswith("初"):
        day = _LUNAR_DIGITS[day_text[1]]
    elif day_text in ("十", "二十", "三十"):
        day = {"十": 10, "二十": 20, "三十": 30}[day_text]
    else:
        day = (10 if day_text[0] == "十" else 20) + _LUNAR_DIGITS[day_text[1]]
    return _LUNAR_MONTHS[found[1]], day


def _lunar_birthdays(customer: Customer, year: int) -> list[date]:
    """The solar day(s) in ``year`` of the lunar birthday (a lunar year spans two solar ones)."""
    month_day = lunar_month_day(customer.meta.get("lunar_birthday"))
    if month_day is None:
        return []
    from lunardate import LunarDate  # only for customers with a lunar birthday

    month, day = month_day
    found = []
    for lunar_year in (year - 1, year):
        for lunar_day in (day, day - 1):  # 三十 in a short month: the 29th
            try:
                solar = LunarDate(lunar_year, month, lunar_day).to_solar_date()
            except (ValueError, IndexError):
                continue
            if solar.year == year:
                found.append(solar)
            break
    return found


@due_rule("deal-close")
def _deal_close(customer: Customer, config: VaultConfig, day: date) -> Candidate | None:
    """An open deal is due on its expected ``close`` day and stays due until it is closed or its
    date moves."""
    if not customer.deals:
        return None
    # deals loads the note writer: a listing read from the cache (ls/due --json) never runs a rule and
    # would pay that import for nothing, nor does a customer without deals
    from .deals import close_of
    from .deals import is_open as deal_is_open

    best: tuple[date, str] | None = None
    for deal in customer.deals:
        close = close_of(deal) if deal_is_open(deal) else None
        if close is not None and (best is None or close < best[0]):
            best = (close, f"deal {deal.get('id', '')} {deal.get('name', '')}".replace("  ", " ").strip())
    if best is None:
        return None
    return Candidate(best[0], f"{best[1]}: expected to close on {best[0].isoformat()}, still open", "deal-close")


def tag_cadence(config: VaultConfig) -> dict[str, int]:
    """``cadence: tags:`` of crmnotes.yaml as tag -> days (parsed and checked by the config)."""
    return {tag: days for tag, days in config.tag_cadence.items() if days}


@due_rule("tag-cadence")
def _tag_cadence(customer: Customer, config: VaultConfig, day: date) -> Candidate | None:
    """When no step is open: ``cadence: tags: {risk/高: 3/week}`` in crmnotes.yaml (days, ``N/week`` or
    ``N/month``) from the last contact; a tag namespace (``risk``) matches all its values."""
    rules = tag_cadence(config)
    if not rules or _planned(customer):
        return None
    found = config.stages.find(customer.stage) if customer.stage else None
    if found is not None and found.closed:
        return None
    matching = [(days, tag) for tag, days in rules.items() if has_tag(customer.tags, tag)]
    if not matching:
        return None
    days, tag = min(matching)
    last = customer.last_contact or customer.created
    if last is None:
        return Candidate(None, f"tag {tag}: every {days} days; never contacted", "tag-cadence")
    due = after_interval(last.date(), days, config)
    unit = "working days" if working_days_on(config) else "days"
    return Candidate(due, f"tag {tag}: every {days} {unit}; last contact {last.date().isoformat()}",
                     "tag-cadence") if due else None


# ------------------------------------------------------------------ working days


def working_days_on(config: VaultConfig) -> bool:
    """``cadence: working_days``: ``cn`` (or true) on, ``auto`` on for a CN vault, else off."""
    cadence = config.raw.get("cadence")
    setting = str(cadence.get("working_days", "") if isinstance(cadence, dict) else "").lower()
    return setting in ("cn", "true") or (setting == "auto" and config.phone_region == "CN")


def is_working_day(day: date) -> bool:
    """A Chinese working day: holidays off, 调休 make-up Saturdays and Sundays on; Monday to Friday for
    the years the ``chinesecalendar`` package does not know (or when it is not installed)."""
    try:
        import chinese_calendar
    except ImportError:
        return day.weekday() < 5
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def after_interval(start: date, days: int, config: VaultConfig) -> date | None:
    """``start`` plus ``days`` calendar days, or working days when the vault counts those."""
    if not working_days_on(config):
        return _later(start, days)
    day, left = start, days
    while left > 0:
        day = _later(day, 1)  # type: ignore[assignment]  # None is checked on the next line
        if day is None:
            return None
        if is_working_day(day):
            left -= 1
    return day


# ------------------------------------------------------------------ answers


def answer(customer: Customer, config: VaultConfig, day: date) -> Answer:
    """The effective stage on ``day`` and what is due then: the earliest date any rule gives."""
    best: Candidate | None = None
    for registered in RULES:
        found = registered.rule(customer, config, day)
        if found is not None and (best is None or (found.due or day) < (best.due or day)):
            best = found
    stage = effective_stage(customer, config, day)
    if best is None:
        return Answer(stage)
    return Answer(stage, best.due, best.reason, best.rule, floating=best.due is None)


def next_due(customer: Customer, config: VaultConfig, today: date) -> DueInfo | None:
    """When this customer should next be contacted, and by which rule."""
    found = answer(customer, config, today)
    due = found.due_on(today)
    return DueInfo(customer, due, found.reason, found.rule) if due is not None else None


def due_list(customers: list[Customer], config: VaultConfig, on: date) -> list[DueInfo]:
    """Customers due on or before ``on``, most overdue first."""
    items = [info for c in customers if (info := next_due(c, config, on)) is not None and info.due <= on]
    return sorted(items, key=lambda i: (i.due, i.customer.name))


# ------------------------------------------------------------------ the timeline: every future day at once


class Timeline:
    """What ``answer`` gives on every day, as steps: each holds from its first day until the next
    step's.  Kept in its stored form, ``[first day ISO, stage, due ISO or None, reason, rule,
    floating]`` per step, so a list of 10,000 customers decodes only the step of the day asked."""

    __slots__ = ("steps",)

    def __init__(self, steps: list[list[Any]]) -> None:
        self.steps = steps  # by first day; the first one's is date.min

    def step(self, iso_day: str) -> list[Any]:
        """The stored step that holds on ``iso_day`` (ISO dates compare as text)."""
        for step in reversed(self.steps):
            if step[0] <= iso_day:
                return step
        return self.steps[0]

    def at(self, day: date) -> Answer:
        return _answer_of(self.step(day.isoformat()))

    def due_by(self, day: date) -> Answer | None:
        """``at(day)`` when something is due on or before ``day``, else None (decoding nothing)."""
        step = self.due_step(day.isoformat())
        return None if step is None else _answer_of(step)

    def due_step(self, iso_day: str) -> list[Any] | None:
        """The stored step of ``due_by``: for a list that writes the stored texts as they are."""
        step = self.step(iso_day)
        return step if is_due(step, iso_day) else None

    def window(self, iso_day: str) -> tuple[list[Any], str | None]:
        """The step that holds on ``iso_day`` and the first day it no longer holds (None: never),
        so a store can keep the step of today and decode the timeline only once today has passed it."""
        for at in range(len(self.steps) - 1, -1, -1):
            if self.steps[at][0] <= iso_day or at == 0:
                return self.steps[at], self.steps[at + 1][0] if at + 1 < len(self.steps) else None
        raise ValueError("a timeline has at least one step")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeline) and other.steps == self.steps

    def __repr__(self) -> str:
        return f"Timeline({self.steps!r})"


def is_due(step: Sequence[Any], iso_day: str) -> bool:
    """Is something due on or before ``iso_day`` in a stored step that holds on that day?"""
    return bool(step[5]) or (step[2] is not None and step[2] <= iso_day)


def _answer_of(step: list[Any]) -> Answer:
    _, stage, due, reason, rule, floating = step
    return Answer(stage, date.fromisoformat(due) if due else None, reason, rule, bool(floating))


def _stored(start: date, found: Answer) -> list[Any]:
    return [start.isoformat(), found.stage, found.due.isoformat() if found.due else None, found.reason, found.rule,
            found.floating]


def timeline(customer: Customer, config: VaultConfig) -> Timeline:
    """``answer`` for every day, as the few days on which it changes.

    The days sampled are those on which some input may change: the first
    silent day, each rule's ``changes``, and each fixed due date and the day
    after (a due "on the day asked" competes with fixed dates only there)."""
    days = {date.min}
    silent = silent_from(customer, config)
    if silent is not None:
        days.add(silent)
    for registered in RULES:
        if registered.changes is not None:
            days.update(registered.changes(customer, config))
    if any(found.floating for found in (answer(customer, config, d) for d in days)):
        for day in list(days):
            for registered in RULES:
                fixed = registered.rule(customer, config, day)
                if fixed is not None and fixed.due is not None:
                    days.update(d for d in (fixed.due, _later(fixed.due, 1)) if d is not None)
    steps: list[list[Any]] = []
    last: Answer | None = None
    for day in sorted(days):
        found = answer(customer, config, day)
        if found != last:
            steps.append(_stored(day, found))
            last = found
    return Timeline(steps)
