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

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from ..errors import CrmError
from ..identity import current_user
from ..vault import Vault
from . import live
from .messages import VaultChanged
from .query import QuickFilters
from .roles import Refreshes, ShowsCustomer, ShowsRecord, WaitsForKeys
from .screens.main import MainScreen
from .startup import FirstRows, signature, table_rows

if TYPE_CHECKING:
    from ..actions import Filters
    from ..catalog import DueItem, Row
    from ..model import Customer
    from ..sync.sync import SyncReport
    from ..workspace import Workspace

POLL_SECONDS = 0.5


class CrmApp(App[None]):
    """Keyboard-first browser and editor of one vault."""

    CSS_PATH = "app.tcss"
    TITLE = "crmnotes"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Help and Quit first: the footer shows them even at 80 columns, after the screen's own keys
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
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
        Binding("n", "edit_notes", "Notes", show=False),
        Binding("E", "open_in_editor", "Open in $EDITOR", show=False),
        Binding("p", "toggle_reveal", "Reveal phones", show=False),
        Binding("ctrl+r", "refresh", "Reload", show=False),
        Binding("home", "first_row", "First row", show=False, priority=True),
        Binding("end", "last_row", "Last row", show=False, priority=True),
    ]

    def __init__(self, vault: Vault, *, today: date | None = None, now: datetime | None = None,
                 user: str | None = None, poll_seconds: float | None = POLL_SECONDS,
                 workspace: Workspace | None = None) -> None:
        super().__init__()
        self.vault = vault
        self.workspace = workspace if workspace is not None and workspace.mounted else None
        self._today = today
        self._now = now
        self.user = user if user is not None else current_user(vault.root, vault.config)
        self.poll_seconds = poll_seconds
        self.reveal = False
        self.sync_status = ""  # the running sync's current step, shown in the main screen's status line
        self.sync_steps: list[str] = []  # every step of the latest sync, as it was shown
        first = QuickFilters()  # the main screen's first view: its rows are read while Textual starts
        self.first_rows: FirstRows | None = FirstRows(vault, first.to_filters(self.user), first.sort, self.today,
                                                      baseline=bool(poll_seconds), workspace=self.workspace)

    # ------------------------------------------------------------ the vault, or the mounts of a workspace

    @property
    def vaults(self) -> list[Vault]:
        """What the table and the search box span: the mounts of a workspace, else the vault."""
        return self.workspace.vaults if self.workspace else [self.vault]

    def vault_of(self, path: Path) -> Vault:
        """The vault a customer file belongs to (where its changes are written)."""
        return self.workspace.mount_of(path).vault if self.workspace else self.vault

    def vault_for_owner(self, owner: str) -> Vault:
        """Where a new customer of ``owner`` goes (``crm add``'s rule)."""
        return self.workspace.for_owner(owner).vault if self.workspace else self.vault

    def table_rows(self, filters: Filters, sort: str, today: date) -> list[Row]:
        return table_rows(self.vault, self.workspace, filters, sort, today)

    def signature(self) -> live.Signature:
        return signature(self.vault, self.workspace)

    def due_items(self, day: date, owner: str = "") -> list[DueItem]:
        """The due screen's items (in a workspace: of every mount, paths absolute like the table's)."""
        from .. import catalog, workspace

        if self.workspace is None:
            return catalog.due(self.vault, day, owner)[0]
        found, _ = workspace.due(self.workspace, day, owner)
        for mount, item in found:
            item.entry.path = str(mount.vault.root / item.entry.path)
        return [item for _, item in found]

    def report_customers(self, owner: str = "") -> list[Customer]:
        """The customers the pipeline and the report charts count (in a workspace: of every mount)."""
        from .. import catalog, workspace

        if self.workspace is None:
            return catalog.report_customers(self.vault, owner).customers
        return workspace.report_customers(self.workspace, owner).customers

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

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification (widgets and screens call this one): shown as plain text, controls and escape
        sequences visible, ID and card numbers masked, whatever file name or value the message quotes."""
        from ..safetext import terminal_text
        from ..sensitive import redact

        super().notify(terminal_text(redact(message)), title=terminal_text(redact(title), multiline=False),
                       severity=severity, timeout=timeout, markup=False)

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
            seen = self.signature()
        while not worker.is_cancelled:
            time.sleep(every)
            current = self.signature()
            if current != seen and not worker.is_cancelled:
                seen = current
                self.post_message(VaultChanged())

    async def on_event(self, event: events.Event) -> None:
        """Keys typed while a form is still opening wait for its first field (``FormScreen.keys_before_ready``):
        those that reached the previous screen's focused widget first and came back unhandled too."""
        if isinstance(event, events.Key):  # only then: at shutdown other events come with no screen left
            screen = self.screen
            if isinstance(screen, WaitsForKeys) and screen.keys_before_ready is not None:
                screen.keys_before_ready.append(event)
                return
        await super().on_event(event)

    async def replay_keys(self, screen: Screen) -> None:
        """Hand ``screen`` the keys typed before it was ready, in order, as if they came now."""
        if not isinstance(screen, WaitsForKeys):
            return
        keys, screen.keys_before_ready = screen.keys_before_ready or [], None
        for key in keys:
            if self.screen is not screen:  # a key (escape, ctrl+s) closed it: the rest were meant for it
                break
            fresh = events.Key(key.key, key.character)
            fresh.set_sender(self)
            await super().on_event(fresh)

    def on_vault_changed(self, message: VaultChanged) -> None:
        from .. import search  # no Whoosh import: tells this process's open searcher to check every file

        for vault in self.vaults:  # an in-place edit moves no folder: search would see it only later
            search.invalidate(vault)
        self.refresh_screens()

    def refresh_screens(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, Refreshes):
                screen.vault_changed()

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
            if isinstance(screen, ShowsCustomer):
                return screen.current_path()
        return None

    def _current_customer(self) -> Customer | None:
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
                screen.vault_changed()

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

    def action_edit_notes(self) -> None:
        from .screens.forms import NotesForm

        customer = self._current_customer()
        if customer is not None:
            self.push_screen(NotesForm(customer), self._after_save)

    def action_open_in_editor(self) -> None:
        """The customer's file in $EDITOR, the terminal handed over meanwhile; back on the same customer."""
        from textual.app import SuspendNotSupported

        from ..actions import run_editor

        path = self.current_path()
        if path is None:
            self.notify("Select a customer first.", severity="warning")
            return
        failed: list[CrmError] = []

        def edit() -> None:
            try:
                run_editor(path)
            except CrmError as exc:  # caught in here: an exception leaving suspend() would not resume the app
                failed.append(exc)

        try:
            with self.suspend():
                edit()
        except SuspendNotSupported:  # no terminal to hand over (a test, a browser): the editor runs as it is
            edit()
        if failed:
            self.notify(str(failed[0]), title="Cannot open the editor", severity="error")
            return
        self.refresh_screens()
        self.main.reload(keep=path)

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
        return self.screen.current_record() if isinstance(self.screen, ShowsRecord) else None

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
        self.push_screen(HelpScreen(groups))

    # ------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Each command once, titled in English and Chinese (``跟进`` finds "Log a follow-up")."""
        main = self.main
        ours = [
            ("Add a customer · 新增客户", "Create a customer (same rules as crm add)", self.action_add_customer),
            ("Log a follow-up · 记录跟进", "Append a follow-up to the selected customer", self.action_log_followup),
            ("Edit fields · 编辑字段", "Change the selected customer's fields", self.action_edit_fields),
            ("Edit notes · 编辑备注", "The selected customer's free-text notes", self.action_edit_notes),
            ("Open in $EDITOR · 用编辑器打开", "The selected customer's file in your editor",
             self.action_open_in_editor),
            ("Due today · 今日待跟进", "Who to contact today and why", self.action_due_view),
            ("Deal: add or update · 商机", "A deal of the selected customer (same as crm deal)", self.action_deal),
            ("Ticket: open, update or close · 服务工单", "A service ticket of the selected customer "
             "(same as crm ticket)", self.action_ticket),
            ("Pipeline board · 商机看板", "Deals by stage with totals and weighted forecast", self.action_pipeline),
            ("Reports · 报表", "Funnel, sources and activity charts", self.action_reports),
            ("Sync · 同步", "Commit, merge the remote's changes and push (crm sync)", self.action_sync),
            ("History · 修改历史", "Who changed the selected customer, from git", self.action_history),
            ("Reveal / mask phones · 显示电话", "Toggle showing phone numbers", self.action_toggle_reveal),
            ("Reload · 刷新", "Read the vault again", self.action_refresh),
            ("Help: keys · 帮助 快捷键", "Every key binding", self.action_help),
            ("Search · 搜索", "Focus the search box", main.action_focus_search),
            ("Filter… · 筛选", "Filter by stage, grade, tag, owner", main.action_filters),
            ("Filter: next stage · 按阶段筛选", "Cycle the stage filter", main.action_cycle_stage),
            ("Filter: mine · 我的客户", "Only my customers (toggle)", main.action_toggle_mine),
            ("Filter: due today · 今日到期", "Due on or before today (toggle)",
             lambda: main.action_due_filter("today")),
            ("Filter: overdue · 逾期", "Due before today (toggle)", lambda: main.action_due_filter("overdue")),
            ("Filter: clear · 清除筛选", "Clear the search box and filters", main.action_clear_filters),
            ("Sort: next column · 排序", "Cycle the sort column", main.action_cycle_sort),
            ("Sort: reverse · 倒序", "Reverse the sort order", main.action_reverse_sort),
        ]
        for title, help_text, callback in ours:
            yield SystemCommand(title, help_text, callback)
        for command in super().get_system_commands(screen):
            if command.title not in ("Keys", "Quit"):  # our help lists every key; quit is below, once
                yield command
        yield SystemCommand("Quit · 退出", "Leave crmnotes", self.action_quit)

    # ------------------------------------------------------------ rows

    def action_first_row(self) -> None:
        self._jump_row(top=True)

    def action_last_row(self) -> None:
        self._jump_row(top=False)

    def _jump_row(self, top: bool) -> None:
        """Home / End on a list of rows go to its first / last row (a text field keeps them for itself)."""
        from textual.actions import SkipAction
        from textual.widgets import DataTable

        focused = self.focused
        if not isinstance(focused, DataTable) or focused.cursor_type != "row":
            raise SkipAction()
        if top:
            focused.action_scroll_top()
        else:
            focused.action_scroll_bottom()


def make_app(vault: Vault, *, today: date | None = None, now: datetime | None = None, user: str | None = None,
             poll_seconds: float | None = POLL_SECONDS, workspace: Workspace | None = None) -> CrmApp:
    """The app for ``vault`` (spanning ``workspace``'s mounts when given); tests pass a fixed ``today``/``now``
    and user."""
    _start_resource_tracker()
    return CrmApp(vault, today=today, now=now, user=user, poll_seconds=poll_seconds, workspace=workspace)


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
