"""Modal forms: log a follow-up, add a customer, edit fields.

Every form calls the same ``crmnotes.actions`` use case as the CLI; the
library validates and refuses before writing, and each ``FieldIssue`` is
shown under the field it is about.  A form dismisses with the path it wrote,
or None when cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from ... import actions
from ...config import ChoiceSet
from ...errors import CrmError, DuplicateError, ValidationError
from ...model import Customer, FieldIssue, format_minute
from ...safetext import terminal_text
from ...sensitive import redact
from ..roles import WaitsForKeys
from ..widgets.text import safe_text

if TYPE_CHECKING:
    from ..app import CrmApp

STRUCTURED = {"id", "created", "deals", "tickets", "conflicts"}


def choice_select(choices: ChoiceSet, value: str = "", prompt: str = "", blank: bool = True) -> Select[str]:
    options = [(safe_text(f"{c.label} ({c.id})" if c.label else c.id, multiline=False), c.id)
               for c in choices.items if not c.computed]
    if value and value not in {v for _, v in options}:
        options.append((safe_text(value, multiline=False), value))  # an unknown stored value: selectable, no crash
    return Select(options, value=value if value else Select.NULL, allow_blank=blank, prompt=prompt or "(none)",
                  compact=True)


class FormScreen(ModalScreen[Path | None], WaitsForKeys):
    """A titled dialog of labelled fields with a message line under each."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save"),
        # Moving between fields at once, as the key arrives: a key typed right after a tab then goes to the next
        # field even in a burst (pasted text, a fast typist), not to the field the tab was meant to leave.
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
    ]
    heading = ""
    first_field = ""  # the field that has focus when the form opens (default: the first one)

    def __init__(self) -> None:
        super().__init__()
        # Keys typed before the first field can take them wait here (see ``CrmApp.on_event``); None once it can.
        self.keys_before_ready = []

    @property
    def crm(self) -> CrmApp:
        return self.app  # type: ignore[return-value]  # the running App is always a CrmApp

    def fields(self) -> list[tuple[str, str, Widget]]:
        """(field name, label, input widget) of each field, in order."""
        raise NotImplementedError

    def save(self) -> Path | None:
        """Write through the library; raise ``CrmError`` to stay open."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            title = safe_text(self.heading, multiline=False)
            if intro := self.intro():
                title.append("\n").append_text(safe_text(intro, "dim not bold", multiline=False))
            yield Static(title, classes="form-title")
            yield Static("", id="form-error", classes="form-error")
            with VerticalScroll(id="form-body"):
                for name, label, widget in self.fields():
                    widget.id = f"f-{name}"
                    if isinstance(widget, Input):  # the first key typed adds to a value, never erases it all
                        widget.select_on_focus = False
                    yield Horizontal(Label(label, classes="field-label"), widget, classes="field")
                    yield Static("", id=f"err-{name}", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Save ^s", variant="primary", id="save", compact=True)
                yield from self.extra_buttons()
                yield Button("Cancel esc", id="cancel", compact=True)

    def intro(self) -> str:
        """A line under the title saying what the form will record beyond its fields."""
        return ""

    def on_mount(self) -> None:
        self.call_after_refresh(self._ready_for_keys)
        for select in self.query(Select):
            self.watch(select, "expanded", self._dropdown_toggled, init=False)

    def _dropdown_toggled(self, expanded: bool) -> None:
        """Hide the buttons while a dropdown is open: where its rows cross a button's edge, the terminal
        renderer cuts the row there and a Chinese character split by the cut is lost (官   (website))."""
        self.query_one(".buttons").set_class(any(s.expanded for s in self.query(Select)), "-covered")

    def _ready_for_keys(self) -> None:
        """Focus the first field now (not at the next idle) and hand it the keys typed so far."""
        try:
            named = self.query(f"#f-{self.first_field}") if self.first_field else None
            target = named.first() if named else next((w for w in self.query(".field > *") if w.focusable), None)
            if target is not None:
                self.set_focus(target)
        finally:  # whatever happened, the keys must not stay held back
            self.app.call_later(self.crm.replay_keys, self)

    def extra_buttons(self) -> list[Button]:
        """More buttons between Save and Cancel; pressing one calls ``button_action(id)``."""
        return []

    def button_action(self, button_id: str) -> None:
        """A button of ``extra_buttons`` was pressed."""

    def value(self, name: str) -> str:
        widget = self.query_one(f"#f-{name}")
        if isinstance(widget, Input):
            return widget.value
        if isinstance(widget, TextArea):
            return widget.text
        if isinstance(widget, Select):
            return "" if widget.is_blank() else str(widget.value)
        raise TypeError(f"no value for {widget!r}")

    def show_issues(self, issues: list[FieldIssue], general: str = "") -> None:
        """Each message under its field; those of no field in the form at the top."""
        by_field: dict[str, list[str]] = {}
        leftover = [general] if general else []
        for issue in issues:
            if self.query(f"#err-{issue.field}"):
                by_field.setdefault(issue.field, []).append(issue.message)
            else:
                leftover.append(f"{issue.field}: {issue.message}")
        for widget in self.query(".field-error").results(Static):
            name = (widget.id or "").removeprefix("err-")
            widget.update(safe_text(redact("\n".join(by_field.get(name, [])))))
            widget.set_class(name in by_field, "-shown")
        top = self.query_one("#form-error", Static)
        top.update(safe_text(redact("\n".join(leftover))))  # masked: a message may quote what was typed
        top.set_class(bool(leftover), "-shown")
        if by_field:
            first = self.query_one(f"#f-{next(iter(by_field))}")
            first.focus()
            first.scroll_visible()

    def action_save(self) -> None:
        self.attempt(self.save)

    def attempt(self, write: Callable[[], Path | None]) -> None:
        """Run ``write``; on a refusal show why and stay open, else close with its path."""
        try:
            path = write()
        except ValidationError as exc:
            self.show_issues(exc.issues, f"Nothing was saved: {len(exc.issues)} problem(s) below.")
            return
        except CrmError as exc:
            self.show_issues([], str(exc))
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        elif event.button.id == "cancel":
            self.action_cancel()
        else:
            self.button_action(event.button.id or "")


class LogForm(FormScreen):
    """Log a follow-up exactly as ``crm log`` would."""

    def __init__(self, customer: Customer) -> None:
        super().__init__()
        self.customer = customer
        self.heading = f"Log a follow-up · {customer.name}"

    def fields(self) -> list[tuple[str, str, Widget]]:
        config = self.crm.vault.config
        now = self.crm.now()
        return [
            ("at", "time", Input(format_minute(now).replace("T", " "), placeholder="YYYY-MM-DD HH:MM", compact=True)),
            ("channel", "channel", choice_select(config.channels, "phone", blank=False)),
            ("note", "note", TextArea(soft_wrap=True)),
            ("next", "next step", Input(placeholder="YYYY-MM-DD what to do", compact=True)),
            ("feedback", "feedback", Input(placeholder="what the customer said", compact=True)),
            ("stage", "move stage", choice_select(config.stages, prompt="(no change)")),
        ]

    first_field = "note"

    def intro(self) -> str:
        return f"recorded as {self.crm.user} (user: in crmnotes.yaml or CRMNOTES_USER to change)"

    def save(self) -> Path | None:
        entry = actions.LogEntry(note=self.value("note"), channel=self.value("channel"), at=self.value("at"),
                                 by=self.crm.user, next=self.value("next"), feedback=self.value("feedback"),
                                 stage=self.value("stage"))
        vault = self.crm.vault_of(self.customer.path)  # in a workspace: the mount holding the customer
        customer = vault.read(self.customer.path)  # the newest version, not the one on screen
        return actions.log_followup(vault, customer, entry, now=self.crm.now()).path


class AddCustomerForm(FormScreen):
    """Create a customer exactly as ``crm add`` would (duplicates refused once)."""

    heading = "Add a customer"

    def __init__(self) -> None:
        super().__init__()
        self._confirmed_duplicate: actions.NewCustomer | None = None

    def fields(self) -> list[tuple[str, str, Widget]]:
        config = self.crm.vault.config
        return [
            ("name", "name *", Input(compact=True)),
            ("industry", "industry *", Input(placeholder="互联网 / internet / …", compact=True)),
            ("contact", "contact *", Input(compact=True)),
            ("phone", "phone", Input(placeholder="138 0013 8000", compact=True)),
            ("email", "email", Input(compact=True)),
            ("source", "source", choice_select(config.choice_set("sources"))),
            ("stage", "stage", choice_select(config.stages, config.initial_stage, blank=False)),
            ("grade", "grade", choice_select(config.choice_set("grades"))),
            ("owner", "owner", Input(self.crm.user, compact=True)),
            ("tags", "tags", Input(placeholder="needs/data-security, budget/50k-plus", compact=True)),
        ]

    def draft(self) -> actions.NewCustomer:
        from ...rules import split_tags

        return actions.NewCustomer(
            name=self.value("name"), industry=self.value("industry"), contact=self.value("contact"),
            phone=self.value("phone"), email=self.value("email"), source=self.value("source"),
            stage=self.value("stage"), grade=self.value("grade"), owner=self.value("owner"),
            tags=split_tags(self.value("tags")),
        )

    def save(self) -> Path | None:
        draft = self.draft()
        force = draft == self._confirmed_duplicate
        try:
            return actions.add_customer(self.crm.vault_for_owner(draft.owner), draft, force=force,
                                        now=self.crm.now()).path
        except DuplicateError as exc:
            # Shown once; saving the same input again adds it anyway (the CLI's --force).
            self._confirmed_duplicate = draft
            raise CrmError(exc.message, "Save again to add it anyway.") from None


class EditFieldsForm(FormScreen):
    """Change front-matter fields exactly as ``crm set`` would: only the
    fields whose text changed are written; an emptied field is removed."""

    def __init__(self, customer: Customer) -> None:
        super().__init__()
        self.customer = customer
        self.heading = f"Edit fields · {customer.name}"
        self.original: dict[str, str] = {}

    def _names(self) -> list[str]:
        config = self.crm.vault.config
        names = [n for n in config.fields if n not in STRUCTURED]
        extra = [str(k) for k, v in self.customer.meta.items()
                 if str(k) not in names and str(k) not in STRUCTURED and isinstance(v, (str, int, float))]
        return names + extra

    def _text(self, name: str) -> str:
        if name == "tags":
            return ", ".join(self.customer.tags)
        value: Any = self.customer.meta.get(name)
        return ", ".join(str(v) for v in value) if isinstance(value, list) else self.customer.text(name)

    def fields(self) -> list[tuple[str, str, Widget]]:
        config = self.crm.vault.config
        result: list[tuple[str, str, Widget]] = []
        for name in self._names():
            # shown inert; only a field whose text is then changed is written, so the others keep their bytes
            text = terminal_text(self._text(name), multiline=False)
            self.original[name] = text
            choices = config.choices_for(name)
            widget: Widget
            if choices is not None and choices.strict:
                widget = choice_select(choices, text)
            else:
                widget = Input(text, compact=True)
            definition = config.fields.get(name)
            required = " *" if definition and definition.required else ""
            result.append((name, f"{name}{required}", widget))
        return result

    def changes(self) -> dict[str, str]:
        return {name: self.value(name) for name, before in self.original.items() if self.value(name) != before}

    def save(self) -> Path | None:
        changes = self.changes()
        if not changes:
            self.notify("Nothing changed.")
            return None
        vault = self.crm.vault_of(self.customer.path)
        return actions.set_fields(vault, vault.read(self.customer.path), changes).path


class NotesForm(FormScreen):
    """Edit the customer's free-text notes (the prose under the title); only those bytes change."""

    first_field = "notes"

    def __init__(self, customer: Customer) -> None:
        super().__init__()
        self.customer = customer
        self.heading = f"Notes · {customer.name}"
        self.original = ""

    def fields(self) -> list[tuple[str, str, Widget]]:
        from ...notes import notes_text

        self.original = notes_text(self.crm.vault.read_document(self.customer.path))
        return [("notes", "notes", TextArea(self.original, soft_wrap=True))]

    def save(self) -> Path | None:
        from ...notes import set_notes

        if self.value("notes").strip() == self.original:
            self.notify("Nothing changed.")
            return None
        vault = self.crm.vault_of(self.customer.path)
        return set_notes(vault, vault.read(self.customer.path), self.value("notes")).path
