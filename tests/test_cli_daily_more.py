"""Daily use of ``crm`` as a real process, more of it: hand-written date-only
entries, stage moves that are no contact, search snippets, exports."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import timedelta
from pathlib import Path

from crmnotes.vault import Vault

from .conftest import TODAY, run_process
from .test_cli_daily import crm


def test_a_date_only_heading_written_after_a_timed_entry_that_day_is_the_latest(example_vault: Vault) -> None:
    root = example_vault.root
    day, later = TODAY.isoformat(), (TODAY + timedelta(days=3)).isoformat()
    crm(root, "log", "星辰", "--note", "电话确认报价细节", "--at", f"{day} 15:59", "--next", f"{later} 发送报价单")
    path = next(root.glob("customers/*/xingchen*.md"))
    with path.open("a", encoding="utf-8") as handle:  # the user adds an entry by hand, without a time
        handle.write(f"\n## {day} 微信 李娜\n\n陈总同意下周面谈。\n\n下一步: {day} 面谈并确认合同条款\n")
    data = json.loads(crm(root, "show", "星辰", "--json")[1])
    assert data["followups"][-1]["note"].startswith("陈总同意下周面谈")
    assert data["followups"][-1]["next"] == f"{day} 面谈并确认合同条款"
    _, due, _ = crm(root, "due", "--json")
    assert "面谈并确认合同条款" in due


def test_a_deal_stage_move_is_no_contact_and_keeps_the_planned_step(example_vault: Vault) -> None:
    root = example_vault.root
    before = json.loads(crm(root, "show", "星辰", "--json")[1])
    crm(root, "deal", "set", "星辰", "1", "--stage", "negotiation", "--proposal", "https://example.com/方案.pdf",
        "--note", "客户要求加急")
    data = json.loads(crm(root, "show", "星辰", "--json")[1])
    assert data["followups"][-1]["note"].startswith("商机「数据安全平台一期」阶段")  # the move is still on record
    assert data["last_contact"] == before["last_contact"]
    assert data["due_reason"] == before["due_reason"] and "提交正式报价并约陈总会议" in data["due_reason"]
    _, due, _ = crm(root, "due", "--json")
    assert "提交正式报价并约陈总会议" in due
    _, listing, _ = crm(root, "ls", "--json")
    row = next(r for r in json.loads(listing) if r["name"] == "星辰科技有限公司")
    assert row["last_contact"] == before["last_contact"]


def test_search_snippets_show_the_matching_text_without_headings_or_entry_meta(example_vault: Vault) -> None:
    root = example_vault.root
    crm(root, "log", "星辰", "--channel", "wechat", "--note", "王经理确认采购预算已经批下来了")
    _, out, _ = crm(root, "search", "采购预算", "--json")
    hit = next(h for h in json.loads(out) if h["name"] == "星辰科技有限公司")
    snippet = hit["snippet"]
    assert "采购预算" in snippet
    for noise in ("跟进记录", "wechat", " · ", "##"):
        assert noise not in snippet, snippet


def test_first_sync_to_a_new_bare_remote_makes_its_default_branch_the_vaults(tmp_path: Path) -> None:
    root = tmp_path / "团队"
    run_process("init", str(root), "--example", cwd=tmp_path)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "-c", "init.defaultBranch=master", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(remote)], cwd=root, check=True)
    _, out, err = crm(root, "sync")
    assert "default branch of origin to 'main'" in out + err
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True, capture_output=True)
    assert (clone / "crmnotes.yaml").is_file() and list(clone.glob("customers/*/xingchen*.md"))
    _, again, again_err = crm(root, "sync")
    assert "default branch" not in again + again_err


def test_exports_use_labels_warn_about_masked_phones_and_mask_landlines_by_area_code(example_vault: Vault,
                                                                                      tmp_path: Path) -> None:
    root = example_vault.root
    crm(root, "add", "上海申江贸易有限公司", "--industry", "零售", "--contact", "周经理", "--phone", "021-63334444")
    out = tmp_path / "客户.csv"
    _, _, warned = crm(root, "export", "-o", str(out))
    assert "masked" in warned and "--reveal" in warned
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")))}
    assert rows["星辰科技有限公司"]["stage"] == "意向" and rows["星辰科技有限公司"]["industry"] == "互联网"
    assert rows["上海申江贸易有限公司"]["phone"] == "021-****4444"
    masked = {r["phone"] for r in rows.values() if r["phone"]}
    crm(root, "export", "-o", str(out), "--ids", "--reveal")
    revealed = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert {r["stage"] for r in revealed} <= set(example_vault.config.stages.ids)
    phones = masked | {r["phone"] for r in revealed if r["phone"]}
    # a revealed E.164 phone is a plain number; a masked international one would be evaluated, so it is quoted
    assert any(p.startswith("+") for p in phones) and all(p.startswith("'+") for p in phones if "*" in p and "+" in p)
