"""Modal forms for a customer's deals and service tickets.

Each form picks a record (a new one, or one of the customer's) and writes
through ``crmnotes.deals`` / ``crmnotes.tickets`` exactly as ``crm deal`` /
``crm ticket`` would: a new record passes what was typed; an update passes
only the fields whose text changed (like an option left out on the command
line), so a stage move still resets the probability to the stage's default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.widget import Widget
from textual.widgets import Button, Input, Select
from textual.widgets.select import InvalidSelectValueError

from ... import deals, tickets
from ...model import Customer
from ...safetext import terminal_text
from ...vault import Vault
from ..widgets.text import safe_text
from .forms import FormScreen, choice_select

NEW = "+new"
DEAL_FIELDS = ("name", "stage", "amount", "currency", "probability", "close", "owner", "proposal", "contract_number",
               "contract_file")
TICKET_FIELDS = ("subject", "type", "priority", "status", "owner", "due", "resolution", "satisfaction")
TICKET_UPDATE_ONLY = ("status", "resolution", "satisfaction")  # `crm ticket open` takes none of these


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class RecordForm(FormScreen):
    """Shared by both forms: a record picker and the fields filled from the picked record."""

    kind = ""
    names: tuple[str, ...] = ()

    def __init__(self, customer: Customer, ref: str | None = None) -> None:
        super().__init__()
        self.customer = customer
        self.ref = ref or NEW
        self.original: dict[str, str] = {}

    def records(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def label(self, record: dict[str, Any], index: int) -> str:
        raise NotImplementedError

    def picker(self) -> Select[str]:
        options = [(safe_text(f"(new {self.kind})"), NEW)]
        options += [(safe_text(self.label(r, i), multiline=False), str(r.get("id") or i + 1))
                    for i, r in enumerate(self.records())]
        value = self.ref if self.ref in {v for _, v in options} else NEW
        return Select(options, value=value, allow_blank=False, compact=True)

    def picked(self) -> dict[str, Any] | None:
        records = self.records()
        for index, record in enumerate(records):
            if str(record.get("id") or index + 1) == self.ref:
                return record
        return None

    def on_mount(self) -> None:
        self.fill()
        self.first_field = self.names[0]
        super().on_mount()

    @on(Select.Changed, "#f-record")
    def _record_changed(self, event: Select.Changed) -> None:
        self.ref = str(event.value)
        self.fill()

    def fill(self) -> None:
        """Show the picked record's values (blank for a new one) and remember them."""
        record = self.picked() or {}
        for name in self.names:
            widget = self.query_one(f"#f-{name}")
            text = terminal_text(_text(record.get(name)), multiline=False)  # inert; written only if changed
            if isinstance(widget, Select):
                try:
                    widget.value = text or Select.NULL
                except InvalidSelectValueError:  # a value typed by hand that is not in the list
                    widget.value = Select.NULL
                text = "" if widget.is_blank() else str(widget.value)
            elif isinstance(widget, Input):
                widget.value = text
            self.original[name] = text
        self.show_issues([])
        self.after_fill()

    def after_fill(self) -> None:
        """Adjust the form to the picked record (new or existing)."""

    def changed(self, name: str) -> str:
        """The field's text when it differs from the record's, else "" (not given)."""
        value = self.value(name)
        return value if value != self.original.get(name, "") else ""

    def vault(self) -> Vault:
        return self.crm.vault_of(self.customer.path)  # in a workspace: the mount holding the customer

    def fresh(self) -> Customer:
        return self.vault().read(self.customer.path)  # the newest version, not the one on screen


class DealForm(RecordForm):
    """Add a deal (``crm deal add``) or change one (``crm deal set``)."""

    kind = "deal"
    names = DEAL_FIELDS

    def __init__(self, customer: Customer, ref: str | None = None) -> None:
        super().__init__(customer, ref)
        self.heading = f"Deal · {customer.name}"
        self._auto_probability = ""  # the probability this form filled in itself (not typed by hand)

    def records(self) -> list[dict[str, Any]]:
        return self.customer.deals

    def label(self, record: dict[str, Any], index: int) -> str:
        return deals.deal_label(record, index)

    def fields(self) -> list[tuple[str, str, Widget]]:
        config = self.crm.vault.config
        return [
            ("record", "deal", self.picker()),
            ("name", "name *", Input(compact=True)),
            ("stage", "stage", choice_select(deals.stages(config), prompt="(first stage)")),
            ("amount", "amount", Input(placeholder="180000, 18万, 36k", compact=True)),
            ("currency", "currency", Input(placeholder=config.currency, compact=True)),
            ("probability", "probability", Input(placeholder="0-100", compact=True)),
            ("close", "close date", Input(placeholder="YYYY-MM-DD", compact=True)),
            ("owner", "owner", Input(placeholder=self.customer.owner or self.crm.user, compact=True)),
            ("proposal", "proposal", Input(placeholder="https://… or attachments/…", compact=True)),
            ("contract_number", "contract no.", Input(placeholder="when won", compact=True)),
            ("contract_file", "contract file", Input(placeholder="https://… or attachments/…", compact=True)),
            ("note", "why it moved", Input(placeholder="logged with a stage move", compact=True)),
        ]

    @on(Select.Changed, "#f-stage")
    def after_fill(self) -> None:
        """Show the probability that saving will write: a stage move resets it to the new stage's
        default (as ``crm deal set --stage`` does), unless a probability was typed by hand."""
        config = self.crm.vault.config
        stage = self.value("stage") or deals.stages(config).ids[0]
        default = deals.default_probability(config, stage)
        field = self.query_one("#f-probability", Input)
        field.placeholder = f"{default} (the stage's default)" if default is not None else "0-100"
        original = self.original.get("probability", "")
        if field.value not in (original, self._auto_probability):
            return  # typed by hand: saved as typed
        moved = self.ref == NEW or stage != (self.original.get("stage") or "")
        self._auto_probability = ("" if default is None else str(default)) if moved else original
        field.value = self._auto_probability

    def save(self) -> Path | None:
        by = self.crm.user
        if self.ref == NEW:
            draft = deals.DealInput(**{name: self.value(name) for name in DEAL_FIELDS})
            return deals.add_deal(self.vault(), self.fresh(), draft, by=by).path
        draft = deals.DealInput(**{name: self.changed(name) for name in DEAL_FIELDS}, note=self.value("note"))
        return deals.set_deal(self.vault(), self.fresh(), self.ref, draft, by=by, now=self.crm.now()).path


class TicketForm(RecordForm):
    """Open a ticket (``crm ticket open``), change one (``update``) or close it (``close``)."""

    kind = "ticket"
    names = TICKET_FIELDS

    def __init__(self, customer: Customer, ref: str | None = None) -> None:
        super().__init__(customer, ref)
        self.heading = f"Ticket · {customer.name}"

    def records(self) -> list[dict[str, Any]]:
        return self.customer.tickets

    def label(self, record: dict[str, Any], index: int) -> str:
        return f"{record.get('id') or index + 1} {record.get('subject', '')} ({record.get('status', 'open')})"

    def fields(self) -> list[tuple[str, str, Widget]]:
        config = self.crm.vault.config
        return [
            ("record", "ticket", self.picker()),
            ("subject", "subject *", Input(compact=True)),
            ("type", "type", choice_select(config.choice_set(tickets.TYPES), prompt="(question)")),
            ("priority", "priority", choice_select(config.choice_set(tickets.PRIORITIES), prompt="(normal)")),
            ("status", "status", choice_select(config.choice_set(tickets.STATUSES), prompt="(open)")),
            ("owner", "owner", Input(placeholder=self.customer.owner or self.crm.user, compact=True)),
            ("due", "answer by", Input(placeholder="YYYY-MM-DD", compact=True)),
            ("resolution", "resolution", Input(placeholder="how it was solved", compact=True)),
            ("satisfaction", "satisfaction", Input(placeholder="1-5", compact=True)),
        ]

    def extra_buttons(self) -> list[Button]:
        return [Button("Close ticket", id="close-ticket", variant="warning", compact=True)]

    def after_fill(self) -> None:
        new = self.ref == NEW
        for name in TICKET_UPDATE_ONLY:
            self.query_one(f"#f-{name}").disabled = new
        self.query_one("#close-ticket").display = not new

    def save(self) -> Path | None:
        today = self.crm.today
        if self.ref == NEW:
            draft = tickets.TicketInput(**{n: self.value(n) for n in TICKET_FIELDS if n not in TICKET_UPDATE_ONLY})
            updated, _ = tickets.open_ticket(self.vault(), self.fresh(), draft, by=self.crm.user, today=today)
            return updated.path
        draft = tickets.TicketInput(**{name: self.changed(name) for name in TICKET_FIELDS})
        return tickets.update_ticket(self.vault(), self.fresh(), self.ref, draft, today=today).path

    def close_ticket(self) -> Path | None:
        status = self.value("status")
        done = status if status in tickets.DONE_STATUSES else ""  # "" closes it as `crm ticket close` does
        draft = tickets.TicketInput(status=done, resolution=self.value("resolution"),
                                    satisfaction=self.value("satisfaction"))
        return tickets.close_ticket(self.vault(), self.fresh(), self.ref, draft, today=self.crm.today).path

    def button_action(self, button_id: str) -> None:
        if button_id == "close-ticket" and self.ref != NEW:
            self.attempt(self.close_ticket)
