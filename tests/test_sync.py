"""Team sync with real git: a bare remote and clones in tmp_path, driven
through the real ``crm`` entry point (the merge driver and the pre-commit
hook run as real processes started by git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crmnotes import note
from tests.conftest import Crm, run_process

XC = "星辰科技有限公司"


def git(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if ok:
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done


def set_identity(root: Path, name: str) -> None:
    git(root, "config", "user.name", name)
    git(root, "config", "user.email", f"{name}@example.com")


def clone(remote: Path, target: Path, name: str) -> Crm:
    git(target.parent, "clone", "-q", "-b", "main", str(remote), str(target))
    set_identity(target, name)
    return Crm(target)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    return bare


@pytest.fixture
def team(tmp_path: Path, remote: Path) -> tuple[Crm, Crm]:
    """alice creates the vault and shares it; bob clones it."""
    first = tmp_path / "alice"
    Crm(tmp_path)("init", str(first), "--example")
    set_identity(first, "alice")
    git(first, "remote", "add", "origin", str(remote))
    alice = Crm(first)
    out = alice("sync")
    assert "pushed" in out.stdout
    return alice, clone(remote, tmp_path / "bob", "bob")


def head(crm: Crm) -> str:
    return git(crm.root, "rev-parse", "HEAD").stdout.strip()


def customer_file(crm: Crm, ref: str = XC) -> Path:
    return crm.root / crm("show", ref, "--json").json()["path"]


def sync_all(*clones: Crm) -> None:
    """Sync every clone twice over, so all end on the same commit."""
    for crm in (*clones, *clones):
        crm("sync")


def test_init_registers_driver_attributes_and_hook(tmp_path: Path) -> None:
    Crm(tmp_path)("init", str(tmp_path / "v"))
    root = tmp_path / "v"
    driver = git(root, "config", "--local", "merge.crmnotes.driver").stdout
    assert "-m crmnotes merge-driver %O %A %B %P" in driver
    assert "merge: crmnotes" in git(root, "check-attr", "merge", "--", "customers/x/foo.md").stdout
    assert (root / ".git" / "hooks" / "pre-commit").stat().st_mode & 0o111
    assert git(root, "status", "--porcelain").stdout == ""
    assert git(root, "rev-list", "--count", "HEAD").stdout.strip() == "1"


def test_concurrent_followups_from_two_clones_are_all_kept_in_order(team: tuple[Crm, Crm]) -> None:
    alice, bob = team
    alice("log", XC, "--note", "alice 电话确认报价", "--at", "2030-01-05 10:00", "--by", "alice")
    bob("log", XC, "--note", "bob 微信发送合同", "--at", "2030-01-04 16:30", "--by", "bob", "--channel", "wechat")
    alice("sync")
    bob("sync")
    alice("sync")
    assert head(alice) == head(bob)
    for crm in team:
        notes = [f["note"] for f in crm("show", XC, "--json").json()["followups"]]
        assert notes[-2:] == ["bob 微信发送合同", "alice 电话确认报价"]
        assert len(notes) == len(set(notes))
        text = customer_file(crm).read_text(encoding="utf-8")
        assert "<<<<<<<" not in text and ">>>>>>>" not in text
    assert customer_file(alice).read_bytes() == customer_file(bob).read_bytes()
    assert git(alice.root, "status", "--porcelain").stdout == ""


def test_commit_message_names_customers_and_changes(team: tuple[Crm, Crm]) -> None:
    alice, _ = team
    alice("log", XC, "--note", "电话沟通", "--channel", "phone")
    alice("set", "Acme", "grade=C")
    alice("sync")
    subject = git(alice.root, "log", "-1", "--format=%s").stdout
    assert f"log: {XC} (phone)" in subject
    assert "set: Acme Analytics" in subject and "grade=C" in subject


def test_different_fields_edited_on_each_side_are_both_kept(team: tuple[Crm, Crm]) -> None:
    alice, bob = team
    alice("set", XC, "grade=B")
    bob("set", XC, "stage=won", "tags=needs/data-security,status/vip")
    sync_all(alice, bob)
    for crm in team:
        data = crm("show", XC, "--json").json()
        assert (data["grade"], data["stage"]) == ("B", "won")
        assert "status/vip" in data["tags"]
        assert "conflicts" not in data
    alice("check")


def test_same_field_edited_differently_keeps_both_and_check_fails_until_resolved(team: tuple[Crm, Crm]) -> None:
    alice, bob = team
    alice("set", XC, "grade=B")
    bob("set", XC, "grade=C")
    sync_all(alice, bob)
    meta = note.parse(customer_file(bob).read_bytes()).meta
    values = {(v["value"], v["by"]) for v in meta["conflicts"][0]["values"]}
    assert values == {("B", "alice"), ("C", "bob")}
    for crm in team:
        problems = crm("check", "--json", ok=False).json()["problems"]
        assert any(p["code"] == "sync-conflict" and "grade" in p["message"] for p in problems)
    bob("set", XC, "grade=C")
    bob("check")
    sync_all(bob, alice)
    alice("check")
    assert alice("show", XC, "--json").json()["grade"] == "C"


def test_fresh_clone_registers_itself_and_merges_through_the_driver(team: tuple[Crm, Crm], remote: Path,
                                                                    tmp_path: Path) -> None:
    alice, _ = team
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(tmp_path / "carol"))
    carol_root = tmp_path / "carol"
    set_identity(carol_root, "carol")
    assert git(carol_root, "config", "--local", "merge.crmnotes.driver", ok=False).returncode != 0
    # The first crm command in a clone registers the driver and the hook, quietly.
    listed = run_process("ls", "--json", cwd=carol_root)
    assert listed.returncode == 0 and listed.stderr == ""
    assert "merge-driver" in git(carol_root, "config", "--local", "merge.crmnotes.driver").stdout
    assert (carol_root / ".git" / "hooks" / "pre-commit").is_file()
    carol = Crm(carol_root)
    alice("log", XC, "--note", "alice 拜访", "--at", "2030-02-01 10:00", "--channel", "visit")
    alice("sync")
    carol("log", XC, "--note", "carol 邮件", "--at", "2030-02-01 11:00", "--channel", "email")
    # Merged by git itself, not by crm sync: the driver does the work.
    git(carol_root, "commit", "-qam", "carol log")
    git(carol_root, "pull", "-q", "--no-rebase", "--no-edit")
    notes = [f["note"] for f in carol("show", XC, "--json").json()["followups"]]
    assert notes[-2:] == ["alice 拜访", "carol 邮件"]


def test_unreachable_remote_keeps_the_local_commit(team: tuple[Crm, Crm], tmp_path: Path) -> None:
    alice, _ = team
    git(alice.root, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    alice("log", XC, "--note", "离线记录的电话", "--at", "2030-03-01 09:00")
    before = head(alice)
    result = alice("sync", ok=False)
    assert "cannot reach the remote" in result.stderr and "committed locally" in result.stderr
    assert head(alice) != before
    assert "离线记录的电话" in git(alice.root, "show", "HEAD").stdout
    assert git(alice.root, "status", "--porcelain").stdout == ""


def test_no_remote_commits_only_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "solo"
    Crm(tmp_path)("init", str(root))
    set_identity(root, "solo")
    crm = Crm(root)
    crm("add", "海豚物流", "--industry", "物流", "--contact", "刘总", "--phone", "13912345678")
    result = crm("sync")
    assert "no remote" in result.stderr
    assert git(root, "log", "-1", "--format=%s").stdout.startswith("add: 海豚物流")


def test_first_push_to_an_empty_remote_sets_upstream(tmp_path: Path, remote: Path) -> None:
    root = tmp_path / "v"
    Crm(tmp_path)("init", str(root))
    git(root, "remote", "add", "origin", str(remote))
    Crm(root)("sync")
    assert git(root, "rev-parse", "--abbrev-ref", "main@{upstream}").stdout.strip() == "origin/main"
    assert git(remote, "rev-parse", "main").stdout == git(root, "rev-parse", "HEAD").stdout


def test_pre_commit_hook_refuses_an_id_number(team: tuple[Crm, Crm]) -> None:
    alice, _ = team
    path = customer_file(alice)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n身份证号 11010519491231002X\n")
    git(alice.root, "add", "--all")
    refused = git(alice.root, "commit", "-m", "oops", ok=False)
    assert refused.returncode != 0
    assert "PRC resident ID" in refused.stderr and "1101" in refused.stderr
    assert "11010519491231002X" not in refused.stderr  # the hook masks the number it reports
    result = alice("sync", ok=False)
    assert "refused" in result.stderr
    assert "11010519491231002X" in path.read_text(encoding="utf-8")  # nothing was discarded


def test_conflict_in_config_is_reported_and_the_vault_stays_usable(team: tuple[Crm, Crm]) -> None:
    alice, bob = team
    for crm, days in ((alice, "60"), (bob, "120")):
        config = crm.root / "crmnotes.yaml"
        config.write_text(config.read_text(encoding="utf-8").replace("silent_after_days: 90",
                                                                    f"silent_after_days: {days}"), encoding="utf-8")
    alice("sync")
    bob("log", XC, "--note", "bob 的记录")
    result = bob("sync", ok=False)
    assert "crmnotes.yaml" in result.stderr and "git merge" in result.stderr
    assert "<<<<<<<" not in (bob.root / "crmnotes.yaml").read_text(encoding="utf-8")
    bob("ls")
    assert "bob 的记录" in git(bob.root, "show", "HEAD").stdout


def test_customer_renamed_on_one_side_and_logged_on_the_other(team: tuple[Crm, Crm]) -> None:
    alice, bob = team
    old = customer_file(alice)
    new = old.with_name("xingchen-renamed-7f3q.md")
    git(alice.root, "mv", str(old.relative_to(alice.root)), str(new.relative_to(alice.root)))
    alice("sync")
    bob("log", XC, "--note", "改名之后的电话", "--at", "2030-04-01 10:00")
    sync_all(bob, alice)
    for crm in team:
        data = crm("show", XC, "--json").json()
        assert data["path"].endswith("xingchen-renamed-7f3q.md")
        assert data["followups"][-1]["note"] == "改名之后的电话"


def test_history_shows_field_changes_and_followups_across_a_rename(team: tuple[Crm, Crm]) -> None:
    alice, bob = team
    alice("set", XC, "grade=B")
    alice("sync")
    bob("sync")
    bob("log", XC, "--note", "bob 的电话", "--at", "2030-05-01 10:00", "--by", "bob")
    old = customer_file(bob)
    git(bob.root, "mv", str(old.relative_to(bob.root)), str(old.with_name("xc-7f3q.md").relative_to(bob.root)))
    bob("sync")
    changes = bob("history", XC, "--json").json()
    assert changes[0]["kind"] == "added" and len(changes[0]["followups"]) == 3
    grade = [c for c in changes if any(f["field"] == "grade" for f in c["fields"])]
    assert grade[-1]["author"] == "alice"
    assert {"field": "grade", "old": "A", "new": "B"} in grade[-1]["fields"]
    last = changes[-1]
    assert (last["author"], last["kind"], last["path"]) == ("bob", "renamed", "customers/x/xc-7f3q.md")
    assert [f["note"] for f in last["followups"]] == ["bob 的电话"]
    assert all("138****8000" in str(f) for c in changes for f in c["fields"] if f["field"] == "phone")
    text = bob("history", XC).stdout
    assert "grade: A -> B" in text and "bob 的电话" in text


def test_push_rejected_because_the_remote_moved_is_merged_and_retried(team: tuple[Crm, Crm]) -> None:
    alice, bob = team
    bob("log", XC, "--note", "bob 抢先推送的记录", "--at", "2030-06-01 09:00", "--by", "bob")
    git(bob.root, "commit", "-qam", "bob: log")
    # Between alice's fetch and her push, bob's commit lands on the remote:
    # her first push is rejected, and sync must fetch, merge and push again.
    hook = alice.root / ".git" / "hooks" / "pre-push"
    marker = alice.root / ".git" / "bob-pushed"
    hook.write_text("#!/bin/sh\nunset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\n"
                    f"if [ ! -e '{marker}' ]; then touch '{marker}'; git -C '{bob.root}' push -q origin main; fi\n",
                    encoding="utf-8")
    hook.chmod(0o755)
    alice("log", XC, "--note", "alice 的记录", "--at", "2030-06-01 10:00", "--by", "alice")
    bob_commit = head(bob)
    out = alice("sync")
    assert marker.exists() and "pushed" in out.stdout
    # alice's pushed commit contains bob's: her sync merged it after the rejection.
    assert git(alice.root, "merge-base", "--is-ancestor", bob_commit, "HEAD", ok=False).returncode == 0
    assert git(alice.root, "rev-parse", "origin/main").stdout.strip() == head(alice)
    bob("sync")
    assert head(alice) == head(bob)
    notes = [f["note"] for f in bob("show", XC, "--json").json()["followups"]]
    assert notes[-2:] == ["bob 抢先推送的记录", "alice 的记录"]


def test_auto_commit_is_off_by_default_and_commits_each_change_when_on(team: tuple[Crm, Crm]) -> None:
    alice, _ = team
    alice("log", XC, "--note", "默认不自动提交")
    assert git(alice.root, "status", "--porcelain").stdout != ""
    alice("sync")
    config = alice.root / "crmnotes.yaml"
    text = config.read_text(encoding="utf-8")
    assert "auto_commit: false" in text  # the template's default
    config.write_text(text.replace("auto_commit: false", "auto_commit: true").replace(
        "auto_sync_minutes: 0", "auto_sync_minutes: 30"), encoding="utf-8")
    alice("sync")
    alice("set", XC, "grade=C")
    assert git(alice.root, "status", "--porcelain").stdout == ""
    assert git(alice.root, "log", "-1", "--format=%s").stdout.strip() == f"set: {XC} grade=C"


def test_crm_watch_syncs_on_the_configured_period(team: tuple[Crm, Crm], remote: Path) -> None:
    """A real `crm watch` process with auto_sync_minutes set pushes a local change by itself."""
    import sys
    import time

    alice, _ = team
    config = alice.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("auto_sync_minutes: 0", "auto_sync_minutes: 0.02"),
                      encoding="utf-8")
    alice("log", XC, "--note", "watch 自动同步的记录")
    watcher = subprocess.Popen([sys.executable, "-m", "crmnotes", "--vault", str(alice.root), "watch"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        pushed = ""
        while time.monotonic() < deadline and "watch 自动同步的记录" not in pushed:
            time.sleep(0.5)
            pushed = git(remote, "log", "-p", "-1", "main", ok=False).stdout
    finally:
        watcher.terminate()
        output = watcher.communicate(timeout=30)[0]
    assert "watch 自动同步的记录" in pushed, output
    assert "auto-sync every" in output and "pushed to origin/main" in output


def test_detached_head_is_refused_before_anything_is_committed(team: tuple[Crm, Crm], remote: Path) -> None:
    alice, _ = team
    git(alice.root, "checkout", "-q", "--detach")
    alice("log", XC, "--note", "分离头指针上的记录", "--at", "2030-07-01 10:00")
    before = head(alice)
    result = alice("sync", ok=False)
    assert "detached HEAD" in result.stderr and "nothing was committed" in result.stderr
    assert "git switch main" in result.stderr
    assert head(alice) == before and git(alice.root, "status", "--porcelain").stdout != ""
    git(alice.root, "switch", "-q", "main")  # the hint, followed: the saved entry comes along
    alice("sync")
    assert "分离头指针上的记录" in git(remote, "show", "main:" + alice("show", XC, "--json").json()["path"]).stdout


def test_detached_head_with_its_own_commits_says_how_to_keep_them(team: tuple[Crm, Crm]) -> None:
    alice, _ = team
    git(alice.root, "checkout", "-q", "--detach")
    alice("log", XC, "--note", "手动提交在分离头指针上", "--at", "2030-07-02 10:00")
    git(alice.root, "commit", "-qam", "detached work")
    result = alice("sync", ok=False)
    assert "detached HEAD" in result.stderr and "git switch -c rescue" in result.stderr
    assert "git merge rescue" in result.stderr


def test_auto_commit_on_a_detached_head_commits_nothing_and_says_why(team: tuple[Crm, Crm]) -> None:
    alice, _ = team
    config = alice.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("auto_commit: false", "auto_commit: true"),
                      encoding="utf-8")
    alice("sync")
    git(alice.root, "checkout", "-q", "--detach")
    before = head(alice)
    result = alice("log", XC, "--note", "自动提交遇到分离头指针")
    assert "auto-commit failed" in result.stderr and "detached HEAD" in result.stderr
    assert head(alice) == before


def test_crm_clone_registers_the_driver_before_the_first_git_pull(team: tuple[Crm, Crm], remote: Path,
                                                                  tmp_path: Path) -> None:
    alice, _ = team
    done = run_process("clone", str(remote), "dave", "--user", "dave", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    dave = tmp_path / "dave"
    assert "merge-driver" in git(dave, "config", "--local", "merge.crmnotes.driver").stdout
    assert (dave / ".git" / "hooks" / "pre-commit").is_file()
    assert git(dave, "config", "user.name").stdout.strip() == "dave"
    rel = alice("show", XC, "--json").json()["path"]
    alice("log", XC, "--note", "alice 在克隆之后记录", "--at", "2030-08-01 10:00")
    alice("sync")
    # dave uses no crm command before pulling: only what `crm clone` registered can merge the file.
    with (dave / rel).open("a", encoding="utf-8") as handle:
        handle.write("\n### 2030-08-01 11:00 · phone · dave\n\ndave 手工追加的记录\n")
    git(dave, "commit", "-qam", "dave by hand")
    git(dave, "pull", "-q", "--no-rebase", "--no-edit")
    text = (dave / rel).read_text(encoding="utf-8")
    assert "<<<<<<<" not in text and "=======" not in text
    notes = [f.note for f in note.parse(text.encode("utf-8")).followups]
    assert "alice 在克隆之后记录" in notes and "dave 手工追加的记录" in notes
    assert git(dave, "log", "-1", "--format=%an").stdout.strip() == "dave"


def test_crm_clone_names_the_folder_after_the_url_and_refuses_a_used_one(remote: Path, tmp_path: Path,
                                                                        team: tuple[Crm, Crm]) -> None:
    done = run_process("clone", str(remote), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "remote" / "crmnotes.yaml").is_file()
    again = run_process("clone", str(remote), cwd=tmp_path)
    assert again.returncode != 0 and "already exists" in again.stderr and "Traceback" not in again.stderr
    missing = run_process("clone", str(tmp_path / "nowhere.git"), "x", cwd=tmp_path)
    assert missing.returncode != 0 and "cannot clone" in missing.stderr and not (tmp_path / "x").exists()


def test_a_non_utf8_file_name_is_left_out_and_the_rest_is_synced(team: tuple[Crm, Crm], remote: Path) -> None:
    import os

    alice, _ = team
    rel = alice("show", XC, "--json").json()["path"]
    alice("log", XC, "--note", "和乱码文件名一起同步", "--at", "2030-09-01 10:00")
    bad = os.fsencode(alice.root / "customers") + b"/\xc4\xe3\xba\xc3.md"  # "你好.md" in GBK, as a zip unpacks it
    with open(bad, "wb") as handle:
        handle.write((alice.root / rel).read_bytes())
    result = run_process("sync", cwd=alice.root)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "nothing to commit" not in result.stdout
    assert "pushed to origin/main" in result.stdout
    assert "not UTF-8" in result.stderr and "你好.md" in result.stderr
    assert "和乱码文件名一起同步" in git(remote, "show", "main:" + rel).stdout
    assert "\\304" not in git(remote, "ls-tree", "-r", "--name-only", "main").stdout
    assert os.path.exists(bad)  # left where it was, for the user to rename


def test_an_editor_save_during_a_merge_is_never_rewound(team: tuple[Crm, Crm], tmp_path: Path) -> None:
    """git merge, stopping because a file it merges was saved meanwhile, rewinds every file to how it
    found them (the save is gone).  The editor here saves while the merge driver runs."""
    import shlex
    import sys

    alice, bob = team
    rel = alice("show", XC, "--json").json()["path"]
    bob("log", XC, "--note", "bob 的记录", "--at", "2030-10-01 10:00")
    bob("sync")
    alice("log", XC, "--note", "alice 的记录", "--at", "2030-10-01 11:00")
    saved = tmp_path / "editor-saves.txt"
    script = tmp_path / "editor-during-merge.sh"
    script.write_text(f"#!/bin/sh\nline=\"编辑器在合并时保存 $(date +%s%N)\"\n"
                      f"printf '%s\\n' \"$line\" >> {shlex.quote(str(saved))}\n"
                      f"printf '\\n%s\\n' \"$line\" >> {shlex.quote(str(alice.root / rel))}\n"
                      "py=\"$1\"; shift; exec \"$py\" -m crmnotes merge-driver \"$@\"\n", encoding="utf-8")
    script.chmod(0o755)
    # (the interpreter's path in the command keeps crm from registering its own driver over this one)
    git(alice.root, "config", "merge.crmnotes.driver", f"{script} {sys.executable} %O %A %B %P")
    result = alice("sync", ok=None)
    assert result.exit_code == 0 or "kept changing in an editor" in result.stderr
    lines = saved.read_text(encoding="utf-8").splitlines()
    text = (alice.root / rel).read_text(encoding="utf-8")
    assert lines and all(line in text for line in lines)
    assert "alice 的记录" in text
