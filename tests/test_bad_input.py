"""SPEC "Bad input": each gets a clear message, the rest of the vault keeps
working, and nothing existing is modified."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crmnotes import note

from .conftest import Crm

BAD_FILES = {
    "malformed.md": (b"---\nname: [broken\nstage: intent\n---\n", "malformed YAML"),
    "object-tag.md": (b"---\nname: !!python/object/apply:os.system ['touch /tmp/crm-pwned']\n---\n", "unsafe"),
    "no-front-matter.md": ("# 只是笔记\n没有字段\n".encode(), "no front-matter"),
    "binary.md": (bytes(range(256)) * 4, "binary"),
    "gbk.md": ("---\nname: 星辰\n---\n".encode("gbk"), "not UTF-8"),
    "bomb.md": (b"---\na: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                b"c: [*b,*b,*b,*b,*b,*b,*b,*b]\n---\n", "anchors"),
    "dupe-keys.md": (b"---\nname: a\nname: b\n---\n", "duplicate key"),
}


@pytest.fixture
def broken_vault(crm: Crm) -> Crm:
    folder = crm.root / "customers" / "z"
    folder.mkdir()
    for name, (content, _) in BAD_FILES.items():
        (folder / name).write_bytes(content)
    huge = folder / "huge.md"
    huge.write_bytes(b"---\nname: huge\n---\n" + b"x" * (note.MAX_FILE_BYTES + 10))
    return crm


def test_ls_and_check_report_bad_files_and_keep_working(broken_vault: Crm, snapshot_files) -> None:
    before = snapshot_files(broken_vault.root)
    listed = broken_vault("ls")
    assert "7 customers" in listed.stdout
    for name, (_, message) in BAD_FILES.items():
        assert f"customers/z/{name}" in listed.stderr and message in listed.stderr
    assert "too large" in listed.stderr
    assert len(broken_vault("ls", "--json").json()) == 7
    report = broken_vault("check", "--json", ok=False).json()
    unreadable = {p["path"] for p in report["problems"] if p["code"] == "unreadable"}
    assert unreadable == {f"customers/z/{n}" for n in [*BAD_FILES, "huge.md"]}
    assert snapshot_files(broken_vault.root) == before
    assert not Path("/tmp/crm-pwned").exists()


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_writing_to_a_bad_file_is_refused(broken_vault: Crm, name: str) -> None:
    path = broken_vault.root / "customers" / "z" / name
    before = path.read_bytes()
    out = broken_vault("log", str(path), "--note", "不应写入", ok=False)
    assert out.stderr.startswith("crm: error:") and "Traceback" not in out.stderr
    assert path.read_bytes() == before


def test_a_name_that_tries_to_escape_stays_in_customers(crm_empty: Crm) -> None:
    out = crm_empty("add", "../../../etc/passwd", "--industry", "internet", "--contact", "x", "--phone", "13800138000")
    path = crm_empty.root / crm_empty("show", out.stdout.strip(), "--json").json()["path"]
    assert path.resolve().is_relative_to((crm_empty.root / "customers").resolve())
    assert not (crm_empty.root.parent / "etc").exists()


def test_a_symlink_out_of_the_vault_is_not_followed(crm: Crm, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\nid: c-20250101-aaaaaaaa\nname: 外部文件\n---\n", encoding="utf-8")
    (crm.root / "customers" / "link.md").symlink_to(secret)
    listed = crm("ls", "--json")
    assert "外部文件" not in listed.stdout and "outside the vault" in listed.stderr
    assert "not inside" in crm("log", str(secret), "--note", "x", ok=False).stderr


def test_unknown_stage_in_a_file_is_reported_with_its_line(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    path.write_text(path.read_text(encoding="utf-8").replace("stage: intent", "stage: 火热"), encoding="utf-8")
    problems = crm("check", "--json", ok=False).json()["problems"]
    stage = [p for p in problems if p["code"] == "field:stage"]
    assert stage and stage[0]["line"] == 9 and "火热" in stage[0]["message"]
    assert crm("log", "星辰", "--note", "still works").exit_code == 0  # the file is still usable


def test_concurrent_writers_both_land(crm: Crm) -> None:
    """Several real processes append to the same customer at the same moment."""
    procs = [
        subprocess.Popen([sys.executable, "-m", "crmnotes", "--vault", str(crm.root), "log", "星辰", "--note",
                          f"并发记录 {i}", "--at", f"2030-01-01 10:{i:02d}"], stderr=subprocess.PIPE)
        for i in range(6)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    notes = [f["note"] for f in crm("show", "星辰", "--json").json()["followups"]]
    assert sorted(n for n in notes if n.startswith("并发记录")) == [f"并发记录 {i}" for i in range(6)]


def test_a_write_never_overwrites_a_concurrent_editor_save(crm: Crm) -> None:
    """If the file changes between read and write, the edit is re-applied to the new text."""
    from crmnotes import actions
    from crmnotes.vault import Vault

    vault = Vault(crm.root)
    customer = vault.resolve("星辰")
    path = customer.path
    calls = []

    def edit(doc: note.Document) -> str:
        if not calls:  # an editor saves right after our first read
            path.write_text(doc.text + "\n编辑器里加的一行\n", encoding="utf-8")
        calls.append(1)
        return note.set_fields(doc, {"grade": "B"})

    vault.update(path, edit)
    text = path.read_text(encoding="utf-8")
    assert "编辑器里加的一行" in text and "grade: B" in text and len(calls) == 2
    assert actions.check_customer(vault, vault.read(path)) == []


def test_a_temp_file_left_by_a_killed_writer_is_swept_by_the_next_write(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    stale, fresh = path.parent / ".~crm-dead.tmp", path.parent / ".~crm-live.tmp"
    for leftover in (stale, fresh):
        leftover.write_text("half a file", encoding="utf-8")
    old = stale.stat().st_mtime - 7200
    os.utime(stale, (old, old))
    assert len(crm("ls", "--json").json()) == 7  # ignored by readers
    crm("log", "星辰", "--note", "清理测试")
    assert not stale.exists() and fresh.exists()  # a young one may belong to a live writer
