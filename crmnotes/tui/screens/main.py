"""The main screen: search box, quick filters, and the customer table.

Rows come from ``catalog.rows`` (filters and sort; the storage seam) in a
thread worker, and the search box narrows them with ``query.search_rows`` as
you type (best match first), also in a worker, so a large vault never
freezes the screen.  The first view's rows are read while the app starts
(``startup.FirstRows``); the first frame waits a moment for them rather than
showing "loading…" (in a big vault it shows the first page of them, and the
whole list replaces it when read), and the detail beside the table is read
after the table is painted.  On a terminal at least ``WIDE`` columns wide the
selected customer's detail is shown beside the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static
from textual.worker import get_current_worker

from ...catalog import Row
from ...safetext import terminal_text
from ..query import DUE_TODAY, OVERDUE, SORTS, QuickFilters, by_due, search_rows
from ..roles import Refreshes, ShowsCustomer
from ..widgets.customer_detail import CustomerDetail
from ..widgets.customer_table import CustomerTable
from ..widgets.keys_footer import KeysFooter
from ..widgets.text import safe_text

if TYPE_CHECKING:
    from ..app import CrmApp
    from ..startup import FirstRows

SEARCH_HINT = 'search: words, "phrases", stage:intent tag:needs/ owner:…'


class SearchBox(Input):
    """The search box: while typing, q is a letter, so the footer names ctrl+q for quitting."""

    # priority: the app's own ctrl+q binding (hidden) would otherwise take the footer's place
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", "Quit", priority=True)]


WIDE = 140  # columns from which the detail pane sits beside the table
FIRST_WAIT = 0.5  # seconds the first frame may wait for the first rows (then it shows "loading…")


class MainScreen(Screen[None], Refreshes, ShowsCustomer):
    AUTO_FOCUS = "#customers"  # the table from the first frame: one focus change, one footer build
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search"),
        Binding("enter", "open", "Open", show=False),
        Binding("s", "cycle_stage", "Stage", show=False),
        Binding("m", "toggle_mine", "Mine", show=False),
        Binding("d", "due_filter('today')", "Due today", show=False),
        Binding("x", "due_filter('overdue')", "Overdue", show=False),
        Binding("f", "filters", "Filter"),
        Binding("o", "cycle_sort", "Sort", show=False),
        Binding("O", "reverse_sort", "Reverse sort", show=False),
        Binding("c", "clear_filters", "Clear filters", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.quick = QuickFilters()
        self.base: list[Row] | None = None  # catalog rows for ``quick`` before the search box
        self.stale = True  # base must be fetched again (filters, sort or files changed)
        self.shown_count = 0
        self.ranked = False  # the rows are in search-rank order
        self.first: FirstRows | None = None  # the rows read while the app started, until shown or stale
        self.side_pending = False  # the side pane will follow the cursor after the next paint
        self.partial = False  # the table shows the first page only, the whole list is being read

    @property
    def crm(self) -> CrmApp:
        return self.app  # type: ignore[return-value]  # the running App is always a CrmApp

    def compose(self) -> ComposeResult:
        yield Header()
        yield SearchBox(placeholder=SEARCH_HINT, id="search", compact=True)
        yield Static("loading…", id="status", classes="status")
        with Horizontal(id="body"):
            yield CustomerTable(self.crm.vault.config, self.crm.today, id="customers")
            yield CustomerDetail(id="side")
        yield KeysFooter()

    @property
    def table(self) -> CustomerTable:
        return self.query_one(CustomerTable)

    @property
    def side(self) -> CustomerDetail:
        return self.query_one("#side", CustomerDetail)

    @property
    def wide(self) -> bool:
        return self.has_class("-wide")

    def on_mount(self) -> None:
        self.sub_title = terminal_text(self.crm.vault.root.name, multiline=False)
        self.set_class(self.app.size.width >= WIDE, "-wide")  # the first layout is already the right one
        self.first, self.crm.first_rows = self.crm.first_rows, None
        page = self.first.wait_page(FIRST_WAIT) if self.first is not None else None
        if page is not None and self.first is not None and not self.first.wait(0):
            self.partial = True  # a big vault: its first page now, the whole list once this frame is painted
            self._apply(page, False, page, False, None)
            self.call_after_refresh(self.update_rows)  # takes ``first``'s whole list (``rows`` lets it be read)
            return
        if self.first is not None and self.first.wait(FIRST_WAIT):  # before the first frame: rows, not "loading…"
            base = self.first.rows(self.quick.to_filters(self.crm.user), self.quick.sort, self.crm.today)
            if base is not None:
                self._apply(base, True, *self._narrow(base, self.quick, ""), None)
                return
        self.update_rows()  # stale from the start: the worker takes ``first``'s rows when they come

    def on_resize(self) -> None:
        wide = self.size.width >= WIDE
        if wide != self.wide:
            self.set_class(wide, "-wide")
            self.show_side()

    def show_side(self) -> None:
        """The side pane follows the cursor (only while it is shown)."""
        if self.wide:
            self.side.show(self.current_path())

    def _show_side_later(self) -> None:
        """``show_side`` once the table is painted: new rows show first, the file is read after."""
        if self.wide and not self.side_pending:
            self.side_pending = True
            self.call_after_refresh(self._side_now)

    def _side_now(self) -> None:
        self.side_pending = False
        self.show_side()

    def refresh_view(self) -> None:
        if self.wide:
            self.side.refresh_view()

    # ------------------------------------------------------------ loading

    def reload(self, keep: Path | None = None) -> None:
        """Fetch rows again (files, filters or sort changed)."""
        self.stale = True
        if self.first is not None:
            self.first.release()  # not taken: its thread finishes (the poll waits for its baseline)
        self.first = None
        self.update_rows(keep)

    def vault_changed(self) -> None:
        self.reload()
        self.refresh_view()

    def update_rows(self, keep: Path | None = None) -> None:
        keep_rel = self.crm.vault.relative(keep) if keep else None
        self._load(self.quick, self.query_one("#search", Input).value, keep_rel, self.first)

    @work(thread=True, exclusive=True, group="rows", exit_on_error=False)
    def _load(self, quick: QuickFilters, text: str, keep: str | None, first: FirstRows | None) -> None:
        worker = get_current_worker()
        base, fetched = self.base, False
        if self.stale or base is None:
            filters, today = quick.to_filters(self.crm.user), self.crm.today
            base = first.rows(filters, quick.sort, today) if first is not None else None
            if base is None:
                base = self.crm.table_rows(filters, quick.sort, today)
            fetched = True
        shown, ranked = self._narrow(base, quick, text)
        if not worker.is_cancelled:
            self.app.call_from_thread(self._apply, base, fetched, shown, ranked, keep)

    def _narrow(self, base: list[Row], quick: QuickFilters, text: str) -> tuple[list[Row], bool]:
        """The rows the table shows of ``base``: the search box's, then the due filter's; and whether ranked."""
        found, ranked = search_rows(self.crm.vault, base, text, self.crm.today,
                                    self.crm.workspace.vaults if self.crm.workspace else None)
        return by_due(found, quick.due, self.crm.today), ranked

    def _apply(self, base: list[Row], fetched: bool, shown: list[Row], ranked: bool, keep: str | None) -> None:
        self.base = base
        if fetched:
            self.stale = False
            self.partial = False
            self.first = None
        self.shown_count = len(shown)
        self.ranked = ranked
        self.table.today = self.crm.today
        self.table.show(shown, keep)
        self.update_status()
        self._show_side_later()

    def update_status(self) -> None:
        total = len(self.base or [])
        sort = self.quick.sort
        arrow = "↓" if sort.startswith("-") else "↑"
        order = "by rank" if self.ranked else f"sort {sort.lstrip('-')}{arrow}"
        parts = [f"first {self.shown_count}, loading the rest…" if self.partial else f"{self.shown_count} of {total}",
                 order]
        if self.quick.describe():
            parts.append(self.quick.describe())
        if len(self.table.all_rows) > self.table.row_count:
            parts.append(f"row {self.table.row_number + 1}")
        if self.crm.sync_status:
            parts.append(self.crm.sync_status)
        from .help import empty_customers_hint

        parts.append(empty_customers_hint(total, self.shown_count))
        self.query_one("#status", Static).update(safe_text(" · ".join(p for p in parts if p), multiline=False))

    # ------------------------------------------------------------ events

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        self.update_rows()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.table.focus()

    def on_key(self, event) -> None:
        from_search = event.key in ("down", "escape") and self.focused is self.query_one("#search")
        from_side = event.key == "escape" and self.focused is self.side
        if from_search or from_side:
            event.stop()
            self.table.focus()

    @on(DataTable.RowSelected, "#customers")
    def _row_selected(self) -> None:
        self.action_open()

    @on(DataTable.RowHighlighted, "#customers")
    def _row_highlighted(self) -> None:
        if self.base is not None:
            self.update_status()
            if not self.side_pending:  # else it follows the cursor after the paint anyway
                self.show_side()

    @on(DataTable.HeaderSelected, "#customers")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key in SORTS:
            self.set_sort(f"-{key}" if self.quick.sort == key else key)

    # ------------------------------------------------------------ actions

    def current_path(self) -> Path | None:
        row = self.table.current_row
        return self.crm.vault.root / row.path if row else None

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_open(self) -> None:
        from .detail import DetailScreen

        path = self.current_path()
        if path is None:
            return
        if self.wide:  # the detail is already beside the table: move into it to scroll
            self.side.focus()
        else:
            self.app.push_screen(DetailScreen(path))

    def set_quick(self, quick: QuickFilters) -> None:
        self.quick = quick
        self.reload()

    def set_sort(self, sort: str) -> None:
        self.set_quick(self.quick.with_(sort=sort))

    def action_cycle_stage(self) -> None:
        ids = ["", *self.crm.vault.config.stages.ids]
        current = ids.index(self.quick.stage) if self.quick.stage in ids else 0
        self.set_quick(self.quick.with_(stage=ids[(current + 1) % len(ids)]))

    def action_toggle_mine(self) -> None:
        self.set_quick(self.quick.with_(mine=not self.quick.mine))

    def action_due_filter(self, which: str) -> None:
        due = "" if self.quick.due == which else which
        assert due in ("", DUE_TODAY, OVERDUE)
        self.quick = self.quick.with_(due=due)
        self.update_rows()  # the due filter narrows the rows already fetched

    def action_cycle_sort(self) -> None:
        current = self.quick.sort.lstrip("-")
        self.set_sort(SORTS[(SORTS.index(current) + 1) % len(SORTS)] if current in SORTS else SORTS[0])

    def action_reverse_sort(self) -> None:
        sort = self.quick.sort
        self.set_sort(sort[1:] if sort.startswith("-") else f"-{sort}")

    def action_clear_filters(self) -> None:
        self.query_one("#search", Input).value = ""
        self.set_quick(QuickFilters(sort=self.quick.sort))

    def action_filters(self) -> None:
        from .filters import FilterScreen

        def chosen(result: QuickFilters | None) -> None:
            if result is not None:
                self.set_quick(result)

        self.app.push_screen(FilterScreen(self.quick), chosen)
