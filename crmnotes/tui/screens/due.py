"""Today's due list: who to contact, how overdue, and the rule that says so.

The "why" column takes the width the others leave and wraps (a row grows
as tall as its reason needs) rather than cutting the reason off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from ...catalog import DueItem
from ..roles import Refreshes, ShowsCustomer
from ..widgets.keys_footer import KeysFooter
from ..widgets.text import safe_text

if TYPE_CHECKING:
    from pathlib import Path

    from ..app import CrmApp


# (column key, header, width; None for "why", which takes the rest)
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("due", "due", 10), ("status", "status", 12), ("name", "name", 20), ("owner", "owner", 6), ("why", "why", None),
)
WHY_MIN = 20


class DueScreen(Screen[None], Refreshes, ShowsCustomer):
    """Customers due on or before the app's today, most overdue first."""

    load_group = "due"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("m", "toggle_mine", "Mine"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.items: list[DueItem] = []
        self.why_width = 0

    @property
    def crm(self) -> CrmApp:
        return self.app  # type: ignore[return-value]  # the running App is always a CrmApp

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="due-status", classes="status")
        yield DataTable(id="due-table", cursor_type="row", zebra_stripes=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "due today"
        self.query_one(DataTable).focus()
        self.load()

    def on_resize(self) -> None:
        if self._columns():
            self.show(self.items)

    def _columns(self) -> bool:
        """(Re)make the columns for the screen's width; True when they changed."""
        table = self.query_one(DataTable)
        fixed = sum(width or 0 for _, _, width in COLUMNS)
        # Each cell has one space of padding either side; two more cells for the scrollbar.
        why = max(WHY_MIN, self.size.width - fixed - 2 * len(COLUMNS) - 2)
        if why == self.why_width and table.columns:
            return False
        self.why_width = why
        table.clear(columns=True)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width or why)
        return True

    def fetch(self) -> list[DueItem]:
        return self.crm.due_items(self.crm.today, self.crm.user if self.mine else "")

    def show(self, items: list[DueItem]) -> None:
        today = self.crm.today
        table = self.query_one(DataTable)
        keep = self.items[table.cursor_row].entry.path if self.items and table.row_count else None
        self.items = items
        self._columns()
        table.clear()
        for item in items:
            status = item.status(today)
            days = item.days_overdue(today)
            shown = f"overdue {days}d" if status == "overdue" else status
            style = "bold red" if status == "overdue" else "bold yellow"
            name = safe_text(item.entry.name, multiline=False, no_wrap=True, overflow="ellipsis")
            name.truncate(20, overflow="ellipsis")
            why = f"[{self.crm.vault.config.stages.display(item.stage)}] {item.reason}"
            owner = safe_text(item.entry.owner, multiline=False, no_wrap=True, overflow="ellipsis")
            owner.truncate(6, overflow="ellipsis")  # only "why" wraps: a row never splits a name ("mallor" over "y")
            table.add_row(Text(item.due.isoformat(), style=style), Text(shown, style=style, no_wrap=True), name,
                          owner, safe_text(why),
                          key=str(self.crm.vault.root / item.entry.path), height=None)
        paths = [i.entry.path for i in items]
        if keep in paths:
            table.move_cursor(row=paths.index(keep), animate=False)
        from .help import due_count_text

        mine = f" (mine: {self.crm.user})" if self.mine else ""
        counted = due_count_text(len(items), today.isoformat(), self.mine)
        self.query_one("#due-status", Static).update(f"{counted}{mine} · enter opens · m mine")

    def current_path(self) -> Path | None:
        table = self.query_one(DataTable)
        if not self.items or not table.row_count:
            return None
        return self.crm.vault.root / self.items[table.cursor_row].entry.path

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from .detail import DetailScreen

        path = self.current_path()
        if path is not None:
            self.app.push_screen(DetailScreen(path))
