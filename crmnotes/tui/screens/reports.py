"""Report charts: the stage funnel, customers per source, follow-up activity
per week, the monthly sales trend (lines), stage conversion (funnel bars) and
ticket satisfaction.  The numbers are ``crmnotes.reports`` (what ``crm report``
prints); this screen only draws them with textual-plotext, one tab each.
Titles, bars and series are named in the vault's language (``crmnotes.words``;
CJK labels are padded for plotext, see ``chart_text``), count axes tick at whole
numbers; the line under each chart gives the exact numbers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Static, TabbedContent, TabPane

from ... import reports
from ...safetext import terminal_text
from ...words import report_title, report_word
from ..roles import Refreshes
from ..widgets.keys_footer import KeysFooter

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

    from ..app import CrmApp

TABS = (("funnel", "Funnel"), ("sources", "Sources"), ("activity", "Activity"), ("trend", "Trend"),
        ("conversion", "Conversion"), ("satisfaction", "Satisfaction"))


class ReportsScreen(Screen[None], Refreshes):
    """Six charts over the whole vault (``m``: only the user's customers)."""

    load_group = "reports"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("1", "tab('funnel')", "Funnel"),
        Binding("2", "tab('sources')", "Sources", show=False),  # the tab bar names them: the footer keeps
        Binding("3", "tab('activity')", "Activity", show=False),  # room for Help and Quit at 80 columns
        Binding("4", "tab('trend')", "Trend", show=False),
        Binding("5", "tab('conversion')", "Conversion", show=False),
        Binding("6", "tab('satisfaction')", "Satisfaction", show=False),
        Binding("m", "toggle_mine", "Mine"),
        Binding("c", "campaigns", "Campaigns"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.results: dict[str, reports.Report] = {}

    @property
    def crm(self) -> CrmApp:
        return self.app  # type: ignore[return-value]  # the running App is always a CrmApp

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot  # deferred: plotext loads with this screen only

        yield Header()
        with TabbedContent(id="report-tabs"):
            for name, title in TABS:
                with TabPane(title, id=f"tab-{name}"):
                    yield PlotextPlot(id=f"plot-{name}")
                    yield Static(id=f"note-{name}", classes="report-note")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "reports"
        self.load()

    def action_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{name}"

    def action_campaigns(self) -> None:
        from .campaigns import CampaignsScreen

        self.app.push_screen(CampaignsScreen())

    def fetch(self) -> dict[str, reports.Report]:
        from ... import catalog, workspace

        vault, today, owner = self.crm.vault, self.crm.today, self.crm.user if self.mine else ""
        parts = {part for name, _ in TABS for part in reports.READS[name]}  # the facts the charts read, not customers
        facts = catalog.report_facts(vault, owner, parts, today)[0] if self.crm.workspace is None \
            else workspace.report_facts(self.crm.workspace, owner, parts, today)
        return {name: reports.build(name, facts, vault.config, today=today) for name, _ in TABS}

    def show(self, results: dict[str, reports.Report]) -> None:
        self.results = results
        for name, draw in (("funnel", self._funnel), ("sources", self._sources), ("activity", self._activity),
                           ("trend", self._trend), ("conversion", self._conversion),
                           ("satisfaction", self._satisfaction)):
            plot: PlotextPlot = self.query_one(f"#plot-{name}")  # type: ignore[assignment]  # compose made each #plot-* a PlotextPlot
            plot.plt.clear_figure()
            note = draw(plot.plt, results[name])
            if self.mine:
                note.append(f"  (mine: {self.crm.user})", style="dim")
            self.query_one(f"#note-{name}", Static).update(note)
            plot.refresh()

    # ------------------------------------------------------------ charts

    def _word(self, key: str) -> str:
        return report_word(self.crm.vault.config, key)

    def _title(self, report: reports.Report, extra: str = "") -> str:
        return chart_text(report_title(report, self.crm.vault.config) + extra)

    def _funnel(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        counts = [[r["customers"] for r in rows], [r.get("reached") or 0 for r in rows]]
        plt.multiple_bar([chart_text(r["label"]) for r in rows], counts, color=list(SERIES_COLORS[:2]))
        count_ticks(plt, counts)
        plt.title(self._title(report, f" ({self._word('customers')} {report.totals.get('customers', 0)})"))
        note = series_key([self._word("customers"), self._word("reached")])
        for row in rows:
            conversion = row.get("conversion_to_next")
            note.append(terminal_text(f"{row['label']} {row['customers']}", multiline=False), style="bold")
            note.append(f" → {conversion:g}%  " if conversion is not None else "  ", style="dim")
        return note

    def _sources(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        if rows:
            counts = [r["customers"] for r in rows]
            plt.bar([chart_text(r["label"]) for r in rows], counts, orientation="horizontal")
            count_ticks(plt, [counts], axis="x")
        plt.title(self._title(report))
        note = Text()
        for row in rows:
            note.append(terminal_text(f"{row['label']} {row['customers']}", multiline=False), style="bold")
            conversion = row.get("conversion")
            note.append(f" {self._word('won')} {row['won']}" + (f" ({conversion:g}%)  " if conversion is not None
                                                                else "  "), style="dim")
        return note

    def _activity(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        channels = [c for c in report.columns if c not in ("week", "total")]
        weeks = [r["week"][5:] for r in rows]  # MM-DD of each week's Monday
        if channels:
            plt.stacked_bar(weeks, [[r[c] for r in rows] for c in channels],
                            color=[SERIES_COLORS[i % len(SERIES_COLORS)] for i in range(len(channels))])
            # Explicit ticks (every other week): plotext's own choice depends on earlier plots.
            ticks = list(range(1, len(weeks) + 1, 2))
            plt.xticks(ticks, [weeks[i - 1] for i in ticks])
            count_ticks(plt, [[r["total"] for r in rows]])
        plt.title(self._title(report))
        plt.xlabel(chart_text(self._word("week")))
        totals = report.totals
        note = series_key([f"{self._word(channel)} {totals.get(channel, 0)}" for channel in channels])
        note.append(f"{self._word('total')} {totals.get('total', 0)}", style="bold")
        return note

    def _trend(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        months = [r["month"][2:] for r in rows]  # YY-MM
        positions = list(range(1, len(rows) + 1))
        lines = ("new_customers", "won_customers", "followups")
        for column, color in zip(lines, SERIES_COLORS, strict=False):
            plt.plot(positions, [r[column] for r in rows], marker="braille", color=color)
        ticks = positions[:: max(1, len(positions) // 6)]
        plt.xticks(ticks, [months[i - 1] for i in ticks])
        count_ticks(plt, [[r[c] for r in rows] for c in lines])
        plt.title(self._title(report))
        totals = report.totals
        note = series_key([self._word(column) for column in lines])
        note.append(f"{self._word('won_value')} {_money(totals.get('won_value', 0))} · "
                    f"{self._word('won_deals')} {totals.get('won_deals', 0)}", style="bold")
        for row in rows[-3:]:
            note.append(f"  {row['month']} {_money(row['won_value'])}", style="dim")
        return note

    def _conversion(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        if rows:
            counts = [r["reached"] for r in rows]
            plt.bar([chart_text(r["label"]) for r in rows], counts, orientation="horizontal")
            count_ticks(plt, [counts], axis="x")
        plt.title(self._title(report, f" ({report.totals.get('customers', 0)})"))
        note = Text()
        for row in rows:
            note.append(terminal_text(f"{row['label']} {row['reached']}", multiline=False), style="bold")
            rate, days = row.get("conversion"), row.get("average_days")
            note.append((f" → {rate:g}%" if rate is not None else "") + (f" ({days:g} d)" if days is not None else "")
                        + "  ", style="dim")
        return note

    def _satisfaction(self, plt: Any, report: reports.Report) -> Text:
        distribution = report.totals.get("distribution", {})
        plt.bar(list(distribution), list(distribution.values()))
        count_ticks(plt, [list(distribution.values())])
        plt.title(self._title(report))
        plt.xlabel(chart_text(self._word("rating")))
        average, satisfied = report.totals.get("average"), report.totals.get("satisfied")
        note = Text(f"{self._word('rated')} {report.totals.get('rated', 0)}", style="bold")
        if average is not None:
            note.append(f"  {self._word('average')} {average:g}  {self._word('satisfied')} {satisfied:g}%", style="dim")
        return note


ZERO_WIDTH = "\u200b"
# The series' colours, named under the chart: plotext draws its legend inside the plot, over the bars.
SERIES_COLORS = ("cyan", "magenta", "green", "yellow", "blue", "red")


def series_key(names: list[str]) -> Text:
    """"■ 客户数  ■ 曾到达  ", each square in its series' colour (``SERIES_COLORS``)."""
    key = Text()
    for index, name in enumerate(names):
        key.append("■ ", style=SERIES_COLORS[index % len(SERIES_COLORS)])
        key.append(terminal_text(name, multiline=False) + "  ")
    return key


def chart_text(text: str) -> str:
    """A label for plotext, which counts every character as one cell: a wide (CJK) character is followed
    by a zero-width space, so plotext's count matches the two cells the terminal gives it and the
    axes and bars right of it stay in place."""
    return "".join(ch + ZERO_WIDTH if cell_len(ch) == 2 else ch for ch in terminal_text(text, multiline=False))


def count_ticks(plt: Any, series: list[list[int]], axis: str = "y") -> None:
    """Whole-number ticks on a count axis (plotext's own fall between the counts: 2.3, 4.7)."""
    top = max((value for values in series for value in values), default=0)
    step = max(1, math.ceil(top / 5))
    ticks = list(range(0, max(top, 1) + step, step))
    if axis == "y":
        plt.yticks(ticks)
        plt.ylim(0, ticks[-1])
    else:
        plt.xticks(ticks)
        plt.xlim(0, ticks[-1])


def _money(value: float) -> str:
    return f"{value:,.0f}"
