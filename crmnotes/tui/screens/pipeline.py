"""The pipeline board: every deal in a column per deal stage, each column with
its count and its amount and weighted amount per currency, and the weighted
forecast of the open deals underneath.  The numbers come from
``crmnotes.deals.pipeline`` (the same sums ``crm deal ls`` and ``crm report
forecast`` use); ``D`` edits the deal under the cursor, enter opens its customer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from ... import deals
from ...model import Customer, money
from ...safetext import terminal_text
from ..roles import Refreshes, ShowsCustomer, ShowsRecord
from ..widgets.keys_footer import KeysFooter
from ..widgets.text import safe_text

if TYPE_CHECKING:
    from ..app import CrmApp

Card = tuple[Customer, int, dict[str, Any]]


def sums(values: dict[str, float]) -> str:
    return " · ".join(f"{currency} {money(amount)}" for currency, amount in sorted(values.items()))


class StageList(OptionList):
    """One column's cards; left/right move to the neighbouring column."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "screen.column(-1)", "Previous stage", show=False),
        Binding("right", "screen.column(1)", "Next stage", show=False),
    ]

    def __init__(self, cards: list[Card], config: Any, **kwargs: Any) -> None:
        super().__init__(*(Option(_card(c, config)) for c in cards), **kwargs)
        self.cards = cards


def _card(card: Card, config: Any) -> Text:
    customer, _, deal = card
    text = safe_text(customer.name, "bold", multiline=False, no_wrap=True, overflow="ellipsis")
    text.append("\n" + terminal_text(deal.get("name", ""), multiline=False), style="")
    amount = f"{deals.currency_of(deal, config)} {money(deals.amount_of(deal))}"
    text.append(f"\n{amount} {deals.probability_of(deal, config):.0f}%", style="cyan")
    close = deals.close_of(deal)
    if close is not None:
        text.append(f"\nclose {close.isoformat()}", style="dim")
    text.append("\n")  # a blank line between cards
    return text


class PipelineScreen(Screen[None], Refreshes, ShowsCustomer, ShowsRecord):
    """Deals by stage; ``m`` limits the board to the user's deals."""

    load_group = "pipeline"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("m", "toggle_mine", "Mine"),
        Binding("D", "app.deal", "Edit deal"),
        Binding("enter", "open", "Open customer", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.columns: list[deals.StageColumn] = []
        self._redraw = asyncio.Lock()

    @property
    def crm(self) -> CrmApp:
        return self.app  # type: ignore[return-value]  # the running App is always a CrmApp

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="pipe-status", classes="status")
        yield Horizontal(id="board")
        yield Static(id="forecast", classes="status")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "pipeline"
        self.load()

    def fetch(self) -> list[deals.StageColumn]:
        vault = self.crm.vault
        customers = self.crm.report_customers()  # deals are front-matter: no file parsed
        return deals.pipeline(customers, vault.config, owner=self.crm.user if self.mine else "")

    async def show(self, columns: list[deals.StageColumn]) -> None:
        """Rebuild the board, keeping the cursor on the same column and row.

        Two loads can finish close together (a save, then the vault watcher): the lock keeps one
        rebuild from mounting its columns between the other's clearing and mounting."""
        async with self._redraw:
            await self._rebuild(columns)

    async def _rebuild(self, columns: list[deals.StageColumn]) -> None:
        focused = self.focused if isinstance(self.focused, StageList) else None
        where = (self.query(StageList).nodes.index(focused), focused.highlighted or 0) if focused else None
        self.columns = columns
        board = self.query_one("#board", Horizontal)
        await board.remove_children()
        lists = [StageList(column.deals, self.crm.vault.config, classes="stage-cards") for column in columns]
        await board.mount_all(
            Vertical(Static(self._header(column), classes="stage-head"), stage_list,
                     classes="stage-col" + ("" if column.open else " -closed"))
            for column, stage_list in zip(columns, lists, strict=True))
        if not lists:
            self._status()
            return
        if where is None:  # first showing: the first column with a card, so enter and D act on what looks selected
            where = (next((i for i, s in enumerate(lists) if s.option_count), 0), 0)
        target = lists[min(where[0], len(lists) - 1)]
        if target.option_count:
            target.highlighted = min(where[1], target.option_count - 1)
        target.focus()
        self._status()

    def _header(self, column: deals.StageColumn) -> Text:
        text = Text(column.label, style="bold")
        text.append(f" {len(column.deals)}", style="dim")
        for currency, amount in sorted(column.amounts.items()):
            text.append(f"\n{currency} {money(amount)}")
            if column.open:
                text.append(f"\n ≈{money(column.weighted.get(currency, 0))}", style="green")
        return text

    def _status(self) -> None:
        from .help import deal_count_text

        count = sum(len(c.deals) for c in self.columns)
        mine = f" (mine: {self.crm.user})" if self.mine and count else ""
        keys = " · ←/→ stage · D edit deal · enter opens · m mine" if count else ""
        self.query_one("#pipe-status", Static).update(f"{deal_count_text(count, self.mine)}{mine}{keys}")
        amounts, weighted = deals.open_forecast(self.columns)
        won: dict[str, float] = {}  # won and after-sales
        for column in self.columns:
            if column.stage in deals.WON_STAGES:
                won = {k: won.get(k, 0.0) + column.amounts.get(k, 0.0) for k in {*won, *column.amounts}}
        parts = [f"open {sums(amounts) or '0'}", f"weighted forecast {sums(weighted) or '0'}"]
        if won:
            parts.append(f"won {sums(won)}")
        self.query_one("#forecast", Static).update(Text(" · ".join(parts), style="bold"))

    # ------------------------------------------------------------ selection

    def current_card(self) -> Card | None:
        focused = self.focused
        if not isinstance(focused, StageList) or focused.highlighted is None or not focused.cards:
            return None
        return focused.cards[focused.highlighted]

    def current_path(self) -> Path | None:
        card = self.current_card()
        return card[0].path if card else None

    def current_record(self) -> str | None:
        """The highlighted deal as ``crm deal set`` refers to it (its id, else its position)."""
        card = self.current_card()
        return str(card[2].get("id") or card[1] + 1) if card else None

    def action_column(self, step: int) -> None:
        lists = list(self.query(StageList))
        if not lists:
            return
        current = lists.index(self.focused) if self.focused in lists else 0
        target = lists[max(0, min(len(lists) - 1, current + step))]
        target.focus()
        target.scroll_visible()

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        from .detail import DetailScreen

        path = self.current_path()
        if path is not None:
            self.app.push_screen(DetailScreen(path))
