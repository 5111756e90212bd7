"""Printing for the CLI: rich tables (CJK-aware widths), JSON, errors.

User data is shown as plain ``Text`` (never parsed as markup) after control
characters and escape sequences are removed, so a field cannot drive the
terminal.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import Any

from rich.console import Console
from rich.text import Text

from ..note import clean_text


@lru_cache(maxsize=1)
def console() -> Console:
    return Console(highlight=False, soft_wrap=False)


@lru_cache(maxsize=1)
def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def safe(value: Any, style: str = "") -> Text:
    """User data as inert text."""
    return Text(clean_text("" if value is None else str(value)), style=style)


def print_error(message: str, hint: str = "") -> None:
    text = Text("crm: error: ", style="bold red")
    text.append(clean_text(message))
    if hint:
        text.append(" " + clean_text(hint), style="dim")
    error_console().print(text)


def print_warning(message: str) -> None:
    error_console().print(Text("crm: warning: ", style="yellow") + safe(message))


def print_json(data: Any) -> None:
    """Indented for a person at a terminal; compact for a pipe, where the C
    encoder is several times faster (``indent`` forces the Python one)."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=indent, default=str) + "\n")


def print_json_text(text: str) -> None:
    """JSON that is already serialized (compact): as it is for a pipe, indented for a person."""
    if sys.stdout.isatty():
        print_json(json.loads(text))
        return
    sys.stdout.write(text + "\n")
