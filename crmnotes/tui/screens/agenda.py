"""The agenda and the tasks view: what falls due, by time, with keys to log, snooze, reassign or close it.

The agenda interleaves tasks and due customers in three parts (overdue,
today, the coming days); the tasks view lists open next steps only.  Every
key writes through ``crmnotes.tasks`` (one appended entry) or the log form.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Header, Input, Static

from ... import tasks as task_lib
from ...agenda import AgendaItem, agenda
from ...errors import CrmError
from ...when import ACCEPTED_FORMS, parse_when_text
from ..roles import Refreshes, ShowsCustomer
from ..widgets.keys_footer import KeysFooter

if TYPE_CHECKING:
    from ..app import CrmApp

SECTION_TITLES = {"overdue": "overdue", "today": "today", "upcoming": "coming"}


def column_widths(screen_width: int) -> list[tuple[str, int]]:
    """The agenda's columns; "what" takes what the others leave.  Below 100 cells the customer,
    who and kind columns narrow so that what to do stays on screen rather than behind a scroll."""
    if screen_width < 100:
        fixed = [("part", 7), ("when", 16), ("customer", 12), ("who", 6), ("kind", 7)]
    else:
        fixed = [("part", 8), ("when", 16), ("customer", 22), ("who", 8), ("kind", 9)]
    # one space of padding either side of each cell, two for the scrollbar
    what = max(16, screen_width - sum(w for _, w in fixed) - 2 * (len(fixed) + 1) - 2)
    return [*fixed, ("what", what)]


class AskScreen(ModalScreen[str | None]):
    """One line of input (a new day, a new assignee); escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    #ask { width: 70; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, question: str, hint: str = "") -> None:
        super().__init__()
        self.question, self.hint = question, hint

    def compose(self) -> ComposeResult:
        with Vertical(id="ask"):
            yield Static(Text(self.question, style="bold"))
            yield Input(id="ask-input")
            if self.hint:
                yield Static(Text(self.hint, style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AgendaScreen(Screen[None], Refreshes, ShowsCustomer):
    """Overdue, today and the coming days (or, ``tasks_only``, every open task)."""

    load_group = "agenda"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("z", "snooze", "Snooze"),
        Binding("A", "reassign", "Reassign"),
        Binding("d", "done", "Done"),
        Binding("m", "toggle_mine", "Mine"),
    ]

    def __init__(self, days: int = 7, tasks_only: bool = False) -> None:
        super().__init__()
        self.days, self.tasks_only = days, tasks_only
        self.items: list[AgendaItem] = []

    @property
    def crm(self) -> CrmApp:
        return self.app  # type: ignore[return-value]  # the running App is always a CrmApp

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="agenda-status", classes="status")
        yield DataTable(id="agenda-table", cursor_type="row", zebra_stripes=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "tasks" if self.tasks_only else f"agenda · {self.days} days"
        table = self.query_one(DataTable)
        for key, width in column_widths(self.app.size.width):
            table.add_column(key, key=key, width=width)
        table.focus()
        self.load()

    def fetch(self) -> list[AgendaItem]:
        crm = self.crm
        customers = crm.report_customers()  # (in a workspace: of every mount)
        who = crm.user if self.mine else ""
        if self.tasks_only:
            return [AgendaItem(t.customer, t.day, t.at, t.assignee, t.what, "task", t)
                    for t in task_lib.open_tasks(customers, assignee=who)]
        return agenda(customers, crm.vault.config, crm.today, self.days, who)

    def show(self, items: list[AgendaItem]) -> None:
        from .help import agenda_empty_text

        today = self.crm.today
        table = self.query_one(DataTable)
        keep = self.current_path()
        self.items = items
        table.clear()
        for item in items:
            section = item.section(today)
            style = "bold red" if section == "overdue" else "bold yellow" if section == "today" else ""
            table.add_row(Text(SECTION_TITLES[section], style=style), Text(item.when_text(), style=style),
                          Text(item.customer.name, overflow="ellipsis", no_wrap=True), Text(item.who),
                          Text(item.rule), Text(item.what))
        paths = [i.customer.path for i in items]
        if keep in paths:
            table.move_cursor(row=paths.index(keep), animate=False)
        mine = f" (mine: {self.crm.user})" if self.mine else ""
        what = "open task(s)" if self.tasks_only else f"item(s) up to {self.days} days from {today.isoformat()}"
        self.query_one("#agenda-status", Static).update(
            f"{len(items)} {what}{mine} · l log · z snooze · A reassign · d done · m mine" if items
            else agenda_empty_text(self.days, self.tasks_only) + mine)

    def current_item(self) -> AgendaItem | None:
        table = self.query_one(DataTable)
        if not self.items or not table.row_count:
            return None
        return self.items[min(table.cursor_row, len(self.items) - 1)]

    def current_path(self) -> Path | None:
        item = self.current_item()
        return item.customer.path if item is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from .detail import DetailScreen

        path = self.current_path()
        if path is not None:
            self.app.push_screen(DetailScreen(path))

    def _selected_task(self) -> AgendaItem | None:
        item = self.current_item()
        if item is None or item.task is None:
            self.notify("Select a task (a planned next step) first.", severity="warning")
            return None
        return item

    def _write(self, item: AgendaItem, change: str, value: str) -> None:
        """Apply one change to the item's task through the library; refuse with a message on bad input."""
        crm = self.crm
        try:
            customer = crm.vault.read(item.customer.path)
            if change == "done":
                task_lib.close_tasks(crm.vault, customer, what=item.what, by=crm.user, now=crm.now())
            elif change == "snooze":
                when = parse_when_text(value, crm.today)
                task_lib.replan_task(crm.vault, customer, what=item.what, when=when.moment(),
                                     has_time=when.at is not None, by=crm.user, now=crm.now())
            else:
                task_lib.replan_task(crm.vault, customer, what=item.what, assignee=value, by=crm.user,
                                     now=crm.now())
        except CrmError as exc:
            self.notify(f"{exc.message} {exc.hint}".strip(), title=f"Cannot {change}", severity="error")
            return
        crm._after_save(item.customer.path)

    def action_done(self) -> None:
        item = self._selected_task()
        if item is not None:
            self._write(item, "done", "")

    def action_snooze(self) -> None:
        item = self._selected_task()
        if item is not None:
            self.app.push_screen(AskScreen(f"Move '{item.what}' ({item.when_text()}) to:", ACCEPTED_FORMS),
                                 lambda value: self._write(item, "snooze", value) if value else None)

    def action_reassign(self) -> None:
        item = self._selected_task()
        if item is not None:
            self.app.push_screen(AskScreen(f"Hand '{item.what}' (now {item.who}) to:"),
                                 lambda value: self._write(item, "reassign", value) if value else None)
