"""Customer files: markdown with YAML front-matter, read and edited losslessly.

A file is kept as its exact text.  Reading finds the front-matter block and the
follow-up entries in the body; every edit is a splice into that text:

* ``set_fields`` replaces only the top-level YAML blocks of the keys it
  changes (comments, unknown keys and key order elsewhere stay byte for byte)
  and re-parses the result to prove nothing else moved;
* ``insert_followup`` inserts a new entry in time order, which for the usual
  case (now) is an append: earlier bytes are never rewritten.

Entries are headings that start with a date, written by the tool or by hand::

    ### 2026-11-20 14:30 · phone · alice
    客户关注数据安全，要求下周提供报价。
    next: 2026-11-27 发送报价单
    feedback: 价格需在预算内
    stage: potential -> intent
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .errors import FileFormatError
from .model import DATE_RANGE_TEXT, SEVERITY_WARNING, FollowUp, Problem, in_range
from .when import parse_step

MAX_FILE_BYTES = 4 * 1024 * 1024
DELETE = object()  # value for set_fields meaning "remove this key"

_FENCE_OPEN = re.compile(r"---[ \t]*\r?\n")
_FENCE_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.M)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_CODE_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*日)?"
_TIME = r"(\d{1,2})\s*[:：]\s*(\d{2})"
_ENTRY_HEAD = re.compile(rf"^{_DATE}(?:(?:\s+|T){_TIME})?(?P<rest>.*)$")
_LOOKS_DATED = re.compile(r"^\d{4}\s*[-/.年]\s*\d")
_SEPARATORS = re.compile(r"\s*[·•|｜，,]\s*|\s+[-—–]\s+")
_FIELD_LINE = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\*\*)?(?P<key>next|下一步|下次跟进|feedback|反馈|客户反馈|stage|阶段|done|已完成)(?:\*\*)?"
    r"\s*[:：]\s*(?:\*\*)?\s*(?P<value>.*?)\s*$",
    re.I,
)
_FIELD_KEYS = {"next": "next", "下一步": "next", "下次跟进": "next", "feedback": "feedback", "反馈": "feedback",
               "客户反馈": "feedback", "stage": "stage", "阶段": "stage", "done": "done", "已完成": "done"}
_STAGE_ARROW = re.compile(r"\s*(?:->|→|=>|⇒|➜|>)\s*")
_TOP_KEY = re.compile(
    r"""^(?:"(?P<dq>[^"]+)"|'(?P<sq>[^']+)'|(?P<plain>[^\s#'"\-?:,\[\]{}&*!|>%@`][^:#]*?))[ \t]*:(?:[ \t]|\r?$)"""
)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


@dataclass
class EntrySpan:
    """Where one follow-up sits in the text (offsets into ``Document.text``)."""

    start: int
    end: int
    level: int
    followup: FollowUp


@dataclass
class Document:
    """One customer file's exact text and what was recognized in it."""

    text: str
    meta: dict[str, Any]
    fm_start: int  # first character of the YAML
    fm_end: int  # first character of the closing fence line
    body_start: int  # first character after the closing fence line
    bom: bool = False
    newline: str = "\n"
    entries: list[EntrySpan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def body(self) -> str:
        return self.text[self.body_start :]

    @property
    def followups(self) -> list[FollowUp]:
        return sorted((e.followup for e in self.entries), key=lambda f: f.at)

    def encode(self, text: str | None = None) -> bytes:
        out = self.text if text is None else text
        return (("\ufeff" if self.bom else "") + out).encode("utf-8")


def clean_text(value: str) -> str:
    """Drop ANSI escapes and control characters (keeps newlines and tabs)."""
    return _CONTROL.sub("", _ANSI.sub("", value))


def decode(data: bytes) -> tuple[str, bool]:
    """Bytes of a customer file -> (text without BOM, had BOM)."""
    if len(data) > MAX_FILE_BYTES:
        raise FileFormatError(
            f"is too large for a customer file ({len(data) // 1024} KB, the limit is {MAX_FILE_BYTES // 1024} KB)",
            "Move attachments out of customers/.",
        )
    if b"\x00" in data[:8192]:
        raise FileFormatError("is a binary file, not markdown", "Move it out of customers/.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"is not UTF-8 text (invalid byte at offset {exc.start})",
            "Re-save it as UTF-8 (it may be GBK).",
        ) from None
    if text.startswith("\ufeff"):
        return text[1:], True
    return text, False


def parse(data: bytes | str, parsed_front: tuple[str, dict[str, Any]] | None = None) -> Document:
    """Parse a customer file.  Raises ``FileFormatError`` when it cannot be read
    safely; recoverable oddities (a malformed entry) become ``problems``.  ``parsed_front`` is a
    front-matter text with the meta an earlier parse made of it: when this file's front-matter is
    that very text, its meta is taken as it is and YAML is not loaded (an edit of the body alone)."""
    text, bom = decode(data) if isinstance(data, bytes) else (data, False)
    opening = _FENCE_OPEN.match(text)
    if not opening:
        raise FileFormatError("has no front-matter (the file must start with a '---' line)",
                              "Add the customer's fields between two '---' lines at the top.")
    closing = _FENCE_CLOSE.search(text, opening.end())
    if not closing:
        raise FileFormatError("has front-matter that is never closed", "Add a '---' line after the fields.")
    fm_text = text[opening.end() : closing.start()]
    meta = parsed_front[1] if parsed_front is not None and parsed_front[0] == fm_text else _load_meta(fm_text)
    body_start = closing.end()
    if text.startswith("\r\n", body_start):
        body_start += 2
    elif text.startswith("\n", body_start):
        body_start += 1
    newline = "\r\n" if text[: opening.end()].endswith("\r\n") else "\n"
    doc = Document(text, meta, opening.end(), closing.start(), body_start, bom, newline)
    _scan_entries(doc)
    return doc


def parse_entries(text: str) -> Document:
    """The follow-ups of a file whose front-matter may not parse (``meta`` stays empty), so that
    a merge keeps every entry of a damaged file; without a closed front-matter all of it is body."""
    opening = _FENCE_OPEN.match(text)
    closing = _FENCE_CLOSE.search(text, opening.end()) if opening else None
    if opening is None or closing is None:
        doc = Document(text, {}, 0, 0, 0)
    else:
        line_end = text.find("\n", closing.start())
        doc = Document(text, {}, opening.end(), closing.start(), len(text) if line_end < 0 else line_end + 1)
    _scan_entries(doc)
    return doc


def _load_meta(fm_text: str) -> dict[str, Any]:
    import yaml  # here, not at the top: searching and listing import this module without parsing YAML

    from . import yamlsafe

    try:
        meta = yamlsafe.load(fm_text)
    except yamlsafe.YamlDataError as exc:
        line = exc.line + 1 if exc.line else None
        if exc.bad_value:
            raise FileFormatError(f"has an invalid value in its front-matter{_at(line)}: {exc}",
                                  "Correct or quote that value by hand ('crm edit'); the file is skipped until then.",
                                  line=line) from None
        raise FileFormatError(f"has unsafe front-matter{_at(line)}: {exc}", "Edit the file to plain YAML.",
                              line=line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise FileFormatError(f"has malformed YAML front-matter{_at(line)}: {problem}",
                              "Fix the YAML (check indentation and quotes).", line=line) from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise FileFormatError("has front-matter that is not a mapping of fields", "Use 'key: value' lines.")
    return {str(k): v for k, v in meta.items()}


def _at(line: int | None) -> str:
    return f" at line {line}" if line else ""


def _scan_entries(doc: Document) -> None:
    text = doc.text
    line_no = text.count("\n", 0, doc.body_start) + 1
    pos = doc.body_start
    in_code = False
    open_entry: tuple[int, int, FollowUp, list[str]] | None = None  # start, level, followup, lines

    def close(end: int) -> None:
        nonlocal open_entry
        if open_entry is not None:
            start, level, followup, lines = open_entry
            _fill_entry(followup, lines, doc)
            _after_earlier_entries_that_day(followup, doc)
            doc.entries.append(EntrySpan(start, end, level, followup))
            open_entry = None

    for raw_line in text[doc.body_start :].splitlines(keepends=True):
        line = raw_line.rstrip("\r\n")
        if _CODE_FENCE.match(line):
            in_code = not in_code
        heading = None if in_code else _HEADING.match(line)
        starts_entry = False
        if heading:
            level, title = len(heading.group(1)), heading.group(2).strip()
            if open_entry is not None and level <= open_entry[1]:
                close(pos)
            if 2 <= level <= 4 and _LOOKS_DATED.match(title):
                close(pos)
                starts_entry = True
                followup = _parse_heading(title, line_no, doc)
                if followup is not None:
                    open_entry = (pos, level, followup, [])
        if open_entry is not None and not starts_entry:
            open_entry[3].append(line)
        pos += len(raw_line)
        line_no += 1
    close(len(text))


def _after_earlier_entries_that_day(followup: FollowUp, doc: Document) -> None:
    """A date-only heading has no time of day: file order places it after the entries above it on the same
    day (a microsecond later, so every "latest" and every sort agrees without a second key)."""
    if followup.has_time:
        return
    same_day = [e.followup.at for e in doc.entries if e.followup.at.date() == followup.at.date()]
    if same_day:
        followup.at = max(followup.at, max(same_day) + timedelta(microseconds=1))


def _parse_heading(title: str, line_no: int, doc: Document) -> FollowUp | None:
    match = _ENTRY_HEAD.match(title)
    when = None
    if match:
        year, month, day, hour, minute = match.group(1, 2, 3, 4, 5)
        try:
            when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
        except ValueError:
            when = None
    if when is None or match is None:
        doc.problems.append(Problem(None, line_no, f"follow-up heading '{title}' has an invalid date or time "
                                    "(use YYYY-MM-DD HH:MM)", code="malformed-entry"))
        return None
    if not in_range(when):
        doc.problems.append(Problem(None, line_no, f"follow-up heading '{title}' has a date outside the dates "
                                    f"crmnotes accepts ({DATE_RANGE_TEXT}); the entry is ignored",
                                    code="malformed-entry"))
        return None
    parts = [p for p in _SEPARATORS.split(match.group("rest").strip(" \t·•|｜-—–,，")) if p]
    if len(parts) == 1 and " " in parts[0].strip():
        parts = parts[0].split()
    return FollowUp(
        at=when,
        channel=parts[0].strip() if parts else "",
        by=parts[1].strip().lstrip("@") if len(parts) > 1 else "",
        title=" ".join(parts[2:]).strip(),
        has_time=match.group(4) is not None,
        line=line_no,
    )


def _fill_entry(followup: FollowUp, lines: list[str], doc: Document) -> None:
    note_lines = []
    for offset, line in enumerate(lines, start=1):
        found = _FIELD_LINE.match(line)
        if not found:
            note_lines.append(_unescape_note_line(line))
            continue
        key, value = _FIELD_KEYS[found.group("key").lower()], found.group("value")
        if key == "feedback":
            followup.feedback = value
        elif key == "done":
            followup.done.append(value)
        elif key == "stage":
            parts = _STAGE_ARROW.split(value, maxsplit=1)
            followup.stage_from, followup.stage_to = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
        else:
            _fill_next(followup, value, (followup.line or 0) + offset, doc)
    followup.note = "\n".join(note_lines).strip("\n")


def _fill_next(followup: FollowUp, value: str, line_no: int, doc: Document) -> None:
    step = parse_step(value, followup.at.date())  # relative dates count from the entry's own day
    if step is not None:
        followup.next_date, followup.next_at = step.when.day, step.when.at
        followup.next_who, followup.next_what = step.who, step.what
        return
    followup.next_what = value
    doc.problems.append(Problem(None, line_no, f"next step '{value}' has no valid date (write 'next: YYYY-MM-DD what')",
                                severity=SEVERITY_WARNING, code="next-without-date"))


# --------------------------------------------------------------------- writing


def render_followup(followup: FollowUp, level: int = 3, newline: str = "\n") -> str:
    """The text of one entry as the tool writes it (ends with a newline)."""
    head = [followup.at.strftime("%Y-%m-%d %H:%M"), _inline(followup.channel) or "other"]
    if followup.by:
        head.append(_inline(followup.by))
    lines = ["#" * level + " " + " · ".join(head), ""]
    note = clean_text(followup.note).strip("\n")
    if note:
        lines += [_escape_note_line(line) for line in note.splitlines()]
        lines.append("")
    if followup.next_date or followup.next_what:
        lines.append(f"next: {_inline(followup.next_text)}")
    if followup.feedback:
        lines.append(f"feedback: {_inline(followup.feedback)}")
    lines += [f"done: {_inline(closed)}" for closed in followup.done]
    if followup.stage_to:
        moved = f"{followup.stage_from} -> {followup.stage_to}" if followup.stage_from else followup.stage_to
        lines.append(f"stage: {moved}")
    while lines and lines[-1] == "":
        lines.pop()
    return newline.join(lines) + newline


def _needs_escape(line: str) -> bool:
    """Would this note line be read back as a heading, a field or a code fence?"""
    stripped = line.lstrip()
    return stripped.startswith(("#", "\\")) or bool(_FIELD_LINE.match(line)) or bool(_CODE_FENCE.match(line))


def _escape_note_line(line: str) -> str:
    return "\\" + line if _needs_escape(line) else line


def _unescape_note_line(line: str) -> str:
    return line[1:] if line.startswith("\\") and _needs_escape(line[1:]) else line


def _inline(value: str) -> str:
    """One line of text safe to place inside a heading or a field line."""
    return " ".join(clean_text(value).replace("·", " ").split())


def insert_followup(doc: Document, followup: FollowUp) -> str:
    """New text with the entry inserted in time order (appended when newest)."""
    level = doc.entries[-1].level if doc.entries else 3
    later = [e for e in doc.entries if e.followup.at > followup.at]
    if later:
        pos = min(e.start for e in later)
    elif doc.entries:
        pos = max(e.end for e in doc.entries)
    else:
        pos = len(doc.text)
    before, after = doc.text[:pos], doc.text[pos:]
    nl = doc.newline
    if before and not before.endswith("\n"):
        before += nl
    if before and not before.endswith(nl + nl) and len(before) > doc.body_start:
        before += nl
    block = render_followup(followup, level, nl)
    if after and not after.startswith(("\n", "\r\n")):
        block += nl
    return before + block + after


def set_fields(doc: Document, changes: dict[str, Any]) -> str:
    """New text with the given top-level keys replaced, added or removed.

    Only the changed keys' lines are rewritten.  The result is re-parsed and
    compared with the expected data; if anything else would change (an odd
    layout we cannot splice safely) we refuse instead of guessing.
    """
    fm = doc.text[doc.fm_start : doc.fm_end]
    blocks = _key_blocks(fm)
    nl = doc.newline
    pieces: list[tuple[int, int, str]] = []
    appended = ""
    from . import yamlsafe

    for key, value in changes.items():
        rendered = "" if value is DELETE else yamlsafe.dump({key: value}).replace("\n", nl)
        if key in blocks:
            start, end = blocks[key]
            pieces.append((start, end, rendered))
        elif value is not DELETE:
            appended += rendered
    new_fm = fm
    for start, end, rendered in sorted(pieces, reverse=True):
        new_fm = new_fm[:start] + rendered + new_fm[end:]
    if appended:
        if new_fm and not new_fm.endswith("\n"):
            new_fm += nl
        new_fm += appended
    expected = {k: v for k, v in doc.meta.items() if k not in changes or changes[k] is not DELETE}
    expected.update({k: v for k, v in changes.items() if v is not DELETE})
    try:
        reparsed = _load_meta(new_fm)
    except FileFormatError:
        reparsed = None
    if reparsed != expected:
        raise FileFormatError(
            "has front-matter laid out in a way crmnotes cannot edit without touching other fields",
            "Edit the file by hand with 'crm edit'.",
        )
    return doc.text[: doc.fm_start] + new_fm + doc.text[doc.fm_end :]


def _key_blocks(fm: str) -> dict[str, tuple[int, int]]:
    """Top-level key -> (start, end) offsets of its lines in the YAML text.

    A block runs from its key line to the next top-level key; trailing blank
    lines and column-0 comments belong to the gap, not to the block.
    """
    starts: list[tuple[str, int]] = []
    ends_of_content: dict[int, int] = {}
    pos = 0
    last_content_end = 0
    for line in fm.splitlines(keepends=True):
        found = _TOP_KEY.match(line)
        if found:
            if starts:
                ends_of_content[len(starts) - 1] = last_content_end
            starts.append((found.group("dq") or found.group("sq") or found.group("plain").strip(), pos))
            last_content_end = pos + len(line)
        elif line.strip() and not line.startswith("#"):
            last_content_end = pos + len(line)
        pos += len(line)
    if starts:
        ends_of_content[len(starts) - 1] = last_content_end
    return {key: (start, ends_of_content[i]) for i, (key, start) in enumerate(starts)}


def new_file_text(meta: dict[str, Any], title: str, language: str = "zh") -> str:
    """A fresh customer file: front-matter, a title and empty sections.

    The bytes are exactly what PyYAML's dumper writes (``yaml_file_text``);
    ``fast_front_matter`` produces them without it for the usual values."""
    head = fast_front_matter(meta)
    if head is None:
        return yaml_file_text(meta, title, language)
    return f"{head}\n{_file_body(title, language)}"


def yaml_file_text(meta: dict[str, Any], title: str, language: str = "zh") -> str:
    """``new_file_text`` through python-frontmatter and the pure-Python dumper: the reference
    the fast path must match byte for byte."""
    import frontmatter

    from . import yamlsafe

    post = frontmatter.Post(_file_body(title, language), **meta)
    return frontmatter.dumps(post, Dumper=yamlsafe.IndentedDumper, sort_keys=False, width=4096) + "\n"


def _file_body(title: str, language: str) -> str:
    notes, followups = ("备注", "跟进记录") if language.startswith("zh") else ("Notes", "Follow-ups")
    return f"# {_inline(title)}\n\n## {notes}\n\n## {followups}\n"


# ------------------------------------------------------------------ fast front-matter

_WORDS = re.compile(r"[^\W\d_][\w.@/-]*(?: [\w.@/-]+)*\Z")
_FAST_MAX_CHARS = 1000  # far below the dumper's width (4096): a longer line could be folded
_emitter: Any = None


def fast_front_matter(meta: dict[str, Any]) -> str | None:
    """``---``-delimited front-matter byte-identical to ``yaml_file_text``'s, or None.

    Each key and value is written by hand only when PyYAML itself would
    write it the same way: its resolver must read the text back as a plain
    string and its emitter's own scalar analysis must allow it plain (or
    single-quoted, as the dumper chooses for ``+86…``, ``yes``, ``2024-03-05``).
    A key holding anything else (nested maps, floats, multi-line or very long
    text) is dumped by PyYAML alone; top-level block mappings dump key by key."""
    if not meta:
        return None
    lines = ["---"]
    for key, value in meta.items():
        rendered = _fast_item(key, value)
        if rendered is None:
            rendered = _dump_item(key, value)
            if rendered is None:
                return None
        lines.append(rendered)
    lines.append("---")
    return "\n".join(lines) + "\n"


def _fast_item(key: Any, value: Any) -> str | None:
    if not isinstance(key, str) or len(key) >= 100:
        return None
    name = _fast_scalar(key, simple_key=True)
    if name is None:
        return None
    if isinstance(value, list):
        if not value:
            return f"{name}: []"
        items = [_fast_scalar(item) for item in value]
        if any(item is None for item in items):
            return None
        return f"{name}:\n" + "\n".join(f"  - {item}" for item in items)
    scalar = _fast_scalar(value)
    return None if scalar is None else f"{name}: {scalar}"


def _fast_scalar(value: Any, simple_key: bool = False) -> str | None:
    """How the dumper writes one plain value, or None when only the dumper may say."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if type(value) is date:  # not a datetime: that one has its own representer
        return value.isoformat()
    if type(value) is not str or len(value) > _FAST_MAX_CHARS or "\n" in value:
        return None
    if value and (value[0].isspace() or value[-1].isspace()):
        return None  # python-frontmatter strips the dump: a first or last value could lose a U+00A0 or U+3000
    import yaml

    emitter = _yaml_emitter()
    # the dumper quotes what a YAML 1.1 reader would take for a number, bool, date or null
    implicit = emitter.resolve(yaml.ScalarNode, value, (True, False)) == "tag:yaml.org,2002:str"
    if implicit and _WORDS.match(value):
        return value  # words (any script) and single inner spaces: no indicator, nothing the analysis refuses
    analysis = emitter.analyze_scalar(value)
    if analysis.multiline or (simple_key and analysis.empty):
        return None
    if implicit and analysis.allow_block_plain and not analysis.empty:
        return value
    if analysis.allow_single_quoted:
        return "'" + value.replace("'", "''") + "'"  # one line far below the width: never folded
    return None


def _yaml_emitter() -> Any:
    """One dumper instance, used only for its resolver and its scalar analysis (both stateless)."""
    global _emitter
    if _emitter is None:
        import io

        from . import yamlsafe

        _emitter = yamlsafe.IndentedDumper(io.StringIO(), allow_unicode=True, width=4096)
    return _emitter


def _dump_item(key: Any, value: Any) -> str | None:
    """One top-level key dumped by PyYAML, the way ``yaml_file_text`` dumps it (None: dump everything)."""
    if _has_line_break(value):
        return None  # block scalars' chomping depends on what follows them
    import yaml

    from . import yamlsafe

    text = yaml.dump({key: value}, Dumper=yamlsafe.IndentedDumper, default_flow_style=False, allow_unicode=True,
                     sort_keys=False, width=4096)
    text = text[:-1] if text.endswith("\n") else ""
    if not text or text != text.strip() or text.startswith("{") or "\n..." in text:
        return None  # flow output, end markers, edges python-frontmatter strips: the whole dump decides
    return text


def _has_line_break(value: Any) -> bool:
    if isinstance(value, str):
        return any(ch in value for ch in "\n\r\x85\u2028\u2029")
    if isinstance(value, dict):
        return any(_has_line_break(k) or _has_line_break(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_line_break(v) for v in value)
    return False
