"""The team in crmnotes.yaml: members, roles, owners and authors checked against it, and who you are."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crmnotes.errors import ConfigError
from crmnotes.team import parse_members
from tests.conftest import Crm

MEMBERS = """
members:
  - {id: zhangwei, name: 张伟, aliases: [老张], emails: [zhangwei@example.com], role: rep, team: 华东}
  - {id: lina, name: 李娜, emails: [lina@example.com], role: rep, team: 华南}
  - {id: wangfang, name: 王芳, emails: [wangfang@example.com], role: manager}
  - {id: alice, name: alice, emails: [alice@example.com], role: admin}
"""


NEW_CUSTOMER = ("add", "远航贸易", "-i", "manufacturing", "--contact", "陈明", "--phone", "13911112222")


def with_team(crm: Crm) -> Crm:
    config = crm.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + MEMBERS, encoding="utf-8")
    return crm


@pytest.fixture
def team_crm(tmp_path: Path) -> Crm:
    """An example vault made by 'crm init' (a git repository) with the team listed."""
    Crm(tmp_path)("init", str(tmp_path / "vault"), "--example")
    return with_team(Crm(tmp_path / "vault"))


def test_members_are_parsed_with_roles_and_found_by_alias_email_and_pinyin() -> None:
    import yaml

    team = parse_members(yaml.safe_load(MEMBERS)["members"])
    assert [m.role for m in team.members] == ["rep", "rep", "manager", "admin"]
    for spelling in ("张伟", "zhangwei", "老张", "ZhangWei@Example.com", "zw", "ＺＨＡＮＧＷＥＩ"):
        assert team.find(spelling).id == "zhangwei", spelling
    assert team.find("ln").name == "李娜"
    assert team.find("张玮") is None
    assert team.suggestion("张玮").name == "张伟"


@pytest.mark.parametrize("raw, message", [
    ("members: {id: x}", "must be a list"),
    ("members: [{name: 张伟}]", "needs an id"),
    ("members: [{id: x, role: boss}]", "role 'boss'"),
    ("members: [{id: x}, {id: X}]", "listed twice"),
])
def test_a_malformed_members_list_is_refused(raw: str, message: str) -> None:
    import yaml

    with pytest.raises(ConfigError, match=message):
        parse_members(yaml.safe_load(raw)["members"])


def test_owner_typo_is_refused_with_a_suggestion(team_crm: Crm) -> None:
    result = team_crm(*NEW_CUSTOMER, "--owner", "张玮", ok=False)
    assert "张玮" in result.stderr and "did you mean 张伟" in result.stderr
    assert not list(team_crm.root.rglob("yuanhang*.md"))


@pytest.mark.parametrize("typed", ["zhangwei", "老张", "zw"])
def test_owner_by_id_alias_or_pinyin_is_stored_as_the_members_name(team_crm: Crm, typed: str) -> None:
    out = team_crm(*NEW_CUSTOMER, "--owner", typed)
    assert team_crm("show", out.stdout.strip(), "--json").json()["owner"] == "张伟"


def test_set_owner_is_checked_against_the_team(team_crm: Crm) -> None:
    assert "did you mean 李娜" in team_crm("set", "星辰科技", "owner=李那", ok=False).stderr
    team_crm("set", "星辰科技", "owner=lina")
    assert team_crm("show", "星辰科技", "--json").json()["owner"] == "李娜"


def test_followup_author_and_deal_and_ticket_owners_are_members(team_crm: Crm) -> None:
    assert "did you mean 王芳" in team_crm("log", "星辰科技", "-n", "电话沟通报价", "--by", "王方", ok=False).stderr
    team_crm("log", "星辰科技", "-n", "电话沟通报价", "--by", "wangfang")
    followups = team_crm("show", "星辰科技", "--json").json()["followups"]
    assert [f["by"] for f in followups if f["note"] == "电话沟通报价"] == ["王芳"]
    assert "did you mean" in team_crm("deal", "add", "星辰科技", "二期项目", "--owner", "张玮", ok=False).stderr
    assert "did you mean" in team_crm("ticket", "open", "星辰科技", "发票问题", "--owner", "李那", ok=False).stderr


def test_without_a_team_owners_stay_free_text(crm: Crm) -> None:
    out = crm(*NEW_CUSTOMER, "--owner", "随便谁")
    assert crm("show", out.stdout.strip(), "--json").json()["owner"] == "随便谁"


def test_check_warns_about_an_owner_outside_the_team(team_crm: Crm) -> None:
    path = team_crm.root / team_crm("show", "星辰科技", "--json").json()["path"]
    path.write_text(path.read_text(encoding="utf-8").replace("owner: 张伟", "owner: 张玮", 1), encoding="utf-8")
    result = team_crm("check", ok=None)
    assert "张玮" in result.stdout + result.stderr and "did you mean 张伟" in result.stdout + result.stderr


def test_whoami_says_who_and_how(team_crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMNOTES_USER", "zw")
    data = team_crm("whoami", "--json").json()
    assert data == {"user": "张伟", "source": "the CRMNOTES_USER environment variable", "member": "zhangwei",
                    "role": "rep", "team": "华东"}
    assert "张伟" in team_crm("whoami").stdout


def test_whoami_set_is_kept_in_the_clone_and_checked(team_crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMNOTES_USER")
    assert "did you mean 李娜" in team_crm("whoami", "--set", "李那", ok=False).stderr
    team_crm("whoami", "--set", "lina")
    data = team_crm("whoami", "--json").json()
    assert (data["user"], data["source"], data["role"]) == ("李娜", "git config crmnotes.user", "rep")
    config = subprocess.run(["git", "config", "crmnotes.user"], cwd=team_crm.root, capture_output=True, text=True)
    assert config.stdout.strip() == "lina"
    assert "lina" not in (team_crm.root / "crmnotes.yaml").read_text(encoding="utf-8").split("members:")[0]


def test_git_email_of_a_member_identifies_them(team_crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMNOTES_USER")
    subprocess.run(["git", "config", "user.name", "Fang W"], cwd=team_crm.root, check=True)
    subprocess.run(["git", "config", "user.email", "wangfang@example.com"], cwd=team_crm.root, check=True)
    data = team_crm("whoami", "--json").json()
    assert (data["user"], data["role"]) == ("王芳", "manager")
    assert "user.email" in data["source"]


def test_the_first_command_without_an_identity_says_how_to_set_it(team_crm: Crm,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMNOTES_USER", "陌生人")
    result = team_crm("log", "星辰科技", "-n", "电话沟通", ok=False)
    assert "crm whoami --set" in result.stderr and "not a member" in result.stderr


def test_any_command_in_a_team_vault_says_once_how_to_set_a_missing_identity(
        team_crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMNOTES_USER", "陌生人")
    result = team_crm("ls")
    assert result.stderr.count("crm whoami --set") == 1 and "星辰科技" in result.stdout
    whoami = team_crm("whoami")
    assert whoami.stderr.count("crm whoami --set") == 1
    monkeypatch.setenv("CRMNOTES_USER", "lina")
    assert "crm whoami --set" not in team_crm("ls").stderr


def test_init_user_sets_this_clones_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMNOTES_USER")
    Crm(tmp_path)("init", str(tmp_path / "v"), "--user", "李娜")
    data = Crm(tmp_path / "v")("whoami", "--json").json()
    assert (data["user"], data["source"]) == ("李娜", "git config crmnotes.user")


def test_history_shows_the_member_behind_the_git_email(team_crm: Crm) -> None:
    root = team_crm.root
    subprocess.run(["git", "config", "user.name", "ln-laptop"], cwd=root, check=True)
    subprocess.run(["git", "config", "user.email", "LiNa@example.com"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qam", "team"], cwd=root, check=True)
    team_crm("set", "星辰科技", "grade=B")
    subprocess.run(["git", "commit", "-qam", "grade"], cwd=root, check=True)
    newest = team_crm("history", "星辰科技", "--json").json()[-1]
    assert (newest["author"], newest["member"], newest["git_author"]) == ("李娜", "lina", "ln-laptop")
    assert "李娜" in team_crm("history", "星辰科技", "--limit", "1").stdout


def test_report_owners_counts_aliases_as_the_member(team_crm: Crm) -> None:
    path = team_crm.root / team_crm("show", "星辰科技", "--json").json()["path"]
    path.write_text(path.read_text(encoding="utf-8").replace("owner: 张伟", "owner: 老张", 1), encoding="utf-8")
    rows = team_crm("report", "owners", "--json").json()["rows"]
    owners = [row["owner"] for row in rows]
    assert "老张" not in owners and owners.count("张伟") == 1
    assert next(r for r in rows if r["owner"] == "张伟")["customers"] == 2
