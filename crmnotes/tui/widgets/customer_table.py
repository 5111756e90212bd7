"""The customer table: a DataTable that holds a window of the rows.

A DataTable given 10,000 rows takes seconds to paint, so the table only ever
holds ``WINDOW`` rows of the full (filtered, sorted) list and slides that
window when the cursor nears its edge.  Rows are keyed by file path, which is
unique even when two files share an id.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from ...catalog import Row
from ...config import VaultConfig
from .text import safe_text

WINDOW = 200
STEP = 100
EDGE = 3
# (column key, header, fixed width or None for the flexible name column)
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("name", "name", None), ("stage", "stage", 5), ("grade", "gr", 2), ("owner", "owner", 6),
    ("last", "last", 10), ("next", "next", 10), ("tags", "tags", 0),
)
FIXED = sum(w or 0 for _, _, w in COLUMNS)
TAGS_MIN = 14  # what the name column leaves the tags before it narrows
TAGS_FLOOR = 8  # below this even a narrow terminal's tags are not worth their room


class CustomerTable(DataTable[Text]):
    """Rows of ``catalog.Row``; ``current_row`` is the one under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "scroll_top", "First customer", show=False),
        Binding("G", "scroll_bottom", "Last customer", show=False),
    ]

    def __init__(self, config: VaultConfig, today: date, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]  # DataTable's other keyword arguments, as the caller gave them
        self.config = config
        self.today = today
        self.all_rows: list[Row] = []
        self.window_start = 0
        self._name_width = 0
        self._tags_width = 0
        self._shifting = False
        self._pending: int | None = None  # cursor index of rows shown before the table had a size

    # ------------------------------------------------------------ filling

    def show(self, rows: list[Row], keep: str | None = None) -> None:
        """Show ``rows``; the cursor stays on the row with path ``keep`` when present."""
        if keep is None and self.current_row is not None:
            keep = self.current_row.path
        index = next((i for i, r in enumerate(rows) if r.path == keep), None) if keep else None
        if index is None:
            index = min(self.window_start + max(self.cursor_row, 0), max(len(rows) - 1, 0))
        self.all_rows = rows
        if self.size.width:
            self._fill(index)
        else:  # not laid out yet (rows before the first frame): the first resize fills it at its real width
            self._pending = index

    def _fill(self, index: int) -> None:
        self._pending = None
        self.window_start = max(0, min(index - STEP, len(self.all_rows) - WINDOW))
        self._ensure_columns()
        self._shifting = True
        try:
            self.clear()
            for row in self.all_rows[self.window_start:self.window_start + WINDOW]:
                self.add_row(*self._cells(row), key=row.path)
            if self.row_count:
                self.move_cursor(row=index - self.window_start, animate=False)
        finally:
            self._shifting = False

    def _width(self) -> int:
        """The name column's width at the table's current size."""
        return self._widths()[0]

    def _widths(self) -> tuple[int, int]:
        """The name and tags columns' widths: the tags take the rest, so a row never runs off screen.
        The others' cells have one space of padding either side; the scrollbar takes two."""
        room = self.size.width - FIXED - 2 * len(COLUMNS) - 2
        name = max(12, min(40, room - TAGS_MIN))
        return name, max(TAGS_FLOOR, room - name)

    def _ensure_columns(self) -> None:
        width, tags = self._widths()
        if (width, tags) == (self._name_width, self._tags_width) and self.columns:
            return
        self._name_width, self._tags_width = width, tags
        self.clear(columns=True)
        for key, header, fixed in COLUMNS:
            self.add_column(header, key=key, width=width if fixed is None else (fixed or tags))

    def on_resize(self) -> None:
        if self._pending is not None:
            self._fill(self._pending)
        elif self._name_width and self._widths() != (self._name_width, self._tags_width):  # cells are cut to them
            self._fill(self.window_start + max(self.cursor_row, 0))

    def _cells(self, row: Row) -> list[Text]:
        stage = self.config.stages.display(row.stage) if row.stage else ""
        last = row.last_contact.date().isoformat() if row.last_contact else ""
        due = Text(row.due.isoformat() if row.due else "")
        if row.due is not None and row.due < self.today:
            due.stylize("bold red")
        elif row.due is not None and row.due == self.today:
            due.stylize("bold yellow")
        name = safe_text(row.name, multiline=False, no_wrap=True, overflow="ellipsis")
        name.truncate(self._name_width, overflow="ellipsis")  # cell-aware: a CJK character takes two cells
        cells = (stage, row.grade, row.owner, last)
        tags = safe_text(", ".join(row.tags), multiline=False)
        tags.truncate(self._tags_width, overflow="ellipsis")
        return [name, *(safe_text(c, multiline=False) for c in cells), due, tags]

    # ------------------------------------------------------------ the window

    @property
    def current_row(self) -> Row | None:
        index = self.window_start + self.cursor_row
        if not self.row_count or not 0 <= index < len(self.all_rows):
            return None
        return self.all_rows[index]

    @property
    def row_number(self) -> int:
        return self.window_start + self.cursor_row if self.row_count else 0

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self._shifting or event.cursor_row != self.cursor_row:
            return  # posted while refilling (clear() resets the cursor): stale
        cursor = event.cursor_row
        near_end = cursor >= self.row_count - EDGE and self.window_start + self.row_count < len(self.all_rows)
        near_start = cursor < EDGE and self.window_start > 0
        if near_end or near_start:
            self._fill(self.window_start + cursor)

    # DataTable's own top/bottom (ctrl+home / ctrl+end) would stop at the window's edge.
    def action_scroll_top(self) -> None:
        if self.all_rows:
            self._fill(0)

    def action_scroll_bottom(self) -> None:
        if self.all_rows:
            self._fill(len(self.all_rows) - 1)
