"""The crmnotes Textual app and ``make_app``, the one factory the CLI and
the tests use to build it.

The app holds what every screen shares: the vault, "today" (fixed in tests
and snapshots so due dates are stable), the user, the phone-reveal switch,
the live refresh that polls customers/ for external changes, and git sync
(on a key, and every ``sync.auto_sync_minutes`` when crmnotes.yaml asks).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from ..errors import CrmError
from ..identity import vault_user
from ..vault import Vault
from . import live
from .messages import VaultChanged
from .query import QuickFilters
from .screens.main import MainScreen
from .startup import FirstRows

if TYPE_CHECKING:
    from ..sync.sync import SyncReport

POLL_SECONDS = 0.5


class CrmApp(App[None]):
    """Keyboard-first browser and editor of one vault."""

    CSS_PATH = "app.tcss"
    TITLE = "crmnotes"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help"),  # first, so the footer always shows it at 80 columns
        Binding("a", "add_customer", "Add"),
        Binding("l", "log_followup", "Log"),
        Binding("e", "edit_fields", "Edit"),
        Binding("u", "due_view", "Due"),
        Binding("w", "agenda", "Agenda", show=False),
        Binding("T", "tasks", "Tasks", show=False),
        Binding("b", "pipeline", "Pipeline"),
        Binding("r", "reports", "Reports"),
        Binding("S", "sync", "Sync"),
        Binding("D", "deal", "Deal", show=False),
        Binding("t", "ticket", "Ticket", show=False),
        Binding("h", "history", "History", show=False),
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_reveal", "Reveal phones", show=False),
        Binding("ctrl+r", "refresh", "Reload", show=False),
    ]

    def __init__(self, vault: Vault, *, today: date | None = None, now: datetime | None = None,
                 user: str | None = None, poll_seconds: float | None = POLL_SECONDS) -> None:
        super().__init__()
        self.vault = vault
        self._today = today
        self._now = now
        self.user = user if user is not None else vault_user(vault.root, vault.config.user)
        self.poll_seconds = poll_seconds
        self.reveal = False
        self.sync_status = ""  # the running sync's current step, shown in the main screen's status line
        self.sync_steps: list[str] = []  # every step of the latest sync, as it was shown
        first = QuickFilters()  # the main screen's first view: its rows are read while Textual starts
        self.first_rows: FirstRows | None = FirstRows(vault, first.to_filters(self.user), first.sort, self.today,
                                                      baseline=bool(poll_seconds))

    # ------------------------------------------------------------ clock

    @property
    def today(self) -> date:
        return self._today or (self._now.date() if self._now else date.today())

    def now(self) -> datetime:
        """The default time of a new follow-up (fixed when the app was given one)."""
        return (self._now or datetime.now()).replace(second=0, microsecond=0)

    # ------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        self.push_screen(MainScreen())
        if self.poll_seconds:
            self.watch_files(self.poll_seconds, self.first_rows)
        self._start_auto_sync()

    @property
    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def watch_files(self, every: float, first: FirstRows | None = None) -> None:
        """Poll customers/ and post one ``VaultChanged`` per burst of changes.

        The baseline is the one ``first`` took before reading the first rows
        (a file changed meanwhile is then noticed), when there is one.
        """
        worker = get_current_worker()
        seen = first.wait_baseline() if first is not None else None
        first = None  # its rows belong to the main screen, which lets them go once shown
        if seen is None:
            seen = live.signature(self.vault)
        while not worker.is_cancelled:
            time.sleep(every)
            current = live.signature(self.vault)
            if current != seen and not worker.is_cancelled:
                seen = current
                self.post_message(VaultChanged())

    def on_vault_changed(self, message: VaultChanged) -> None:
        from .. import search  # no Whoosh import: tells this process's open searcher to check every file

        search.invalidate(self.vault)  # an in-place edit moves no folder: search would see it only later
        self.refresh_screens()

    def refresh_screens(self) -> None:
        for screen in self.screen_stack:
            refresh = getattr(screen, "vault_changed", None)
            if refresh is not None:
                refresh()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed worker is a notification, never a crash."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            message = str(error) if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
            self.notify(message, title="Something went wrong", severity="error", timeout=8)

    # ------------------------------------------------------------ sync

    def _start_auto_sync(self) -> None:
        from ..sync.auto import settings

        try:
            every = settings(self.vault.config).interval_seconds
        except CrmError as exc:
            self.notify(str(exc), title="Auto-sync is off", severity="error", timeout=8)
            return
        if every:
            self.set_interval(every, lambda: self.action_sync(auto=True), name="auto-sync")

    @property
    def syncing(self) -> bool:
        return any(w.group == "sync" and not w.is_finished for w in self.workers)

    def action_sync(self, auto: bool = False) -> None:
        """Commit, merge the remote's changes and push (``crm sync``), in a worker."""
        if self.syncing:
            if not auto:
                self.notify("A sync is already running.")
            return
        if not auto:
            self.notify("Committing, merging and pushing…", title="Sync started")
        self.sync_steps = []
        self._sync_step("starting")
        self.run_sync(auto)

    @work(thread=True, group="sync", exit_on_error=False)
    def run_sync(self, auto: bool) -> None:
        from ..sync.sync import sync  # deferred: GitPython loads only when syncing

        try:
            report = sync(self.vault.root, progress=lambda step: self.call_from_thread(self._sync_step, step))
        except CrmError as exc:
            self.call_from_thread(self._sync_failed, exc, auto)
            return
        self.call_from_thread(self._sync_done, report, auto)

    def _sync_step(self, step: str) -> None:
        self.sync_status = f"sync: {step}…" if step else ""
        if step:
            self.sync_steps.append(step)
        if any(isinstance(s, MainScreen) for s in self.screen_stack):
            self.main.update_status()

    def _sync_failed(self, error: CrmError, auto: bool) -> None:
        self._sync_step("")
        title = "Auto-sync failed" if auto else "Sync failed"
        self.notify(str(error), title=title, severity="error", timeout=12)

    def _sync_done(self, report: SyncReport, auto: bool) -> None:
        self._sync_step("")
        lines = [f"committed: {report.committed}"] if report.committed else []
        if report.merged_commits:
            lines.append(f"merged {report.merged_commits} commit(s) from {report.remote}/{report.branch} "
                         f"({len(report.merged_files)} file(s))")
        if report.pushed:
            lines.append(f"pushed to {report.remote}/{report.branch}")
        lines += report.notes
        changed = bool(report.committed or report.merged_commits)
        if not auto or changed:
            self.notify("\n".join(lines) or "Nothing to commit; up to date.", title="Synced", timeout=6)
        if report.merged_commits:
            self.refresh_screens()  # merged files: re-read now rather than at the next poll

    # ------------------------------------------------------------ actions

    def current_path(self) -> Path | None:
        """The customer the user is looking at (detail) or has selected (lists)."""
        for screen in reversed(self.screen_stack):
            finder = getattr(screen, "current_path", None)
            if finder is not None:
                return finder()  # type: ignore[no-any-return]
        return None

    def _current_customer(self):  # type: ignore[no-untyped-def]
        path = self.current_path()
        if path is None:
            self.notify("Select a customer first.", severity="warning")
            return None
        try:
            return self.vault.read(path)
        except CrmError as exc:
            self.notify(str(exc), title="Cannot open this customer", severity="error")
            return None

    def _after_save(self, path: Path | None) -> None:
        if path is None:
            return
        self.notify(f"Saved {self.vault.relative(path)}", title="Saved")
        self.main.reload(keep=path)
        for screen in self.screen_stack:
            if hasattr(screen, "vault_changed") and screen is not self.main:
                screen.vault_changed()  # type: ignore[attr-defined]

    def action_log_followup(self) -> None:
        from .screens.forms import LogForm

        customer = self._current_customer()
        if customer is not None:
            self.push_screen(LogForm(customer), self._after_save)

    def action_edit_fields(self) -> None:
        from .screens.forms import EditFieldsForm

        customer = self._current_customer()
        if customer is not None:
            self.push_screen(EditFieldsForm(customer), self._after_save)

    def action_add_customer(self) -> None:
        from .screens.forms import AddCustomerForm

        self.push_screen(AddCustomerForm(), self._after_save)

    def action_due_view(self) -> None:
        from .screens.due import DueScreen

        self.push_screen(DueScreen())

    def action_agenda(self) -> None:
        from .screens.agenda import AgendaScreen

        self.push_screen(AgendaScreen())

    def action_tasks(self) -> None:
        from .screens.agenda import AgendaScreen

        self.push_screen(AgendaScreen(tasks_only=True))

    def action_pipeline(self) -> None:
        from .screens.pipeline import PipelineScreen

        self.push_screen(PipelineScreen())

    def action_reports(self) -> None:
        from .screens.reports import ReportsScreen

        self.push_screen(ReportsScreen())

    def _current_record(self) -> str | None:
        """The deal or ticket the screen on top has selected (the pipeline board's card)."""
        finder = getattr(self.screen, "current_record", None)
        return finder() if finder is not None else None  # type: ignore[no-any-return]

    def action_deal(self) -> None:
        from .screens.records import DealForm

        customer = self._current_customer()
        if customer is not None:
            self.push_screen(DealForm(customer, self._current_record()), self._after_save)

    def action_ticket(self) -> None:
        from .screens.records import TicketForm

        customer = self._current_customer()
        if customer is not None:
            self.push_screen(TicketForm(customer), self._after_save)

    def action_history(self) -> None:
        from .screens.history import HistoryScreen

        path = self.current_path()
        if path is None:
            self.notify("Select a customer first.", severity="warning")
            return
        self.push_screen(HistoryScreen(path))

    def action_toggle_reveal(self) -> None:
        self.reveal = not self.reveal
        self.notify("Phone numbers shown." if self.reveal else "Phone numbers masked.")
        for screen in self.screen_stack:
            if hasattr(screen, "refresh_view"):
                screen.refresh_view()

    def action_refresh(self) -> None:
        self.refresh_screens()

    def action_help(self) -> None:
        from .screens.agenda import AgendaScreen
        from .screens.detail import DetailScreen
        from .screens.due import DueScreen
        from .screens.forms import FormScreen
        from .screens.help import HelpScreen
        from .screens.history import HistoryScreen
        from .screens.pipeline import PipelineScreen
        from .screens.reports import ReportsScreen

        groups = [("Everywhere", self.BINDINGS), ("Customer table", MainScreen.BINDINGS),
                  ("Customer detail", DetailScreen.BINDINGS), ("Due list", DueScreen.BINDINGS),
                  ("Agenda and tasks", AgendaScreen.BINDINGS),
                  ("Pipeline board", PipelineScreen.BINDINGS), ("Reports", ReportsScreen.BINDINGS),
                  ("History", HistoryScreen.BINDINGS), ("Forms", FormScreen.BINDINGS)]
        self.push_screen(HelpScreen(groups))  # type: ignore[arg-type]

    # ------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main = self.main
        yield SystemCommand("Add customer", "Create a customer (same rules as crm add)", self.action_add_customer)
        yield SystemCommand("Log follow-up", "Append a follow-up to the selected customer", self.action_log_followup)
        yield SystemCommand("Edit fields", "Change the selected customer's fields", self.action_edit_fields)
        yield SystemCommand("Due today", "Who to contact today and why", self.action_due_view)
        yield SystemCommand("Deal: add or update", "A deal of the selected customer (same as crm deal)",
                            self.action_deal)
        yield SystemCommand("Ticket: open, update or close", "A service ticket of the selected customer "
                            "(same as crm ticket)", self.action_ticket)
        yield SystemCommand("Pipeline board", "Deals by stage with totals and weighted forecast",
                            self.action_pipeline)
        yield SystemCommand("Reports", "Funnel, sources and activity charts", self.action_reports)
        yield SystemCommand("Sync", "Commit, merge the remote's changes and push (crm sync)", self.action_sync)
        yield SystemCommand("History", "Who changed the selected customer, from git", self.action_history)
        yield SystemCommand("Reveal / mask phones", "Toggle showing phone numbers", self.action_toggle_reveal)
        yield SystemCommand("Reload", "Read the vault again", self.action_refresh)
        yield SystemCommand("Help: keys", "Every key binding", self.action_help)
        yield SystemCommand("Search", "Focus the search box", main.action_focus_search)
        yield SystemCommand("Filter…", "Filter by stage, grade, tag, owner", main.action_filters)
        yield SystemCommand("Filter: next stage", "Cycle the stage filter", main.action_cycle_stage)
        yield SystemCommand("Filter: mine", "Only my customers (toggle)", main.action_toggle_mine)
        yield SystemCommand("Filter: due today", "Due on or before today (toggle)",
                            lambda: main.action_due_filter("today"))
        yield SystemCommand("Filter: overdue", "Due before today (toggle)", lambda: main.action_due_filter("overdue"))
        yield SystemCommand("Filter: clear", "Clear the search box and filters", main.action_clear_filters)
        yield SystemCommand("Sort: next column", "Cycle the sort column", main.action_cycle_sort)
        yield SystemCommand("Sort: reverse", "Reverse the sort order", main.action_reverse_sort)


def make_app(vault: Vault, *, today: date | None = None, now: datetime | None = None, user: str | None = None,
             poll_seconds: float | None = POLL_SECONDS) -> CrmApp:
    """The app for ``vault``; tests pass a fixed ``today``/``now`` and user."""
    _start_resource_tracker()
    return CrmApp(vault, today=today, now=now, user=user, poll_seconds=poll_seconds)


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker while stderr is still the real one.

    A large index build runs in spawned worker processes; the first spawn
    starts the tracker and hands it ``sys.stderr.fileno()``, which inside a
    running Textual app is -1 (output is captured) and makes the spawn fail.
    Started here, before the app captures output, later spawns just reuse it.
    """
    from multiprocessing import resource_tracker

    try:
        resource_tracker.ensure_running()
    except (OSError, ValueError):
        pass  # no tracker: the index falls back to reading files, which still works
