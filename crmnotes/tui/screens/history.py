"""One customer's history from git, newest first: who committed what, which
fields changed from what to what, which follow-ups were added.  The data is
``crmnotes.sync.history.customer_history`` (what ``crm history`` prints);
phone numbers stay masked unless the app's reveal switch is on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from ...errors import CrmError
from ...safetext import terminal_text
from ..roles import Refreshes
from ..widgets.keys_footer import KeysFooter
from ..widgets.text import safe_text

if TYPE_CHECKING:
    from ...sync.history import Change
    from ..app import CrmApp


class HistoryScreen(Screen[None], Refreshes):
    """The committed changes of the customer in file ``path``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace,h", "app.pop_screen", "Back"),
        Binding("p", "app.toggle_reveal", "Reveal phone"),
    ]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.changes: list[Change] | None = None

    @property
    def crm(self) -> CrmApp:
        return self.app  # type: ignore[return-value]  # the running App is always a CrmApp

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="history"):
            yield Static("reading git history…", id="history-text")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = terminal_text(f"history · {self.crm.vault.relative(self.path)}", multiline=False)
        self.query_one("#history").focus()
        self.load()

    def refresh_view(self) -> None:
        self.load()  # reveal switched: masking is applied while loading

    load_group = "history"

    def fetch(self) -> tuple[list[Change], bool]:
        from ...sync.auto import settings
        from ...sync.history import customer_history, mask_phones, uncommitted  # deferred: only here runs git log

        vault = self.crm.vault
        pending = False
        try:
            changes = customer_history(vault.root, vault.relative(self.path))
            pending = not settings(vault.config).commit and uncommitted(vault.root, vault.relative(self.path))
        except CrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="No history", severity="error")
            changes = []
        if not self.crm.reveal:
            mask_phones(changes, vault.config.phone_region)
        return changes, pending

    def show(self, found: tuple[list[Change], bool]) -> None:
        changes, pending = found
        self.changes = changes
        view = render_changes(changes)
        if pending:
            view = Group(Text(PENDING_NOTE, style="yellow"), Text(""), view)
        self.query_one("#history-text", Static).update(view)


PENDING_NOTE = ("This customer has edits that are not history yet: history shows commits, and auto_commit is off. "
                "Press S (or run 'crm sync') to commit them, or set 'auto_commit: true' under 'sync:' "
                "in crmnotes.yaml to commit every change as it is made.")


def render_changes(changes: list[Change]) -> RenderableType:
    if not changes:
        return Text("No committed history yet: changes are recorded when the vault is synced (S).", style="dim")
    parts: list[RenderableType] = [Text(f"{len(changes)} change(s), newest first", style="bold")]
    for change in reversed(changes):
        head = Text(change.date.replace("T", " ")[:16], style="cyan")
        head.append(terminal_text(f"  {change.author}", multiline=False), style="bold")
        head.append(f"  {change.kind}", style="magenta")
        head.append(terminal_text(f"  {change.commit[:8]}  {change.subject}", multiline=False), style="dim")
        parts.append(Text("\n") + head)
        for item in change.fields:
            parts.append(safe_text(f"  {item['field']}: {_value(item['old'])} → {_value(item['new'])}"))
        for followup in change.followups:
            first = next((line for line in str(followup.get("note", "")).splitlines() if line.strip()), "")
            at = str(followup.get("at", "")).replace("T", " ")
            said = f"  + {at} {followup.get('channel', '')} {followup.get('by', '')}: "
            line = safe_text(said, "green", multiline=False)
            parts.append(line + safe_text(first))
    return Group(*parts)


def _value(value: object) -> str:
    if value is None:
        return "∅"
    if isinstance(value, list):
        return f"[{len(value)} item(s)]" if value and isinstance(value[0], dict) else ", ".join(map(str, value))
    return str(value)
