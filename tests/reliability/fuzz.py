"""Hypothesis strategies for whole customer files: front-matter of any
plain values, prose, hand-written and tool-written entries, CRLF and BOM."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

from crmnotes import note, yamlsafe
from crmnotes.errors import FileFormatError
from crmnotes.model import FollowUp

from .harness import entry_key

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
KEYS = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True)
VALUES = st.one_of(TEXT, st.integers(), st.booleans(), st.none(), st.lists(TEXT, max_size=3))
WHEN = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0))
FOLLOWUPS = st.builds(FollowUp, at=WHEN, channel=st.sampled_from(["phone", "wechat", "微信", ""]),
                      by=st.sampled_from(["alice", "张伟", ""]), note=TEXT.map(str.strip))


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    meta = draw(st.dictionaries(KEYS, VALUES, max_size=6))
    meta["name"] = draw(TEXT) or "名"
    parts = [draw(TEXT), "## 跟进记录"]
    for followup in draw(st.lists(FOLLOWUPS, max_size=4)):
        parts.append(note.render_followup(followup))
    parts.append(draw(st.sampled_from(["", "### 2025年3月1日 电话 李娜\n手写的记录\n下一步: 2025-03-05 报价"])))
    text = "---\n" + yamlsafe.dump(meta) + "---\n\n" + "\n\n".join(parts) + "\n"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return (("\ufeff" if draw(st.booleans()) else "") + text).encode("utf-8")


def round_trip(data: bytes, extra: FollowUp, key: str, value: object) -> int:
    """parse -> insert an entry -> parse -> set a field -> parse; returns how
    many inputs were tried (1) or raises AssertionError on any loss."""
    try:
        doc = note.parse(data)
    except FileFormatError:
        return 1  # refused cleanly: fine
    assert doc.encode() == data  # lossless read
    before = [entry_key(f) for f in doc.followups]
    added = note.parse(doc.encode(note.insert_followup(doc, extra)))
    after = [entry_key(f) for f in added.followups]
    assert sorted(after) == sorted([*before, entry_key(note.parse(note.new_file_text({"name": "x"}, "x") + "\n"
                                                                + note.render_followup(extra)).followups[0])])
    assert added.meta == doc.meta
    try:
        changed_text = note.set_fields(added, {key: value})
    except Exception:  # a layout set_fields refuses (documented); nothing written
        return 1
    changed = note.parse(added.encode(changed_text))
    assert [entry_key(f) for f in changed.followups] == [entry_key(f) for f in added.followups]
    assert changed.meta == {**added.meta, key: value}
    assert note.parse(changed.encode()).meta == changed.meta  # stable
    return 1
