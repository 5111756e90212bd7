"""Printing for the CLI: rich tables (CJK-aware widths), JSON, errors.

User data is shown as plain ``Text`` (never parsed as markup) with control
characters, escape sequences and bidi controls made visible (``safetext``),
so a field cannot drive the terminal; JSON escapes every control; error
messages never show a full ID or bank card number.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..safetext import json_bytes, json_text, terminal_text
from ..sensitive import redact

if TYPE_CHECKING:  # rich, a heavy import, loads when something is printed for a person, not for --json
    from rich.console import Console, ConsoleOptions
    from rich.segment import Segment
    from rich.style import Style
    from rich.table import Table
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


def print_note(message: str, *, stdout: bool = False) -> None:
    """A dim status line on stderr, so it never mixes with data a pipe reads; ``stdout=True`` where
    the line is the command's result (``crm index``, ``crm calendar``). Styled by rich at a terminal;
    for a pipe or a log, the same text unstyled and unwrapped, without importing rich (a short
    command should not pay for it)."""
    stream = sys.stdout if stdout else sys.stderr
    if stream.isatty():
        (console() if stdout else error_console()).print(safe(message, "dim"))
        return
    stream.write(terminal_text(message) + "\n")


def print_json(data: Any) -> None:
    """Indented for a person at a terminal; compact for a pipe, where the C
    encoder is several times faster (``indent`` forces the Python one)."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json_text(json.dumps(data, ensure_ascii=False, indent=indent, default=str)) + "\n")


def print_json_text(text: str | bytes, *, escaped: bool = False) -> None:
    """JSON that is already serialized (UTF-8 bytes or text): as it is for a pipe, indented for a person.
    ``escaped``: the text went through ``json_bytes`` already (the kept answers: not scanned again)."""
    if sys.stdout.isatty():
        print_json(json.loads(text))
        return
    out = getattr(sys.stdout, "buffer", None)
    if isinstance(text, bytes) and out is not None and (sys.stdout.encoding or "").lower().replace("-", "") == "utf8":
        sys.stdout.flush()
        out.write((text if escaped else json_bytes(text)) + b"\n")  # no decoding and re-encoding of megabytes
        out.flush()
        return
    sys.stdout.write(json_text(text.decode("utf-8", "surrogatepass") if isinstance(text, bytes) else text) + "\n")


def print_json_parts(parts: Iterable[bytes], *, escaped: bool = False) -> None:
    """Serialized JSON in UTF-8 pieces, each ending between two characters (``catalog.listing_json_parts``):
    written as they come to a pipe, so the whole text is never held; indented for a person."""
    out = getattr(sys.stdout, "buffer", None)
    if sys.stdout.isatty() or out is None or (sys.stdout.encoding or "").lower().replace("-", "") != "utf8":
        print_json_text(b"".join(parts), escaped=escaped)
        return
    sys.stdout.flush()
    for part in parts:
        out.write(part if escaped else json_bytes(part))
    out.write(b"\n")
    out.flush()


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


# ------------------------------------------------------------------ tables


@dataclass(frozen=True)
class Column:
    """One column of ``fitted_table``.

    ``drop``: 0 is always shown; otherwise, when the columns do not fit even
    at their narrowest, the highest ``drop`` goes first.  ``cut``: its values
    may be shortened with an ellipsis down to ``min_width`` (names, reasons,
    tags); other columns keep their values whole and only shorten their header.
    """

    header: str
    drop: int = 0
    cut: bool = False
    min_width: int = 10


def ranked_columns(headers: list[str], cut: set[str] | frozenset[str] = frozenset()) -> list[Column]:
    """Columns in order of importance (the last dropped first when the terminal is narrow);
    the ``cut`` ones (names, free text) are shortened with an ellipsis before anything is dropped."""
    return [Column(h, drop=i, cut=h in cut, min_width=14) for i, h in enumerate(headers)]


_GAP = 3  # cells between two columns: a separator and its padding


def fitted_table(columns: list[Column], rows: list[list[Text]], width: int | None = None) -> FittedRows | Table:
    """A table for the terminal's width (or ``width``) that never wraps a row: columns
    are dropped by priority until the rest fit at their narrowest, then shortened with ``…``."""
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table

    width = width or console().width
    natural = [max([cell_len(c.header), *(row[i].cell_len for row in rows)]) for i, c in enumerate(columns)]
    floor = [_narrowest(c, natural[i], [row[i].cell_len for row in rows]) for i, c in enumerate(columns)]
    shown = list(range(len(columns)))

    def needed(widths: list[int]) -> int:
        return sum(widths[i] for i in shown) + _GAP * (len(shown) - 1)

    droppable = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop)
    for index in droppable:
        if needed(floor) <= width:
            break
        shown.remove(index)
    widths = _shrunk(columns, natural, floor, shown, needed(natural) - width)
    fits = sum(widths[i] for i in shown) + _GAP * (len(shown) - 1) <= width
    if fits and all("\n" not in row[i].plain for row in rows for i in shown):
        return FittedRows([columns[i].header for i in shown], [[row[i] for i in shown] for row in rows],
                          [widths[i] for i in shown])
    # a value of several lines, or a terminal too narrow for the columns never cut: rich's table
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i in shown:
        table.add_column(columns[i].header, width=widths[i], no_wrap=True, overflow="ellipsis")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


class FittedRows:
    """What rich's ``Table`` prints for ``fitted_table`` (box SIMPLE_HEAD without edges, one line per
    row, values cut with ``…``), written a line at a time: the generic table lays out every cell
    through padding and wrapping machinery, about 2 ms a row, which made ``crm ls`` of a large vault
    take tens of seconds."""

    def __init__(self, headers: list[str], rows: list[list[Text]], widths: list[int]) -> None:
        self.headers, self.rows, self.widths = headers, rows, widths

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        from rich.segment import Segment
        from rich.text import Text

        header_style = console.get_style("table.header")
        yield from self._line([Text(h, style=header_style) for h in self.headers], console, header_style)
        yield Segment("─" * (sum(self.widths) + _GAP * (len(self.widths) - 1)))
        yield Segment.line()
        if console.color_system is None:  # a pipe or NO_COLOR: styles print nothing, so neither do Text's
            gap = " " * _GAP
            for row in self.rows:
                yield Segment(gap.join(_cell(cell.plain, width) for cell, width in zip(row, self.widths, strict=True)))
                yield Segment.line()
            return
        for row in self.rows:
            yield from self._line(row, console)

    def _line(self, cells: list[Text], console: Console, pad_style: Style | str = "") -> Iterator[Segment]:
        from rich.segment import Segment
        from rich.text import Text

        line = Text(end="", no_wrap=True)
        for n, (cell, width) in enumerate(zip(cells, self.widths, strict=True)):
            if n:  # a cell's padding (in its row's style), the separator, the next cell's padding
                line.append(" ", pad_style)
                line.append(" " * (_GAP - 2))
                line.append(" ", pad_style)
            part = cell.copy()
            part.truncate(width, overflow="ellipsis", pad=True)
            line.append_text(part)
        yield from line.render(console)
        yield Segment.line()


def _cell(plain: str, width: int) -> str:
    """``plain`` as ``Text.truncate(width, overflow="ellipsis", pad=True)`` leaves it (what a table cell
    that does not wrap gets)."""
    from rich.cells import cell_len, set_cell_size

    length = cell_len(plain)
    if length > width:
        return set_cell_size(plain, width - 1) + "…"
    return plain + " " * (width - length)


def _narrowest(column: Column, natural: int, values: list[int]) -> int:
    if column.cut:
        return min(natural, column.min_width)
    return max([min(natural, 6), *values])  # the header may become "custom…", a value never


def _shrunk(columns: list[Column], natural: list[int], floor: list[int], shown: list[int], excess: int) -> list[int]:
    """Take ``excess`` cells: from the columns that may be cut, the least important (then the
    rightmost) first, each down to its floor; then from the widest (headers; names only when
    the terminal is too narrow even for the columns that are never dropped)."""
    widths = list(natural)
    for i in sorted((i for i in shown if columns[i].cut), key=lambda i: (-columns[i].drop, -i)):
        take = max(0, min(excess, widths[i] - floor[i]))
        widths[i] -= take
        excess -= take
    last_resort = [min(f, 6) if columns[i].cut else f for i, f in enumerate(floor)]  # a terminal too narrow
    while excess > 0:
        room = [i for i in shown if widths[i] > last_resort[i]]
        if not room:
            break
        widest = max(room, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


# Closing punctuation stays on the line of the character before it (a line never opens with "，").
_NO_LINE_START = frozenset("，。、；：！？）」』】》…,.;:!?)")


def prose_lines(text: Text, width: int, indent: int = 2) -> list[Text]:
    """``text`` as lines of at most ``width`` cells, each after ``indent`` spaces.  Rich breaks only at
    spaces, so a long run of Chinese went whole to the next line and left a short line before it, and
    its continuation lines lost the indent; here a line may also break between Chinese characters."""
    out: list[Text] = []
    room = max(8, width - indent)
    for line in text.split("\n", allow_blank=True):
        for start, end in _breaks(line.plain, room):
            piece = line[start:end]
            piece.rstrip()
            out.append(safe(" " * indent) + piece)
    return out


def _pieces(plain: str) -> list[tuple[int, int]]:
    """Where a line may break: around each wide character and each run of spaces, not inside a word."""
    from rich.cells import get_character_cell_size

    spans: list[list[int]] = []
    prev = ""
    for i, char in enumerate(plain):
        kind = "space" if char.isspace() else "wide" if get_character_cell_size(char) > 1 else "narrow"
        if spans and ((char in _NO_LINE_START and prev != "space") or (kind == prev and kind != "wide")):
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
        prev = kind
    return [(start, end) for start, end in spans]


def _breaks(plain: str, room: int) -> list[tuple[int, int]]:
    """(start, end) of each line: greedy, spaces at a break dropped, a word longer than a line folded."""
    from rich.cells import cell_len

    lines: list[tuple[int, int]] = []
    start, end, used = -1, 0, 0
    for piece_start, piece_end in _pieces(plain):
        piece = plain[piece_start:piece_end]
        if start < 0 and piece.isspace():
            continue  # no line opens with the spaces it broke at
        if start >= 0 and used + cell_len(piece) <= room:
            end, used = piece_end, used + cell_len(piece)
            continue
        if start >= 0:
            lines.append((start, end))
            if piece.isspace():
                start, used = -1, 0
                continue
        start = piece_start
        while cell_len(plain[start:piece_end]) > room:  # a word or URL wider than the line
            cut = start + 1
            while cell_len(plain[start:cut + 1]) <= room:
                cut += 1
            lines.append((start, cut))
            start = cut
        end, used = piece_end, cell_len(plain[start:piece_end])
    if start >= 0:
        lines.append((start, end))
    return lines or [(0, 0)]
