"""Every foundation command through the real ``crm`` entry point, in temp vaults."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from crmnotes.cli import main

from .conftest import TODAY, Crm, run_process


def read(crm: Crm, rel: str) -> str:
    return (crm.root / rel).read_text(encoding="utf-8")


def add_xingchen(crm: Crm, *extra: str) -> str:
    out = crm("add", "北京星河数据有限公司", "--industry", "互联网", "--contact", "刘经理", "--phone",
              "139 0000 1234", "--source", "展会", "--grade", "A", "--tag", "needs/data-security", *extra)
    return out.stdout.strip()


def test_init_creates_a_git_vault_with_examples(tmp_path: Path) -> None:
    crm = Crm(tmp_path / "unused")
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["init", str(tmp_path / "v"), "--example"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    root = tmp_path / "v"
    assert (root / "crmnotes.yaml").is_file() and (root / ".git").is_dir()
    assert ".crmnotes/" in (root / ".gitignore").read_text()
    assert len(list((root / "customers").rglob("*.md"))) == 7
    import git

    repo = git.Repo(root)
    assert not repo.is_dirty(untracked_files=True)
    assert repo.head.commit.message.startswith("crm init")
    again = CliRunner().invoke(main, ["init", str(root)])
    assert again.exit_code != 0 and "already a crmnotes vault" in again.stderr
    del crm


def test_add_prints_id_and_writes_a_valid_file(crm_empty: Crm) -> None:
    customer_id = add_xingchen(crm_empty)
    shown = crm_empty("show", customer_id, "--json", "--reveal").json()
    assert shown["id"] == customer_id and shown["phone"] == "+8613900001234"
    assert shown["industry"] == "internet" and shown["source"] == "trade-show" and shown["owner"] == "tester"
    assert shown["path"].startswith("customers/b/beijingxinghezhuju") or shown["path"].startswith("customers/b/")
    text = read(crm_empty, shown["path"])
    assert text.startswith("---\nid: " + customer_id) and "name: 北京星河数据有限公司" in text
    assert crm_empty("check").exit_code == 0


def test_add_refuses_a_duplicate_unless_forced(crm: Crm) -> None:
    out = crm("add", "星辰科技", "--industry", "internet", "--contact", "王", "--phone", "13700001111", ok=False)
    assert "星辰科技有限公司" in out.stderr and "--force" in out.stderr
    same_phone = crm("add", "别的名字", "--industry", "internet", "--contact", "王", "--phone", "13800138000", ok=False)
    assert "same phone" in same_phone.stderr
    forced = crm("add", "星辰科技", "--industry", "internet", "--contact", "王", "--phone", "13700001111", "--force")
    assert forced.stdout.startswith("c-")


def test_add_refuses_invalid_input_and_writes_nothing(crm: Crm, snapshot_files) -> None:
    before = snapshot_files(crm.root)
    for args, message in [
        (["--industry", "internet", "--contact", "王", "--phone", "12345"], "phone"),
        (["--industry", "internet", "--contact", "王", "--phone", "13700001111", "--stage", "hot"], "stage"),
        (["--industry", "internet", "--phone", "13700001111"], "contact"),
        (["--industry", "internet", "--contact", "王", "--phone", "13700001111", "--field", "note=11010519491231002X"],
         "ID number"),
    ]:
        out = crm("add", "全新客户", *args, ok=False)
        assert message in out.stderr and "Traceback" not in out.stderr
        assert out.stderr.count("\n") <= 2
    assert snapshot_files(crm.root) == before


def test_log_appends_and_moves_the_stage(crm: Crm) -> None:
    path = crm("show", "杭州绿洲", "--json").json()["path"]
    before = (crm.root / path).read_bytes()
    at, nxt = TODAY + timedelta(days=1), TODAY + timedelta(days=8)
    crm("log", "杭州绿洲", "--note", "视频会议演示了数据脱敏方案", "--channel", "会议", "--at", f"{at} 15:30",
        "--next", f"{nxt} 发送报价", "--feedback", "很感兴趣", "--stage", "意向")
    after = (crm.root / path).read_bytes()
    data = crm("show", "杭州绿洲", "--json").json()
    last = data["followups"][-1]
    assert last == {"at": f"{at}T15:30", "channel": "meeting", "by": "tester", "note": "视频会议演示了数据脱敏方案",
                    "next": f"{nxt} 发送报价", "next_date": str(nxt), "feedback": "很感兴趣",
                    "stage_from": "potential", "stage_to": "intent"}
    assert data["stage"] == "intent" and data["next_followup"] == str(nxt)
    # only the stage and next_followup lines of the front-matter changed; the body was appended to
    old_lines, new_lines = before.decode().splitlines(), after.decode().splitlines()
    assert [line for line in old_lines if line not in new_lines] == ["stage: potential"]
    old_body = before.decode().split("\n---\n", 1)[1]
    assert after.decode().split("\n---\n", 1)[1].startswith(old_body)


def test_log_rejects_bad_values(crm: Crm, snapshot_files) -> None:
    before = snapshot_files(crm.root)
    assert "note" in crm("log", "星辰", "--note", "  ", ok=False).stderr
    assert "date" in crm("log", "星辰", "--note", "x", "--next", "soon", ok=False).stderr
    assert "stage" in crm("log", "星辰", "--note", "x", "--stage", "nonsense", ok=False).stderr
    assert "date-time" in crm("log", "星辰", "--note", "x", "--at", "yesterday", ok=False).stderr
    assert snapshot_files(crm.root) == before


def test_references_by_id_prefix_path_and_ambiguity(crm: Crm) -> None:
    data = crm("show", "acme", "--json").json()
    assert crm("show", data["id"], "--json").json()["name"] == "Acme Analytics Inc."
    assert crm("show", data["id"][:12], "--json").json()["name"] == "Acme Analytics Inc."
    assert crm("show", data["path"], "--json").json()["id"] == data["id"]
    ambiguous = crm("show", "有限公司", ok=False)
    assert "matches" in ambiguous.stderr and "星辰科技有限公司" in ambiguous.stderr
    assert "no customer matches" in crm("show", "不存在的客户", ok=False).stderr
    outside = crm.root.parent / "outside.md"
    outside.write_text("---\nname: x\n---\n", encoding="utf-8")
    assert "not inside" in crm("show", str(outside), ok=False).stderr


def test_show_masks_phones_unless_revealed(crm: Crm) -> None:
    assert "138****8000" in crm("show", "星辰").stdout
    assert "+8613800138000" not in crm("show", "星辰").stdout
    assert "+8613800138000" in crm("show", "星辰", "--reveal").stdout
    assert crm("show", "星辰", "--json").json()["phone"] == "138****8000"


def test_set_changes_only_the_named_fields(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    before = path.read_text(encoding="utf-8")
    crm("set", "星辰", "grade=B", "tags=needs/data-security,budget/10k-50k", "legal_contact=")
    after = path.read_text(encoding="utf-8")
    assert "# 合同由法务部李律师审核" in after  # a comment in the front-matter survives
    assert "legal_contact" not in after
    assert after.split("\n---\n", 1)[1] == before.split("\n---\n", 1)[1]  # body untouched
    data = crm("show", "星辰", "--json").json()
    assert data["grade"] == "B" and data["tags"] == ["needs/data-security", "budget/10k-50k"]
    assert "cannot be changed" in crm("set", "星辰", "id=c-x", ok=False).stderr
    assert "not a known grade" in crm("set", "星辰", "grade=Z", ok=False).stderr
    assert "FIELD=VALUE" in crm("set", "星辰", "grade", ok=False).stderr


def test_ls_filters_sorts_and_prints_json(crm: Crm) -> None:
    names = [c["name"] for c in crm("ls", "--json").json()]
    assert names[0] == "Acme Analytics Inc."
    assert names.index("北京云帆教育科技有限公司") < names.index("星辰科技有限公司")  # pinyin order
    assert [c["name"] for c in crm("ls", "--stage", "silent", "--json").json()] == ["北京云帆教育科技有限公司"]
    assert {c["owner"] for c in crm("ls", "--owner", "alice", "--json").json()} == {"alice"}
    assert {c["grade"] for c in crm("ls", "--grade", "a", "--json").json()} == {"A"}
    tagged = crm("ls", "--tag", "needs/data-security", "--json").json()
    assert {c["name"] for c in tagged} == {"星辰科技有限公司", "Acme Analytics Inc."}
    assert len(crm("ls", "--tag", "region/", "--json").json()) == 4
    latest = crm("ls", "--sort", "-last", "--json").json()[0]
    assert latest["name"] == "华东精密制造股份有限公司"
    assert crm("ls", "--mine", "--json").json() == []
    human = crm("ls").stdout
    assert "星辰科技有限公司" in human and "7 customers" in human
    assert "'colour' is not one of" in crm("ls", "--sort", "colour", ok=False).stderr


def test_due_lists_who_and_why(crm: Crm) -> None:
    items = crm("due", "--json").json()
    by_name = {i["name"]: i for i in items}
    contact_due = {name for name, item in by_name.items() if item["rule"] != "ticket"}
    assert contact_due == {"Northwind Traders Ltd", "Acme Analytics Inc.", "星辰科技有限公司"}
    northwind = by_name["Northwind Traders Ltd"]
    assert northwind["status"] == "overdue" and northwind["days_overdue"] == 5
    assert by_name["星辰科技有限公司"]["status"] == "due" and "提交正式报价" in by_name["星辰科技有限公司"]["reason"]
    later = crm("due", "--on", (TODAY.replace(year=TODAY.year + 1)).isoformat(), "--owner", "李娜", "--json").json()
    assert {i["name"] for i in later} == {"杭州绿洲健康管理有限公司"}
    refused = crm("due", "--on", "下辈子", ok=False).stderr
    assert "not a date" in refused and "明天" in refused  # the one message of typed dates, listing the forms
    in_a_week = (TODAY + timedelta(days=7)).isoformat()
    assert crm("due", "--on", "+1w", "--json").json() == crm("due", "--on", in_a_week, "--json").json()


def test_check_passes_on_examples_and_locates_problems(crm: Crm) -> None:
    assert crm("check").exit_code == 0
    bad = crm.root / "customers" / "z" / "broken.md"
    bad.parent.mkdir()
    bad.write_text("---\nid: c-20250101-abcdefgh\nname: 坏客户\nstage: hot\nphone: 123\n---\n\n"
                   "## 2025-02-30 phone x\n身份证 11010519491231002X\n", encoding="utf-8")
    out = crm("check", "--json", ok=False).json()
    found = {(p["path"], p["line"], p["code"]) for p in out["problems"]}
    rel = "customers/z/broken.md"
    assert (rel, 4, "field:stage") in found and (rel, 5, "field:phone") in found
    assert (rel, 8, "malformed-entry") in found and (rel, 9, "sensitive") in found
    assert (rel, 2, "field:industry") not in found and any(c == "field:industry" for _, _, c in found)
    assert out["ok"] is False


def test_edit_runs_the_editor_then_checks(crm: Crm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "fake-editor.py"
    script.write_text("import sys\np = sys.argv[1]\ntext = open(p, encoding='utf-8').read()\n"
                      "open(p, 'w', encoding='utf-8').write(text.replace('grade: A', 'grade: Z', 1))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    out = crm("edit", "星辰", ok=False)
    assert "grade" in out.stdout and "error" in out.stdout
    assert "grade: Z" in read(crm, crm("show", "星辰", "--json").json()["path"])  # the user's edit is kept


def test_errors_are_one_line_without_traceback_as_a_process(tmp_path: Path) -> None:
    done = run_process("ls", cwd=tmp_path)
    assert done.returncode != 0 and done.stderr.startswith("crm: error: no crmnotes vault")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_vault_found_from_env_and_parent_folder(example_vault, tmp_path: Path) -> None:
    sub = example_vault.root / "customers" / "x"
    done = run_process("ls", "--json", cwd=sub)
    assert done.returncode == 0 and len(json.loads(done.stdout)) == 7
    env_run = run_process("ls", "--json", cwd=tmp_path, env={"CRMNOTES_VAULT": str(example_vault.root)})
    assert env_run.returncode == 0 and len(json.loads(env_run.stdout)) == 7


def test_writes_keep_the_file_mode(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    os.chmod(path, 0o640)
    crm("log", "星辰", "--note", "模式测试")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not list(path.parent.glob(".~crm-*"))  # no temp file left behind


def test_check_reports_a_git_lock_left_by_a_dead_process(tmp_path: Path) -> None:
    from click.testing import CliRunner

    assert CliRunner().invoke(main, ["init", str(tmp_path / "v")]).exit_code == 0
    crm = Crm(tmp_path / "v")
    (crm.root / ".git" / "index.lock").write_text("")
    report = crm("check", "--json").json()  # a warning: exit 0
    assert [p["code"] for p in report["problems"]] == ["git-lock"]
    (crm.root / ".git" / "MERGE_HEAD").write_text("0" * 40 + "\n")
    report = crm("check", "--json", ok=False).json()
    assert {p["code"] for p in report["problems"]} == {"git-lock", "git-merge"}
