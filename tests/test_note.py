"""Customer file parsing and lossless editing (crmnotes.note)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmnotes import note
from crmnotes.actions import jsonable
from crmnotes.errors import FileFormatError
from crmnotes.model import FollowUp

DATA = Path(__file__).parent / "data" / "notes"
GOLDEN = sorted(DATA.glob("*.md"))


def describe(doc: note.Document) -> dict:
    return {
        "meta": jsonable(doc.meta), "bom": doc.bom, "newline": doc.newline,
        "followups": [f.to_json() | {"title": f.title, "line": f.line} for f in doc.followups],
        "problems": [{"line": p.line, "severity": p.severity, "code": p.code} for p in doc.problems],
    }


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_files(path: Path) -> None:
    expected = json.loads(path.with_suffix(".result.json").read_text(encoding="utf-8"))
    assert describe(note.parse(path.read_bytes())) == expected


def test_hand_written_chinese_entry_is_recognized() -> None:
    doc = note.parse((DATA / "hand_written_odd.md").read_bytes())
    first, second = doc.followups
    assert (first.at, first.channel, first.by, first.has_time) == (datetime(2025, 6, 2), "电话", "李娜", False)
    assert first.feedback == "暂无预算" and first.next_date == date(2025, 9, 1)
    assert (second.stage_from, second.stage_to, second.by) == ("潜在", "意向", "王五")
    # a heading inside a fenced code block is not an entry
    assert len(doc.entries) == 2


def test_malformed_entries_are_reported_not_dropped() -> None:
    raw = (DATA / "malformed_entries.md").read_bytes()
    doc = note.parse(raw)
    assert [p.line for p in doc.problems if p.code == "malformed-entry"] == [6, 9]
    assert "February has no 30th" in doc.text  # the text is still there, untouched
    assert doc.encode() == raw


def test_crlf_and_bom_survive_an_append() -> None:
    raw = (DATA / "crlf_bom.md").read_bytes()
    doc = note.parse(raw)
    assert doc.bom and doc.newline == "\r\n"
    new = doc.encode(note.insert_followup(doc, FollowUp(at=datetime(2025, 10, 21, 9, 0), channel="phone",
                                                         by="李娜", note="确认会议时间")))
    assert new.startswith(raw)
    assert b"\n" not in new.replace(b"\r\n", b"")  # no bare LF was introduced
    assert [f.note for f in note.parse(new).followups][-1] == "确认会议时间"


def test_append_never_rewrites_earlier_bytes() -> None:
    raw = (DATA / "tool_written_zh.md").read_bytes()
    doc = note.parse(raw)
    followup = FollowUp(at=datetime(2025, 3, 25, 16, 30), channel="wechat", by="张伟", note="发送报价单",
                        next_date=date(2025, 4, 1), next_what="确认报价", feedback="会内部讨论",
                        stage_from="intent", stage_to="won")
    new = doc.encode(note.insert_followup(doc, followup))
    assert new.startswith(raw)
    added = new[len(raw):].decode()
    assert "### 2025-03-25 16:30 · wechat · 张伟" in added
    reparsed = note.parse(new).followups[-1]
    assert (reparsed.next_date, reparsed.next_what, reparsed.stage_to) == (date(2025, 4, 1), "确认报价", "won")


def test_an_older_entry_is_inserted_in_time_order() -> None:
    doc = note.parse((DATA / "tool_written_zh.md").read_bytes())
    text = note.insert_followup(doc, FollowUp(at=datetime(2025, 3, 15, 8, 0), channel="email", by="张伟",
                                              note="补记：发过白皮书"))
    reparsed = note.parse(text)
    assert [f.at.day for f in reparsed.followups] == [12, 15, 19]
    assert [e.followup.at.day for e in reparsed.entries] == [12, 15, 19]  # also in file order
    assert text.startswith(doc.text[: doc.entries[1].start])


def test_note_lines_that_look_like_headings_are_escaped() -> None:
    doc = note.parse((DATA / "tool_written_zh.md").read_bytes())
    text = note.insert_followup(doc, FollowUp(at=datetime(2025, 4, 1, 9, 0), channel="phone", by="x",
                                              note="# 不是标题\n## 2025-04-02 也不是记录\nnext: 这不是字段\n```"))
    reparsed = note.parse(text)
    assert len(reparsed.followups) == 3
    assert reparsed.followups[-1].note == "# 不是标题\n## 2025-04-02 也不是记录\nnext: 这不是字段\n```"
    assert reparsed.followups[-1].next_date is None and not reparsed.problems


def test_set_fields_touches_only_the_changed_keys() -> None:
    raw = (DATA / "hand_written_odd.md").read_text(encoding="utf-8")
    doc = note.parse(raw)
    text = note.set_fields(doc, {"industry": "education", "grade": "B", "unknown_key": note.DELETE})
    before, after = raw.splitlines(), text.splitlines()
    assert "name: 北京云帆教育科技有限公司   # 官网留资" in after  # comment kept byte for byte
    assert "industry: education" in after and "grade: B" in after
    assert not any(line.startswith("unknown_key") for line in after)
    body = raw[raw.index("# 北京云帆教育"):]
    assert text.endswith(body)
    changed = {line for line in before if line not in after} | {line for line in after if line not in before}
    assert changed == {"industry: 教育", "industry: education", "grade: B", "unknown_key: 保留"}


def test_set_fields_writes_lists_as_obsidian_properties() -> None:
    doc = note.parse((DATA / "tool_written_zh.md").read_text(encoding="utf-8"))
    text = note.set_fields(doc, {"tags": ["needs/data-security", "budget/50k-plus"], "next_followup": date(2025, 4, 1)})
    assert "tags:\n  - needs/data-security\n  - budget/50k-plus\n" in text
    assert "next_followup: 2025-04-01\n" in text
    assert note.parse(text).meta["tags"] == ["needs/data-security", "budget/50k-plus"]


def test_set_fields_refuses_a_layout_it_cannot_splice() -> None:
    doc = note.parse("---\n{name: 星辰, stage: potential}\n---\nbody\n")
    with pytest.raises(FileFormatError, match="cannot edit"):
        note.set_fields(doc, {"stage": "intent"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"no front matter here\n", "no front-matter"),
        (b"---\nname: x\n", "never closed"),
        (b"---\nname: [unclosed\n---\n", "malformed YAML"),
        (b"---\n- a list\n---\n", "not a mapping"),
        (b"---\nname: !!python/object/apply:os.system [echo pwned]\n---\n", "unsafe"),
        (b"---\na: &x [1, 2]\nb: *x\n---\n", "anchors"),
        (b"---\nname: a\nname: b\n---\n", "duplicate key"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        ("---\nname: 星辰\n---\n".encode("gbk"), "not UTF-8"),
    ],
)
def test_unreadable_files_raise_clear_errors(content: bytes, message: str) -> None:
    with pytest.raises(FileFormatError, match=message):
        note.parse(content)


def test_billion_laughs_is_refused_quickly() -> None:
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    ) + "---\n"
    with pytest.raises(FileFormatError, match="anchors"):
        note.parse(bomb.encode())


def test_yaml_scalars_are_read_the_way_people_mean_them() -> None:
    doc = note.parse("---\nphone: +8613800138000\nzip: 0571\nanswer: no\ntime: 14:30\nday: 2025-03-01\n---\n")
    assert doc.meta["phone"] == "+8613800138000"
    assert doc.meta["zip"] == "0571" and doc.meta["answer"] == "no" and doc.meta["time"] == "14:30"
    assert doc.meta["day"] == date(2025, 3, 1)


def test_clean_text_strips_terminal_escapes() -> None:
    assert note.clean_text("星辰\x1b[31m红\x1b[0m\x07科技\n下一行") == "星辰红科技\n下一行"


# ------------------------------------------------------------------ properties

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85"),
    min_size=1, max_size=40,
).filter(lambda s: s.strip() != "")
WHEN = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0))
FOLLOWUPS = st.builds(
    FollowUp, at=WHEN, channel=st.sampled_from(["phone", "wechat", "email", "visit"]),
    by=st.sampled_from(["张伟", "alice", "李娜"]), note=TEXT,
    feedback=st.one_of(st.just(""), TEXT),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FOLLOWUPS, min_size=1, max_size=6))
def test_appending_followups_loses_nothing(followups: list[FollowUp]) -> None:
    text = (DATA / "tool_written_zh.md").read_text(encoding="utf-8")
    original = note.parse(text)
    for followup in followups:
        text = note.insert_followup(note.parse(text), followup)
    final = note.parse(text)
    assert not [p for p in final.problems if p.severity == "error"]
    assert final.meta == original.meta
    key = lambda f: (f.at, f.channel, f.by)  # noqa: E731
    assert sorted(map(key, final.followups)) == sorted([*map(key, original.followups), *map(key, followups)])
    written = sorted((f.at, note.clean_text(f.note).strip("\n"), note._inline(f.feedback)) for f in followups)
    added = {(f.at, f.note, f.feedback) for f in final.followups}
    assert all(item in added for item in written)
    # once written, parse -> write again -> parse is stable
    assert note.parse(note.parse(text).encode()).meta == final.meta


SCALARS = st.one_of(TEXT, st.integers(-10**9, 10**9), st.booleans(), st.dates(), st.lists(TEXT, max_size=4))


@settings(max_examples=80)
@given(st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True), SCALARS, min_size=1, max_size=5))
def test_set_fields_round_trips_any_values(changes: dict) -> None:
    doc = note.parse((DATA / "hand_written_odd.md").read_text(encoding="utf-8"))
    text = note.set_fields(doc, changes)
    reparsed = note.parse(text)
    for key, value in changes.items():
        assert reparsed.meta[key] == value
    for key, value in doc.meta.items():
        if key not in changes:
            assert reparsed.meta[key] == value
    assert text.endswith(doc.body)


# ------------------------------------------------------------------ fast front-matter == PyYAML's dump

_TRICKY = ["yes", "no", "on", "Off", "null", "~", "", " ", "+8613800138000", "0571", "1_000", "12:30", "1.5e3",
           "2024-03-05", "2024-03-05T10:00", "2024-03-05 10:00:00", "- item", "-", "? x", ": x", "a: b", "a #b",
           "#tag", "it's", '"quoted"', "'single'", "张三: 经理", "“中文引号”", "阿里巴巴（杭州）", "x  y", " lead",
           "trail ", "@home", "`tick`", "%pct", "!bang", "&anchor", "*star", "[list]", "{map}", "a,b", "|pipe",
           ">fold", "tab\tin", "\ufeffbom", "a\nb", "x\n\n", "0\xa0", "\u3000全角", "末尾\u3000", "café", "🙂",
           "=", "<<",
           ".inf", ".nan", "0x1f", "0o17"]
_TEXT_VALUES = st.one_of(TEXT, st.sampled_from(_TRICKY),
                         st.text(alphabet="+-:#'\" 0123456789abc中文\n\r\t\x85\u2028", max_size=12),
                         st.from_regex(r"\+86 ?1[3-9]\d{9}", fullmatch=True))
_VALUES = st.one_of(
    _TEXT_VALUES, st.integers(-10**12, 10**12), st.booleans(), st.none(), st.dates(),
    st.lists(_TEXT_VALUES, max_size=4), st.floats(allow_nan=False),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.dictionaries(st.sampled_from(["name", "stage", "amount", "备注"]), _TEXT_VALUES | st.integers(), max_size=3),
    st.lists(st.fixed_dictionaries({"name": _TEXT_VALUES, "amount": st.integers(0, 10**6)}), max_size=2),
)
_KEYS = st.one_of(st.from_regex(r"[a-z][a-z_0-9]{0,15}", fullmatch=True), st.sampled_from(["行业", "yes", "a b"]))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=8), TEXT, st.sampled_from(["zh", "en"]))
def test_new_file_text_is_byte_identical_to_the_yaml_dump(meta: dict, title: str, language: str) -> None:
    assert note.new_file_text(meta, title, language) == note.yaml_file_text(meta, title, language)


def test_fast_front_matter_writes_the_usual_fields_without_the_dumper() -> None:
    meta = {"id": "k3x9", "name": "杭州云栖科技有限公司", "phone": "+8613800138000", "stage": "intent",
            "tags": ["SaaS", "重点客户", "no"], "next_followup": "2026-11-27", "created": "2026-11-20T14:30",
            "deals": [], "score": 3, "vip": True, "contact": "王经理: 采购"}
    head = note.fast_front_matter(meta)
    assert head is not None
    assert note._fast_item("name", meta["name"]) == "name: 杭州云栖科技有限公司"
    assert note._fast_item("phone", meta["phone"]) == "phone: '+8613800138000'"
    assert note._fast_item("next_followup", meta["next_followup"]) == "next_followup: '2026-11-27'"
    assert note._fast_item("tags", meta["tags"]) == "tags:\n  - SaaS\n  - 重点客户\n  - 'no'"
    text = note.new_file_text(meta, meta["name"])
    assert text == note.yaml_file_text(meta, meta["name"])
    assert note.parse(text.encode()).meta == meta


def test_values_the_fast_path_cannot_prove_go_to_the_dumper() -> None:
    for value in ["a\nb", 1.5, datetime(2024, 1, 2, 3, 4), {"a": 1}, "x" * 2000, "\x07bell"]:
        assert note._fast_item("k", value) is None
        meta = {"name": "n", "k": value}
        assert note.new_file_text(meta, "n") == note.yaml_file_text(meta, "n")
