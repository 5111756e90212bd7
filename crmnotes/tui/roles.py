"""What the app may ask of a screen, declared as base classes the screens inherit.

The app walks its screen stack and asks ``isinstance(screen, ShowsCustomer)`` rather than probing
for method names, so a renamed method is a type error, not a feature that silently stops working.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual import events


class Refreshes:
    """A screen showing vault data: re-reads it when customer files change on disk.

    The usual way, ready to use: ``load`` runs ``fetch`` in a worker thread (a newer load cancels an
    older one, so a burst of file changes ends in one fresh view) and hands what it found to ``show``
    on the app's thread; a file change loads again, and ``m`` (``toggle_mine``) flips ``mine`` and
    loads again.  A screen that reads otherwise overrides ``vault_changed``."""

    mine: bool = False  # only the user's customers, deals, tasks
    load_group = "load"  # the worker group of ``load``: one running load per screen kind

    def vault_changed(self) -> None:
        self.load()

    def action_toggle_mine(self) -> None:
        self.mine = not self.mine
        self.load()

    def load(self) -> None:
        self.run_worker(self._fetch_and_show, thread=True, exclusive=True,  # type: ignore[attr-defined]
                        group=self.load_group, exit_on_error=False)

    def fetch(self) -> Any:
        """What ``show`` shows, read from the vault (in the worker thread: no widgets touched)."""
        raise NotImplementedError

    def show(self, found: Any) -> Any:
        raise NotImplementedError

    def _fetch_and_show(self) -> None:
        found = self.fetch()
        self.app.call_from_thread(self.show, found)  # type: ignore[attr-defined]


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
