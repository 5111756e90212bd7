"""The semantic three-way merge of customer files (pure text, no git)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmnotes import note
from crmnotes.errors import FileFormatError
from crmnotes.merge import (
    BLOCK_END,
    BLOCK_START,
    CONFLICTS_KEY,
    Sides,
    conflict_lines,
    git_marker_lines,
    keep_both,
    lost_entries,
    merge_lines,
    merge_texts,
)
from crmnotes.model import FollowUp

SIDES = Sides("alice", "bob")
HOSTILE = Path(__file__).parent / "hostile"


def base_text() -> str:
    meta = {"id": "c-20250101-abcd1234", "name": "星辰科技有限公司", "industry": "internet", "contact": "王经理",
            "phone": "+8613800138000", "stage": "intent", "grade": "A", "owner": "张伟",
            "tags": ["needs/data-security", "budget/50k-plus"], "created": "2025-01-01T09:30",
            "deals": [{"name": "数据安全平台一期", "stage": "proposal", "amount": 180000}]}
    text = note.new_file_text(meta, "星辰科技有限公司")
    text = text.replace("## 备注\n", "## 备注\n\n北京的 SaaS 公司，约 300 人。\n决策人是陈总。\n")
    return log(text, "2025-02-01 10:00", "visit", "张伟", "在展会认识王经理。")


def log(text: str, at: str, channel: str, by: str, what: str, next_date: date | None = None) -> str:
    followup = FollowUp(at=datetime.fromisoformat(at), channel=channel, by=by, note=what, next_date=next_date,
                        next_what="回访" if next_date else "")
    return note.insert_followup(note.parse(text), followup)


def set_(text: str, **changes: Any) -> str:
    return note.set_fields(note.parse(text), {k: (note.DELETE if v is None else v) for k, v in changes.items()})


def notes_of(text: str) -> list[tuple[str, str, str]]:
    return [(f.at.isoformat(), f.by, f.note) for f in note.parse(text).followups]


def test_followups_from_both_sides_are_all_kept_in_time_order() -> None:
    base = base_text()
    ours = log(base, "2025-03-02 10:00", "phone", "alice", "电话确认报价。")
    theirs = log(base, "2025-03-01 09:00", "wechat", "bob", "微信发送白皮书。")
    result = merge_texts(base, ours, theirs, SIDES)
    assert result.conflicts == []
    assert notes_of(result.text) == [("2025-02-01T10:00:00", "张伟", "在展会认识王经理。"),
                                     ("2025-03-01T09:00:00", "bob", "微信发送白皮书。"),
                                     ("2025-03-02T10:00:00", "alice", "电话确认报价。")]
    entries = note.parse(result.text).entries
    assert [e.start for e in entries] == sorted(e.start for e in entries)
    assert "<<<<<<<" not in result.text and ">>>>>>>" not in result.text


def test_merge_is_the_same_whichever_side_merges() -> None:
    base = base_text()
    ours = log(base, "2025-03-02 10:00", "phone", "alice", "电话确认报价。")
    theirs = log(base, "2025-03-01 09:00", "wechat", "bob", "微信发送白皮书。")
    assert notes_of(merge_texts(base, ours, theirs).text) == notes_of(merge_texts(base, theirs, ours).text)


def test_an_entry_added_on_both_sides_appears_once() -> None:
    base = base_text()
    both = log(base, "2025-03-01 09:00", "phone", "alice", "同一通电话。")
    ours = log(both, "2025-03-03 09:00", "email", "alice", "发送合同。")
    result = merge_texts(base, ours, both)
    assert [n for _, _, n in notes_of(result.text)].count("同一通电话。") == 1
    assert len(notes_of(result.text)) == 3


def test_an_entry_edited_on_one_side_takes_that_side() -> None:
    base = log(base_text(), "2025-03-01 09:00", "phone", "alice", "初稿记录。")
    ours = base.replace("初稿记录。", "修改后的记录：客户要求下周报价。")
    theirs = log(base, "2025-03-05 11:00", "visit", "bob", "上门拜访。")
    result = merge_texts(base, ours, theirs, SIDES)
    texts = [n for _, _, n in notes_of(result.text)]
    assert "修改后的记录：客户要求下周报价。" in texts and "初稿记录。" not in texts and "上门拜访。" in texts


def test_different_fields_changed_on_each_side_are_both_kept() -> None:
    base = base_text()
    result = merge_texts(base, set_(base, grade="B"), set_(base, stage="won", email="wang@xingchen.cn"), SIDES)
    meta = note.parse(result.text).meta
    assert (meta["grade"], meta["stage"], meta["email"]) == ("B", "won", "wang@xingchen.cn")
    assert CONFLICTS_KEY not in meta and result.conflicts == []


def test_same_field_changed_differently_keeps_both_values_with_authors() -> None:
    base = base_text()
    result = merge_texts(base, set_(base, grade="B"), set_(base, grade="C"), SIDES)
    meta = note.parse(result.text).meta
    assert meta["grade"] == "B"
    assert meta[CONFLICTS_KEY] == [{"field": "grade", "values": [{"value": "B", "by": "alice"},
                                                                 {"value": "C", "by": "bob"}]}]
    assert result.conflicts and "grade" in result.conflicts[0]


def test_a_deleted_field_against_an_edit_keeps_the_edit_and_records_it() -> None:
    base = base_text()
    result = merge_texts(base, set_(base, owner=None), set_(base, owner="李四"), SIDES)
    meta = note.parse(result.text).meta
    assert meta["owner"] == "李四"
    assert meta[CONFLICTS_KEY][0]["field"] == "owner"


def test_tags_merge_as_sets_including_removals() -> None:
    base = base_text()
    ours = set_(base, tags=["needs/data-security", "budget/50k-plus", "role/decision-maker"])
    theirs = set_(base, tags=["needs/data-security", "region/华北"])  # removed budget, added region
    meta = note.parse(merge_texts(base, ours, theirs, SIDES).text).meta
    assert meta["tags"] == ["needs/data-security", "role/decision-maker", "region/华北"]
    assert CONFLICTS_KEY not in meta


def test_deals_merge_record_by_record() -> None:
    base = base_text()
    ours = set_(base, deals=[{"name": "数据安全平台一期", "stage": "negotiation", "amount": 180000}])
    theirs = set_(base, deals=[{"name": "数据安全平台一期", "stage": "proposal", "amount": 200000},
                               {"name": "运维服务", "stage": "initial-contact", "amount": 30000}])
    meta = note.parse(merge_texts(base, ours, theirs, SIDES).text).meta
    assert meta["deals"] == [{"name": "数据安全平台一期", "stage": "negotiation", "amount": 200000},
                             {"name": "运维服务", "stage": "initial-contact", "amount": 30000}]
    assert CONFLICTS_KEY not in meta


def test_same_deal_field_changed_differently_is_recorded() -> None:
    base = base_text()
    ours = set_(base, deals=[{"name": "数据安全平台一期", "stage": "won", "amount": 180000}])
    theirs = set_(base, deals=[{"name": "数据安全平台一期", "stage": "lost", "amount": 180000}])
    meta = note.parse(merge_texts(base, ours, theirs, SIDES).text).meta
    assert meta["deals"][0]["stage"] == "won"
    assert meta[CONFLICTS_KEY][0]["field"] == "deals[数据安全平台一期].stage"


def test_two_next_steps_take_the_latest_followups_date_without_conflict() -> None:
    base = base_text()
    ours = set_(log(base, "2025-03-02 10:00", "phone", "alice", "电话。", date(2025, 3, 9)),
                next_followup=date(2025, 3, 9))
    theirs = set_(log(base, "2025-03-01 09:00", "wechat", "bob", "微信。", date(2025, 3, 20)),
                  next_followup=date(2025, 3, 20))
    result = merge_texts(base, ours, theirs, SIDES)
    meta = note.parse(result.text).meta
    assert meta["next_followup"] == date(2025, 3, 9)
    assert CONFLICTS_KEY not in meta and result.conflicts == []


def test_prose_changed_differently_is_kept_in_a_marked_block() -> None:
    base = base_text()
    ours = base.replace("约 300 人。", "约 350 人。")
    theirs = log(base.replace("约 300 人。", "约 280 人，正在裁员。"), "2025-03-01 09:00", "phone", "bob", "电话。")
    result = merge_texts(base, ours, theirs, SIDES)
    assert BLOCK_START in result.text and BLOCK_END in result.text
    assert "约 350 人。" in result.text and "约 280 人，正在裁员。" in result.text
    assert "<<<<<<<" not in result.text and "=======" not in result.text
    doc = note.parse(result.text)
    assert len(doc.followups) == 2
    assert len(conflict_lines(doc.body)) == 1


def test_prose_lines_inserted_at_one_place_by_both_are_kept_without_a_block() -> None:
    base = base_text()
    ours = base.replace("决策人是陈总。\n", "决策人是陈总。\n法务：李律师。\n")
    theirs = base.replace("决策人是陈总。\n", "决策人是陈总。\n采购：赵经理。\n")
    result = merge_texts(base, ours, theirs, SIDES)
    assert "法务：李律师。" in result.text and "采购：赵经理。" in result.text
    assert BLOCK_START not in result.text and result.conflicts == []


def test_add_add_with_no_base_merges_the_two_files() -> None:
    base = base_text()
    ours = log(base, "2025-03-02 10:00", "phone", "alice", "电话。")
    theirs = log(base, "2025-03-01 09:00", "wechat", "bob", "微信。")
    result = merge_texts(None, ours, theirs, SIDES)
    assert len(note.parse(result.text).followups) == 3
    assert "<<<<<<<" not in result.text


def test_one_sided_change_is_taken_byte_for_byte() -> None:
    base = base_text()
    theirs = set_(log(base, "2025-03-01 09:00", "phone", "bob", "电话。"), grade="C")
    assert merge_texts(base, base, theirs).text == theirs
    assert merge_texts(base, theirs, base).text == theirs


def test_comments_and_unknown_keys_survive_a_field_merge() -> None:
    base = base_text().replace("grade: A\n", "grade: A\n# 合同由法务部审核\nlegal_contact: 李律师\n")
    result = merge_texts(base, set_(base, stage="won"), set_(base, owner="李四"))
    assert "# 合同由法务部审核\nlegal_contact: 李律师\n" in result.text
    meta = note.parse(result.text).meta
    assert (meta["stage"], meta["owner"]) == ("won", "李四")


def test_crlf_files_stay_crlf() -> None:
    base = base_text()
    ours = log(base, "2025-03-02 10:00", "phone", "alice", "电话。").replace("\n", "\r\n")
    theirs = log(base, "2025-03-01 09:00", "wechat", "bob", "微信。").replace("\n", "\r\n")
    result = merge_texts(base.replace("\n", "\r\n"), ours, theirs)
    assert "\r\n" in result.text and "\n" not in result.text.replace("\r\n", "")
    assert len(note.parse(result.text).followups) == 3


def test_an_unparsable_side_merges_its_front_matter_by_lines_without_git_markers() -> None:
    base = base_text()
    ours = base.replace("grade: A", "grade: [A")  # broken YAML
    theirs = base.replace("约 300 人。", "约 280 人。")
    result = merge_texts(base, ours, theirs, SIDES)
    assert "grade: [A" in result.text and "约 280 人。" in result.text
    assert "<<<<<<<" not in result.text


# ------------------------------------------------------------------ a side whose front-matter does not parse

BROKEN = {"yaml": ("grade: A", "grade: [A"), "date": ("created: 2025-01-01T09:30", "created: 2024-02-30"),
          "huge-int": ("grade: A", "grade: " + "9" * 5000), "float": ("grade: A", "grade: !!float abc")}


def broken(text: str, how: str) -> str:
    old, new = BROKEN[how]
    assert old in text
    return text.replace(old, new)


def entries_of(text: str) -> list[tuple[str, str, str]]:
    """Every follow-up found by the body scanner, whether the front-matter parses or not."""
    doc = note.parse_entries(text)
    return [(e.followup.by, e.followup.note, e.followup.next_text) for e in doc.entries]


def no_answer(text: str, at: str, by: str) -> str:
    return log(text, at, "phone", by, "未接通", date(2025, 3, 9))


@pytest.mark.parametrize("how", sorted(BROKEN))
@pytest.mark.parametrize("side", ["ours", "theirs", "base"])
def test_a_broken_side_keeps_repeated_notes_and_next_steps_from_both_sides(side: str, how: str) -> None:
    base = base_text()
    ours = no_answer(base, "2025-03-02 10:00", "alice")
    theirs = no_answer(base, "2025-03-02 11:00", "bob")
    texts = {"base": base, "ours": ours, "theirs": theirs}
    texts[side] = broken(texts[side], how)
    result = merge_texts(texts["base"], texts["ours"], texts["theirs"], SIDES)
    assert not result.unresolved
    found = entries_of(result.text)
    assert found.count(("alice", "未接通", "2025-03-09 回访")) == 1
    assert found.count(("bob", "未接通", "2025-03-09 回访")) == 1
    assert len(found) == 3
    assert result.text.count("next: 2025-03-09 回访") == 2
    assert git_marker_lines(result.text) == [] and conflict_lines(result.text) == []
    if side != "base":  # the damage is carried over, for crm check to report; the other side's fields stay
        assert BROKEN[how][1] in result.text


def test_a_broken_side_still_takes_the_other_sides_field_and_prose_changes() -> None:
    base = base_text()
    ours = broken(no_answer(base, "2025-03-02 10:00", "alice"), "yaml")
    theirs = no_answer(set_(base, owner="李四").replace("约 300 人。", "约 280 人。"), "2025-03-02 11:00", "bob")
    result = merge_texts(base, ours, theirs, SIDES)
    assert "grade: [A" in result.text and "owner: 李四" in result.text and "约 280 人。" in result.text
    assert [by for by, _, _ in entries_of(result.text)] == ["张伟", "alice", "bob"]


def test_front_matter_changed_differently_next_to_a_broken_side_is_kept_in_a_marked_block() -> None:
    base = base_text()
    ours = broken(set_(base, owner="李四"), "yaml")
    theirs = set_(base, owner="王五")
    result = merge_texts(base, ours, theirs, SIDES)
    assert "owner: 李四" in result.text and "owner: 王五" in result.text
    assert conflict_lines(result.text) and result.conflicts


def test_prose_lines_both_sides_inserted_are_all_kept_even_when_they_repeat() -> None:
    base = base_text()
    ours = base.replace("决策人是陈总。\n", "决策人是陈总。\n未接通\n")
    theirs = base.replace("决策人是陈总。\n", "决策人是陈总。\n未接通\n再约时间\n")
    result = merge_texts(base, ours, theirs, SIDES)
    assert result.text.count("未接通\n") == 2 and "再约时间" in result.text


@pytest.mark.parametrize("emptied", ["ours", "theirs"])
def test_an_emptied_side_against_a_change_keeps_both_and_is_unresolved(emptied: str) -> None:
    base = base_text()
    changed = no_answer(base, "2025-03-02 11:00", "bob")
    ours, theirs = ("", changed) if emptied == "ours" else (changed, "")
    result = merge_texts(base, ours, theirs, SIDES)
    assert result.unresolved and "emptied" in result.conflicts[0]
    assert changed in result.text and conflict_lines(result.text)


def test_an_emptied_side_against_no_change_takes_the_empty_file() -> None:
    assert merge_texts(base_text(), "", base_text()).text == ""


def test_lost_entries_counts_what_a_merged_text_dropped() -> None:
    base = base_text()
    ours = no_answer(base, "2025-03-02 10:00", "alice")
    theirs = no_answer(base, "2025-03-02 11:00", "bob")
    assert lost_entries([base, ours, theirs], merge_texts(base, ours, theirs).text) == 0
    assert lost_entries([base, ours, theirs], ours) == 1
    assert lost_entries([base, ours, ours], ours) == 0  # the same entry added on both sides is one entry
    assert lost_entries([ours, base, ours], base) == 0  # removed on one side, untouched on the other


def test_keep_both_holds_each_side_whole() -> None:
    ours, theirs = no_answer(base_text(), "2025-03-02 10:00", "alice"), broken(base_text(), "yaml")
    result = keep_both(ours, theirs, SIDES, "测试")
    assert result.text.startswith(ours) and theirs in result.text and result.unresolved
    assert len(conflict_lines(result.text)) == 1


def hostile_texts() -> list[str]:
    """The hostile corpus files that are text (the driver refuses the others before merging)."""
    names = []
    for path in sorted(HOSTILE.glob("*.md")):
        try:
            note.decode(path.read_bytes())
        except FileFormatError:
            continue
        names.append(path.name)
    return names


@pytest.mark.parametrize("name", hostile_texts())
def test_a_hostile_file_on_any_side_never_raises_nor_loses_a_followup(name: str) -> None:
    hostile = note.decode((HOSTILE / name).read_bytes())[0]
    base = base_text()
    ours = no_answer(base, "2025-03-02 10:00", "alice")
    for texts in ([hostile, ours, base + "\n"], [base, hostile, ours], [base, ours, hostile]):
        result = merge_texts(*texts, SIDES)
        assert lost_entries(texts, result.text) == 0


# ------------------------------------------------------------------ git's markers

def test_git_marker_lines_finds_hunks_and_stray_markers_but_not_a_setext_heading() -> None:
    text = "简介\n=======\n\n<<<<<<< HEAD\n未接通\n=======\n已接通\n>>>>>>> origin/main\n尾\n>>>>>>> stray\n"
    assert git_marker_lines(text) == [4, 10]
    assert git_marker_lines("<<<<<<<\n") == [1] and git_marker_lines("<<<<<<<< 八个\n") == []


BASE_LINES = st.lists(st.sampled_from(["\n", "---\n", "决策人是陈总。\n", "## 备注\n"]), max_size=30)
ADDED_LINES = st.lists(st.sampled_from(["未接通\n", "next: 2025-03-09 回访\n", "再约时间\n"]), max_size=10)


def counted(lines: list[str]) -> Counter[str]:
    return Counter(line.rstrip("\n") for line in lines if not line.startswith("!!! "))


@settings(max_examples=500, deadline=None)
@given(BASE_LINES, ADDED_LINES, ADDED_LINES, st.integers(0, 30))
def test_merge_lines_keeps_every_line_both_sides_inserted_at_one_place(base: list[str], added_ours: list[str],
                                                                       added_theirs: list[str], at: int) -> None:
    ours = base[:at] + added_ours + base[at:]
    theirs = base[:at] + added_theirs + base[at:]
    merged, _ = merge_lines(base, ours, theirs, SIDES)
    if added_ours != added_theirs:  # two people who each wrote "未接通" there wrote it twice
        assert counted(merged) >= counted(base) + counted(added_ours) + counted(added_theirs)
    assert merge_lines(base, ours, base, SIDES)[0] == ours and merge_lines(base, base, theirs, SIDES)[0] == theirs


def random_edit(text: str, rnd: random.Random) -> str:
    """One edit a person or crm might make: log a call, add or drop a line or a section, damage a field."""
    lines = text.split("\n")
    kind = rnd.randrange(6)
    if kind == 0:
        when = f"2025-03-{rnd.randint(1, 9):02d} {rnd.randint(8, 18):02d}:00"
        what, who = rnd.choice(["未接通", "已接通", "未接通\n再打"]), rnd.choice(["alice", "bob"])
        try:
            return log(text, when, "phone", who, what, rnd.choice([None, date(2025, 4, 1)]))
        except FileFormatError:  # a damaged file: by hand
            return text + f"\n### {when} · phone · {who}\n\n{what}\n"
    if kind == 1:
        if rnd.random() < 0.5:
            return text + "\n## 附件\n网盘链接。\n"
        return text.replace("## 跟进记录", "## 其他\n\n另起一段。\n\n## 跟进记录")
    if kind == 2:
        del lines[rnd.randrange(1, len(lines))]
    elif kind == 3:
        added = rnd.choice(["未接通", "", "### 2025-03-05 10:00 · 手写", "next: 2025-04-01 回访"])
        lines.insert(rnd.randrange(1, len(lines)), added)
    elif kind == 4:
        return text.replace("在展会认识王经理。", rnd.choice(["在展会认识王经理，未接通。", "展会。"]))
    else:
        return text.replace("grade: A", rnd.choice(["grade: B", "grade: [A"]))
    return "\n".join(lines)


@pytest.mark.parametrize("seed", range(3))
def test_random_edits_on_both_sides_never_lose_a_followup(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(100):
        base = base_text()
        for _ in range(rnd.randint(0, 2)):
            base = random_edit(base, rnd)
        ours, theirs = base, base
        for _ in range(rnd.randint(1, 3)):
            ours, theirs = random_edit(ours, rnd), random_edit(theirs, rnd)
        result = merge_texts(base, ours, theirs, SIDES)
        assert lost_entries([base, ours, theirs], result.text) == 0
        assert not result.unresolved, result.conflicts
