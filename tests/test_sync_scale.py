"""What keeps sync quick in a vault of many files (issue 19), with real git:
the local settings crm init / clone / the first sync make, and the commit
staged from what ``git status`` names (exact names, Chinese ones included)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Crm
from tests.test_sync import git, set_identity


def index_version(root: Path) -> int:
    return int.from_bytes((root / ".git" / "index").read_bytes()[4:8], "big")


def test_crm_init_sets_the_untracked_cache_and_a_version_4_index(tmp_path: Path) -> None:
    Crm(tmp_path)("init", str(tmp_path / "v"))
    root = tmp_path / "v"
    assert git(root, "config", "--local", "core.untrackedCache").stdout.strip() == "true"
    assert git(root, "config", "--local", "index.version").stdout.strip() == "4"
    assert index_version(root) == 4


def test_an_existing_vault_is_tuned_on_its_first_sync_and_a_users_choice_is_kept(tmp_path: Path) -> None:
    Crm(tmp_path)("init", str(tmp_path / "v"), "--example")
    root = tmp_path / "v"
    git(root, "config", "--local", "--unset", "core.untrackedCache")
    git(root, "config", "--local", "--unset", "index.version")
    git(root, "update-index", "--index-version", "2")
    crm = Crm(root)
    crm("log", "星辰科技有限公司", "--note", "电话沟通，客户要数据安全方案")
    crm("sync")
    assert git(root, "config", "--local", "core.untrackedCache").stdout.strip() == "true"
    assert index_version(root) == 4
    git(root, "config", "--local", "core.untrackedCache", "false")  # the user's own choice
    crm("sync")
    assert git(root, "config", "--local", "core.untrackedCache").stdout.strip() == "false"


def test_sync_commits_exactly_the_changed_new_and_deleted_files_by_their_names(tmp_path: Path) -> None:
    Crm(tmp_path)("init", str(tmp_path / "v"))
    root = tmp_path / "v"
    set_identity(root, "alice")
    (root / "报价[1].txt").write_text("第一版报价\n", encoding="utf-8")  # brackets: a glob, if not literal
    (root / "报价1.txt").write_text("另一份\n", encoding="utf-8")
    (root / "资料").mkdir()
    (root / "资料" / "合同 草稿.md").write_text("合同条款\n", encoding="utf-8")
    (root / ".gitignore").write_text("*.tmp\n", encoding="utf-8")
    (root / "临时.tmp").write_text("不提交\n", encoding="utf-8")
    crm = Crm(root)
    crm("sync")
    tracked = set(git(root, "-c", "core.quotePath=false", "ls-files").stdout.splitlines())
    assert {"报价[1].txt", "报价1.txt", "资料/合同 草稿.md", ".gitignore"} <= tracked
    assert "临时.tmp" not in tracked
    (root / "报价[1].txt").write_text("第二版报价\n", encoding="utf-8")
    (root / "报价1.txt").unlink()
    crm("sync")
    assert git(root, "status", "--porcelain").stdout == ""
    shown = git(root, "-c", "core.quotePath=false", "show", "--name-status", "--format=", "HEAD").stdout
    assert set(shown.split("\n")) - {""} == {"M\t报价[1].txt", "D\t报价1.txt"}


def test_nothing_changed_makes_no_commit(tmp_path: Path) -> None:
    Crm(tmp_path)("init", str(tmp_path / "v"))
    root = tmp_path / "v"
    before = git(root, "rev-parse", "HEAD").stdout
    assert "nothing to commit" in Crm(root)("sync").stdout
    assert git(root, "rev-parse", "HEAD").stdout == before


def test_the_hook_still_refuses_a_hand_made_commit_after_sync_skipped_it(tmp_path: Path) -> None:
    Crm(tmp_path)("init", str(tmp_path / "v"))
    root = tmp_path / "v"
    set_identity(root, "alice")
    (root / "名单.txt").write_text("王芳\n", encoding="utf-8")
    Crm(root)("sync")  # committed with the guard run once, by sync itself
    (root / "名单.txt").write_text("王芳 11010519491231002X\n", encoding="utf-8")
    git(root, "add", "--all")
    refused = git(root, "commit", "-m", "手工提交", ok=False)
    assert refused.returncode != 0 and "PRC resident ID" in refused.stderr


def test_history_of_a_customer_added_by_the_first_commit(tmp_path: Path) -> None:
    Crm(tmp_path)("init", str(tmp_path / "v"), "--example")  # the first commit adds every example customer
    root = tmp_path / "v"
    set_identity(root, "alice")
    crm = Crm(root)
    crm("set", "星辰科技有限公司", "grade=B")
    crm("sync")
    changes = crm("history", "星辰科技有限公司", "--json").json()
    assert [c["kind"] for c in changes] == ["added", "changed"]
    assert {"field": "grade", "old": "A", "new": "B"} in changes[-1]["fields"]


def test_an_id_finds_its_customer_by_its_file_name_and_still_after_a_rename_by_hand(tmp_path: Path) -> None:
    Crm(tmp_path)("init", str(tmp_path / "v"), "--example")
    crm = Crm(tmp_path / "v")
    shown = crm("show", "星辰科技有限公司", "--json").json()
    assert crm("show", shown["id"], "--json").json()["path"] == shown["path"]
    renamed = (tmp_path / "v" / shown["path"]).with_name("星辰-手工改名.md")
    (tmp_path / "v" / shown["path"]).rename(renamed)
    found = crm("show", shown["id"].upper(), "--json").json()
    assert found["path"].endswith("星辰-手工改名.md") and found["name"] == "星辰科技有限公司"


def test_crm_clone_sets_the_untracked_cache_and_a_version_4_index(tmp_path: Path) -> None:
    Crm(tmp_path)("init", str(tmp_path / "v"), "--example")
    git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "v"), str(tmp_path / "团队.git"))
    Crm(tmp_path)("clone", str(tmp_path / "团队.git"), str(tmp_path / "王芳"), "--user", "王芳")
    root = tmp_path / "王芳"
    assert git(root, "config", "--local", "core.untrackedCache").stdout.strip() == "true"
    assert index_version(root) == 4
