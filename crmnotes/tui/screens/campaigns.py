"""Campaigns and how they did: one row each (``crm campaign report``), the
selected one's leads below.  Opened from the reports screen with ``c``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from ... import campaigns
from ..roles import Refreshes
from ..widgets.keys_footer import KeysFooter

if TYPE_CHECKING:
    from ..app import CrmApp

COLUMNS = (("name", "campaign"), ("leads", "leads"), ("won", "won"), ("won_value", "won value"),
           ("cost_per_lead", "per lead"), ("cost_per_won", "per won"), ("roi", "ROI"), ("goal_revenue", "goal"))


class CampaignsScreen(Screen[None], Refreshes):
    """Every campaign under campaigns/ with its evaluation."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,backspace", "app.pop_screen", "Back")]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.leads: dict[str, list[str]] = {}

    @property
    def crm(self) -> CrmApp:
        return self.app  # type: ignore[return-value]  # the running App is always a CrmApp

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="campaign-table", cursor_type="row", zebra_stripes=True)
        yield Static("loading…", id="campaign-leads", classes="status")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "campaigns"
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        table.focus()
        self.load()

    load_group = "campaigns"

    def fetch(self) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
        vault = self.crm.vault
        found, _ = campaigns.load(vault)
        customers = self.crm.report_customers()
        rows = [campaigns.evaluate(c, customers, vault.config) for c in found]
        leads = {c.id: [f"{x.name} ({vault.config.stages.display(x.stage)})" for x in campaigns.leads_of(c, customers)]
                 for c in found}
        return rows, leads

    def show(self, found: tuple[list[dict[str, Any]], dict[str, list[str]]]) -> None:
        self.rows, self.leads = found
        rows = self.rows
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(*(Text(_shown(row[key], key)) for key, _ in COLUMNS), key=row["id"])
        if not rows:
            self.query_one("#campaign-leads", Static).update("no campaigns yet: crm campaign add NAME")
        else:
            self._leads(rows[min(table.cursor_row, len(rows) - 1)]["id"])

    @on(DataTable.RowHighlighted)
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self._leads(event.row_key.value)

    def _leads(self, ident: str) -> None:
        names = self.leads.get(ident, [])
        self.query_one("#campaign-leads", Static).update(f"{ident}: {len(names)} leads  " + "  ".join(names))


def _shown(value: Any, key: str) -> str:
    if value is None:
        return ""
    if key in campaigns.PERCENT:
        return f"{value:g}%"
    if isinstance(value, float):
        return f"{value:,.0f}"
    return str(value)
