"""Git's conflict markers from a plain ``git pull`` (the crmnotes driver not yet
registered): ``crm check`` reports them, ``crm repair`` merges the file again
with the crmnotes merge.  Real clones of a real bare remote; bob's side is
written with plain git and the library (any ``crm`` command would register
the driver and spoil the plain pull)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from crmnotes import note
from crmnotes.model import FollowUp
from tests.conftest import Crm
from tests.test_sync import XC, git, remote, set_identity  # noqa: F401 (remote is a fixture)


def shared(tmp_path: Path, remote: Path) -> tuple[Crm, Path, str]:  # noqa: F811
    """alice's vault on the remote; bob's plain ``git clone`` of it; 星辰科技's file."""
    first = tmp_path / "alice"
    Crm(tmp_path)("init", str(first), "--example")
    set_identity(first, "alice")
    git(first, "remote", "add", "origin", str(remote))
    alice = Crm(first)
    alice("sync")
    bob = tmp_path / "bob"
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(bob))
    set_identity(bob, "bob")
    return alice, bob, alice("show", XC, "--json").json()["path"]


@pytest.fixture
def pulled(tmp_path: Path, remote: Path) -> tuple[Crm, Path, str]:  # noqa: F811
    """alice and bob each log a call to 星辰科技; bob's plain ``git pull`` stops on markers."""
    alice, bob, relpath = shared(tmp_path, remote)
    alice("log", XC, "-c", "phone", "-n", "未接通", "--by", "alice", "--at", "2026-11-20 10:00",
          "--next", "2026-11-27 再打")
    alice("sync")
    path = bob / relpath
    path.write_text(note.insert_followup(note.parse(path.read_text(encoding="utf-8")), FollowUp(
        at=datetime(2026, 11, 20, 11, 0), channel="phone", by="bob", note="未接通", next_what="再打")),
        encoding="utf-8")
    git(bob, "commit", "-qam", "bob: 未接通")
    done = git(bob, "-c", "pull.rebase=false", "pull", "-q", "origin", "main", ok=False)
    assert done.returncode != 0 and "<<<<<<< " in path.read_text(encoding="utf-8")
    return Crm(bob), path, relpath


def calls(path: Path) -> list[tuple[str, str, str]]:
    doc = note.parse(path.read_text(encoding="utf-8"))
    return [(f.by, f.note, f.next_text) for f in doc.followups if f.note == "未接通"]


def assert_both_calls_kept(path: Path) -> None:
    assert sorted(calls(path)) == [("alice", "未接通", "2026-11-27 再打"), ("bob", "未接通", "再打")]
    assert "<<<<<<<" not in path.read_text(encoding="utf-8")


def test_check_reports_committed_markers_and_repair_merges_from_the_merge_commits_parents(
        pulled: tuple[Crm, Path, str]) -> None:
    bob, path, relpath = pulled
    git(bob.root, "commit", "-qam", "merge with the markers in it")
    out = bob("check", ok=False)
    marker_line = path.read_text(encoding="utf-8").splitlines().index(
        next(line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("<<<<<<<"))) + 1
    assert f"{relpath}:{marker_line}" in out.stdout and "crm repair" in out.stdout
    repaired = bob("repair", relpath)
    assert f"repaired {relpath}" in repaired.stdout and "merge commit" in repaired.stdout
    assert_both_calls_kept(path)
    bob("check")
    assert "<<<<<<<" not in bob("show", XC).stdout


def test_repair_during_the_unfinished_merge_uses_the_index_and_sync_then_finishes_it(
        pulled: tuple[Crm, Path, str]) -> None:
    bob, path, relpath = pulled
    out = bob("check", ok=False)
    assert relpath in out.stdout
    repaired = bob("repair")  # no argument: every file that needs it
    assert f"repaired {relpath}" in repaired.stdout and "unfinished merge" in repaired.stdout
    assert_both_calls_kept(path)
    assert git(bob.root, "diff", "--name-only", "--diff-filter=U").stdout == ""
    bob("sync")
    bob("check")
    assert len(git(bob.root, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()) == 3


def test_repair_keeps_edits_made_after_the_merge_commit(pulled: tuple[Crm, Path, str]) -> None:
    bob, path, relpath = pulled
    git(bob.root, "commit", "-qam", "merge with the markers in it")
    with path.open("a", encoding="utf-8") as file:
        file.write("\n### 2026-11-21 09:00 · visit · bob\n\n上门拜访，确认预算。\n")
    assert f"repaired {relpath}" in bob("repair").stdout  # no argument: found by its markers
    assert_both_calls_kept(path)
    assert "上门拜访，确认预算。" in [f.note for f in note.parse(path.read_text(encoding="utf-8")).followups]


def test_repair_of_a_clean_file_says_there_is_nothing_to_repair(pulled: tuple[Crm, Path, str]) -> None:
    bob, _, _ = pulled
    git(bob.root, "merge", "--abort")
    assert bob("repair").stderr.count("no customer file") == 1
    out = bob("repair", XC, ok=False)
    assert "nothing to repair" in out.stderr


def test_markers_in_the_front_matter_are_reported_and_repaired_by_path(tmp_path: Path, remote: Path) -> None:  # noqa: F811
    alice, bob, relpath = shared(tmp_path, remote)
    alice("set", XC, "owner=李四")
    alice("sync")
    path = bob / relpath
    doc = note.parse(path.read_text(encoding="utf-8"))
    path.write_text(note.set_fields(doc, {"owner": "王五", "contact": "赵经理"}), encoding="utf-8")
    git(bob, "commit", "-qam", "bob: 联系人")
    git(bob, "-c", "pull.rebase=false", "pull", "-q", "origin", "main", ok=False)
    git(bob, "commit", "-qam", "merge with the markers in the front-matter")
    lines = path.read_text(encoding="utf-8").splitlines()
    out = Crm(bob)("check", ok=False)
    assert f"{relpath}:{lines.index(next(x for x in lines if x.startswith('<<<<<<<'))) + 1}" in out.stdout
    Crm(bob)("repair", str(path))
    meta = note.parse(path.read_text(encoding="utf-8")).meta
    assert meta["contact"] == "赵经理" and meta["owner"] == "王五"
    assert meta["conflicts"][0]["field"] == "owner"  # both changed it: crm check asks a person, nothing is lost
    assert "sync-conflict" in Crm(bob)("check", "--json", ok=False).stdout
