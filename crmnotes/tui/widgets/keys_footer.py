"""Textual's footer of key bindings, rebuilt only when its keys change.

Every focus change asks the footer to rebuild its dozen key widgets (with
their styles), and starting a screen changes focus a few times with the
same keys; each rebuild costs tens of milliseconds before the first frame.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer


class KeysFooter(Footer):
    """A ``Footer`` that skips a rebuild which would show what it shows."""

    _shown: Any = None  # what the last rebuild showed (see ``_keys``)

    def _keys(self) -> Any:
        """Everything ``Footer.compose`` reads."""
        if not self._bindings_ready:
            return None
        bindings = tuple((binding, enabled, tooltip) for _, binding, enabled, tooltip
                         in self.screen.active_bindings.values())
        return self.compact, self.show_command_palette, self.combine_groups, bindings

    async def recompose(self) -> None:
        keys = self._keys()
        if keys is not None and keys == self._shown:
            return
        self._shown = keys
        await super().recompose()
