"""The merge driver as git runs it (a real process), and a merge of a file
whose front-matter does not parse through real clones, a bare remote and
``crm sync``: no follow-up is lost, no internal error."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from crmnotes import note
from tests.conftest import Crm, run_process
from tests.test_merge import base_text, broken, conflict_lines, entries_of, no_answer
from tests.test_sync import XC, customer_file, git, remote, set_identity, team  # noqa: F401 (fixtures)


def drive(tmp_path: Path, base: str, ours: str, theirs: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """``crm merge-driver %O %A %B %P`` on three real files; (the process, the merged "ours")."""
    for name, text in (("O", base), ("A", ours), ("B", theirs)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = run_process("merge-driver", "O", "A", "B", "customers/x/xingchen.md", cwd=tmp_path)
    return done, (tmp_path / "A").read_text(encoding="utf-8")


@pytest.mark.parametrize("emptied", ["ours", "theirs"])
def test_an_emptied_side_exits_1_with_a_message_and_keeps_the_other_side(tmp_path: Path, emptied: str) -> None:
    base = base_text()
    changed = no_answer(base, "2025-03-02 11:00", "bob")
    ours, theirs = ("", changed) if emptied == "ours" else (changed, "")
    done, merged = drive(tmp_path, base, ours, theirs)
    assert done.returncode == 1, done.stderr
    assert "emptied the file" in done.stderr and "Traceback" not in done.stderr
    assert changed in merged and conflict_lines(merged)


def test_an_empty_base_is_an_add_add_merge(tmp_path: Path) -> None:
    base = base_text()
    done, merged = drive(tmp_path, "", no_answer(base, "2025-03-02 10:00", "alice"),
                         no_answer(base, "2025-03-02 11:00", "bob"))
    assert done.returncode == 0, done.stderr
    assert [by for by, _, _ in entries_of(merged)] == ["张伟", "alice", "bob"]


@pytest.mark.parametrize("how", ["yaml", "date", "huge-int", "float"])
@pytest.mark.parametrize("side", ["ours", "theirs", "base"])
def test_a_side_that_does_not_parse_merges_without_an_internal_error(tmp_path: Path, side: str, how: str) -> None:
    base = base_text()
    texts = {"base": base, "ours": no_answer(base, "2025-03-02 10:00", "alice"),
             "theirs": no_answer(base, "2025-03-02 11:00", "bob")}
    texts[side] = broken(texts[side], how)
    done, merged = drive(tmp_path, texts["base"], texts["ours"], texts["theirs"])
    assert done.returncode == 0, done.stderr
    assert [by for by, note_text, _ in entries_of(merged) if note_text == "未接通"] == ["alice", "bob"]


def test_a_side_that_is_not_text_exits_1_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "B").write_bytes(b"\x00\x01binary")
    for name in "OA":
        (tmp_path / name).write_text(base_text(), encoding="utf-8")
    done = run_process("merge-driver", "O", "A", "B", "customers/x/xingchen.md", cwd=tmp_path)
    assert done.returncode == 1 and "binary" in done.stderr and "Traceback" not in done.stderr


def test_sync_with_a_broken_front_matter_keeps_both_no_answer_calls(team: tuple[Crm, Crm]) -> None:  # noqa: F811
    alice, bob = team
    alice("log", XC, "-c", "phone", "-n", "未接通", "--by", "alice", "--at", "2026-11-20 10:00",
          "--next", "2026-11-27 再打")
    path = customer_file(alice)
    path.write_text(path.read_text(encoding="utf-8").replace("\nstage:", "\nstage: [", 1), encoding="utf-8")
    alice("sync")
    bob("log", XC, "-c", "phone", "-n", "未接通", "--by", "bob", "--at", "2026-11-20 11:00",
        "--next", "2026-11-27 再打")
    bob("sync")  # the driver merges alice's damaged file into bob's
    alice("sync")
    for crm in (alice, bob):
        text = (crm.root / path.relative_to(alice.root)).read_text(encoding="utf-8")
        found = [(by, next_text) for by, note_text, next_text in entries_of(text) if note_text == "未接通"]
        assert found == [("alice", "2026-11-27 再打"), ("bob", "2026-11-27 再打")]
        assert "\nstage: [" in text  # still damaged, so crm check still reports it
        assert "malformed YAML" in crm("check", ok=False).stdout
    assert git(alice.root, "rev-parse", "HEAD").stdout == git(bob.root, "rev-parse", "HEAD").stdout


def test_sync_where_one_side_emptied_the_file_stops_and_loses_nothing(team: tuple[Crm, Crm]) -> None:  # noqa: F811
    alice, bob = team
    path = customer_file(alice)
    relpath = path.relative_to(alice.root)
    path.write_text("", encoding="utf-8")
    alice("sync")
    bob("log", XC, "-c", "phone", "-n", "未接通", "--by", "bob", "--at", "2026-11-20 11:00")
    out = bob("sync", ok=False)
    assert str(relpath) in out.stderr
    assert "未接通" in (bob.root / relpath).read_text(encoding="utf-8")  # the merge was undone: bob's file as it was
    merged = git(bob.root, "merge", "origin/main", ok=False)
    assert merged.returncode == 1 and "emptied the file" in merged.stderr
    text = (bob.root / relpath).read_text(encoding="utf-8")
    assert "未接通" in text and conflict_lines(text)
    block_line = next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith("!!! crmnotes conflict"))
    assert f"{relpath}:{block_line}" in bob("check", ok=False).stdout
    assert note.parse(text).followups[-1].at.date() == date(2026, 11, 20)
