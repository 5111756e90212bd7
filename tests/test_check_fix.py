"""Files written by hand are first-class: labels are valid, a file without an id is adopted,
and ``crm check --fix`` applies every safe fix as a lossless edit."""

from __future__ import annotations

from pathlib import Path

from crmnotes import actions, fixes
from crmnotes.due import effective_stage
from crmnotes.vault import Vault
from tests.conftest import TODAY, Crm

LABELS = """---
id: c-20250301-k7f3q9mz
name: 合作科技有限公司
industry: 互联网
contact: 王磊
phone: "+8613800138000"
source: 合作伙伴
stage: 意向
grade: A
created: 2025-03-01T09:30
---

# 合作科技有限公司

## 跟进记录

### 2025-03-02 10:00 · 电话 · 张伟

确认了数据安全方面的需求。
"""

NO_ID = """---
name: 手写贸易
industry: 零售
contact: 李娜
phone: 138 0013 8001
source: 展会推荐
stage: 潜在客户
tags: needs/training, risk/高
---

# 手写贸易

李总说下个月再谈。  <!-- 这一行与其他正文都不能被改动 -->
"""

TYPOS = """---
id: c-20250302-abcd2345
name: 打字有误公司
industry: 制造业
contact: 赵敏
phone: 010-6552 9988
email: zhaomin@example.com
source: refferal
stage: intnet
created: 2025-03-02T10:00
---

# 打字有误公司
"""


def write(vault: Vault, rel: str, text: str) -> Path:
    path = vault.customers_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_labels_are_valid_in_a_file_and_read_as_ids(empty_vault: Vault) -> None:
    path = write(empty_vault, "h/hezuo.md", LABELS)
    customer = empty_vault.read(path)
    assert customer.meta["source"] == "partner" and customer.stage == "intent"
    assert effective_stage(customer, empty_vault.config, TODAY) in ("intent", "silent")
    assert actions.check_vault(empty_vault) == []


def test_a_file_without_an_id_is_adopted_with_a_warning_not_an_error(empty_vault: Vault) -> None:
    write(empty_vault, "s/shouxie.md", NO_ID.replace("tags: needs/training, risk/高", "tags: [needs/training]"))
    problems = actions.check_vault(empty_vault)
    assert problems and all(p.severity == "warning" for p in problems), problems
    assert {p.code for p in problems} == {"field:id", "field:created", "field:phone"}
    assert any("no id yet" in p.message for p in problems)


def test_check_fix_dry_run_shows_every_change_and_writes_nothing(empty_vault: Vault, snapshot_files) -> None:
    crm = Crm(empty_vault.root)
    for rel, text in (("h/hezuo.md", LABELS), ("s/shouxie.md", NO_ID), ("d/dazi.md", TYPOS)):
        write(empty_vault, rel, text)
    before = snapshot_files(empty_vault.root)
    out = crm("check", "--fix", "--dry-run").stdout
    assert snapshot_files(empty_vault.root) == before
    assert "source 合作伙伴 → partner" in out and "stage 意向 → intent" in out
    assert "phone 138 0013 8001 → +8613800138001" in out and "phone 010-6552 9988 → +861065529988" in out
    assert "source refferal → referral (a typo of 转介绍)" in out and "stage intnet → intent" in out
    assert "id (missing) → c-" in out and "tags needs/training, risk/高 → [needs/training, risk/高]" in out


def test_check_fix_then_check_is_clean_and_only_the_fixed_lines_changed(empty_vault: Vault) -> None:
    crm = Crm(empty_vault.root)
    paths = [write(empty_vault, rel, text)
             for rel, text in (("h/hezuo.md", LABELS), ("s/shouxie.md", NO_ID), ("d/dazi.md", TYPOS))]
    assert crm("check", ok=False).exit_code == 1  # the typos and the missing creation time are errors
    out = crm("check", "--fix").stdout
    assert "changed 3 file(s)" in out
    result = crm("check", "--json").json()
    assert result["ok"] and result["problems"] == [], result
    hand = paths[1].read_text(encoding="utf-8")
    assert "李总说下个月再谈。  <!-- 这一行与其他正文都不能被改动 -->\n" in hand
    assert "phone: '+8613800138001'" in hand or 'phone: "+8613800138001"' in hand
    assert "source: trade-show" in hand and "stage: potential" in hand and "industry: retail" in hand
    assert hand.startswith("---\nid: c-")
    adopted = empty_vault.read(paths[1])
    assert adopted.id.startswith("c-") and adopted.tags == ["needs/training", "risk/高"]
    assert crm("check", "--fix").stdout == "0 fix(es): changed 0 file(s)\nAll customer files are valid.\n"


def test_a_vault_that_writes_labels_gets_labels(empty_vault: Vault) -> None:
    config_path = empty_vault.root / "crmnotes.yaml"
    config_path.write_text(config_path.read_text(encoding="utf-8").replace("write_choices_as: id",
                                                                           "write_choices_as: label"),
                           encoding="utf-8")
    vault = Vault(empty_vault.root)
    path = write(vault, "d/dazi.md", TYPOS.replace("stage: intnet", "stage: intent"))
    applied = fixes.apply_fixes(vault, fixes.vault_fixes(vault))
    assert {(f.field, f.new) for f in applied} >= {("source", "转介绍"), ("stage", "意向")}
    assert "stage: 意向" in path.read_text(encoding="utf-8")


def test_a_typo_close_to_two_choices_is_left_alone(empty_vault: Vault) -> None:
    sources = empty_vault.config.choice_set("sources")
    assert fixes.closest_choice(sources, "refferal").id == "referral"
    assert fixes.closest_choice(sources, "线上广吿").id == "ad"
    assert fixes.closest_choice(sources, "xyz") is None


def messy_vault(vault: Vault, count: int, seed: int = 7) -> None:
    """Files as people write them in an editor: labels and aliases, local phones, typos, no id or
    creation time, tags as one string, CRLF endings, extra keys and comments."""
    import random

    rng = random.Random(seed)
    sources = ["展会推荐", "线上搜索", "客户转介绍", "线上广告", "被动咨询", "合作伙伴", "refferal", "trade show",
               "广吿"]
    stages = ["潜在", "意向客户", "成交", "intnet", "potential", "赢单"]
    industries = ["互联网", "制造", "金融", "教育", "医药", "新零售", "saas"]
    for n in range(count):
        phone = rng.choice([f"138{n:08d}", f"138 {n:04d} {n % 10000:04d}", f"+86 138-{n:04d}-{n % 10000:04d}",
                            f"021-6{n:03d} {n % 10000:04d}"])
        lines = ["---"]
        if rng.random() < 0.7:
            lines.append(f"id: c-20250101-{n:08x}")
        lines += [f"name: 手写客户{n:05d}有限公司", f"industry: {rng.choice(industries)}", f"contact: 联系人{n}",
                  f"phone: '{phone}'", f"source: {rng.choice(sources)}", f"stage: {rng.choice(stages)}",
                  f"grade: {rng.choice(['A', 'B 潜力', 'c', 'A 高价值'])}",
                  rng.choice(["tags: budget/10-50万, risk/高", "tags: [needs/training]", "# 手写的注释"])]
        if rng.random() < 0.6:
            lines.append(f"created: 2025-0{1 + n % 9}-1{n % 10}T09:30")
        lines += ["所在城市: 上海", "---", "", f"# 手写客户{n:05d}有限公司", "", "## 跟进记录", "",
                  f"### 2025-03-0{1 + n % 9} 10:00 · {rng.choice(['电话', '微信', '拜访'])} · 张伟", "",
                  "客户说预算下个月批。😊", ""]
        newline = "\r\n" if n % 5 == 0 else "\n"
        write(vault, f"{n % 20}/shouxie-{n}.md", newline.join(lines))


def test_a_messy_hand_made_vault_is_clean_after_check_fix(empty_vault: Vault) -> None:
    crm = Crm(empty_vault.root)
    messy_vault(empty_vault, 300)
    before = crm("check", "--json", ok=False).json()
    assert before["errors"] > 0
    bodies = {p: p.read_bytes().split(b"\n---", 1)[1] for p in empty_vault.customers_dir.rglob("*.md")}
    crm("check", "--fix")
    after = crm("check", "--json").json()
    assert after["errors"] == 0 and after["warnings"] == 0, after["problems"][:5]
    for path, body in bodies.items():  # the follow-ups and prose were not touched
        assert path.read_bytes().split(b"\n---", 1)[1] == body
    assert crm("check", "--fix", "--json").json()["fixes"] == []
