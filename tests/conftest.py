"""Shared fixtures: temp vaults from the real template, the real CLI entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import settings

from crmnotes import actions
from crmnotes.cli import main
from crmnotes.vault import Vault

# No timing in unit tests: Hypothesis' 200 ms deadline per example fails on a busy machine.
settings.register_profile("crmnotes", deadline=None)
settings.load_profile("crmnotes")

# The example vault's dates are written relative to the day it is created;
# tests create it relative to TODAY so that due lists are predictable.
TODAY = date.today()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's vault, user or git identity."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("CRMNOTES_USER", "tester")
    monkeypatch.delenv("CRMNOTES_VAULT", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)


@pytest.fixture
def empty_vault(tmp_path: Path) -> Vault:
    return Vault(actions.create_vault(tmp_path / "vault"))


@pytest.fixture
def example_vault(tmp_path: Path) -> Vault:
    return Vault(actions.create_vault(tmp_path / "vault", example=True, today=TODAY))


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Crm:
    """Runs ``crm`` through its real click entry point, inside one vault."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, ok: bool | None = True) -> Result:
        runner = CliRunner()
        result = runner.invoke(main, ["--vault", str(self.root), *args], catch_exceptions=False)
        out = Result(result.exit_code, result.stdout, result.stderr)
        if ok is True:
            assert out.exit_code == 0, f"crm {' '.join(args)} failed: {out.stderr}{out.stdout}"
        elif ok is False:
            assert out.exit_code != 0, f"crm {' '.join(args)} should have failed: {out.stdout}"
        return out


@pytest.fixture
def crm(example_vault: Vault) -> Crm:
    return Crm(example_vault.root)


@pytest.fixture
def crm_empty(empty_vault: Vault) -> Crm:
    return Crm(empty_vault.root)


def run_process(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m crmnotes ...`` as a real process (for what CliRunner cannot show)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "crmnotes", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def snapshot_files() -> Iterator[Any]:
    """Record every file's bytes in a vault, to prove a command changed nothing else."""

    def take(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and ".git" not in p.parts and ".crmnotes" not in p.parts}

    yield take
