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

Each rule is a function registered with ``due_rule``; the earliest date any
rule gives wins (on a tie, the rule registered first).  A rule whose answer
depends on the day asked says on which days it may change (``changes``), so
``timeline`` can tell once, for every future day, what is due: the listing
cache stores that timeline and answers any "today" without reading the file.
Adding a rule is a change to this module only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from .config import VaultConfig
from .model import Customer, FollowUp, parse_when
from .tickets import open_ticket_due

RENEWAL_NOTICE = timedelta(days=30)


@dataclass(frozen=True)
class DueInfo:
    customer: Customer
    due: date
    reason: str
    rule: str  # the registered rule's name: "next-step" | "cadence" | "ticket" | "renewal"

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
    steps = _planned(customer)
    if not steps:
        return None
    first, others = steps[0], steps[1:]
    reason = f"next step planned for {first.describe()}"
    if others:
        reason += "; also " + "; ".join(s.describe() for s in others)
    return Candidate(first.day, reason, "next-step")


@due_rule("cadence")
def _cadence(customer: Customer, config: VaultConfig, day: date) -> Candidate | None:
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
    due = _later(base, days)
    return Candidate(due, f"{rule}: every {days} days; {since}", "cadence") if due else None


@due_rule("ticket")
def _ticket(customer: Customer, config: VaultConfig, day: date) -> Candidate | None:
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
    renewal = _renewal_date(customer)
    if renewal is None or day > renewal:
        return None
    notice = renewal - RENEWAL_NOTICE if renewal > date.min + RENEWAL_NOTICE else renewal
    last = customer.last_contact
    if last is not None and last.date() >= notice:
        return None  # contacted since the notice day: the renewal is in hand
    return Candidate(notice, f"contract renews on {renewal.isoformat()}", "renewal")


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
        _, stage, due, reason, rule, floating = self.step(day.isoformat())
        return Answer(stage, date.fromisoformat(due) if due else None, reason, rule, bool(floating))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeline) and other.steps == self.steps

    def __repr__(self) -> str:
        return f"Timeline({self.steps!r})"


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
