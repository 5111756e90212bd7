"""Text made safe for a terminal, and JSON that carries no raw control character.

Vault text is hostile input: a synced file name or a field can hold an escape
sequence that clears the screen (``ESC [2J``), writes the clipboard (OSC 52),
plants a hyperlink (OSC 8), or bidi controls that make ``gnp.exe`` read as
``exe.png``.  Every door to a terminal (the CLI's printing, the TUI's widgets
and notifications, exports to stdout, the git hook's messages) shows such
characters as visible escapes (``\\x1b``, ``\\u202e``) instead: nothing is
executed by the terminal and nothing is silently dropped.

Stdlib only: the core, the CLI and the TUI all use it.
"""

from __future__ import annotations

import re

# Bidi controls (Unicode Bidi_Control), the line/paragraph separators, and lone surrogates
# (an undecodable file name's bytes): none can be written to a UTF-8 terminal as they are.
_FORMAT = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff"
# One line: every C0 control (tab and newline too), DEL, every C1 control.
_UNSAFE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_FORMAT}]")
# Several lines: tab, newline and CR-LF stay; a lone CR (overwrites the line) does not.
_UNSAFE_LINES = re.compile(f"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_FORMAT}]")
# In serialized JSON: what json.dumps(ensure_ascii=False) leaves raw (C0 it escapes itself).
_UNSAFE_JSON = re.compile(f"[\x7f-\x9f{_FORMAT}]")
# The same characters UTF-8 encoded: DEL, C1 (C2 80-9F), U+061C, U+200E/F, U+2028-202E, U+2066-2069.
_UNSAFE_JSON_BYTES = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")
_UNSAFE_LEADS = (b"\x7f", b"\xc2", b"\xd8", b"\xe2")  # the bytes each of those starts with


def visible_escape(char: str) -> str:
    """``\\x1b`` for a byte-sized control, ``\\u202e`` for a wider one."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(value: object, *, multiline: bool = True) -> str:
    """``value`` as text a terminal shows but never obeys.

    ``multiline`` keeps tabs and line breaks (notes, prose); without it a
    line break is shown as ``\\n`` too (a file name, a table cell).
    """
    text = "" if value is None else str(value)
    pattern = _UNSAFE_LINES if multiline else _UNSAFE_LINE
    if not pattern.search(text):  # the common case: nothing to escape, no copy
        return text
    return pattern.sub(lambda m: visible_escape(m.group()), text)


def json_text(serialized: str) -> str:
    """Serialized JSON with C1, DEL and bidi characters written as ``\\uXXXX``.

    They can only occur inside JSON strings, where the escape means the same
    character, so the document is unchanged for a parser.
    """
    if not _UNSAFE_JSON.search(serialized):
        return serialized
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", serialized)


def json_bytes(serialized: bytes) -> bytes:
    """``json_text`` for UTF-8 encoded JSON, without decoding it."""
    if not any(lead in serialized for lead in _UNSAFE_LEADS) or not _UNSAFE_JSON_BYTES.search(serialized):
        return serialized  # (a byte search per lead byte runs at memory speed; the pattern's search does not)
    return _UNSAFE_JSON_BYTES.sub(lambda m: f"\\u{ord(m.group().decode()):04x}".encode(), serialized)


def dumps(data: object, *, indent: int | None = None) -> str:
    """``json.dumps`` for output: readable non-ASCII text, every control escaped."""
    import json

    return json_text(json.dumps(data, ensure_ascii=False, indent=indent, default=str))
