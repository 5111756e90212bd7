"""Kept answers (crmnotes/answers.py): `ls --json`, `due --json` and `report` replay what they worked out
while no customer file, config, day or argument changed, and never replay an answer the files moved past."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest

from crmnotes import answers, catalog, fsutil, reports, workspace
from crmnotes.vault import Vault

from .conftest import TODAY, Crm, run_process
from .test_sync import clone, git, set_identity

REPORT_NAMES = ("funnel", "sources", "owners", "activity", "forecast", "churn", "tags", "churn-rate", "cycle",
                "conversion", "trend", "repeat", "satisfaction", "completeness", "acquisition")


def kept_files(vault: Vault) -> list[str]:
    folder = vault.cache_dir / answers.ANSWERS_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def from_the_files(vault: Vault, *args: str) -> subprocess.CompletedProcess[str]:
    """``crm ARGS`` with the listing cache and every kept answer deleted first: read from the files."""
    shutil.rmtree(vault.cache_dir, ignore_errors=True)
    return run_process(*args, cwd=vault.root)


def xingchen(vault: Vault) -> Path:
    return next(p for p in vault.customers_dir.rglob("*.md") if "name: 星辰科技有限公司\n" in p.read_text("utf-8"))


def test_ls_json_is_replayed_until_a_file_changes_and_then_shows_the_change(example_vault: Vault) -> None:
    first = run_process("ls", "--json", cwd=example_vault.root)
    assert first.returncode == 0 and [name[:3] for name in kept_files(example_vault)] == ["ls-"]
    kept = (example_vault.cache_dir / answers.ANSWERS_DIR / kept_files(example_vault)[0]).read_bytes()
    assert first.stdout.strip().encode("utf-8") in kept  # after the key and the listing of customers/
    again = run_process("ls", "--json", cwd=example_vault.root)
    assert again.stdout == first.stdout
    path = xingchen(example_vault)
    with open(path, "a", encoding="utf-8") as handle:  # an editor appends a follow-up
        handle.write(f"\n### {TODAY.isoformat()} 16:20 · 电话 · 李雷\n客户确认预算，下周报价。\n")
    after = run_process("ls", "--json", cwd=example_vault.root)
    listed = next(c for c in json.loads(after.stdout) if c["name"] == "星辰科技有限公司")
    assert listed["last_contact"] == f"{TODAY.isoformat()}T16:20"
    assert after.stdout == from_the_files(example_vault, "ls", "--json").stdout


def test_a_change_that_keeps_size_and_mtime_is_not_replayed_past(example_vault: Vault) -> None:
    """An edit of the same length with its mtime put back (a tool that restores times): the inode's
    change time moves the fingerprint, so the kept answer is worked out again under a new key."""
    run_process("ls", "--json", cwd=example_vault.root)
    kept = example_vault.cache_dir / answers.ANSWERS_DIR / kept_files(example_vault)[0]
    key = kept.read_bytes().split(b"\n", 1)[0]
    path = xingchen(example_vault)
    before = path.stat()
    path.write_text(path.read_text("utf-8").replace("grade: A\n", "grade: C\n", 1), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert run_process("ls", "--json", cwd=example_vault.root).returncode == 0
    assert kept.read_bytes().split(b"\n", 1)[0] != key


def test_the_config_the_day_and_the_arguments_are_part_of_the_key(example_vault: Vault) -> None:
    day = date.today()
    text = lambda parts: b"".join(parts).decode("utf-8")  # noqa: E731
    plain = text(catalog.listing_json_parts(example_vault, today=day)[0])
    assert text(catalog.listing_json_parts(example_vault, today=day)[0]) == plain
    later = day + timedelta(days=400)  # every next step is overdue by then: another answer
    shutil.rmtree(example_vault.cache_dir)
    expected_later = text(catalog.listing_json_parts(example_vault, today=later)[0])
    shutil.rmtree(example_vault.cache_dir)
    catalog.listing_json_parts(example_vault, today=day)[0].close()  # a reader that stops: nothing kept
    assert kept_files(example_vault) == []
    assert text(catalog.listing_json_parts(example_vault, today=day)[0]) == plain
    assert text(catalog.listing_json_parts(example_vault, today=later)[0]) == expected_later != plain
    assert len(kept_files(example_vault)) == 1  # the same arguments: one place, the newest answer
    mine = Crm(example_vault.root)("ls", "--json", "--reveal").stdout
    assert len(kept_files(example_vault)) == 2 and mine != plain
    config = example_vault.root / "crmnotes.yaml"  # "silent" after a day: effective stages change
    text_before = config.read_text("utf-8")
    config.write_text(text_before.replace("silent_after_days: 90", "silent_after_days: 1", 1), encoding="utf-8")
    assert config.read_text("utf-8") != text_before
    relabelled = Crm(example_vault.root)("ls", "--json").stdout
    assert json.loads(relabelled) != json.loads(plain)
    assert relabelled == from_the_files(example_vault, "ls", "--json").stdout


def test_due_json_is_replayed_and_follows_a_new_next_step(example_vault: Vault) -> None:
    crm = Crm(example_vault.root)
    first = crm("due", "--json").stdout
    assert crm("due", "--json").stdout == first and any(n.startswith("due-") for n in kept_files(example_vault))
    crm("log", "星辰", "-n", "约好周五演示", "--next", f"{date.today().isoformat()} 发送演示资料")
    due = crm("due", "--json").json()
    item = next(i for i in due if i["name"] == "星辰科技有限公司")
    assert item["due"] == date.today().isoformat() and "演示资料" in item["reason"]
    assert crm("due", "--json").stdout == from_the_files(example_vault, "due", "--json").stdout


def test_every_report_kept_comes_back_equal_and_follows_a_stage_change(example_vault: Vault) -> None:
    ws = workspace.open_workspace(example_vault)
    for name in REPORT_NAMES:
        result = workspace.report(ws, name)
        kept = result.kept()
        assert kept is not None and reports.Report.from_kept(kept) == result, name
        assert workspace.report(ws, name) == result, name  # replayed
        printed = workspace.report_json(ws, name)
        assert json.loads(printed) == json.loads(json.dumps(result.to_json(), default=str)), name
        assert workspace.report_json(ws, name) == printed, name  # replayed as the text it printed
    assert workspace.report(ws, "funnel", "owner") == workspace.report(ws, "funnel", "owner")
    crm = Crm(example_vault.root)
    before = crm("report", "funnel", "--json").json()
    crm("log", "星辰", "-n", "签约完成", "--stage", "won")
    after = crm("report", "funnel", "--json").json()
    assert after != before
    assert after == json.loads(from_the_files(example_vault, "report", "funnel", "--json").stdout)


def test_a_report_text_that_is_not_one_is_not_replayed(example_vault: Vault) -> None:
    assert reports.Report.from_kept("[1, 2]") is None and reports.Report.from_kept("{") is None
    ws = workspace.open_workspace(example_vault)
    expected = workspace.report(ws, "sources")
    for path in (example_vault.cache_dir / answers.ANSWERS_DIR).iterdir():  # same key, a body broken by hand
        key = path.read_bytes().split(b"\n", 1)[0]
        path.write_bytes(key + b"\n" + '{"name": "来源"}'.encode())
    assert workspace.report(ws, "sources") == expected


def test_files_skipped_are_reported_every_time_and_nothing_is_kept(example_vault: Vault) -> None:
    bad = example_vault.customers_dir / "z" / "broken-0000.md"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text("---\nname: [坏的\n---\n", encoding="utf-8")
    for _ in range(2):
        done = run_process("ls", "--json", cwd=example_vault.root)
        assert done.returncode == 0 and "broken-0000.md" in done.stderr
    assert kept_files(example_vault) == []


def test_a_link_in_the_vault_keeps_nothing(example_vault: Vault) -> None:
    (example_vault.customers_dir / "链接.md").symlink_to(xingchen(example_vault))
    first = run_process("ls", "--json", cwd=example_vault.root)
    assert first.returncode == 0 and kept_files(example_vault) == []


def test_replayed_blocks_end_between_characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = ("星辰科技 Acme 数据安全 ✓ 🙂 " * 40).encode("utf-8")
    memo = answers.Memo(tmp_path / "answers" / "x", "钥匙")
    assert b"".join(memo.keep([text[:5], text[5:]])) == text
    for size in (1, 2, 3, 5, 7, 64):
        monkeypatch.setattr(answers, "BLOCK", size)
        blocks = list(memo.recall() or [])
        assert b"".join(blocks) == text
        assert all(block.decode("utf-8") for block in blocks)  # each one whole characters
    assert answers.Memo(tmp_path / "answers" / "x", "另一把钥匙").recall() is None


def test_only_the_newest_answers_stay_and_abandoned_temporary_files_go(tmp_path: Path) -> None:
    folder = tmp_path / "answers"
    folder.mkdir()
    stale = folder / ".killed.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))
    fresh = folder / ".writing.tmp"
    fresh.write_bytes(b"now")
    for n in range(answers.KEEP + 3):
        answers.Memo(folder / f"a{n}", "k").keep_whole(f"答案 {n}".encode())
        os.utime(folder / f"a{n}", ns=(n * 10**9, n * 10**9))
    names = sorted(p.name for p in folder.iterdir())
    assert ".killed.tmp" not in names and ".writing.tmp" in names
    assert len([n for n in names if not n.startswith(".")]) == answers.KEEP and "a0" not in names


def test_answers_stay_true_while_writers_edit_and_sync_pulls(tmp_path: Path) -> None:
    """Two clones of one bare remote: in one, `crm log` runs in a loop, an editor appends to another
    customer and `crm sync` pulls the other clone's follow-ups, while `crm watch` runs and `ls --json`,
    `due --json` and `report` run over and over (replayed or patched).  At the end every follow-up is
    listed (counted), and the kept answers equal those read from the files."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(remote))
    Crm(tmp_path)("init", str(tmp_path / "甲"), "--example")
    home = Vault(tmp_path / "甲")
    set_identity(home.root, "甲方")
    git(home.root, "remote", "add", "origin", str(remote))
    assert run_process("sync", cwd=home.root).returncode == 0
    other = Vault(clone(remote, tmp_path / "乙", "乙方").root)
    edited = next(p for p in home.customers_dir.rglob("*.md") if "星辰" not in p.read_text("utf-8"))
    watcher = subprocess.Popen([sys.executable, "-m", "crmnotes", "watch"], cwd=home.root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    answers_seen: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            done = run_process("ls", "--json", cwd=home.root)
            assert done.returncode == 0, done.stderr
            answers_seen.append(len(json.loads(done.stdout)))
            assert run_process("report", "activity", "--json", cwd=home.root).returncode == 0
            assert run_process("due", "--json", cwd=home.root).returncode == 0

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(3):
            assert run_process("log", "星辰", "-n", f"乙方第{n}次回访", cwd=other.root).returncode == 0
            assert run_process("sync", cwd=other.root).returncode == 0
            assert run_process("log", "星辰", "-n", f"甲方第{n}次回访", cwd=home.root).returncode == 0
            append_followup(edited, 10 + n, f"编辑器追加第{n}条")
            assert run_process("sync", cwd=home.root).returncode == 0
    finally:
        stop.set()
        thread.join()
        watcher.terminate()
        watcher.wait(30)
    assert answers_seen and set(answers_seen) == {len(list(home.customers_dir.rglob("*.md")))}
    listed = run_process("ls", "--json", cwd=home.root).stdout
    shown = json.loads(run_process("show", "星辰", "--json", cwd=home.root).stdout)
    notes = [f["note"] for f in shown["followups"]]
    assert sum(1 for n in notes if "次回访" in n) == 6  # nothing lost: 3 + 3
    star = next(c for c in json.loads(listed) if c["name"] == "星辰科技有限公司")
    assert star["followup_count"] == len(notes)
    assert listed == from_the_files(home, "ls", "--json").stdout
    edits = json.loads(run_process("show", str(edited.relative_to(home.root)), "--json", cwd=home.root).stdout)
    assert sum(1 for f in edits["followups"] if "编辑器追加" in f["note"]) == 3
    due = run_process("due", "--json", cwd=home.root).stdout
    report = run_process("report", "activity", "--json", cwd=home.root).stdout
    assert report == from_the_files(home, "report", "activity", "--json").stdout
    assert due == run_process("due", "--json", cwd=home.root).stdout == from_the_files(home, "due", "--json").stdout


@pytest.mark.parametrize("split_up_to", [fsutil.FIND_SPLIT_UP_TO, 0])  # one find per core; one find (flat folder)
def test_the_fingerprint_of_every_find_process_sees_each_kind_of_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split_up_to: int) -> None:
    monkeypatch.setattr(fsutil, "FIND_SPLIT_UP_TO", split_up_to)
    folder = tmp_path / "customers"
    for letter in "abcdefgh":
        (folder / letter).mkdir(parents=True)
        (folder / letter / f"客户-{letter}.md").write_text(f"---\nname: 客户{letter}\n---\n", encoding="utf-8")
    (folder / "顶层.md").write_text("---\nname: 顶层\n---\n", encoding="utf-8")
    first = fsutil.tree_fingerprint(folder)
    assert first is not None and fsutil.tree_fingerprint(folder) == first
    seen = {first}
    for letter in "aefh":  # a file handed to each process in turn
        with open(folder / letter / f"客户-{letter}.md", "a", encoding="utf-8") as handle:
            handle.write("\n补充一句。\n")
        seen.add(fsutil.tree_fingerprint(folder))
    (folder / "i").mkdir()  # a new top-level folder (the processes' shares move)
    seen.add(fsutil.tree_fingerprint(folder))
    (folder / "b" / "客户-b.md").rename(folder / "b" / "客户-b2.md")
    seen.add(fsutil.tree_fingerprint(folder))
    assert len(seen) == 7 and None not in seen
    (folder / "g" / "链接.md").symlink_to(folder / "a" / "客户-a.md")
    assert fsutil.tree_fingerprint(folder) is None


def test_ls_json_starts_the_fingerprint_before_its_command_is_imported(example_vault: Vault) -> None:
    started: list[Path] = []
    original = answers.foresee

    def watched(vault: Vault) -> None:
        started.append(vault.customers_dir)
        original(vault)

    answers.foresee = watched  # type: ignore[assignment]
    try:
        crm = Crm(example_vault.root)
        crm("ls", "--json")
        crm("ls")  # a table: no kept answer, nothing started
        crm("report", "movement", "--since", "2026-01-01", ok=None)  # from git: no kept answer
    finally:
        answers.foresee = original  # type: ignore[assignment]
    assert started == [example_vault.customers_dir] and answers._FORESEEN == {}
    assert [name[:3] for name in kept_files(example_vault)] == ["ls-"]


def append_followup(path: Path, minute: int, note: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:  # as an editor would, in place
        handle.write(f"\n### {TODAY.isoformat()} 15:{minute:02d} · 电话 · 李雷\n{note}\n")


def test_a_listing_kept_before_a_few_edits_is_patched_with_those_customers_alone(
        example_vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kept listing, its changed customers' objects written again in place; the rest of the vault is
    neither walked nor listed again (``listing_rows`` would fail), and the text is the one from the files."""
    crm = Crm(example_vault.root)
    crm("ls", "--json")
    files = sorted(example_vault.customers_dir.rglob("*.md"))
    append_followup(xingchen(example_vault), 1, "客户确认预算，要求下周报价。")
    append_followup(next(p for p in files if p != xingchen(example_vault)), 2, "Budget confirmed; 报价 next week.")
    (example_vault.customers_dir / "x" / ".星辰.md.swp").write_bytes(b"\x00swap")  # changes no answer

    def not_worked_out(*args: object, **kwargs: object) -> None:
        raise AssertionError("the listing was worked out whole")

    with monkeypatch.context() as patched:
        patched.setattr(catalog, "listing_rows", not_worked_out)
        out = crm("ls", "--json").stdout
    star = next(c for c in json.loads(out) if c["name"] == "星辰科技有限公司")
    assert star["last_contact"] == f"{TODAY.isoformat()}T15:01"
    assert out == crm("ls", "--json").stdout  # kept again, patched
    assert out == Crm(example_vault.root)("ls", "--json").stdout
    assert out.strip() == from_the_files(example_vault, "ls", "--json").stdout.strip()


@pytest.mark.parametrize("args", [["--json"], ["--json", "--reveal"], ["--json", "--stage", "intent"],
                                  ["--json", "--sort", "-name"], ["--json", "--tag", "needs/integration"]])
def test_each_kind_of_edit_lists_what_the_files_say(example_vault: Vault, args: list[str]) -> None:
    """Edits a patch serves (a follow-up appended, a field changed) and edits it must leave to the whole
    listing (a rename, a stage left, a new file, a deleted one, a file broken): after each, the listing
    equals the one read from the files."""
    crm = Crm(example_vault.root)
    path = xingchen(example_vault)
    original = path.read_text("utf-8")
    stage = next(line for line in original.splitlines() if line.startswith("stage: "))
    edits = [
        lambda: append_followup(path, 3, "第三次回访：客户要求演示。"),
        lambda: path.write_text(path.read_text("utf-8").replace("grade: A\n", "grade: B\n", 1), encoding="utf-8"),
        lambda: path.write_text(path.read_text("utf-8").replace("name: 星辰科技有限公司\n", "name: 星辰科技集团\n", 1),
                                encoding="utf-8"),
        lambda: path.write_text(path.read_text("utf-8").replace(stage, "stage: won", 1), encoding="utf-8"),
        lambda: path.write_text(path.read_text("utf-8").replace("stage: won", stage, 1), encoding="utf-8"),
        lambda: (example_vault.customers_dir / "x" / "新客户-0001.md").write_text(
            "---\nname: 新客户\nindustry: 制造\ncontact: 王总\nstage: intent\n---\n", encoding="utf-8"),
        lambda: (example_vault.customers_dir / "x" / "新客户-0001.md").unlink(),
    ]
    crm("ls", *args)
    for edit in edits:
        edit()
        listed = crm("ls", *args).stdout
        assert listed == Crm(example_vault.root)("ls", *args).stdout  # replayed
        keep = example_vault.cache_dir / answers.ANSWERS_DIR
        moved = keep.with_name("answers-aside")
        keep.rename(moved)
        assert listed == crm("ls", *args).stdout  # from the listing cache, no kept answer
        shutil.rmtree(keep)
        moved.rename(keep)
    path.write_text("---\nname: [坏的\n---\n", encoding="utf-8")  # broken: reported, never kept
    broken = run_process("ls", *args, cwd=example_vault.root)
    assert broken.returncode == 0 and path.name in broken.stderr and "星辰科技" not in broken.stdout
    path.write_text(original, encoding="utf-8")
    assert crm("ls", *args).stdout.strip() == from_the_files(example_vault, "ls", *args).stdout.strip()


@pytest.mark.parametrize("owner", ["", "alice"])
def test_a_due_list_kept_before_edits_takes_out_and_puts_back_the_changed_customers(
        example_vault: Vault, monkeypatch: pytest.MonkeyPatch, owner: str) -> None:
    """A next step planned (the item moves to its new day), one done (it leaves the list), a customer
    renamed: each patched list, worked out by nothing else, equals the one from the files."""
    crm = Crm(example_vault.root)
    args = ["due", "--json", *(["--owner", owner] if owner else [])]
    crm(*args)
    path = xingchen(example_vault)
    today = date.today().isoformat()

    def not_worked_out(*args: object, **kwargs: object) -> None:
        raise AssertionError("the due list was worked out whole")

    edits = [
        lambda: append_followup(path, 4, f"约好演示。\nnext: {(date.today() + timedelta(days=2)).isoformat()} 演示"),
        lambda: append_followup(path, 5, f"今天必须回电。\nnext: {today} 回电"),
        lambda: path.write_text(path.read_text("utf-8").replace("name: 星辰科技有限公司\n", "name: 星辰科技集团\n", 1),
                                encoding="utf-8"),
        lambda: path.write_text(path.read_text("utf-8").replace("owner: ", "owner: zhangwei\n# was: ", 1),
                                encoding="utf-8"),
    ]
    for edit in edits:
        edit()
        with monkeypatch.context() as patched:
            patched.setattr(catalog, "due_json_items", not_worked_out)
            listed = crm(*args).stdout
        assert listed.strip() == from_the_files(example_vault, *args).stdout.strip()
        crm(*args)  # kept again, for the next edit


@pytest.mark.parametrize("command", [["ls", "--json"], ["due", "--json"], ["report", "owners", "--json"]])
def test_kept_answers_are_kept_escaped_and_printed_so_on_every_path(example_vault: Vault, command: list[str]) -> None:
    """A name and an owner holding a bidi override and a line separator (and “”…· that only look alike):
    the worked-out, replayed and patched answers print them as \\u escapes, never raw, and equal the files'."""
    path = xingchen(example_vault)
    text = path.read_text("utf-8").replace("name: 星辰科技有限公司\n", "name: \"星辰\u202e科技\u2028“有限”…·\"\n", 1)
    owner = next(line for line in text.splitlines() if line.startswith("owner: "))
    path.write_text(text.replace(owner, "owner: \"李\u202e雷\"", 1), encoding="utf-8")
    run_process("log", "星辰", "-n", "约好演示", "--next", f"{date.today().isoformat()} 回电", cwd=example_vault.root)
    seen = []
    for _ in range(2):  # worked out, then replayed
        seen.append(run_process(*command, cwd=example_vault.root).stdout)
    append_followup(path, 6, "补充：客户要求现场演示。")
    seen.append(run_process(*command, cwd=example_vault.root).stdout)  # patched (ls, due) or worked out
    for out in seen:
        assert "\u202e" not in out and "\u2028" not in out and "\\u202e" in out
    assert "“有限”…·" in seen[0] or command[0] == "report"
    assert seen[0] == seen[1]
    assert seen[2] == from_the_files(example_vault, *command).stdout
