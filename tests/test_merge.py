"""The semantic three-way merge of customer files (pure text, no git)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from crmnotes import note
from crmnotes.merge import BLOCK_END, BLOCK_START, CONFLICTS_KEY, Sides, conflict_lines, merge_texts
from crmnotes.model import FollowUp

SIDES = Sides("alice", "bob")


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


def test_an_unparsable_side_falls_back_to_a_line_merge_without_git_markers() -> None:
    base = base_text()
    ours = base.replace("grade: A", "grade: [A")  # broken YAML
    theirs = base.replace("约 300 人。", "约 280 人。")
    result = merge_texts(base, ours, theirs, SIDES)
    assert "grade: [A" in result.text and "约 280 人。" in result.text
    assert "<<<<<<<" not in result.text
