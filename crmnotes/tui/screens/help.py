"""The help screen: every key binding of the app and its screens."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

QUERY_HELP = ('Search box: words and "quoted phrases" match name, contact, notes and follow-ups, then tags and '
              "choice labels; field:value narrows (stage:intent, tag:needs/, owner:张伟, grade:A, industry:互联网, "
              "source:展会).")


def empty_customers_hint(total: int, shown: int) -> str:
    """What to do when the customer table is empty: add someone, or loosen the search and filters."""
    if total == 0:
        return "no customers yet: press a to add a customer (or run crm import FILE)"
    if shown == 0:
        return "nothing matches: esc, then c clears the search and filters"  # esc alone only leaves the box
    return ""


def due_count_text(count: int, today: str, mine: bool) -> str:
    """The due list's count; an empty list says so in words, and where to look next."""
    if count:
        return f"{count} due on or before {today}"
    return f"nobody{' of yours' if mine else ''} is due today: esc goes back, then b shows the pipeline"


def deal_count_text(count: int, mine: bool) -> str:
    """The pipeline board's count; an empty board says how a deal gets there."""
    if count:
        return f"{count} deals"
    return f"no deals{' of yours' if mine else ''} yet: open a customer (enter on the list) and press D to add one"


def agenda_empty_text(days: int, tasks_only: bool) -> str:
    """What an empty agenda means, and what puts something on it."""
    if tasks_only:
        return "no open tasks: a next step logged on a customer (l) is one until it is done"
    return f"nothing in the next {days} days: a next step logged on a customer (l) puts it here"


def bindings_table(groups: list[tuple[str, list[BindingType]]]) -> Table:
    table = Table(box=None, padding=(0, 1), show_header=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for title, bindings in groups:
        table.add_row(Text(title, style="bold underline"), "")
        for binding in Binding.make_bindings(bindings):
            if binding.description:
                table.add_row(_keys(binding.key), binding.description)
    return table


def _keys(key: str) -> str:
    return " / ".join(k.replace("question_mark", "?").replace("slash", "/") for k in key.split(","))


class HelpScreen(ModalScreen[None]):
    """Lists bindings; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, groups: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(Text("crmnotes keys", style="bold"))
            yield Static(bindings_table(self.groups))
            yield Static(Text(QUERY_HELP, style="dim"))
            yield Static(Text("ctrl+p opens the command palette: every action is there too.", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
