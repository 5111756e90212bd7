"""One customer shown in full: fields, deals and tickets, the follow-up
timeline (newest first) and the notes rendered as markdown.  Phones stay
masked until the app's reveal switch is on.  Every piece of vault text goes
through ``safe_text`` / ``terminal_text``: a control or escape sequence in a
file is shown, never obeyed.

A widget, so the detail screen (narrow terminals) and the side pane beside
the customer table (wide ones) show the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ... import actions, note
from ...errors import CrmError
from ...model import Customer, format_minute
from ...safetext import terminal_text
from .text import safe_text

if TYPE_CHECKING:
    from ..app import CrmApp


class CustomerDetail(VerticalScroll):
    """The customer in file ``path`` (None: nothing selected yet)."""

    def __init__(self, path: Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.customer: Customer | None = None

    @property
    def crm(self) -> CrmApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(classes="d-fields")
        yield Static(classes="d-records")
        yield Static(classes="d-timeline")
        # the notes' Markdown widget comes with the first customer (``_notes``): its import is not on the first frame

    def show(self, path: Path | None) -> None:
        """Show another customer (or nothing); the same one is only re-read."""
        if path != self.path:
            self.path = path
            self.scroll_home(animate=False)
        self.refresh_view()

    def refresh_view(self) -> Customer | None:
        """Re-read the file; a file gone or broken is a notification, not a crash."""
        if self.path is None:
            self.customer = None
            self.query_one(".d-fields", Static).update(Text("No customer selected.", style="dim"))
            for selector in (".d-records", ".d-timeline"):
                self.query_one(selector, Static).update("")
            if self.query(".d-notes"):  # (none yet before the first customer)
                self._notes("")
            return None
        try:
            customer = self.crm.vault.read(self.path)
            doc = self.crm.vault.read_document(self.path)
        except CrmError as exc:
            self.notify(str(exc), title="Cannot show this customer", severity="error")
            return None
        self.customer = customer
        self.query_one(".d-fields", Static).update(self._fields(customer))
        self.query_one(".d-records", Static).update(self._records(customer))
        self.query_one(".d-timeline", Static).update(self._timeline(customer))
        self._notes(terminal_text(notes_text(doc)))
        return customer

    def _notes(self, text: str) -> None:
        """Show ``text`` as markdown below the timeline."""
        from textual.widgets import Markdown  # markdown-it and pygments: loaded with the first customer shown

        shown = self.query(".d-notes")
        if shown:
            shown.first(Markdown).update(text)
        else:
            self.mount(Markdown(text, classes="d-notes"))

    # ------------------------------------------------------------ rendering

    def _label(self, list_name: str, value: str) -> str:
        return actions.choice_label(self.crm.vault, list_name, value)

    def _fields(self, customer: Customer) -> RenderableType:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        for key, value in actions.display_fields(self.crm.vault, customer, self.crm.today, reveal=self.crm.reveal):
            grid.add_row(safe_text(key), safe_text(value))
        title = safe_text(customer.name, "bold", multiline=False) + safe_text(f"  {customer.id}", "dim")
        return Group(title, grid, safe_text(self.crm.vault.relative(customer.path), "dim", multiline=False))

    def _records(self, customer: Customer) -> RenderableType:
        parts: list[RenderableType] = []
        for title, items in (("Deals", customer.deals), ("Tickets", customer.tickets)):
            if items:
                parts.append(Text(f"\n{title}", style="bold"))
                parts.append(_record_table(items))
        return Group(*parts)

    def _timeline(self, customer: Customer) -> RenderableType:
        items = sorted(customer.followups, key=lambda f: f.at, reverse=True)
        parts: list[RenderableType] = [Text(f"\nFollow-ups ({len(items)}, newest first)", style="bold")]
        for followup in items:
            when = format_minute(followup.at).replace("T", " ") if followup.has_time else followup.at.date().isoformat()
            head = Text(when, style="cyan") + safe_text(f"  {self._label('channels', followup.channel)}  {followup.by}",
                                                        multiline=False)
            if followup.stage_to:
                head += safe_text(f"  {followup.stage_from or '?'} → {followup.stage_to}", "magenta", multiline=False)
            parts.append(head)
            parts += [safe_text("  " + line) for line in followup.note.splitlines()]
            if followup.next_text:
                parts.append(safe_text(f"  next: {followup.next_text}", "green"))
            if followup.feedback:
                parts.append(safe_text(f"  feedback: {followup.feedback}", "yellow"))
        return Group(*parts)


def _record_table(items: list[dict[str, Any]]) -> Table:
    keys: list[str] = []
    for item in items:
        keys += [str(k) for k in item if str(k) not in keys]
    table = Table(box=None, padding=(0, 1), header_style="dim")
    for key in keys:
        table.add_column(safe_text(key, multiline=False))
    for item in items:
        table.add_row(*(safe_text(item.get(k, "") if item.get(k) is not None else "") for k in keys))
    return table


def notes_text(doc: note.Document) -> str:
    """The body without its follow-up entries (those are in the timeline),
    and without a trailing section heading left empty by their removal."""
    pieces, cursor = [], doc.body_start
    for entry in sorted(doc.entries, key=lambda e: e.start):
        pieces.append(doc.text[cursor:entry.start])
        cursor = max(cursor, entry.end)
    pieces.append(doc.text[cursor:])
    lines = "".join(pieces).rstrip().splitlines()
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()
    return "\n".join(lines) + "\n"
