"""One customer on its own screen (narrow terminals; on wide ones the main
screen shows the same ``CustomerDetail`` beside the table).  Phones stay
masked until the reveal key; the view re-reads the file when it changes on
disk; ``n`` edits the notes, ``E`` opens the file in ``$EDITOR``; ``h`` opens
the customer's history from git."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header

from ..roles import Refreshes, ShowsCustomer
from ..widgets.customer_detail import CustomerDetail
from ..widgets.keys_footer import KeysFooter


class DetailScreen(Screen[None], Refreshes, ShowsCustomer):
    """The customer in file ``path``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("l", "app.log_followup", "Log"),
        Binding("e", "app.edit_fields", "Edit"),
        Binding("n", "app.edit_notes", "Notes"),
        Binding("h", "app.history", "History"),
        # in the help screen and the palette; left out of the footer so that Help and Quit fit at 80 columns
        Binding("D", "app.deal", "Deal", show=False),
        Binding("t", "app.ticket", "Ticket", show=False),
        Binding("E", "app.open_in_editor", "Open in $EDITOR", show=False),
        Binding("p", "app.toggle_reveal", "Reveal phone", show=False),
    ]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Header()
        yield CustomerDetail(self.path, id="detail")
        yield KeysFooter()

    @property
    def detail(self) -> CustomerDetail:
        return self.query_one(CustomerDetail)

    def on_mount(self) -> None:
        self.detail.focus()
        self.refresh_view()

    def current_path(self) -> Path | None:
        return self.path

    def vault_changed(self) -> None:
        self.refresh_view()

    def refresh_view(self) -> None:
        self.detail.refresh_view()
        self._titled()

    def _titled(self) -> None:
        if self.detail.customer is not None:
            self.sub_title = self.detail.customer.name

    @property
    def customer(self):
        return self.detail.customer
