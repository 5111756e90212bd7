"""What the reports read of one customer, worked out once from its file.

None of these facts depends on the day a report is asked for: the period
(``since`` / ``until``) and the day are applied when a report aggregates
them (``reports``).  What depends on the day — the effective stage and what is
due — is the due rules' ``Timeline``, which answers for any day.  The
listing cache keeps the facts of every customer (``catalog.report_facts``)
so a report of a big vault decodes a few short lists per customer instead
of its front-matter and every follow-up; a customer read from its file (or
from git history) gives the same facts through ``facts_of``.  Each list
(``PARTS``) is a column of its own, decoded only for the reports that read
it (``reports.READS``); the follow-ups (day, channel, author) are one text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from .config import VaultConfig
from .due import Answer, Timeline, answer
from .model import Customer

# The follow-ups as one text: a record per follow-up, "ISO day, channel, author" (separated by the ASCII
# unit and record separators, which no heading holds): one string per customer to decode, split only
# while a report counts them, so a million follow-ups are never all held at once.
UNIT, RECORD = "\x1f", "\x1e"


class OnDay(Protocol):
    """What holds for a customer on a day: a ``Timeline`` or ``Answers``."""

    def at(self, day: date) -> Answer: ...


@dataclass(slots=True)
class Facts:
    """One customer for the reports.  ``followups`` is None when they were not read."""

    id: str
    name: str
    owner: str
    stage: str
    source: str
    campaign: str
    tags: list[str]
    created: date | None
    last_contact: date | None
    moves: list[tuple[date, str, str]]  # (day, from, to) of every recorded stage move, oldest first
    reached: list[str]  # every stage a follow-up moved from or to
    filled: int  # bit i: the i-th field of the config (``VaultConfig.fields``) has a value
    deals: list[dict[str, Any]]
    tickets: list[dict[str, Any]]
    timeline: OnDay  # the effective stage and what is due, on any day
    followups: str | None = None  # see ``contacts``

    def contacts(self, first: str = "", last: str = "\uffff") -> Iterator[list[str]]:
        """[ISO day, channel, author] of every follow-up from ``first`` to ``last`` (ISO days).  The records
        are oldest first (``facts_of``): a customer with none in the period is passed over without a split."""
        text = self.followups
        if text is None:
            raise ValueError("these report facts were read without their follow-ups")
        if not text or text[:10] > last or text[text.rfind(RECORD) + 1:][:10] < first:
            return iter(())
        return (found for found in (record.split(UNIT) for record in text.split(RECORD))
                if first <= found[0] <= last)

    def text(self, key: str) -> str:
        """The facts kept as texts by their front-matter name (what a report groups by)."""
        return {"owner": self.owner, "source": self.source, "campaign": self.campaign}[key]


class Unread:
    """The timeline of facts read without it (a report that does not ask what holds on a day)."""

    def at(self, day: date) -> Answer:
        raise ValueError("these report facts were read without their timeline")


UNREAD = Unread()


class OneDay:
    """What holds on the one day a report asks (its ``until``), from the step the listing cache keeps for
    the day a row was written while that step still holds: no timeline decoded."""

    __slots__ = ("iso", "step")

    def __init__(self, iso: str, step: list[Any]) -> None:
        self.iso, self.step = iso, step

    def at(self, day: date) -> Answer:
        if day.isoformat() != self.iso:
            raise ValueError(f"these report facts were read for {self.iso}, not {day}")
        return Timeline([self.step]).at(day)


class Answers:
    """``Timeline.at`` of a customer read whole, asked of the due rules day by day (working out
    the whole timeline would cost more than the one day a report asks)."""

    __slots__ = ("config", "customer")

    def __init__(self, customer: Customer, config: VaultConfig) -> None:
        self.customer, self.config = customer, config

    def at(self, day: date) -> Answer:
        return answer(self.customer, self.config, day)


def filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def facts_of(customer: Customer, config: VaultConfig, steps: Timeline | None = None) -> Facts:
    """The facts of a customer read whole (``steps``: its timeline, when already worked out)."""
    created, last = customer.created, customer.last_contact
    return Facts(
        customer.id, customer.name, customer.owner, customer.stage, customer.text("source"),
        customer.text("campaign"), customer.tags, created.date() if created else None,
        last.date() if last else None,
        sorted((f.at.date(), f.stage_from, f.stage_to) for f in customer.followups if f.stage_to),
        sorted({s for f in customer.followups for s in (f.stage_from, f.stage_to) if s}),
        sum(1 << at for at, name in enumerate(config.fields) if filled(customer.meta.get(name))),
        customer.deals, customer.tickets,
        steps if steps is not None else Answers(customer, config),
        RECORD.join(UNIT.join((f.at.date().isoformat(), f.channel, f.by))
                    for f in sorted(customer.followups, key=lambda f: f.at)))  # as a file reads them: oldest first


# The facts a report may leave unread, decoded only for the reports that read them (``reports.READS``):
# a report of a big vault decodes a few short texts per customer, not every fact of it.
PARTS = ("tags", "moves", "reached", "deals", "tickets", "timeline", "contacts")


class _NotRead(list[Any]):
    """A list fact left unread: reading it is a mistake in ``reports.READS``, said at once."""

    def _refuse(self, *_: Any) -> Any:
        raise ValueError("this report fact was not read (see reports.READS)")

    __iter__ = __len__ = __bool__ = __getitem__ = __contains__ = _refuse


NOT_READ: Any = _NotRead()


def stored(facts: Facts) -> dict[str, Any]:
    """The facts the listing cache does not hold already in its customer columns (id, name, owner,
    stage, source, tags, created, last contact), by column; the lists are left to the caller's encoding,
    the follow-ups are one text as they are."""
    return {"f_campaign": facts.campaign, "f_filled": facts.filled, "f_reached": facts.reached,
            "f_moves": [[d.isoformat(), a, b] for d, a, b in facts.moves], "f_deals": facts.deals,
            "f_tickets": facts.tickets, "contacts": facts.followups}


def from_stored(head: tuple[Any, ...], tags: Any, moves: Any, reached: Any, deals: Any, tickets: Any,
                steps: OnDay, followups: str | None) -> Facts:
    """The facts of stored columns: ``head`` (id, name, owner, stage, source, created, last contact as
    ISO texts, campaign, filled) and the decoded parts (``NOT_READ``, ``UNREAD``, None: not read).
    Raises TypeError or ValueError when they are not of the stored shape."""
    id_, name, owner, stage, source, created, last, campaign, filled_ = head
    if moves is not NOT_READ:
        moves = [(date.fromisoformat(d), a, b) for d, a, b in moves]
    # NOT_READ is a list too: one isinstance per part (a report of a big vault makes this call per customer)
    if not (isinstance(name, str) and isinstance(owner, str) and isinstance(filled_, int) and isinstance(tags, list)
            and isinstance(reached, list) and isinstance(deals, list) and isinstance(tickets, list)
            and (followups is None or isinstance(followups, str))):
        raise TypeError("facts of another shape")
    return Facts(id_, name, owner, stage, source, campaign, tags,
                 date.fromisoformat(created[:10]) if created else None,  # a day, or the ISO time of the
                 date.fromisoformat(last[:10]) if last else None,  # customer columns
                 moves, reached, filled_, deals, tickets, steps, followups)
