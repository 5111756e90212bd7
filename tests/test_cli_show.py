"""`crm show` as people read it: the notes near the top, deals and tickets as
rows in the vault's language, follow-ups in one configurable order; and the
notes region that the TUI's notes form rewrites (``crmnotes.notes``)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len

from crmnotes import note, notes
from crmnotes.vault import Vault

from .conftest import TODAY, run_process


def show(root: Path, ref: str) -> list[str]:
    result = run_process("show", ref, cwd=root, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert all(cell_len(line) <= 80 for line in result.stdout.splitlines())
    return result.stdout.splitlines()


def test_show_prints_notes_before_records_and_follow_ups(example_vault: Vault) -> None:
    lines = show(example_vault.root, "星辰")
    notes_at = lines.index("备注")
    assert lines[notes_at + 1].startswith("北京的 SaaS 公司，约 300 人。")
    assert "决策链：王经理（技术）→ 陈总（CEO，最终拍板）。" in lines[notes_at + 2]
    assert notes_at < lines.index("商机") < next(i for i, line in enumerate(lines) if line.startswith("跟进记录"))


def test_show_prints_deals_and_tickets_as_labelled_rows(example_vault: Vault) -> None:
    lines = show(example_vault.root, "华东精密")
    text = "\n".join(lines)
    deal_head = lines[lines.index("商机") + 1].split()
    assert deal_head == ["编号", "名称", "阶段", "金额", "概率", "预计成交", "负责人"]
    deal_row = lines[lines.index("商机") + 3].split()
    close = (TODAY - timedelta(days=200)).isoformat()  # the example's {{D-200}}: the demo's dates follow today
    assert deal_row == ["1", "产线数据采集系统", "赢单", "CNY", "420,000", "100%", close, "张伟"]
    ticket_row = lines[lines.index("服务工单") + 3].split()
    assert ticket_row[:5] == ["T1", "二号车间采集网关离线", "故障", "高", "处理中"]
    assert "stage: won" not in text and "priority: high" not in text


def test_show_orders_follow_ups_newest_first_unless_configured(example_vault: Vault) -> None:
    def dates() -> list[str]:
        lines = show(example_vault.root, "华东精密")
        return [line[:16] for line in lines if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d  ", line)]

    newest = dates()
    assert newest == sorted(newest, reverse=True) and len(newest) == 3
    config = example_vault.root / "crmnotes.yaml"
    text = config.read_text(encoding="utf-8")
    assert "followups: newest-first" in text
    config.write_text(text.replace("followups: newest-first", "followups: oldest-first"), encoding="utf-8")
    assert dates() == sorted(newest)
    assert any(line.startswith("跟进记录 (3, 最早在前)") for line in show(example_vault.root, "华东精密"))


def test_show_without_notes_prints_no_notes_heading(example_vault: Vault) -> None:
    assert "备注" not in show(example_vault.root, "深圳市海豚")


@pytest.mark.parametrize("name", ["xingchenkeji-7f3q.md", "northwind-traders-8p4x.md", "shenzhenhaitunwuliu-5r2w.md"])
def test_set_notes_changes_only_the_notes(example_vault: Vault, name: str) -> None:
    path = next(example_vault.customers_dir.rglob(name))
    before = path.read_bytes()
    doc = note.parse(before)
    customer = example_vault.read(path)
    assert notes.with_notes(doc, notes.notes_text(doc)) == doc.text  # unchanged notes: not one byte rewritten

    updated = notes.set_notes(example_vault, customer, "客户偏好电话沟通，对响应时间敏感。\n\n- 决策人：陈总")
    after = note.parse(path.read_bytes())
    assert notes.notes_text(after) == "客户偏好电话沟通，对响应时间敏感。\n\n- 决策人：陈总"
    assert after.meta == doc.meta and after.text[:after.body_start] == doc.text[:doc.body_start]
    assert [e.followup.note for e in after.entries] == [e.followup.note for e in doc.entries]
    assert [f.note for f in updated.followups] == [f.note for f in customer.followups]
    tail = doc.text[min((e.start for e in doc.entries), default=len(doc.text)):]
    assert after.text.endswith(tail)  # every follow-up byte for byte

    notes.set_notes(example_vault, updated, notes.notes_text(doc))
    if notes.notes_text(doc):
        assert path.read_bytes() == before
