"""Daily use of ``crm`` as a real process: dates as people type them, references
by pinyin, honest dry runs, ``-`` for stdin/stdout, fixed choices and completion."""

from __future__ import annotations

import json
from pathlib import Path

from crmnotes.vault import Vault

from .conftest import run_process


def crm(root: Path, *args: str, ok: bool = True, stdin: str | None = None) -> tuple[int, str, str]:
    result = run_process(*args, cwd=root, env={"COLUMNS": "80"}) if stdin is None else _with_stdin(root, stdin, args)
    if ok:
        assert result.returncode == 0, result.stderr
    return result.returncode, result.stdout, result.stderr


def _with_stdin(root: Path, stdin: str, args: tuple[str, ...]):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "crmnotes", *args], cwd=root, input=stdin, text=True,
                          capture_output=True, env={**os.environ, "COLUMNS": "80"}, timeout=120)


def test_next_and_dates_accept_slashes_like_files_do(example_vault: Vault) -> None:
    root = example_vault.root
    crm(root, "log", "星辰", "--note", "电话确认报价细节", "--at", "2026/12/03 14:30", "--next", "2026/12/05 发送合同")
    data = json.loads(crm(root, "show", "星辰", "--json")[1])
    assert data["next_followup"] == "2026-12-05"
    assert data["followups"][-1]["at"] == "2026-12-03T14:30" and data["followups"][-1]["next"] == "2026-12-05 发送合同"
    crm(root, "due", "--on", "2026/12/05")
    code, _, err = crm(root, "due", "--on", "2026/13/05", ok=False)
    assert code != 0 and "not a date" in err


def test_reference_by_pinyin_or_initials_like_search(example_vault: Vault) -> None:
    root = example_vault.root
    crm(root, "add", "小鹿文化传媒有限公司", "--industry", "互联网", "--contact", "鹿经理", "--phone", "13900001111")
    _, found, _ = crm(root, "search", "xiaolu")
    assert "小鹿文化传媒有限公司" in found
    crm(root, "log", "xiaolu", "--note", "微信沟通合作意向")
    data = json.loads(crm(root, "show", "xlwh", "--json")[1])
    assert data["name"] == "小鹿文化传媒有限公司" and data["followups"][-1]["note"] == "微信沟通合作意向"
    code, _, err = crm(root, "show", "youxian", ok=False)  # 有限公司 is in every Chinese name here
    assert code != 0 and "matches" in err and "小鹿文化传媒有限公司" in err


def test_import_dry_run_says_what_the_real_run_will_do(example_vault: Vault, tmp_path: Path) -> None:
    sheet = tmp_path / "客户.csv"
    sheet.write_text("客户名称,联系人,联系电话,所属行业\n青岛海风贸易有限公司,冯经理,13800138008,零售\n"
                     "坏数据公司,,123,零售\n", encoding="utf-8")
    root = example_vault.root
    _, out, _ = crm(root, "import", str(sheet), "--dry-run")
    summary = " ".join(out.split())
    assert "1 rejected" in summary and "would be imported" not in summary
    assert "the real import would write nothing because rows were rejected" in summary and "--skip-bad" in summary
    code, _, err = crm(root, "import", str(sheet), ok=False)  # and so it does
    assert code != 0 and "nothing was written" in err
    _, out, _ = crm(root, "import", str(sheet), "--dry-run", "--skip-bad")
    assert "would be imported (the rejected rows left out)" in " ".join(out.split())
    dry = json.loads(crm(root, "import", str(sheet), "--dry-run", "--json")[1])
    assert dry["would_write"] is False and dry["written"] is False


def test_bare_words_match_tags_and_choice_labels_below_the_text(example_vault: Vault) -> None:
    root = example_vault.root
    _, out, _ = crm(root, "search", "integration", "--json")
    assert [hit["name"] for hit in json.loads(out)] == ["Acme Analytics Inc."]  # by its tag needs/integration
    crm(root, "add", "数安科技有限公司", "--industry", "互联网", "--contact", "刘经理", "--phone", "13900002222",
        "--tag", "region/数据安全")
    crm(root, "add", "安全数据服务有限公司", "--industry", "互联网", "--contact", "钱经理", "--phone", "13900003333",
        "--tag", "数据安全")
    _, out, _ = crm(root, "search", "数据安全", "--json")
    found = [hit["name"] for hit in json.loads(out)]
    assert found[0] == "星辰科技有限公司"  # in its notes: above the two that have it only as a tag
    assert set(found) == {"星辰科技有限公司", "数安科技有限公司", "安全数据服务有限公司"}
    _, out, _ = crm(root, "search", "制造业", "--json")  # the label of industry: manufacturing
    assert [hit["name"] for hit in json.loads(out)] == ["华东精密制造股份有限公司"]


def test_dash_means_stdin_for_import_and_stdout_for_export(example_vault: Vault) -> None:
    root = example_vault.root
    sheet = "客户名称,联系人,联系电话,所属行业\n青岛海风贸易有限公司,冯经理,13800138008,零售\n"
    _, out, _ = crm(root, "import", "-", stdin=sheet)
    assert "1 new" in out
    assert json.loads(crm(root, "show", "青岛海风", "--json")[1])["contact"] == "冯经理"
    _, csv_text, _ = crm(root, "export", "-o", "-")
    assert csv_text.lstrip("\ufeff").startswith("id,name,") and "青岛海风贸易有限公司" in csv_text
    assert not (root / "-").exists()


def test_sort_is_a_fixed_choice_list(example_vault: Vault) -> None:
    root = example_vault.root
    code, _, err = crm(root, "ls", "--sort", "colour", ok=False)
    assert code == 2 and "'colour' is not one of" in err and "'-last'" in err
    _, out, _ = crm(root, "ls", "--sort", "-last", "--json")
    lasts = [c["last_contact"] or "" for c in json.loads(out)]
    assert lasts == sorted(lasts, reverse=True)


def complete(root: Path, words: str) -> list[str]:
    import os
    import subprocess
    import sys

    env = {**os.environ, "_CRM_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    result = subprocess.run([sys.executable, "-m", "crmnotes"], cwd=root, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_shell_completion_of_customers_tags_and_stages(example_vault: Vault) -> None:
    root = example_vault.root
    assert complete(root, "crm show 星") == ["星辰科技有限公司"]
    assert set(complete(root, "crm log 华东精密制造股份有限公司 --stage ")) >= {"potential", "intent", "won", "lost"}
    assert "needs/data-security" in complete(root, "crm ls --tag needs/")
    assert "proposal" in complete(root, "crm deal add 星辰 二期 --stage ")
