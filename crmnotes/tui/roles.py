"""What the app may ask of a screen, declared as base classes the screens inherit.

The app walks its screen stack and asks ``isinstance(screen, ShowsCustomer)`` rather than probing
for method names, so a renamed method is a type error, not a feature that silently stops working.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual import events


class Refreshes:
    """A screen showing vault data: re-reads it when customer files change on disk."""

    def vault_changed(self) -> None:
        raise NotImplementedError


class ShowsCustomer:
    """A screen where one customer is shown or selected: the target of log, edit, deal and ticket keys."""

    def current_path(self) -> Path | None:
        raise NotImplementedError


class ShowsRecord:
    """A screen where one deal or ticket is selected (the pipeline board's card)."""

    def current_record(self) -> str | None:
        raise NotImplementedError


class WaitsForKeys:
    """A screen that holds keys typed while it opens (``None`` once it is ready) for the app to replay."""

    keys_before_ready: list[events.Key] | None = None
