"""Report charts: the stage funnel, customers per source, follow-up activity
per week, the monthly sales trend (lines), stage conversion (funnel bars) and
ticket satisfaction.  The numbers are ``crmnotes.reports`` (what ``crm report``
prints); this screen only draws them with textual-plotext, one tab each.
Chart labels are ids (plotext counts a CJK character as one cell); the line
under each chart gives the labels and the exact numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Static, TabbedContent, TabPane

from ... import catalog, reports
from ...safetext import terminal_text
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
        return self.app  # type: ignore[return-value]

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
        vault, today = self.crm.vault, self.crm.today
        customers = catalog.report_customers(vault, self.crm.user if self.mine else "").customers
        return {name: reports.build(name, customers, vault.config, today=today) for name, _ in TABS}

    def show(self, results: dict[str, reports.Report]) -> None:
        self.results = results
        for name, draw in (("funnel", self._funnel), ("sources", self._sources), ("activity", self._activity),
                           ("trend", self._trend), ("conversion", self._conversion),
                           ("satisfaction", self._satisfaction)):
            plot: PlotextPlot = self.query_one(f"#plot-{name}")  # type: ignore[assignment]
            plot.plt.clear_figure()
            note = draw(plot.plt, results[name])
            if self.mine:
                note.append(f"  (mine: {self.crm.user})", style="dim")
            self.query_one(f"#note-{name}", Static).update(note)
            plot.refresh()

    # ------------------------------------------------------------ charts

    def _funnel(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        ids = [r["stage"] for r in rows]
        plt.multiple_bar(ids, [[r["customers"] for r in rows], [r.get("reached") or 0 for r in rows]],
                         labels=["now", "ever reached"])
        plt.title(f"{report.title} ({report.totals.get('customers', 0)} customers)")
        note = Text()
        for row in rows:
            conversion = row.get("conversion_to_next")
            note.append(terminal_text(f"{row['label']} {row['customers']}", multiline=False), style="bold")
            note.append(f" → {conversion:g}%  " if conversion is not None else "  ", style="dim")
        return note

    def _sources(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        if rows:
            plt.bar([terminal_text(r["source"], multiline=False) for r in rows], [r["customers"] for r in rows],
                    orientation="horizontal")
        plt.title(report.title)
        note = Text()
        for row in rows:
            note.append(terminal_text(f"{row['label']} {row['customers']}", multiline=False), style="bold")
            conversion = row.get("conversion")
            note.append(f" won {row['won']}" + (f" ({conversion:g}%)  " if conversion is not None else "  "),
                        style="dim")
        return note

    def _activity(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        channels = [c for c in report.columns if c not in ("week", "total")]
        weeks = [r["week"][5:] for r in rows]  # MM-DD of each week's Monday
        if channels:
            plt.stacked_bar(weeks, [[r[c] for r in rows] for c in channels], labels=channels)
            # Explicit ticks (every other week): plotext's own choice depends on earlier plots.
            ticks = list(range(1, len(weeks) + 1, 2))
            plt.xticks(ticks, [weeks[i - 1] for i in ticks])
        plt.title(f"{report.title} (weeks from Monday)")
        plt.xlabel("week")
        totals = report.totals
        note = Text(f"{totals.get('total', 0)} follow-ups", style="bold")
        labels = self.crm.vault.config.channels
        for channel in channels:
            note.append(terminal_text(f"  {labels.display(channel)} {totals.get(channel, 0)}", multiline=False),
                        style="dim")
        return note

    def _trend(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        months = [r["month"][2:] for r in rows]  # YY-MM
        positions = list(range(1, len(rows) + 1))
        for column, label in (("new_customers", "new"), ("won_customers", "won"), ("followups", "follow-ups")):
            plt.plot(positions, [r[column] for r in rows], label=label, marker="braille")
        ticks = positions[:: max(1, len(positions) // 6)]
        plt.xticks(ticks, [months[i - 1] for i in ticks])
        plt.title(report.title)
        totals = report.totals
        note = Text(f"won {_money(totals.get('won_value', 0))} in {totals.get('won_deals', 0)} deals", style="bold")
        for row in rows[-3:]:
            note.append(f"  {row['month']} {_money(row['won_value'])}", style="dim")
        return note

    def _conversion(self, plt: Any, report: reports.Report) -> Text:
        rows = report.rows
        if rows:
            plt.bar([r["stage"] for r in rows], [r["reached"] for r in rows], orientation="horizontal")
        plt.title(f"{report.title} ({report.totals.get('customers', 0)})")
        note = Text()
        for row in rows:
            note.append(f"{row['label']} {row['reached']}", style="bold")
            rate, days = row.get("conversion"), row.get("average_days")
            note.append((f" → {rate:g}%" if rate is not None else "") + (f" ({days:g} d)" if days is not None else "")
                        + "  ", style="dim")
        return note

    def _satisfaction(self, plt: Any, report: reports.Report) -> Text:
        distribution = report.totals.get("distribution", {})
        plt.bar(list(distribution), list(distribution.values()))
        plt.title(report.title)
        plt.xlabel("rating")
        average, satisfied = report.totals.get("average"), report.totals.get("satisfied")
        note = Text(f"{report.totals.get('rated', 0)} rated", style="bold")
        if average is not None:
            note.append(f"  average {average:g}  4-5: {satisfied:g}%", style="dim")
        return note


def _money(value: float) -> str:
    return f"{value:,.0f}"
