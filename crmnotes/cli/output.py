"""Printing for the CLI: rich tables (CJK-aware widths), JSON, errors.

User data is shown as plain ``Text`` (never parsed as markup) with control
characters, escape sequences and bidi controls made visible (``safetext``),
so a field cannot drive the terminal; JSON escapes every control; error
messages never show a full ID or bank card number.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..safetext import json_bytes, json_text, terminal_text
from ..sensitive import redact

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

    return Text(terminal_text(value), style=style)


def print_error(message: str, hint: str = "") -> None:
    """``crm: error: ...`` on stderr: one line, masked and inert whatever the message quotes."""
    from rich.text import Text

    text = Text("crm: error: ", style="bold red")
    text.append(terminal_text(redact(message), multiline=False))
    if hint:
        text.append(" " + terminal_text(redact(hint), multiline=False), style="dim")
    error_console().print(text)


def print_warning(message: str) -> None:
    from rich.text import Text

    error_console().print(Text("crm: warning: ", style="yellow") + safe(redact(message)))


def print_note(message: str) -> None:
    """A dim status line: styled by rich at a terminal; for a pipe or a log, the same text
    unstyled and unwrapped, without importing rich (~60 ms of ``crm index``)."""
    if sys.stdout.isatty():
        console().print(safe(message, "dim"))
        return
    sys.stdout.write(terminal_text(message) + "\n")


def print_json(data: Any) -> None:
    """Indented for a person at a terminal; compact for a pipe, where the C
    encoder is several times faster (``indent`` forces the Python one)."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json_text(json.dumps(data, ensure_ascii=False, indent=indent, default=str)) + "\n")


def print_json_text(text: str | bytes) -> None:
    """JSON that is already serialized (UTF-8 bytes or text): as it is for a pipe, indented for a person."""
    if sys.stdout.isatty():
        print_json(json.loads(text))
        return
    out = getattr(sys.stdout, "buffer", None)
    if isinstance(text, bytes) and out is not None and (sys.stdout.encoding or "").lower().replace("-", "") == "utf8":
        sys.stdout.flush()
        out.write(json_bytes(text) + b"\n")  # no decoding and re-encoding of megabytes
        out.flush()
        return
    sys.stdout.write(json_text(text.decode("utf-8", "surrogatepass") if isinstance(text, bytes) else text) + "\n")


def write_export(data: bytes, fmt: str) -> None:
    """An export written to stdout (a terminal, or a pipe that may end in one): JSON with every
    control escaped, the text formats with controls shown as visible escapes.  ``-o FILE`` keeps
    the exact bytes."""
    data = json_bytes(data) if fmt == "json" else terminal_text(data.decode("utf-8", "replace")).encode("utf-8")
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        sys.stdout.write(data.decode("utf-8", "replace"))
        return
    sys.stdout.flush()
    out.write(data)
    out.flush()
