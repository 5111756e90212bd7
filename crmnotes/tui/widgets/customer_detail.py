"""One customer shown in full: fields, the notes rendered as markdown, deals
and tickets, and the follow-up timeline (newest first unless crmnotes.yaml
says otherwise).  Phones stay masked until the app's reveal switch is on.
Every piece of vault text goes through ``safe_text`` / ``terminal_text``: a
control or escape sequence in a file is shown, never obeyed.

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

from ... import actions
from ...errors import CrmError
from ...model import Customer
from ...notes import notes_text
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
        return self.app  # type: ignore[return-value]  # the running App is always a CrmApp

    def compose(self) -> ComposeResult:
        yield Static(classes="d-fields")
        yield Static(classes="d-notes-title")
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
            for selector in (".d-notes-title", ".d-records", ".d-timeline"):
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
        """Show the notes as markdown right under the fields, titled, with the keys that edit them."""
        from textual.widgets import Markdown  # markdown-it and pygments: loaded with the first customer shown

        title = self.query_one(".d-notes-title", Static)
        title.update(Text.assemble((f"\n{actions.word(self.crm.vault, 'notes')}", "bold"),
                                   ("  n edit · E open in $EDITOR", "dim")) if self.customer is not None else "")
        shown = self.query(".d-notes")
        if shown:
            shown.first(Markdown).update(text)
        else:
            self.mount(Markdown(text, classes="d-notes"), after=title)

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
        vault = self.crm.vault
        for kind, items in (("deals", customer.deals), ("tickets", customer.tickets)):
            if items:
                parts.append(Text(f"\n{actions.word(vault, kind)}", style="bold"))
                parts.append(_record_table(*actions.record_table(vault, kind, items)))
        return Group(*parts)

    def _timeline(self, customer: Customer) -> RenderableType:
        vault = self.crm.vault
        items = actions.followups_in_order(vault, customer)
        order = actions.word(vault, "newest-first" if vault.config.newest_first else "oldest-first")
        parts: list[RenderableType] = [Text(f"\n{actions.word(vault, 'followups')} ({len(items)}, {order})",
                                            style="bold")]
        for followup in items:
            head = Text(actions.followup_when(followup), style="cyan")
            head += safe_text(f"  {self._label('channels', followup.channel)}  {followup.by}", multiline=False)
            if followup.stage_to:
                head += safe_text(f"  {self._label('stages', followup.stage_from) or '?'} → "
                                  f"{self._label('stages', followup.stage_to)}", "magenta", multiline=False)
            parts.append(head)
            parts += [safe_text("  " + line) for line in followup.note.splitlines()]
            if followup.next_text:
                parts.append(safe_text(f"  {actions.word(vault, 'next')}: {followup.next_text}", "green"))
            if followup.feedback:
                parts.append(safe_text(f"  {actions.word(vault, 'feedback')}: {followup.feedback}", "yellow"))
        return Group(*parts)


def _record_table(headers: list[str], rows: list[list[str]]) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="dim")
    for header in headers:
        table.add_column(safe_text(header, multiline=False))
    for row in rows:
        table.add_row(*(safe_text(cell) for cell in row))
    return table
