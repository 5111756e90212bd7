"""PIPL requests: export everything about one person, erase it, and purge it from git history."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Crm
from tests.test_serverhook import XC, as_member, server  # noqa: F401 - the fixture
from tests.test_sync import git
from tests.test_team import with_team


@pytest.fixture
def vault(tmp_path: Path) -> Crm:
    """An example vault in git, with its history shared once."""
    Crm(tmp_path)("init", str(tmp_path / "vault"), "--example")
    crm = Crm(tmp_path / "vault")
    git(crm.root, "config", "user.name", "alice")
    git(crm.root, "config", "user.email", "alice@example.com")
    crm("log", XC, "-n", "王经理电话确认预算，手机 13800138000")
    crm("sync")
    return crm


def test_export_writes_fields_followups_deals_tickets_and_history(vault: Crm, tmp_path: Path) -> None:
    out = tmp_path / "星辰.json"
    printed = vault("person", "export", XC, "--out", str(out)).stdout
    assert str(out) in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    person = data["person"]
    assert person["name"] == XC and person["contact"] == "王经理"
    assert "138****" not in person["phone"]  # the person's own data, unmasked
    assert any("预算" in f["note"] for f in person["followups"])
    assert person["deals"][0]["name"] == "数据安全平台一期"
    assert data["history"] and all("alice" in line or "crmnotes" in line for line in data["history"])


def test_erase_removes_the_file_and_its_cached_copies_and_says_history_remains(vault: Crm) -> None:
    shown = vault("show", XC, "--json").json()
    path = vault.root / shown["path"]
    assert shown["id"] in vault("search", "星辰", "--json").stdout
    result = vault("person", "erase", XC, "--yes")
    assert not path.exists() and "removed customers/" in result.stdout
    assert "git history still holds it" in result.stderr
    assert "still mentioned in customers/h/huadongjingmizhizao" in result.stderr  # 由星辰科技王经理转介绍
    assert shown["id"] not in vault("search", "星辰", "--json", ok=None).stdout
    assert XC not in vault("ls").stdout


def test_purge_is_for_admins_when_a_team_is_listed(vault: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    with_team(vault)
    vault("sync")
    monkeypatch.setenv("CRMNOTES_USER", "lina")
    assert "only an admin may purge history" in vault("person", "erase", XC, "--purge-history", "--yes",
                                                        ok=False).stderr
    assert (vault.root / vault("show", XC, "--json").json()["path"]).exists()


def test_purge_leaves_no_trace_in_any_commit(vault: Crm) -> None:
    vault("set", XC, "grade=B")
    vault("sync", "-m", "星辰科技有限公司 调整等级")  # the name in a commit message too
    result = vault("person", "erase", XC, "--purge-history", "--yes")
    assert "history rewritten" in result.stdout and "clone again" in result.stderr
    everything = git(vault.root, "log", "-p", "--all").stdout + git(vault.root, "log", "--all", "--format=%B").stdout
    for trace in ("星辰科技", "王经理", "13800138000", "wang.jl@xingchen-tech.cn", "数据安全平台一期"):
        assert trace not in everything, trace
    assert "深圳市海豚物流有限公司" in everything  # the others are untouched
    unreachable = subprocess.run(["git", "fsck", "--unreachable", "--no-reflogs"], cwd=vault.root,
                                 capture_output=True, text=True).stdout
    assert "blob" not in unreachable
    vault("check")


def test_purge_pushed_by_an_admin_through_the_server_hook(server: dict[str, Crm]) -> None:  # noqa: F811
    alice, bare = server["alice"], server["bare"].root
    git(bare, "config", "receive.advertisePushOptions", "true")
    origin = git(alice.root, "remote", "get-url", "origin").stdout.strip()
    result = alice("person", "erase", XC, "--purge-history", "--yes")
    assert f"git remote add origin {origin}" in result.stderr
    git(alice.root, "remote", "add", "origin", origin)
    assert git(alice.root, "push", "--force", "origin", "main", ok=False).returncode != 0  # no option: refused
    git(alice.root, "push", "--force", "-o", "crmnotes-rewrite", "origin", "main")
    git(bare, "reflog", "expire", "--expire=now", "--all")
    git(bare, "gc", "-q", "--prune=now")
    assert "星辰科技" not in git(bare, "log", "-p", "--all").stdout
    lina = server["lina"]  # a rep cannot do the same
    git(lina.root, "commit", "-q", "--allow-empty", "-m", "x")
    git(lina.root, "reset", "-q", "--hard", "HEAD~2")
    assert "rewrites the history" in git(lina.root, "push", "--force", "-o", "crmnotes-rewrite", "origin", "main",
                                         ok=False).stderr
