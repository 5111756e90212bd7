"""The filter form: stage, grade, tag and owner of the customer table."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...config import ChoiceSet
from ..query import QuickFilters
from ..widgets.text import safe_text
from .forms import choice_select

if TYPE_CHECKING:
    from ..app import CrmApp


class FilterScreen(ModalScreen[QuickFilters | None]):
    """Returns the new filters, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply")]

    def __init__(self, current: QuickFilters) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        config = _crm(self.app).vault.config
        stages = config.stages
        with Vertical(id="dialog"):
            yield Static("Filter customers (empty = any)", classes="form-title")
            yield Horizontal(Label("stage", classes="field-label"),
                             _stage_select(stages, self.current.stage), classes="field")
            yield Horizontal(Label("grade", classes="field-label"),
                             choice_select(config.choice_set("grades"), self.current.grade, prompt="(any)"),
                             classes="field")
            yield Horizontal(Label("tag", classes="field-label"),
                             Input(self.current.tag, placeholder="needs/ or needs/data-security", compact=True),
                             classes="field")
            yield Horizontal(Label("owner", classes="field-label"), Input(self.current.owner, compact=True),
                             classes="field")
            with Horizontal(classes="buttons"):
                yield Button("Apply ^s", variant="primary", id="apply", compact=True)
                yield Button("Clear", id="clear", compact=True)
                yield Button("Cancel esc", id="cancel", compact=True)

    def action_apply(self) -> None:
        selects = list(self.query(Select).results(Select))
        inputs = list(self.query(Input).results(Input))
        values = ["" if s.is_blank() else str(s.value) for s in selects]
        self.dismiss(self.current.with_(stage=values[0], grade=values[1], tag=inputs[0].value.strip(),
                                        owner=inputs[1].value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "apply":
            self.action_apply()
        elif event.button.id == "clear":
            self.dismiss(self.current.with_(stage="", grade="", tag="", owner=""))
        else:
            self.action_cancel()


def _stage_select(stages: ChoiceSet, value: str) -> Select[str]:
    # Unlike the forms, a filter may ask for the computed stage (silent).
    options = [(safe_text(f"{c.label} ({c.id})" if c.label else c.id, multiline=False), c.id) for c in stages.items]
    return Select(options, value=value or Select.NULL, allow_blank=True, prompt="(any)", compact=True)


def _crm(app: object) -> CrmApp:
    return app  # type: ignore[return-value]  # the running App is always a CrmApp
