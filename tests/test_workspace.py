"""Read isolation by repository (issue 16 item 3), with real git: a bare "server" repository per rep
(张伟's and 李娜's) plus the team's shared one; a rep's workspace mounts only their own repository,
the manager's mounts both; ls / search / due / report span the mounts; sync pushes every mount;
a customer moves between repositories with its follow-ups and both histories say so."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import Crm
from tests.test_sync import git, set_identity

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()


def _server(tmp_path: Path, name: str) -> Path:
    bare = tmp_path / "server" / f"{name}.git"
    bare.parent.mkdir(exist_ok=True)
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    return bare


def _vault(tmp_path: Path, folder: str, server: Path, owner: str, customers: list[tuple[str, str]]) -> Crm:
    """A vault pushed to ``server`` holding ``owner``'s customers (name, a word of its follow-up)."""
    root = tmp_path / folder
    Crm(tmp_path)("init", str(root))
    set_identity(root, owner)
    git(root, "remote", "add", "origin", str(server))
    crm = Crm(root)
    for name, word in customers:
        phone = f"139{abs(hash(name)) % 10**8:08d}"
        crm("add", name, "--industry", "制造业", "--contact", "王经理", "--owner", owner, "--phone", phone)
        crm("log", name, "--note", f"电话沟通{word}需求", "--at", f"{YESTERDAY} 10:00",
            "--next", f"{YESTERDAY} 回访")
    crm("sync")
    return crm


@pytest.fixture
def servers(tmp_path: Path) -> dict[str, Path]:
    """Three server repositories: 张伟's, 李娜's and the team's shared one (config, no customers)."""
    found = {name: _server(tmp_path, name) for name in ("zhangwei", "lina", "team")}
    (tmp_path / "setup").mkdir()
    _vault(tmp_path / "setup", "zhangwei", found["zhangwei"], "张伟",
           [("星辰科技有限公司", "数据安全"), ("华夏物流", "仓储")])
    _vault(tmp_path / "setup", "lina", found["lina"], "李娜", [("蓝海贸易", "数据安全")])
    _vault(tmp_path / "setup", "team", found["team"], "admin", [])
    return found


def _clone(tmp_path: Path, server: Path, folder: str, who: str) -> Path:
    target = tmp_path / folder
    target.parent.mkdir(parents=True, exist_ok=True)
    git(target.parent, "clone", "-q", "-b", "main", str(server), str(target))
    set_identity(target, who)
    return target


def _workspace(tmp_path: Path, servers: dict[str, Path], who: str, mounts: list[str]) -> Crm:
    """``who``'s clone of the team repository mounting clones of ``mounts``."""
    home = Crm(_clone(tmp_path, servers["team"], f"{who}/team", who))
    for name in mounts:
        folder = _clone(tmp_path, servers[name], f"{who}/{name}", who)
        home("workspace", "add", str(folder), "--name", name)
    return home


def _names(rows: list[dict[str, object]]) -> list[object]:
    return [row["name"] for row in rows]


def test_a_rep_sees_only_their_repository_and_the_manager_sees_all(tmp_path: Path,
                                                                   servers: dict[str, Path]) -> None:
    rep = _workspace(tmp_path, servers, "张伟", ["zhangwei"])
    manager = _workspace(tmp_path, servers, "王总", ["zhangwei", "lina"])

    assert sorted(_names(rep("ls", "--json").json())) == ["华夏物流", "星辰科技有限公司"]
    listed = manager("ls", "--json").json()
    assert {row["name"]: row["mount"] for row in listed} == {
        "华夏物流": "zhangwei", "星辰科技有限公司": "zhangwei", "蓝海贸易": "lina"}
    assert _names(listed) == _names(manager("ls", "--json", "--full").json())  # one order, both shapes
    assert "蓝海贸易" in manager("ls").stdout and "lina" in manager("ls").stdout

    assert _names(rep("search", "数据安全", "--json").json()) == ["星辰科技有限公司"]
    assert sorted(_names(manager("search", "数据安全", "--json").json())) == ["星辰科技有限公司", "蓝海贸易"]

    assert sorted(_names(rep("due", "--json").json())) == ["华夏物流", "星辰科技有限公司"]
    due = manager("due", "--json").json()
    assert sorted(_names(due)) == ["华夏物流", "星辰科技有限公司", "蓝海贸易"]
    assert {row["mount"] for row in due} == {"zhangwei", "lina"}

    owners = {row["owner"]: row["customers"] for row in manager("report", "owners", "--json").json()["rows"]}
    assert owners == {"张伟": 2, "李娜": 1}
    assert "李娜" not in str(rep("report", "owners", "--json").json())

    assert manager("show", "蓝海", "--json").json()["name"] == "蓝海贸易"  # a REF resolves in any mount
    assert "no customer matches" in rep("show", "蓝海", ok=False).stderr


def test_writes_go_to_the_mount_holding_the_customer_and_add_to_the_owners(tmp_path: Path,
                                                                           servers: dict[str, Path]) -> None:
    manager = _workspace(tmp_path, servers, "王总", ["zhangwei", "lina"])
    manager("workspace", "rm", "lina")
    manager("workspace", "add", str(tmp_path / "王总" / "lina"), "--name", "lina", "--owner", "李娜")
    manager("log", "蓝海贸易", "--note", "上门拜访，确认预算")
    assert "确认预算" in next((tmp_path / "王总" / "lina" / "customers").rglob("*.md")).read_text("utf-8")
    manager("add", "长江电子", "--industry", "制造业", "--contact", "刘工", "--owner", "李娜", "--email", "liu@cj.cn")
    manager("add", "黄河机械", "--industry", "制造业", "--contact", "陈工", "--owner", "张伟", "--email", "chen@hh.cn")
    mounts = {row["name"]: row["mount"] for row in manager("ls", "--json").json()}
    assert mounts["长江电子"] == "lina" and mounts["黄河机械"] == "zhangwei"
    assert [m["name"] for m in manager("workspace", "ls", "--json").json()] == ["zhangwei", "lina"]


def test_sync_of_a_workspace_pushes_every_mount(tmp_path: Path, servers: dict[str, Path]) -> None:
    manager = _workspace(tmp_path, servers, "王总", ["zhangwei", "lina"])
    manager("log", "星辰科技", "--note", "微信确认合同条款")
    manager("log", "蓝海贸易", "--note", "电话跟进报价")
    done = manager("sync", "--json").json()
    assert [item["mount"] for item in done] == ["team", "zhangwei", "lina"]
    assert all(item["pushed"] for item in done if item["mount"] != "team")
    for name, word in (("zhangwei", "微信确认合同条款"), ("lina", "电话跟进报价")):
        shown = git(tmp_path, "--git-dir", str(servers[name]), "log", "-p", "-1", "main").stdout
        assert word in shown


def test_a_failing_mount_does_not_stop_the_others(tmp_path: Path, servers: dict[str, Path]) -> None:
    manager = _workspace(tmp_path, servers, "王总", ["zhangwei", "lina"])
    git(tmp_path / "王总" / "zhangwei", "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    manager("log", "蓝海贸易", "--note", "电话跟进报价")
    out = manager("sync", "--json", ok=False).json()
    by_mount = {item["mount"]: item for item in out}
    assert by_mount["lina"]["pushed"] and "电话跟进报价" in git(
        tmp_path, "--git-dir", str(servers["lina"]), "log", "-p", "-1", "main").stdout
    assert not by_mount["zhangwei"].get("pushed")


def test_moving_a_customer_keeps_its_entries_and_both_histories_show_it(tmp_path: Path,
                                                                        servers: dict[str, Path]) -> None:
    manager = _workspace(tmp_path, servers, "王总", ["zhangwei", "lina"])
    manager("log", "星辰科技", "--note", "第二次沟通，客户关注数据安全")
    manager("sync")
    before = manager("show", "星辰科技", "--json").json()
    assert len(before["followups"]) == 2

    moved = manager("move", "星辰科技", "--to", "lina", "--owner", "李娜", "--json").json()
    assert (moved["from"], moved["to"]) == ("zhangwei", "lina")
    after = manager("show", "星辰科技", "--json").json()
    assert after["owner"] == "李娜" and after["followups"] == before["followups"]
    assert {row["name"]: row["mount"] for row in manager("ls", "--json").json()}["星辰科技有限公司"] == "lina"

    lina, zhangwei = tmp_path / "王总" / "lina", tmp_path / "王总" / "zhangwei"
    assert "here from zhangwei" in git(lina, "log", "-1", "--format=%s").stdout
    assert "to lina" in git(zhangwei, "log", "-1", "--format=%s").stdout
    assert git(zhangwei, "status", "--porcelain").stdout == ""  # both sides committed, nothing left over
    assert git(lina, "status", "--porcelain").stdout == ""
    manager("sync")
    rep = _workspace(tmp_path, servers, "李娜", ["lina"])
    assert len(rep("show", "星辰科技", "--json").json()["followups"]) == 2  # the rep's clone has it, whole


def test_a_move_that_the_target_refuses_leaves_the_customer_where_it_was(tmp_path: Path,
                                                                         servers: dict[str, Path]) -> None:
    manager = _workspace(tmp_path, servers, "王总", ["zhangwei", "lina"])
    before = manager("show", "星辰科技", "--json").json()
    taken = tmp_path / "王总" / "lina" / before["path"]  # the same file name already in the target
    taken.parent.mkdir(parents=True, exist_ok=True)
    taken.write_text("---\nname: 别的客户\n---\n", encoding="utf-8")
    assert "already exists" in manager("move", "星辰科技", "--to", "lina", ok=False).stderr
    assert manager("show", "星辰科技有限公司", "--json").json() == before
    assert taken.read_text(encoding="utf-8") == "---\nname: 别的客户\n---\n"  # not overwritten
    assert git(tmp_path / "王总" / "zhangwei", "status", "--porcelain").stdout == ""
    assert "no mount named" in manager("move", "星辰科技", "--to", "nowhere", ok=False).stderr
    assert "say where to" in manager("move", "星辰科技", ok=False).stderr


def test_an_ambiguous_reference_names_the_mounts(tmp_path: Path, servers: dict[str, Path]) -> None:
    manager = _workspace(tmp_path, servers, "王总", ["zhangwei"])
    _clone(tmp_path, servers["lina"], "王总/lina", "王总")
    manager("workspace", "add", str(tmp_path / "王总" / "lina"), "--name", "lina", "--owner", "李娜")
    manager("add", "星辰贸易", "--industry", "贸易", "--contact", "赵总", "--owner", "李娜", "--email", "zhao@xc.cn")
    err = " ".join(manager("show", "星辰", ok=False).stderr.split())
    assert "matches 2 customers" in err and "zhangwei:customers/" in err and "lina:customers/" in err
    assert manager("show", "星辰贸易", "--json").json()["owner"] == "李娜"  # more of the name: one


def test_workspace_add_refuses_what_is_not_a_vault_and_duplicates(tmp_path: Path,
                                                                  servers: dict[str, Path]) -> None:
    manager = _workspace(tmp_path, servers, "王总", ["zhangwei"])
    (tmp_path / "empty").mkdir()
    assert "not a crmnotes vault" in manager("workspace", "add", str(tmp_path / "empty"), ok=False).stderr
    assert "already" in manager("workspace", "add", str(tmp_path / "王总" / "zhangwei"), "--name", "x",
                                ok=False).stderr
    assert "cannot name" in manager("workspace", "add", str(tmp_path / "王总" / "zhangwei"), "--name", "a/b",
                                    ok=False).stderr
    assert "no mount named" in manager("workspace", "rm", "nope", ok=False).stderr


def test_workspace_add_clones_a_url(tmp_path: Path, servers: dict[str, Path]) -> None:
    manager = _workspace(tmp_path, servers, "王总", [])
    manager("workspace", "add", str(servers["lina"]), "--name", "lina")
    assert (tmp_path / "王总" / "lina" / "crmnotes.yaml").is_file()
    assert _names(manager("ls", "--json").json()) == ["蓝海贸易"]


def test_the_managers_tui_spans_the_mounts_and_writes_to_the_customers_mount(tmp_path: Path,
                                                                             servers: dict[str, Path]) -> None:
    from crmnotes.tui.app import make_app
    from crmnotes.tui.screens.detail import DetailScreen
    from crmnotes.tui.screens.due import DueScreen
    from crmnotes.tui.screens.forms import LogForm
    from crmnotes.vault import Vault
    from crmnotes.workspace import open_workspace
    from tests.test_tui import screen_text, search_for, settle, sync, type_text

    manager = _workspace(tmp_path, servers, "王总", ["zhangwei", "lina"])
    home = Vault(manager.root)
    lina_file = next((tmp_path / "王总" / "lina" / "customers").rglob("*.md"))

    @sync
    async def drive() -> None:
        app = make_app(home, user="王总", poll_seconds=None, workspace=open_workspace(home))
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(app, pilot)
            assert sorted(r.name for r in app.main.table.all_rows) == ["华夏物流", "星辰科技有限公司", "蓝海贸易"]
            await pilot.press("u")  # the due screen: every mount's due customers
            await settle(app, pilot)
            assert isinstance(app.screen, DueScreen)
            assert sorted(item.entry.name for item in app.screen.items) == ["华夏物流", "星辰科技有限公司", "蓝海贸易"]
            await pilot.press("escape")
            await search_for(app, pilot, "蓝海")
            assert [r.name for r in app.main.table.all_rows] == ["蓝海贸易"]
            await pilot.press("enter", "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, DetailScreen) and "蓝海贸易" in screen_text(app)
            await pilot.press("l")
            await pilot.pause()
            assert isinstance(app.screen, LogForm)
            await type_text(pilot, "视频会议演示方案")
            await pilot.press("ctrl+s")
            await settle(app, pilot)

    drive()
    assert "视频会议演示方案" in lina_file.read_text(encoding="utf-8")  # written in 李娜's repository
    assert not (tmp_path / "王总" / "team" / "customers").exists() or \
        not list((tmp_path / "王总" / "team" / "customers").rglob("*.md"))

    rep = _workspace(tmp_path, servers, "张伟", ["zhangwei"])

    @sync
    async def rep_view() -> None:
        rep_home = Vault(rep.root)
        app = make_app(rep_home, user="张伟", poll_seconds=None, workspace=open_workspace(rep_home))
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(app, pilot)
            assert sorted(r.name for r in app.main.table.all_rows) == ["华夏物流", "星辰科技有限公司"]
            await search_for(app, pilot, "数据安全")
            assert [r.name for r in app.main.table.all_rows] == ["星辰科技有限公司"]

    rep_view()


@pytest.mark.parametrize("sort", ["name", "-name", "created", "last", "owner", "next"])
def test_merged_lists_keep_the_order_of_one_vault_of_the_same_customers(tmp_path: Path, sort: str) -> None:
    import shutil

    from crmnotes import actions

    people = [("星辰科技有限公司", "张伟"), ("Acme Analytics Inc.", "Li Na"), ("蓝海贸易", "李娜"),
              ("阿里巴巴", "张伟"), ("Zebra Labs", "王芳"), ("北京数据安全有限公司", "李娜")]
    mounts = [Crm(actions.create_vault(tmp_path / name)) for name in ("a", "b")]
    for at, (name, owner) in enumerate(people):
        crm = mounts[at % 2]
        crm("add", name, "--industry", "互联网", "--contact", "联系人", "--owner", owner,
            "--email", f"c{at}@example.com")
        crm("log", name, "--note", "首次电话沟通", "--at", f"2026-0{at + 1}-10 10:00",
            "--next", f"{YESTERDAY if at % 3 else '2026-11-0' + str(at + 1)} 回访")
    one = Crm(actions.create_vault(tmp_path / "one"))
    for crm in mounts:
        for path in (crm.root / "customers").rglob("*.md"):
            target = one.root / path.relative_to(crm.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    home = Crm(actions.create_vault(tmp_path / "home"))
    for crm in mounts:
        home("workspace", "add", str(crm.root))
    assert _names(home("ls", "--json", "--sort", sort).json()) == _names(one("ls", "--json", "--sort", sort).json())
    assert _names(home("ls", "--json", "--sort", sort, "--limit", "3").json()) == \
        _names(one("ls", "--json", "--sort", sort, "--limit", "3").json())
    assert _names(home("due", "--json").json()) == _names(one("due", "--json").json())
    ours = [line.split()[0] for line in home("ls", "--sort", sort).stdout.splitlines()[2:-1]]
    theirs = [line.split()[0] for line in one("ls", "--sort", sort).stdout.splitlines()[2:-1]]
    assert ours == theirs and len(ours) == len(people)


def test_set_owner_in_a_workspace_writes_in_the_mount_and_names_the_owners_mount(tmp_path: Path,
                                                                                servers: dict[str, Path]) -> None:
    manager = _workspace(tmp_path, servers, "王总", ["zhangwei"])
    _clone(tmp_path, servers["lina"], "王总/lina", "王总")
    manager("workspace", "add", str(tmp_path / "王总" / "lina"), "--name", "lina", "--owner", "李娜")
    out = manager("set", "华夏物流", "owner=李娜", "grade=A")
    assert "crm move" in out.stderr + out.stdout and "lina" in out.stderr + out.stdout
    shown = manager("show", "华夏物流", "--json").json()
    assert (shown["owner"], shown["grade"]) == ("李娜", "A")
    assert (tmp_path / "王总" / "zhangwei" / shown["path"]).is_file()  # still where it was until moved


@pytest.mark.parametrize("text", ["{not json", '{"mounts": [1, 2]}', '{"mounts": {"a": {"路径": "x"}}}', "\xff\xfe"])
def test_a_broken_workspace_file_is_refused_with_a_clear_message(tmp_path: Path, text: str) -> None:
    from crmnotes import actions

    home = Crm(actions.create_vault(tmp_path / "home"))
    (home.root / ".crmnotes").mkdir(exist_ok=True)
    (home.root / ".crmnotes" / "workspace.json").write_text(text, encoding="utf-8")
    err = home("ls", ok=False).stderr
    assert "workspace" in err and "Traceback" not in err and "crm workspace add" in err


def test_a_mount_whose_folder_is_gone_is_named(tmp_path: Path) -> None:
    import shutil

    from crmnotes import actions

    home = Crm(actions.create_vault(tmp_path / "home"))
    other = actions.create_vault(tmp_path / "客户库")
    home("workspace", "add", str(other))
    assert [m["name"] for m in home("workspace", "ls", "--json").json()] == ["客户库"]
    shutil.rmtree(other)
    err = home("ls", "--json", ok=False).stderr
    assert "mount '客户库'" in err and "crm workspace rm 客户库" in err
    home("workspace", "rm", "客户库")
    assert home("ls", "--json").json() == []
