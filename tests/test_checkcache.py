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
    again = actions.check_vault(Vault(example_vault.root))
    assert [(p.path, p.message) for p in again] == [(first, "缓存里的问题")]


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
