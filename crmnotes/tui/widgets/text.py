"""Vault text as inert rich ``Text`` for the TUI's widgets: escape sequences,
C0/C1 controls and bidi controls shown as visible escapes (``safetext``), never
sent to the terminal, never parsed as markup."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ...safetext import terminal_text


def safe_text(value: object, style: str = "", *, multiline: bool = True, **options: Any) -> Text:
    """``value`` as a Text; ``multiline=False`` for one-line places (table cells, titles)."""
    return Text(terminal_text(value, multiline=multiline), style=style, **options)
