"""The check cache: a file unchanged since the last check is answered from .crmnotes/check.sqlite3,
a changed one is read again, a damaged cache is rebuilt, and the answer always equals a full check."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from crmnotes import actions
from crmnotes.checkcache import FILE_NAME
from crmnotes.vault import Vault

from .conftest import Crm


def _age(vault: Vault) -> None:
    """Move every file's mtime a minute back: files written this very moment are not cached (same-tick edits)."""
    old = time.time_ns() - 60 * 10**9
    for path in [vault.root / "crmnotes.yaml", *vault.customers_dir.rglob("*.md")]:
        os.utime(path, ns=(old, old))


def _rows(vault: Vault) -> dict[str, list[list[object]]]:
    with sqlite3.connect(vault.cache_dir / FILE_NAME) as db:
        return {path: json.loads(problems) for path, problems in db.execute("SELECT path, problems FROM files")}


def _full_check(vault: Vault) -> list[tuple[str, int | None, str, str]]:
    (vault.cache_dir / FILE_NAME).unlink(missing_ok=True)
    return _shown(vault, actions.check_vault(Vault(vault.root)))


def _shown(vault: Vault, problems: list) -> list[tuple[str, int | None, str, str]]:
    return [(p.location(vault.root), p.line, p.message, p.code) for p in problems]


def _files(vault: Vault) -> list[Path]:
    return sorted(vault.customers_dir.rglob("*.md"))


def test_unchanged_file_is_answered_from_the_cache(example_vault: Vault) -> None:
    _age(example_vault)
    assert actions.check_vault(example_vault) == []
    first = _files(example_vault)[0]
    rel = example_vault.relative(first)
    assert rel in _rows(example_vault)
    # A planted row for the unchanged file shows up: the file itself was not read again.
    with sqlite3.connect(example_vault.cache_dir / FILE_NAME) as db:
        db.execute("UPDATE files SET problems = ? WHERE path = ?",
                   (json.dumps([[rel, 3, "缓存里的问题", "warning", "planted"]]), rel))
        db.execute("DELETE FROM meta WHERE key = 'answer'")  # (else the last answer is handed back whole)
    again = actions.check_vault(Vault(example_vault.root))
    assert [(p.path, p.message) for p in again] == [(first, "缓存里的问题")]


def test_nothing_changed_hands_back_the_last_answer_whole(example_vault: Vault) -> None:
    _age(example_vault)
    assert actions.check_vault(example_vault) == []
    files = _files(example_vault)
    planted = json.dumps([[example_vault.relative(files[0]), 2, "上次的答案", "warning", "planted"]])
    with sqlite3.connect(example_vault.cache_dir / FILE_NAME) as db:
        digest = json.loads(db.execute("SELECT value FROM meta WHERE key = 'answer'").fetchone()[0])[0]
        db.execute("UPDATE meta SET value = ? WHERE key = 'answer'", (json.dumps([digest, planted]),))
    assert [p.message for p in actions.check_vault(Vault(example_vault.root))] == ["上次的答案"]
    files[1].write_text(files[1].read_text(encoding="utf-8") + "\n补充一句。\n", encoding="utf-8")
    _age(example_vault)  # one file changed: the rows answer, and the answer is made anew
    assert actions.check_vault(Vault(example_vault.root)) == []
    files[1].write_text(files[1].read_text(encoding="utf-8") + "\n又一句。\n", encoding="utf-8")
    assert actions.check_vault(Vault(example_vault.root)) == []  # modified just now: no answer kept
    with sqlite3.connect(example_vault.cache_dir / FILE_NAME) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'answer'").fetchone() is None


def test_changed_file_is_checked_again(example_vault: Vault) -> None:
    _age(example_vault)
    actions.check_vault(example_vault)
    target = _files(example_vault)[0]
    rel = example_vault.relative(target)
    assert _rows(example_vault)[rel] == []
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("\nstage: ", "\nstage: 不存在的阶段", 1), encoding="utf-8")
    _age(example_vault)
    after = _shown(example_vault, actions.check_vault(Vault(example_vault.root)))
    assert after and all(location.startswith(rel) for location, *_ in after)
    assert _rows(example_vault)[rel] != []
    assert after == _full_check(example_vault)


def test_duplicate_ids_are_found_from_cached_rows(example_vault: Vault) -> None:
    _age(example_vault)
    actions.check_vault(example_vault)  # every file cached
    source = _files(example_vault)[0]
    copy = source.with_name("复制的客户.md")
    copy.write_bytes(source.read_bytes())
    _age(example_vault)
    cached = _shown(example_vault, actions.check_vault(Vault(example_vault.root)))
    assert [code for *_, code in cached] == ["duplicate-id"]
    assert cached == _full_check(example_vault)
    copy.unlink()
    assert actions.check_vault(Vault(example_vault.root)) == []
    assert example_vault.relative(copy) not in _rows(example_vault)


def test_config_change_checks_everything_again(example_vault: Vault) -> None:
    _age(example_vault)
    actions.check_vault(example_vault)
    rel = example_vault.relative(_files(example_vault)[0])
    with sqlite3.connect(example_vault.cache_dir / FILE_NAME) as db:
        db.execute("UPDATE files SET problems = ? WHERE path = ?",
                   (json.dumps([[rel, 3, "过期的问题", "warning", "planted"]]), rel))
    config = example_vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert actions.check_vault(Vault(example_vault.root)) == []


def test_damaged_cache_is_rebuilt(example_vault: Vault, crm: Crm) -> None:
    _age(example_vault)
    actions.check_vault(example_vault)
    (example_vault.cache_dir / FILE_NAME).write_bytes("\x00不是数据库".encode() * 500)
    result = crm("check", "--json")
    assert result.json()["problems"] == []
    assert len(_rows(example_vault)) == len(_files(example_vault))


def test_cached_check_equals_full_check_with_problems(example_vault: Vault) -> None:
    broken = _files(example_vault)[1]
    broken.write_text("---\nname: [未闭合\n---\n", encoding="utf-8")
    _age(example_vault)
    first = _shown(example_vault, actions.check_vault(example_vault))
    cached = _shown(example_vault, actions.check_vault(Vault(example_vault.root)))
    assert first and cached == first == _full_check(example_vault)


# ------------------------------------------------------------------ one walk for the customer files and the rest

ID_NUMBER = "110105198503121234"  # checksum valid (see tests/reliability/test_secret_paths.py)
CARD = "6222021234567894"  # Luhn valid


def _plant_varied(vault: Vault) -> None:
    """Numbers in every kind of place the vault's walks treat differently, and customer files with problems."""
    root, customers = vault.root, vault.customers_dir
    assert sensitive_kinds(ID_NUMBER) and sensitive_kinds(CARD)
    (root / "leads.csv").write_text(f"名称,身份证\n云帆,{ID_NUMBER}\n", encoding="gbk")
    (root / "资料" / "合同").mkdir(parents=True)
    (root / "资料" / "合同" / "附件.txt").write_text(f"卡号 {CARD}\n", encoding="utf-8")
    (root / ".crmnotes").mkdir(exist_ok=True)
    (root / ".crmnotes" / "草稿.txt").write_text(f"身份证 {ID_NUMBER}\n", encoding="utf-8")  # never committed
    (customers / "x").mkdir(exist_ok=True)
    (customers / "x" / "notes.txt").write_text(f"备注：卡号 {CARD}\n", encoding="utf-8")
    (customers / ".attic" / "旧").mkdir(parents=True)
    (customers / ".attic" / "旧" / "老客户.txt").write_text(f"身份证 {ID_NUMBER}\n", encoding="utf-8")
    (customers / ".attic" / "旧" / "老客户.md").write_text(f"身份证 {ID_NUMBER}\n", encoding="utf-8")
    (customers / ".隐藏.txt").write_text(f"卡号 {CARD}\n", encoding="utf-8")
    (customers / ".~crm-半截.tmp").write_text(f"卡号 {CARD}\n", encoding="utf-8")
    (customers / "x" / ".git").mkdir()
    (customers / "x" / ".git" / "config").write_text(f"身份证 {ID_NUMBER}\n", encoding="utf-8")
    (customers / "x" / "链接.txt").symlink_to(root / "leads.csv")
    deep = customers.joinpath(*[f"层{n}" for n in range(34)])
    deep.mkdir(parents=True)
    (deep / "深处.txt").write_text(f"卡号 {CARD}\n", encoding="utf-8")
    files = _files(vault)
    files[0].write_text(files[0].read_text(encoding="utf-8") + f"\n客户提供身份证 {ID_NUMBER}\n", encoding="utf-8")
    files[1].write_text("---\nname: [未闭合\n---\n", encoding="utf-8")
    text = files[2].read_text(encoding="utf-8")
    files[2].write_text(text.replace("\nstage: ", "\nstage: 不存在的阶段", 1), encoding="utf-8")


def sensitive_kinds(text: str) -> list[str]:
    from crmnotes.sensitive import find_lines

    return [kind for _, kind, _ in find_lines(text)]


def _check_twice(crm: Crm, vault: Vault) -> dict[str, object]:
    """``crm check --json`` answered from the cache, asserted equal to one with no cache at all."""
    cached = crm("check", "--json", ok=None).json()
    (vault.cache_dir / FILE_NAME).unlink()
    assert crm("check", "--json", ok=None).json() == cached
    return cached


def test_one_walk_finds_what_two_walks_found(example_vault: Vault, crm: Crm) -> None:
    from crmnotes.sync.guard import other_file_problems

    _plant_varied(example_vault)
    _age(example_vault)
    passed: list[str] = []
    actions.check_vault(example_vault, passed)
    shared = other_file_problems(example_vault.root, passed)
    assert shared == other_file_problems(example_vault.root)  # the vault walked again, as before
    assert sorted({example_vault.relative(p.path) for p in shared}) == [
        "customers/.attic/旧/老客户.txt", "customers/.~crm-半截.tmp", "customers/.隐藏.txt",
        "customers/x/notes.txt", *(["customers/" + "/".join(f"层{n}" for n in range(34)) + "/深处.txt"]),
        "leads.csv", "资料/合同/附件.txt"]
    first = _check_twice(crm, example_vault)
    codes = {p["code"] for p in first["problems"]}  # type: ignore[index]
    assert {"sensitive", "unreadable", "too-deep"} <= codes
    assert _check_twice(crm, example_vault) == first
    changed = _files(example_vault)[3]
    changed.write_text(changed.read_text(encoding="utf-8").replace("\nstage: ", "\nstage: 也不存在", 1),
                       encoding="utf-8")
    _age(example_vault)
    crm("check", "--json", ok=None)
    after_edit = _check_twice(crm, example_vault)
    assert len(after_edit["problems"]) == len(first["problems"]) + 1  # type: ignore[arg-type]
    config = example_vault.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n# 财务卡号 {CARD}\n", encoding="utf-8")
    _age(example_vault)
    crm("check", "--json", ok=None)
    after_config = _check_twice(crm, example_vault)
    assert len(after_config["problems"]) == len(after_edit["problems"]) + 1  # type: ignore[arg-type]


def test_one_walk_in_a_repository(example_vault: Vault, crm: Crm) -> None:
    """In a git repository git's own list decides (ignored files are not looked at)."""
    import subprocess

    from crmnotes.sync.guard import other_file_problems

    _plant_varied(example_vault)
    (example_vault.root / ".gitignore").write_text("资料/\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=example_vault.root, check=True)
    passed: list[str] = []
    actions.check_vault(example_vault, passed)
    found = other_file_problems(example_vault.root, passed)
    assert found == other_file_problems(example_vault.root)
    shown = {example_vault.relative(p.path) for p in found}
    assert "leads.csv" in shown and "资料/合同/附件.txt" not in shown
    _check_twice(crm, example_vault)
