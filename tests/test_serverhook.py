"""The team's write rules enforced by a real git server: a bare repository with ``crm server-hook``
installed as its pre-receive hook (a real process git starts), and clones for two reps and a manager."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Crm, run_process
from tests.test_sync import clone, git
from tests.test_team import MEMBERS

XC = "星辰科技有限公司"  # owned by 张伟 in the example vault
SZ = "深圳市海豚物流有限公司"  # owned by 李娜


def as_member(crm: Crm, member_id: str) -> Crm:
    git(crm.root, "config", "user.email", f"{member_id}@example.com")
    git(crm.root, "config", "crmnotes.user", member_id)
    return crm


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Crm]:
    """alice (admin) creates the vault with the team and pushes it to a bare repository with the hook;
    zhangwei and lina (reps) and wangfang (manager) clone it."""
    monkeypatch.delenv("CRMNOTES_USER")
    bare = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    installed = run_process("server-hook", "--install", str(bare), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    admin = tmp_path / "alice"
    Crm(tmp_path)("init", str(admin), "--example")
    (admin / "crmnotes.yaml").write_text((admin / "crmnotes.yaml").read_text(encoding="utf-8") + MEMBERS,
                                         encoding="utf-8")
    git(admin, "config", "user.name", "alice")
    as_member(Crm(admin), "alice")
    git(admin, "remote", "add", "origin", str(bare))
    assert "pushed" in Crm(admin)("sync").stdout
    clones = {"bare": Crm(bare), "alice": Crm(admin)}
    for member in ("zhangwei", "lina", "wangfang"):
        clones[member] = as_member(clone(bare, tmp_path / member, member), member)
    return clones


def server_head(server: dict[str, Crm]) -> str:
    return git(server["bare"].root, "rev-parse", "main").stdout.strip()


def test_a_rep_cannot_push_a_change_to_another_reps_customer(server: dict[str, Crm]) -> None:
    lina = server["lina"]
    before = server_head(server)
    lina("log", XC, "-n", "顺路拜访，了解需求")
    result = lina("sync", ok=False)
    assert "the team's server refused your push" in result.stderr
    assert "李娜 may not change 张伟's customer 星辰科技有限公司" in result.stderr
    assert "nothing was lost" in result.stderr and "git reset origin/main" in result.stderr
    assert server_head(server) == before
    assert git(lina.root, "status", "--porcelain").stdout == ""  # the change is in a local commit
    assert "顺路拜访" in git(lina.root, "log", "-p", "-1").stdout


def test_the_pusher_sees_the_hooks_message_in_a_plain_git_push(server: dict[str, Crm]) -> None:
    lina = server["lina"]
    path = lina.root / lina("show", XC, "--json").json()["path"]
    path.write_text(path.read_text(encoding="utf-8").replace("grade: A", "grade: B"), encoding="utf-8")
    git(lina.root, "commit", "-qam", "grade")
    pushed = git(lina.root, "push", "origin", "main", ok=False)
    assert pushed.returncode != 0
    assert "remote: crmnotes: refused: 李娜 may not change 张伟's customer" in pushed.stderr
    assert "pre-receive hook declined" in pushed.stderr


def test_the_owner_and_the_manager_pushes_land(server: dict[str, Crm]) -> None:
    zhangwei, wangfang = server["zhangwei"], server["wangfang"]
    zhangwei("log", XC, "-n", "电话确认报价")
    assert "pushed" in zhangwei("sync").stdout
    wangfang("log", SZ, "-n", "经理回访")
    wangfang("set", XC, "grade=B")
    assert "pushed" in wangfang("sync").stdout
    log = git(server["bare"].root, "log", "-p", "main").stdout
    assert "电话确认报价" in log and "经理回访" in log


def test_a_rep_adds_and_keeps_their_own_customer_but_cannot_give_it_away(server: dict[str, Crm]) -> None:
    lina = server["lina"]
    ref = lina("add", "远航贸易", "-i", "manufacturing", "--contact", "陈明", "--phone", "13911112222").stdout.strip()
    assert lina("show", ref, "--json").json()["owner"] == "李娜"
    assert "pushed" in lina("sync").stdout
    lina("set", ref, "owner=张伟")
    assert "may not change 张伟's customer 远航贸易" in lina("sync", ok=False).stderr


def test_members_change_needs_an_admin(server: dict[str, Crm]) -> None:
    wangfang, alice = server["wangfang"], server["alice"]
    config = wangfang.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("role: rep, team: 华南", "role: admin, team: 华南"),
                      encoding="utf-8")
    git(wangfang.root, "commit", "-qam", "promote")
    assert "changed 'members:' in crmnotes.yaml; only an admin may" in wangfang("sync", ok=False).stderr
    config = alice.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("role: rep, team: 华南", "role: manager, team: 华南"),
                      encoding="utf-8")
    assert "pushed" in alice("sync").stdout


def test_history_of_main_cannot_be_rewritten(server: dict[str, Crm]) -> None:
    alice = server["alice"]
    alice("log", XC, "-n", "管理员记录")
    alice("sync")
    git(alice.root, "reset", "-q", "--hard", "HEAD~1")
    git(alice.root, "commit", "-q", "--allow-empty", "-m", "rewrite")
    pushed = git(alice.root, "push", "-f", "origin", "main", ok=False)
    assert pushed.returncode != 0 and "rewrites the history of main" in pushed.stderr


def test_an_id_number_is_refused_even_from_an_admin(server: dict[str, Crm]) -> None:
    alice = server["alice"]
    path = alice.root / alice("show", XC, "--json").json()["path"]
    path.write_text(path.read_text(encoding="utf-8") + "\n身份证 11010519491231002X\n", encoding="utf-8")
    git(alice.root, "commit", "-q", "--no-verify", "-am", "id")  # past the local pre-commit hook
    pushed = git(alice.root, "push", "origin", "main", ok=False)
    assert pushed.returncode != 0 and "PRC resident ID number (1101**********002X)" in pushed.stderr
    assert "11010519491231002X" not in pushed.stderr


def test_an_unknown_committer_and_the_servers_pusher_variables(server: dict[str, Crm]) -> None:
    bare = server["bare"].root
    zhangwei = server["zhangwei"]
    git(zhangwei.root, "config", "user.email", "someone@else.com")
    zhangwei("log", XC, "-n", "新邮箱")
    assert "belongs to no member" in zhangwei("sync", ok=False).stderr
    # On Gitea the server names the authenticated pusher; the committer email then does not matter.
    commit = git(zhangwei.root, "rev-parse", "HEAD").stdout.strip()
    old = git(bare, "rev-parse", "main").stdout.strip()
    git(bare, "fetch", "-q", str(zhangwei.root), "main:refs/probe")  # the objects, as a push brings them
    git(bare, "update-ref", "-d", "refs/probe")
    for env, ok in (({"GITEA_PUSHER_EMAIL": "zhangwei@example.com"}, True), ({"GL_USERNAME": "lina"}, False),
                    ({"GL_USERNAME": "mallory"}, False)):
        done = subprocess.run([*run_hook_command(), "refs/heads/main", old, commit], cwd=bare,
                              capture_output=True, text=True, env={**os.environ, **env})
        assert (done.returncode == 0) is ok, (env, done.stderr)
    assert "'mallory' is not listed" in done.stderr


def run_hook_command() -> list[str]:
    import sys

    return [sys.executable, "-m", "crmnotes", "server-hook"]


def test_a_merge_conflict_names_the_members_not_git_users(server: dict[str, Crm]) -> None:
    from crmnotes import note

    alice, wangfang = server["alice"], server["wangfang"]
    git(wangfang.root, "config", "user.name", "wf-laptop")
    alice("set", XC, "grade=B")
    wangfang("set", XC, "grade=C")
    for crm in (alice, wangfang, alice):
        crm("sync")
    path = wangfang.root / wangfang("show", XC, "--json").json()["path"]
    values = {(v["value"], v["by"]) for v in note.parse(path.read_bytes()).meta["conflicts"][0]["values"]}
    assert values == {("B", "alice"), ("C", "王芳")}


def test_two_reps_changing_their_own_customers_at_once_both_land_through_a_merge(server: dict[str, Crm]) -> None:
    zhangwei, lina = server["zhangwei"], server["lina"]
    zhangwei("log", XC, "-n", "张伟的跟进")
    lina("log", SZ, "-n", "李娜的跟进")
    assert "pushed" in zhangwei("sync").stdout
    result = lina("sync")  # the remote moved: lina's sync merges zhangwei's commit, then pushes the merge
    assert "merged 1 commit" in result.stdout and "pushed" in result.stdout
    log = git(server["bare"].root, "log", "-p", "main").stdout
    assert "张伟的跟进" in log and "李娜的跟进" in log
