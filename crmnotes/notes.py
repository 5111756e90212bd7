"""A customer's free-text notes: the prose under the file's title, before its follow-ups.

Both faces show the same region (``notes_text``) and the TUI's notes form
writes it back with ``set_notes`` through ``Vault.update``: only the bytes of
that region change; the front-matter, the title and every follow-up entry
keep theirs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Customer
    from .note import Document
    from .vault import Vault

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*\r?$")
NOTES_HEADINGS = {"备注", "notes", "note", "笔记", "客户备注"}
FOLLOWUP_HEADINGS = {"跟进记录", "follow-ups", "followups", "follow ups", "跟进"}


def _lines(text: str, start: int, end: int) -> list[tuple[int, str]]:
    """(offset, line without its newline) of each line in text[start:end]."""
    result, pos = [], start
    for raw in text[start:end].splitlines(keepends=True):
        result.append((pos, raw.rstrip("\r\n")))
        pos += len(raw)
    return result


def notes_span(doc: Document) -> tuple[int, int]:
    """Offsets of the notes in ``doc.text``: after the title (and a "## 备注" /
    "## Notes" heading right under it), up to the follow-up section's heading
    or the first entry."""
    text = doc.text
    end = min((e.start for e in doc.entries), default=len(text))
    content = [(pos, line) for pos, line in _lines(text, doc.body_start, end) if line.strip()]
    start = doc.body_start
    if content and _is_heading(content[0][1], lambda level, _: level == 1):
        start = _after_line(text, content.pop(0)[0])
    if content and _is_heading(content[0][1], lambda _, title: title in NOTES_HEADINGS):
        start = _after_line(text, content.pop(0)[0])
    entry_level = doc.entries[0].level if doc.entries else 7
    if content and _is_heading(content[-1][1], lambda level, title: title in FOLLOWUP_HEADINGS
                               or (bool(doc.entries) and level < entry_level)):
        end = content[-1][0]
    return min(start, end), end


def _is_heading(line: str, test: Callable[[int, str], bool]) -> bool:
    heading = _HEADING.match(line)
    return heading is not None and test(len(heading.group(1)), heading.group(2).strip().lower())


def _after_line(text: str, pos: int) -> int:
    newline = text.find("\n", pos)
    return len(text) if newline < 0 else newline + 1


def notes_text(doc: Document) -> str:
    """The notes as written, without surrounding blank lines ("" when there are none)."""
    start, end = notes_span(doc)
    return doc.text[start:end].strip()


def with_notes(doc: Document, notes: str) -> str:
    """``doc``'s text with its notes replaced by ``notes`` (the same text when they are unchanged)."""
    if notes.strip() == notes_text(doc):
        return doc.text
    start, end = notes_span(doc)
    nl = doc.newline
    body = nl.join(notes.strip().splitlines())
    block = f"{nl}{body}{nl}{nl}" if body else nl
    before, after = doc.text[:start], doc.text[end:]
    if not before.endswith(("\n", "\r")) and before:
        block = nl + block
    return before + block + after


def set_notes(vault: Vault, customer: Customer, notes: str) -> Customer:
    """Replace the customer's notes, atomically and under the file lock (re-read there)."""
    return vault.update(customer.path, lambda doc: with_notes(doc, notes))
