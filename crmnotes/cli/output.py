"""Printing for the CLI: rich tables (CJK-aware widths), JSON, errors.

User data is shown as plain ``Text`` (never parsed as markup) after control
characters and escape sequences are removed, so a field cannot drive the
terminal.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich (~75 ms to import) loads when something is printed for a person, not for --json
    from rich.console import Console
    from rich.text import Text


@lru_cache(maxsize=1)
def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


@lru_cache(maxsize=1)
def error_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def safe(value: Any, style: str = "") -> Text:
    """User data as inert text."""
    from rich.text import Text

    from ..note import clean_text

    return Text(clean_text("" if value is None else str(value)), style=style)


def print_error(message: str, hint: str = "") -> None:
    from rich.text import Text

    from ..note import clean_text

    text = Text("crm: error: ", style="bold red")
    text.append(clean_text(message))
    if hint:
        text.append(" " + clean_text(hint), style="dim")
    error_console().print(text)


def print_warning(message: str) -> None:
    from rich.text import Text

    error_console().print(Text("crm: warning: ", style="yellow") + safe(message))


def print_note(message: str) -> None:
    """A dim status line: styled by rich at a terminal; for a pipe or a log, the same text
    unstyled and unwrapped, without importing rich (~60 ms of ``crm index``)."""
    if sys.stdout.isatty():
        console().print(safe(message, "dim"))
        return
    from ..note import clean_text

    sys.stdout.write(clean_text(message) + "\n")


def print_json(data: Any) -> None:
    """Indented for a person at a terminal; compact for a pipe, where the C
    encoder is several times faster (``indent`` forces the Python one)."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=indent, default=str) + "\n")


def print_json_text(text: str | bytes) -> None:
    """JSON that is already serialized (UTF-8 bytes or text): as it is for a pipe, indented for a person."""
    if sys.stdout.isatty():
        print_json(json.loads(text))
        return
    out = getattr(sys.stdout, "buffer", None)
    if isinstance(text, bytes) and out is not None and (sys.stdout.encoding or "").lower().replace("-", "") == "utf8":
        sys.stdout.flush()
        out.write(text + b"\n")  # no decoding and re-encoding of megabytes
        out.flush()
        return
    sys.stdout.write((text.decode("utf-8", "surrogatepass") if isinstance(text, bytes) else text) + "\n")
