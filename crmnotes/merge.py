"""Three-way merge of two versions of one customer file (pure text, no git).

Git calls this through ``crm merge-driver`` whenever both sides of a merge
changed the same customer file.  The merge understands the file:

* follow-up entries are a set: the union of both sides, in time order, an
  entry present on both sides once, an entry edited (or removed) on one side
  only takes that side;
* front-matter merges key by key: a key changed on one side takes that side,
  list keys (tags) merge as sets, lists of records (deals, tickets) merge
  record by record by their ``id`` / ``name``; a key changed differently on
  both sides keeps one value in place and both values under ``conflicts:``,
  which ``crm check`` reports until someone resolves it;
* the prose around the entries merges line by line (``merge3``); lines
  inserted by both sides at one place are all kept, and lines changed
  differently by both sides are kept in a block marked with
  ``!!! crmnotes conflict`` lines.

Git's ``<<<<<<<`` markers are never produced.  A side whose front-matter does
not parse still has its follow-ups found by the body scanner and merged as a
set; only the front-matter then merges line by line.  Whatever the path, the
result is checked to hold every follow-up either side wrote; when it does not
(or a side emptied the file) both versions are kept whole, the result is
``unresolved`` and the driver reports a conflict.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from merge3 import Merge3

from . import note, yamlsafe
from .errors import FileFormatError

CONFLICTS_KEY = "conflicts"
BLOCK_START = ("!!! crmnotes conflict: both versions are kept below. "
               "Keep the right text, delete the rest and these !!! lines.")
BLOCK_MARK = "!!! crmnotes conflict"
BLOCK_VERSION = "!!! version from "
BLOCK_END = "!!! end of crmnotes conflict"
GIT_MARKERS = ("<<<<<<<", "=======", ">>>>>>>")  # at a line start, as git writes them
_ENTRIES = "\x00crmnotes-entries\x00"  # placeholder line for the run of follow-ups in a body skeleton
_MISSING = object()  # a key absent from one version
RECORD_KEYS = ("id", "name")  # what identifies one deal or ticket inside its list


@dataclass
class Sides:
    """Who wrote each side, shown next to conflicting values."""

    ours: str = "ours"
    theirs: str = "theirs"


@dataclass
class MergeResult:
    """The merged text and a description of each conflict kept in it; ``unresolved``: the
    sides could not be combined, both are kept whole and a person must choose."""

    text: str
    conflicts: list[str] = field(default_factory=list)
    unresolved: bool = False


def merge_texts(base: str | None, ours: str, theirs: str, sides: Sides | None = None) -> MergeResult:
    """Merge ``ours`` and ``theirs`` (``base`` is None or "" when both added the file)."""
    sides = sides or Sides()
    base = base or ""
    if ours == theirs or base == theirs:
        return MergeResult(ours)
    if base == ours:
        return MergeResult(theirs)
    newline = "\r\n" if "\r\n" in ours else "\n"
    texts = [t.replace("\r\n", "\n") for t in (base, ours, theirs)]
    return _restore_newlines(_merge_checked(texts, sides), newline)


def _merge_checked(texts: list[str], sides: Sides) -> MergeResult:
    """The merge, proved to keep every follow-up either side wrote, or both sides whole."""
    _, ours, theirs = texts
    for text, who in ((ours, sides.ours), (theirs, sides.theirs)):
        if not text.strip():
            return keep_both(ours, theirs, sides, f"{who} emptied the file while the other side changed it")
    try:
        docs = [_parse(t) for t in texts]
        if None in docs[1:] or (texts[0] and docs[0] is None):
            result = _merge_damaged(texts, sides)
        else:
            result = _merge_documents(docs, sides)
        lost = lost_entries(texts, result.text)
    except Exception as exc:  # whatever a strange file trips, a merge must not stop or lose a word
        return keep_both(ours, theirs, sides, f"the two versions could not be merged ({type(exc).__name__})")
    if lost:
        return keep_both(ours, theirs, sides, f"{lost} follow-up(s) could not be placed in one merged file")
    return result


def _parse(text: str) -> note.Document | None:
    """The parsed file, or None when its front-matter (or a value in it) does not parse."""
    if not text:
        return None
    try:
        return note.parse(text)
    except Exception:  # any failure sends the merge down the path that needs no front-matter
        return None


def _merge_documents(docs: list[note.Document | None], sides: Sides) -> MergeResult:
    base_doc, ours_doc, theirs_doc = docs
    assert ours_doc is not None and theirs_doc is not None
    conflicts: list[str] = []
    meta = _merge_meta(base_doc.meta if base_doc else {}, ours_doc.meta, theirs_doc.meta, sides, conflicts)
    entries = _merge_entries(base_doc, ours_doc, theirs_doc, conflicts)
    _settle_next_followup(meta, ours_doc, theirs_doc, entries, conflicts)
    body = _merge_body(base_doc, ours_doc, theirs_doc, entries, sides, conflicts)
    head = _render_head(ours_doc, meta)
    return MergeResult(head + body, conflicts)


def _merge_damaged(texts: list[str], sides: Sides) -> MergeResult:
    """A side whose front-matter does not parse: its follow-ups are still found (by the body
    scanner) and merged as a set; the front-matter merges as lines, every clash in a marked block."""
    base_doc, ours_doc, theirs_doc = (note.parse_entries(t) if t else None for t in texts)
    assert ours_doc is not None and theirs_doc is not None
    conflicts: list[str] = []
    heads = [d.text[: d.body_start].splitlines(keepends=True) if d else [] for d in (base_doc, ours_doc, theirs_doc)]
    head, blocks = merge_lines(heads[0], heads[1], heads[2], sides, mark_insertions=True)
    if blocks:
        conflicts.append(f"{blocks} block(s) of front-matter were changed differently on both sides; "
                         "both versions are kept")
    entries = _merge_entries(base_doc, ours_doc, theirs_doc, conflicts)
    body = _merge_body(base_doc, ours_doc, theirs_doc, entries, sides, conflicts)
    return MergeResult("".join(head) + body, conflicts)


def lost_entries(texts: Sequence[str], merged: str) -> int:
    """How many follow-ups that ours or theirs (``texts[1:]``) added or edited since the base
    (``texts[0]``) do not appear word for word, from their heading line on, in ``merged``
    (an entry both sides added counts once)."""
    base, ours, theirs = (Counter(_entry_texts(t)) for t in texts)
    wanted = (ours - base) | (theirs - base)
    whole = "\n" + merged.replace("\r\n", "\n").rstrip("\n") + "\n"
    return sum(max(count - _occurrences(whole, "\n" + entry), 0) for entry, count in wanted.items())


def _entry_texts(text: str) -> list[str]:
    doc = note.parse_entries(text.replace("\r\n", "\n"))
    return [_entry_text(doc, span) for span in doc.entries]


def _occurrences(text: str, needle: str) -> int:
    """Occurrences of ``needle`` (which starts and ends with a newline) that may share that newline."""
    count, at = 0, text.find(needle)
    while at >= 0:
        count += 1
        at = text.find(needle, at + len(needle) - 1)
    return count


def _entry_text(doc: note.Document, span: note.EntrySpan) -> str:
    return doc.text[span.start : span.end].rstrip("\n") + "\n"


def keep_both(ours: str, theirs: str, sides: Sides, reason: str) -> MergeResult:
    """Ours' text whole, then theirs' whole in a marked block: nothing is lost, ``crm check``
    points at the block and a person keeps the right text."""
    head = ours if not ours or ours.endswith("\n") else ours + "\n"
    shown = theirs if not theirs or theirs.endswith("\n") else theirs + "\n"
    block = (f"{BLOCK_MARK}: {reason}. Above is the version from {sides.ours}, below the version from "
             f"{sides.theirs}. Keep the right text, delete the rest and these !!! lines.\n"
             f"{BLOCK_VERSION}{sides.theirs}\n{shown}{BLOCK_END}\n")
    return MergeResult(head + ("\n" if head else "") + block, [reason + "; both versions are kept whole"], True)


def _restore_newlines(result: MergeResult, newline: str) -> MergeResult:
    if newline != "\n":
        result.text = result.text.replace("\n", newline)
    return result


# ------------------------------------------------------------------ front-matter


def _merge_meta(base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any], sides: Sides,
                conflicts: list[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    recorded: list[dict[str, Any]] = []
    for key in _ordered_keys(ours, theirs):
        if key == CONFLICTS_KEY:
            continue
        value = _merge_value(key, base.get(key, _MISSING), ours.get(key, _MISSING), theirs.get(key, _MISSING),
                             sides, recorded)
        if value is not _MISSING:
            merged[key] = value
    old = _union_list(_as_list(ours.get(CONFLICTS_KEY)), _as_list(theirs.get(CONFLICTS_KEY)))
    if recorded or old:
        merged[CONFLICTS_KEY] = _union_list(old, recorded)
    conflicts += [f"{c['field']}: " + " / ".join(f"{v['value']!r} by {v['by']}" for v in c["values"])
                  for c in recorded]
    return merged


def _ordered_keys(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    return list(ours) + [k for k in theirs if k not in ours]


def _merge_value(path: str, base: Any, ours: Any, theirs: Any, sides: Sides, recorded: list[dict[str, Any]]) -> Any:
    if ours == theirs or base == theirs:
        return ours
    if base == ours:
        return theirs
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return _merge_dict(path, base if isinstance(base, dict) else {}, ours, theirs, sides, recorded)
    if isinstance(ours, list) and isinstance(theirs, list):
        base_list = base if isinstance(base, list) else []
        if _records(ours) and _records(theirs) and (not base_list or _records(base_list)):
            return _merge_records(path, base_list, ours, theirs, sides, recorded)
        if all(_is_scalar(v) for v in [*ours, *theirs, *base_list]):
            return _merge_set(base_list, ours, theirs)
    # Changed differently on both sides: keep ours in place (or theirs when we
    # deleted it, so no value disappears) and record both.
    recorded.append({"field": path, "values": [{"value": _shown(ours), "by": sides.ours},
                                               {"value": _shown(theirs), "by": sides.theirs}]})
    return theirs if ours is _MISSING else ours


def _shown(value: Any) -> Any:
    return None if value is _MISSING else value


def _merge_dict(path: str, base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any], sides: Sides,
                recorded: list[dict[str, Any]]) -> dict[str, Any]:
    merged = {}
    for key in _ordered_keys(ours, theirs):
        value = _merge_value(f"{path}.{key}", base.get(key, _MISSING), ours.get(key, _MISSING),
                             theirs.get(key, _MISSING), sides, recorded)
        if value is not _MISSING:
            merged[key] = value
    return merged


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _merge_set(base: list[Any], ours: list[Any], theirs: list[Any]) -> list[Any]:
    """Union of both sides minus what either side removed; ours' order first."""
    removed = [v for v in base if v not in ours or v not in theirs]
    return [v for v in _union_list(ours, theirs) if v not in removed]


def _union_list(first: list[Any], second: list[Any]) -> list[Any]:
    out = list(first)
    out += [v for v in second if v not in out]
    return out


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _record_key(item: dict[str, Any]) -> Any:
    for key in RECORD_KEYS:
        if item.get(key) not in (None, ""):
            return (key, str(item[key]))
    return None


def _records(items: list[Any]) -> bool:
    """A list of dicts that each have an identity, unique within the list."""
    if not all(isinstance(i, dict) for i in items):
        return False
    keys = [_record_key(i) for i in items]
    return None not in keys and len(set(keys)) == len(keys)


def _merge_records(path: str, base: list[dict[str, Any]], ours: list[dict[str, Any]], theirs: list[dict[str, Any]],
                   sides: Sides, recorded: list[dict[str, Any]]) -> list[Any]:
    by_key = [{_record_key(i): i for i in side} for side in (base, ours, theirs)]
    order = [_record_key(i) for i in ours] + [_record_key(i) for i in theirs if _record_key(i) not in by_key[1]]
    merged = []
    for key in order:
        label = f"{path}[{key[1]}]"
        base_value, ours_value, theirs_value = (side.get(key, _MISSING) for side in by_key)
        value = _merge_value(label, base_value, ours_value, theirs_value, sides, recorded)
        if value is not _MISSING:
            merged.append(value)
    return merged


def _render_head(ours: note.Document, meta: dict[str, Any]) -> str:
    """Ours' front-matter with only the changed keys rewritten (comments and
    order survive); a layout that cannot be spliced is dumped afresh."""
    changes: dict[str, Any] = {k: v for k, v in meta.items() if ours.meta.get(k, _MISSING) != v}
    changes.update({k: note.DELETE for k in ours.meta if k not in meta})
    head = ours.text[: ours.body_start]
    if not changes:
        return head
    try:
        text = note.set_fields(ours, changes)
        return text[: len(text) - (len(ours.text) - ours.body_start)]
    except FileFormatError:
        return "---\n" + yamlsafe.dump(meta) + "---\n"


# ------------------------------------------------------------------ follow-ups


@dataclass
class _Entry:
    key: tuple[str, int]
    text: str
    span: note.EntrySpan


def _entries(doc: note.Document | None) -> dict[tuple[str, int], _Entry]:
    found: dict[tuple[str, int], _Entry] = {}
    if doc is None:
        return found
    seen: dict[str, int] = {}
    for span in doc.entries:
        chunk = _entry_text(doc, span)
        heading = " ".join(chunk.split("\n", 1)[0].split())
        seen[heading] = seen.get(heading, -1) + 1
        key = (heading, seen[heading])
        found[key] = _Entry(key, chunk, span)
    return found


def _merge_entries(base: note.Document | None, ours: note.Document, theirs: note.Document,
                   conflicts: list[str]) -> list[_Entry]:
    sides = [_entries(base), _entries(ours), _entries(theirs)]
    merged: list[_Entry] = []
    keys = list(sides[1]) + [k for k in sides[2] if k not in sides[1]]
    keys += [k for k in sides[0] if k not in sides[1] and k not in sides[2]]
    for key in keys:
        b, o, t = (side.get(key) for side in sides)
        for entry in _pick_entry(b, o, t, conflicts):
            _insert_in_time(merged, entry, keep_place=entry is o)
    return merged


def _insert_in_time(merged: list[_Entry], entry: _Entry, keep_place: bool) -> None:
    """Ours' entries keep their order (a hand-made order is not rewritten);
    the others go before the first later entry, as ``insert_followup`` does."""
    at = entry.span.followup.at
    if not keep_place:
        for index, other in enumerate(merged):
            if other.span.followup.at > at:
                merged.insert(index, entry)
                return
    merged.append(entry)


def _pick_entry(b: _Entry | None, o: _Entry | None, t: _Entry | None, conflicts: list[str]) -> list[_Entry]:
    texts = [e.text if e else None for e in (b, o, t)]
    if texts[1] == texts[2] or texts[0] == texts[2]:
        return [o] if o else []
    if texts[0] == texts[1]:  # only theirs changed (or removed) it
        return [t] if t else []
    # Both sides changed it differently (or both added different texts under
    # one heading): a follow-up is never dropped, so both are kept.
    kept = [e for e in (o, t) if e is not None]
    if b is not None and len(kept) == 2:
        conflicts.append(f"follow-up '{kept[0].key[0]}' was edited on both sides; both versions are kept")
    return kept


def _settle_next_followup(meta: dict[str, Any], ours: note.Document, theirs: note.Document, entries: list[_Entry],
                          conflicts: list[str]) -> None:
    """Two people who each logged a call with a next step both moved
    ``next_followup``: the next step of the latest merged follow-up wins, so
    this common case is not a conflict."""
    recorded = meta.get(CONFLICTS_KEY)
    if not isinstance(recorded, list):
        return
    mine = [c for c in recorded if isinstance(c, dict) and c.get("field") == "next_followup"
            and c not in _as_list(ours.meta.get(CONFLICTS_KEY)) and c not in _as_list(theirs.meta.get(CONFLICTS_KEY))]
    if not mine:
        return
    values = {v.get("value") for v in mine[0].get("values", [])}
    for entry in reversed(entries):
        if entry.span.followup.next_date in values:
            meta["next_followup"] = entry.span.followup.next_date
            recorded.remove(mine[0])
            conflicts[:] = [c for c in conflicts if not c.startswith("next_followup:")]
            if not recorded:
                del meta[CONFLICTS_KEY]
            return


# ------------------------------------------------------------------ body


def _skeleton(doc: note.Document | None) -> list[str]:
    """Body lines with each run of follow-up entries replaced by one placeholder."""
    if doc is None:
        return []
    out: list[str] = []
    pos = doc.body_start
    for span in sorted(doc.entries, key=lambda s: s.start):
        out += doc.text[pos : span.start].splitlines(keepends=True)
        if span.start != pos or not out or out[-1] != _ENTRIES + "\n":
            out.append(_ENTRIES + "\n")
        pos = span.end
    out += doc.text[pos:].splitlines(keepends=True)
    return out


def _merge_body(base: note.Document | None, ours: note.Document, theirs: note.Document, entries: list[_Entry],
                sides: Sides, conflicts: list[str]) -> str:
    lines, blocks = merge_lines(_skeleton(base), _skeleton(ours), _skeleton(theirs), sides)
    if blocks:
        conflicts.append(f"{blocks} block(s) of notes were changed differently on both sides; both versions are kept")
    rendered = "\n\n".join(e.text.rstrip("\n") for e in entries)
    out: list[str] = []
    placed = just_placed = False
    for line in lines:
        if line.rstrip("\n") != _ENTRIES:
            if just_placed and line.strip():  # keep a blank line between the follow-ups and prose after them
                out.append("\n")
            just_placed = False
            out.append(line)
            continue
        if not placed and rendered:
            _place(out, rendered)
            placed = just_placed = True
    if not placed and rendered:
        if out and out[-1].strip():
            out.append("\n")
        _place(out, rendered)
    return "".join(out)


def _place(out: list[str], rendered: str) -> None:
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    out.append(rendered + "\n")


def merge_lines(base: Sequence[str], ours: Sequence[str], theirs: Sequence[str], sides: Sides,
                *, mark_insertions: bool = False) -> tuple[list[str], int]:
    """diff3 over lines: (merged lines, number of marked conflict blocks).

    Lines inserted at the same place by both sides are all kept, ours first (two calls that
    both say "未接通" are two calls), unless ``mark_insertions``; lines changed differently
    by both sides go into a marked block.
    """
    out: list[str] = []
    blocks = 0
    for group in Merge3(base, ours, theirs, sequence_matcher=_LineMatcher).merge_groups():  # type: ignore[arg-type]  # merge3 passes no autojunk
        if group[0] != "conflict":
            out += group[1]
            continue
        _, b, o, t = group
        if not b and not mark_insertions:
            out += _ensure_newline(o) + list(t)
        else:
            blocks += 1
            out += [BLOCK_START + "\n", f"{BLOCK_VERSION}{sides.ours}\n", *_ensure_newline(o),
                    f"{BLOCK_VERSION}{sides.theirs}\n", *_ensure_newline(t), BLOCK_END + "\n"]
    return out, blocks


class _LineMatcher(difflib.SequenceMatcher[str]):
    """difflib without its "popular lines are junk" shortcut, which in a file over 200 lines
    would stop blank lines and field lines from matching and turn clean merges into conflicts."""

    def __init__(self, isjunk: Any = None, a: Sequence[str] = (), b: Sequence[str] = ()) -> None:
        super().__init__(isjunk, a, b, autojunk=False)


def _ensure_newline(lines: Sequence[str]) -> list[str]:
    out = list(lines)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    return out


# ------------------------------------------------------------------ checking


def conflict_lines(text: str) -> list[int]:
    """1-based lines where a marked conflict block starts (for ``crm check``)."""
    return [i for i, line in enumerate(text.splitlines(), start=1) if line.startswith(BLOCK_MARK)]


def describe_conflict(item: Any) -> str:
    """One recorded front-matter conflict as a sentence."""
    if not isinstance(item, dict):
        return f"unresolved sync conflict: {item}"
    values = found if isinstance(found := item.get("values"), list) else []
    shown = "; ".join(f"'{v.get('value')}' by {v.get('by') or '?'}" for v in values if isinstance(v, dict))
    return f"'{item.get('field', '?')}' was changed differently on two sides of a sync ({shown})"


def git_marker_lines(text: str) -> list[int]:
    """1-based lines where git's conflict markers start a hunk (``<<<<<<<``), or stand alone
    (a ``>>>>>>>`` with no hunk open): what a merge without the crmnotes driver leaves.  A lone
    ``=======`` is not counted: under a line of text it is a markdown heading."""
    found = []
    open_hunk = False
    for number, line in enumerate(text.splitlines(), start=1):
        kind = _git_marker(line)
        if kind == GIT_MARKERS[0]:
            found.append(number)
            open_hunk = True
        elif kind == GIT_MARKERS[2]:
            if not open_hunk:
                found.append(number)
            open_hunk = False
    return found


def _git_marker(line: str) -> str:
    for marker in GIT_MARKERS:
        if line.startswith(marker) and (len(line) == len(marker) or line[len(marker)] in " \t"):
            return marker
    return ""
